"""The whole-night pipeline: plan a night, inspect the plan, run it, read the results.

The same API that ``ccdcal plan`` / ``ccdcal reduce`` wrap::

    from ccdcal.pipeline import plan_night, run_plan, load_run

    plan = plan_night("raw/2025-06-24", out_dir="reduced")
    print(plan.describe())            # groups, masters, matching, problems
    result = run_plan(plan)           # all cores; executor="serial" for one process
    result.headline()
    ccd = result.read_science(0)      # CCDData with uncertainty and mask
    result = load_run("reduced")      # later, from the run summary

See ``docs/pipeline.md`` for a worked example.

Examples
--------
>>> from ccdcal.pipeline import ReduceOptions, SerialExecutor
>>> ReduceOptions().exposure_tolerance
0.1
"""

from typing import TYPE_CHECKING

from ccdcal._lazy import lazy_attributes

#: Where each public name lives; loaded on first use (see :mod:`ccdcal._lazy`).
_LAZY: dict[str, str] = {
    "DaskExecutor": "ccdcal.pipeline.executors",
    "Executor": "ccdcal.pipeline.executors",
    "ProcessExecutor": "ccdcal.pipeline.executors",
    "SerialExecutor": "ccdcal.pipeline.executors",
    "ThreadExecutor": "ccdcal.pipeline.executors",
    "make_executor": "ccdcal.pipeline.executors",
    "FrameRef": "ccdcal.pipeline.model",
    "MasterSpec": "ccdcal.pipeline.model",
    "Problem": "ccdcal.pipeline.model",
    "Rejection": "ccdcal.pipeline.model",
    "ScienceSpec": "ccdcal.pipeline.model",
    "SkippedFrame": "ccdcal.pipeline.model",
    "ClipSettings": "ccdcal.pipeline.options",
    "ReduceOptions": "ccdcal.pipeline.options",
    "Plan": "ccdcal.pipeline.plan",
    "plan_frames": "ccdcal.pipeline.plan",
    "plan_night": "ccdcal.pipeline.plan",
    "RunResult": "ccdcal.pipeline.results",
    "load_run": "ccdcal.pipeline.results",
    "ProgressEvent": "ccdcal.pipeline.run",
    "run_plan": "ccdcal.pipeline.run",
    "TaskResult": "ccdcal.pipeline.tasks",
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

if TYPE_CHECKING:
    from ccdcal.pipeline.executors import (
        DaskExecutor,
        Executor,
        ProcessExecutor,
        SerialExecutor,
        ThreadExecutor,
        make_executor,
    )
    from ccdcal.pipeline.model import (
        FrameRef,
        MasterSpec,
        Problem,
        Rejection,
        ScienceSpec,
        SkippedFrame,
    )
    from ccdcal.pipeline.options import ClipSettings, ReduceOptions
    from ccdcal.pipeline.plan import Plan, plan_frames, plan_night
    from ccdcal.pipeline.results import RunResult, load_run
    from ccdcal.pipeline.run import ProgressEvent, run_plan
    from ccdcal.pipeline.tasks import TaskResult

__all__ = [
    "ClipSettings",
    "DaskExecutor",
    "Executor",
    "FrameRef",
    "MasterSpec",
    "Plan",
    "Problem",
    "ProcessExecutor",
    "ProgressEvent",
    "ReduceOptions",
    "Rejection",
    "RunResult",
    "ScienceSpec",
    "SerialExecutor",
    "SkippedFrame",
    "TaskResult",
    "ThreadExecutor",
    "load_run",
    "make_executor",
    "plan_frames",
    "plan_night",
    "run_plan",
]
