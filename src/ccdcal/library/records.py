"""Plain, immutable records returned by the calibration library.

The database rows (:mod:`ccdcal.library.schema`) never leave a session; the
library hands out these frozen dataclasses instead, so callers can keep them,
compare them and pass them between processes without a database connection.

Examples
--------
>>> from ccdcal.library.times import to_utc
>>> m = MasterRecord(id=3, kind="flat", path="/out/flat-R.fits", checksum="ab12",
...                  instrument="ST-8", xbin=1, ybin=1, filter="R",
...                  date_start=to_utc("2025-06-24T01:00"), date_end=to_utc("2025-06-24T01:30"))
>>> m.label
'flat #3 (ST-8, 1x1, filter R)'
>>> m.date_mid.isoformat()
'2025-06-24T01:15:00+00:00'
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ccdcal.library.schema import CalibrationUseRow, FrameRow, MasterRow, RunRow

__all__ = [
    "KINDS",
    "FrameRecord",
    "MasterKind",
    "MasterRecord",
    "RunRecord",
    "UsageRecord",
]

#: The kinds of master calibration the library stores.
MasterKind = Literal["bias", "dark", "flat"]
KINDS: tuple[str, ...] = ("bias", "dark", "flat")


def _shape(value: Any) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(v) for v in value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MasterRecord:
    """A master calibration frame as stored in the library.

    ``exptime`` is the exposure of the master's inputs (darks), ``ccd_temp``
    their mean CCD temperature in °C, ``date_start``/``date_end`` the span of
    the inputs' DATE-OBS.  ``good_after``/``good_until`` bound the science
    times this master may calibrate (``None``: open).  ``derived_from`` names
    the master this one was computed from (e.g. a 2x2 flat binned from a 1x1
    flat) and ``superseded_by`` the row that replaced it when its file was
    rewritten with different content.
    """

    id: int
    kind: str
    path: str
    checksum: str
    instrument: str | None = None
    xbin: int = 1
    ybin: int = 1
    readout_mode: str | None = None
    filter: str | None = None
    exptime: float | None = None
    ccd_temp: float | None = None
    shape: tuple[int, ...] | None = None
    date_start: _dt.datetime
    date_end: _dt.datetime
    date_mid: _dt.datetime | None = None
    created: _dt.datetime | None = None
    n_inputs: int = 0
    quality: dict[str, Any] = dataclasses.field(default_factory=dict)
    is_bad: bool = False
    bad_reason: str | None = None
    flagged_at: _dt.datetime | None = None
    good_after: _dt.datetime | None = None
    good_until: _dt.datetime | None = None
    derived_from: int | None = None
    derivation_note: str | None = None
    superseded_by: int | None = None
    software_version: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    run_id: int | None = None

    def __post_init__(self) -> None:
        if self.date_mid is None:
            mid = self.date_start + (self.date_end - self.date_start) / 2
            object.__setattr__(self, "date_mid", mid)

    @property
    def binning(self) -> str:
        """Binning as ``'XxY'``, e.g. ``'2x2'``."""
        return f"{self.xbin}x{self.ybin}"

    @property
    def label(self) -> str:
        """Short human description, e.g. ``'dark #4 (ST-8, 1x1, 60 s, -10.0 °C)'``."""
        parts = [self.instrument or "unknown instrument", self.binning]
        if self.readout_mode:
            parts.append(f"readout {self.readout_mode}")
        if self.kind == "flat" and self.filter is not None:
            parts.append(f"filter {self.filter}")
        if self.kind == "dark" and self.exptime is not None:
            parts.append(f"{self.exptime:g} s")
        if self.kind == "dark" and self.ccd_temp is not None:
            parts.append(f"{self.ccd_temp:.1f} °C")
        return f"{self.kind} #{self.id} ({', '.join(parts)})"

    @classmethod
    def from_row(cls, row: MasterRow) -> MasterRecord:
        """Copy a database row into a record."""
        return cls(
            id=row.id,
            kind=row.kind,
            path=row.path,
            checksum=row.checksum,
            instrument=row.instrument,
            xbin=row.xbin,
            ybin=row.ybin,
            readout_mode=row.readout_mode,
            filter=row.filter,
            exptime=row.exptime,
            ccd_temp=row.ccd_temp,
            shape=_shape(row.shape),
            date_start=row.date_start,
            date_end=row.date_end,
            date_mid=row.date_mid,
            created=row.created,
            n_inputs=row.n_inputs,
            quality=dict(row.quality or {}),
            is_bad=bool(row.is_bad),
            bad_reason=row.bad_reason,
            flagged_at=row.flagged_at,
            good_after=row.good_after,
            good_until=row.good_until,
            derived_from=row.derived_from,
            derivation_note=row.derivation_note,
            superseded_by=row.superseded_by,
            software_version=row.software_version,
            params=dict(row.params or {}),
            run_id=row.run_id,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrameRecord:
    """A raw frame as stored in the library (the fields of ``FrameInfo``)."""

    id: int
    path: str
    hdu: int = 0
    checksum: str | None = None
    size: int | None = None
    mtime: _dt.datetime | None = None
    instrument: str | None = None
    frame_type: str | None = None
    raw_type: str | None = None
    exptime: float | None = None
    xbin: int | None = None
    ybin: int | None = None
    filter: str | None = None
    date_obs: _dt.datetime | None = None
    mjd: float | None = None
    ccd_temp: float | None = None
    set_temp: float | None = None
    readout_mode: str | None = None
    gain: float | None = None
    read_noise: float | None = None
    saturation: float | None = None
    shape: tuple[int, ...] | None = None
    object: str | None = None
    telescope: str | None = None
    camera: str | None = None
    status: str = "ok"
    problems: tuple[str, ...] = ()
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    added: _dt.datetime | None = None
    run_id: int | None = None

    @classmethod
    def from_row(cls, row: FrameRow) -> FrameRecord:
        """Copy a database row into a record."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values["shape"] = _shape(row.shape)
        values["problems"] = tuple(row.problems or ())
        values["extra"] = dict(row.extra or {})
        return cls(**values)


