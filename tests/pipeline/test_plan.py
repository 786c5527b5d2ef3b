"""Planning logic on fake frames: grouping, matching, binning derivation, problems."""

from __future__ import annotations

import json

import pytest

from ccdcal.errors import InvalidParameterError
from ccdcal.pipeline import FrameRef, MasterSpec, Plan, ReduceOptions, plan_frames
from ccdcal.pipeline.grouping import cluster_values, group_frames, split_by_shape

SHAPE1 = (40, 60)
SHAPE2 = (20, 30)


def frame(name: str, kind: str | None, *, binning: int = 1, **kw: object) -> FrameRef:
    shape = kw.pop("shape", SHAPE1 if binning == 1 else SHAPE2)
    return FrameRef(
        path=f"/night/{name}.fits",
        frame_type=kind,
        xbin=binning,
        ybin=binning,
        shape=shape,  # type: ignore[arg-type]
        date_obs=str(kw.pop("date_obs", "2025-06-24T03:00:00")),
        **kw,  # type: ignore[arg-type]
    )


def pt5m_like_night() -> list[FrameRef]:
    """1x1 and 2x2 bias/darks, 1x1 flats in two filters, 2x2 science longer than the darks."""
    frames = []
    for b in (1, 2):
        frames += [frame(f"bias{b}_{i}", "bias", binning=b, filter="R") for i in range(3)]
        frames += [frame(f"dark{b}_{i}", "dark", binning=b, exptime=60.0) for i in range(3)]
    for filt in ("R", "V"):
        frames += [frame(f"flat_{filt}{i}", "flat", exptime=5.0 + i, filter=filt) for i in range(3)]
    frames += [frame(f"sci{i}", "science", binning=2, exptime=120.0, filter="R") for i in range(2)]
    return frames


# ----------------------------------------------------------------------------- grouping


def test_cluster_values_splits_on_relative_gap() -> None:
    clusters = cluster_values([30.0, 31.0, 33.5, 300.0, 290.0], close=lambda a, b: b - a <= 0.1 * a)
    assert clusters == [[0, 1], [2], [4, 3]]


def test_bias_is_not_split_by_filter() -> None:
    frames = [frame(f"b{i}", "bias", filter=f) for i, f in enumerate("RRVV")]
    groups = group_frames(frames, "bias")
    assert len(groups) == 1
    assert len(groups[0].frames) == 4


def test_bias_split_by_binning_and_readout_mode() -> None:
    frames = [
        frame("a", "bias", readout_mode="fast"),
        frame("b", "bias", readout_mode="slow"),
        frame("c", "bias", binning=2, readout_mode="fast"),
    ]
    groups = group_frames(frames, "bias")
    assert sorted((g.xbin, g.readout_mode) for g in groups) == [
        (1, "fast"),
        (1, "slow"),
        (2, "fast"),
    ]


def test_darks_split_into_exposure_clusters_with_mean_exptime() -> None:
    times = [60.0, 62.0, 59.5, 300.0, 301.0, 10.0]
    frames = [frame(f"d{i}", "dark", exptime=t) for i, t in enumerate(times)]
    groups = group_frames(frames, "dark")
    assert [g.exptime for g in groups] == [10.0, pytest.approx(60.5), 300.5]
    assert [len(g.frames) for g in groups] == [1, 3, 2]


def test_exposure_tolerance_option_changes_clusters() -> None:
    frames = [frame(f"d{i}", "dark", exptime=t) for i, t in enumerate([60.0, 70.0])]
    assert len(group_frames(frames, "dark")) == 2
    opts = ReduceOptions(exposure_tolerance=0.2)
    assert len(group_frames(frames, "dark", options=opts)) == 1


