"""Each rejection algorithm against a plain per-pixel numpy reference written here.

The references follow the published rules (astropy's ``sigma_clip``, IRAF
imcombine's ccdclip / avsigclip / pclip / minmax, Siril's winsorized and
percentile clipping) one pixel at a time on sorted values; the engine must
reject exactly the same values and combine what is left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from astropy.stats import sigma_clip

import ccdcal
from ccdcal.errors import InvalidParameterError, ParameterTypeError
from ccdcal.stacking import (
    AvSigClip,
    CCDClip,
    ExtremaClip,
    MinMaxClip,
    PClip,
    PercentileClip,
    SigmaClip,
    WinsorizedSigmaClip,
)
from ccdcal.stacking.rejection import compile_rejection, pclip_offset
from ccdcal.testing.stacks import gaussian_stack, stack_to_ccds


def _stack(n: int, seed: int, *, shape: tuple[int, int] = (6, 23)) -> np.ndarray:
    """Integer-valued (raw-like) stack with outliers on both sides and ties."""
    stack, _ = gaussian_stack(
        n,
        shape,
        level=500.0,
        noise=6.0,
        seed=seed,
        outlier_fraction=0.06,
        outlier_value=80.0,
        rounded=True,
    )
    rng = np.random.default_rng(seed + 100)
    low = rng.random(stack.shape) < 0.03
    stack[low] -= 90.0
    return stack


def _flags(stack: np.ndarray, rejection: Any) -> np.ndarray:
    c = ccdcal.Combiner(stack_to_ccds(stack))
    c.reject(rejection)
    return np.asarray(c.data_arr.mask)


def _per_pixel(stack: np.ndarray, keep_fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Rejected flags from a function giving the kept mask of one pixel's values."""
    flags = np.zeros(stack.shape, bool)
    for r in range(stack.shape[1]):
        for c in range(stack.shape[2]):
            flags[:, r, c] = ~keep_fn(stack[:, r, c].astype(np.float64))
    return flags


