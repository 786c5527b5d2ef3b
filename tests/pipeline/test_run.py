"""A tiny synthetic night reduced end to end: truth, outputs, provenance, reliability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from ccdcal.io.fits import read_ccd
from ccdcal.io.provenance import read_provenance
from ccdcal.pipeline import ReduceOptions, RunResult, load_run
from ccdcal.pipeline.demo import compare_with_truth
from ccdcal.testing.night import NightTruth


def test_calibrated_frames_match_the_truth(night: NightTruth, reduced: RunResult) -> None:
    report = compare_with_truth(reduced, night)
    assert len(report.frames) == 4
    for frame in report.frames:
        # unbiased, and the uncertainty describes the real scatter
        assert abs(frame.median_pull) < 0.15, frame
        assert 0.85 < frame.pull_std < 1.15, frame
        assert abs(frame.flat_error) < 0.01, frame
    assert report.ok


def test_bad_flats_rejected_with_reasons(night: NightTruth, reduced: RunResult) -> None:
    reasons = {Path(path).name: why for m in reduced.masters.values() for path, why in m.rejected}
    flagged = {Path(f.path).name: f.flags[0] for f in night.frames if f.kind == "flat" and f.flags}
    assert set(reasons) == set(flagged)
    for name, flag in flagged.items():
        expected = "saturated" if flag == "saturated" else "too faint"
        assert reasons[name].startswith(expected)


def test_corrupt_file_reported_and_the_night_goes_on(night: NightTruth, reduced: RunResult) -> None:
    corrupt = next(f for f in night.frames if "corrupt" in f.flags)
    unreadable = [p for p in reduced.plan.problems if p.kind == "unreadable"]
    assert [Path(p.path or "").name for p in unreadable] == [Path(corrupt.path).name]
    assert len(reduced.calibrated) == 4
    assert reduced.exit_code == 3  # finished, with a frame skipped


def test_non_fits_files_passed_over_silently(reduced: RunResult) -> None:
    text = json.dumps([p.to_dict() for p in reduced.plan.problems])
    assert "notes.txt" not in text
    assert ".log" not in text


def test_raw_files_never_modified(
    night: NightTruth, raw_before: dict[str, str], reduced: RunResult, checksums: Any
) -> None:
    assert night.raw_dir is not None
    assert checksums(night.raw_dir) == raw_before


def test_outputs_float32_with_uncertainty_mask_and_provenance(reduced: RunResult) -> None:
    out = Path(reduced.out_dir)
    masters = {m.key: m for m in reduced.masters.values()}
    for path in reduced.science_paths():
        assert path.parent == out / "science"
        with fits.open(path) as hdul:
            names = [h.name for h in hdul]
            assert sorted(names) == ["MASK", "PRIMARY", "UNCERT"]
            assert hdul[0].data.dtype == np.dtype(">f4")
            assert hdul["UNCERT"].data.dtype == np.dtype(">f4")
            assert hdul[0].header["CHECKSUM"]
        ccd = read_ccd(path)
        records = [r for r in read_provenance(ccd.meta) if r["step"] == "calibrate_science"]
        assert len(records) == 1
        used = records[0]["params"]["masters"]
        assert set(used) == {"bias", "dark", "flat"}
        for use in used.values():
            master = masters[use["key"]]
            assert use["checksum"] == master.checksum  # the file checksum of the master used
            assert Path(use["path"]) == Path(master.output or "")
        assert used["flat"]["source"] == "derived"
        assert "derived from the 1x1 flat" in " ".join(records[0]["params"]["notes"])
        steps = [r["step"] for r in read_provenance(ccd.meta)]
        assert steps[-4:-1] == ["subtract_bias", "subtract_dark", "flat_correct"]


def test_saturated_pixels_masked(night: NightTruth, reduced: RunResult) -> None:
    for result in reduced.calibrated:
        spec = next(s for s in reduced.plan.science if s.output == result.key)
        raw = fits.getdata(spec.frame.path)
        ccd = read_ccd(result.output or "")
        assert np.all(ccd.mask[raw >= night.saturation])


def test_masters_have_the_expected_exposures_and_levels(
    night: NightTruth, reduced: RunResult
) -> None:
    dark = read_ccd(reduced.master_paths()["dark_2x2_60s"])
    assert dark.meta["EXPTIME"] == pytest.approx(60.0)
    truth = night.dark_rate(2) * 60.0
    hot = truth > 50
    # hot pixels come out at their true level (within 5 %)
    assert np.median(dark.data[hot] / truth[hot]) == pytest.approx(1.0, abs=0.05)
    bias = read_ccd(reduced.master_paths()["bias_1x1"])
    assert np.median(bias.data - night.bias[1]) == pytest.approx(0.0, abs=1.0)
    flat = read_ccd(reduced.master_paths()["flat_1x1_V"])
    assert float(np.mean(flat.data[~flat.mask])) == pytest.approx(1.0, abs=1e-4)


def test_summary_log_and_load_run(reduced: RunResult) -> None:
    out = Path(reduced.out_dir)
    summary = json.loads((out / "run-summary.json").read_text())
    assert summary["exit_code"] == 3
    assert summary["counts"]["science"] == 4
    assert {s["status"] for s in summary["science"]} == {"built"}
    assert any(m["rejected"] for m in summary["masters"] if m["kind"] == "flat")
    log_text = (out / "ccdcal.log").read_text()
    assert "reducing 4 science frames" in log_text
    assert "left out" in log_text
    again = load_run(out)
    assert [s.output for s in again.science] == [s.output for s in reduced.science]
    assert again.plan == reduced.plan
    assert again.read_science(0).shape == reduced.read_science(0).shape


def test_rerun_reuses_everything(night: NightTruth, reduced: RunResult, reducer: Any) -> None:
    assert night.raw_dir is not None
    out = Path(reduced.out_dir)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.fits")}
    again = reducer(night.raw_dir, out)
    statuses = {r.status for r in [*again.masters.values(), *again.science]}
    assert statuses == {"reused"}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.fits")} == before
    assert "up to date" in again.headline()


def test_changed_flat_rebuilds_only_what_depends_on_it(
    make_tiny: Any, tmp_path: Path, reducer: Any
) -> None:
    truth = make_tiny()
    raw = truth.raw_dir
    out = tmp_path / "out"
    first = reducer(raw, out, library=False)
    assert first.exit_code == 0
    flat = next(f for f in truth.frames if f.kind == "flat" and f.filter == "V" and not f.flags)
    with fits.open(raw / flat.path, mode="update") as hdul:
        hdul[0].header["OBSERVER"] = "changed"
    second = reducer(raw, out, library=False)
    status = {r.key: r.status for r in [*second.masters.values(), *second.science]}
    assert status["flat_1x1_V"] == "built"
    assert status["flat_1x1_V_to_2x2"] == "built"
    assert status["flat_1x1_R"] == "reused"
    assert status["bias_2x2"] == "reused"
    v_frames = {s.output for s in second.plan.science if s.frame.filter == "V"}
    for s in second.science:
        assert s.status == ("built" if s.key in v_frames else "reused"), s.key


def test_missing_dark_skips_or_is_allowed(make_tiny: Any, tmp_path: Path, reducer: Any) -> None:
    truth = make_tiny()
    raw = truth.raw_dir
    for f in truth.frames:
        if f.kind == "dark" and f.binning == 2:
            (raw / f.path).unlink()
    skipped = reducer(raw, tmp_path / "skip", library=False)
    assert not skipped.calibrated
    assert all(s.missing == ("dark",) for s in skipped.plan.skipped)
    assert skipped.exit_code == 3

    allowed = reducer(
        raw, tmp_path / "allow", library=False, options=ReduceOptions(allow_missing=("dark",))
    )
    assert len(allowed.calibrated) == 4
    assert allowed.exit_code == 0
    ccd = allowed.read_science(0)
    assert ccd.meta["CCDCMISS"] == "dark"
    record = next(r for r in read_provenance(ccd.meta) if r["step"] == "calibrate_science")
    assert record["params"]["missing"] == ["dark"]
    assert "dark" not in record["params"]["masters"]


def _robust_std(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def test_master_uncertainties_describe_their_real_errors(
    night: NightTruth, reduced: RunResult
) -> None:
    paths = reduced.master_paths()
    checks = {
        "bias_1x1": night.bias[1],
        "bias_2x2": night.bias[2],
        "dark_1x1_60s": night.dark_rate(1) * 60.0,
        "dark_2x2_60s": night.dark_rate(2) * 60.0,
        "flat_1x1_V": night.flat_for("V", 1),
        "flat_1x1_R_to_2x2": night.flat_for("R", 2),
    }
    for key, truth in checks.items():
        master = read_ccd(paths[key])
        good = ~master.mask
        pulls = (master.data[good] - truth[good]) / master.uncertainty.array[good]
        assert abs(float(np.median(pulls))) < 0.1, key
        assert 0.85 < _robust_std(pulls) < 1.2, (key, _robust_std(pulls))


def test_wrong_shape_and_missing_keyword_reported_and_skipped(
    make_tiny: Any, tmp_path: Path, reducer: Any
) -> None:
    truth = make_tiny()
    raw = truth.raw_dir
    bias = next(f for f in truth.frames if f.kind == "bias" and f.binning == 1)
    header = fits.getheader(raw / bias.path)
    odd = raw / Path(bias.path).parent / "r0009998.fits"
    fits.PrimaryHDU(np.full((10, 12), 1000, dtype=np.uint16), header).writeto(odd)
    sci = next(f for f in truth.frames if f.kind == "science")
    no_exptime = raw / Path(sci.path).parent / "r0009999.fits"
    with fits.open(raw / sci.path) as hdul:
        header = hdul[0].header.copy()
        del header["EXPTIME"]
        fits.PrimaryHDU(hdul[0].data, header).writeto(no_exptime)
    result = reducer(raw, tmp_path / "out", library=False)
    rejected = {Path(r.path).name: r.reason for r in result.plan.master("bias_1x1").rejected}
    assert "shape (10, 12) differs" in rejected["r0009998.fits"]
    problems = {Path(p.path).name: p for p in result.plan.problems if p.path}
    assert "EXPTIME" in problems["r0009999.fits"].message
    assert len(result.calibrated) == 4  # the night went on
    assert result.exit_code == 3


def test_failing_task_does_not_stop_the_night(make_tiny: Any, tmp_path: Path, reducer: Any) -> None:
    from ccdcal.pipeline import plan_night, run_plan

    truth = make_tiny()
    plan = plan_night(truth.raw_dir, out_dir=tmp_path / "out")
    victim = plan.science[0].path
    Path(victim).write_bytes(b"not FITS any more")  # broken after planning
    result = run_plan(plan, executor="serial", library=False)
    failed = [s for s in result.science if s.status == "failed"]
    assert [s.key for s in failed] == [plan.science[0].output]
    assert "could not be read" in failed[0].message
    assert len(result.calibrated) == 3
    assert result.exit_code == 3
    summary = json.loads((tmp_path / "out" / "run-summary.json").read_text())
    assert [s["status"] for s in summary["science"]].count("failed") == 1


def _assert_same_outputs(first: Path, second: Path) -> None:
    for name in ("science", "masters"):
        ours = sorted((first / name).glob("*.fits"))
        theirs = sorted((second / name).glob("*.fits"))
        assert [p.name for p in ours] == [p.name for p in theirs]
        for a, b in zip(ours, theirs, strict=True):
            x, y = read_ccd(a), read_ccd(b)
            np.testing.assert_array_equal(x.data, y.data, err_msg=a.name)
            np.testing.assert_array_equal(x.uncertainty.array, y.uncertainty.array)
            np.testing.assert_array_equal(x.mask, y.mask)


def test_thread_executor_gives_the_same_outputs(
    night: NightTruth, reduced: RunResult, tmp_path: Path, reducer: Any
) -> None:
    result = reducer(night.raw_dir, tmp_path / "threads", executor="thread", jobs=2)
    assert result.executor == "thread"
    _assert_same_outputs(Path(reduced.out_dir), tmp_path / "threads")


@pytest.mark.slow
def test_dask_executor_gives_the_same_outputs(
    night: NightTruth, reduced: RunResult, tmp_path: Path, reducer: Any
) -> None:
    distributed = pytest.importorskip("dask.distributed")
    from ccdcal.pipeline.executors import DaskExecutor

    client = distributed.Client(processes=False, n_workers=1, threads_per_worker=2)
    try:
        result = reducer(night.raw_dir, tmp_path / "dask", executor=DaskExecutor(client))
    finally:
        client.close()
    assert result.executor == "dask"
    _assert_same_outputs(Path(reduced.out_dir), tmp_path / "dask")


def test_output_inside_the_raw_folder_is_not_read_as_raw(make_tiny: Any, reducer: Any) -> None:
    truth = make_tiny()
    raw = truth.raw_dir
    first = reducer(raw, raw / "reduced", library=False)
    again = reducer(raw, raw / "reduced", library=False)
    assert first.plan.counts() == again.plan.counts()
    assert not any("reduced" in f.path for f in again.plan.frames)
    assert {r.status for r in again.science} == {"reused"}


def test_masters_are_not_mistaken_for_raw_frames(reduced: RunResult) -> None:
    from ccdcal.collection import scan

    result = scan([Path(reduced.out_dir) / "masters"], use_cache=False)
    assert result.frames
    assert all(f.frame_type not in ("bias", "dark", "flat", "science") for f in result.frames)


@pytest.mark.slow
def test_cosmic_rays_masked_on_request(tmp_path: Path, reducer: Any) -> None:
    from ccdcal.testing.night import make_night

    truth = make_night(tmp_path / "night", seed=5, size_factor=0.25, n_bias=3, n_dark=3,
                       n_flat=3, n_science=2)  # fmt: skip
    result = reducer(truth.raw_dir, tmp_path / "out", library=False,
                     options=ReduceOptions(cosmic_rays=True))  # fmt: skip
    hits = spurious = pixels = 0
    for spec in result.plan.science:
        ccd = read_ccd(Path(result.out_dir) / spec.output)
        frame = truth.frame(Path(spec.frame.path).relative_to(truth.raw_dir))
        crs = truth.cosmic_rays[frame.path].astype(bool)
        near = crs.copy()  # a cosmic ray's charge spreads into its neighbours
        near[1:] |= crs[:-1]
        near[:-1] |= crs[1:]
        near[:, 1:] |= crs[:, :-1]
        near[:, :-1] |= crs[:, 1:]
        saturated = fits.getdata(spec.frame.path) >= truth.saturation
        assert np.all(ccd.mask[crs]), spec.output
        hits += int(crs.sum())
        spurious += int((ccd.mask & ~near & ~saturated).sum())
        pixels += crs.size
        record = next(r for r in read_provenance(ccd.meta) if r["step"] == "cosmicray_lacosmic")
        assert record["params"]["data_cleaned"] is False
    assert hits > 0
    assert spurious < 0.002 * pixels
