"""Row-level reads and writes of the calibration library, inside one session.

These functions do the work of :class:`~ccdcal.library.CalibrationLibrary`'s
methods within a transaction the caller opened.  Every write looks for the
existing row before inserting, so that a transaction retried after losing a
race to another process (see :func:`ccdcal.library.engine.run_transaction`)
finds that process's row instead of inserting a duplicate.

Examples
--------
>>> from sqlalchemy.orm import Session
>>> from ccdcal.library.engine import ensure_schema, make_engine
>>> engine = make_engine("sqlite://")
>>> _ = ensure_schema(engine)
>>> with Session(engine) as session, session.begin():
...     first = upsert_frame(session, {"path": "/raw/b1.fits", "frame_type": "bias"}, None)
...     again = upsert_frame(session, {"path": "/raw/b1.fits", "exptime": 0.0}, None)
...     (first.id == again.id, again.frame_type, again.exptime)
(True, 'bias', 0.0)
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.orm import Session

from ccdcal.errors import LibraryError
from ccdcal.library.frames import frame_values, normalize_path
from ccdcal.library.records import FrameRecord, MasterRecord, UsageRecord
from ccdcal.library.schema import (
    CalibrationUseRow,
    FrameRow,
    MasterInputRow,
    MasterRow,
    RunRow,
    SchemaRow,
)
from ccdcal.library.times import now_utc, to_utc

__all__ = [
    "FrameRef",
    "TimeLike",
    "bump_masters_generation",
    "count_rows",
    "frame_record",
    "input_frames",
    "insert_master",
    "integrity_problems",
    "load_usage",
    "master_row",
    "masters_generation",
    "upsert_frame",
    "upsert_usage",
    "usage_query",
]

log = logging.getLogger(__name__)

#: How an input frame may be named: its id, the path of a stored frame, or its fields.
FrameRef = int | str | os.PathLike[str] | Mapping[str, Any]
TimeLike = _dt.datetime | _dt.date | str


def bump_masters_generation(session: Session) -> None:
    """Note that the masters changed (call last in the transaction: it locks one row)."""
    session.execute(
        update(SchemaRow)
        .where(SchemaRow.id == 1)
        .values(masters_generation=SchemaRow.masters_generation + 1)
    )


def masters_generation(session: Session) -> int:
    """The current value of the masters' change counter."""
    return int(session.scalar(select(SchemaRow.masters_generation).where(SchemaRow.id == 1)) or 0)


def master_row(session: Session, master_id: int) -> MasterRow:
    """The master row with this id, or a :class:`LibraryError` that says how to find ids."""
    row = session.get(MasterRow, int(master_id))
    if row is None:
        raise LibraryError(
            f"no master #{master_id} in the calibration library; "
            "`ccdcal library list` shows the ids"
        )
    return row


def upsert_frame(session: Session, frame: Mapping[str, Any], run_id: int | None) -> FrameRow:
    """Insert the frame, or update the stored one with the same (path, hdu)."""
    columns, extra = frame_values(frame)
    hdu = columns.setdefault("hdu", 0)
    row = session.scalars(
        select(FrameRow).where(FrameRow.path == columns["path"], FrameRow.hdu == hdu)
    ).one_or_none()
    if row is None:
        row = FrameRow(**{"status": "ok", **columns}, added=now_utc(), run_id=run_id)
        row.extra = extra or None
        session.add(row)
    else:
        for name, value in columns.items():
            setattr(row, name, value)
        if extra:
            row.extra = {**(row.extra or {}), **extra}
        if run_id is not None:
            row.run_id = run_id
    session.flush()
    return row


def _stored_frame(session: Session, ref: int | str | os.PathLike[str]) -> FrameRow:
    if isinstance(ref, int):
        row = session.get(FrameRow, ref)
    else:
        query = select(FrameRow).where(FrameRow.path == normalize_path(ref))
        row = session.scalars(query.order_by(FrameRow.hdu)).first()
    if row is None:
        raise LibraryError(
            f"input frame {ref!r} is not in the calibration library; add it with "
            "add_frame first or pass its fields as a mapping"
        )
    return row


