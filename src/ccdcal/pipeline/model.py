"""The pieces of a plan: frames, masters to build, science frames to calibrate, problems.

Every class here is a frozen dataclass with ``to_dict()`` / ``from_dict()``,
so a :class:`~ccdcal.pipeline.plan.Plan` can be saved as JSON, read back and
inspected in a notebook.

Examples
--------
>>> f = FrameRef(path="/night/bias1.fits", frame_type="bias", xbin=2, ybin=2, shape=(10, 12))
>>> f.binning
'2x2'
>>> FrameRef.from_dict(f.to_dict()) == f
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ccdcal.pipeline.options import MasterKind

__all__ = [
    "FrameRef",
    "MasterSource",
    "MasterSpec",
    "Problem",
    "ProblemKind",
    "Rejection",
    "ScienceSpec",
    "Severity",
    "SkippedFrame",
]

#: Where a master comes from: built from tonight's frames, derived from a
#: finer-binned master of tonight, or taken from the calibration library.
MasterSource = Literal["tonight", "derived", "library"]

ProblemKind = Literal[
    "unreadable",
    "unclassified",
    "missing-keyword",
    "bad-shape",
    "mixed-binning",
    "missing-calibration",
    "rejected-frame",
    "library",
]
Severity = Literal["error", "warning", "info"]


def _tuple_fields(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    for name in names:
        if data.get(name) is not None:
            data[name] = tuple(data[name])
    return data


@dataclass(frozen=True)
class FrameRef:
    """What the planner knows about one raw frame (read from its header).

    Built from a :class:`ccdcal.collection.FrameInfo` by :meth:`from_info`;
    ``None`` means the header (and instrument profile) did not say.
    """

    path: str
    hdu: int = 0
    frame_type: str | None = None
    raw_type: str | None = None
    instrument: str | None = None
    exptime: float | None = None
    xbin: int = 1
    ybin: int = 1
    filter: str | None = None
    date_obs: str | None = None
    mjd: float | None = None
    ccd_temp: float | None = None
    set_temp: float | None = None
    readout_mode: str | None = None
    gain: float | None = None
    read_noise: float | None = None
    saturation: float | None = None
    shape: tuple[int, int] | None = None
    overscan: str | None = None
    trim: str | None = None
    object: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def binning(self) -> str:
        """Binning as text, ``'<xbin>x<ybin>'``."""
        return f"{self.xbin}x{self.ybin}"

    @property
    def name(self) -> str:
        """The file name (without folders)."""
        return Path(self.path).name

    @property
    def temperature(self) -> float | None:
        """The temperature that groups darks: the set-point if known, else the CCD temperature."""
        return self.set_temp if self.set_temp is not None else self.ccd_temp

    @classmethod
    def from_info(cls, info: Any) -> FrameRef:
        """Take the fields the planner needs from a ``FrameInfo`` (or any object like it)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if hasattr(info, f.name):
                values[f.name] = getattr(info, f.name)
        values["path"] = str(values.get("path", ""))
        values["xbin"] = int(values.get("xbin") or 1)
        values["ybin"] = int(values.get("ybin") or 1)
        values["hdu"] = int(values.get("hdu") or 0)
        shape = values.get("shape")
        values["shape"] = tuple(int(s) for s in shape) if shape else None
        values["problems"] = tuple(values.get("problems") or ())
        for name in ("exptime", "mjd", "ccd_temp", "set_temp", "gain", "read_noise", "saturation"):
            if values.get(name) is not None:
                values[name] = float(values[name])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape) if self.shape else None
        d["problems"] = list(self.problems)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FrameRef:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**_tuple_fields(dict(data), ("shape", "problems")))


@dataclass(frozen=True)
class Rejection:
    """A frame left out of a master, and why.

    >>> Rejection("/n/flat3.fits", "saturated: median 61234 ADU > 0.8 x 65535").reason[:9]
    'saturated'
    """

    path: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class Problem:
    """Something the planner or a task noticed: an unreadable file, a missing master...

    >>> Problem("unclassified", "IMAGETYP 'Focus' is not a known type", path="/n/f.fits").severity
    'warning'
    """

    kind: ProblemKind
    message: str
    path: str | None = None
    severity: Severity = "warning"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**dict(data))


