"""The QA statistics against the plain computations they stand for.

:func:`clipped_stats` sorts its sample once and picks medians from the
sorted values; :func:`downsample` sums strided views.  Both must give what
the straightforward computations give.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.stats import mad_std

from ccdcal.report.measure import clipped_stats, downsample


def _reference_clip(
    values: np.ndarray, sigma: float, maxiters: int = 5
) -> tuple[float, float, np.ndarray]:
    """Sigma clipping about the median with astropy's ``mad_std``, recomputed every pass."""
    keep = np.ones(values.size, dtype=bool)
    centre, spread = float(np.median(values)), float(mad_std(values))
    for _ in range(maxiters):
        if not spread > 0:
            break
        new = np.abs(values - centre) <= sigma * spread
        if np.array_equal(new, keep):
            break
        keep = new
        centre, spread = float(np.median(values[keep])), float(mad_std(values[keep]))
    return centre, spread, keep


def _samples(rng: np.random.Generator) -> list[np.ndarray]:
    samples: list[np.ndarray] = []
    for n in (1, 2, 3, 4, 7, 50, 51, 1000, 4097):
        sky = rng.normal(1000.0, 20.0, n)
        stars = rng.random(n) < 0.05
        sky[stars] += rng.uniform(100.0, 5000.0, int(stars.sum()))
        samples.append(sky.astype(np.float32))
        samples.append(np.round(rng.normal(10.0, 2.0, n)).astype(np.float32))  # many ties
        samples.append(rng.integers(0, 3, n).astype(np.float64))
        samples.append(rng.standard_cauchy(n))  # heavy tails: many passes
    return samples


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_clipped_stats_equal_the_plain_computation(sigma: float) -> None:
    for values in _samples(np.random.default_rng(7)):
        centre, spread, keep = clipped_stats(values, sigma=sigma)
        ref_centre, ref_spread, ref_keep = _reference_clip(values, sigma)
        assert centre == ref_centre, values.size
        assert spread == ref_spread, values.size
        np.testing.assert_array_equal(keep, ref_keep)


def test_clipped_stats_of_nothing_and_of_nan() -> None:
    centre, spread, keep = clipped_stats(np.zeros(0, np.float32))
    assert math.isnan(centre)
    assert math.isnan(spread)
    assert keep.size == 0
    centre, spread, keep = clipped_stats(np.array([1.0, np.nan, 2.0], np.float32))
    assert math.isnan(centre)
    assert math.isnan(spread)
    assert keep.all()


def test_clipped_stats_find_the_sky_under_stars() -> None:
    rng = np.random.default_rng(8)
    sky = rng.normal(500.0, 10.0, 60000).astype(np.float32)
    sky[:3000] += rng.uniform(200.0, 2000.0, 3000).astype(np.float32)
    centre, spread, keep = clipped_stats(sky)
    assert centre == pytest.approx(500.0, abs=0.3)
    assert spread == pytest.approx(10.0, rel=0.02)
    assert not keep[:3000][sky[:3000] > 600].any()


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 5, 7, 9])
def test_downsample_is_the_block_mean(factor: int) -> None:
    rng = np.random.default_rng(factor)
    image = rng.normal(1.0, 0.1, (factor * 21 + 1, factor * 33)).astype(np.float32)  # a row over
    ny, nx = image.shape[0] // factor, image.shape[1] // factor
    blocks = image[: ny * factor, : nx * factor].reshape(ny, factor, nx, factor)
    expected = blocks.astype(np.float64).mean(axis=(1, 3))
    result = downsample(image, max_size=33)
    assert result.shape == (ny, nx)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=3e-7 * factor)


def test_downsample_fills_holes_with_the_median() -> None:
    image = np.ones((8, 8), np.float32)
    image[:2, :2] = np.nan
    result = downsample(image, max_size=4)
    np.testing.assert_array_equal(result, np.ones((4, 4), np.float32))
