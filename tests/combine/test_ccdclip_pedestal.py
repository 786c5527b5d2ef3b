"""``CCDClip(pedestal=...)``: the photon term counts from a level without photons (a bias).

Raw frames carry a bias level that has no photon noise; IRAF's ccdclip
expects bias-subtracted frames.  With ``pedestal`` the model is
``sigma^2 = (rdn/g)^2 + max(0, I - pedestal)/g + (snoise * max(0, I - pedestal))^2``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import ccdcal
from ccdcal.errors import InvalidParameterError
from ccdcal.stacking import CCDClip
from ccdcal.testing.stacks import stack_to_ccds


def _rejected(stack: np.ndarray, clip: CCDClip) -> np.ndarray:
    c = ccdcal.Combiner(stack_to_ccds(stack))
    c.reject(clip)
    return np.asarray(c.data_arr.mask)


def _reference(stack: np.ndarray, gain: float, rdn: float, pedestal: float) -> np.ndarray:
    """Rejected flags of IRAF's ccdclip about the median, iterated, with the pedestal."""
    flags = np.zeros(stack.shape, bool)
    for r in range(stack.shape[1]):
        for c in range(stack.shape[2]):
            x = stack[:, r, c].astype(np.float64)
            order = np.argsort(x, kind="stable")
            s = x[order]
            lo, hi = 0, s.size
            while hi - lo >= 2:
                centre = float(np.median(s[lo:hi]))
                level = max(0.0, centre - pedestal)
                sigma = math.sqrt((rdn / gain) ** 2 + level / gain)
                a, b = lo, hi
                while a < b and centre - s[a] > 3 * sigma:
                    a += 1
                while b > a and s[b - 1] - centre > 3 * sigma:
                    b -= 1
                if (a, b) == (lo, hi):
                    break
                lo, hi = a, b
            flags[order[:lo], r, c] = True
            flags[order[hi:], r, c] = True
    return flags


@pytest.mark.parametrize("pedestal", [0.0, 1000.0, math.inf])
def test_pedestal_matches_the_reference(pedestal: float) -> None:
    rng = np.random.default_rng(3)
    gain, rdn = 1.5, 9.0  # read noise 6 ADU
    signal = np.where(rng.random((8, 30)) < 0.3, 400.0, 20.0)  # dark current, hot pixels
    stack = 1000.0 + rng.poisson(signal * gain, (7, 8, 30)) / gain + rng.normal(0, 6, (7, 8, 30))
    stack[rng.random(stack.shape) < 0.05] += 60.0  # outliers of 10 read noises
    stack[rng.random(stack.shape) < 0.03] += 150.0  # and some beyond 3 sigma without a pedestal
    stack = np.round(stack).astype(np.float32)
    clip = CCDClip(gain=gain, read_noise=rdn, pedestal=pedestal, nkeep=0)
    ours = _rejected(stack, clip)
    np.testing.assert_array_equal(ours, _reference(stack, gain, rdn, pedestal))
    assert ours.any()


def test_without_a_pedestal_the_bias_level_hides_outliers() -> None:
    """A raw bias at 1000 ADU: the photon term of 1000 ADU would make sigma 27 ADU, not 6."""
    rng = np.random.default_rng(4)
    stack = (1000.0 + rng.normal(0.0, 6.0, (5, 20, 20))).astype(np.float32)
    stack[2] += 60.0  # ten read noises: a cosmic ray
    plain = _rejected(stack, CCDClip(gain=1.5, read_noise=9.0))
    bias = _rejected(stack, CCDClip(gain=1.5, read_noise=9.0, pedestal=math.inf))
    assert plain[2].mean() < 0.5
    assert bias[2].all()


def test_pedestal_is_described_and_checked() -> None:
    assert "pedestal" not in CCDClip(gain=2.0, read_noise=5.0).describe()
    assert CCDClip(gain=2.0, read_noise=5.0, pedestal=math.inf).describe().endswith("pedestal=inf)")
    with pytest.raises(InvalidParameterError, match="pedestal must be a level in ADU"):
        CCDClip(pedestal=float("nan"))