def test_darks_split_by_set_temperature_not_by_ccd_jitter() -> None:
    frames = [
        frame("a", "dark", exptime=60.0, set_temp=-10.0, ccd_temp=-10.2),
        frame("b", "dark", exptime=60.0, set_temp=-10.0, ccd_temp=-9.7),
        frame("c", "dark", exptime=60.0, set_temp=-20.0, ccd_temp=-19.9),
    ]
    groups = group_frames(frames, "dark")
    assert len(groups) == 2
    assert [g.temperature for g in groups] == [pytest.approx(-19.9), pytest.approx(-9.95)]


def test_darks_grouped_by_ccd_temperature_when_no_set_point() -> None:
    temps = [0.19, -0.23, 5.1]
    frames = [frame(f"d{i}", "dark", exptime=300.0, ccd_temp=t) for i, t in enumerate(temps)]
    groups = group_frames(frames, "dark")
    assert sorted(len(g.frames) for g in groups) == [1, 2]


def test_flats_grouped_by_binning_and_filter() -> None:
    frames = [
        frame("f1", "flat", filter="R"),
        frame("f2", "flat", filter="V"),
        frame("f3", "flat", filter="R", binning=2),
        frame("f4", "flat", filter="R"),
    ]
    groups = group_frames(frames, "flat")
    assert sorted((g.xbin, g.filter, len(g.frames)) for g in groups) == [
        (1, "R", 2),
        (1, "V", 1),
        (2, "R", 1),
    ]


def test_odd_shape_rejected_with_reason() -> None:
    frames = [frame(f"b{i}", "bias") for i in range(3)] + [frame("odd", "bias", shape=(10, 10))]
    kept, rejected = split_by_shape(frames)
    assert len(kept) == 3
    assert [r.path for r in rejected] == ["/night/odd.fits"]
    assert "shape (10, 10) differs" in rejected[0].reason


# ----------------------------------------------------------------------------- plan


def test_pt5m_like_night_masters_and_derived_flat() -> None:
    plan = plan_frames(pt5m_like_night())
    keys = [m.key for m in plan.masters]
    assert keys == [
        "bias_1x1",
        "bias_2x2",
        "dark_1x1_60s",
        "dark_2x2_60s",
        "flat_1x1_R",
        "flat_1x1_V",
        "flat_1x1_R_to_2x2",
    ]
    derived = plan.master("flat_1x1_R_to_2x2")
    assert derived.source == "derived"
    assert derived.derived_from == "flat_1x1_R"
    assert (derived.xbin, derived.ybin, derived.shape) == (2, 2, SHAPE2)
    # flats are calibrated with tonight's bias and dark of their binning
    assert plan.master("flat_1x1_R").bias == "bias_1x1"
    assert plan.master("flat_1x1_R").dark == "dark_1x1_60s"
    assert plan.master("dark_2x2_60s").bias == "bias_2x2"
    for sci in plan.science:
        assert (sci.bias, sci.dark, sci.flat) == ("bias_2x2", "dark_2x2_60s", "flat_1x1_R_to_2x2")
        assert any("derived from the 1x1 flat" in n for n in sci.notes)
    assert not plan.skipped
    assert any(p.kind == "mixed-binning" for p in plan.problems)


def test_science_takes_nearest_exposure_dark() -> None:
    frames = [frame("b", "bias")]
    frames += [frame(f"d{t}", "dark", exptime=t) for t in (10.0, 60.0, 300.0)]
    frames += [frame("f", "flat", exptime=3.0, filter="R")]
    frames += [
        frame("s100", "science", exptime=100.0, filter="R"),
        frame("s250", "science", exptime=250.0, filter="R"),
    ]
    plan = plan_frames(frames)
    darks = {s.frame.name: s.dark for s in plan.science}
    assert darks == {"s100.fits": "dark_1x1_60s", "s250.fits": "dark_1x1_300s"}
    refused = plan.science[0].choices["dark"]["refused"]
    assert refused["dark_1x1_300s"][0] == "exptime"
    # the flats (3 s) take the nearest dark too
    assert plan.master("flat_1x1_R").dark == "dark_1x1_10s"


