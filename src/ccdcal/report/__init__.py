"""ccdcal.report: what the pipeline shows people -- tables of a plan and a run, stage progress.

The machine-readable run summary is written by
:meth:`ccdcal.pipeline.RunResult.write_summary` (``OUT_DIR/run-summary.json``);
:mod:`ccdcal.report.terminal` turns plans and results into rich renderables
for the command line.
"""
