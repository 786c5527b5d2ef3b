"""The science frame's fused arithmetic against the calibration steps it stands for.

:func:`ccdcal.pipeline.fused.calibrate_planes` must give what
``create_deviation`` -> ``subtract_bias`` -> ``subtract_dark`` ->
``flat_correct`` give, one step after the other: the same data, masks and
NaN, and the same σ up to float32 rounding.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty

from ccdcal import create_deviation, flat_correct, subtract_bias, subtract_dark
from ccdcal.errors import IncompatibleFramesError, UnitMismatchError
from ccdcal.io.fits import read_ccd, write_ccd
from ccdcal.io.provenance import read_provenance
from ccdcal.pipeline import RunResult, fused
from ccdcal.pipeline.fused import calibrate_planes, master_planes
from ccdcal.pipeline.model import FrameRef, ScienceSpec
from ccdcal.pipeline.options import ReduceOptions
from ccdcal.pipeline.science import correlated_bias_dark
from ccdcal.pipeline.tasks import MasterInput, ScienceTask, run_science_task

SHAPE = (40, 56)
GAIN, READ_NOISE = 1.7, 9.0  # e-/ADU, e-


def _master(
    rng: np.random.Generator, level: float, spread: float, sigma: float, *, holes: bool
) -> CCDData:
    """A float32 master with σ, a sparse mask and, with ``holes``, NaN at some masked pixels."""
    data = rng.normal(level, spread, SHAPE).astype(np.float32)
    mask = rng.random(SHAPE) < 0.03
    if holes:
        data[mask & (rng.random(SHAPE) < 0.5)] = np.nan
    unc = rng.uniform(0.5 * sigma, 1.5 * sigma, SHAPE).astype(np.float32)
    return CCDData(data, unit="adu", mask=mask, uncertainty=StdDevUncertainty(unc))


def _flat(rng: np.random.Generator) -> CCDData:
    """A normalised flat with unusable pixels of every kind: 0, negative, NaN, inf, masked."""
    flat = _master(rng, 1.0, 0.05, 0.004, holes=False)
    flat.data[0, :5] = [0.0, -0.3, np.nan, np.inf, 1.0]
    flat.mask[:] = False
    flat.mask[0, 4] = True
    flat.uncertainty.array[0, 2] = np.nan  # a non-finite σ under a bad pixel
    return flat


def _raw(rng: np.random.Generator, *, dtype: type) -> np.ndarray:
    raw = rng.normal(1300.0, 120.0, SHAPE)
    raw[3, 7] = 80.0  # below the bias: no Poisson term
    raw[5, 9] = 65535.0
    if np.dtype(dtype).kind == "f":
        raw[6, 6] = np.nan
    return (
        np.clip(raw, 0, 65535).astype(dtype) if np.dtype(dtype).kind == "u" else raw.astype(dtype)
    )


def _steps(
    raw: np.ndarray,
    masters: dict[str, CCDData],
    *,
    k: float,
    extra: float,
    correlated: bool,
    mask: np.ndarray,
    gain: float = GAIN,
    read_noise: float = READ_NOISE,
) -> CCDData:
    """The chain the pipeline ran before the arithmetic was fused (ccdcal.calibrate)."""
    bias, dark, flat = masters.get("bias"), masters.get("dark"), masters.get("flat")
    data = np.asarray(raw, dtype=np.float32)
    signal = data - bias.data if bias is not None else data
    dev = create_deviation(
        CCDData(signal, unit="adu"),
        gain=gain * u.electron / u.adu,
        readnoise=read_noise * u.electron,
        add_keyword=False,
    )
    sigma = np.sqrt(np.square(dev.uncertainty.array) + np.float32(extra))
    ccd = CCDData(data, unit="adu", mask=mask, uncertainty=StdDevUncertainty(sigma))
    if correlated and bias is not None and dark is not None:
        bias, dark = correlated_bias_dark(bias, dark, k)
    if bias is not None:
        ccd = subtract_bias(ccd, bias)
    if dark is not None:
        ccd = subtract_dark(ccd, dark, dark_exposure=1.0 * u.s, data_exposure=k * u.s, scale=True)
    if flat is not None:
        ccd = flat_correct(ccd, flat, norm_value=1.0)
    return ccd


def _compare(
    raw: np.ndarray, masters: dict[str, CCDData], *, k: float, extra: float, correlated: bool
) -> None:
    own_mask = np.zeros(SHAPE, dtype=bool)
    own_mask[5, 9] = True  # "saturated"
    planes = master_planes(
        masters.get("bias"), masters.get("dark"), masters.get("flat"), bias_in_dark=correlated
    )
    data, sigma, mask = calibrate_planes(
        raw,
        planes,
        dark_scale=k,
        gain=GAIN,
        read_noise=READ_NOISE,
        extra_variance=extra,
        mask=own_mask,
    )
    expected = _steps(raw, masters, k=k, extra=extra, correlated=correlated, mask=own_mask)
    np.testing.assert_array_equal(data, expected.data)  # NaN where the steps give NaN
    np.testing.assert_array_equal(mask, expected.mask)
    np.testing.assert_allclose(sigma, expected.uncertainty.array, rtol=4e-6, atol=0)
    assert data.dtype == sigma.dtype == np.float32


KINDS = [c for n in range(4) for c in itertools.combinations(("bias", "dark", "flat"), n)]


@pytest.mark.parametrize("kinds", KINDS, ids=lambda kinds: "+".join(kinds) or "none")
@pytest.mark.parametrize("k", [0.25, 1.0, 3.5])
def test_fused_equals_the_steps(kinds: tuple[str, ...], k: float) -> None:
    rng = np.random.default_rng(len(kinds) * 10 + int(k * 4))
    all_masters = {
        "bias": _master(rng, 1000.0, 4.0, 2.0, holes=True),
        "dark": _master(rng, 25.0, 6.0, 3.0, holes=True),
        "flat": _flat(rng),
    }
    masters = {kind: all_masters[kind] for kind in kinds}
    for raw_dtype, correlated, extra in [(np.uint16, True, 0.0), (np.float32, False, 6.25)]:
        raw = _raw(rng, dtype=raw_dtype)
        _compare(raw, masters, k=k, extra=extra, correlated=correlated)


@pytest.mark.filterwarnings("ignore:(invalid value|overflow) encountered:RuntimeWarning")
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 33), (0, 4)])
@pytest.mark.parametrize("raw_dtype", [np.uint16, np.int16, np.uint8, np.float32])
def test_the_one_pass_kernel_equals_the_numpy_passes_bit_for_bit(
    shape: tuple[int, int], raw_dtype: type
) -> None:
    """``_calibrate_kernel`` replaces the whole-array passes: the same bits, NaN and -0.0 too."""
    rng = np.random.default_rng(shape[0] * 100 + shape[1])

    def master(level: float, spread: float, sigma: float) -> CCDData:
        data = rng.normal(level, spread, shape).astype(np.float32)
        unc = rng.uniform(0.0, 2 * sigma, shape).astype(np.float32)
        return CCDData(data, unit="adu", uncertainty=StdDevUncertainty(unc))

    bias, dark, flat = master(100.0, 30.0, 2.0), master(5.0, 8.0, 1.0), master(1.0, 0.3, 0.01)
    special = np.array([0.0, -0.5, np.nan, np.inf, 1e-38, -0.0], dtype=np.float32)
    for plane in (bias.data, dark.data, flat.data, flat.uncertainty.array):
        plane.reshape(-1)[rng.random(plane.size) < 0.2] = rng.choice(special)
    raw = rng.normal(100.0, 80.0, shape)
    if np.dtype(raw_dtype).kind == "f":
        raw.reshape(-1)[: min(raw.size, 5)] = [np.nan, -np.inf, -0.0, 3e38, 0.0][: raw.size]
    else:
        info = np.iinfo(raw_dtype)
        raw = np.clip(raw, info.min, info.max)
    raw = raw.astype(raw_dtype)
    for correlated, k in itertools.product([False, True], [0.0, 0.5, 1.0, 2.75]):
        planes = master_planes(bias, dark, flat, bias_in_dark=correlated)
        assert fused._fits_the_kernel(raw, planes, np.dtype(np.float32))
        terms = (k, 1.7, 9.0, 0.25)
        data, sigma = fused._calibrate_in_one_pass(raw, planes, *terms)
        want_data, want_sigma = fused._calibrate_in_passes(
            raw, planes, np.dtype(np.float32), *terms
        )
        assert data.tobytes() == want_data.tobytes()
        assert sigma.tobytes() == want_sigma.tobytes()


def test_the_kernel_is_used_only_where_it_gives_the_passes_results() -> None:
    rng = np.random.default_rng(5)
    full = {"bias": _master(rng, 1000.0, 4.0, 2.0, holes=False), "flat": _flat(rng)}
    full["dark"] = _master(rng, 25.0, 6.0, 3.0, holes=False)
    planes = master_planes(full["bias"], full["dark"], full["flat"])
    f32 = np.dtype(np.float32)
    assert fused._fits_the_kernel(np.zeros(SHAPE, np.uint16), planes, f32)
    assert not fused._fits_the_kernel(np.zeros(SHAPE, ">u2"), planes, f32)  # not native
    assert not fused._fits_the_kernel(np.zeros(SHAPE, np.int32), planes, np.dtype(np.float64))
    no_dark = master_planes(full["bias"], None, full["flat"])
    assert not fused._fits_the_kernel(np.zeros(SHAPE, np.uint16), no_dark, f32)
    full["flat"].uncertainty = None
    no_flat_sigma = master_planes(full["bias"], full["dark"], full["flat"])
    assert not fused._fits_the_kernel(np.zeros(SHAPE, np.uint16), no_flat_sigma, f32)


def test_the_masters_are_left_as_they_were_and_the_planes_are_read_only() -> None:
    rng = np.random.default_rng(2)
    masters = {"bias": _master(rng, 1000.0, 4.0, 2.0, holes=True), "flat": _flat(rng)}
    before = {
        kind: (m.data.copy(), m.uncertainty.array.copy(), m.mask.copy())
        for kind, m in masters.items()
    }
    planes = master_planes(masters["bias"], None, masters["flat"])
    calibrate_planes(_raw(rng, dtype=np.uint16), planes, dark_scale=0.0, gain=1.0, read_noise=5.0)
    for kind, (data, unc, mask) in before.items():
        np.testing.assert_array_equal(masters[kind].data, data)
        np.testing.assert_array_equal(masters[kind].uncertainty.array, unc)
        np.testing.assert_array_equal(masters[kind].mask, mask)
    assert planes.bias is not None
    with pytest.raises(ValueError, match="read-only"):
        planes.bias[0, 0] = 0.0


def test_masters_of_different_shapes_are_refused() -> None:
    rng = np.random.default_rng(3)
    bias = _master(rng, 1000.0, 4.0, 2.0, holes=False)
    bias.meta["CCDCFILE"] = "bias_1x1.fits"
    small = CCDData(np.ones((20, 28), np.float32), unit="adu", meta={"CCDCFILE": "flat_2x2.fits"})
    with pytest.raises(IncompatibleFramesError, match=r"flat_2x2.fits.*shape \(20, 28\)"):
        master_planes(bias, None, small)


def test_a_frame_of_another_shape_is_refused() -> None:
    rng = np.random.default_rng(4)
    planes = master_planes(_master(rng, 1000.0, 4.0, 2.0, holes=False), None, None)
    with pytest.raises(IncompatibleFramesError, match=r"shape \(4, 4\) but its masters"):
        calibrate_planes(np.ones((4, 4), np.uint16), planes, dark_scale=0, gain=1, read_noise=1)


def test_a_bias_in_electrons_is_refused_as_subtract_bias_refuses_it() -> None:
    bias = CCDData(np.zeros(SHAPE, np.float32), unit="electron")
    with pytest.raises(UnitMismatchError, match="does not match unit 'electron'"):
        master_planes(bias, None, None)


def test_a_dark_in_a_scaled_unit_is_converted() -> None:
    rng = np.random.default_rng(5)
    dark = _master(rng, 25.0, 6.0, 3.0, holes=False)
    in_hecto = CCDData(dark.data / 100, unit=u.Unit("100 adu"), mask=dark.mask,
                       uncertainty=StdDevUncertainty(dark.uncertainty.array / 100))  # fmt: skip
    raw = _raw(rng, dtype=np.uint16)
    a = calibrate_planes(raw, master_planes(None, dark, None), dark_scale=2.0, gain=1, read_noise=3)
    b = calibrate_planes(
        raw, master_planes(None, in_hecto, None), dark_scale=2.0, gain=1, read_noise=3
    )
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6)


# --------------------------------------------------------------------------- in the pipeline


def test_pipeline_frames_equal_the_steps_on_the_master_files(reduced: RunResult) -> None:
    """Every calibrated frame of a reduced night against the steps run on its masters' files."""
    paths = reduced.master_paths()
    checked = 0
    results = {r.key: r for r in reduced.science}
    for spec in reduced.plan.science:
        result = results[spec.output]
        assert result.output is not None
        out = read_ccd(result.output)
        record = next(r for r in read_provenance(out.meta) if r["step"] == "calibrate_science")
        params = record["params"]
        masters = {kind: read_ccd(paths[key]) for kind, key in spec.masters().items()}
        raw = read_ccd(spec.path)
        saturated = np.asarray(raw.data) >= params["saturation"]
        dark_t = float(masters["dark"].meta["EXPTIME"])
        k = float(spec.frame.exptime or 0.0) / dark_t
        steps = _steps(
            np.asarray(raw.data), masters, k=k, extra=0.0, correlated=params["bias_in_dark"],
            mask=saturated, gain=params["gain"], read_noise=params["read_noise"],
        )  # fmt: skip
        np.testing.assert_allclose(out.uncertainty.array, steps.uncertainty.array, rtol=4e-6)
        np.testing.assert_array_equal(out.data, steps.data)
        np.testing.assert_array_equal(out.mask, steps.mask)
        assert params["dark_scale"] == pytest.approx(k)
        checked += 1
    assert checked >= 2


