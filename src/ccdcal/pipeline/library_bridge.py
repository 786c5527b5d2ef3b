"""The pipeline's use of the calibration library (:mod:`ccdcal.library`).

Two directions:

* :class:`LibraryLookup` -- while planning, earlier masters for frames that
  tonight's calibrations cannot serve (the library's matching rules: validity
  window, bad flags, nearest in time...);
* :class:`LibraryRecorder` -- while running, every raw frame used, every master
  made (with its inputs, quality, time span and derivation) and, per science
  frame, which master of each kind calibrated it together with the decision
  on every other candidate (what ``ccdcal explain`` shows).  A run writes
  through a :class:`BackgroundRecorder`, so tasks never wait for the database.

Library trouble never stops a night: a failed lookup or record is logged and
the run goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ccdcal.pipeline.model import FrameRef, MasterSpec, ScienceSpec
from ccdcal.pipeline.options import MasterKind, ReduceOptions
from ccdcal.pipeline.plan import Plan
from ccdcal.pipeline.tasks import TaskResult

__all__ = [
    "BackgroundRecorder",
    "LibraryLookup",
    "LibraryRecorder",
    "NullRecorder",
    "library_key",
    "open_recorder",
]

log = logging.getLogger(__name__)

#: Reason codes of candidates that met every requirement but lost on a preference.
_PREFERENCE_CODES = ("exptime", "duplicate", "coarser_fit")


def library_key(master_id: int | str) -> str:
    """The plan key of a library master: ``'lib<id>'``.

    >>> library_key(12)
    'lib12'
    """
    return f"lib{master_id}"


def _rules(options: ReduceOptions) -> Any:
    from ccdcal.library import MatchRules

    return MatchRules(max_temp_diff=options.temperature_tolerance)


def _spec_from_record(record: Any, note: str) -> MasterSpec:
    start = record.date_start.isoformat() if record.date_start else None
    end = record.date_end.isoformat() if record.date_end else None
    shape = (int(record.shape[0]), int(record.shape[1])) if record.shape else None
    return MasterSpec(
        key=library_key(record.id),
        kind=record.kind,
        source="library",
        output=record.path,
        instrument=record.instrument,
        xbin=record.xbin,
        ybin=record.ybin,
        readout_mode=record.readout_mode,
        filter=record.filter,
        exptime=record.exptime if record.kind == "dark" else None,
        temperature=record.ccd_temp,
        shape=shape,
        date_start=start,
        date_end=end,
        library_id=str(record.id),
        checksum=record.checksum,
        notes=(note,),
    )


class LibraryLookup:
    """Earlier masters from a :class:`ccdcal.library.CalibrationLibrary` (a ``MasterLookup``)."""

    def __init__(self, library: Any, *, options: ReduceOptions | None = None) -> None:
        self.library = library
        self.options = options or ReduceOptions()

    @classmethod
    def open(cls, url: str, *, options: ReduceOptions | None = None) -> LibraryLookup:
        """Open the library at ``url`` (a database URL or SQLite path) without creating it."""
        from ccdcal.library import CalibrationLibrary

        return cls(CalibrationLibrary(url, create=False), options=options)

    def find(
        self, kind: MasterKind, frame: FrameRef, *, allow_finer_binning: bool
    ) -> tuple[MasterSpec | None, dict[str, tuple[str, str]]]:
        """The library's choice for ``frame`` and the reason for every other master."""
        if frame.date_obs is None:
            return None, {"library": ("no_time", "the frame has no DATE-OBS to match by time")}
        result = self.library.match(
            kind,
            instrument=frame.instrument,
            xbin=frame.xbin,
            ybin=frame.ybin,
            date_obs=frame.date_obs,
            readout_mode=frame.readout_mode,
            filter=frame.filter if kind == "flat" else None,
            exptime=frame.exptime,
            ccd_temp=frame.temperature,
            shape=frame.shape,
            rules=_rules(self.options),
            allow_finer_binning=allow_finer_binning and kind == "flat",
        )
        refused: dict[str, tuple[str, str]] = {}
        for cand in result.candidates:
            if cand.chosen:
                continue
            reason = cand.reasons[0] if cand.reasons else None
            code = reason.code if reason else "other"
            text = "; ".join(r.message for r in cand.reasons) or "not chosen"
            refused[library_key(cand.master.id)] = (code, f"{cand.master.label}: {text}")
        if result.chosen is None:
            return None, refused
        return _spec_from_record(result.chosen, result.note), refused


