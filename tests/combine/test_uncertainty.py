"""The reported sigma matches the real scatter of the combined value (Monte Carlo).

Every pixel of a synthetic stack is one independent realisation: the
variance of (result - truth) over 40 000 pixels must equal the mean of the
reported variances, within the Monte Carlo error (about 1 %).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ccdcal
from ccdcal.stacking import SigmaClip
from ccdcal.stacking._median_table import MEDIAN_EFFICIENCY
from ccdcal.testing.stacks import gaussian_stack, stack_to_ccds

SHAPE = (200, 200)
TRUTH = 1000.0


def _ratio(result: Any, truth: float = TRUTH) -> float:
    """sqrt(mean reported variance) / empirical std of the combined value."""
    good = ~result.mask
    empirical = np.std(result.data[good].astype(np.float64) - truth)
    reported = np.sqrt(np.mean(result.uncertainty.array[good].astype(np.float64) ** 2))
    return float(reported / empirical)


@pytest.mark.parametrize(
    ("method", "n"), [("average", 9), ("median", 9), ("median", 10), ("sum", 9), ("average", 3)]
)
def test_sigma_from_scatter(method: str, n: int) -> None:
    stack, _ = gaussian_stack(n, SHAPE, level=TRUTH, noise=10.0, seed=n)
    result = ccdcal.combine(stack_to_ccds(stack), method=method)
    truth = TRUTH * n if method == "sum" else TRUTH
    assert _ratio(result, truth) == pytest.approx(1.0, abs=0.025)


@pytest.mark.parametrize(
    ("n", "k", "deviation", "tol"),
    [
        (9, 5.0, "mad_std", 0.05),
        (15, 5.0, "mad_std", 0.025),
        (9, 3.0, "std", 0.025),
        (30, 3.0, "std", 0.04),
    ],
)
def test_sigma_with_clipping(n: int, k: float, deviation: str, tol: float) -> None:
    """Clipped average: the Guide's 5-sigma MAD clip (with outliers) and std-based clips
    (a std-based clip of few frames cannot remove a single outlier, so none here)."""
    outliers = 0.01 if deviation == "mad_std" else 0.0
    stack, _ = gaussian_stack(
        n, SHAPE, level=TRUTH, noise=10.0, seed=21, outlier_fraction=outliers, outlier_value=500.0
    )
    result = ccdcal.combine(
        stack_to_ccds(stack),
        sigma_clip=True,
        sigma_clip_func="median",
        sigma_clip_dev_func=deviation,
        sigma_clip_low_thresh=k,
        sigma_clip_high_thresh=k,
    )
    assert _ratio(result) == pytest.approx(1.0, abs=tol)
    if deviation == "mad_std":
        # the outliers were removed: no bias at the level of their contribution
        assert abs(float(np.mean(result.data)) - TRUTH) < 0.2


def test_tight_mad_clip_on_few_frames_is_optimistic() -> None:
    """Known limit (documented): 3-sigma MAD clipping of 9 frames rejects ~4 % of good
    values, because the MAD of 9 values is noisy; the survivors' scatter then
    understates the error of their mean by ~14 %.  More frames shrink the gap."""
    ratios = []
    for n in (9, 30):
        stack, _ = gaussian_stack(n, SHAPE, level=TRUTH, noise=10.0, seed=23)
        result = ccdcal.combine(
            stack_to_ccds(stack),
            rejection=SigmaClip(low=3, high=3, maxiters=1, deviation="mad_std"),
        )
        ratios.append(_ratio(result))
    assert 0.8 < ratios[0] < 0.92
    assert ratios[0] < ratios[1] < 1.0


def test_sigma_with_iterative_clipping_median() -> None:
    stack, _ = gaussian_stack(
        11, SHAPE, level=TRUTH, noise=10.0, seed=22, outlier_fraction=0.01, outlier_value=300.0
    )
    result = ccdcal.combine(
        stack_to_ccds(stack),
        method="median",
        rejection=SigmaClip(low=5, high=5, maxiters=None, deviation="mad_std"),
    )
    assert _ratio(result) == pytest.approx(1.0, abs=0.04)


def _frames_with_sigmas(sigmas: np.ndarray, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    n = sigmas.size
    data = TRUTH + sigmas[:, None, None] * rng.standard_normal((n, *SHAPE))
    unc = np.broadcast_to(sigmas[:, None, None], data.shape)
    return stack_to_ccds(data.astype(np.float32), uncertainty=unc.astype(np.float32))


def test_input_uncertainties_are_propagated() -> None:
    sigmas = np.array([4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0])
    frames = _frames_with_sigmas(sigmas, seed=31)
    plain = ccdcal.combine(frames)
    np.testing.assert_allclose(
        plain.uncertainty.array, np.sqrt(np.sum(sigmas**2)) / sigmas.size, rtol=1e-5
    )
    assert _ratio(plain) == pytest.approx(1.0, abs=0.025)
    summed = ccdcal.combine(frames, method="sum")
    np.testing.assert_allclose(summed.uncertainty.array, np.sqrt(np.sum(sigmas**2)), rtol=1e-5)


def test_inverse_variance_weights() -> None:
    sigmas = np.array([4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0])
    frames = _frames_with_sigmas(sigmas, seed=32)
    best = ccdcal.combine(frames, weights="inverse_variance")
    expected = 1 / np.sqrt(np.sum(1 / sigmas**2))
    np.testing.assert_allclose(best.uncertainty.array, expected, rtol=1e-5)
    assert _ratio(best) == pytest.approx(1.0, abs=0.025)
    # and it is better than the plain average, as it should be
    assert expected < np.sqrt(np.sum(sigmas**2)) / sigmas.size


def test_median_with_input_uncertainties() -> None:
    sigmas = np.full(9, 10.0)
    result = ccdcal.combine(_frames_with_sigmas(sigmas, seed=33), method="median")
    assert _ratio(result) == pytest.approx(1.0, abs=0.025)


@pytest.mark.parametrize("n", [3, 4, 9, 10, 25])
def test_median_efficiency_table(n: int) -> None:
    rng = np.random.default_rng(n)
    medians = np.median(rng.standard_normal((200_000, n)), axis=1)
    assert n * np.var(medians) == pytest.approx(MEDIAN_EFFICIENCY[n], rel=0.01)


def test_ccdproc_median_sigma_is_too_small(ccdproc: Any) -> None:
    """ccdproc's 1.4826 MAD / sqrt(n) lacks the median's efficiency: about 25 % low."""
    stack, _ = gaussian_stack(9, (100, 100), level=TRUTH, noise=10.0, seed=41)
    frames = stack_to_ccds(stack.astype(np.float64))
    theirs = ccdproc.combine(frames, method="median")
    ours = ccdcal.combine(frames, method="median")
    assert _ratio(theirs) < 0.85
    assert _ratio(ours) == pytest.approx(1.0, abs=0.04)


def test_single_value_has_no_scatter_sigma() -> None:
    stack, _ = gaussian_stack(3, (4, 4), seed=1)
    mask = np.zeros(stack.shape, bool)
    mask[1:, 0, 0] = True
    result = ccdcal.combine(stack_to_ccds(stack, mask=mask))
    assert np.isnan(result.uncertainty.array[0, 0])
    assert not result.mask[0, 0]
    assert float(result.data[0, 0]) == pytest.approx(float(stack[0, 0, 0]))
