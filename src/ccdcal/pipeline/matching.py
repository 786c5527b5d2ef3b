"""Choosing the masters for a frame among candidates, with the reason for each refusal.

The rules (tonight's masters; the library's follow the library's own rules):

* **bias**: same instrument, binning, readout mode and shape;
* **dark**: the same, a temperature within ``temperature_tolerance`` of the
  frame's, then the nearest exposure time (the longer on a tie);
* **flat**: same instrument and filter, and the same binning and shape --
  or, when ``allow_derived``, a finer binning that divides the frame's
  (a 1x1 flat for a 2x2 frame) whose shape reduces to the frame's; the exact
  binning wins, then the closest finer one, then the same readout mode.

Each function returns a :class:`Choice`: the chosen master (or ``None``) and
a ``{key: reason}`` for every candidate that was not chosen.

Examples
--------
>>> from ccdcal.pipeline.model import FrameRef, MasterSpec
>>> sci = FrameRef(path="s.fits", frame_type="science", xbin=2, ybin=2, filter="R",
...                exptime=120.0, shape=(50, 60))
>>> flat = MasterSpec("flat_1x1_R", "flat", "tonight", "masters/flat_1x1_R.fits",
...                   filter="R", shape=(100, 120))
>>> choice = choose_flat(sci, [flat], allow_derived=True)
>>> choice.chosen.key, choice.factor
('flat_1x1_R', (2, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ccdcal.pipeline.model import FrameRef, MasterSpec

__all__ = [
    "Choice",
    "binning_factor",
    "choose_bias",
    "choose_dark",
    "choose_flat",
    "incompatibility",
]


@dataclass
class Choice:
    """The master chosen for a frame, and why each other candidate was not."""

    chosen: MasterSpec | None = None
    why: str = ""
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)
    factor: tuple[int, int] | None = None

    @property
    def derived(self) -> bool:
        """Whether the chosen master must be rebinned to the frame's binning."""
        return self.factor is not None and self.factor != (1, 1)

    def to_dict(self) -> dict[str, Any]:
        """``{'chosen': key, 'why': text, 'refused': {key: [code, message]}}``."""
        return {
            "chosen": self.chosen.key if self.chosen else None,
            "why": self.why,
            "refused": {k: list(v) for k, v in self.refused.items()},
        }


def binning_factor(frame: FrameRef, master: MasterSpec) -> tuple[int, int] | None:
    """How many master pixels make one frame pixel along x and y, or None if not whole.

    >>> f = FrameRef(path="s", xbin=2, ybin=2)
    >>> binning_factor(f, MasterSpec("m", "flat", "tonight", "m.fits", xbin=1, ybin=1))
    (2, 2)
    >>> binning_factor(f, MasterSpec("m", "flat", "tonight", "m.fits", xbin=4, ybin=4)) is None
    True
    """
    if frame.xbin % master.xbin or frame.ybin % master.ybin:
        return None
    return frame.xbin // master.xbin, frame.ybin // master.ybin


def incompatibility(
    frame: FrameRef, master: MasterSpec, *, exact_binning: bool = True
) -> tuple[str, str] | None:
    """Why ``master`` cannot calibrate ``frame``: ``(code, message)``, or None.

    >>> f = FrameRef(path="s", xbin=2, ybin=2)
    >>> incompatibility(f, MasterSpec("b", "bias", "tonight", "b.fits"))
    ('binning', "binning 1x1 is not the frame's 2x2")
    """
    if (frame.instrument or "") != (master.instrument or ""):
        return (
            "instrument",
            f"instrument {master.instrument!r} is not the frame's {frame.instrument!r}",
        )
    if exact_binning and (frame.xbin, frame.ybin) != (master.xbin, master.ybin):
        return "binning", f"binning {master.binning} is not the frame's {frame.binning}"
    if master.kind != "flat" and (frame.readout_mode or "") != (master.readout_mode or ""):
        return "readout", (
            f"readout mode {master.readout_mode!r} is not the frame's {frame.readout_mode!r}"
        )
    if exact_binning and frame.shape and master.shape and frame.shape != master.shape:
        return "shape", f"shape {master.shape} is not the frame's {frame.shape}"
    return None


def choose_bias(frame: FrameRef, candidates: Sequence[MasterSpec]) -> Choice:
    """The bias master for ``frame``: same instrument, binning, readout mode and shape."""
    choice = Choice()
    for master in candidates:
        reason = incompatibility(frame, master)
        if reason is not None:
            choice.refused[master.key] = reason
        elif choice.chosen is None:
            choice.chosen, choice.why = master, f"same binning {frame.binning}"
        else:
            choice.refused[master.key] = (
                "duplicate",
                f"{choice.chosen.key} matches too and comes first",
            )
    return choice


