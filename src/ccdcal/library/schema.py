"""The tables of the calibration library (SQLAlchemy 2.0 declarative models).

Tables
------
``ccdcal_schema``
    One row: the schema version of this database, the ccdcal that made it,
    and a counter of changes to the masters (to keep cached lists current).
``runs``
    One row per pipeline run writing to the library (command, start, end, status).
``frames``
    Raw frames that were read: file identity (path, HDU, checksum, size,
    mtime) and the header facts matching depends on.  Unique on (path, hdu).
``masters``
    Master calibrations: kind, file and checksum, the matching attributes,
    the time span of the inputs, quality statistics, the *bad* flag and the
    validity window.  Unique on (path, checksum): registering the same file
    twice gives one row; a file rewritten with new content gets a new row and
    the old row is marked ``superseded_by``.
``master_inputs``
    Which frames were combined into which master.
``calibrations_used``
    Which master of each kind calibrated which science output, with the note
    (e.g. "from an earlier night") and the full match decision (every
    candidate and why it was or was not chosen), so ``ccdcal explain`` can be
    answered later from the database alone.  Unique on (science_path, kind):
    reprocessing a science frame replaces its links.

Schema upgrades
---------------
:data:`SCHEMA_VERSION` is stored in ``ccdcal_schema``.  Opening a database
made by an older ccdcal runs the functions of :data:`UPGRADES` in order
(``UPGRADES[v]`` migrates version ``v`` to ``v + 1`` inside the same locked
transaction that creates missing tables); a database from a newer ccdcal is
refused with a clear error rather than written with a schema it does not
know.  Alembic is not needed for this linear history; it can take over later
by stamping the current version.

Examples
--------
>>> sorted(Base.metadata.tables)  # doctest: +NORMALIZE_WHITESPACE
['calibrations_used', 'ccdcal_schema', 'frames', 'master_inputs', 'masters', 'runs']
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ccdcal.library.times import UTCDateTime

__all__ = [
    "SCHEMA_VERSION",
    "UPGRADES",
    "Base",
    "CalibrationUseRow",
    "FrameRow",
    "MasterInputRow",
    "MasterRow",
    "RunRow",
    "SchemaRow",
]

#: Version of the table layout written by this ccdcal.
SCHEMA_VERSION = 1

#: ``UPGRADES[v](connection)`` migrates a version-``v`` database to ``v + 1``.
UPGRADES: dict[int, Callable[[Connection], None]] = {}

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_PATH = String(1024)
_NAME = String(200)


class Base(DeclarativeBase):
    """Declarative base of the library's tables."""

    metadata = MetaData(naming_convention=_NAMING)


class SchemaRow(Base):
    """The single row recording the schema version.

    ``masters_generation`` grows by one with every change to the masters
    table, so a reader can tell cheaply whether its cached list is current.
    """

    __tablename__ = "ccdcal_schema"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    created: Mapped[_dt.datetime] = mapped_column(UTCDateTime)
    software_version: Mapped[str] = mapped_column(String(50))
    masters_generation: Mapped[int] = mapped_column(Integer, default=0)