@dataclasses.dataclass(frozen=True, kw_only=True)
class UsageRecord:
    """Which master of one kind calibrated a science output, and why.

    ``decisions`` holds the match decision as it was when the frame was
    calibrated: one dict per candidate master with ``master_id``, ``label``,
    ``accepted``, ``chosen``, ``reasons`` (list of ``{"code", "message"}``)
    and ``notes``.  ``target`` holds the science frame's matching attributes
    and ``rules`` the :class:`~ccdcal.library.matching.MatchRules` used.
    """

    id: int
    science_path: str
    kind: str
    master_id: int | None
    master: MasterRecord | None = None
    science_checksum: str | None = None
    frame_id: int | None = None
    note: str | None = None
    recorded: _dt.datetime | None = None
    run_id: int | None = None
    target: dict[str, Any] = dataclasses.field(default_factory=dict)
    rules: dict[str, Any] = dataclasses.field(default_factory=dict)
    decisions: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_row(cls, row: CalibrationUseRow, master: MasterRecord | None) -> UsageRecord:
        """Copy a database row (and its master, if any) into a record."""
        return cls(
            id=row.id,
            science_path=row.science_path,
            kind=row.kind,
            master_id=row.master_id,
            master=master,
            science_checksum=row.science_checksum,
            frame_id=row.frame_id,
            note=row.note,
            recorded=row.recorded,
            run_id=row.run_id,
            target=dict(row.target or {}),
            rules=dict(row.rules or {}),
            decisions=tuple(row.decisions or ()),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One pipeline run that wrote to the library."""

    id: int
    started: _dt.datetime
    finished: _dt.datetime | None
    command: str
    status: str
    out_dir: str | None = None
    software_version: str | None = None
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_row(cls, row: RunRow) -> RunRecord:
        """Copy a database row into a record."""
        return cls(
            id=row.id,
            started=row.started,
            finished=row.finished,
            command=row.command,
            status=row.status,
            out_dir=row.out_dir,
            software_version=row.software_version,
            summary=dict(row.summary or {}),
        )
