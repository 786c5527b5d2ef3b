"""The planner's rules: frame checks, master groups, matching each science frame, problems.

:func:`plan_parts` is the whole planning of a night's frames, pure:
frames in, masters / science frames / skipped frames / problems out.
:func:`ccdcal.pipeline.plan_frames` wraps it into a :class:`~ccdcal.pipeline.plan.Plan`.

Examples
--------
>>> from ccdcal.pipeline.model import FrameRef
>>> frames = [FrameRef(path=f"/n/b{i}.fits", frame_type="bias", shape=(4, 4)) for i in range(2)]
>>> parts = plan_parts(frames)
>>> [m.key for m in parts.masters], parts.science
(['bias_1x1'], [])
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ccdcal.pipeline.grouping import FrameGroup, group_frames
from ccdcal.pipeline.matching import Choice, choose_bias, choose_dark, choose_flat
from ccdcal.pipeline.model import (
    FrameRef,
    MasterSpec,
    Problem,
    ProblemKind,
    Rejection,
    ScienceSpec,
    SkippedFrame,
)
from ccdcal.pipeline.options import CALIBRATION_KINDS, MasterKind, ReduceOptions

__all__ = ["MASTER_DIR", "SCIENCE_DIR", "MasterLookup", "PlanParts", "plan_parts"]

log = logging.getLogger(__name__)

MASTER_DIR = "masters"
SCIENCE_DIR = "science"


class MasterLookup(Protocol):
    """Where the planner looks for masters that tonight's frames cannot give.

    :class:`ccdcal.pipeline.library_bridge.LibraryLookup` wraps the
    calibration library; tests pass small fakes.
    """

    def find(
        self, kind: MasterKind, frame: FrameRef, *, allow_finer_binning: bool
    ) -> tuple[MasterSpec | None, dict[str, tuple[str, str]]]:
        """The best earlier master of ``kind`` for ``frame`` (or None).

        Also returns ``{key: (code, message)}`` for every other library master.
        """
        ...


# ---------------------------------------------------------------- naming


def _slug(text: str, *, lower: bool = True) -> str:
    """``'SBIG ST-8 3 CCD Camera' -> 'sbig-st-8-3-ccd-camera'``."""
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "-", text.strip()).strip("-")
    return (slug.lower() if lower else slug) or "none"


@dataclass
class _Namer:
    """Makes unique, readable master keys."""

    many_instruments: bool
    many_modes: bool
    used: set[str] = field(default_factory=set)

    def key(self, parts: list[str], instrument: str | None, mode: str | None) -> str:
        if self.many_modes and mode:
            parts.append(_slug(mode))
        if self.many_instruments and instrument:
            parts.append(_slug(instrument))
        base = "_".join(parts)
        key, n = base, 1
        while key in self.used:
            n += 1
            key = f"{base}-{n}"
        self.used.add(key)
        return key


def _exptime_text(t: float | None) -> str:
    if t is None:
        return "nos"
    return f"{t:g}s".replace(".", "p")


# ---------------------------------------------------------------- frame checks


def _frame_problems(frames: Sequence[FrameRef]) -> tuple[list[FrameRef], list[Problem]]:
    """Drop frames that cannot be used at all; report header problems."""
    usable: list[FrameRef] = []
    problems: list[Problem] = []
    for f in frames:
        if f.frame_type is None:
            what = f"type {f.raw_type!r}" if f.raw_type else "no frame type in the header"
            detail = f" ({'; '.join(f.problems)})" if f.problems else ""
            problems.append(
                Problem(
                    "unclassified",
                    f"{what} is not bias, dark, flat or science{detail}; the file is passed "
                    "over (set IMAGETYP, or choose an instrument profile that maps it)",
                    path=f.path,
                    severity="warning",
                )
            )
            continue
        if f.problems:
            text = "; ".join(f.problems)
            kind: ProblemKind = "bad-shape" if "shape" in text.lower() else "missing-keyword"
            problems.append(
                Problem(kind, f"{text}; the file is passed over", path=f.path, severity="warning")
            )
            continue
        if f.shape is None or len(f.shape) != 2 or min(f.shape) < 1:
            problems.append(
                Problem(
                    "bad-shape",
                    f"no 2-D image in HDU {f.hdu} (shape {f.shape}); the file is passed over",
                    path=f.path,
                    severity="warning",
                )
            )
            continue
        if f.frame_type == "dark" and not (f.exptime and f.exptime > 0):
            problems.append(
                Problem(
                    "missing-keyword",
                    f"dark without a positive exposure time (EXPTIME={f.exptime}); left out",
                    path=f.path,
                )
            )
            continue
        usable.append(f)
    return usable, problems


# ---------------------------------------------------------------- masters


@dataclass
class _Builder:
    """State while planning: masters so far, problems, the library lookup."""

    options: ReduceOptions
    lookup: MasterLookup | None
    namer: _Namer
    masters: list[MasterSpec] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    library_keys: dict[str, MasterSpec] = field(default_factory=dict)

    def tonight(self, kind: MasterKind) -> list[MasterSpec]:
        return [m for m in self.masters if m.kind == kind and m.source == "tonight"]

    def add_library(self, spec: MasterSpec) -> MasterSpec:
        """Register a library master once (several frames may use it)."""
        for existing in self.library_keys.values():
            if existing.output == spec.output:
                return existing
        self.library_keys[spec.key] = spec
        self.masters.append(spec)
        return spec

    def find(
        self, kind: MasterKind, frame: FrameRef, choice: Choice, *, finer: bool = False
    ) -> Choice:
        """Tonight's choice if any, else the library's."""
        if choice.chosen is not None or self.lookup is None:
            return choice
        try:
            spec, refused = self.lookup.find(kind, frame, allow_finer_binning=finer)
        except Exception as exc:  # the night goes on without the library
            self.problems.append(
                Problem("library", f"calibration library lookup failed: {exc}", severity="warning")
            )
            return choice
        choice.refused.update(refused)
        if spec is None:
            return choice
        spec = self.add_library(spec)
        choice.chosen = spec
        note = spec.notes[0] if spec.notes else "an earlier master"
        choice.why = f"none tonight: calibration library master, {note} ({spec.output})"
        if finer and (spec.xbin, spec.ybin) != (frame.xbin, frame.ybin):
            choice.factor = (frame.xbin // spec.xbin, frame.ybin // spec.ybin)
        else:
            choice.factor = (1, 1)
        return choice


def _group_frame(group: FrameGroup) -> FrameRef:
    """A stand-in frame with the group's properties (for matching its own calibrations)."""
    first = group.frames[0]
    return replace(
        first,
        path=f"<{group.kind} group>",
        exptime=group.exptime,
        ccd_temp=group.temperature,
        set_temp=first.set_temp,
    )


