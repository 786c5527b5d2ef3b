"""Running a plan: masters stage by stage, then the science frames.

:func:`run_plan` runs the stages in order -- bias masters, dark masters, flat
masters, derived flats, science frames -- each as independent tasks handed
to an executor (:mod:`ccdcal.pipeline.executors`).  An output whose record
says it is finished and whose inputs are unchanged is not made again
(``resume=True``), so a run that was interrupted, even killed, ends with the
same outputs when run again.  A task that fails does not stop the night:
what depends on it is skipped, and the summary says why.

The run writes, in the output directory:

* ``masters/<key>.fits`` and ``science/<raw stem>.fits``;
* ``run-summary.json`` (machine-readable; read it back with
  :func:`ccdcal.pipeline.load_run`) and ``ccdcal.log``;
* ``.ccdcal/`` (the plan and the resume records);
* the calibration library database (unless ``library=False``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccdcal.errors import PipelineError
from ccdcal.pipeline.executors import Executor, ExecutorName, make_executor, start_executor
from ccdcal.pipeline.model import MasterSpec
from ccdcal.pipeline.plan import Plan
from ccdcal.pipeline.results import RunResult
from ccdcal.pipeline.state import (
    STATE_DIR,
    FileIdentity,
    StateStore,
    file_identity,
    out_dir_lock,
    recipe_hash,
)
from ccdcal.pipeline.tasks import (
    MasterInput,
    MasterTask,
    ScienceTask,
    TaskResult,
    Thumbnail,
    run_master_task,
    run_science_task,
)

__all__ = ["STAGES", "ProgressEvent", "run_plan"]

log = logging.getLogger(__name__)

#: The stages of a run, in order.
STAGES = ("bias", "dark", "flat", "derived", "science")
LOG_NAME = "ccdcal.log"


@dataclass(frozen=True)
class ProgressEvent:
    """What a progress callback receives: a stage started, advanced or ended.

    ``event`` is ``'start'`` (``total`` known), ``'advance'`` (one task
    done: ``key``, ``status``) or ``'end'``.
    """

    stage: str
    event: str
    done: int = 0
    total: int = 0
    key: str | None = None
    status: str | None = None


ProgressCallback = Callable[[ProgressEvent], None]


def _write_png(thumbnail: Thumbnail) -> None:
    """A thumbnail that cannot be written is logged (the report then measures the file)."""
    try:
        thumbnail.write()
    except Exception as exc:  # the report must not fail a night
        log.warning("QA: cannot write the thumbnail %s: %s", thumbnail.path, exc)


def _version() -> str:
    from ccdcal import __version__

    return __version__


@dataclass
class _RunState:
    plan: Plan
    out_dir: Path
    store: StateStore
    resume: bool
    recorder: Any
    progress: ProgressCallback | None
    masters: dict[str, TaskResult] = field(default_factory=dict)
    science: list[TaskResult] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    hashed: dict[str, Future[FileIdentity]] = field(default_factory=dict)
    thumbnails: ThreadPoolExecutor | None = None

    def write_thumbnail(self, result: TaskResult) -> TaskResult:
        """Queue the PNG of a result's thumbnail (one thread, in order); the result without it."""
        if result.thumbnail is None:
            return result
        if self.thumbnails is None:
            self.thumbnails = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccdcal-thumbs")
        self.thumbnails.submit(_write_png, result.thumbnail)
        return dataclasses.replace(result, thumbnail=None)

    def thumbnails_written(self) -> None:
        """Wait until every queued thumbnail is written."""
        if self.thumbnails is not None:
            self.thumbnails.shutdown(wait=True)
            self.thumbnails = None

    def known_inputs(self, paths: Iterable[str]) -> tuple[FileIdentity, ...]:
        """Identities of ``paths`` hashed ahead by :func:`_hash_ahead` (those ready)."""
        out = []
        for path in paths:
            future = self.hashed.get(path)
            if future is not None and future.done() and future.exception() is None:
                out.append(future.result())
        return tuple(out)

    def notify(self, event: ProgressEvent) -> None:
        if self.progress is not None:
            try:
                self.progress(event)
            except Exception:  # a broken progress display must not stop the night
                log.exception("progress callback failed")

    def master_input(self, key: str) -> MasterInput | str:
        """The built master ``key`` as an input, or why it is not available."""
        spec = self.plan.master(key)
        if spec.source == "library":
            if not Path(spec.output).exists():
                return f"library master {spec.output} no longer exists"
            return MasterInput(key, spec.output, spec.checksum, "library")
        result = self.masters.get(key)
        if result is None or not result.ok or result.output is None:
            why = result.message if result is not None else "it was not built"
            return f"master {key} is not available ({why})"
        return MasterInput(key, result.output, result.checksum, spec.source)


