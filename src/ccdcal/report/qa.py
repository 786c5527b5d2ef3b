"""The QA report of a reduced night: numbers measured on every output, flags, files.

:func:`qa_metrics` reads each master and calibrated science frame of a run
once (:mod:`ccdcal.report.measure`) and gathers what an observer checks
before trusting a night:

* masters -- median, robust sigma (``mad_std`` of the good pixels), masked
  fraction, extremes, ``NCOMBINE``, the inputs and the frames left out (with
  the reason); dark current in ADU/s and hot pixels for darks; for flats the
  normalisation (median near 1), the fraction below 0.5 (vignetting, dust)
  and row, column and radial profiles;
* science frames -- sky level and sky noise (sigma-clipped median and
  ``mad_std``), the median of the uncertainty plane over the same sky pixels
  and their ratio ``noise_ratio = sky_noise / uncert_median``, the check that
  the propagated uncertainties match the real scatter (1 when they do);
  masked and saturated fractions and the masters used;
* the night -- counts, problems of the plan, skipped frames, stage timings
  and one list of every flag, errors first.

:func:`write_qa_report` writes them to ``OUT_DIR/qa/``: ``qa.json``, the page
``index.html`` (:mod:`ccdcal.report.html`) and, unless ``thumbnails=False``,
a PNG thumbnail of every output and two plots (:mod:`ccdcal.report.plots`).
A broken or unreadable output does not stop the report: its entry carries
a flag naming the file and the error.

Examples
--------
>>> import tempfile
>>> from ccdcal.pipeline import Plan, RunResult
>>> qa_metrics(RunResult(plan=Plan(), out_dir=tempfile.mkdtemp()))["night"]["counts"]
{'bias': 0, 'dark': 0, 'flat': 0, 'science': 0, 'unclassified': 0, 'unreadable': 0}
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccdcal.errors import ParameterTypeError
from ccdcal.report.measure import MAX_SAMPLE, Flag, QAChecks, flag, measure_output, number

if TYPE_CHECKING:
    from ccdcal.pipeline.model import MasterSpec, ScienceSpec
    from ccdcal.pipeline.results import RunResult
    from ccdcal.pipeline.tasks import TaskResult

__all__ = ["MAX_SAMPLE", "QA_DIR", "QAChecks", "qa_metrics", "thumbnail_path", "write_qa_report"]

log = logging.getLogger(__name__)

QA_DIR = "qa"
QA_JSON = "qa.json"
QA_HTML = "index.html"
THUMB_DIR = "thumbs"
QA_VERSION = 1
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


# --------------------------------------------------------------------------- what the run says


def _as_run(run_or_out_dir: RunResult | str | os.PathLike[str]) -> tuple[RunResult, Path]:
    from ccdcal.pipeline.results import RunResult, load_run

    if isinstance(run_or_out_dir, RunResult):
        return run_or_out_dir, Path(run_or_out_dir.out_dir)
    if isinstance(run_or_out_dir, str | os.PathLike):
        return load_run(run_or_out_dir), Path(run_or_out_dir)
    raise ParameterTypeError(
        "run_or_out_dir must be a RunResult or the path of an output directory, got "
        f"{type(run_or_out_dir).__name__}"
    )


def _locate(output: str | None, recorded_out: str, out_dir: Path) -> Path | None:
    """Where an output is now: re-rooted into ``out_dir`` when the folder was moved."""
    if not output:
        return None
    path = Path(output)
    if not path.is_absolute():
        return out_dir / path
    try:
        return out_dir / path.relative_to(recorded_out)
    except ValueError:
        return path


def _relative(path: Path | None, out_dir: Path) -> str | None:
    if path is None:
        return None
    try:
        return path.relative_to(out_dir).as_posix()
    except ValueError:
        return str(path)


def _master_entry(
    key: str, spec: MasterSpec | None, task: TaskResult | None, path: Path | None, out_dir: Path
) -> dict[str, Any]:
    rejected = [(r.path, r.reason) for r in spec.rejected] if spec else []
    rejected += list(task.rejected) if task else []
    return {
        "key": key,
        "kind": spec.kind if spec else (task.kind if task else None),
        "source": spec.source if spec else None,
        "status": task.status if task else "library",
        "message": task.message if task else "",
        "file": _relative(path, out_dir),
        "filter": spec.filter if spec else None,
        "binning": spec.binning if spec else None,
        "exptime": spec.exptime if spec else None,
        "derived_from": spec.derived_from if spec else None,
        "inputs": [Path(p).name for p in spec.inputs] if spec else [],
        "left_out": [{"file": Path(p).name, "reason": why} for p, why in rejected],
        "quality": dict(task.quality) if task else {},
    }


def _science_entry(
    task: TaskResult, spec: ScienceSpec | None, path: Path | None, out_dir: Path
) -> dict[str, Any]:
    frame = spec.frame if spec else None
    masters = {kind: str(info.get("key", "")) for kind, info in task.masters.items()}
    return {
        "key": task.key,
        "status": task.status,
        "message": task.message,
        "file": _relative(path, out_dir) or task.key,
        "raw": frame.name if frame else None,
        "filter": frame.filter if frame else None,
        "exptime": frame.exptime if frame else None,
        "date_obs": frame.date_obs if frame else None,
        "object": frame.object if frame else None,
        "masters": masters or (spec.masters() if spec else {}),
        "missing": list(spec.missing) if spec else [],
        "quality": dict(task.quality),
    }


_Job = tuple[dict[str, Any], Path | None, bool, "TaskResult | None"]


def _entries(run: RunResult, out_dir: Path) -> list[_Job]:
    """``(entry, output path, is_science, task)`` of every master and science frame of the run."""
    specs = {m.key: m for m in run.plan.masters}
    jobs: list[_Job] = []
    for key in [*specs, *(k for k in run.masters if k not in specs)]:
        spec, task = specs.get(key), run.masters.get(key)
        if task is None and (spec is None or spec.source != "library"):
            continue  # planned, but the run did not get to it
        output = task.output if task else (spec.output if spec else None)
        path = _locate(output, run.out_dir, out_dir)
        jobs.append((_master_entry(key, spec, task, path, out_dir), path, False, task))
    science_specs = {s.output: s for s in run.plan.science}
    for task in run.science:
        path = _locate(task.output, run.out_dir, out_dir) if task.ok else None
        entry = _science_entry(task, science_specs.get(task.key), path, out_dir)
        jobs.append((entry, path, True, task))
    return jobs


def _night(run: RunResult, out_dir: Path) -> dict[str, Any]:
    plan = run.plan
    return {
        "out_dir": str(out_dir),
        "raw_dirs": list(plan.raw_dirs),
        "started": run.started,
        "seconds": number(run.seconds, 4),
        "executor": run.executor,
        "stage_seconds": {k: number(v, 4) for k, v in run.stage_seconds.items()},
        "headline": run.headline(),
        "complete": run.complete,
        "counts": plan.counts(),
        "problems": [p.to_dict() for p in plan.problems],
        "skipped": [s.to_dict() for s in plan.skipped],
    }


def _plan_flags(run: RunResult) -> list[Flag]:
    flags = [
        flag(p.severity, Path(p.path).name if p.path else "night", p.kind, p.message)
        for p in run.plan.problems
        if p.severity != "info"
    ]
    return flags + [
        flag("warning", Path(s.path).name, "skipped", s.reason) for s in run.plan.skipped
    ]


# --------------------------------------------------------------------------- measuring


def _safe_name(text: str, taken: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", text.removesuffix(".fits")).strip("._") or "frame"
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}_{n}"
    taken.add(name)
    return name


def thumbnail_path(out_dir: str | os.PathLike[str], key: str) -> Path:
    """Where the report keeps the thumbnail of the output ``key`` (its folder is created).

    >>> import tempfile
    >>> thumbnail_path(tempfile.mkdtemp(), "science/r0001226.fits").name
    'science_r0001226.png'
    """
    folder = Path(out_dir) / QA_DIR / THUMB_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{_safe_name(key, set())}.png"


def _recorded(
    task: TaskResult | None, path: Path | None, *, checks: QAChecks, thumbnails: bool
) -> dict[str, Any] | None:
    """The task's own measurements, when they still describe the file and fit the request.

    They were taken with the default checks, on the file as written: a file
    changed since (size or time), other checks, or a missing thumbnail mean
    measuring the file again.
    """
    if task is None or not task.qa or task.product is None or path is None:
        return None
    if checks != QAChecks():
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    if (st.st_size, st.st_mtime_ns) != (task.product.size, task.product.mtime_ns):
        return None
    metrics = dict(task.qa.get("metrics") or {})
    thumb = metrics.pop("thumbnail", None)
    if thumbnails:
        if not thumb or not (path.parents[1] / QA_DIR / thumb).exists():
            return None
        metrics["thumbnail"] = thumb
    return {"metrics": metrics, "flags": task.qa.get("flags") or []}


def _collect(
    run_or_out_dir: RunResult | str | os.PathLike[str],
    *,
    checks: QAChecks,
    thumb_dir: Callable[[Path], Path] | None,
) -> dict[str, Any]:
    """Measure every output (two at a time) and assemble the QA dict."""
    started = time.perf_counter()
    run, out_dir = _as_run(run_or_out_dir)
    jobs = _entries(run, out_dir)
    folder = thumb_dir(out_dir) if thumb_dir else None
    taken: set[str] = set()
    thumbs = [folder / f"{_safe_name(j[0]['key'], taken)}.png" if folder else None for j in jobs]

    def work(i: int) -> list[Flag]:
        entry, path, science, task = jobs[i]
        recorded = _recorded(task, path, checks=checks, thumbnails=folder is not None)
        if recorded is not None:  # measured by the task itself, on the frame in memory
            entry.update(recorded["metrics"])
            return list(recorded["flags"])
        return measure_output(entry, path, science=science, checks=checks, thumbnail=thumbs[i])

    workers = max(1, min(2, os.cpu_count() or 1, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ccdcal-qa") as pool:
        results = list(pool.map(work, range(len(jobs))))
    flags = _plan_flags(run)
    for (entry, *_), entry_flags in zip(jobs, results, strict=True):
        entry["flags"] = entry_flags
        flags += entry_flags
    flags.sort(key=lambda f: _SEVERITY_ORDER.get(f["severity"], 3))
    return {
        "qa_version": QA_VERSION,
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seconds": number(time.perf_counter() - started, 3),
        "checks": {
            "noise_ratio": list(checks.noise_ratio),
            "hot_sigma": checks.hot_sigma,
            "flat_median_tolerance": checks.flat_median_tolerance,
            "low_flat": checks.low_flat,
            "max_masked_fraction": checks.max_masked_fraction,
            "sample_pixels": MAX_SAMPLE,
        },
        "night": _night(run, out_dir),
        "flags": flags,
        "masters": [e for e, _, science, _ in jobs if not science],
        "science": [e for e, _, science, _ in jobs if science],
    }


def qa_metrics(
    run_or_out_dir: RunResult | str | os.PathLike[str], *, checks: QAChecks | None = None
) -> dict[str, Any]:
    """Measure the QA numbers of a finished run (what ``OUT_DIR/qa/qa.json`` holds).

    Parameters
    ----------
    run_or_out_dir : RunResult, str or path-like
        The result of :func:`ccdcal.pipeline.run_plan`, or the output
        directory of a finished run (its ``run-summary.json`` is read).
    checks : QAChecks, optional
        Limits that raise flags (defaults: :class:`QAChecks`).

    Returns
    -------
    dict
        Plain JSON-ready data: ``night`` (counts, problems, skipped frames,
        timings), ``flags`` (every flag, errors first: ``severity``,
        ``subject``, ``check``, ``message``), ``masters`` and ``science``
        (one dict per output, each with its own ``flags``).

    Raises
    ------
    PipelineError
        ``run_or_out_dir`` is a folder without a readable ``run-summary.json``.
    ParameterTypeError
        ``run_or_out_dir`` is neither a run result nor a path.

    Examples
    --------
    >>> import tempfile
    >>> from ccdcal.pipeline import Plan, RunResult
    >>> m = qa_metrics(RunResult(plan=Plan(), out_dir=tempfile.mkdtemp()))
    >>> m["flags"], m["masters"], m["science"], m["night"]["headline"]
    ([], [], [], '0 masters, 0 science frames calibrated')
    """
    return _collect(run_or_out_dir, checks=checks or QAChecks(), thumb_dir=None)


# --------------------------------------------------------------------------- writing


def _write_plots(qa_dir: Path, metrics: dict[str, Any], band: tuple[float, float]) -> set[Path]:
    from ccdcal.report.plots import plot_flat_profiles, plot_science_trends

    plots: dict[str, Callable[[Path], bool]] = {
        "science_trends.png": lambda p: plot_science_trends(metrics["science"], p, band=band),
        "flat_profiles.png": lambda p: plot_flat_profiles(metrics["masters"], p),
    }
    written: set[Path] = set()
    for name, plot in plots.items():
        try:
            if plot(qa_dir / name):
                written.add(qa_dir / name)
        except Exception as exc:  # a plot that fails must not sink the report
            log.warning("QA: plot %s failed: %s", name, exc)
            metrics["flags"].append(flag("warning", name, "plot", f"{type(exc).__name__}: {exc}"))
    metrics["plots"] = sorted(p.name for p in written)
    return written


def _remove_stale(qa_dir: Path, keep: set[Path]) -> None:
    """Remove the PNGs of an earlier report that this one does not link."""
    for path in [*qa_dir.glob("*.png"), *(qa_dir / THUMB_DIR).glob("*.png")]:
        if path not in keep:
            path.unlink(missing_ok=True)


def write_qa_report(
    run_or_out_dir: RunResult | str | os.PathLike[str],
    *,
    thumbnails: bool = True,
    checks: QAChecks | None = None,
) -> Path:
    """Write the QA report of a finished run into ``OUT_DIR/qa/`` and return its page.

    Writes ``qa.json`` (see :func:`qa_metrics`), ``index.html`` (a static
    page, flags first) and, with ``thumbnails``, a PNG thumbnail of every
    master and science frame (``qa/thumbs/``) and two plots: sky level and
    noise ratio against time per filter, and the profiles of the flats.
    Every file is written atomically, the page last; PNGs of an earlier
    report that this one does not link are removed.

    Parameters
    ----------
    run_or_out_dir : RunResult, str or path-like
        A run result, or the output directory of a finished run.
    thumbnails : bool, optional
        Write thumbnails and plots (they take most of the time).
    checks : QAChecks, optional
        Limits that raise flags.

    Returns
    -------
    pathlib.Path
        ``OUT_DIR/qa/index.html``.

    Raises
    ------
    PipelineError
        ``run_or_out_dir`` is a folder without a readable ``run-summary.json``.
    ParameterTypeError
        ``run_or_out_dir`` is neither a run result nor a path.

    Examples
    --------
    >>> import tempfile
    >>> from ccdcal.pipeline import Plan, RunResult
    >>> page = write_qa_report(RunResult(plan=Plan(), out_dir=tempfile.mkdtemp()),
    ...                        thumbnails=False)
    >>> page.name, sorted(p.name for p in page.parent.iterdir())
    ('index.html', ['index.html', 'qa.json'])
    """
    from ccdcal.io.atomic import atomic_write_text
    from ccdcal.report.html import render_html

    started = time.perf_counter()
    checks = checks or QAChecks()

    def thumb_dir(out_dir: Path) -> Path:
        (out_dir / QA_DIR / THUMB_DIR).mkdir(parents=True, exist_ok=True)
        return out_dir / QA_DIR / THUMB_DIR

    metrics = _collect(run_or_out_dir, checks=checks, thumb_dir=thumb_dir if thumbnails else None)
    qa_dir = Path(metrics["night"]["out_dir"]) / QA_DIR
    qa_dir.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()
    if thumbnails:
        entries = metrics["masters"] + metrics["science"]
        written = {qa_dir / e["thumbnail"] for e in entries if e.get("thumbnail")}
        written |= _write_plots(qa_dir, metrics, checks.noise_ratio)
    _remove_stale(qa_dir, written)
    metrics["seconds"] = number(time.perf_counter() - started, 3)
    atomic_write_text(qa_dir / QA_JSON, json.dumps(metrics, indent=1), overwrite=True)
    page = atomic_write_text(qa_dir / QA_HTML, render_html(metrics), overwrite=True)
    log.info("QA report written to %s in %.2f s", page, metrics["seconds"])
    return page