def choose_dark(
    frame: FrameRef, candidates: Sequence[MasterSpec], *, temperature_tolerance: float
) -> Choice:
    """The dark master for ``frame``: compatible, close in temperature, nearest exposure."""
    choice = Choice()
    usable: list[MasterSpec] = []
    for master in candidates:
        reason = incompatibility(frame, master)
        temp = frame.temperature
        if (
            reason is None
            and temp is not None
            and master.temperature is not None
            and abs(temp - master.temperature) > temperature_tolerance
        ):
            reason = (
                "temperature",
                (
                    f"temperature {master.temperature:.1f} C is more than "
                    f"{temperature_tolerance:g} C from the frame's {temp:.1f} C"
                ),
            )
        if reason is None:
            usable.append(master)
        else:
            choice.refused[master.key] = reason
    if not usable:
        return choice
    t = frame.exptime or 0.0

    def rank(m: MasterSpec) -> tuple[float, float, float, str]:
        dtemp = abs((frame.temperature or 0.0) - (m.temperature or 0.0))
        return (abs((m.exptime or 0.0) - t), -(m.exptime or 0.0), dtemp, m.key)

    usable.sort(key=rank)
    best = usable[0]
    choice.chosen = best
    choice.why = f"nearest exposure ({best.exptime:g} s for a {t:g} s frame)"
    for other in usable[1:]:
        choice.refused[other.key] = (
            "exptime",
            (
                f"exposure {other.exptime:g} s is further from the frame's {t:g} s "
                f"than {best.key}'s {best.exptime:g} s"
            ),
        )
    return choice


def _flat_refusal(
    frame: FrameRef, master: MasterSpec, *, allow_derived: bool
) -> tuple[tuple[str, str] | None, tuple[int, int] | None]:
    if (frame.filter or "") != (master.filter or ""):
        return ("filter", f"filter {master.filter!r} is not the frame's {frame.filter!r}"), None
    reason = incompatibility(frame, master, exact_binning=False)
    if reason is not None:
        return reason, None
    factor = binning_factor(frame, master)
    bins = f"binning {master.binning}"
    if factor is None:
        return ("binning", f"{bins} does not divide the frame's {frame.binning}"), None
    if factor != (1, 1) and not allow_derived:
        return ("binning", f"{bins} is not the frame's {frame.binning}"), None
    if frame.shape and master.shape:
        reduced = (master.shape[0] // factor[1], master.shape[1] // factor[0])
        if reduced != frame.shape:
            what = "shape" if factor == (1, 1) else f"shape rebinned by {factor[0]}x{factor[1]}"
            return ("shape", f"{what} {reduced} is not the frame's {frame.shape}"), None
    return None, factor


def choose_flat(
    frame: FrameRef, candidates: Sequence[MasterSpec], *, allow_derived: bool
) -> Choice:
    """The flat master for ``frame``: same filter, same or (if allowed) finer binning."""
    choice = Choice()
    usable: list[tuple[MasterSpec, tuple[int, int]]] = []
    for master in candidates:
        reason, factor = _flat_refusal(frame, master, allow_derived=allow_derived)
        if reason is None and factor is not None:
            usable.append((master, factor))
        else:
            choice.refused[master.key] = reason or ("unusable", "not usable")
    if not usable:
        return choice

    def rank(item: tuple[MasterSpec, tuple[int, int]]) -> tuple[int, int, str]:
        master, factor = item
        same_mode = (master.readout_mode or "") == (frame.readout_mode or "")
        return (factor[0] * factor[1], 0 if same_mode else 1, master.key)

    usable.sort(key=rank)
    best, factor = usable[0]
    choice.chosen, choice.factor = best, factor
    if factor == (1, 1):
        choice.why = f"same filter {frame.filter!r} and binning {frame.binning}"
    else:
        choice.why = (
            f"no {frame.binning} flat in filter {frame.filter!r}: derived from the "
            f"{best.binning} flat by {factor[0]}x{factor[1]} block averaging"
        )
    for other, ofactor in usable[1:]:
        choice.refused[other.key] = (
            "coarser_fit",
            (
                f"binning {other.binning} (factor {ofactor[0]}x{ofactor[1]}) is a worse fit "
                f"than {best.key}"
            ),
        )
    return choice