def _spec_from_group(group: FrameGroup, key: str, **extra: Any) -> MasterSpec:
    start, end = group.date_span
    return MasterSpec(
        key=key,
        kind=group.kind,
        source="tonight",
        output=f"{MASTER_DIR}/{key}.fits",
        instrument=group.instrument,
        xbin=group.xbin,
        ybin=group.ybin,
        readout_mode=group.readout_mode,
        filter=group.filter,
        exptime=group.exptime if group.kind != "bias" else 0.0,
        temperature=group.temperature,
        shape=group.shape,
        inputs=tuple(f.path for f in group.frames),
        rejected=tuple(group.rejected),
        date_start=start,
        date_end=end,
        **extra,
    )


def _reject_group(b: _Builder, group: FrameGroup, why: str) -> None:
    b.problems.append(
        Problem(
            "missing-calibration",
            f"{group.kind} frames at {group.xbin}x{group.ybin}"
            + (f" filter {group.filter!r}" if group.filter is not None else "")
            + f" ({len(group.frames)}) are not combined: {why}",
            severity="warning",
        )
    )


def _group_bias(b: _Builder, group: FrameGroup, stand_in: FrameRef) -> MasterSpec | None:
    """The master bias for a group of darks or flats; None (and a problem) when there is none."""
    bias = b.find("bias", stand_in, choose_bias(stand_in, b.tonight("bias")))
    if bias.chosen is None:
        _reject_group(b, group, f"no master bias at {group.xbin}x{group.ybin}")
    return bias.chosen


def _plan_bias(b: _Builder, frames: Sequence[FrameRef]) -> None:
    for group in group_frames(frames, "bias", options=b.options):
        if not group.frames:
            continue
        key = b.namer.key(
            ["bias", f"{group.xbin}x{group.ybin}"], group.instrument, group.readout_mode
        )
        b.masters.append(_spec_from_group(group, key))


def _plan_darks(b: _Builder, frames: Sequence[FrameRef], many_temps: bool) -> None:
    for group in group_frames(frames, "dark", options=b.options):
        if not group.frames:
            continue
        stand_in = _group_frame(group)
        bias = _group_bias(b, group, stand_in)
        if bias is None:
            continue
        parts = ["dark", f"{group.xbin}x{group.ybin}", _exptime_text(group.exptime)]
        if many_temps and group.temperature is not None:
            parts.append(f"{group.temperature:+.0f}C")
        key = b.namer.key(parts, group.instrument, group.readout_mode)
        b.masters.append(_spec_from_group(group, key, bias=bias.key))