def input_frames(session: Session, refs: Iterable[FrameRef], run_id: int | None) -> list[FrameRow]:
    """The rows of a master's input frames (stored on the way when given as mappings).

    Mappings are written in path order, so that two processes storing the
    same frames take their row locks in the same order and cannot deadlock.
    """
    refs = list(refs)
    mappings = sorted(
        (r for r in refs if isinstance(r, Mapping)),
        key=lambda m: (normalize_path(m["path"]), int(m.get("hdu") or 0)),
    )
    rows = [upsert_frame(session, m, run_id) for m in mappings]
    rows += [_stored_frame(session, r) for r in refs if not isinstance(r, Mapping)]
    unique = {row.id: row for row in rows}
    return [unique[i] for i in sorted(unique)]


def _span(
    frames: Sequence[FrameRow], start: TimeLike | None, end: TimeLike | None, path: str
) -> tuple[_dt.datetime, _dt.datetime]:
    dates = [f.date_obs for f in frames if f.date_obs is not None]
    first = to_utc(start, what="date_start") if start is not None else min(dates, default=None)
    last = to_utc(end, what="date_end") if end is not None else max(dates, default=None)
    if first is None or last is None:
        raise LibraryError(
            f"master {path}: give date_start and date_end, or input frames with DATE-OBS"
        )
    if last < first:
        raise LibraryError(f"master {path}: date_end {last} is before date_start {first}")
    return first, last


def insert_master(
    session: Session,
    attrs: Mapping[str, Any],
    *,
    inputs: Iterable[FrameRef],
    n_inputs: int | None,
    date_start: TimeLike | None,
    date_end: TimeLike | None,
    validity: tuple[float | None, TimeLike | None, TimeLike | None],
) -> MasterRecord:
    """Store a master (or find the identical one); mark an older version of its file superseded.

    ``attrs`` holds the column values; ``validity`` is ``(days, good_after,
    good_until)``: explicit ends win, else the input span widened by ``days``
    (``None``: open).
    """
    path, checksum = attrs["path"], attrs["checksum"]
    existing = session.scalars(
        select(MasterRow).where(MasterRow.path == path, MasterRow.checksum == checksum)
    ).one_or_none()
    if existing is not None:
        return MasterRecord.from_row(existing)
    if attrs.get("derived_from") is not None:
        master_row(session, attrs["derived_from"])
    frames = input_frames(session, inputs, attrs.get("run_id"))
    start, end = _span(frames, date_start, date_end, path)
    days, after, until = validity
    pad = None if days is None else _dt.timedelta(days=float(days))
    row = MasterRow(
        **attrs,
        date_start=start,
        date_end=end,
        date_mid=start + (end - start) / 2,
        created=now_utc(),
        n_inputs=len(frames) if frames else int(n_inputs or 0),
        is_bad=False,
        good_after=to_utc(after) if after is not None else (None if pad is None else start - pad),
        good_until=to_utc(until) if until is not None else (None if pad is None else end + pad),
    )
    session.add(row)
    session.flush()
    session.add_all(MasterInputRow(master_id=row.id, frame_id=f.id) for f in frames)
    older = select(MasterRow).where(
        MasterRow.path == path, MasterRow.id != row.id, MasterRow.superseded_by.is_(None)
    )
    for old in session.scalars(older):
        old.superseded_by = row.id
        log.info("master #%d (%s) superseded by #%d: file rewritten", old.id, path, row.id)
    session.flush()
    bump_masters_generation(session)
    return MasterRecord.from_row(row)


