"""The calibration library database on SQLite and PostgreSQL: frames, masters, usage, runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ccdcal.errors import InvalidParameterError, LibraryError
from ccdcal.library import (
    DEFAULT_FILENAME,
    SCHEMA_VERSION,
    CalibrationLibrary,
    MatchRules,
    to_utc,
)

UTC = dt.UTC


def frame_info(path: str, **extra: Any) -> dict[str, Any]:
    """A mapping shaped like ``FrameInfo.to_dict()``."""
    info: dict[str, Any] = {
        "path": path, "hdu": 0, "instrument": "SBIG ST-8", "frame_type": "bias",
        "raw_type": "Bias Frame", "exptime": 0.0, "xbin": 1, "ybin": 1, "filter": None,
        "date_obs": "2025-06-24T01:00:00", "mjd": 60850.04, "ccd_temp": -10.2,
        "set_temp": -10.0, "readout_mode": None, "gain": 2.3, "read_noise": 15.0,
        "saturation": 65535.0, "shape": (510, 765), "overscan": None, "trim": None,
        "object": None, "telescope": "UMD 14in", "camera": "ST-8", "problems": (),
    }  # fmt: skip
    info.update(extra)
    return info


def add_bias(lib: CalibrationLibrary, name: str = "bias", **attrs: Any) -> Any:
    values: dict[str, Any] = {
        "checksum": f"sum-{name}", "instrument": "SBIG ST-8", "xbin": 1, "ybin": 1,
        "date_start": "2025-06-24T00:10", "date_end": "2025-06-24T00:20",
    }  # fmt: skip
    values.update(attrs)
    return lib.add_master("bias", f"/out/{name}.fits", **values)


# ------------------------------------------------------------------ opening
def test_schema_created_and_reopened(db_url: str) -> None:
    with CalibrationLibrary(db_url) as lib:
        assert lib.schema_version == SCHEMA_VERSION
        add_bias(lib)
    with CalibrationLibrary(db_url) as again:
        assert [m.path for m in again.list_masters()] == ["/out/bias.fits"]


def test_newer_schema_is_refused(db_url: str) -> None:
    CalibrationLibrary(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE ccdcal_schema SET version = :v"), {"v": SCHEMA_VERSION + 1})
    engine.dispose()
    with pytest.raises(LibraryError, match=r"schema version \d+.*upgrade ccdcal"):
        CalibrationLibrary(db_url)


def test_default_file_in_output_dir(tmp_path: Path) -> None:
    with CalibrationLibrary.for_output_dir(tmp_path / "night") as lib:
        assert lib.location == str((tmp_path / "night" / DEFAULT_FILENAME).resolve())
        assert lib.dialect == "sqlite"
    assert (tmp_path / "night" / DEFAULT_FILENAME).is_file()
    with CalibrationLibrary.open(None, tmp_path / "night", create=False) as lib:
        assert lib.list_masters() == []


def test_missing_library_not_created_when_asked(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match=r"no calibration library at .*--db"):
        CalibrationLibrary.for_output_dir(tmp_path, create=False)
    assert not (tmp_path / DEFAULT_FILENAME).exists()
    with pytest.raises(LibraryError, match="name an output directory or a database URL"):
        CalibrationLibrary.open(None, None)


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    CalibrationLibrary(tmp_path / "lib.sqlite").close()
    engine = create_engine(f"sqlite:///{tmp_path / 'lib.sqlite'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_bad_url_is_a_library_error() -> None:
    with pytest.raises(LibraryError, match="cannot read the database URL"):
        CalibrationLibrary("nonsense://::")


# ------------------------------------------------------------------- frames
def test_add_frame_from_frameinfo_mapping(library: CalibrationLibrary) -> None:
    rec = library.add_frame(frame_info("/raw/b1.fits", overscan=(0, 10), object="M57"))
    assert rec.path == "/raw/b1.fits"
    assert rec.instrument == "SBIG ST-8"
    assert rec.shape == (510, 765)
    assert rec.ccd_temp == pytest.approx(-10.2)
    assert rec.date_obs == dt.datetime(2025, 6, 24, 1, 0, tzinfo=UTC)
    assert rec.date_obs.tzinfo is not None
    assert rec.extra == {"overscan": [0, 10], "trim": None}
    assert rec.status == "ok"
    assert library.find_frame("/raw/b1.fits") == rec
    assert library.get_frame(rec.id) == rec


def test_add_frame_again_updates_the_same_row(library: CalibrationLibrary) -> None:
    first = library.add_frame(frame_info("/raw/x.fits", problems=()))
    second = library.add_frame(frame_info("/raw/x.fits", problems=["no DATE-OBS"], exptime=1.5))
    assert second.id == first.id
    assert second.problems == ("no DATE-OBS",)
    assert second.status == "problems"
    assert second.exptime == 1.5
    assert library.counts()["frames"] == 1


def test_times_are_utc_on_every_backend(library: CalibrationLibrary) -> None:
    plus_two = library.add_frame(path="/raw/a.fits", date_obs="2025-06-24T03:00:00+02:00")
    zulu = library.add_frame(path="/raw/b.fits", date_obs="2025-06-24T01:00:00.250Z")
    assert plus_two.date_obs == dt.datetime(2025, 6, 24, 1, 0, tzinfo=UTC)
    assert zulu.date_obs == dt.datetime(2025, 6, 24, 1, 0, 0, 250000, tzinfo=UTC)
    assert library.get_frame(zulu.id).date_obs.utcoffset() == dt.timedelta(0)


def test_frame_needs_a_path(library: CalibrationLibrary) -> None:
    with pytest.raises(LibraryError, match="needs its 'path'"):
        library.add_frame(frame_type="bias")
    with pytest.raises(LibraryError, match="not an ISO 8601 time"):
        library.add_frame(path="/raw/x.fits", date_obs="last tuesday")


def test_frame_size_and_mtime_from_the_file(library: CalibrationLibrary, tmp_path: Path) -> None:
    path = tmp_path / "raw.fits"
    path.write_bytes(b"x" * 2880)
    rec = library.add_frame(path=str(path))
    assert rec.size == 2880
    assert rec.mtime is not None
    assert (
        abs((rec.mtime - dt.datetime.fromtimestamp(path.stat().st_mtime, UTC)).total_seconds()) < 1
    )


# ------------------------------------------------------------------ masters
def test_same_master_twice_is_one_row(library: CalibrationLibrary) -> None:
    first, second = add_bias(library), add_bias(library)
    assert first == second
    assert library.counts()["masters"] == 1


def test_master_fields_round_trip(library: CalibrationLibrary) -> None:
    m = library.add_master(
        "dark", "/out/dark-60.fits", checksum="d60", instrument="SBIG ST-8", xbin=2, ybin=2,
        readout_mode="high", exptime=60, ccd_temp=-10.05, shape=(255, 382),
        date_start=dt.datetime(2025, 6, 23, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
        date_end="2025-06-24T01:30:00", n_inputs=7, quality={"median": 101.5, "n_rejected": 3},
        params={"method": "median", "sigma": (3, 3)},
    )  # fmt: skip
    got = library.get_master(m.id)
    assert got == m
    assert got.date_start == dt.datetime(2025, 6, 24, 1, 0, tzinfo=UTC)
    assert got.date_mid == dt.datetime(2025, 6, 24, 1, 15, tzinfo=UTC)
    assert (got.shape, got.n_inputs, got.exptime) == ((255, 382), 7, 60.0)
    assert got.quality == {"median": 101.5, "n_rejected": 3}
    assert got.params == {"method": "median", "sigma": [3, 3]}
    assert got.created is not None
    assert got.software_version


def test_checksum_defaults_to_sha256_of_the_file(
    library: CalibrationLibrary, tmp_path: Path
) -> None:
    path = tmp_path / "bias.fits"
    path.write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    m = library.add_master(
        "bias",
        path,
        instrument=None,
        xbin=1,
        ybin=1,
        date_start="2025-06-24",
        date_end="2025-06-24",
    )
    assert m.checksum == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(LibraryError, match=r"cannot read .*missing\.fits.*give checksum="):
        library.add_master(
            "bias",
            tmp_path / "missing.fits",
            instrument=None,
            xbin=1,
            ybin=1,
            date_start="2025-06-24",
            date_end="2025-06-24",
        )


def test_rewritten_file_supersedes_the_old_row(library: CalibrationLibrary) -> None:
    old = add_bias(library, checksum="v1")
    new = add_bias(library, checksum="v2")
    assert new.id != old.id
    assert library.get_master(old.id).superseded_by == new.id
    assert library.get_master(new.id).superseded_by is None
    usable = library.list_masters(include_superseded=False)
    assert [m.id for m in usable] == [new.id]
    result = library.match(
        "bias", instrument="SBIG ST-8", xbin=1, ybin=1, date_obs="2025-06-24T02:00"
    )
    assert result.chosen is not None
    assert result.chosen.id == new.id


def test_inputs_as_ids_paths_and_mappings(library: CalibrationLibrary) -> None:
    by_id = library.add_frame(frame_info("/raw/b1.fits", date_obs="2025-06-24T00:05:00"))
    library.add_frame(frame_info("/raw/b2.fits", date_obs="2025-06-24T00:06:00"))
    m = library.add_master(
        "bias", "/out/bias.fits", checksum="b", instrument="SBIG ST-8", xbin=1, ybin=1,
        inputs=[by_id.id, "/raw/b2.fits", frame_info("/raw/b3.fits", date_obs="2025-06-24T00:01")],
    )  # fmt: skip
    assert m.n_inputs == 3
    assert m.date_start == to_utc("2025-06-24T00:01")
    assert m.date_end == to_utc("2025-06-24T00:06")
    assert [f.path for f in library.master_inputs(m.id)] == [
        "/raw/b3.fits", "/raw/b1.fits", "/raw/b2.fits",
    ]  # fmt: skip
    with pytest.raises(LibraryError, match=r"'/raw/nope.fits' is not in the calibration library"):
        library.add_master(
            "bias",
            "/out/b9.fits",
            checksum="b9",
            instrument=None,
            xbin=1,
            ybin=1,
            inputs=["/raw/nope.fits"],
        )


def test_master_needs_a_time_span(library: CalibrationLibrary) -> None:
    with pytest.raises(LibraryError, match="give date_start and date_end"):
        library.add_master("bias", "/out/b.fits", checksum="b", instrument=None, xbin=1, ybin=1)
    with pytest.raises(LibraryError, match=r"date_end .* is before date_start"):
        add_bias(library, date_start="2025-06-24T02:00", date_end="2025-06-24T01:00")


def test_default_validity_windows(library: CalibrationLibrary) -> None:
    bias = add_bias(library)
    assert bias.good_after == to_utc("2025-06-24T00:10") - dt.timedelta(days=90)
    assert bias.good_until == to_utc("2025-06-24T00:20") + dt.timedelta(days=90)
    flat = library.add_master(
        "flat",
        "/out/flat.fits",
        checksum="f",
        instrument=None,
        xbin=1,
        ybin=1,
        filter="R",
        date_start="2025-06-24T01:00",
        date_end="2025-06-24T02:00",
        validity_days=2,
    )
    assert flat.good_until == to_utc("2025-06-26T02:00")
    open_ = add_bias(library, "open", validity_days=None)
    assert (open_.good_after, open_.good_until) == (None, None)
    explicit = add_bias(library, "explicit", good_until="2025-07-01")
    assert explicit.good_until == to_utc("2025-07-01T00:00")
    with pytest.raises(InvalidParameterError, match="validity_days must be a number"):
        add_bias(library, "x", validity_days="soon")


def test_derived_master_links_to_its_parent(library: CalibrationLibrary) -> None:
    parent = library.add_master(
        "flat",
        "/out/flat-1x1.fits",
        checksum="f1",
        instrument=None,
        xbin=1,
        ybin=1,
        filter="R",
        date_start="2025-06-24",
        date_end="2025-06-24",
    )
    child = library.add_master(
        "flat",
        "/out/flat-2x2.fits",
        checksum="f2",
        instrument=None,
        xbin=2,
        ybin=2,
        filter="R",
        date_start="2025-06-24",
        date_end="2025-06-24",
        derived_from=parent.id,
        derivation_note=f"2x2 binning of flat #{parent.id}",
    )
    assert child.derived_from == parent.id
    assert library.derived_masters(parent.id) == [child]
    with pytest.raises(LibraryError, match="no master #9999"):
        library.add_master(
            "flat",
            "/out/f3.fits",
            checksum="f3",
            instrument=None,
            xbin=2,
            ybin=2,
            date_start="2025-06-24",
            date_end="2025-06-24",
            derived_from=9999,
        )


def test_flag_bad_and_good(library: CalibrationLibrary) -> None:
    m = add_bias(library)
    bad = library.flag_bad(m.id, "  light leak ")
    assert (bad.is_bad, bad.bad_reason) == (True, "light leak")
    assert bad.flagged_at is not None
    assert library.list_masters(include_bad=False) == []
    result = library.match(
        "bias", instrument="SBIG ST-8", xbin=1, ybin=1, date_obs="2025-06-24T02:00"
    )
    assert result.chosen is None
    assert [r.code for r in result.candidates[0].reasons] == ["bad"]
    good = library.flag_good(m.id)
    assert (good.is_bad, good.bad_reason) == (False, None)
    with pytest.raises(InvalidParameterError, match="needs a reason"):
        library.flag_bad(m.id, " ")
    with pytest.raises(LibraryError, match="no master #424242"):
        library.flag_bad(424242, "x")


def test_set_validity(library: CalibrationLibrary) -> None:
    m = add_bias(library)
    changed = library.set_validity(m.id, good_after="2025-06-25", good_until=None)
    assert (changed.good_after, changed.good_until) == (to_utc("2025-06-25"), None)
    result = library.match(
        "bias", instrument="SBIG ST-8", xbin=1, ybin=1, date_obs="2025-06-24T02:00"
    )
    assert [r.code for r in result.candidates[0].reasons] == ["validity"]


def test_list_masters_filters_and_order(library: CalibrationLibrary) -> None:
    add_bias(library, "b-late", date_start="2025-06-25T00:00", date_end="2025-06-25T00:10")
    add_bias(library, "b-early")
    library.add_master(
        "flat",
        "/out/f.fits",
        checksum="f",
        instrument="SBIG ST-8",
        xbin=2,
        ybin=2,
        filter="R",
        date_start="2025-06-23",
        date_end="2025-06-23",
    )
    library.add_master(
        "dark",
        "/out/d.fits",
        checksum="d",
        instrument="Other",
        xbin=1,
        ybin=1,
        exptime=30,
        date_start="2025-06-23",
        date_end="2025-06-23",
    )
    assert [Path(m.path).stem for m in library.list_masters()] == ["b-early", "b-late", "d", "f"]
    assert [m.kind for m in library.list_masters(instrument="Other")] == ["dark"]
    assert [m.kind for m in library.list_masters(xbin=2, ybin=2, filter="R")] == ["flat"]
    assert len(library.list_masters("bias")) == 2
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        library.list_masters("zero")


# ------------------------------------------------------------ matching, usage
def test_match_through_the_database(library: CalibrationLibrary) -> None:
    tonight = library.add_master(
        "dark",
        "/out/d-tonight.fits",
        checksum="t",
        instrument="SBIG ST-8",
        xbin=1,
        ybin=1,
        exptime=60,
        ccd_temp=-10.0,
        date_start="2025-06-24T00:00",
        date_end="2025-06-24T00:30",
    )
    warm = library.add_master(
        "dark",
        "/out/d-warm.fits",
        checksum="w",
        instrument="SBIG ST-8",
        xbin=1,
        ybin=1,
        exptime=60,
        ccd_temp=0.0,
        date_start="2025-06-24T00:40",
        date_end="2025-06-24T01:00",
    )
    science = frame_info(
        "/raw/sci.fits",
        frame_type="science",
        exptime=60,
        ccd_temp=-10.4,
        date_obs="2025-06-24T03:00:00",
    )
    result = library.match_frame("dark", science)
    assert result.chosen == tonight
    assert [(c.master.id, [r.code for r in c.reasons]) for c in result.candidates] == [
        (tonight.id, []), (warm.id, ["temperature"]),
    ]  # fmt: skip
    same = library.match(
        "dark",
        instrument="SBIG ST-8",
        xbin=1,
        ybin=1,
        exptime=60,
        ccd_temp=-10.4,
        date_obs=dt.datetime(2025, 6, 24, 3, 0),
    )
    assert same.candidates == result.candidates


def test_match_sees_changes_made_through_another_connection(db_url: str) -> None:
    with CalibrationLibrary(db_url) as mine, CalibrationLibrary(db_url) as theirs:
        first = add_bias(mine, "first")
        query = {"instrument": "SBIG ST-8", "xbin": 1, "ybin": 1, "date_obs": "2025-06-24T02:00"}
        assert mine.match("bias", **query).chosen == first
        theirs.flag_bad(first.id, "flagged elsewhere")
        assert mine.match("bias", **query).chosen is None
        second = add_bias(theirs, "second")
        assert mine.match("bias", **query).chosen == second
        theirs.set_validity(second.id, good_after=None, good_until="2025-06-23")
        codes = [r.code for c in mine.match("bias", **query).candidates for r in c.reasons]
        assert codes == ["bad", "validity"]


def test_record_usage_keeps_the_whole_decision(library: CalibrationLibrary) -> None:
    chosen = add_bias(library, "tonight")
    bad = library.flag_bad(add_bias(library, "bad").id, "banding")
    run = library.start_run("ccdcal reduce raw out")
    result = library.match(
        "bias",
        instrument="SBIG ST-8",
        xbin=1,
        ybin=1,
        date_obs="2025-06-24T02:00",
        rules=MatchRules(max_temp_diff=1),
    )
    raw = frame_info("/raw/sci.fits", frame_type="science")
    usage = library.record_usage(
        "/out/sci-cal.fits",
        "bias",
        chosen.id,
        match=result,
        frame=raw,
        science_checksum="s1",
        run_id=run,
    )
    assert usage.master == chosen
    assert usage.note == "same night"
    for path in ("/out/sci-cal.fits", "/raw/sci.fits"):
        (found,) = library.usage_for(path)
        assert found.master_id == chosen.id
        assert found.run_id == run
        assert found.rules["max_temp_diff"] == 1
        assert found.target["date_obs"] == "2025-06-24T02:00:00+00:00"
        decisions = {d["master_id"]: d for d in found.decisions}
        assert decisions[chosen.id]["chosen"] is True
        assert decisions[bad.id]["reasons"] == [{"code": "bad", "message": "flagged bad: banding"}]
    assert [u.science_path for u in library.master_usage(chosen.id)] == ["/out/sci-cal.fits"]


def test_recording_again_replaces_the_link(library: CalibrationLibrary) -> None:
    first, second = add_bias(library, "one"), add_bias(library, "two")
    library.record_usage("/out/sci.fits", "bias", first.id, note="first")
    library.record_usage("/out/sci.fits", "bias", second.id, note="rerun")
    library.record_usage("/out/sci.fits", "flat", None, note="no flat master matches")
    usage = library.usage_for("/out/sci.fits")
    assert [(u.kind, u.master_id, u.note) for u in usage] == [
        ("bias", second.id, "rerun"), ("flat", None, "no flat master matches"),
    ]  # fmt: skip
    assert library.counts()["calibrations_used"] == 2
    with pytest.raises(LibraryError, match="no master #77"):
        library.record_usage("/out/sci.fits", "dark", 77)
    with pytest.raises(LibraryError, match="no frame #88"):
        library.record_usage("/out/sci.fits", "dark", None, frame=88)


def test_usages_of_one_frame_are_recorded_together(library: CalibrationLibrary) -> None:
    bias = add_bias(library, "one")
    raw = {"path": "/raw/sci.fits", "frame_type": "science"}
    records = library.record_usages(
        "/out/sci.fits",
        [("bias", bias.id, "same night", None), ("flat", None, "no flat master matches", None)],
        frame=raw,
        science_checksum="sha256:ab",
    )
    assert [(r.kind, r.master_id, r.note) for r in records] == [
        ("bias", bias.id, "same night"), ("flat", None, "no flat master matches"),
    ]  # fmt: skip
    assert records[0].frame_id is not None
    assert records[0].frame_id == records[1].frame_id
    assert library.counts()["frames"] == 1  # the raw frame once, for both links
    assert [u.kind for u in library.usage_for("/raw/sci.fits")] == ["bias", "flat"]
    with pytest.raises(LibraryError, match="no master #77"):  # nothing of a failed batch stays
        library.record_usages(
            "/out/other.fits", [("bias", bias.id, None, None), ("dark", 77, None, None)]
        )
    assert library.usage_for("/out/other.fits") == []


def test_usage_keeps_a_bounded_decision(library: CalibrationLibrary) -> None:
    masters = [add_bias(library, f"b{i}", xbin=2, ybin=2) for i in range(8)]
    result = library.match(
        "bias", instrument="SBIG ST-8", xbin=1, ybin=1, date_obs="2025-06-24T02:00"
    )
    assert result.chosen is None
    usage = library.record_usage("/out/s.fits", "bias", None, match=result, max_decisions=3)
    assert [d["master_id"] for d in usage.decisions[:3]] == [m.id for m in masters[:3]]
    assert usage.decisions[3]["summary"] == "5 more bias masters not listed: 5 different binning"
    (stored,) = library.usage_for("/out/s.fits")
    assert stored.decisions == usage.decisions
    assert stored.note == "no bias master matches"


def test_runs(library: CalibrationLibrary) -> None:
    run = library.start_run("ccdcal reduce raw out", out_dir="/out")
    (started,) = library.list_runs()
    assert (started.id, started.status, started.finished) == (run, "running", None)
    done = library.finish_run(run, status="partial", summary={"skipped": ("a.fits",)})
    assert done.status == "partial"
    assert done.finished is not None
    assert done.summary == {"skipped": ["a.fits"]}
    with pytest.raises(LibraryError, match="no run #999"):
        library.finish_run(999)


def test_integrity_check_and_counts(library: CalibrationLibrary) -> None:
    m = library.add_master(
        "bias",
        "/out/b.fits",
        checksum="b",
        instrument=None,
        xbin=1,
        ybin=1,
        inputs=[frame_info(f"/raw/b{i}.fits") for i in range(4)],
    )
    library.record_usage("/out/s.fits", "bias", m.id)
    assert library.check_integrity() == []
    assert library.counts() == {
        "runs": 0,
        "frames": 4,
        "masters": 1,
        "master_inputs": 4,
        "calibrations_used": 1,
    }


def test_in_memory_library() -> None:
    with CalibrationLibrary("sqlite://") as lib:
        add_bias(lib)
        assert lib.location == ":memory:"
        assert json.dumps(lib.counts())


def test_add_frame_accepts_frameinfo_to_dict(library: CalibrationLibrary) -> None:
    frame_module = pytest.importorskip("ccdcal.collection.frame")
    info = frame_module.FrameInfo(
        path="/raw/m57-R-001.fits", instrument="sbig-st8", frame_type="science", exptime=60.0,
        xbin=1, ybin=1, filter="R", date_obs="2025-06-25T03:12:46", ccd_temp=-10.1,
        shape=(510, 765), problems=("no OBJECT",),
    )  # fmt: skip
    rec = library.add_frame(info.to_dict())
    assert (rec.path, rec.frame_type, rec.filter, rec.shape) == (
        "/raw/m57-R-001.fits", "science", "R", (510, 765),
    )  # fmt: skip
    assert rec.date_obs == dt.datetime(2025, 6, 25, 3, 12, 46, tzinfo=UTC)
    assert rec.problems == ("no OBJECT",)
    result = library.match_frame("bias", info.to_dict())
    assert result.target.instrument == "sbig-st8"
    assert result.chosen is None
