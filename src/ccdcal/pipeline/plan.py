"""Planning a night: which masters to build from which frames, and how to calibrate each frame.

:func:`plan_night` scans the raw folders (recursively, passing over files that
are not FITS) and returns a :class:`Plan`; :func:`plan_frames` does the same
from frames already scanned.  Planning reads headers only and writes nothing.

A plan holds

* the frames, as :class:`~ccdcal.pipeline.model.FrameRef`;
* the masters, in build order (bias, dark, flat, then flats derived from a
  finer binning; masters taken from the calibration library are listed too);
* one :class:`~ccdcal.pipeline.model.ScienceSpec` per science frame to
  calibrate, naming its masters and why they were chosen;
* the science frames skipped, with the reason;
* problems: unreadable or unclassified files, missing keywords, odd shapes,
  missing calibrations, mixed binnings.

Examples
--------
>>> from ccdcal.pipeline.model import FrameRef
>>> def frame(name, kind, **kw):
...     return FrameRef(path=f"/night/{name}.fits", frame_type=kind, shape=(8, 8), **kw)
>>> frames = [frame("b1", "bias"), frame("b2", "bias"),
...           frame("d1", "dark", exptime=60.0), frame("d2", "dark", exptime=60.0),
...           frame("f1", "flat", exptime=2.0, filter="R"),
...           frame("s1", "science", exptime=120.0, filter="R")]
>>> plan = plan_frames(frames)
>>> [m.key for m in plan.masters]
['bias_1x1', 'dark_1x1_60s', 'flat_1x1_R']
>>> s = plan.science[0]
>>> s.bias, s.dark, s.flat, s.output
('bias_1x1', 'dark_1x1_60s', 'flat_1x1_R', 'science/s1.fits')
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccdcal.errors import InvalidParameterError, PipelineError
from ccdcal.pipeline.model import FrameRef, MasterSpec, Problem, ScienceSpec, SkippedFrame
from ccdcal.pipeline.options import MasterKind, ReduceOptions
from ccdcal.pipeline.planner import MasterLookup, plan_parts

__all__ = ["PLAN_VERSION", "MasterLookup", "Plan", "plan_frames", "plan_night"]

log = logging.getLogger(__name__)

PLAN_VERSION = 1


@dataclass
class Plan:
    """A reduction plan: inspect it (:meth:`describe`, :meth:`to_dict`), save it, run it.

    Attributes
    ----------
    raw_dirs : tuple of str
        The folders (or files) scanned.
    out_dir : str or None
        Where :func:`ccdcal.pipeline.run_plan` writes (it can also be given there).
    options : ReduceOptions
    frames : tuple of FrameRef
        Every classified frame found.
    masters : tuple of MasterSpec
        Masters in build order.
    science : tuple of ScienceSpec
        Science frames to calibrate.
    skipped : tuple of SkippedFrame
        Science frames that will not be calibrated.
    problems : tuple of Problem
    """

    raw_dirs: tuple[str, ...] = ()
    out_dir: str | None = None
    options: ReduceOptions = field(default_factory=ReduceOptions)
    frames: tuple[FrameRef, ...] = ()
    masters: tuple[MasterSpec, ...] = ()
    science: tuple[ScienceSpec, ...] = ()
    skipped: tuple[SkippedFrame, ...] = ()
    problems: tuple[Problem, ...] = ()
    created: str = ""

    def master(self, key: str) -> MasterSpec:
        """The master with this key."""
        for m in self.masters:
            if m.key == key:
                return m
        raise InvalidParameterError(
            f"no master {key!r} in this plan; its masters are {[m.key for m in self.masters]}"
        )

    def masters_of(self, kind: MasterKind) -> list[MasterSpec]:
        """The masters of one kind, in build order."""
        return [m for m in self.masters if m.kind == kind]

    def counts(self) -> dict[str, int]:
        """Frames per type, plus unreadable / unclassified counts."""
        c = Counter(f.frame_type or "unclassified" for f in self.frames)
        out = {k: c.get(k, 0) for k in ("bias", "dark", "flat", "science")}
        out["unclassified"] = c.get("unclassified", 0)
        out["unreadable"] = sum(1 for p in self.problems if p.kind == "unreadable")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything in the plan, JSON-ready."""
        return {
            "plan_version": PLAN_VERSION,
            "created": self.created,
            "raw_dirs": list(self.raw_dirs),
            "out_dir": self.out_dir,
            "options": self.options.to_dict(),
            "frames": [f.to_dict() for f in self.frames],
            "masters": [m.to_dict() for m in self.masters],
            "science": [s.to_dict() for s in self.science],
            "skipped": [s.to_dict() for s in self.skipped],
            "problems": [p.to_dict() for p in self.problems],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Rebuild a plan from :meth:`to_dict` output."""
        version = data.get("plan_version")
        if version != PLAN_VERSION:
            raise InvalidParameterError(
                f"plan version {version!r} is not the version this ccdcal reads ({PLAN_VERSION}); "
                "plan the night again"
            )
        return cls(
            raw_dirs=tuple(data["raw_dirs"]),
            out_dir=data.get("out_dir"),
            options=ReduceOptions.from_dict(data["options"]),
            frames=tuple(FrameRef.from_dict(f) for f in data["frames"]),
            masters=tuple(MasterSpec.from_dict(m) for m in data["masters"]),
            science=tuple(ScienceSpec.from_dict(s) for s in data["science"]),
            skipped=tuple(SkippedFrame.from_dict(s) for s in data["skipped"]),
            problems=tuple(Problem.from_dict(p) for p in data["problems"]),
            created=data.get("created", ""),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the plan as JSON (atomically) and return the path."""
        from ccdcal.io.atomic import atomic_write_text

        text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        return atomic_write_text(path, text, overwrite=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Plan:
        """Read a plan saved with :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def describe(self) -> str:
        """A readable account of the plan (for notebooks and ``ccdcal plan``)."""
        from ccdcal.pipeline.describe import describe_plan

        return describe_plan(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython
        printer.text(self.describe())


# ---------------------------------------------------------------- entry points


def plan_frames(
    frames: Iterable[FrameRef | Any],
    *,
    unreadable: Iterable[tuple[str, str]] = (),
    raw_dirs: Sequence[str | os.PathLike[str]] = (),
    out_dir: str | os.PathLike[str] | None = None,
    library: MasterLookup | None = None,
    options: ReduceOptions | None = None,
) -> Plan:
    """Plan the reduction of frames already scanned (``FrameInfo`` or ``FrameRef``).

    Parameters
    ----------
    frames : iterable of FrameRef or FrameInfo
        The frames of the night.
    unreadable : iterable of (path, reason)
        Files the scan could not read (reported as problems).
    raw_dirs : sequence of path
        Recorded in the plan.
    out_dir : path, optional
        Recorded in the plan (where the run will write).
    library : MasterLookup, optional
        Where to look for earlier masters when tonight has none.
    options : ReduceOptions, optional

    Returns
    -------
    Plan
    """
    opts = options or ReduceOptions()
    parts = plan_parts(frames, unreadable=unreadable, library=library, options=opts)
    return Plan(
        raw_dirs=tuple(str(p) for p in raw_dirs),
        out_dir=str(out_dir) if out_dir is not None else None,
        options=opts,
        frames=tuple(parts.frames),
        masters=tuple(parts.masters),
        science=tuple(parts.science),
        skipped=tuple(parts.skipped),
        problems=tuple(parts.problems),
        created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    )


def _inside(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder)


def plan_night(
    raw_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    instrument: str | None = None,
    library: MasterLookup | str | None = None,
    options: ReduceOptions | None = None,
    use_cache: bool = True,
    progress: Callable[..., Any] | None = None,
) -> Plan:
    """Scan raw folders (recursively) and plan their reduction; nothing is written.

    Parameters
    ----------
    raw_dirs : path or sequence of paths
        Folders (searched recursively) or files.
    out_dir : path, optional
        Where the run will write (recorded in the plan).
    instrument : str, optional
        Instrument profile name (default: recognised from the headers).
    library : MasterLookup or str, optional
        The calibration library to take earlier masters from, or its database
        URL. Default: none (``run_plan`` / ``ccdcal reduce`` pass the one in
        the output directory when it exists).
    options : ReduceOptions, optional
    use_cache : bool
        Use the scan's header cache.
    progress : callable, optional
        Passed to :func:`ccdcal.collection.scan`.

    Returns
    -------
    Plan

    Examples
    --------
    >>> import tempfile
    >>> plan = plan_night(tempfile.mkdtemp())
    >>> len(plan.frames), len(plan.science)
    (0, 0)
    """
    from ccdcal.collection import scan

    dirs = [raw_dirs] if isinstance(raw_dirs, (str, os.PathLike)) else list(raw_dirs)
    if not dirs:
        raise InvalidParameterError("give at least one raw folder or file to plan")
    for d in dirs:
        if not Path(d).exists():
            raise PipelineError(f"raw folder {str(d)!r} does not exist; check the path")
    result = scan(
        [Path(d) for d in dirs],
        recursive=True,
        instrument=instrument,
        use_cache=use_cache,
        progress=progress,
    )
    frames, unreadable = (
        list(result.frames),
        [(str(u.path), str(u.reason)) for u in result.unreadable],
    )
    if out_dir is not None:
        # products of an earlier run inside a raw folder are not raw frames
        out = Path(out_dir).resolve()
        frames = [f for f in frames if not _inside(f.path, out)]
        unreadable = [u for u in unreadable if not _inside(u[0], out)]
    lookup: MasterLookup | None
    if isinstance(library, str):
        from ccdcal.pipeline.library_bridge import LibraryLookup

        lookup = LibraryLookup.open(library, options=options or ReduceOptions())
    else:
        lookup = library
    return plan_frames(
        frames,
        unreadable=unreadable,
        raw_dirs=[str(Path(d).resolve()) for d in dirs],
        out_dir=str(Path(out_dir).resolve()) if out_dir is not None else None,
        library=lookup,
        options=options,
    )