def _options_digest(plan: Plan) -> str:
    data = plan.options.to_dict()
    for name in ("mem_limit", "qa_report"):  # settings that change no output
        data.pop(name, None)
    return recipe_hash(data)


# ----------------------------------------------------------------------------- masters


def _master_uses(state: _RunState, spec: MasterSpec) -> dict[str, MasterInput] | str:
    roles = {"bias": spec.bias, "dark": spec.dark, "source": spec.derived_from}
    uses: dict[str, MasterInput] = {}
    for role, key in roles.items():
        if key is None:
            continue
        got = state.master_input(key)
        if isinstance(got, str):
            return got
        uses[role] = got
    return uses


def _threads_per_task(executor: Executor, n_tasks: int) -> int | None:
    """Threads for one combination: the cores left to each of the tasks running at once.

    A process pool with as many workers as cores gets one thread per task; a
    stage with fewer tasks than workers shares the spare cores out.  The
    serial executor lets each combination use every core (``None``).
    """
    workers = getattr(executor, "concurrency", None) or getattr(executor, "max_workers", None)
    if not workers or n_tasks < 1:
        return None
    cores = os.cpu_count() or 1
    return max(1, cores // max(1, min(int(workers), n_tasks)))


def _master_task(
    state: _RunState, spec: MasterSpec, uses: dict[str, MasterInput], threads: int | None
) -> MasterTask:
    frames_by_path = {f.path: f for f in state.plan.frames}
    frames = tuple(frames_by_path[p] for p in spec.inputs)
    return MasterTask(
        spec=spec,
        output=str(state.out_dir / spec.output),
        frames=frames,
        uses=uses,
        options=state.plan.options,
        tmp_dir=str(state.out_dir / STATE_DIR / "tmp" / spec.key),
        threads=threads,
        read_noise_adu=_bias_read_noise(state, spec.bias),
        known_inputs=state.known_inputs(spec.inputs),
    )


def _hash_ahead(plan: Plan) -> tuple[ThreadPoolExecutor, dict[str, Future[FileIdentity]]]:
    """Start hashing the raw flats of tonight's master flats, in a thread of this process.

    The flat tasks record their inputs' SHA-256 (bias and dark tasks get
    theirs from the combination, which hashes as it reads).  This process
    is idle while the workers start and while the biases and darks are
    combined, so it hashes the flats then, and each flat task finds its
    inputs' identities ready instead of reading its files a second time.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccdcal-hash")
    paths = dict.fromkeys(
        p for m in plan.masters if m.kind == "flat" and m.source == "tonight" for p in m.inputs
    )
    return pool, {p: pool.submit(file_identity, p) for p in paths}


def _master_recipe(state: _RunState, task: MasterTask) -> str:
    return recipe_hash(
        {
            "spec": task.spec.to_dict(),
            "uses": {role: m.checksum for role, m in task.uses.items()},
            "read_noise_adu": task.read_noise_adu,
            "options": _options_digest(state.plan),
            "version": _version(),
        }
    )


def _run_stage(
    state: _RunState,
    stage: str,
    executor: Executor,
    items: list[tuple[str, Any, str, list[str]]],
    fn: Callable[[Any], TaskResult],
    blocked: list[TaskResult],
) -> Iterator[TaskResult]:
    """Run ``items`` = (output, task, recipe, input paths); yield every result."""
    total = len(items) + len(blocked)
    started = time.perf_counter()
    state.notify(ProgressEvent(stage, "start", total=total))
    done = 0
    to_run = []
    for result in blocked:
        log.warning("%s skipped: %s", result.key, result.message)
        done += 1
        state.notify(ProgressEvent(stage, "advance", done, total, result.key, result.status))
        yield result
    for output, task, recipe, inputs in items:
        stored = None
        if state.resume:
            stored = state.store.is_current(output, recipe=recipe, input_paths=inputs)
        if stored is not None:
            where = str(state.out_dir / output)  # the folder may have moved since
            result = TaskResult.from_dict(
                {**stored, "status": "reused", "seconds": 0.0, "output": where}
            )
            done += 1
            log.info("%s is up to date; not made again", output)
            state.notify(ProgressEvent(stage, "advance", done, total, result.key, "reused"))
            yield result
        else:
            state.store.forget(output)
            to_run.append((output, task, recipe))
    recipes = {task.key: (output, recipe) for output, task, recipe in to_run}
    for result in executor.map(fn, [t for _, t, _ in to_run]):
        result = state.write_thumbnail(result)  # the PNG is written here, by a thread
        output, recipe = recipes[result.key]
        if result.ok:
            state.store.save(
                output,
                recipe=recipe,
                inputs=result.inputs,
                result=result.to_dict(),
                product=result.product,
            )
            log.info("%s built in %.2f s %s", result.key, result.seconds, result.message)
            for path, why in result.rejected:
                log.info("%s: left out %s: %s", result.key, path, why)
        else:
            log.warning("%s failed: %s", result.key, result.message)
        done += 1
        state.notify(ProgressEvent(stage, "advance", done, total, result.key, result.status))
        yield result
    state.stage_seconds[stage] = round(time.perf_counter() - started, 3)
    state.notify(ProgressEvent(stage, "end", done, total))


def _run_masters(state: _RunState, stage: str, executor: Executor) -> None:
    if stage == "derived":
        specs = [m for m in state.plan.masters if m.source == "derived"]
    else:
        specs = [m for m in state.plan.masters if m.kind == stage and m.source == "tonight"]
    items: list[tuple[str, Any, str, list[str]]] = []
    blocked: list[TaskResult] = []
    threads = _threads_per_task(executor, len(specs))
    for spec in specs:
        uses = _master_uses(state, spec)
        if isinstance(uses, str):
            blocked.append(TaskResult(spec.key, spec.kind, "skipped", message=uses))
            continue
        task = _master_task(state, spec, uses, threads)
        items.append((spec.output, task, _master_recipe(state, task), list(spec.inputs)))
    for result in _run_stage(state, stage, executor, items, run_master_task, blocked):
        state.masters[result.key] = result
        if result.ok:
            state.recorder.master(state.plan.master(result.key), result)


# ----------------------------------------------------------------------------- science


def _bias_read_noise(state: _RunState, key: str | None) -> float | None:
    """Read noise (ADU) measured on the frames of the bias master ``key``, if built tonight."""
    if key is None:
        return None
    result = state.masters.get(key)
    if result is None:
        return None
    value = result.quality.get("read_noise_adu")
    return float(value) if value is not None else None


def _run_science(state: _RunState, executor: Executor) -> None:
    items: list[tuple[str, Any, str, list[str]]] = []
    blocked: list[TaskResult] = []
    digest = _options_digest(state.plan)
    for spec in state.plan.science:
        uses: dict[str, MasterInput] = {}
        why = None
        for kind, key in spec.masters().items():
            got = state.master_input(key)
            if isinstance(got, str):
                why = got
                break
            uses[kind] = got
        if why is not None:
            blocked.append(TaskResult(spec.output, "science", "skipped", message=why))
            continue
        task = ScienceTask(
            spec=spec,
            output=str(state.out_dir / spec.output),
            uses=uses,
            options=state.plan.options,
            read_noise_adu=_bias_read_noise(state, spec.bias),
        )
        recipe = recipe_hash(
            {
                "spec": spec.to_dict(),
                "uses": {k: m.checksum for k, m in uses.items()},
                "read_noise_adu": task.read_noise_adu,
                "options": digest,
                "version": _version(),
            }
        )
        items.append((spec.output, task, recipe, [spec.path]))
    by_output = {s.output: s for s in state.plan.science}
    for result in _run_stage(state, "science", executor, items, run_science_task, blocked):
        state.science.append(result)
        if result.ok:
            state.recorder.science(by_output[result.key], result)


# ----------------------------------------------------------------------------- logging


@contextlib.contextmanager
def _log_file(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("ccdcal")
    old_level = logger.level
    threshold = logger.getEffectiveLevel()
    quieten: list[logging.Handler] = []

    def keep(record: logging.LogRecord) -> bool:
        # the file wants INFO; other handlers keep seeing what they saw before
        return record.levelno >= threshold or not record.name.startswith("ccdcal")

    if threshold > logging.INFO:
        logger.setLevel(logging.INFO)
        quieten = [h for h in logging.getLogger().handlers + logger.handlers if h is not handler]
        for h in quieten:
            h.addFilter(keep)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        for h in quieten:
            h.removeFilter(keep)
        handler.close()


def _prepare_out_dir(plan: Plan, out_dir: str | os.PathLike[str] | None) -> Path:
    target = out_dir if out_dir is not None else plan.out_dir
    if target is None:
        raise PipelineError("no output directory: give out_dir= to run_plan (or to plan_night)")
    path = Path(target).resolve()
    raws = [Path(d).resolve() for d in plan.raw_dirs]
    if any(path == r for r in raws):
        raise PipelineError(
            f"the output directory {str(path)!r} is a raw folder; choose another so that "
            "raw files are never mixed with products"
        )
    for sub in ("masters", "science", STATE_DIR):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def run_plan(
    plan: Plan,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    executor: Executor | ExecutorName | None = None,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    resume: bool = True,
    library: Any = None,
    log_file: bool = True,
) -> RunResult:
    """Run a plan: build the masters, calibrate the science frames, write the summary.

    Also writes the QA report (``OUT_DIR/qa/index.html``) unless the plan's
    options say ``qa_report=False``.

    Parameters
    ----------
    plan : Plan
        From :func:`ccdcal.pipeline.plan_night`.
    out_dir : path, optional
        Output directory (default: the plan's).
    executor : {'process', 'thread', 'serial'} or Executor, optional
        Where tasks run. Default ``'process'``: a pool of worker processes,
        one per core (this process alone when ``jobs=1``; see
        :func:`~ccdcal.pipeline.executors.make_executor`).
    jobs : int, optional
        Tasks at once for ``'thread'`` and ``'process'`` (default: one per core).
    progress : callable, optional
        Called with a :class:`ProgressEvent` as stages start, advance and end.
    resume : bool
        Skip outputs that are finished and whose inputs are unchanged.
    library : CalibrationLibrary, str, False or None
        Where frames, masters and their use are recorded: a library, a
        database URL, ``False`` for none; default the SQLite file in ``out_dir``.
    log_file : bool
        Also log to ``out_dir/ccdcal.log``.

    Returns
    -------
    RunResult

    Raises
    ------
    PipelineError
        No output directory, the output directory is a raw folder, or another
        run is writing into it.
    """
    out = _prepare_out_dir(plan, out_dir)
    with out_dir_lock(out):  # one run at a time; clears what a killed run left
        return _run_locked(
            plan,
            out,
            executor=executor,
            jobs=jobs,
            progress=progress,
            resume=resume,
            library=library,
            log_file=log_file,
        )


def _run_locked(
    plan: Plan,
    out: Path,
    *,
    executor: Executor | ExecutorName | None,
    jobs: int | None,
    progress: ProgressCallback | None,
    resume: bool,
    library: Any,
    log_file: bool,
) -> RunResult:
    from ccdcal.pipeline.library_bridge import BackgroundRecorder, NullRecorder, open_recorder

    plan.save(out / STATE_DIR / "plan.json")
    started = _dt.datetime.now(_dt.UTC)
    t0 = time.perf_counter()
    ex = make_executor(executor, jobs=jobs)
    start_executor(ex)  # workers start while the library is opened
    with _log_file(out / LOG_NAME if log_file else None):
        log.info(
            "reducing %d science frames with %d masters into %s (%s)",
            len(plan.science),
            len(plan.masters),
            out,
            getattr(ex, "name", type(ex).__name__),
        )
        for problem in plan.problems:
            where = f" [{problem.path}]" if problem.path else ""
            log.info("plan %s: %s: %s%s", problem.severity, problem.kind, problem.message, where)
        # the library opens, and records, in a thread: tasks never wait for it
        recorder: Any = (
            NullRecorder()
            if library is False
            else BackgroundRecorder(lambda: open_recorder(library, out, plan))
        )
        state = _RunState(plan, out, StateStore(out), resume, recorder, progress)
        hasher, state.hashed = _hash_ahead(plan)
        cm: Any = ex if hasattr(ex, "__enter__") else contextlib.nullcontext(ex)
        try:
            with cm:
                for stage in STAGES[:-1]:
                    _run_masters(state, stage, ex)
                _run_science(state, ex)
        except BaseException:
            recorder.close(status="failed")
            raise
        finally:
            hasher.shutdown(wait=False, cancel_futures=True)
            state.thumbnails_written()
        result = RunResult(
            plan=plan,
            out_dir=str(out),
            masters=dict(state.masters),
            science=list(state.science),
            executor=getattr(ex, "name", type(ex).__name__),
            started=started.strftime("%Y-%m-%dT%H:%M:%S"),
            seconds=round(time.perf_counter() - t0, 3),
            stage_seconds=dict(state.stage_seconds),
        )
        result.write_summary()
        if plan.options.qa_report:
            _write_report(result)
        recorder.close(
            status="ok" if result.complete else "partial", summary={"headline": result.headline()}
        )
        log.info("finished in %.1f s: %s", result.seconds, result.headline())
    return result


def _write_report(result: RunResult) -> None:
    """The QA report; a failure is logged, never raised (the calibrated frames are made)."""
    from ccdcal.report.qa import write_qa_report

    try:
        write_qa_report(result)
    except Exception as exc:  # the report must not fail a finished run
        log.warning("the QA report could not be written: %s: %s", type(exc).__name__, exc)


def master_inputs(result: RunResult) -> Mapping[str, str]:
    """``{master key: output path}`` of the masters a run produced."""
    return {k: r.output for k, r in result.masters.items() if r.output}