def _plan_flats(b: _Builder, frames: Sequence[FrameRef]) -> None:
    for group in group_frames(frames, "flat", options=b.options):
        if not group.frames:
            continue
        stand_in = _group_frame(group)
        bias = _group_bias(b, group, stand_in)
        if bias is None:
            continue
        tol = b.options.temperature_tolerance
        dark = b.find(
            "dark", stand_in, choose_dark(stand_in, b.tonight("dark"), temperature_tolerance=tol)
        )
        notes: tuple[str, ...] = ()
        kept, rejected = list(group.frames), list(group.rejected)
        if dark.chosen is None:
            notes = (f"no master dark at {group.xbin}x{group.ybin}: flats not dark-subtracted",)
            b.problems.append(
                Problem(
                    "missing-calibration",
                    f"flats {group.xbin}x{group.ybin} filter {group.filter!r}: {notes[0]}",
                    severity="info",
                )
            )
        else:
            no_exp = [f for f in kept if not (f.exptime and f.exptime > 0)]
            rejected += [Rejection(f.path, "no exposure time to scale the dark") for f in no_exp]
            kept = [f for f in kept if f not in no_exp]
            if not kept:
                _reject_group(b, group, "no flat has an exposure time")
                continue
        group = replace(group, frames=kept, rejected=rejected)
        key = b.namer.key(
            ["flat", f"{group.xbin}x{group.ybin}", _slug(group.filter or "none", lower=False)],
            group.instrument,
            group.readout_mode,
        )
        b.masters.append(
            _spec_from_group(
                group,
                key,
                bias=bias.key,
                dark=dark.chosen.key if dark.chosen else None,
                notes=notes,
            )
        )


def _derived_flat(b: _Builder, source: MasterSpec, frame: FrameRef) -> MasterSpec:
    key = f"{source.key}_to_{frame.binning}"
    for m in b.masters:
        if m.key == key:
            return m
    shape = frame.shape
    spec = MasterSpec(
        key=key,
        kind="flat",
        source="derived",
        output=f"{MASTER_DIR}/{key}.fits",
        instrument=source.instrument,
        xbin=frame.xbin,
        ybin=frame.ybin,
        readout_mode=source.readout_mode,
        filter=source.filter,
        shape=shape,
        derived_from=source.key,
        date_start=source.date_start,
        date_end=source.date_end,
        notes=(f"block-averaged from {source.key} ({source.binning}) and renormalised to 1",),
    )
    b.masters.append(spec)
    return spec


# ---------------------------------------------------------------- science


def _output_names(frames: Sequence[FrameRef]) -> dict[str, str]:
    """``science/<raw stem>.fits``, made unique with the parent folder (then a number)."""
    stems = Counter(Path(f.path).stem for f in frames)
    names: dict[str, str] = {}
    used: set[str] = set()
    for f in sorted(frames, key=lambda f: f.path):
        p = Path(f.path)
        stem = p.stem
        if stems[stem] > 1:
            stem = f"{stem}_{_slug(p.parent.name, lower=False)}"
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name)
        names[f.path] = f"{SCIENCE_DIR}/{name}.fits"
    return names


def _plan_science_frame(b: _Builder, frame: FrameRef, output: str) -> ScienceSpec | SkippedFrame:
    opts = b.options
    chosen: dict[str, MasterSpec | None] = {}
    notes: list[str] = []
    bias = b.find("bias", frame, choose_bias(frame, b.tonight("bias")))
    chosen["bias"] = bias.chosen
    dark = b.find(
        "dark",
        frame,
        choose_dark(frame, b.tonight("dark"), temperature_tolerance=opts.temperature_tolerance),
    )
    chosen["dark"] = dark.chosen
    tonight_flats = [m for m in b.masters if m.kind == "flat" and m.source == "tonight"]
    flat = choose_flat(frame, tonight_flats, allow_derived=opts.derive_flats)
    flat = b.find("flat", frame, flat, finer=opts.derive_flats)
    chosen["flat"] = flat.chosen
    choices = {"bias": bias.to_dict(), "dark": dark.to_dict(), "flat": flat.to_dict()}
    for kind, choice in (("bias", bias), ("dark", dark), ("flat", flat)):
        if choice.chosen is not None:
            notes.append(f"{kind}: {choice.chosen.key} ({choice.why})")
    missing = tuple(k for k in CALIBRATION_KINDS if chosen[k] is None)
    not_allowed = [k for k in missing if k not in opts.allow_missing]
    if not_allowed:
        detail = ", ".join(_missing_text(k, frame) for k in not_allowed)
        return SkippedFrame(
            frame.path,
            f"no {detail}; skipped (use allow_missing / --allow-missing to calibrate without)",
            missing=tuple(not_allowed),
        )
    if chosen["dark"] is not None and not (frame.exptime and frame.exptime > 0):
        return SkippedFrame(
            frame.path, "no exposure time (EXPTIME) to scale the dark; skipped", missing=()
        )
    notes += [f"{k}: none at {frame.binning}; calibrated without (allowed)" for k in missing]
    flat_spec = flat.chosen
    if flat_spec is not None and flat.derived:
        flat_spec = _derived_flat(b, flat_spec, frame)
        choices["flat"] = {**choices["flat"], "chosen": flat_spec.key}
    return ScienceSpec(
        frame=frame,
        output=output,
        bias=chosen["bias"].key if chosen["bias"] else None,
        dark=chosen["dark"].key if chosen["dark"] else None,
        flat=flat_spec.key if flat_spec else None,
        missing=missing,
        notes=tuple(notes),
        choices=choices,
    )