def _keep_range(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Kept mask of x for the sorted index range [lo, hi) (ties: first in frame order)."""
    order = np.argsort(x, kind="stable")
    keep = np.zeros(x.size, bool)
    keep[order[lo:hi]] = True
    return keep


def _median(s: np.ndarray) -> float:
    return float(np.median(s)) if s.size else np.nan


# --------------------------------------------------------------------------- sigma clipping


@pytest.mark.parametrize("center", ["median", "mean"])
@pytest.mark.parametrize("deviation", ["std", "mad_std"])
def test_sigma_clip_one_pass_matches_astropy(center: str, deviation: str) -> None:
    """One pass (ccdproc's sigma_clip): exactly astropy's sigma_clip."""
    stack = _stack(11, seed=1)
    ours = _flags(
        stack, SigmaClip(low=2.5, high=2.0, maxiters=1, center=center, deviation=deviation, nkeep=0)
    )

    def keep(x: np.ndarray) -> np.ndarray:
        clipped = sigma_clip(
            x,
            sigma_lower=2.5,
            sigma_upper=2.0,
            maxiters=1,
            cenfunc=center,
            stdfunc=deviation,
            masked=True,
        )
        return ~np.ma.getmaskarray(clipped)

    np.testing.assert_array_equal(ours, _per_pixel(stack, keep))
    assert ours.any()


@pytest.mark.parametrize("center", ["median", "mean"])
@pytest.mark.parametrize("deviation", ["std", "mad_std"])
@pytest.mark.parametrize("maxiters", [3, None])
def test_sigma_clip_iterations_are_cumulative(
    center: str, deviation: str, maxiters: int | None
) -> None:
    """Iterating: a value once rejected stays rejected (IRAF; astropy re-tests all
    values against the last bounds only, see docs/ccdproc-differences.md)."""
    stack = _stack(11, seed=1)
    ours = _flags(
        stack,
        SigmaClip(
            low=2.5, high=2.0, maxiters=maxiters, center=center, deviation=deviation, nkeep=0
        ),
    )
    cen = np.median if center == "median" else np.mean

    def dev(v: np.ndarray) -> float:
        if deviation == "std":
            return float(np.std(v))
        return float(1.482602218505602 * np.median(np.abs(v - np.median(v))))

    def keep(x: np.ndarray) -> np.ndarray:
        k = np.ones(x.size, bool)
        it = 0
        while maxiters is None or it < maxiters:
            v = x[k]
            if v.size == 0:
                break
            c, s = cen(v), dev(v)
            new = k & (x >= c - 2.5 * s) & (x <= c + 2.0 * s)
            it += 1
            if (new == k).all():
                break
            k = new
        return k

    np.testing.assert_array_equal(ours, _per_pixel(stack, keep))


def test_sigma_clip_raw_mad_and_one_side() -> None:
    from astropy.stats import median_absolute_deviation

    stack = _stack(9, seed=2)
    ours = _flags(
        stack,
        SigmaClip(
            low=None,
            high=4,
            maxiters=1,
            center=np.ma.median,
            deviation=median_absolute_deviation,
            nkeep=0,
        ),
    )

    def keep(x: np.ndarray) -> np.ndarray:
        med = np.median(x)
        return x <= med + 4 * np.median(np.abs(x - med))

    np.testing.assert_array_equal(ours, _per_pixel(stack, keep))


def test_sigma_clip_custom_functions_slow_path() -> None:
    """An unknown centre function runs on masked arrays and gives the same answer."""
    stack = _stack(8, seed=3)

    def my_median(a: np.ma.MaskedArray, axis: int) -> Any:
        return np.ma.median(a, axis=axis)

    fast = _flags(
        stack, SigmaClip(low=3, high=3, maxiters=2, center="median", deviation="std", nkeep=0)
    )
    slow = _flags(
        stack, SigmaClip(low=3, high=3, maxiters=2, center=my_median, deviation="std", nkeep=0)
    )
    np.testing.assert_array_equal(slow, fast)


# --------------------------------------------------------------------------- min/max, extrema


def test_minmax_thresholds_are_inclusive() -> None:
    stack = _stack(6, seed=4)
    ours = _flags(stack, MinMaxClip(low=495, high=505))
    np.testing.assert_array_equal(ours, (stack < 495) | (stack > 505))


@pytest.mark.parametrize(("nlow", "nhigh"), [(1, 1), (0, 2), (3, 0), (2, 3)])
def test_extrema_by_count(nlow: int, nhigh: int) -> None:
    stack = _stack(7, seed=5)
    ours = _flags(stack, ExtremaClip(nlow=nlow, nhigh=nhigh, nkeep=0))
    expected = _per_pixel(stack, lambda x: _keep_range(x, nlow, x.size - nhigh))
    # with ties the chosen copies may differ, the counts and values may not
    np.testing.assert_array_equal(ours.sum(axis=0), expected.sum(axis=0))
    kept_ours = np.where(ours, np.nan, stack)
    kept_ref = np.where(expected, np.nan, stack)
    np.testing.assert_array_equal(np.sort(kept_ours, axis=0), np.sort(kept_ref, axis=0))


def test_extrema_with_ties_keeps_exact_counts() -> None:
    values = np.array([5.0, 5.0, 5.0, 7.0, 7.0])[:, None, None]
    stack = np.broadcast_to(values, (5, 2, 3)).astype(np.float32)
    ours = _flags(stack, ExtremaClip(nlow=1, nhigh=1, nkeep=0))
    assert (ours.sum(axis=0) == 2).all()
    result = ccdcal.combine(stack_to_ccds(stack), rejection=ExtremaClip(nlow=1, nhigh=1))
    np.testing.assert_allclose(result.data, (5 + 5 + 7) / 3, rtol=1e-6)


def test_extrema_nkeep_floor() -> None:
    stack = np.array([1.0, 2.0, 3.0])[:, None, None] * np.ones((3, 1, 2), np.float32)
    assert _flags(stack, ExtremaClip(nlow=2, nhigh=2, nkeep=0)).all()
    kept = ~_flags(stack, ExtremaClip(nlow=2, nhigh=2, nkeep=1))
    np.testing.assert_array_equal(kept[:, 0, 0], [False, True, False])
    # negative nkeep: reject at most that many
    kept = ~_flags(stack, ExtremaClip(nlow=2, nhigh=2, nkeep=-1))
    assert (kept.sum(axis=0) == 2).all()


# --------------------------------------------------------------------------- IRAF algorithms


def _ccd_sigma(c: float, gain: float, rdn: float, snoise: float) -> float:
    level = max(c, 0.0)
    return float(np.sqrt((rdn / gain) ** 2 + level / gain + (snoise * level) ** 2))


@pytest.mark.parametrize("maxiters", [1, None])
def test_ccdclip(maxiters: int | None) -> None:
    gain, rdn, snoise = 2.0, 10.0, 0.01
    stack = _stack(9, seed=6)

    def keep(x: np.ndarray) -> np.ndarray:
        s = np.sort(x)
        lo, hi = 0, s.size
        c = _median(s)
        it = 0
        while (maxiters is None or it < maxiters) and hi - lo >= 2:
            sig = _ccd_sigma(c, gain, rdn, snoise)
            a, b = lo, hi
            while a < b and c - s[a] > 3 * sig:
                a += 1
            while b > a and s[b - 1] - c > 3 * sig:
                b -= 1
            it += 1
            if (a, b) == (lo, hi):
                break
            lo, hi = a, b
            c = _median(s[lo:hi])
        return _keep_range(x, lo, hi)

    clip = CCDClip(gain=gain, read_noise=rdn, snoise=snoise, maxiters=maxiters, nkeep=0)
    ours = _flags(stack, clip)
    np.testing.assert_array_equal(ours, _per_pixel(stack, keep))
    assert ours.any()


def test_ccdclip_gain_from_header_keywords() -> None:
    stack = _stack(6, seed=7)
    meta = [{"GAIN": 2.0, "RDNOISE": 10.0}] * 6
    frames = stack_to_ccds(stack, meta=meta)
    by_key = ccdcal.combine(frames, rejection=CCDClip(gain="GAIN", read_noise="RDNOISE"))
    by_value = ccdcal.combine(frames, rejection=CCDClip(gain=2.0, read_noise=10.0))
    np.testing.assert_array_equal(by_key.data, by_value.data)
    with pytest.raises(KeyError, match="no keyword 'EGAIN'"):
        ccdcal.combine(frames, rejection=CCDClip(gain="EGAIN"))


def test_ccdclip_per_frame_noise_and_scales() -> None:
    """Frames with different gains: each value is judged with its own frame's model."""
    stack = _stack(7, seed=8)
    gains = np.linspace(1.0, 3.0, 7)
    frames = stack_to_ccds(stack, meta=[{"GAIN": float(g), "RN": 8.0} for g in gains])
    ours = ccdcal.combine(
        frames, rejection=CCDClip(gain="GAIN", read_noise="RN", nkeep=0), rejection_map=True
    )

    def keep_idx(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        s = x[order]
        lo, hi = 0, s.size
        c = _median(s)
        while hi - lo >= 2:
            a, b = lo, hi
            while a < b and c - s[a] > 3 * _ccd_sigma(c, gains[order[a]], 8.0, 0.0):
                a += 1
            while b > a and s[b - 1] - c > 3 * _ccd_sigma(c, gains[order[b - 1]], 8.0, 0.0):
                b -= 1
            if (a, b) == (lo, hi):
                break
            lo, hi = a, b
            c = _median(s[lo:hi])
        keep = np.zeros(x.size, bool)
        keep[order[lo:hi]] = True
        return keep

    expected = _per_pixel(stack, keep_idx)
    np.testing.assert_array_equal(ours.flags, expected.sum(axis=0))


def test_avsigclip_row_sigma() -> None:
    stack = _stack(8, seed=9)
    ours = _flags(stack, AvSigClip(low=3, high=3, nkeep=0))
    expected = np.zeros(stack.shape, bool)
    for r in range(stack.shape[1]):
        row = stack[:, r, :].astype(np.float64)
        total, count = 0.0, 0
        for c in range(row.shape[1]):
            med = np.median(row[:, c])
            total += float(np.sum((row[:, c] - med) ** 2 / max(1.0, med)))
            count += row.shape[0]
        g = np.sqrt(total / (count - 1))
        for c in range(row.shape[1]):
            x = row[:, c]
            s = np.sort(x)
            lo, hi = 0, s.size
            med = _median(s)
            while hi - lo >= 3:
                sig = g * np.sqrt(max(1.0, med))
                a, b = lo, hi
                while a < b and med - s[a] > 3 * sig:
                    a += 1
                while b > a and s[b - 1] - med > 3 * sig:
                    b -= 1
                if (a, b) == (lo, hi):
                    break
                lo, hi = a, b
                med = _median(s[lo:hi])
            expected[:, r, c] = ~_keep_range(x, lo, hi)
    np.testing.assert_array_equal(ours, expected)
    assert ours.any()


def test_pclip_offset_follows_iraf() -> None:
    # IRAF: i = (nimages-1)/2; |pclip| < 1 -> pclip*i; truncated, kept within [1, i]
    assert pclip_offset(-0.5, 11) == -2
    assert pclip_offset(0.5, 11) == 2
    assert pclip_offset(-0.1, 11) == -1
    assert pclip_offset(-9, 11) == -5
    assert pclip_offset(3, 4) == 1


@pytest.mark.parametrize("pclip", [-0.5, 0.5, -2.0])
def test_pclip(pclip: float) -> None:
    stack = _stack(10, seed=10)
    p = pclip_offset(pclip, 10)
    ours = _flags(stack, PClip(pclip=pclip, low=2.0, high=2.0, nkeep=0))

    def keep(x: np.ndarray) -> np.ndarray:
        s = np.sort(x)
        m = s.size
        med = _median(s)
        n2 = 1 + m // 2
        if p < 0:
            n3 = max(1, n2 - 1 + p) if m % 2 == 0 else max(1, n2 + p)
            sigma = med - s[n3 - 1]
        else:
            n3 = min(m, n2 + p)
            sigma = s[n3 - 1] - med
        if sigma <= 0:
            return np.ones(m, bool)
        lo, hi = 0, m
        while lo < hi and (med - s[lo]) / sigma >= 2.0:
            lo += 1
        while hi > lo and (s[hi - 1] - med) / sigma >= 2.0:
            hi -= 1
        return _keep_range(x, lo, hi)

    np.testing.assert_array_equal(ours, _per_pixel(stack, keep))
    assert ours.any()


def test_winsorized_sigma_clip() -> None:
    stack = _stack(12, seed=11)
    ours = _flags(stack, WinsorizedSigmaClip(low=3, high=3, nkeep=0))

    def winsor_sigma(s: np.ndarray, med: float) -> float:
        sigma = float(np.std(s, ddof=1))
        for _ in range(50):
            if sigma <= 0:
                return sigma
            w = np.clip(s, med - 1.5 * sigma, med + 1.5 * sigma)
            new = 1.134 * float(np.std(w, ddof=1))
            done = abs(new - sigma) <= 5e-4 * sigma
            sigma = new
            if done:
                break
        return sigma

    def keep(x: np.ndarray) -> np.ndarray:
        s = np.sort(x)
        lo, hi = 0, s.size
        while hi - lo > 3:
            med = _median(s[lo:hi])
            sigma = winsor_sigma(s[lo:hi], med)
            if sigma <= 0:
                break
            a, b = lo, hi
            while a < b and s[a] < med - 3 * sigma:
                a += 1
            while b > a and s[b - 1] > med + 3 * sigma:
                b -= 1
            if (a, b) == (lo, hi):
                break
            lo, hi = a, b
        return _keep_range(x, lo, hi)

    np.testing.assert_array_equal(ours, _per_pixel(stack, keep))
    assert ours.any()


def test_percentile_clip() -> None:
    stack = _stack(7, seed=12)
    ours = _flags(stack, PercentileClip(low=0.1, high=0.05, nkeep=0))

    def keep(x: np.ndarray) -> np.ndarray:
        med = np.median(x)
        return ~((med - x > 0.1 * med) | (x - med > 0.05 * med))

    np.testing.assert_array_equal(ours, _per_pixel(stack, keep))
    assert ours.any()


# --------------------------------------------------------------------------- combining


@pytest.mark.parametrize(
    "rejection",
    [
        SigmaClip(low=3, high=3),
        CCDClip(gain=2.0, read_noise=10.0),
        AvSigClip(),
        PClip(),
        WinsorizedSigmaClip(),
        PercentileClip(low=0.1, high=0.1),
        [MinMaxClip(low=420), ExtremaClip(nlow=0, nhigh=1)],
    ],
)
def test_combined_value_is_the_mean_of_kept_values(rejection: Any) -> None:
    stack = _stack(9, seed=13)
    flags = _flags(stack, rejection)
    result = ccdcal.combine(stack_to_ccds(stack), rejection=rejection, rejection_map=True)
    kept = np.ma.MaskedArray(stack.astype(np.float64), mask=flags)
    np.testing.assert_allclose(result.data, kept.mean(axis=0).filled(np.nan), rtol=1e-6)
    np.testing.assert_array_equal(result.flags, flags.sum(axis=0))


def test_nkeep_default_keeps_one_value() -> None:
    stack = np.array([1.0, 50.0, 100.0])[:, None, None] * np.ones((3, 2, 2), np.float32)
    result = ccdcal.combine(
        stack_to_ccds(stack), rejection=[MinMaxClip(high=1000), ExtremaClip(nlow=2, nhigh=2)]
    )
    assert not result.mask.any()
    np.testing.assert_allclose(result.data, 50.0)


def test_rejection_validation() -> None:
    with pytest.raises(InvalidParameterError, match="only one statistical rejection"):
        compile_rejection([SigmaClip(), CCDClip()])
    with pytest.raises(InvalidParameterError, match="only one MinMaxClip"):
        compile_rejection([MinMaxClip(low=1), MinMaxClip(high=2)])
    with pytest.raises(ParameterTypeError, match="rejection entries must be"):
        compile_rejection([SigmaClip(), "sigclip"])  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match="low must be >= 0"):
        SigmaClip(low=-1)
    with pytest.raises(InvalidParameterError, match="unknown center 'mode'"):
        SigmaClip(center="mode")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="gain must be > 0"):
        CCDClip(gain=0)
    with pytest.raises(InvalidParameterError, match="pclip must be finite and not 0"):
        PClip(pclip=0)
    with pytest.raises(InvalidParameterError, match=r"low .* is above high"):
        MinMaxClip(low=5, high=1)
    with pytest.raises(InvalidParameterError, match="grow must be a finite radius"):
        SigmaClip(grow=-1)
