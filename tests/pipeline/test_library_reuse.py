"""The calibration library: a night without flats takes an earlier night's, and says so."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ccdcal.io.provenance import read_provenance
from ccdcal.library import CalibrationLibrary
from ccdcal.pipeline import plan_night, run_plan
from ccdcal.pipeline.demo import compare_with_truth
from ccdcal.pipeline.explain import explain_frame


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from ccdcal.testing.night import make_night

    root = tmp_path_factory.mktemp("library")
    db = root / "calib.sqlite"
    common = {"seed": 11, "shape": (48, 64), "n_bias": 2, "n_dark": 2, "n_flat": 2}
    first = make_night(root / "a", night="2025-06-24", n_science=1, **common)
    second = make_night(root / "b", night="2025-06-26", n_science=1, **common)
    assert first.raw_dir is not None
    assert second.raw_dir is not None
    for sky in second.raw_dir.rglob("SKY"):
        shutil.rmtree(sky)  # the second night has no flats at all
    res_a = run_plan(plan_night(first.raw_dir, out_dir=root / "out_a"), library=str(db),
                     executor="serial")  # fmt: skip
    plan_b = plan_night(second.raw_dir, out_dir=root / "out_b", library=str(db))
    res_b = run_plan(plan_b, library=str(db), executor="serial")
    return {"db": db, "a": res_a, "b": res_b, "truth_b": second}


def test_earlier_flats_used_when_tonight_has_none(two_nights: dict[str, Any]) -> None:
    res_b = two_nights["b"]
    plan = res_b.plan
    assert not plan.masters_of("flat") or all(
        m.source == "library" for m in plan.masters_of("flat")
    )
    assert len(res_b.calibrated) == 2
    assert res_b.exit_code == 0
    for spec in plan.science:
        flat = plan.master(spec.flat or "")
        assert flat.source == "library"
        assert flat.binning == "2x2"  # the derived 2x2 flat of the first night, reused as is
        assert "earlier night" in spec.choices["flat"]["why"] or "earlier night" in " ".join(
            flat.notes
        )
    # the same camera (same seed): the earlier flat calibrates this night correctly
    assert compare_with_truth(res_b, two_nights["truth_b"]).ok


def test_provenance_says_the_flat_came_from_the_library(two_nights: dict[str, Any]) -> None:
    res_b = two_nights["b"]
    ccd = res_b.read_science(0)
    record = next(r for r in read_provenance(ccd.meta) if r["step"] == "calibrate_science")
    flat = record["params"]["masters"]["flat"]
    assert flat["source"] == "library"
    assert Path(flat["path"]).parent == Path(two_nights["a"].out_dir) / "masters"


def test_library_records_masters_and_their_use(two_nights: dict[str, Any]) -> None:
    with CalibrationLibrary(two_nights["db"], create=False) as lib:
        kinds = sorted(m.kind for m in lib.list_masters())
        assert kinds.count("flat") == 4  # two 1x1 flats and their two derived 2x2 flats
        assert kinds.count("bias") == 4  # 1x1 and 2x2, both nights
        derived = [m for m in lib.list_masters("flat") if m.derived_from is not None]
        assert {m.binning for m in derived} == {"2x2"}
        out = two_nights["b"].science_paths()[0]
        uses = {u.kind: u for u in lib.usage_for(out)}
        assert set(uses) == {"bias", "dark", "flat"}
        assert uses["flat"].master is not None
        assert uses["flat"].master.derived_from is not None


def test_explain_shows_the_earlier_night(two_nights: dict[str, Any]) -> None:
    out = two_nights["b"].science_paths()[0]
    text = explain_frame(out, db=two_nights["db"]).text()
    flat_line = next(line for line in text.splitlines() if line.startswith("flat:"))
    assert "earlier night" in flat_line
    assert "filter" in text  # the other filter's flat, refused
