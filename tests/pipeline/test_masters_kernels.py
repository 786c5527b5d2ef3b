"""The one-pass helpers of the master builders against the numpy expressions they replace.

Bit for bit: the masters written must not change by a single bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from ccdcal.pipeline.frames import subtract_masters
from ccdcal.pipeline.masters import _median_and_mad_std
from ccdcal.pipeline.noise import bias_sigma, dark_sigma, flat_sigma, kept_counts


def _reference(raw, bias, dark, factor, sat):  # type: ignore[no-untyped-def]
    """What _prepare_flat computed before the one-pass helper."""
    n = 0 if sat is None else int(np.count_nonzero(raw >= sat))
    data = np.subtract(raw, np.asarray(bias, dtype=np.float32), dtype=np.float32)
    if dark is not None:
        with np.errstate(invalid="ignore"):  # inf * 0
            data -= np.multiply(np.asarray(dark, dtype=np.float32), np.float32(factor))
    return data, n


def _masters(shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bias = rng.normal(1000.0, 7.0, shape).astype(np.float32)
    dark = rng.normal(30.0, 40.0, shape).astype(np.float32)  # negative values too
    bias.flat[::97] = np.nan
    dark.flat[5::89] = np.inf
    dark.flat[7::101] = -0.0
    return bias, dark


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and bool(np.all(a.view(np.uint32) == b.view(np.uint32)))
    )


@pytest.mark.parametrize("factor", [0.0, 1.0 / 60.0, 1.6 / 60.0, 3.0])
@pytest.mark.parametrize("sat", [None, 65535.0, 40000.5])
def test_subtract_masters_uint16_bit_for_bit(factor: float, sat: float | None) -> None:
    shape = (37, 53)
    rng = np.random.default_rng(4)
    raw = rng.integers(0, 65536, shape, dtype=np.uint16)
    raw.flat[::13] = 65535
    bias, dark = _masters(shape, 5)
    data, n = subtract_masters(raw, bias, dark, dark_factor=factor, saturation=sat)
    want, want_n = _reference(raw, bias, dark, factor, sat)
    assert _same_bits(data, want)
    assert n == want_n
    if sat == 65535.0:
        assert n >= raw.size // 13  # the values set to 65535 are counted


@pytest.mark.parametrize("sat", [None, 30000.3, 1e30])
def test_subtract_masters_float32_frame(sat: float | None) -> None:
    """A float frame (overscan-corrected) with NaN and inf; saturation compared in float32."""
    shape = (21, 40)
    rng = np.random.default_rng(6)
    raw = rng.normal(30000.0, 3000.0, shape).astype(np.float32)
    raw.flat[::17] = np.nan
    raw.flat[3::29] = np.inf
    raw.flat[4::31] = np.float32(30000.3)  # equal to the threshold once both are float32
    bias, dark = _masters(shape, 7)
    data, n = subtract_masters(raw, bias, dark, dark_factor=0.37, saturation=sat)
    want, want_n = _reference(raw, bias, dark, 0.37, sat)
    assert _same_bits(data, want)
    assert n == want_n


def test_subtract_masters_without_kernel() -> None:
    """No dark, a strided frame, int32 data, a big-endian master: numpy's way, same values."""
    shape = (12, 18)
    rng = np.random.default_rng(8)
    bias, dark = _masters(shape, 9)
    raw16 = rng.integers(0, 65536, (12, 36), dtype=np.uint16)[:, ::2]  # not contiguous
    for raw, b, d in (
        (raw16, bias, None),
        (raw16, bias, dark),
        (raw16.astype(np.int32), bias, dark),
        (np.ascontiguousarray(raw16), bias.astype(">f4"), dark),
    ):
        data, n = subtract_masters(raw, b, d, dark_factor=0.5, saturation=60000.0)
        want, want_n = _reference(raw, b, d, 0.5, 60000.0)
        assert _same_bits(data, want)
        assert n == want_n


def test_subtract_masters_leaves_inputs_alone() -> None:
    raw = np.full((4, 4), 1000, dtype=np.uint16)
    bias, dark = _masters((4, 4), 10)
    copies = raw.copy(), bias.copy(), dark.copy()
    subtract_masters(raw, bias, dark, dark_factor=2.0, saturation=65535.0)
    for before, after in zip(copies, (raw, bias, dark), strict=True):
        assert np.array_equal(before, after, equal_nan=True)


