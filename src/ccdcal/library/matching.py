"""Matching rules: which master calibrates a science frame, and why the others do not.

The rules follow BANZAI's calibration database and DRAGONS' calibration
association (see ``peers-reference.md`` §4.3, §5.3):

* **requirements** (a master failing any is *rejected*, with every failed
  requirement given as a :class:`Reason`): same instrument, same binning,
  same readout mode, the same filter for flats, the same shape when both are
  known, not flagged bad, not superseded, the science time inside the
  master's validity window, and for darks the CCD temperature within
  ``max_temp_diff``.  With ``allow_other_nights=False`` masters from other
  nights are rejected too; with ``dark_exptime_policy='exact'`` darks of
  another exposure are.
* **preferences** among the accepted masters, in this order: exact binning
  before a finer flat that must be binned (``allow_finer_binning``); for
  darks the nearest exposure (a dark can be scaled, so exposure is a
  preference, not a requirement); the science frame's own night before other
  nights; nearest in time (distance from the science DATE-OBS to the span of
  the master's inputs, then to its midpoint); the newest master; the lowest id.
  Each accepted master that loses gets the reason it lost to the chosen one.

:func:`select_master` is a pure function over :class:`MasterRecord` objects;
:meth:`ccdcal.library.CalibrationLibrary.match` feeds it from the database.

Examples
--------
>>> from ccdcal.library.records import MasterRecord
>>> from ccdcal.library.times import to_utc
>>> def flat(id, filt, day):
...     return MasterRecord(id=id, kind="flat", path=f"f{id}.fits", checksum=str(id),
...                         instrument="ST-8", filter=filt,
...                         date_start=to_utc(f"2025-06-{day}T01:00"),
...                         date_end=to_utc(f"2025-06-{day}T01:20"))
>>> target = MatchTarget(instrument="ST-8", xbin=1, ybin=1, filter="R",
...                      date_obs=to_utc("2025-06-24T03:00"))
>>> result = select_master("flat", target, [flat(1, "R", 20), flat(2, "V", 24), flat(3, "R", 24)])
>>> result.chosen.id
3
>>> for c in result.candidates:
...     print(c.master.id, c.accepted, [r.code for r in c.reasons])
3 True []
1 True ['other_night']
2 False ['filter']
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Iterable
from typing import NamedTuple

from ccdcal.errors import InvalidParameterError
from ccdcal.library.decisions import (
    Candidate,
    MatchResult,
    MatchRules,
    MatchTarget,
    Reason,
    format_exposure,
    format_value,
)
from ccdcal.library.records import KINDS, MasterRecord
from ccdcal.library.times import days_between, night_of

__all__ = ["select_master"]


# ---------------------------------------------------------------- requirements
class _Context(NamedTuple):
    kind: str
    target: MatchTarget
    rules: MatchRules
    allow_finer_binning: bool
    science_night: _dt.date


def _bin_factor(master: MasterRecord, ctx: _Context) -> tuple[int, int] | None:
    """(fx, fy) to bin ``master`` to the target binning, (1, 1) if equal, None if impossible."""
    t = ctx.target
    if (master.xbin, master.ybin) == (t.xbin, t.ybin):
        return (1, 1)
    if (
        ctx.allow_finer_binning
        and t.xbin % master.xbin == 0
        and t.ybin % master.ybin == 0
        and master.xbin <= t.xbin
        and master.ybin <= t.ybin
    ):
        return (t.xbin // master.xbin, t.ybin // master.ybin)
    return None


def _check_instrument(m: MasterRecord, ctx: _Context) -> Reason | None:
    if m.instrument == ctx.target.instrument:
        return None
    return Reason(
        "instrument",
        f"different instrument {format_value(m.instrument)} "
        f"(science {format_value(ctx.target.instrument)})",
    )


def _check_binning(m: MasterRecord, ctx: _Context) -> Reason | None:
    if _bin_factor(m, ctx) is not None:
        return None
    hint = ""
    if ctx.kind == "flat" and ctx.target.xbin % m.xbin == 0 and ctx.target.ybin % m.ybin == 0:
        hint = "; a finer flat can be binned with allow_finer_binning"
    return Reason("binning", f"different binning {m.binning} (science {ctx.target.binning}){hint}")


def _check_readout(m: MasterRecord, ctx: _Context) -> Reason | None:
    if m.readout_mode == ctx.target.readout_mode:
        return None
    return Reason(
        "readout_mode",
        f"different readout mode {format_value(m.readout_mode)} "
        f"(science {format_value(ctx.target.readout_mode)})",
    )


def _check_filter(m: MasterRecord, ctx: _Context) -> Reason | None:
    if ctx.kind != "flat" or m.filter == ctx.target.filter:
        return None
    return Reason(
        "filter",
        f"different filter {format_value(m.filter)} (science {format_value(ctx.target.filter)})",
    )


def _check_shape(m: MasterRecord, ctx: _Context) -> Reason | None:
    factor = _bin_factor(m, ctx)
    if m.shape is None or ctx.target.shape is None or factor is None or len(m.shape) != 2:
        return None
    fx, fy = factor
    expected = (m.shape[0] // fy, m.shape[1] // fx)
    if expected == tuple(ctx.target.shape):
        return None
    shown = "x".join(map(str, m.shape))
    binned = "" if factor == (1, 1) else f" ({'x'.join(map(str, expected))} once binned)"
    return Reason(
        "shape",
        f"different shape {shown}{binned} (science {'x'.join(map(str, ctx.target.shape))})",
    )


def _check_bad(m: MasterRecord, ctx: _Context) -> Reason | None:
    if not m.is_bad:
        return None
    return Reason("bad", f"flagged bad: {m.bad_reason or 'no reason given'}")


def _check_superseded(m: MasterRecord, ctx: _Context) -> Reason | None:
    if m.superseded_by is None:
        return None
    return Reason("superseded", f"superseded by master #{m.superseded_by} (its file was rewritten)")


def _window(m: MasterRecord, rules: MatchRules) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    if rules.validity_days is None:
        return m.good_after, m.good_until
    pad = _dt.timedelta(days=rules.validity_days)
    return m.date_start - pad, m.date_end + pad


def _check_validity(m: MasterRecord, ctx: _Context) -> Reason | None:
    after, until = _window(m, ctx.rules)
    t = ctx.target.date_obs
    if (after is None or t >= after) and (until is None or t <= until):
        return None
    lo = after.isoformat() if after else "open"
    hi = until.isoformat() if until else "open"
    return Reason(
        "validity",
        f"outside its validity window {lo} .. {hi} (science {t.isoformat()})",
    )


def _check_night(m: MasterRecord, ctx: _Context) -> Reason | None:
    if ctx.rules.allow_other_nights or _same_night(m, ctx):
        return None
    night = night_of(m.date_mid or m.date_start, utc_offset_hours=ctx.rules.utc_offset_hours)
    return Reason("other_night", f"from another night ({night}) and allow_other_nights is off")


def _check_temperature(m: MasterRecord, ctx: _Context) -> Reason | None:
    rules = ctx.rules
    if ctx.kind not in rules.temperature_kinds:
        return None
    if m.ccd_temp is None or ctx.target.ccd_temp is None:
        if rules.require_temperature:
            return Reason("temperature", "CCD temperature unknown and require_temperature is on")
        return None
    diff = abs(m.ccd_temp - ctx.target.ccd_temp)
    if diff <= rules.max_temp_diff:
        return None
    return Reason(
        "temperature",
        f"CCD temperature {m.ccd_temp:.1f} °C differs from the science "
        f"{ctx.target.ccd_temp:.1f} °C by {diff:.1f} °C (more than {rules.max_temp_diff:g} °C)",
    )


def _check_exptime(m: MasterRecord, ctx: _Context) -> Reason | None:
    if ctx.kind != "dark" or ctx.rules.dark_exptime_policy != "exact":
        return None
    if _exptime_distance(m, ctx) == 0.0:
        return None
    return Reason(
        "exptime",
        f"exposure {format_exposure(m.exptime)} is not the science exposure "
        f"{format_exposure(ctx.target.exptime)} (dark_exptime_policy='exact')",
    )


_REQUIREMENTS: tuple[Callable[[MasterRecord, _Context], Reason | None], ...] = (
    _check_instrument,
    _check_binning,
    _check_readout,
    _check_filter,
    _check_shape,
    _check_bad,
    _check_superseded,
    _check_validity,
    _check_night,
    _check_temperature,
    _check_exptime,
)


# ----------------------------------------------------------------- preferences
def _same_night(m: MasterRecord, ctx: _Context) -> bool:
    offset = ctx.rules.utc_offset_hours
    first = night_of(m.date_start, utc_offset_hours=offset)
    last = night_of(m.date_end, utc_offset_hours=offset)
    return first <= ctx.science_night <= last


def _span_distance(m: MasterRecord, t: _dt.datetime) -> float:
    """Days from ``t`` to the span of the master's inputs (0 inside it)."""
    if t < m.date_start:
        return -days_between(t, m.date_start)
    if t > m.date_end:
        return -days_between(m.date_end, t)
    return 0.0