class RunRow(Base):
    """One pipeline run writing to the library."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started: Mapped[_dt.datetime] = mapped_column(UTCDateTime)
    finished: Mapped[_dt.datetime | None] = mapped_column(UTCDateTime)
    command: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    out_dir: Mapped[str | None] = mapped_column(_PATH)
    software_version: Mapped[str] = mapped_column(String(50))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class FrameRow(Base):
    """A raw frame read by a run."""

    __tablename__ = "frames"
    __table_args__ = (
        UniqueConstraint("path", "hdu"),
        Index(None, "frame_type", "date_obs"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(_PATH)
    hdu: Mapped[int] = mapped_column(Integer, default=0)
    checksum: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[_dt.datetime | None] = mapped_column(UTCDateTime)
    instrument: Mapped[str | None] = mapped_column(_NAME)
    frame_type: Mapped[str | None] = mapped_column(String(20))
    raw_type: Mapped[str | None] = mapped_column(_NAME)
    exptime: Mapped[float | None] = mapped_column(Float)
    xbin: Mapped[int | None] = mapped_column(Integer)
    ybin: Mapped[int | None] = mapped_column(Integer)
    filter: Mapped[str | None] = mapped_column(_NAME)
    date_obs: Mapped[_dt.datetime | None] = mapped_column(UTCDateTime)
    mjd: Mapped[float | None] = mapped_column(Float)
    ccd_temp: Mapped[float | None] = mapped_column(Float)
    set_temp: Mapped[float | None] = mapped_column(Float)
    readout_mode: Mapped[str | None] = mapped_column(_NAME)
    gain: Mapped[float | None] = mapped_column(Float)
    read_noise: Mapped[float | None] = mapped_column(Float)
    saturation: Mapped[float | None] = mapped_column(Float)
    shape: Mapped[list[int] | None] = mapped_column(JSON)
    object: Mapped[str | None] = mapped_column(_NAME)
    telescope: Mapped[str | None] = mapped_column(_NAME)
    camera: Mapped[str | None] = mapped_column(_NAME)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    problems: Mapped[list[str] | None] = mapped_column(JSON)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    added: Mapped[_dt.datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class MasterRow(Base):
    """A master calibration frame."""

    __tablename__ = "masters"
    __table_args__ = (
        UniqueConstraint("path", "checksum"),
        Index(None, "kind", "instrument", "xbin", "ybin"),
        Index(None, "checksum"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(_PATH)
    checksum: Mapped[str] = mapped_column(String(128))
    instrument: Mapped[str | None] = mapped_column(_NAME)
    xbin: Mapped[int] = mapped_column(Integer)
    ybin: Mapped[int] = mapped_column(Integer)
    readout_mode: Mapped[str | None] = mapped_column(_NAME)
    filter: Mapped[str | None] = mapped_column(_NAME)
    exptime: Mapped[float | None] = mapped_column(Float)
    ccd_temp: Mapped[float | None] = mapped_column(Float)
    shape: Mapped[list[int] | None] = mapped_column(JSON)
    date_start: Mapped[_dt.datetime] = mapped_column(UTCDateTime)
    date_end: Mapped[_dt.datetime] = mapped_column(UTCDateTime)
    date_mid: Mapped[_dt.datetime] = mapped_column(UTCDateTime)
    created: Mapped[_dt.datetime] = mapped_column(UTCDateTime)
    n_inputs: Mapped[int] = mapped_column(Integer, default=0)
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    is_bad: Mapped[bool] = mapped_column(Boolean, default=False)
    bad_reason: Mapped[str | None] = mapped_column(Text)
    flagged_at: Mapped[_dt.datetime | None] = mapped_column(UTCDateTime)
    good_after: Mapped[_dt.datetime | None] = mapped_column(UTCDateTime)
    good_until: Mapped[_dt.datetime | None] = mapped_column(UTCDateTime)
    derived_from: Mapped[int | None] = mapped_column(ForeignKey("masters.id"))
    derivation_note: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("masters.id"))
    software_version: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class MasterInputRow(Base):
    """Link: a frame combined into a master."""

    __tablename__ = "master_inputs"

    master_id: Mapped[int] = mapped_column(ForeignKey("masters.id"), primary_key=True)
    frame_id: Mapped[int] = mapped_column(ForeignKey("frames.id"), primary_key=True, index=True)


class CalibrationUseRow(Base):
    """Link: the master of one kind that calibrated a science output."""

    __tablename__ = "calibrations_used"
    __table_args__ = (UniqueConstraint("science_path", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    science_path: Mapped[str] = mapped_column(_PATH)
    science_checksum: Mapped[str | None] = mapped_column(String(128))
    frame_id: Mapped[int | None] = mapped_column(ForeignKey("frames.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    master_id: Mapped[int | None] = mapped_column(ForeignKey("masters.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    recorded: Mapped[_dt.datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    target: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decisions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
