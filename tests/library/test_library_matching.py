"""Matching rules on explicit scenarios: each rejection and each preference, with its reason."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest

from ccdcal.errors import CalibrationNotFoundError, InvalidParameterError, LibraryError
from ccdcal.library import (
    MasterRecord,
    MatchResult,
    MatchRules,
    MatchTarget,
    select_master,
    to_utc,
)

_ids = itertools.count(1)

SCIENCE = "2025-06-24T03:00:00"  # night of 2025-06-23 (UTC offset 0)


def master(
    kind: str = "bias", *, start: str = "2025-06-24T01:00", end: str | None = None, **attrs: Any
) -> MasterRecord:
    """A master with sensible defaults: ST-8, 1x1, inputs spanning 20 minutes from ``start``."""
    ident = attrs.pop("id", next(_ids))
    values: dict[str, Any] = {"instrument": "ST-8", "xbin": 1, "ybin": 1}
    values.update(attrs)
    first = to_utc(start)
    last = to_utc(end) if end else first + dt.timedelta(minutes=20)
    return MasterRecord(
        id=ident,
        kind=kind,
        path=f"/out/{kind}-{ident}.fits",
        checksum=f"c{ident}",
        date_start=first,
        date_end=last,
        **values,
    )


def target(**attrs: Any) -> MatchTarget:
    values: dict[str, Any] = {"instrument": "ST-8", "xbin": 1, "ybin": 1, "date_obs": SCIENCE}
    values.update(attrs)
    return MatchTarget(**values)


def verdict(result: MatchResult, m: MasterRecord) -> tuple[bool, bool, list[str]]:
    """(accepted, chosen, reason codes) of master ``m`` in ``result``."""
    c = next(c for c in result.candidates if c.master.id == m.id)
    return c.accepted, c.chosen, [r.code for r in c.reasons]


def reasons_text(result: MatchResult, m: MasterRecord) -> str:
    c = next(c for c in result.candidates if c.master.id == m.id)
    return " | ".join(r.message for r in c.reasons)


# ------------------------------------------------------------------ requirements
def test_binning_must_match() -> None:
    good, wrong = master(), master(xbin=2, ybin=2)
    result = select_master("bias", target(), [wrong, good])
    assert result.chosen == good
    assert verdict(result, wrong) == (False, False, ["binning"])
    assert "2x2 (science 1x1)" in reasons_text(result, wrong)


def test_instrument_and_readout_mode_must_match() -> None:
    good = master(readout_mode="fast")
    other_camera = master(instrument="ST-10", readout_mode="fast")
    slow = master(readout_mode="slow")
    result = select_master("bias", target(readout_mode="fast"), [other_camera, slow, good])
    assert result.chosen == good
    assert verdict(result, other_camera)[2] == ["instrument"]
    assert "'ST-10' (science 'ST-8')" in reasons_text(result, other_camera)
    assert verdict(result, slow)[2] == ["readout_mode"]


def test_filter_matters_for_flats_only() -> None:
    flat_v, flat_r = master("flat", filter="V"), master("flat", filter="R")
    result = select_master("flat", target(filter="R"), [flat_v, flat_r])
    assert result.chosen == flat_r
    assert verdict(result, flat_v) == (False, False, ["filter"])
    assert "'V' (science 'R')" in reasons_text(result, flat_v)
    bias_with_filter = master("bias", filter="V")
    assert select_master("bias", target(filter="R"), [bias_with_filter]).chosen == bias_with_filter


def test_flagged_bad_is_rejected_with_its_reason() -> None:
    bad = master(is_bad=True, bad_reason="light leak", start="2025-06-24T02:50")
    good = master(start="2025-06-23T01:00")
    result = select_master("bias", target(), [bad, good])
    assert result.chosen == good
    assert verdict(result, bad) == (False, False, ["bad"])
    assert "light leak" in reasons_text(result, bad)


def test_superseded_is_rejected() -> None:
    old = master(superseded_by=99)
    result = select_master("bias", target(), [old])
    assert result.chosen is None
    assert verdict(result, old)[2] == ["superseded"]


def test_every_failed_requirement_is_listed() -> None:
    m = master("flat", xbin=2, ybin=2, filter="V", is_bad=True, bad_reason="x")
    result = select_master("flat", target(filter="R"), [m])
    assert verdict(result, m)[2] == ["binning", "filter", "bad"]


def test_shape_must_match_when_both_known() -> None:
    same, other, unknown = master(shape=(510, 765)), master(shape=(100, 100)), master()
    result = select_master("bias", target(shape=(510, 765)), [same, other, unknown])
    assert verdict(result, other)[2] == ["shape"]
    assert verdict(result, unknown)[0] is True
    assert verdict(result, same)[0] is True


def test_stored_validity_window() -> None:
    expired = master(good_after=to_utc("2025-05-01"), good_until=to_utc("2025-06-01"))
    not_yet = master(good_after=to_utc("2025-07-01"))
    open_window = master(start="2024-01-01T00:00")
    result = select_master("bias", target(), [expired, not_yet, open_window])
    assert result.chosen == open_window
    assert verdict(result, expired)[2] == ["validity"]
    assert verdict(result, not_yet)[2] == ["validity"]
    assert "2025-06-01" in reasons_text(result, expired)
    assert "open" in reasons_text(result, not_yet)


def test_validity_days_rule_overrides_stored_window() -> None:
    week_old = master(start="2025-06-17T03:00")  # stored window open
    rules = MatchRules(validity_days=3)
    result = select_master("bias", target(), [week_old], rules=rules)
    assert verdict(result, week_old)[2] == ["validity"]
    assert select_master("bias", target(), [week_old], rules=MatchRules(validity_days=10)).chosen


def test_dark_temperature_tolerance() -> None:
    warm = master("dark", ccd_temp=-5.0, exptime=60)
    close = master("dark", ccd_temp=-9.0, exptime=60, start="2025-06-20T01:00")
    result = select_master("dark", target(ccd_temp=-10.0, exptime=60), [warm, close])
    assert result.chosen == close
    assert verdict(result, warm)[2] == ["temperature"]
    assert "by 5.0 °C (more than 2 °C)" in reasons_text(result, warm)
    strict = MatchRules(max_temp_diff=0.5)
    assert (
        select_master("dark", target(ccd_temp=-10.0, exptime=60), [close], rules=strict).chosen
        is None
    )


def test_temperature_ignored_for_bias_by_default() -> None:
    warm_bias = master("bias", ccd_temp=5.0)
    assert select_master("bias", target(ccd_temp=-10.0), [warm_bias]).chosen == warm_bias
    rules = MatchRules(temperature_kinds=("bias", "dark"))
    result = select_master("bias", target(ccd_temp=-10.0), [warm_bias], rules=rules)
    assert verdict(result, warm_bias)[2] == ["temperature"]


def test_unknown_temperature_accepted_with_note_unless_required() -> None:
    dark = master("dark", exptime=60)
    result = select_master("dark", target(ccd_temp=-10.0, exptime=60), [dark])
    assert result.chosen == dark
    assert "temperature unknown" in result.note
    strict = MatchRules(require_temperature=True)
    result = select_master("dark", target(ccd_temp=-10.0, exptime=60), [dark], rules=strict)
    assert verdict(result, dark)[2] == ["temperature"]


def test_other_nights_can_be_refused() -> None:
    earlier = master(start="2025-06-20T01:00")
    result = select_master("bias", target(), [earlier], rules=MatchRules(allow_other_nights=False))
    assert result.chosen is None
    assert verdict(result, earlier)[2] == ["other_night"]
    assert "allow_other_nights is off" in reasons_text(result, earlier)


# ------------------------------------------------------------------- preferences
def test_nearest_in_time_wins() -> None:
    near = master(start="2025-06-24T02:30")
    far = master(start="2025-06-24T00:10")
    result = select_master("bias", target(), [far, near])
    assert result.chosen == near
    assert verdict(result, far) == (True, False, ["farther_in_time"])
    # near ends 02:50 (10 min = 0.007 d before), far ends 00:30 (2.5 h = 0.104 d)
    assert reasons_text(result, far) == (
        f"farther in time: 0.10 d from the science frame, #{near.id} is 0.01 d"
    )


def test_inside_the_input_span_counts_as_zero_distance() -> None:
    spanning = master(start="2025-06-23T23:00", end="2025-06-24T05:00")  # contains SCIENCE
    close = master(start="2025-06-24T02:30", end="2025-06-24T02:57")  # ends 3 min before
    assert select_master("bias", target(), [close, spanning]).chosen == spanning


def test_same_night_preferred_over_a_nearer_other_night() -> None:
    science = "2025-06-24T13:00"  # night of 2025-06-24 (starts at noon UTC)
    last_night = master(start="2025-06-24T11:30", end="2025-06-24T11:40")  # 1.3 h before
    tonight = master(start="2025-06-25T04:00")  # 15 h after, same night
    result = select_master("bias", target(date_obs=science), [last_night, tonight])
    assert result.chosen == tonight
    assert verdict(result, last_night) == (True, False, ["other_night"])


def test_earlier_night_reused_when_none_tonight_and_provenance_says_so() -> None:
    earlier = master("flat", filter="R", start="2025-06-20T01:00")
    result = select_master("flat", target(filter="R"), [earlier])
    assert result.chosen == earlier
    assert result.candidates[0].same_night is False
    assert result.note.startswith("from an earlier night (2025-06-19, 4.1 d before)")


def test_later_night_note() -> None:
    later = master(start="2025-06-27T01:00")
    assert select_master("bias", target(), [later]).note.startswith("from a later night")


def test_site_offset_decides_the_night() -> None:
    # Science at 03:00 UTC on the 24th is in the night of the 23rd both at UTC+0
    # and at UTC-4 (23:00 local).  A master made at 14:00 UTC on the 23rd is after
    # noon at UTC+0 (same night) but 10:00 local at UTC-4 (the night before).
    m = master(start="2025-06-23T14:00")
    assert select_master("bias", target(), [m]).note == "same night"
    local = MatchRules(utc_offset_hours=-4)
    note = select_master("bias", target(), [m], rules=local).note
    assert note.startswith("from an earlier night (2025-06-22")


def test_dark_nearest_exposure_before_time_and_night() -> None:
    d30 = master("dark", exptime=30, start="2025-06-24T02:40")
    d300 = master("dark", exptime=300, start="2025-06-24T02:30")
    d60_old = master("dark", exptime=60, start="2025-06-20T01:00")
    result = select_master("dark", target(exptime=60), [d30, d300, d60_old])
    assert result.chosen == d60_old
    assert verdict(result, d30) == (True, False, ["exptime_farther"])
    assert verdict(result, d300) == (True, False, ["exptime_farther"])
    assert "from an earlier night" in result.note


def test_dark_exposure_within_tolerance_counts_as_equal() -> None:
    d_near_time = master("dark", exptime=60.3, start="2025-06-24T02:40")
    d_exact = master("dark", exptime=60.0, start="2025-06-24T00:00")
    result = select_master("dark", target(exptime=60), [d_exact, d_near_time])
    assert result.chosen == d_near_time
    assert verdict(result, d_exact)[2] == ["farther_in_time"]


def test_dark_scaled_exposure_is_noted() -> None:
    d = master("dark", exptime=30, ccd_temp=-10.0)
    assert select_master("dark", target(exptime=120, ccd_temp=-10.0), [d]).note == (
        "exposure 30 s to be scaled to 120 s"
    )


def test_dark_exposure_policies() -> None:
    d60 = master("dark", exptime=60, start="2025-06-24T00:00")
    d300 = master("dark", exptime=300, start="2025-06-24T02:40")
    exact = select_master(
        "dark", target(exptime=60), [d60, d300], rules=MatchRules(dark_exptime_policy="exact")
    )
    assert exact.chosen == d60
    assert verdict(exact, d300) == (False, False, ["exptime"])
    ignore = select_master(
        "dark", target(exptime=60), [d60, d300], rules=MatchRules(dark_exptime_policy="ignore")
    )
    assert ignore.chosen == d300


def test_finer_flats_only_when_allowed() -> None:
    fine = master("flat", filter="R")
    result = select_master("flat", target(xbin=2, ybin=2, filter="R"), [fine])
    assert result.chosen is None
    assert verdict(result, fine)[2] == ["binning"]
    assert "allow_finer_binning" in reasons_text(result, fine)


def test_finer_flat_derivation_marked() -> None:
    fine = master("flat", filter="R", shape=(510, 766))
    coarse_3 = master("flat", filter="R", xbin=3, ybin=3)
    result = select_master(
        "flat",
        target(xbin=2, ybin=2, filter="R", shape=(255, 383)),
        [fine, coarse_3],
        allow_finer_binning=True,
    )
    assert result.chosen == fine
    chosen = result.candidates[0]
    assert chosen.bin_factor == (2, 2)
    assert result.note == f"derived by 2x2 binning of flat #{fine.id} (1x1)"
    assert verdict(result, coarse_3)[2] == ["binning"]


def test_exact_binning_preferred_over_derivation() -> None:
    fine = master("flat", filter="R", start="2025-06-24T02:50")
    exact = master("flat", filter="R", xbin=2, ybin=2, start="2025-06-20T01:00")
    result = select_master(
        "flat", target(xbin=2, ybin=2, filter="R"), [fine, exact], allow_finer_binning=True
    )
    assert result.chosen == exact
    assert verdict(result, fine) == (True, False, ["derived_binning"])
    assert result.candidates[0].bin_factor is None


def test_derived_shape_is_checked() -> None:
    fine = master("flat", filter="R", shape=(510, 766))
    result = select_master(
        "flat",
        target(xbin=2, ybin=2, filter="R", shape=(300, 300)),
        [fine],
        allow_finer_binning=True,
    )
    assert verdict(result, fine)[2] == ["shape"]
    assert "255x383 once binned" in reasons_text(result, fine)


def test_finer_binning_refused_for_other_kinds() -> None:
    with pytest.raises(InvalidParameterError, match="allow_finer_binning is only for flats"):
        select_master("bias", target(), [], allow_finer_binning=True)


def test_ties_go_to_the_newest_then_the_lowest_id() -> None:
    a = master(id=1001, start="2025-06-24T02:00", created=to_utc("2025-06-24T10:00"))
    b = master(id=1002, start="2025-06-24T02:00", created=to_utc("2025-06-24T11:00"))
    result = select_master("bias", target(), [a, b])
    assert result.chosen == b
    assert verdict(result, a)[2] == ["older"]
    c = master(id=1003, start="2025-06-24T02:00", created=to_utc("2025-06-24T11:00"))
    result = select_master("bias", target(), [c, b])
    assert result.chosen == b
    assert verdict(result, c)[2] == ["tie"]


# ------------------------------------------------------------------------ results
def test_order_chosen_then_accepted_then_rejected_and_other_kinds_ignored() -> None:
    rejected = master(xbin=2, ybin=2, start="2025-06-24T02:59")
    second = master(start="2025-06-24T00:00")
    best = master(start="2025-06-24T02:30")
    a_dark = master("dark")
    result = select_master("bias", target(), [rejected, second, a_dark, best])
    assert [c.master for c in result.candidates] == [best, second, rejected]
    assert [c.chosen for c in result.candidates] == [True, False, False]


def test_nothing_matches_explains_why() -> None:
    result = select_master("flat", target(filter="R"), [master("flat", filter="V")])
    with pytest.raises(CalibrationNotFoundError, match=r"no flat master matches(.|\n)*'V'"):
        result.require()
    empty = select_master("dark", target(), [])
    assert "the library has no dark masters" in empty.explain()
    assert empty.note == "no dark master matches"


def test_decisions_are_json_and_explain_names_every_candidate() -> None:
    good, bad = master(), master(is_bad=True, bad_reason="streaks")
    result = select_master("bias", target(), [good, bad])
    decisions = json.loads(json.dumps(result.decisions()))
    assert [d["master_id"] for d in decisions] == [good.id, bad.id]
    assert decisions[1]["reasons"] == [{"code": "bad", "message": "flagged bad: streaks"}]
    text = result.explain()
    assert f"bias #{good.id} (ST-8, 1x1): chosen" in text
    assert "rejected: flagged bad: streaks" in text


def test_rules_validation_and_round_trip() -> None:
    with pytest.raises(InvalidParameterError, match="dark_exptime_policy"):
        MatchRules(dark_exptime_policy="closest")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="max_temp_diff must be"):
        MatchRules(max_temp_diff=-1)
    rules = MatchRules(validity_days=3, temperature_kinds=("bias", "dark"), utc_offset_hours=-4)
    assert MatchRules.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules


def test_unknown_kind_and_missing_date() -> None:
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        select_master("fringe", target(), [])
    with pytest.raises(LibraryError, match=r"sci\.fits has no observation time"):
        MatchTarget.from_frame({"path": "sci.fits", "xbin": 1, "ybin": 1})


def test_decisions_limit_keeps_the_most_relevant_and_counts_the_rest() -> None:
    chosen = master(start="2025-06-24T02:30")
    runner_up = master(start="2025-06-24T00:00")
    wrong_bin = [master(xbin=2, ybin=2, start=f"2025-06-24T0{h}:00") for h in range(3)]
    wrong_cam = [master(instrument="ST-10", start=f"2025-06-1{d}T01:00") for d in range(5)]
    result = select_master("bias", target(), [*wrong_cam, chosen, *wrong_bin, runner_up])
    full = result.decisions()
    assert len(full) == 10
    assert [d["master_id"] for d in full[:2]] == [chosen.id, runner_up.id]
    capped = result.decisions(limit=4)
    assert [d["master_id"] for d in capped[:5]] == [d["master_id"] for d in full[:5]]
    summary = capped[-1]
    assert summary["master_id"] is None
    assert summary["reasons"][0]["code"] == "omitted"
    # the 3 wrongly binned masters are nearer in time, so 2 of them are kept
    assert summary["summary"] == "5 more bias masters not listed: 5 different instrument"
    assert len(capped) == 6
    assert result.decisions(limit=20) == full


def test_between_two_spans_the_nearer_midpoint_wins() -> None:
    # Both spans contain the science time; the one centred closer to it wins.
    centred = master(start="2025-06-24T02:00", end="2025-06-24T04:00")
    skewed = master(start="2025-06-24T00:00", end="2025-06-24T03:30")
    result = select_master("bias", target(), [skewed, centred])
    assert result.chosen == centred
    assert reasons_text(result, skewed) == (
        f"its midpoint is farther in time: 0.05 d from the science frame, #{centred.id}'s is 0.00 d"
    )