def test_dark_refused_when_temperature_too_far() -> None:
    frames = [
        frame("b", "bias"),
        frame("d", "dark", exptime=60.0, set_temp=-20.0),
        frame("f", "flat", exptime=2.0, filter="R", set_temp=-20.0),
        frame("s", "science", exptime=60.0, filter="R", set_temp=-5.0),
    ]
    plan = plan_frames(frames)
    assert not plan.science
    assert plan.skipped[0].missing == ("dark",)
    opts = ReduceOptions(temperature_tolerance=20.0)
    assert plan_frames(frames, options=opts).science[0].dark == "dark_1x1_60s"


def test_missing_dark_skips_frame_unless_allowed() -> None:
    frames = [frame("b", "bias", binning=2), frame("f", "flat", binning=2, filter="R")]
    frames.append(frame("s", "science", binning=2, exptime=30.0, filter="R"))
    plan = plan_frames(frames)
    assert plan.science == ()
    assert plan.skipped[0].missing == ("dark",)
    assert "no master dark at 2x2" in plan.skipped[0].reason
    assert any(p.kind == "missing-calibration" and p.path for p in plan.problems)

    allowed = plan_frames(frames, options=ReduceOptions(allow_missing=("dark",)))
    (sci,) = allowed.science
    assert sci.dark is None
    assert sci.missing == ("dark",)
    assert any("calibrated without" in n for n in sci.notes)


def test_bias_is_never_rebinned() -> None:
    frames = [
        frame("b", "bias"),
        frame("d", "dark", exptime=60.0),
        frame("f", "flat", filter="R", exptime=2.0),
        frame("s", "science", binning=2, exptime=60.0, filter="R"),
    ]
    plan = plan_frames(frames)
    assert plan.science == ()
    assert set(plan.skipped[0].missing) == {"bias", "dark"}


def test_derived_flats_can_be_switched_off() -> None:
    plan = plan_frames(pt5m_like_night(), options=ReduceOptions(derive_flats=False))
    assert not plan.science
    assert all(s.missing == ("flat",) for s in plan.skipped)


def test_dark_group_without_bias_is_not_built() -> None:
    frames = [frame("d", "dark", exptime=60.0, binning=2), frame("b", "bias")]
    plan = plan_frames(frames)
    assert [m.key for m in plan.masters] == ["bias_1x1"]
    assert any("no master bias at 2x2" in p.message for p in plan.problems)


def test_flats_without_dark_are_built_with_a_note() -> None:
    frames = [frame("b", "bias"), frame("f", "flat", filter="R", exptime=2.0)]
    plan = plan_frames(frames)
    flat = plan.master("flat_1x1_R")
    assert flat.dark is None
    assert "not dark-subtracted" in flat.notes[0]


def test_unreadable_and_unclassified_reported() -> None:
    frames = [frame("b", "bias"), frame("focus", None, raw_type="Focus")]
    plan = plan_frames(frames, unreadable=[("/night/broken.fits", "truncated")])
    kinds = {p.kind: p for p in plan.problems}
    assert "truncated" in kinds["unreadable"].message
    assert "'Focus'" in kinds["unclassified"].message
    assert plan.counts()["unreadable"] == 1
    assert plan.counts()["unclassified"] == 1


def test_frame_with_header_problem_is_passed_over() -> None:
    frames = [
        frame("b1", "bias"),
        frame("b2", "bias", problems=("EXPTIME is missing",)),
        frame("d", "dark", exptime=None),
    ]
    plan = plan_frames(frames)
    assert plan.master("bias_1x1").inputs == ("/night/b1.fits",)
    messages = [p.message for p in plan.problems if p.kind == "missing-keyword"]
    assert any("EXPTIME is missing" in m for m in messages)
    assert any("dark without a positive exposure time" in m for m in messages)


