"""The calibration library: a database of frames, masters and their use.

:class:`CalibrationLibrary` opens (or creates) the database, records the raw
frames a run read, the masters it made (with their inputs, quality and
validity window) and which masters calibrated which science frame, and
matches masters to science frames with :mod:`ccdcal.library.matching`.

Every write is one short transaction, retried when it loses a race with
another run writing into the same library (see :mod:`ccdcal.library.engine`),
and every write is idempotent: registering the same master or frame twice
gives one row.

Examples
--------
>>> lib = CalibrationLibrary("sqlite://")          # in memory
>>> bias = lib.add_master("bias", "/out/bias.fits", checksum="c1", instrument="ST-8",
...                       xbin=1, ybin=1, date_start="2025-06-24T00:10",
...                       date_end="2025-06-24T00:20")
>>> lib.add_master("bias", "/out/bias.fits", checksum="c1", instrument="ST-8",
...                xbin=1, ybin=1, date_start="2025-06-24T00:10",
...                date_end="2025-06-24T00:20").id == bias.id
True
>>> result = lib.match("bias", instrument="ST-8", xbin=1, ybin=1,
...                    date_obs="2025-06-24T03:00")
>>> result.chosen.id == bias.id, result.note
(True, 'same night')
>>> lib.close()
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ccdcal.errors import InvalidParameterError, LibraryError
from ccdcal.library import store
from ccdcal.library.decisions import MatchResult, MatchRules, MatchTarget
from ccdcal.library.engine import (
    DEFAULT_FILENAME,
    WRITE_OPTION,
    ensure_schema,
    make_engine,
    redact,
    resolve_url,
    run_transaction,
)
from ccdcal.library.frames import file_checksum, jsonable, normalize_path
from ccdcal.library.matching import select_master
from ccdcal.library.records import KINDS, FrameRecord, MasterRecord, RunRecord, UsageRecord
from ccdcal.library.schema import FrameRow, MasterInputRow, MasterRow, RunRow
from ccdcal.library.store import FrameRef, TimeLike
from ccdcal.library.times import now_utc, to_utc

__all__ = ["DEFAULT_VALIDITY_DAYS", "CalibrationLibrary"]

log = logging.getLogger(__name__)

#: Default half-width (days) of a new master's validity window around its inputs.
DEFAULT_VALIDITY_DAYS: dict[str, float] = {"bias": 90.0, "dark": 90.0, "flat": 14.0}

_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
T = TypeVar("T")


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidParameterError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


def _software_version() -> str:
    from ccdcal import __version__

    return __version__


class CalibrationLibrary:
    """A calibration library database (SQLite file or any SQLAlchemy URL).

    Parameters
    ----------
    url_or_path : str or Path
        A SQLAlchemy URL (``postgresql+psycopg2://user@host/db``,
        ``sqlite:///path``, ``sqlite://`` for memory) or the path of a SQLite
        file.
    create : bool, optional
        Create a missing SQLite file (default).  With ``False`` a missing
        file is a :class:`~ccdcal.errors.LibraryError`.

    Examples
    --------
    >>> with CalibrationLibrary("sqlite://") as lib:
    ...     lib.list_masters()
    []
    """

    def __init__(self, url_or_path: str | Path, *, create: bool = True) -> None:
        self.url = resolve_url(url_or_path)
        self._engine: Engine = make_engine(self.url, create=create)
        self._writer: Engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self.schema_version = ensure_schema(self._engine)
        self._candidates: dict[str, tuple[int, list[MasterRecord]]] = {}

    @classmethod
    def for_output_dir(cls, out_dir: str | Path, *, create: bool = True) -> CalibrationLibrary:
        """The default library of an output directory: ``OUT_DIR/calibration-library.sqlite``."""
        return cls(Path(out_dir) / DEFAULT_FILENAME, create=create)

    @classmethod
    def open(
        cls, db: str | None = None, out_dir: str | Path | None = None, *, create: bool = True
    ) -> CalibrationLibrary:
        """The library named by ``--db`` if given, else the default one of ``out_dir``."""
        if db:
            return cls(db, create=create)
        if out_dir is None:
            raise LibraryError(
                "no calibration library given: name an output directory or a database URL (--db)"
            )
        return cls.for_output_dir(out_dir, create=create)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> CalibrationLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CalibrationLibrary({redact(self.url)!r})"

    @property
    def location(self) -> str:
        """Where the library is, for people: the SQLite file, or the URL without password."""
        database = make_url(self.url).database
        if self.dialect == "sqlite":
            return database or ":memory:"
        return redact(self.url)

    @property
    def dialect(self) -> str:
        """The database backend: ``'sqlite'``, ``'postgresql'``..."""
        return self._engine.dialect.name

    def _read(self, work: Callable[[Session], T]) -> T:
        with Session(self._engine) as session, session.begin():
            return work(session)

    def _write(self, work: Callable[[Session], T]) -> T:
        return run_transaction(self._writer, work)

    # ----------------------------------------------------------------- runs
    def start_run(self, command: str, *, out_dir: str | Path | None = None) -> int:
        """Record the start of a run; returns its id (pass it on as ``run_id=``)."""

        def work(session: Session) -> int:
            row = RunRow(
                started=now_utc(),
                command=command,
                status="running",
                out_dir=normalize_path(out_dir) if out_dir is not None else None,
                software_version=_software_version(),
            )
            session.add(row)
            session.flush()
            return row.id

        return self._write(work)

    def finish_run(
        self, run_id: int, *, status: str = "ok", summary: Mapping[str, Any] | None = None
    ) -> RunRecord:
        """Record the end of a run (``status`` e.g. ``'ok'``, ``'partial'``, ``'failed'``)."""

        def work(session: Session) -> RunRecord:
            row = session.get(RunRow, int(run_id))
            if row is None:
                raise LibraryError(f"no run #{run_id} in the calibration library")
            row.finished = now_utc()
            row.status = status
            if summary is not None:
                row.summary = jsonable(dict(summary))
            return RunRecord.from_row(row)

        return self._write(work)

    def list_runs(self) -> list[RunRecord]:
        """Every run, oldest first."""
        query = select(RunRow).order_by(RunRow.id)
        return self._read(lambda s: [RunRecord.from_row(r) for r in s.scalars(query)])

    # --------------------------------------------------------------- frames
    def add_frame(
        self,
        frame: Mapping[str, Any] | None = None,
        /,
        *,
        run_id: int | None = None,
        **fields: Any,
    ) -> FrameRecord:
        """Record a raw frame (or update its record); returns the stored record.

        Parameters
        ----------
        frame : mapping, optional
            The frame's fields, e.g. ``FrameInfo.to_dict()``: ``path`` (required),
            ``hdu``, ``frame_type``, ``instrument``, ``exptime``, ``xbin``,
            ``ybin``, ``filter``, ``date_obs``, ``ccd_temp``, ``readout_mode``,
            ``shape``, ``problems``...  Unknown fields are kept in ``extra``.
        run_id : int, optional
            The run that read the frame.
        **fields
            Fields given as keywords (added to / overriding ``frame``).

        Examples
        --------
        >>> lib = CalibrationLibrary("sqlite://")
        >>> rec = lib.add_frame({"path": "/raw/d1.fits", "frame_type": "dark",
        ...                      "exptime": 60, "date_obs": "2025-06-24T02:00:00Z"})
        >>> rec.frame_type, rec.exptime, rec.date_obs.isoformat()
        ('dark', 60.0, '2025-06-24T02:00:00+00:00')
        """
        merged = {**(frame or {}), **fields}
        return self._write(lambda s: FrameRecord.from_row(store.upsert_frame(s, merged, run_id)))

    def get_frame(self, frame_id: int) -> FrameRecord:
        """The frame with this id (:class:`~ccdcal.errors.LibraryError` if there is none)."""
        return self._read(lambda s: store.frame_record(s, frame_id))

    def find_frame(self, path: str | os.PathLike[str], *, hdu: int = 0) -> FrameRecord | None:
        """The frame stored for ``path`` (and HDU), or ``None``."""
        query = select(FrameRow).where(FrameRow.path == normalize_path(path), FrameRow.hdu == hdu)
        return self._read(lambda s: next((FrameRecord.from_row(r) for r in s.scalars(query)), None))

    # -------------------------------------------------------------- masters
    def add_master(
        self,
        kind: str,
        path: str | os.PathLike[str],
        *,
        instrument: str | None,
        xbin: int,
        ybin: int,
        checksum: str | None = None,
        readout_mode: str | None = None,
        filter: str | None = None,
        exptime: float | None = None,
        ccd_temp: float | None = None,
        shape: Sequence[int] | None = None,
        date_start: TimeLike | None = None,
        date_end: TimeLike | None = None,
        inputs: Iterable[FrameRef] = (),
        n_inputs: int | None = None,
        quality: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        validity_days: float | Literal["default"] | None = "default",
        good_after: TimeLike | None = None,
        good_until: TimeLike | None = None,
        derived_from: int | None = None,
        derivation_note: str | None = None,
        run_id: int | None = None,
    ) -> MasterRecord:
        """Register a master calibration file; returns its record.

        Registering the same file with the same checksum again returns the
        existing record (also when two runs do it at the same moment).  The
        same path with a different checksum (the file was rewritten) gives a
        new record and marks the old one ``superseded_by`` the new one.

        Parameters
        ----------
        kind : {'bias', 'dark', 'flat'}
            The kind of master.
        path : path-like
            The master's FITS file.
        instrument, xbin, ybin, readout_mode, filter, exptime, ccd_temp, shape
            The attributes matching compares: ``filter`` matters for flats,
            ``exptime`` (s) and ``ccd_temp`` (mean, °C) for darks.
        checksum : str, optional
            Content checksum; default ``'sha256:...'`` of the file.
        date_start, date_end : datetime or ISO str, optional
            Span of the inputs' DATE-OBS; default from the input frames.
        inputs : iterable
            The frames combined: frame ids, paths of stored frames, or frame
            mappings (``FrameInfo.to_dict()``, stored on the way).
        n_inputs : int, optional
            Number of inputs when ``inputs`` is not given.
        quality, params : mapping, optional
            Statistics of the master and the parameters that made it (JSON).
        validity_days : float, 'default' or None, optional
            Half-width of the validity window around the input span
            (``'default'``: :data:`DEFAULT_VALIDITY_DAYS` of the kind;
            ``None``: open).  ``good_after``/``good_until`` override the ends.
        good_after, good_until : datetime or ISO str, optional
            Explicit ends of the validity window.
        derived_from, derivation_note : optional
            The master this one was computed from (e.g. binned) and how.
        run_id : int, optional
            The run that made it.

        Examples
        --------
        >>> lib = CalibrationLibrary("sqlite://")
        >>> m = lib.add_master("dark", "/out/dark-60s.fits", checksum="d60", instrument="ST-8",
        ...                    xbin=1, ybin=1, exptime=60, ccd_temp=-10.1,
        ...                    inputs=[{"path": f"/raw/d{i}.fits", "frame_type": "dark",
        ...                             "date_obs": f"2025-06-24T02:0{i}:00"} for i in range(3)])
        >>> m.n_inputs, m.date_start.isoformat(), m.good_until.isoformat()
        (3, '2025-06-24T02:00:00+00:00', '2025-09-22T02:02:00+00:00')
        """
        kind = _check_kind(kind)
        norm = normalize_path(path)
        days = DEFAULT_VALIDITY_DAYS[kind] if validity_days == "default" else validity_days
        if days is not None and not isinstance(days, (int, float)):
            raise InvalidParameterError(f"validity_days must be a number or None, not {days!r}")
        attrs: dict[str, Any] = {
            "kind": kind,
            "path": norm,
            "checksum": checksum or file_checksum(norm),
            "instrument": instrument,
            "xbin": int(xbin),
            "ybin": int(ybin),
            "readout_mode": readout_mode,
            "filter": filter,
            "exptime": None if exptime is None else float(exptime),
            "ccd_temp": None if ccd_temp is None else float(ccd_temp),
            "shape": None if shape is None else [int(n) for n in shape],
            "quality": jsonable(dict(quality)) if quality else None,
            "params": jsonable(dict(params)) if params else None,
            "derived_from": derived_from,
            "derivation_note": derivation_note,
            "software_version": _software_version(),
            "run_id": run_id,
        }
        refs = list(inputs)
        return self._write(
            lambda s: store.insert_master(
                s,
                attrs,
                inputs=refs,
                n_inputs=n_inputs,
                date_start=date_start,
                date_end=date_end,
                validity=(days, good_after, good_until),
            )
        )

    def get_master(self, master_id: int) -> MasterRecord:
        """The master with this id (:class:`~ccdcal.errors.LibraryError` if there is none)."""
        return self._read(lambda s: MasterRecord.from_row(store.master_row(s, master_id)))

    def list_masters(
        self,
        kind: str | None = None,
        *,
        instrument: str | None = None,
        xbin: int | None = None,
        ybin: int | None = None,
        filter: str | None = None,
        include_bad: bool = True,
        include_superseded: bool = True,
    ) -> list[MasterRecord]:
        """Masters ordered by kind (bias, dark, flat), time and id, optionally filtered."""
        query = select(MasterRow)
        if kind is not None:
            query = query.where(MasterRow.kind == _check_kind(kind))
        for column, value in (
            (MasterRow.instrument, instrument),
            (MasterRow.xbin, xbin),
            (MasterRow.ybin, ybin),
            (MasterRow.filter, filter),
        ):
            if value is not None:
                query = query.where(column == value)
        if not include_bad:
            query = query.where(MasterRow.is_bad.is_(False))
        if not include_superseded:
            query = query.where(MasterRow.superseded_by.is_(None))
        records = self._read(lambda s: [MasterRecord.from_row(r) for r in s.scalars(query)])
        return sorted(records, key=lambda m: (_KIND_ORDER[m.kind], m.date_mid, m.id))

    def flag_bad(self, master_id: int, reason: str) -> MasterRecord:
        """Mark a master bad so matching never chooses it again; ``reason`` is required.

        Examples
        --------
        >>> lib = CalibrationLibrary("sqlite://")
        >>> m = lib.add_master("bias", "/out/b.fits", checksum="b", instrument=None, xbin=1,
        ...                    ybin=1, date_start="2025-06-24", date_end="2025-06-24")
        >>> lib.flag_bad(m.id, "light leak").bad_reason
        'light leak'
        """
        if not reason or not reason.strip():
            raise InvalidParameterError("flag_bad needs a reason (what is wrong with the master)")
        return self._update_master(
            master_id, is_bad=True, bad_reason=reason.strip(), flagged_at=now_utc()
        )

    def flag_good(self, master_id: int) -> MasterRecord:
        """Clear the bad flag of a master."""
        return self._update_master(master_id, is_bad=False, bad_reason=None, flagged_at=now_utc())

    def set_validity(
        self, master_id: int, *, good_after: TimeLike | None, good_until: TimeLike | None
    ) -> MasterRecord:
        """Set a master's validity window (``None`` leaves that end open)."""
        return self._update_master(
            master_id,
            good_after=None if good_after is None else to_utc(good_after),
            good_until=None if good_until is None else to_utc(good_until),
        )

    def _update_master(self, master_id: int, **values: Any) -> MasterRecord:
        def work(session: Session) -> MasterRecord:
            row = store.master_row(session, master_id)
            for name, value in values.items():
                setattr(row, name, value)
            session.flush()
            store.bump_masters_generation(session)
            return MasterRecord.from_row(row)

        return self._write(work)

    def master_inputs(self, master_id: int) -> list[FrameRecord]:
        """The frames combined into a master, in time order."""
        query = (
            select(FrameRow)
            .join(MasterInputRow, MasterInputRow.frame_id == FrameRow.id)
            .where(MasterInputRow.master_id == int(master_id))
            .order_by(FrameRow.date_obs, FrameRow.id)
        )

        def work(session: Session) -> list[FrameRecord]:
            store.master_row(session, master_id)
            return [FrameRecord.from_row(r) for r in session.scalars(query)]

        return self._read(work)

    def derived_masters(self, master_id: int) -> list[MasterRecord]:
        """Masters computed from this one (their ``derived_from`` is its id)."""
        query = select(MasterRow).where(MasterRow.derived_from == int(master_id))
        query = query.order_by(MasterRow.id)
        return self._read(lambda s: [MasterRecord.from_row(r) for r in s.scalars(query)])

    # ------------------------------------------------------------- matching
    def match(
        self,
        kind: str,
        *,
        instrument: str | None,
        xbin: int,
        ybin: int,
        date_obs: TimeLike,
        readout_mode: str | None = None,
        filter: str | None = None,
        exptime: float | None = None,
        ccd_temp: float | None = None,
        shape: Sequence[int] | None = None,
        rules: MatchRules | None = None,
        allow_finer_binning: bool = False,
    ) -> MatchResult:
        """The master of ``kind`` for a science frame, and a verdict on every other one.

        See :func:`ccdcal.library.select_master` for the rules; every master
        of the kind in the library is a candidate.
        """
        target = MatchTarget(
            instrument=instrument,
            xbin=int(xbin),
            ybin=int(ybin),
            date_obs=to_utc(date_obs, what="science DATE-OBS"),
            readout_mode=readout_mode,
            filter=filter,
            exptime=exptime,
            ccd_temp=ccd_temp,
            shape=tuple(shape) if shape is not None else None,
        )
        return self.match_target(kind, target, rules=rules, allow_finer_binning=allow_finer_binning)

    def match_frame(
        self,
        kind: str,
        frame: Mapping[str, Any],
        *,
        rules: MatchRules | None = None,
        allow_finer_binning: bool = False,
    ) -> MatchResult:
        """:meth:`match` for a frame mapping (e.g. ``FrameInfo.to_dict()``)."""
        return self.match_target(
            kind,
            MatchTarget.from_frame(frame),
            rules=rules,
            allow_finer_binning=allow_finer_binning,
        )

    def match_target(
        self,
        kind: str,
        target: MatchTarget,
        *,
        rules: MatchRules | None = None,
        allow_finer_binning: bool = False,
    ) -> MatchResult:
        """:meth:`match` for a ready :class:`~ccdcal.library.MatchTarget`."""
        masters = self.candidates(kind)
        return select_master(
            kind, target, masters, rules=rules, allow_finer_binning=allow_finer_binning
        )

    def candidates(self, kind: str) -> list[MasterRecord]:
        """Every master of ``kind``, as matching sees them.

        The list is cached and read again only when the masters changed
        (any process writing to the library bumps a counter), so matching
        many science frames costs one small query each.
        """
        query = select(MasterRow).where(MasterRow.kind == _check_kind(kind))

        def work(session: Session) -> list[MasterRecord]:
            generation = store.masters_generation(session)
            cached = self._candidates.get(kind)
            if cached is not None and cached[0] == generation:
                return cached[1]
            records = [MasterRecord.from_row(r) for r in session.scalars(query)]
            records.sort(key=lambda m: (m.date_mid, m.id))
            self._candidates[kind] = (generation, records)
            return records

        return list(self._read(work))

    # ---------------------------------------------------------------- usage
    def record_usage(
        self,
        science_path: str | os.PathLike[str],
        kind: str,
        master_id: int | None,
        *,
        note: str | None = None,
        match: MatchResult | None = None,
        frame: int | Mapping[str, Any] | None = None,
        science_checksum: str | None = None,
        run_id: int | None = None,
        max_decisions: int | None = 25,
    ) -> UsageRecord:
        """Record that master ``master_id`` (``None``: none found) calibrated a science output.

        Recording the same (science file, kind) again replaces the link.
        Pass the :class:`~ccdcal.library.MatchResult` so the full decision
        (every candidate and its reasons) is kept for ``ccdcal explain``;
        ``note`` defaults to its provenance note.  At most ``max_decisions``
        other candidates are kept in full (the most relevant: accepted ones,
        then rejected ones nearest in time); the rest are counted by reason
        in one summary entry, so a large library does not bloat every link
        (``None`` keeps all).  ``frame`` is the raw science frame (id or
        mapping), so the link is also found from the raw file.

        Examples
        --------
        >>> lib = CalibrationLibrary("sqlite://")
        >>> m = lib.add_master("bias", "/out/b.fits", checksum="b", instrument=None, xbin=1,
        ...                    ybin=1, date_start="2025-06-24", date_end="2025-06-24")
        >>> _ = lib.record_usage("/out/sci-1.fits", "bias", m.id, note="same night",
        ...                      frame={"path": "/raw/sci-1.fits", "frame_type": "science"})
        >>> [(u.kind, u.master_id, u.note) for u in lib.usage_for("/raw/sci-1.fits")]
        [('bias', 1, 'same night')]
        """
        records = self.record_usages(
            science_path,
            [(kind, master_id, note, match)],
            frame=frame,
            science_checksum=science_checksum,
            run_id=run_id,
            max_decisions=max_decisions,
        )
        return records[0]

    def record_usages(
        self,
        science_path: str | os.PathLike[str],
        uses: Sequence[tuple[str, int | None, str | None, MatchResult | None]],
        *,
        frame: int | Mapping[str, Any] | None = None,
        science_checksum: str | None = None,
        run_id: int | None = None,
        max_decisions: int | None = 25,
    ) -> list[UsageRecord]:
        """:meth:`record_usage` for several kinds at once, in one transaction.

        ``uses`` holds ``(kind, master_id, note, match)`` for each kind of
        master that calibrated ``science_path`` (a science frame's bias, dark
        and flat); the raw ``frame`` is recorded once for all of them.

        Examples
        --------
        >>> lib = CalibrationLibrary("sqlite://")
        >>> m = lib.add_master("bias", "/out/b.fits", checksum="b", instrument=None, xbin=1,
        ...                    ybin=1, date_start="2025-06-24", date_end="2025-06-24")
        >>> _ = lib.record_usages("/out/sci-1.fits", [("bias", m.id, "same night", None),
        ...                                          ("flat", None, "no flat", None)],
        ...                       frame={"path": "/raw/sci-1.fits", "frame_type": "science"})
        >>> [(u.kind, u.master_id) for u in lib.usage_for("/raw/sci-1.fits")]
        [('bias', 1), ('flat', None)]
        """
        prepared = []
        for kind, master_id, note, match in uses:
            values: dict[str, Any] = {
                "master_id": None if master_id is None else int(master_id),
                "note": note if note is not None else (match.note if match is not None else None),
                "science_checksum": science_checksum,
                "run_id": run_id,
                "recorded": now_utc(),
                "target": match.target.to_dict() if match else None,
                "rules": match.rules.to_dict() if match else None,
                "decisions": match.decisions(max_decisions) if match else None,
            }
            prepared.append((_check_kind(kind), values))
        path = normalize_path(science_path)

        def work(session: Session) -> list[UsageRecord]:
            records = []
            raw: int | Mapping[str, Any] | None = frame
            for kind, values in prepared:
                record = store.upsert_usage(session, path, kind, values, raw)
                records.append(record)
                if record.frame_id is not None:
                    raw = record.frame_id  # the raw frame's row exists now
            return records

        return self._write(work)

    def usage_for(self, science_path: str | os.PathLike[str]) -> list[UsageRecord]:
        """The masters used for a science file (calibrated output or raw input), by kind."""
        query = store.usage_query(science_path=normalize_path(science_path))
        return self._sorted_usage(self._read(lambda s: store.load_usage(s, query)))

    def master_usage(self, master_id: int) -> list[UsageRecord]:
        """Every science output a master calibrated."""
        query = store.usage_query(master_id=master_id)
        return self._sorted_usage(self._read(lambda s: store.load_usage(s, query)))

    @staticmethod
    def _sorted_usage(records: list[UsageRecord]) -> list[UsageRecord]:
        return sorted(records, key=lambda u: (u.science_path, _KIND_ORDER[u.kind], u.id))

    # ------------------------------------------------------------ integrity
    def counts(self) -> dict[str, int]:
        """Number of rows per table (runs, frames, masters, master_inputs, calibrations_used)."""
        return self._read(store.count_rows)

    def check_integrity(self) -> list[str]:
        """Problems found in the database (an empty list when it is sound).

        Runs SQLite's own ``integrity_check`` and ``foreign_key_check`` where
        available, and on every backend checks that usage links point to
        masters that exist, that ``n_inputs`` agrees with the recorded inputs
        and that no master is stored twice.
        """
        return self._read(store.integrity_problems)