def _exptime_distance(m: MasterRecord, ctx: _Context) -> float:
    if ctx.target.exptime is None:
        return 0.0
    if m.exptime is None:
        return math.inf
    return max(0.0, abs(m.exptime - ctx.target.exptime) - ctx.rules.exptime_tolerance)


def _rank_key(m: MasterRecord, ctx: _Context) -> tuple[float, ...]:
    factor = _bin_factor(m, ctx)
    uses_exptime = ctx.kind == "dark" and ctx.rules.dark_exptime_policy != "ignore"
    mid = m.date_mid or m.date_start
    created = (m.created or m.date_end).timestamp()
    return (
        0.0 if factor == (1, 1) else 1.0,
        _exptime_distance(m, ctx) if uses_exptime else 0.0,
        0.0 if _same_night(m, ctx) else 1.0,
        abs(_span_distance(m, ctx.target.date_obs)),
        abs(days_between(ctx.target.date_obs, mid)),
        -created,
        float(m.id),
    )


def _lost_because(
    m: MasterRecord,
    key: tuple[float, ...],
    best: MasterRecord,
    best_key: tuple[float, ...],
    ctx: _Context,
) -> Reason:
    """The first preference on which ``m`` lost to ``best``."""
    step = next(i for i, (a, b) in enumerate(zip(key, best_key, strict=True)) if a != b)
    t = ctx.target
    if step == 0:
        return Reason(
            "derived_binning",
            f"would have to be binned to {t.binning}; #{best.id} already has that binning",
        )
    if step == 1:
        return Reason(
            "exptime_farther",
            f"exposure {format_exposure(m.exptime)} is farther from the science "
            f"{format_exposure(t.exptime)} than #{best.id}'s {format_exposure(best.exptime)}",
        )
    if step == 2:
        return Reason("other_night", f"from another night; #{best.id} is from the science night")
    if step == 3:
        return Reason(
            "farther_in_time",
            f"farther in time: {abs(_span_distance(m, t.date_obs)):.2f} d from the science "
            f"frame, #{best.id} is {abs(_span_distance(best, t.date_obs)):.2f} d",
        )
    if step == 4:
        return Reason(
            "farther_in_time",
            f"its midpoint is farther in time: {abs(key[4]):.2f} d from the science frame, "
            f"#{best.id}'s is {abs(best_key[4]):.2f} d",
        )
    if step == 5:
        return Reason("older", f"as close as #{best.id}, which was made more recently")
    return Reason("tie", f"ties with #{best.id}; the lower id wins")