def test_science_output_names_unique() -> None:
    frames = [frame("b", "bias"), frame("d", "dark", exptime=5.0)]
    frames.append(frame("f", "flat", filter="R", exptime=1.0))
    a = FrameRef(path="/n/a/img.fits", frame_type="science", exptime=5.0, filter="R", shape=SHAPE1)
    b = FrameRef(path="/n/b/img.fits", frame_type="science", exptime=5.0, filter="R", shape=SHAPE1)
    plan = plan_frames([*frames, a, b])
    assert sorted(s.output for s in plan.science) == ["science/img_a.fits", "science/img_b.fits"]


def test_plan_round_trips_through_json(tmp_path: object) -> None:
    plan = plan_frames(pt5m_like_night(), options=ReduceOptions(allow_missing=("flat",)))
    text = json.dumps(plan.to_dict())
    again = Plan.from_dict(json.loads(text))
    assert again == plan


def test_plan_save_and_load(tmp_path: object) -> None:
    from pathlib import Path

    plan = plan_frames(pt5m_like_night())
    path = plan.save(Path(str(tmp_path)) / "plan.json")
    assert Plan.load(path) == plan


def test_plan_from_other_version_is_refused() -> None:
    data = plan_frames([]).to_dict()
    data["plan_version"] = 99
    with pytest.raises(InvalidParameterError, match="plan version 99"):
        Plan.from_dict(data)


def test_describe_names_masters_science_and_problems() -> None:
    frames = [*pt5m_like_night(), frame("x", None, raw_type="Focus")]
    text = plan_frames(frames).describe()
    assert "Frames: 21 (6 bias, 6 dark, 6 flat, 2 science); 1 unclassified" in text
    assert "flat_1x1_R_to_2x2: flat 2x2 filter R derived from flat_1x1_R" in text
    assert "sci0.fits (2x2 filter R 120 s) -> science/sci0.fits" in text
    assert "unclassified" in text


def test_unknown_master_key_is_an_error() -> None:
    with pytest.raises(InvalidParameterError, match="no master 'nope'"):
        plan_frames(pt5m_like_night()).master("nope")


# ----------------------------------------------------------------------------- library


class FakeLookup:
    """Returns one earlier 2x2 R flat; refuses everything else."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def find(
        self, kind: str, frame: FrameRef, *, allow_finer_binning: bool
    ) -> tuple[MasterSpec | None, dict[str, tuple[str, str]]]:
        self.calls.append((kind, frame.name))
        if kind == "flat" and frame.filter == "R":
            spec = MasterSpec(
                "lib7",
                "flat",
                "library",
                "/old/flat_2x2_R.fits",
                xbin=2,
                ybin=2,
                filter="R",
                shape=SHAPE2,
                library_id="7",
                notes=("from an earlier night",),
            )
            return spec, {"lib3": ("filter", "flat #3: filter 'V'")}
        return None, {}


def test_library_master_used_when_tonight_has_none() -> None:
    frames = [f for f in pt5m_like_night() if f.frame_type != "flat"]
    lookup = FakeLookup()
    plan = plan_frames(frames, library=lookup)
    assert [s.flat for s in plan.science] == ["lib7", "lib7"]
    lib = plan.master("lib7")
    assert lib.source == "library"
    assert plan.masters[0].key == "lib7"  # listed once, before the masters to build
    assert sum(1 for m in plan.masters if m.key == "lib7") == 1
    choice = plan.science[0].choices["flat"]
    assert choice["refused"]["lib3"] == ["filter", "flat #3: filter 'V'"]
    assert "calibration library" in choice["why"]
    # tonight's bias and dark were enough: the library was asked only for flats
    assert {k for k, _ in lookup.calls} == {"flat"}


def test_tonight_preferred_over_library() -> None:
    lookup = FakeLookup()
    plan = plan_frames(pt5m_like_night(), library=lookup)
    assert all(s.flat == "flat_1x1_R_to_2x2" for s in plan.science)
    assert lookup.calls == []
