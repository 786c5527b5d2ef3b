"""Master bias and dark rejection: outliers out, Gaussian values in, honest uncertainties.

Monte Carlo over synthetic raw frames written to disk and built with
:func:`ccdcal.pipeline.masters.build_master`, as the pipeline does.  With
``N`` pixels the standard error of a standard deviation is ``1/sqrt(2N)``
(0.2 % here), far below the tolerances.  The earlier default (3σ about the
median with a ``mad_std`` of the few values at each pixel) fails the
efficiency and pull checks: it rejects good values at 20-30 % of the pixels,
so the master errs by 7-15 % more than ``RN/sqrt(n)`` and its σ says less.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

from ccdcal.io.fits import read_ccd
from ccdcal.io.provenance import read_provenance
from ccdcal.pipeline.masters import build_master, combine_frames
from ccdcal.pipeline.model import FrameRef, MasterSpec
from ccdcal.pipeline.noise import ClipNoise
from ccdcal.pipeline.options import NOISE_MODEL_CLIP, ClipSettings, ReduceOptions
from ccdcal.pipeline.tasks import MasterInput, MasterTask

GAIN = 1.5  # e-/ADU
RN = 6.0  # ADU
SHAPE = (160, 250)  # 40 000 pixels a realisation
DARK_T = 300.0
OLD = ClipSettings()  # the earlier default, ccdproc's clipping


class Camera:
    """Fixed bias and dark-current maps; raw frames rounded to integers (uint16)."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        ny, nx = SHAPE
        self.bias = 1000.0 + rng.normal(0.0, 2.5, nx)[None, :] + np.linspace(-2, 2, ny)[:, None]
        rate = np.full(SHAPE, 0.05)  # ADU/s: 15 ADU in DARK_T
        hot = rng.random(SHAPE) < 0.01
        rate[hot] = np.exp(rng.uniform(np.log(0.5), np.log(40.0), int(hot.sum())))
        self.dark = rate * DARK_T  # ADU in DARK_T, up to 12 000
        self.rng = rng

    def frame(self, exptime: float) -> np.ndarray:
        electrons = self.rng.poisson(self.dark * (exptime / DARK_T) * GAIN)
        raw = self.bias + electrons / GAIN + self.rng.normal(0.0, RN, SHAPE)
        return np.clip(np.round(raw), 0, 65535)


def _write(
    folder: Path, kind: str, frames: list[np.ndarray], exptime: float, dtype: type = np.uint16
) -> list[FrameRef]:
    folder.mkdir(parents=True, exist_ok=True)
    refs = []
    for i, data in enumerate(frames):
        path = folder / f"{kind}{i:02d}.fits"
        hdu = fits.PrimaryHDU(data.astype(dtype))
        hdu.header["EXPTIME"] = exptime
        hdu.writeto(path)
        ref = FrameRef(
            path=str(path), frame_type=kind, exptime=exptime, gain=GAIN, read_noise=RN * GAIN,
            shape=SHAPE,
        )  # fmt: skip
        refs.append(ref)
    return refs


def _build(
    folder: Path,
    kind: str,
    refs: list[FrameRef],
    options: ReduceOptions,
    uses: dict[str, MasterInput] | None = None,
) -> CCDData:
    spec = MasterSpec(
        key=f"{kind}_1x1", kind=kind, source="tonight", output=f"{kind}.fits",  # type: ignore[arg-type]
        exptime=refs[0].exptime, shape=SHAPE, inputs=tuple(r.path for r in refs),
    )  # fmt: skip
    task = MasterTask(
        spec=spec, output=str(folder / f"{kind}.fits"), frames=tuple(refs), uses=uses or {},
        options=options, threads=1,
    )  # fmt: skip
    result = build_master(task)
    assert result.output is not None
    return read_ccd(result.output)


def _masters(
    folder: Path, n: int, seed: int, options: ReduceOptions, *, darks: bool = True
) -> tuple[Camera, CCDData, CCDData | None]:
    """A camera, its master bias and (optionally) master dark from n frames each."""
    cam = Camera(seed)
    bias_refs = _write(folder / "bias", "bias", [cam.frame(0.0) for _ in range(n)], 0.0)
    bias = _build(folder, "bias", bias_refs, options)
    if not darks:
        return cam, bias, None
    dark_refs = _write(folder / "dark", "dark", [cam.frame(DARK_T) for _ in range(n)], DARK_T)
    use = {"bias": MasterInput(key="bias_1x1", path=str(folder / "bias.fits"))}
    return cam, bias, _build(folder, "dark", dark_refs, options, use)