def _notes(m: MasterRecord, ctx: _Context) -> tuple[str, ...]:
    notes: list[str] = []
    t = ctx.target
    factor = _bin_factor(m, ctx)
    if factor is not None and factor != (1, 1):
        notes.append(f"derived by {factor[0]}x{factor[1]} binning of flat #{m.id} ({m.binning})")
    if not _same_night(m, ctx):
        offset = ctx.rules.utc_offset_hours
        night = night_of(m.date_mid or m.date_start, utc_offset_hours=offset)
        dt = days_between(t.date_obs, m.date_mid or m.date_start)
        when = "an earlier" if dt < 0 else "a later"
        notes.append(
            f"from {when} night ({night}, {abs(dt):.1f} d {'before' if dt < 0 else 'after'})"
        )
    if (
        ctx.kind == "dark"
        and t.exptime is not None
        and m.exptime is not None
        and abs(m.exptime - t.exptime) > ctx.rules.exptime_tolerance
    ):
        notes.append(f"exposure {m.exptime:g} s to be scaled to {t.exptime:g} s")
    if ctx.kind in ctx.rules.temperature_kinds and (m.ccd_temp is None or t.ccd_temp is None):
        notes.append("CCD temperature unknown, not checked")
    return tuple(notes)


def select_master(
    kind: str,
    target: MatchTarget,
    masters: Iterable[MasterRecord],
    *,
    rules: MatchRules | None = None,
    allow_finer_binning: bool = False,
) -> MatchResult:
    """Choose the master of ``kind`` for ``target`` and give a verdict on every candidate.

    Parameters
    ----------
    kind : {'bias', 'dark', 'flat'}
        The kind of master wanted; masters of other kinds are ignored.
    target : MatchTarget
        The science frame's attributes.
    masters : iterable of MasterRecord
        The candidates (usually every master of the kind in the library).
    rules : MatchRules, optional
        Tolerances and preferences; default ``MatchRules()``.
    allow_finer_binning : bool, optional
        Flats only: also accept flats of a finer binning that divides the
        science binning (the pipeline bins them); ranked after exact binning.

    Returns
    -------
    MatchResult
        ``chosen`` (or ``None``) and every candidate with its reasons.

    Examples
    --------
    >>> from ccdcal.library.records import MasterRecord
    >>> from ccdcal.library.times import to_utc
    >>> flat1x1 = MasterRecord(id=7, kind="flat", path="f.fits", checksum="c", filter="R",
    ...                        date_start=to_utc("2025-06-24T01:00"),
    ...                        date_end=to_utc("2025-06-24T01:30"))
    >>> target = MatchTarget(instrument=None, xbin=2, ybin=2, filter="R",
    ...                      date_obs=to_utc("2025-06-24T03:00"))
    >>> select_master("flat", target, [flat1x1]).chosen is None
    True
    >>> select_master("flat", target, [flat1x1], allow_finer_binning=True).note
    'derived by 2x2 binning of flat #7 (1x1)'
    """
    if kind not in KINDS:
        raise InvalidParameterError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if allow_finer_binning and kind != "flat":
        raise InvalidParameterError(
            f"allow_finer_binning is only for flats (a {kind} cannot be binned in software "
            "like an on-chip binned one); call match with allow_finer_binning=False"
        )
    rules = rules or MatchRules()
    night = night_of(target.date_obs, utc_offset_hours=rules.utc_offset_hours)
    ctx = _Context(kind, target, rules, allow_finer_binning, night)
    accepted: list[MasterRecord] = []
    rejected: list[Candidate] = []
    for m in (m for m in masters if m.kind == kind):
        failed = tuple(r for check in _REQUIREMENTS if (r := check(m, ctx)) is not None)
        if failed:
            rejected.append(_candidate(m, ctx, accepted=False, reasons=failed))
        else:
            accepted.append(m)
    keyed = sorted(((_rank_key(m, ctx), m) for m in accepted), key=lambda km: km[0])
    ranked: list[Candidate] = []
    for i, (key, m) in enumerate(keyed):
        reasons = () if i == 0 else (_lost_because(m, key, keyed[0][1], keyed[0][0], ctx),)
        ranked.append(_candidate(m, ctx, accepted=True, chosen=i == 0, reasons=reasons))
    rejected.sort(key=lambda c: (abs(c.dt_days), c.master.id))
    return MatchResult(
        kind=kind,
        target=target,
        rules=ctx.rules,
        chosen=keyed[0][1] if keyed else None,
        candidates=tuple(ranked + rejected),
    )


def _candidate(
    m: MasterRecord,
    ctx: _Context,
    *,
    accepted: bool,
    chosen: bool = False,
    reasons: tuple[Reason, ...] = (),
) -> Candidate:
    factor = _bin_factor(m, ctx)
    return Candidate(
        master=m,
        accepted=accepted,
        chosen=chosen,
        reasons=reasons,
        notes=_notes(m, ctx) if accepted else (),
        dt_days=days_between(ctx.target.date_obs, m.date_mid or m.date_start),
        bin_factor=factor if factor not in (None, (1, 1)) else None,
        same_night=_same_night(m, ctx),
    )