def _missing_text(kind: str, frame: FrameRef) -> str:
    what = f"master {kind} at {frame.binning}"
    if kind == "flat":
        what += f" (or finer) in filter {frame.filter!r}"
    return what


def _binning_problems(frames: Sequence[FrameRef]) -> list[Problem]:
    by_type: dict[str, set[str]] = {}
    for f in frames:
        by_type.setdefault(f.frame_type or "?", set()).add(f.binning)
    all_bins = set().union(*by_type.values()) if by_type else set()
    if len(all_bins) <= 1:
        return []
    text = "; ".join(f"{t} {', '.join(sorted(b))}" for t, b in sorted(by_type.items()))
    return [Problem("mixed-binning", f"the night mixes binnings: {text}", severity="info")]


@dataclass
class PlanParts:
    """What planning produced: the frames (as FrameRef), masters in build order, the rest."""

    frames: list[FrameRef]
    masters: list[MasterSpec]
    science: list[ScienceSpec]
    skipped: list[SkippedFrame]
    problems: list[Problem]


# ---------------------------------------------------------------- entry point


def plan_parts(
    frames: Iterable[FrameRef | Any],
    *,
    unreadable: Iterable[tuple[str, str]] = (),
    library: MasterLookup | None = None,
    options: ReduceOptions | None = None,
) -> PlanParts:
    """Plan the reduction of frames (``FrameRef`` or ``FrameInfo``): the pure core of planning."""
    opts = options or ReduceOptions()
    refs = sorted(
        (f if isinstance(f, FrameRef) else FrameRef.from_info(f) for f in frames),
        key=lambda f: (f.path, f.hdu),
    )
    problems = [
        Problem("unreadable", f"cannot be read: {reason}; passed over", path=str(path))
        for path, reason in unreadable
    ]
    usable, frame_problems = _frame_problems(refs)
    problems += frame_problems
    namer = _Namer(
        many_instruments=len({f.instrument for f in usable}) > 1,
        many_modes=len({f.readout_mode for f in usable if f.frame_type != "science"}) > 1,
    )
    b = _Builder(options=opts, lookup=library, namer=namer)
    _plan_bias(b, usable)
    dark_temps = {
        round(f.temperature / opts.temperature_tolerance)
        for f in usable
        if f.frame_type == "dark" and f.temperature is not None
    }
    _plan_darks(b, usable, many_temps=len(dark_temps) > 1)
    _plan_flats(b, usable)
    science_frames = [f for f in usable if f.frame_type == "science"]
    names = _output_names(science_frames)
    science: list[ScienceSpec] = []
    skipped: list[SkippedFrame] = []
    for f in science_frames:
        item = _plan_science_frame(b, f, names[f.path])
        (science if isinstance(item, ScienceSpec) else skipped).append(item)  # type: ignore[arg-type]
    for s in skipped:
        b.problems.append(Problem("missing-calibration", s.reason, path=s.path))
    for m in b.masters:
        b.problems += [
            Problem("rejected-frame", f"left out of {m.key}: {r.reason}", path=r.path)
            for r in m.rejected
        ]
    problems += b.problems + _binning_problems(usable)
    return PlanParts(
        frames=refs,
        masters=_ordered(b.masters),
        science=science,
        skipped=skipped,
        problems=problems,
    )


def _ordered(masters: list[MasterSpec]) -> list[MasterSpec]:
    """Build order: library first (nothing to build), then bias, dark, flat, derived flats."""
    order = {"library": 0, "tonight": 1, "derived": 2}
    kinds = {"bias": 0, "dark": 1, "flat": 2}
    return sorted(masters, key=lambda m: (order[m.source], kinds[m.kind]))
