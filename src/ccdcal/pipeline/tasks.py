"""Tasks: the picklable units of work of a run, and what they return.

A task is a frozen dataclass holding everything its function needs (paths,
header facts, settings): :class:`MasterTask` for :func:`run_master_task`
and :class:`ScienceTask` for :func:`run_science_task`.  Both functions are
pure functions of files and parameters, never raise (a failure comes back as
a :class:`TaskResult` with ``status='failed'`` and the reason, so the night
goes on) and compute nothing that depends on the process or thread they run
in: any executor gives the same outputs.

Examples
--------
>>> r = TaskResult(key="bias_1x1", kind="bias", status="failed", message="no frames")
>>> TaskResult.from_dict(r.to_dict()) == r
True
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ccdcal.pipeline.model import FrameRef, MasterSpec, ScienceSpec
from ccdcal.pipeline.options import ReduceOptions
from ccdcal.pipeline.state import FileIdentity

__all__ = [
    "MasterInput",
    "MasterTask",
    "ScienceTask",
    "TaskKind",
    "TaskResult",
    "TaskStatus",
    "Thumbnail",
    "run_master_task",
    "run_science_task",
]

log = logging.getLogger(__name__)

TaskKind = Literal["bias", "dark", "flat", "science"]
#: ``built``: made now; ``reused``: finished by an earlier run and unchanged;
#: ``failed``: could not be made (see ``message``); ``skipped``: not attempted
#: because something it needs is missing or failed.
TaskStatus = Literal["built", "reused", "failed", "skipped"]


@dataclass(frozen=True)
class MasterInput:
    """A master used by a task: its key, absolute path, checksum and origin."""

    key: str
    path: str
    checksum: str | None = None
    source: str = "tonight"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MasterTask:
    """Build one master: combine ``frames`` (or rebin ``uses['source']`` for a derived flat)."""

    spec: MasterSpec
    output: str
    frames: tuple[FrameRef, ...]
    uses: Mapping[str, MasterInput]
    options: ReduceOptions
    overwrite: bool = True
    tmp_dir: str | None = None
    threads: int | None = None
    read_noise_adu: float | None = None
    #: Identities of input files the caller has hashed already (while the workers were
    #: starting); used for a file whose size and modification time still match.
    known_inputs: tuple[FileIdentity, ...] = ()

    @property
    def key(self) -> str:
        """The master's key."""
        return self.spec.key


@dataclass(frozen=True)
class ScienceTask:
    """Calibrate one science frame with the masters in ``uses`` (by kind)."""

    spec: ScienceSpec
    output: str
    uses: Mapping[str, MasterInput]
    options: ReduceOptions
    read_noise_adu: float | None = None
    overwrite: bool = True

    @property
    def key(self) -> str:
        """The output path relative to the output directory."""
        return self.spec.output


