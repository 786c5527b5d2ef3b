"""The vocabulary of matching: rules, the science target, candidates and results.

:class:`MatchRules` holds the tolerances and preferences, :class:`MatchTarget`
the attributes of the science frame; :func:`ccdcal.library.select_master`
returns a :class:`MatchResult` with one :class:`Candidate` per master, each
carrying :class:`Reason` objects.  Everything here converts to JSON-ready
dicts, which is how a decision is stored with each usage record so that it
can be explained later from the database alone.

Examples
--------
>>> r = Reason("filter", "different filter 'V' (science 'R')")
>>> r.code
'filter'
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from ccdcal.errors import CalibrationNotFoundError, InvalidParameterError, LibraryError
from ccdcal.library.records import MasterRecord
from ccdcal.library.times import to_utc

__all__ = [
    "Candidate",
    "DarkExposurePolicy",
    "MatchResult",
    "MatchRules",
    "MatchTarget",
    "Reason",
    "format_exposure",
    "format_temperature",
    "format_value",
]

#: How a dark's exposure is weighed: the nearest exposure wins ('nearest'),
#: only darks of the science exposure are accepted ('exact'), or ignored.
DarkExposurePolicy = Literal["nearest", "exact", "ignore"]


class Reason(NamedTuple):
    """Why a candidate master was rejected or not chosen.

    ``code`` is stable and machine-readable (``'binning'``, ``'filter'``,
    ``'bad'``, ``'validity'``, ``'temperature'``, ``'farther_in_time'``...);
    ``message`` is the sentence shown to people.
    """

    code: str
    message: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class MatchRules:
    """How masters are matched to science frames.

    Parameters
    ----------
    validity_days : float or None
        ``None`` (default): use each master's stored validity window
        (``good_after``/``good_until``).  A number: replace it by the span of
        the master's inputs widened by this many days on both sides.
    max_temp_diff : float
        Largest accepted difference of CCD temperature (°C) for the kinds in
        ``temperature_kinds``.
    temperature_kinds : tuple of str
        Kinds whose temperature must agree (default: darks only).
    require_temperature : bool
        Reject a master when its or the science frame's temperature is unknown
        (default: accept it, with a note).
    dark_exptime_policy : {'nearest', 'exact', 'ignore'}
        Nearest exposure preferred (default), exact exposure required, or
        exposure not considered.
    exptime_tolerance : float
        Exposures closer than this (seconds) count as equal.
    allow_other_nights : bool
        Use masters from other nights when the science night has none
        (default True; the provenance note says so).  False rejects them.
    utc_offset_hours : float
        The site's offset from UTC, to tell which night a time belongs to
        (nights run from local noon to local noon).

    Examples
    --------
    >>> MatchRules(max_temp_diff=1.0).to_dict()["max_temp_diff"]
    1.0
    >>> MatchRules.from_dict(MatchRules().to_dict()) == MatchRules()
    True
    """

    validity_days: float | None = None
    max_temp_diff: float = 2.0
    temperature_kinds: tuple[str, ...] = ("dark",)
    require_temperature: bool = False
    dark_exptime_policy: DarkExposurePolicy = "nearest"
    exptime_tolerance: float = 0.5
    allow_other_nights: bool = True
    utc_offset_hours: float = 0.0

    def __post_init__(self) -> None:
        if self.dark_exptime_policy not in ("nearest", "exact", "ignore"):
            raise InvalidParameterError(
                f"dark_exptime_policy must be 'nearest', 'exact' or 'ignore', "
                f"not {self.dark_exptime_policy!r}"
            )
        for name in ("max_temp_diff", "exptime_tolerance", "validity_days"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise InvalidParameterError(f"{name} must be a finite number >= 0, not {value!r}")
        object.__setattr__(self, "temperature_kinds", tuple(self.temperature_kinds))

    def to_dict(self) -> dict[str, Any]:
        """The rules as a JSON-ready dict (stored with each usage record)."""
        out = dataclasses.asdict(self)
        out["temperature_kinds"] = list(self.temperature_kinds)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchRules:
        """Rebuild rules from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "temperature_kinds" in values:
            values["temperature_kinds"] = tuple(values["temperature_kinds"])
        return cls(**values)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MatchTarget:
    """The attributes of a science frame that matching looks at.

    Examples
    --------
    >>> t = MatchTarget.from_frame({"instrument": "ST-8", "xbin": 2, "ybin": 2,
    ...                             "filter": "R", "date_obs": "2025-06-24T03:00:00",
    ...                             "object": "M57"})
    >>> t.binning, t.date_obs.isoformat()
    ('2x2', '2025-06-24T03:00:00+00:00')
    """

    instrument: str | None
    xbin: int
    ybin: int
    date_obs: _dt.datetime
    readout_mode: str | None = None
    filter: str | None = None
    exptime: float | None = None
    ccd_temp: float | None = None
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "date_obs", to_utc(self.date_obs, what="science DATE-OBS"))
        if self.shape is not None:
            object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))

    @property
    def binning(self) -> str:
        """Binning as ``'XxY'``."""
        return f"{self.xbin}x{self.ybin}"

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> MatchTarget:
        """Take the matching attributes from a frame mapping (e.g. ``FrameInfo.to_dict()``)."""
        where = frame.get("path") or "the science frame"
        if frame.get("date_obs") is None:
            raise LibraryError(
                f"{where} has no observation time (DATE-OBS); matching by time needs it"
            )
        return cls(
            instrument=frame.get("instrument"),
            xbin=int(frame.get("xbin") or 1),
            ybin=int(frame.get("ybin") or 1),
            date_obs=frame["date_obs"],
            readout_mode=frame.get("readout_mode"),
            filter=frame.get("filter"),
            exptime=frame.get("exptime"),
            ccd_temp=frame.get("ccd_temp"),
            shape=frame.get("shape"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO strings)."""
        out = dataclasses.asdict(self)
        out["date_obs"] = self.date_obs.isoformat()
        out["shape"] = list(self.shape) if self.shape is not None else None
        return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class Candidate:
    """One master considered for a science frame, and the verdict.

    ``accepted`` means it meets every requirement; ``chosen`` that it won.
    ``reasons`` lists every failed requirement of a rejected master, or the
    one preference it lost on for an accepted master that was not chosen.
    ``notes`` are facts about using it (another night, exposure to scale,
    binning to apply).  ``bin_factor`` is ``(fx, fy)`` when the master is a
    finer flat to be binned by that factor, else ``None``.  ``dt_days`` is
    the time from the science frame to the master's midpoint (negative: the
    master is older).
    """

    master: MasterRecord
    accepted: bool
    chosen: bool = False
    reasons: tuple[Reason, ...] = ()
    notes: tuple[str, ...] = ()
    dt_days: float = 0.0
    bin_factor: tuple[int, int] | None = None
    same_night: bool = True

    def describe(self) -> str:
        """One line: the master, the verdict and the reasons."""
        if self.chosen:
            verdict = "chosen" + (f" ({'; '.join(self.notes)})" if self.notes else "")
        elif self.accepted:
            verdict = "not chosen: " + "; ".join(r.message for r in self.reasons)
        else:
            verdict = "rejected: " + "; ".join(r.message for r in self.reasons)
        return f"{self.master.label}: {verdict}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, as stored in ``calibrations_used.decisions``."""
        return {
            "master_id": self.master.id,
            "label": self.master.label,
            "path": self.master.path,
            "accepted": self.accepted,
            "chosen": self.chosen,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
            "notes": list(self.notes),
            "dt_days": self.dt_days,
            "bin_factor": list(self.bin_factor) if self.bin_factor else None,
            "summary": self.describe(),
        }