# --------------------------------------------------------------------------- failures of a task


def _task(
    tmp_path: Path, *, dark_meta: dict[str, object], dark_shape: tuple[int, int]
) -> ScienceTask:
    rng = np.random.default_rng(6)
    raw_path = tmp_path / "r0000001.fits"
    fits.PrimaryHDU(rng.integers(900, 1100, SHAPE).astype(np.uint16)).writeto(raw_path)
    bias = CCDData(np.full(SHAPE, 1000.0, np.float32), unit="adu",
                   uncertainty=StdDevUncertainty(np.ones(SHAPE, np.float32)))  # fmt: skip
    dark = CCDData(np.full(dark_shape, 5.0, np.float32), unit="adu", meta=dark_meta)
    bias_path = write_ccd(bias, tmp_path / "bias.fits")
    dark_path = write_ccd(dark, tmp_path / "dark.fits")
    frame = FrameRef(path=str(raw_path), exptime=30.0, gain=1.0, read_noise=5.0, shape=SHAPE)
    return ScienceTask(
        spec=ScienceSpec(frame=frame, output="science/r0000001.fits", bias="b", dark="d"),
        output=str(tmp_path / "out" / "science" / "r0000001.fits"),
        uses={"bias": MasterInput("b", str(bias_path)), "dark": MasterInput("d", str(dark_path))},
        options=ReduceOptions(qa_report=False),
    )


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({}, r"HeaderKeywordError: the master dark \(file 'dark.fits'\) has no EXPTIME"),
        ({"EXPTIME": 0.0}, r"ExposureTimeError: .*dark.fits.* has EXPTIME = 0.0"),
    ],
)
def test_a_dark_without_a_usable_exposure_fails_the_task_with_a_reason(
    tmp_path: Path, meta: dict[str, object], message: str
) -> None:
    result = run_science_task(_task(tmp_path, dark_meta=meta, dark_shape=SHAPE))
    assert result.status == "failed"
    assert re.search(message, result.message), result.message


def test_a_master_of_another_shape_fails_the_task_naming_the_files(tmp_path: Path) -> None:
    result = run_science_task(_task(tmp_path, dark_meta={"EXPTIME": 60.0}, dark_shape=(20, 28)))
    assert result.status == "failed"
    assert "IncompatibleFramesError" in result.message
    assert "dark.fits" in result.message
    assert "bias.fits" in result.message