@dataclass(frozen=True)
class TaskResult:
    """What a task did.

    Attributes
    ----------
    key : str
        The master key, or the science output (relative path).
    kind : {'bias', 'dark', 'flat', 'science'}
    status : {'built', 'reused', 'failed', 'skipped'}
    output : str or None
        Absolute path of the output written (or found).
    checksum : str or None
        SHA-256 of the output file.
    message : str
        Why it failed or was skipped; notes otherwise.
    seconds : float
        Time the task took.
    rejected : tuple of (path, reason)
        Input frames left out while running (e.g. a flat too faint).
    quality : dict
        Numbers measured on the output (level, noise, rejected fraction...).
    inputs : tuple of FileIdentity
        The raw files read (size, time, SHA-256), for resuming.
    product : FileIdentity or None
        The output file's identity.
    qa : dict
        The QA report's measurements of the output, taken by the task while
        the frame was in memory (``{'metrics': ..., 'flags': ...}``; empty
        when not measured).
    thumbnail : Thumbnail or None
        The downsampled output for the QA report, which the calling process
        writes as a PNG (not part of :meth:`to_dict`).
    """

    key: str
    kind: TaskKind
    status: TaskStatus
    output: str | None = None
    checksum: str | None = None
    message: str = ""
    seconds: float = 0.0
    rejected: tuple[tuple[str, str], ...] = ()
    quality: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[FileIdentity, ...] = ()
    product: FileIdentity | None = None
    masters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    qa: Mapping[str, Any] = field(default_factory=dict)
    thumbnail: Thumbnail | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the output exists (built now or reused)."""
        return self.status in ("built", "reused")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "key": self.key,
            "kind": self.kind,
            "status": self.status,
            "output": self.output,
            "checksum": self.checksum,
            "message": self.message,
            "seconds": round(self.seconds, 4),
            "rejected": [list(r) for r in self.rejected],
            "quality": dict(self.quality),
            "inputs": [i.to_list() for i in self.inputs],
            "product": self.product.to_list() if self.product else None,
            "masters": {k: dict(v) for k, v in self.masters.items()},
            "qa": dict(self.qa),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskResult:
        """Rebuild from :meth:`to_dict` output."""
        d = dict(data)
        d["rejected"] = tuple(tuple(r) for r in d.get("rejected") or ())
        d["inputs"] = tuple(FileIdentity.from_list(i) for i in d.get("inputs") or ())
        d["product"] = FileIdentity.from_list(d["product"]) if d.get("product") else None
        d["quality"] = dict(d.get("quality") or {})
        d["masters"] = dict(d.get("masters") or {})
        d["qa"] = dict(d.get("qa") or {})
        return cls(**d)


def _failure(key: str, kind: TaskKind, exc: BaseException, started: float) -> TaskResult:
    log.debug("task %s failed:\n%s", key, traceback.format_exc())
    text = str(exc) or type(exc).__name__
    return TaskResult(
        key=key,
        kind=kind,
        status="failed",
        message=f"{type(exc).__name__}: {text}",
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class Thumbnail:
    """A downsampled output that the calling process writes as the QA report's PNG.

    Tasks hand their thumbnails back instead of writing them: drawing one
    needs astropy.visualization, which imports matplotlib (~0.1 s of CPU in
    every worker), while the calling process has loaded it anyway for the
    report's plots.
    """

    path: str
    image: Any

    def write(self) -> None:
        """Write the PNG (zscaled greyscale, atomically)."""
        from ccdcal.report.plots import write_thumbnail

        write_thumbnail(Path(self.path), self.image)


def measure_for_report(
    options: ReduceOptions, ccd: Any, entry: Mapping[str, Any], output: Path, *, science: bool
) -> tuple[dict[str, Any], Thumbnail | None]:
    """The QA report's measurements of an output just written, taken in its task.

    ``entry`` holds what the measurements read besides the pixels (``key``,
    ``kind``, ``source``, ``exptime``, ``quality``, ``missing``).  Returns
    the measurements (empty when ``options.qa_report`` is off or the
    measuring failed: the report then reads the file itself) and the
    thumbnail to write where the report links it.
    """
    if not options.qa_report:
        return {}, None
    from ccdcal.report.measure import measure_in_task
    from ccdcal.report.qa import thumbnail_path

    metrics = {**entry, "file": f"{output.parent.name}/{output.name}"}
    thumb = thumbnail_path(output.parents[1], str(entry["key"]))
    pending: list[Thumbnail] = []
    qa = measure_in_task(
        metrics,
        ccd,
        science=science,
        thumbnail=thumb,
        write_thumbnail=lambda path, image: pending.append(Thumbnail(str(path), image)),
    )
    return qa, (pending[0] if qa and pending else None)


def run_master_task(task: MasterTask) -> TaskResult:
    """Build the master of ``task`` and write it; a failure is returned, not raised."""
    from ccdcal.pipeline.masters import build_master

    started = time.perf_counter()
    try:
        result = build_master(task)
    except Exception as exc:
        return _failure(task.key, task.spec.kind, exc, started)
    return dataclasses.replace(result, seconds=time.perf_counter() - started)


def run_science_task(task: ScienceTask) -> TaskResult:
    """Calibrate the science frame of ``task`` and write it; a failure is returned, not raised."""
    from ccdcal.pipeline.science import calibrate_frame

    started = time.perf_counter()
    try:
        result = calibrate_frame(task)
    except Exception as exc:
        return _failure(task.key, "science", exc, started)
    return dataclasses.replace(result, seconds=time.perf_counter() - started)


def output_path(out_dir: str | Path, relative: str) -> Path:
    """The absolute path of an output given relative to the output directory."""
    return Path(out_dir) / relative