def upsert_usage(
    session: Session,
    science_path: str,
    kind: str,
    values: Mapping[str, Any],
    frame: int | Mapping[str, Any] | None,
) -> UsageRecord:
    """Insert or replace the link (science file, kind) -> master."""
    master = master_row(session, values["master_id"]) if values["master_id"] is not None else None
    values = dict(values)
    if isinstance(frame, Mapping):
        values["frame_id"] = upsert_frame(session, frame, values.get("run_id")).id
    elif frame is not None:
        if session.get(FrameRow, int(frame)) is None:
            raise LibraryError(f"no frame #{frame} in the calibration library")
        values["frame_id"] = int(frame)
    row = session.scalars(
        select(CalibrationUseRow).where(
            CalibrationUseRow.science_path == science_path, CalibrationUseRow.kind == kind
        )
    ).one_or_none()
    if row is None:
        row = CalibrationUseRow(science_path=science_path, kind=kind, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    return UsageRecord.from_row(row, MasterRecord.from_row(master) if master else None)


def usage_query(*, science_path: str | None = None, master_id: int | None = None) -> Select[Any]:
    """Usage links of a science file (output or raw input path) or of a master."""
    query = select(CalibrationUseRow)
    if science_path is not None:
        raw_ids = select(FrameRow.id).where(FrameRow.path == science_path)
        query = query.where(
            or_(
                CalibrationUseRow.science_path == science_path,
                CalibrationUseRow.frame_id.in_(raw_ids),
            )
        )
    if master_id is not None:
        query = query.where(CalibrationUseRow.master_id == int(master_id))
    return query


def load_usage(session: Session, query: Select[Any]) -> list[UsageRecord]:
    """Run a usage query and attach each link's master."""
    out = []
    for row in session.scalars(query):
        master = session.get(MasterRow, row.master_id) if row.master_id is not None else None
        out.append(UsageRecord.from_row(row, MasterRecord.from_row(master) if master else None))
    return out


def count_rows(session: Session) -> dict[str, int]:
    """Number of rows in each table."""
    tables = {
        "runs": RunRow,
        "frames": FrameRow,
        "masters": MasterRow,
        "master_inputs": MasterInputRow,
        "calibrations_used": CalibrationUseRow,
    }
    return {
        name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for name, table in tables.items()
    }


def integrity_problems(session: Session) -> list[str]:
    """SQLite's own checks where available, then link and count checks on every backend."""
    problems: list[str] = []
    if session.get_bind().dialect.name == "sqlite":
        result = [r[0] for r in session.execute(text("PRAGMA integrity_check"))]
        if result != ["ok"]:
            problems += [f"sqlite integrity_check: {r}" for r in result]
        problems += [
            f"sqlite foreign_key_check: {tuple(r)}"
            for r in session.execute(text("PRAGMA foreign_key_check"))
        ]
    linked = (
        select(MasterInputRow.master_id, func.count().label("n"))
        .group_by(MasterInputRow.master_id)
        .subquery()
    )
    mismatched = session.execute(
        select(MasterRow.id, MasterRow.n_inputs, linked.c.n)
        .join(linked, linked.c.master_id == MasterRow.id)
        .where(linked.c.n != MasterRow.n_inputs)
    )
    problems += [f"master #{i}: n_inputs {n} but {k} input links" for i, n, k in mismatched]
    dangling = session.scalars(
        select(CalibrationUseRow.id).where(
            CalibrationUseRow.master_id.is_not(None),
            CalibrationUseRow.master_id.not_in(select(MasterRow.id)),
        )
    )
    problems += [f"usage #{i} points to a missing master" for i in dangling]
    duplicates = session.execute(
        select(MasterRow.path, MasterRow.checksum, func.count())
        .group_by(MasterRow.path, MasterRow.checksum)
        .having(func.count() > 1)
    )
    problems += [f"master {p} ({c}) stored {n} times" for p, c, n in duplicates]
    return problems


def frame_record(session: Session, frame_id: int) -> FrameRecord:
    """The frame with this id as a record."""
    row = session.get(FrameRow, int(frame_id))
    if row is None:
        raise LibraryError(f"no frame #{frame_id} in the calibration library")
    return FrameRecord.from_row(row)