def _error_and_pull(master: CCDData, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    error = np.asarray(master.data, np.float64) - truth
    return error, error / np.asarray(master.uncertainty.array, np.float64)


# ----------------------------------------------------------------------------- efficiency, pull


@pytest.mark.parametrize("n", [3, 5, 10])
def test_master_bias_keeps_gaussian_values_and_its_sigma_is_honest(tmp_path: Path, n: int) -> None:
    errors, pulls = [], []
    for seed in (11, 12):
        cam, bias, _ = _masters(tmp_path / str(seed), n, seed, ReduceOptions(), darks=False)
        error, pull = _error_and_pull(bias, cam.bias)
        errors.append(error.ravel())
        pulls.append(pull.ravel())
    # the frames' noise: read noise and rounding to integers
    ideal = math.sqrt(RN**2 + 1 / 12) / math.sqrt(n)
    efficiency = float(np.std(np.concatenate(errors))) / ideal
    assert abs(efficiency - 1) < 0.03, efficiency
    pull_std = float(np.std(np.concatenate(pulls)))
    assert 0.98 < pull_std < 1.02, pull_std
    assert abs(float(np.mean(np.concatenate(pulls)))) < 0.02


@pytest.mark.parametrize("n", [3, 5, 10])
def test_master_dark_sigma_is_honest_with_dark_current_and_hot_pixels(
    tmp_path: Path, n: int
) -> None:
    cam, _, dark = _masters(tmp_path, n, 20 + n, ReduceOptions())
    assert dark is not None
    error, pull = _error_and_pull(dark, cam.dark)
    pull_std = float(np.std(pull))
    assert 0.98 < pull_std < 1.02, pull_std
    hot = cam.dark > 100
    assert hot.sum() > 200
    assert 0.9 < float(np.std(pull[hot])) < 1.1  # shot-noise dominated pixels too
    # a hot pixel's values all agree with its own level: none is rejected as an outlier
    assert abs(float(np.median(error[hot] / cam.dark[hot]))) < 0.01


def test_the_earlier_default_fails_the_same_checks(tmp_path: Path) -> None:
    """Why the default changed: with mad_std from 5 values the master is noisier than its σ."""
    old = ReduceOptions(bias_combine=OLD, dark_combine=OLD)
    cam, bias, dark = _masters(tmp_path, 5, 31, old)
    assert dark is not None
    error, pull = _error_and_pull(bias, cam.bias)
    assert float(np.std(error)) / (math.sqrt(RN**2 + 1 / 12) / math.sqrt(5)) > 1.06
    assert float(np.std(pull)) > 1.03
    assert float(np.std(_error_and_pull(dark, cam.dark)[1])) > 1.03


# ----------------------------------------------------------------------------- outliers


def test_cosmic_rays_and_bad_pixels_do_not_reach_the_masters(tmp_path: Path) -> None:
    n = 5
    cam = Camera(41)
    rng = np.random.default_rng(42)
    ny, nx = SHAPE
    hits = np.zeros((2, n, *SHAPE), bool)  # (bias/dark, frame, y, x)
    stacks = []
    for k, exptime in enumerate((0.0, DARK_T)):
        frames = [cam.frame(exptime) for _ in range(n)]
        for i, data in enumerate(frames):
            crs = rng.random(SHAPE) < 0.003
            data[crs] += np.exp(rng.uniform(np.log(15 * RN), np.log(3000.0), int(crs.sum())))
            hits[k, i] = crs
        frames[1][40:48, :] -= 200.0  # a bad read-out band
        frames[3][:, 17] += 300.0  # a column hot in one frame only
        hits[k, 1, 40:48, :] = True
        hits[k, 3, :, 17] = True
        stacks.append([np.clip(f, 0, 65535) for f in frames])
    bias_refs = _write(tmp_path / "bias", "bias", stacks[0], 0.0)
    bias = _build(tmp_path, "bias", bias_refs, ReduceOptions())
    dark_refs = _write(tmp_path / "dark", "dark", stacks[1], DARK_T)
    use = {"bias": MasterInput(key="bias_1x1", path=str(tmp_path / "bias.fits"))}
    dark = _build(tmp_path, "dark", dark_refs, ReduceOptions(), use)
    for k, (master, truth) in enumerate(((bias, cam.bias), (dark, cam.dark))):
        _, pull = _error_and_pull(master, truth)
        one_hit = hits[k].sum(axis=0) == 1
        assert one_hit.sum() > 0.05 * ny * nx
        # every outlier rejected: the master is as good there as elsewhere
        assert float(np.abs(pull[one_hit]).max()) < 5.5
        assert 0.9 < float(np.std(pull[one_hit])) < 1.15


def test_two_frames_keep_the_lower_value_where_they_disagree(tmp_path: Path) -> None:
    """With two values the outlier cannot be told by its distance: the higher one goes."""
    cam = Camera(45)
    rng = np.random.default_rng(46)
    # not rounded (as after an overscan subtraction): the two distances differ in float32
    frames = [cam.frame(0.0) + rng.random(SHAPE) for _ in range(2)]
    crs = rng.random(SHAPE) < 0.01
    frames[1][crs] += 500.0
    refs = _write(tmp_path / "b", "bias", frames, 0.0, np.float32)
    bias = _build(tmp_path, "bias", refs, ReduceOptions())
    np.testing.assert_allclose(bias.data[crs], frames[0][crs], atol=1e-3)
    mean = (frames[0][~crs] + frames[1][~crs]) / 2
    np.testing.assert_allclose(bias.data[~crs], mean, atol=1e-3)
    sigma = bias.uncertainty.array
    np.testing.assert_allclose(sigma[crs], RN, rtol=1e-6)  # one value kept
    np.testing.assert_allclose(sigma[~crs], RN / math.sqrt(2), rtol=1e-6)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_cosmic_rays_leak_less_than_with_the_earlier_default(n: int) -> None:
    """Low cosmic rays (4-20 RN): what stays in the master is smaller than with mad_std."""
    rng = np.random.default_rng(50 + n)
    shape = (40, 500)
    stack = rng.normal(0.0, RN, (n, *shape))
    stack[0] += np.exp(rng.uniform(np.log(4 * RN), np.log(20 * RN), shape))
    frames = [CCDData(s.astype(np.float32), unit="adu") for s in stack]
    noise = ClipNoise(gain=GAIN, read_noise=RN, pedestal=math.inf)
    new = combine_frames(frames, NOISE_MODEL_CLIP, mem_limit=1e8, noise=noise).data
    old = combine_frames(frames, OLD, mem_limit=1e8).data
    assert float(np.mean(new)) < 0.5 * float(np.mean(old))


# ----------------------------------------------------------------------------- settings, records


def test_master_header_names_the_rejection(tmp_path: Path) -> None:
    _, bias, dark = _masters(tmp_path / "new", 3, 60, ReduceOptions())
    assert dark is not None
    for master, pedestal in ((bias, "pedestal=inf"), (dark, "pedestal=10")):
        record = read_provenance(master.meta)[-1]
        assert record["params"]["combine"]["rejection"].startswith("ccdclip")
        assert record["params"]["combine"]["stdfunc"] == "noise_model"
        assert "ccdclip(" in master.meta["COMBREJ"]
        assert pedestal in master.meta["COMBREJ"]  # raw darks: photons above the bias level
    old = ReduceOptions(bias_combine=OLD, dark_combine=OLD)
    _, bias, _ = _masters(tmp_path / "old", 3, 60, old, darks=False)
    record = read_provenance(bias.meta)[-1]
    assert record["params"]["combine"]["rejection"] == "sigclip: sigma = mad_std of the values"
    assert "sigclip(" in bias.meta["COMBREJ"]


def test_defaults_and_the_choice_of_the_earlier_clipping() -> None:
    opts = ReduceOptions()
    assert opts.bias_combine == opts.dark_combine == NOISE_MODEL_CLIP
    assert opts.flat_combine == ClipSettings()
    back = ReduceOptions.from_dict(ReduceOptions(bias_combine=OLD).to_dict())
    assert back.bias_combine == OLD
    assert back.dark_combine == NOISE_MODEL_CLIP
    assert ReduceOptions.from_dict(opts.to_dict()) == opts
    assert opts.digest() != ReduceOptions(bias_combine=OLD).digest()  # masters are rebuilt
    with pytest.raises(ValueError, match="flat_combine: stdfunc='noise_model' is for biases"):
        ReduceOptions(flat_combine=NOISE_MODEL_CLIP)
    with pytest.raises(ValueError, match="maxiters must be >= 1 or None"):
        ClipSettings(maxiters=0)


def test_noise_model_clipping_needs_a_noise_model() -> None:
    frames = [CCDData(np.zeros((2, 2), np.float32), unit="adu") for _ in range(3)]
    with pytest.raises(ValueError, match="give noise=ClipNoise"):
        combine_frames(frames, NOISE_MODEL_CLIP, mem_limit=1e8)