@dataclasses.dataclass(frozen=True, kw_only=True)
class MatchResult:
    """The outcome of matching one kind of master to one science frame.

    ``candidates`` lists every master of the kind: the chosen one first, then
    the other accepted ones in order of preference, then the rejected ones.
    """

    kind: str
    target: MatchTarget
    rules: MatchRules
    chosen: MasterRecord | None
    candidates: tuple[Candidate, ...]

    @property
    def note(self) -> str:
        """Provenance note for the chosen master (e.g. ``'from an earlier night ...'``)."""
        if self.chosen is None:
            return f"no {self.kind} master matches"
        notes = self.candidates[0].notes
        return "; ".join(notes) if notes else "same night"

    def require(self) -> MasterRecord:
        """The chosen master, or :class:`CalibrationNotFoundError` saying why none fits."""
        if self.chosen is not None:
            return self.chosen
        raise CalibrationNotFoundError(self.explain())

    def decisions(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The candidates as JSON-ready dicts, at most ``limit`` besides the chosen one.

        Candidates are in order of relevance (chosen, other accepted ones,
        rejected ones nearest in time first); those beyond ``limit`` are
        summarised in one last entry (``master_id`` None, reason code
        ``'omitted'``) counting them by their first reason.

        Examples
        --------
        >>> from ccdcal.library.records import MasterRecord
        >>> from ccdcal.library.matching import select_master
        >>> masters = [MasterRecord(id=i, kind="bias", path=f"b{i}", checksum=str(i), xbin=2,
        ...                         ybin=2, date_start=to_utc("2025-06-24"),
        ...                         date_end=to_utc("2025-06-24")) for i in range(5)]
        >>> target = MatchTarget(instrument=None, xbin=1, ybin=1, date_obs="2025-06-24")
        >>> [d["summary"] for d in select_master("bias", target, masters).decisions(limit=3)][-1]
        '2 more bias masters not listed: 2 different binning'
        """
        kept = list(self.candidates)
        if limit is not None:
            kept = kept[: limit + (1 if self.chosen is not None else 0)]
        out = [c.to_dict() for c in kept]
        rest = self.candidates[len(kept) :]
        if rest:
            out.append(_omitted_entry(self.kind, rest))
        return out

    def explain(self) -> str:
        """Several lines: the choice, then one line per candidate."""
        t = self.target
        head = (
            f"{self.kind} for science frame ({t.instrument or 'unknown instrument'}, "
            f"{t.binning}, filter {t.filter}, {format_exposure(t.exptime)}, "
            f"{format_temperature(t.ccd_temp)}, {t.date_obs.isoformat()}): "
        )
        if self.chosen is None:
            head += f"no {self.kind} master matches"
            if not self.candidates:
                head += f" (the library has no {self.kind} masters)"
        else:
            head += f"{self.chosen.label}, {self.note}"
        return "\n".join([head, *("  " + c.describe() for c in self.candidates)])


#: How a reason code reads in a count ("12 different binning").
_CODE_PHRASES = {
    "instrument": "different instrument",
    "binning": "different binning",
    "readout_mode": "different readout mode",
    "filter": "different filter",
    "shape": "different shape",
    "bad": "flagged bad",
    "superseded": "superseded",
    "validity": "outside the validity window",
    "other_night": "from another night",
    "temperature": "temperature too different",
    "exptime": "different exposure",
    "exptime_farther": "exposure farther",
    "derived_binning": "would need binning",
    "farther_in_time": "farther in time",
}


def _omitted_entry(kind: str, rest: Sequence[Candidate]) -> dict[str, Any]:
    counts = Counter(c.reasons[0].code if c.reasons else "other" for c in rest)
    text = ", ".join(f"{n} {_CODE_PHRASES.get(code, code)}" for code, n in counts.most_common())
    summary = f"{len(rest)} more {kind} masters not listed: {text}"
    return {
        "master_id": None,
        "label": f"{len(rest)} more {kind} masters",
        "path": None,
        "accepted": any(c.accepted for c in rest),
        "chosen": False,
        "reasons": [{"code": "omitted", "message": f"not listed: {text}"}],
        "notes": [],
        "dt_days": None,
        "bin_factor": None,
        "summary": summary,
    }


def format_exposure(value: float | None) -> str:
    """``'60 s'``, or ``'unknown exposure'``.

    >>> format_exposure(60.0), format_exposure(None)
    ('60 s', 'unknown exposure')
    """
    return "unknown exposure" if value is None else f"{value:g} s"


def format_temperature(value: float | None) -> str:
    """``'-10.0 °C'``, or ``'unknown temperature'``."""
    return "unknown temperature" if value is None else f"{value:.1f} °C"


def format_value(value: object) -> str:
    """A header value for a message: ``'R'`` quoted, ``None`` as ``none``.

    >>> format_value("R"), format_value(None)
    ("'R'", 'none')
    """
    return "none" if value is None else repr(value)
