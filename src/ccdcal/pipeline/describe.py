"""Plain-text account of a plan (``Plan.describe()``, shown by ``ccdcal plan``).

Examples
--------
>>> from ccdcal.pipeline.plan import Plan
>>> print(describe_plan(Plan()))
Frames: none found
Masters to build: none
Science frames: none to calibrate
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccdcal.pipeline.plan import Plan

__all__ = ["describe_plan", "frames_line", "sections_lines"]


def frames_line(plan: Plan) -> str:
    """``'Frames: 12 (4 bias, 4 dark, 2 flat, 2 science); 1 unreadable'``."""
    counts = plan.counts()
    total = sum(counts[k] for k in ("bias", "dark", "flat", "science", "unclassified"))
    if total == 0 and not counts["unreadable"]:
        return "Frames: none found"
    kinds = ", ".join(f"{counts[k]} {k}" for k in ("bias", "dark", "flat", "science") if counts[k])
    line = f"Frames: {total} ({kinds or 'no calibrated types'})"
    extra = [f"{counts[k]} {k}" for k in ("unclassified", "unreadable") if counts[k]]
    if extra:
        line += "; " + ", ".join(extra)
    return line


def sections_lines(plan: Plan) -> list[str]:
    """The overscan subtracted and the area kept, per binning (none when no frame has them).

    >>> from ccdcal.pipeline.plan import Plan
    >>> from ccdcal.pipeline.model import FrameRef
    >>> f = FrameRef(path="/n/b.fits", frame_type="bias", overscan="[101:108,1:50]",
    ...              trim="[1:100,1:50]")
    >>> for line in sections_lines(Plan(frames=(f,))):
    ...     print(line)
    Overscan and trim (from the headers):
      1x1: overscan [101:108,1:50] subtracted (median per line), trimmed to [1:100,1:50] (1 frame)
    """
    counts = Counter(
        (f.binning, f.overscan, f.trim)
        for f in plan.frames
        if f.frame_type is not None and not f.problems and (f.overscan or f.trim)
    )
    if not counts:
        return []
    lines = ["Overscan and trim (from the headers):"]
    for (binning, overscan, trim), n in sorted(counts.items(), key=lambda kv: str(kv[0])):
        what = []
        if overscan:
            what.append(f"overscan {overscan} subtracted (median per line)")
        if trim:
            what.append(f"trimmed to {trim}")
        lines.append(f"  {binning}: {', '.join(what)} ({n} frame{'s' if n != 1 else ''})")
    return lines


def _science_line(plan: Plan, index: int) -> str:
    s = plan.science[index]
    f = s.frame
    what = [f.binning]
    if f.filter is not None:
        what.append(f"filter {f.filter}")
    if f.exptime is not None:
        what.append(f"{f.exptime:g} s")
    masters = ", ".join(f"{k} {v}" for k, v in s.masters().items()) or "no masters"
    line = f"  {Path(f.path).name} ({' '.join(what)}) -> {s.output}: {masters}"
    if s.missing:
        line += f" [without {', '.join(s.missing)}]"
    return line


def describe_plan(plan: Plan, *, max_science: int = 50) -> str:
    """Several lines: frames, masters (with rejected inputs), science matching, skips, problems."""
    lines = [frames_line(plan), *sections_lines(plan)]
    building = [m for m in plan.masters if m.source != "library"]
    library = [m for m in plan.masters if m.source == "library"]
    if building:
        lines.append(f"Masters to build ({len(building)}):")
        for m in building:
            lines.append(f"  {m.describe()}")
            lines.extend(f"    left out {Path(r.path).name}: {r.reason}" for r in m.rejected)
            lines.extend(f"    note: {n}" for n in m.notes if m.source != "derived")
    else:
        lines.append("Masters to build: none")
    if library:
        lines.append(f"Masters from the calibration library ({len(library)}):")
        lines.extend(f"  {m.describe()} ({'; '.join(m.notes)})" for m in library)
    if plan.science:
        lines.append(f"Science frames to calibrate ({len(plan.science)}):")
        shown = min(len(plan.science), max_science)
        lines.extend(_science_line(plan, i) for i in range(shown))
        if shown < len(plan.science):
            lines.append(f"  ... and {len(plan.science) - shown} more")
    else:
        lines.append("Science frames: none to calibrate")
    if plan.skipped:
        lines.append(f"Science frames skipped ({len(plan.skipped)}):")
        lines.extend(f"  {Path(s.path).name}: {s.reason}" for s in plan.skipped)
    listed = ("missing-calibration", "rejected-frame")  # listed above with their science / master
    others = [p for p in plan.problems if not (p.kind in listed and p.path)]
    if others:
        lines.append(f"Problems ({len(others)}):")
        for p in others:
            where = f"{Path(p.path).name}: " if p.path else ""
            lines.append(f"  [{p.severity}] {p.kind}: {where}{p.message}")
    return "\n".join(lines)