def test_median_and_mad_std_match_astropy() -> None:
    from astropy.stats import mad_std

    rng = np.random.default_rng(11)
    for n in (1, 2, 7, 1000, 1001):
        values = rng.normal(5.0, 3.0, n).round(1)  # ties, even and odd sizes
        median, spread = _median_and_mad_std(values.copy())
        assert median == float(np.median(values))
        assert spread == float(mad_std(values))


def _sigma_inputs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (300, 250)  # several blocks of rows
    combined = rng.normal(20.0, 30.0, shape).astype(np.float32)
    combined.flat[::53] = np.nan
    flags = rng.integers(0, 3, shape).astype(np.uint16)
    bias_s = rng.uniform(1.0, 3.0, shape).astype(np.float32)
    dark_s = rng.uniform(0.5, 2.0, shape).astype(">f4")  # as mapped from a FITS file
    return combined, flags, bias_s, dark_s


def test_noise_sigmas_in_place_match_the_plain_expressions() -> None:
    combined, flags, bias_s, dark_s = _sigma_inputs(12)
    n = 5
    kept = np.maximum(np.subtract(np.float32(n), flags, dtype=np.float32), np.float32(1))
    # bias: RN / sqrt(kept)
    out = kept_counts(n, flags, flags.shape, out=np.empty(flags.shape, np.float32))
    assert _same_bits(out, kept)
    want = (np.float32(6.5) / np.sqrt(kept)).astype(np.float32)
    assert _same_bits(bias_sigma(out, read_noise=6.5, out=out), want)
    # dark: sqrt((max(D, 0)/g + RN^2)/n + sigma_B^2)
    var = np.fmax(combined, np.float32(0))
    var /= np.float32(1.1)
    var += np.float32(7.0) ** 2
    var /= kept
    var += np.square(bias_s)
    got = dark_sigma(combined, kept.copy(), gain=1.1, read_noise=7.0, bias_sigma=bias_s)
    assert _same_bits(got, np.sqrt(var))
    buffer = kept.copy()
    dark_sigma(combined, buffer, gain=1.1, read_noise=7.0, bias_sigma=dark_s, out=buffer)
    var2 = (np.fmax(combined, np.float32(0)) / np.float32(1.1) + np.float32(7.0) ** 2) / kept
    var2 += np.square(dark_s.astype(np.float32))
    assert _same_bits(buffer, np.sqrt(var2))


def test_flat_sigma_in_place_matches_the_plain_expression() -> None:
    combined, flags, bias_s, dark_s = _sigma_inputs(13)
    levels, scales = [20000.0, 25000.0, 31000.0], [0.02, 0.03, 0.05]
    kept = np.maximum(np.subtract(np.float32(3), flags, dtype=np.float32), np.float32(1))
    lv = np.asarray(levels)
    var = np.fmax(combined, np.float32(0))
    var *= np.float32(float(np.sum(1.0 / (1.1 * lv))) / 9)
    var += np.float32(float(np.sum(49.0 / lv**2)) / 9)
    var *= np.float32(3)
    var /= kept
    var += np.square(bias_s) * np.float32(np.mean(1.0 / lv) ** 2)
    var += np.square(dark_s.astype(np.float32)) * np.float32(np.mean(np.asarray(scales) / lv) ** 2)
    buffer = kept.copy()
    got = flat_sigma(
        combined,
        buffer,
        levels=levels,
        dark_scales=scales,
        gain=1.1,
        read_noise=7.0,
        bias_sigma=bias_s,
        dark_sigma=dark_s,
        out=buffer,
    )
    assert got is buffer
    assert _same_bits(got, np.sqrt(var))


def test_sigma_out_must_fit() -> None:
    combined, flags, bias_s, _ = _sigma_inputs(14)
    with pytest.raises(ValueError, match="out must be float32 of shape"):
        dark_sigma(
            combined,
            flags,
            gain=1.0,
            read_noise=1.0,
            bias_sigma=bias_s,
            out=np.empty((2, 2), np.float32),
        )