@dataclass(frozen=True)
class MasterSpec:
    """One master calibration frame: what it is, where it goes and what it is made from.

    Attributes
    ----------
    key : str
        Unique name within the plan (also the output file stem for masters
        built tonight), e.g. ``'bias_2x2'``, ``'dark_2x2_60s'``, ``'flat_1x1_R'``.
    kind : {'bias', 'dark', 'flat'}
    source : {'tonight', 'derived', 'library'}
    output : str
        Path of the master: relative to the output directory for masters
        built tonight or derived, absolute for library masters.
    inputs : tuple of str
        Raw frames combined (tonight) -- empty for derived and library masters.
    rejected : tuple of Rejection
        Raw frames of the group left out by the planner, with the reason.
    bias, dark : str or None
        Keys of the masters subtracted from each input before combining.
    derived_from : str or None
        Key of the finer-binned flat a derived flat is made from.
    exptime : float or None
        Exposure time (s) of a dark master (mean of its inputs).
    temperature : float or None
        CCD temperature (deg C) of a dark master (mean of its inputs).
    """

    key: str
    kind: MasterKind
    source: MasterSource
    output: str
    instrument: str | None = None
    xbin: int = 1
    ybin: int = 1
    readout_mode: str | None = None
    filter: str | None = None
    exptime: float | None = None
    temperature: float | None = None
    shape: tuple[int, int] | None = None
    inputs: tuple[str, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    bias: str | None = None
    dark: str | None = None
    derived_from: str | None = None
    date_start: str | None = None
    date_end: str | None = None
    library_id: str | None = None
    checksum: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def binning(self) -> str:
        """Binning as text, ``'<xbin>x<ybin>'``."""
        return f"{self.xbin}x{self.ybin}"

    def describe(self) -> str:
        """One line for humans.

        >>> MasterSpec("bias_1x1", "bias", "tonight", "masters/bias_1x1.fits",
        ...            inputs=("a", "b")).describe()
        'bias_1x1: bias 1x1 from 2 frames -> masters/bias_1x1.fits'
        """
        what = [self.kind, self.binning]
        if self.readout_mode:
            what.append(f"mode {self.readout_mode}")
        if self.filter is not None and self.kind == "flat":
            what.append(f"filter {self.filter}")
        if self.exptime is not None and self.kind == "dark":
            what.append(f"{self.exptime:g} s")
        if self.temperature is not None and self.kind == "dark":
            what.append(f"{self.temperature:.1f} C")
        if self.source == "tonight":
            origin = f"from {len(self.inputs)} frames"
        elif self.source == "derived":
            origin = f"derived from {self.derived_from}"
        else:
            origin = "from the calibration library"
        return f"{self.key}: {' '.join(what)} {origin} -> {self.output}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape) if self.shape else None
        d["inputs"] = list(self.inputs)
        d["rejected"] = [r.to_dict() for r in self.rejected]
        d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MasterSpec:
        """Rebuild from :meth:`to_dict` output."""
        d = _tuple_fields(dict(data), ("shape", "inputs", "notes"))
        d["rejected"] = tuple(Rejection(**r) for r in d.get("rejected") or ())
        return cls(**d)


@dataclass(frozen=True)
class ScienceSpec:
    """One science frame to calibrate and the masters it will be calibrated with.

    ``bias``, ``dark`` and ``flat`` are master keys of the plan, or ``None``
    when that calibration is missing and allowed to be (``missing`` lists
    those kinds). ``notes`` say why each master was chosen; ``choices``
    holds, per kind, the chosen key, why, and every refused candidate with a
    ``[code, message]`` reason (what ``ccdcal explain`` shows).
    """

    frame: FrameRef
    output: str
    bias: str | None = None
    dark: str | None = None
    flat: str | None = None
    missing: tuple[MasterKind, ...] = ()
    notes: tuple[str, ...] = ()
    choices: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The raw file."""
        return self.frame.path

    def masters(self) -> dict[str, str]:
        """``{kind: master key}`` for the masters used."""
        pairs = (("bias", self.bias), ("dark", self.dark), ("flat", self.flat))
        return {kind: key for kind, key in pairs if key is not None}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "frame": self.frame.to_dict(),
            "output": self.output,
            "bias": self.bias,
            "dark": self.dark,
            "flat": self.flat,
            "missing": list(self.missing),
            "notes": list(self.notes),
            "choices": {k: dict(v) for k, v in self.choices.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScienceSpec:
        """Rebuild from :meth:`to_dict` output."""
        d = _tuple_fields(dict(data), ("missing", "notes"))
        d["frame"] = FrameRef.from_dict(d["frame"])
        return cls(**d)


@dataclass(frozen=True)
class SkippedFrame:
    """A science frame that will not be calibrated, and why."""

    path: str
    reason: str
    missing: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"path": self.path, "reason": self.reason, "missing": list(self.missing)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SkippedFrame:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**_tuple_fields(dict(data), ("missing",)))