def open_library(db: str | None, out_dir: str | os.PathLike[str] | None, *, create: bool) -> Any:
    """The library named by a URL, or the default one of an output directory."""
    from ccdcal.library import CalibrationLibrary

    return CalibrationLibrary.open(
        db, Path(out_dir) if out_dir is not None else None, create=create
    )


class NullRecorder:
    """Records nothing (``library=False``, or the library could not be opened)."""

    def master(self, spec: MasterSpec, result: TaskResult) -> None:
        """Do nothing."""

    def science(self, spec: ScienceSpec, result: TaskResult) -> None:
        """Do nothing."""

    def close(self, status: str = "ok", summary: Mapping[str, Any] | None = None) -> None:
        """Do nothing."""


def _frame_mapping(frame: FrameRef) -> dict[str, Any]:
    data = frame.to_dict()
    data["problems"] = list(frame.problems)
    return data


class LibraryRecorder:
    """Writes what a run did into the calibration library."""

    def __init__(self, library: Any, plan: Plan, out_dir: Path, *, owned: bool) -> None:
        self.library = library
        self.plan = plan
        self.owned = owned
        self.frames = {f.path: f for f in plan.frames}
        self.ids: dict[str, int] = {
            m.key: int(m.library_id) for m in plan.masters if m.library_id is not None
        }
        self._records: dict[int, Any] = {}
        self.run_id: int | None = None
        self._guard("start the run", lambda: self._start(out_dir))

    def _start(self, out_dir: Path) -> None:
        self.run_id = self.library.start_run("reduce", out_dir=str(out_dir))

    def _guard(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # the library must never stop the night
            log.warning("calibration library: could not %s: %s", what, exc)
            return None

    # ------------------------------------------------------------------ masters

    def master(self, spec: MasterSpec, result: TaskResult) -> None:
        """Register a master built (or reused) by this run."""
        self._guard(f"record master {spec.key}", lambda: self._master(spec, result))

    def _master(self, spec: MasterSpec, result: TaskResult) -> None:
        inputs = [_frame_mapping(self.frames[p]) for p in spec.inputs if p in self.frames]
        derived_from = self.ids.get(spec.derived_from) if spec.derived_from else None
        quality = dict(result.quality)
        if result.rejected:
            quality["rejected"] = [list(r) for r in result.rejected]
        if spec.rejected:
            quality["rejected_by_plan"] = [r.to_dict() for r in spec.rejected]
        record = self.library.add_master(
            spec.kind,
            result.output,
            checksum=f"sha256:{result.checksum}" if result.checksum else None,
            instrument=spec.instrument,
            xbin=spec.xbin,
            ybin=spec.ybin,
            readout_mode=spec.readout_mode,
            filter=spec.filter if spec.kind == "flat" else None,
            exptime=spec.exptime if spec.kind == "dark" else None,
            ccd_temp=spec.temperature,
            shape=spec.shape,
            date_start=spec.date_start,
            date_end=spec.date_end,
            inputs=inputs,
            n_inputs=len(spec.inputs) or None,
            quality=quality,
            params={"key": spec.key, "source": spec.source, "options": self.plan.options.to_dict()},
            derived_from=derived_from,
            derivation_note=spec.notes[0] if spec.derived_from and spec.notes else None,
            run_id=self.run_id,
        )
        self.ids[spec.key] = int(record.id)

    # ------------------------------------------------------------------ science

    def science(self, spec: ScienceSpec, result: TaskResult) -> None:
        """Record which masters calibrated a science output, with every decision."""
        self._guard(f"record the masters of {spec.output}", lambda: self._science(spec, result))

    def _record(self, master_id: int) -> Any:
        if master_id not in self._records:
            self._records[master_id] = self.library.get_master(master_id)
        return self._records[master_id]

    def _match_result(self, kind: str, spec: ScienceSpec) -> Any:
        from ccdcal.library import Candidate, MatchResult, MatchTarget, Reason

        frame = spec.frame
        choice = spec.choices.get(kind) or {}
        chosen_key = choice.get("chosen")
        if frame.date_obs is None or chosen_key not in self.ids:
            return None
        from ccdcal.library.times import to_utc

        target = MatchTarget(
            instrument=frame.instrument,
            xbin=frame.xbin,
            ybin=frame.ybin,
            date_obs=to_utc(frame.date_obs),
            readout_mode=frame.readout_mode,
            filter=frame.filter,
            exptime=frame.exptime,
            ccd_temp=frame.temperature,
            shape=frame.shape,
        )
        chosen = self._record(self.ids[chosen_key])
        candidates = [Candidate(master=chosen, accepted=True, chosen=True, notes=(choice["why"],))]
        for key, (code, message) in sorted(choice.get("refused", {}).items()):
            if key not in self.ids:
                continue
            candidates.append(
                Candidate(
                    master=self._record(self.ids[key]),
                    accepted=code in _PREFERENCE_CODES,
                    reasons=(Reason(code, message),),
                )
            )
        return MatchResult(
            kind=kind,
            target=target,
            rules=_rules(self.plan.options),
            chosen=chosen,
            candidates=tuple(candidates),
        )

    def _science(self, spec: ScienceSpec, result: TaskResult) -> None:
        checksum = f"sha256:{result.checksum}" if result.checksum else None
        uses: list[tuple[str, int | None, str, Any]] = []
        for kind in ("bias", "dark", "flat"):
            key = spec.masters().get(kind)
            choice = spec.choices.get(kind) or {}
            if key is None:
                note = f"no {kind} at {spec.frame.binning}; calibrated without it (allowed)"
                uses.append((kind, None, note, None))
            else:
                note = f"{key}: {choice.get('why', '')}".strip()
                uses.append((kind, self.ids.get(key), note, self._match_result(kind, spec)))
        self.library.record_usages(  # one transaction for the three links
            result.output,
            uses,
            frame=_frame_mapping(spec.frame),
            science_checksum=checksum,
            run_id=self.run_id,
        )

    def close(self, status: str = "ok", summary: Mapping[str, Any] | None = None) -> None:
        """Record the end of the run and release the database."""
        if self.run_id is not None:
            run_id = self.run_id
            self._guard(
                "finish the run",
                lambda: self.library.finish_run(run_id, status=status, summary=summary),
            )
        if self.owned:
            self._guard("close the database", self.library.close)


def open_recorder(library: Any, out_dir: Path, plan: Plan) -> LibraryRecorder | NullRecorder:
    """A recorder for ``library``: a library, a URL, ``None`` (default) or ``False`` (none)."""
    if library is False:
        return NullRecorder()
    try:
        if library is None or isinstance(library, (str, os.PathLike)):
            lib = open_library(str(library) if library else None, out_dir, create=True)
            return LibraryRecorder(lib, plan, out_dir, owned=True)
    except Exception as exc:
        log.warning("calibration library unavailable (%s); the run is not recorded", exc)
        return NullRecorder()
    return LibraryRecorder(library, plan, out_dir, owned=False)


class BackgroundRecorder:
    """A recorder that opens the library and writes every record in a background thread.

    Opening the library imports SQLAlchemy, connects, checks or creates the
    tables and records the run's start (a few tenths of a second), and each
    record is a transaction (a few ms): none of it is needed before the next
    task can start.  So the run hands every call to one thread, in order, and
    goes on; :meth:`close` waits until everything is written.  The recorder
    made by ``opener`` (a :class:`LibraryRecorder`, or a :class:`NullRecorder`
    when the library could not be opened) logs its own failures and never
    raises, so nothing is lost by not waiting.

    Examples
    --------
    >>> rec = BackgroundRecorder(NullRecorder)
    >>> isinstance(rec.recorder, NullRecorder)
    True
    >>> rec.close()
    """

    def __init__(self, opener: Callable[[], LibraryRecorder | NullRecorder]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccdcal-library")
        self._opened: Future[LibraryRecorder | NullRecorder] = self._pool.submit(opener)

    @property
    def recorder(self) -> LibraryRecorder | NullRecorder:
        """The opened recorder (waits for the opening)."""
        return self._opened.result()

    def master(self, spec: MasterSpec, result: TaskResult) -> None:
        """Register a master built (or reused) by this run, in the background."""
        self._pool.submit(lambda: self.recorder.master(spec, result))

    def science(self, spec: ScienceSpec, result: TaskResult) -> None:
        """Register a calibrated science frame and its masters, in the background."""
        self._pool.submit(lambda: self.recorder.science(spec, result))

    def close(self, status: str = "ok", summary: Mapping[str, Any] | None = None) -> None:
        """Record the end of the run, release the database and wait until all is written."""
        done = self._pool.submit(lambda: self.recorder.close(status=status, summary=summary))
        self._pool.shutdown(wait=True)
        done.result()
