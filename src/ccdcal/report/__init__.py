"""ccdcal.report: what the pipeline shows people -- tables of a plan and a run, stage progress.

The machine-readable run summary is written by
:meth:`ccdcal.pipeline.RunResult.write_summary` (``OUT_DIR/run-summary.json``);
:mod:`ccdcal.report.terminal` turns plans and results into rich renderables
for the command line.

The QA report of a run (``ccdcal report OUT_DIR``, ``OUT_DIR/qa/``):
:mod:`ccdcal.report.qa` (:func:`~ccdcal.report.qa.write_qa_report`,
:func:`~ccdcal.report.qa.qa_metrics`) measures every output with
:mod:`ccdcal.report.measure` and writes ``qa.json``, the static page of
:mod:`ccdcal.report.html` and the thumbnails and plots of
:mod:`ccdcal.report.plots` (matplotlib, loaded only when they are drawn).
"""
