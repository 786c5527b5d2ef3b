"""Ground truth of the synthetic pt5m-like night, and the physics that makes its frames.

:func:`ccdcal.testing.night.make_night` plans and writes a night; this module
holds what it simulates: :class:`NightTruth` (saved beside the raw frames and
read back with :func:`load_truth`) and :func:`simulate_frame`, which draws one
raw realisation of a frame from the truth.

Truth model (all numbers in ``NightTruth``; unbinned pixel = "1x1 pixel")
--------------------------------------------------------------------------
* Camera: gain ``GAIN = 1.1 e-/ADU`` and read noise ``RDNOISE = 8.0 e-`` (chosen
  to be plausible for a QSI 532, not measured on pt5m); the ADC clips at
  ``saturation = 65535 ADU``; values are rounded to integers.
* Bias (``bias[b]``, ADU): a level, a fixed column pattern and a gentle row
  gradient, **per binning** (a 2x2 readout has its own level and pattern; a
  binned pixel's bias is *not* four times the unbinned one).
* Read noise: Gaussian, ``read_noise`` electrons per *read-out* pixel, the
  same for 1x1 and 2x2 (binning sums charge before the amplifier).
* Dark current (``dark_current``, e-/s per 1x1 pixel): a low base rate, a
  faint amplifier glow in one corner, and hot pixels (0.5-50 e-/s). A binned
  pixel collects the sum of its four: ``dark_rate(2)`` is the 2x2 block sum
  divided by the gain (ADU/s).
* Flat field (``flat[filter]``, 1x1, mean 1): vignetting (about 15 % down in
  the corners), dust donuts (some on the window, shared by all filters, some
  on each filter), a filter-dependent tilt, and 1 % pixel response
  non-uniformity shared by all filters.
* Twilight flats: uniform illumination times the flat field; ``level`` is
  the mean signal in ADU. Flats in the first filter start with one
  saturated frame, flats in the second filter with one too-faint frame
  (``flags`` say so): a pipeline should reject both.
* Science (2x2): sky plus stars (Gaussian PSF integrated over pixels, the
  same star field in every frame, dithered by a few pixels), times
  transparency. ``signal[path]`` is that light in ADU per *binned* pixel
  before it meets the flat field: ``block_sum(light * t) / gain``. That is
  what bias, scaled-dark and flat correction recover; with a 1x1 flat
  block-averaged to 2x2 it is recovered up to the flat's structure inside
  a 2x2 block (PRNU and dust edges), where the stars are not flat either.
* Every pixel: ``raw = bias[b] + block_sum((light * flat + dark_current) * t +
  cosmic rays) / gain`` with Poisson noise on the electrons, plus read noise,
  rounded and clipped to ``[0, saturation]``. :meth:`NightTruth.expected`
  gives the noise-free value (without cosmic rays).
* Cosmic rays hit darks and science frames (about 4 per minute on the whole
  chip, short tracks); ``cosmic_rays[path]`` marks the pixels they hit.
* Overscan (only when ``overscan > 0``; the real QSI 532 has none): every
  frame has ``overscan // binning`` more columns on the right, holding
  :meth:`NightTruth.overscan_level` (the median of each row of the bias minus
  ``OVERSCAN_STEP``) plus read noise, no light, dark or cosmic rays. The bias
  level then drifts: each frame's ``bias_offset`` (``BIAS_DRIFT`` ADU per hour
  since the first frame, plus ``BIAS_JITTER`` ADU RMS from frame to frame) is
  added to the image area and the overscan alike, so that only an overscan
  subtraction removes it. ``bias[b]`` is the image-area bias without it.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> truth = make_static_truth((16, 24), ("V",), rng)
>>> dark = FrameTruth("d.fits", "dark", 2, "V", 60.0, "2025-06-24T19:40:00", 7)
>>> truth.expected(dark).shape, truth.dark_rate(2).shape
((8, 12), (8, 12))
>>> raw, hits = simulate_frame(truth, dark, rng)
>>> raw.dtype, hits.shape
(dtype('uint16'), (8, 12))
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.special import erf

from ccdcal.errors import InvalidParameterError
from ccdcal.io.atomic import atomic_path, atomic_write_text

__all__ = [
    "BIAS_DRIFT",
    "BIAS_JITTER",
    "BINNINGS",
    "CR_RATE",
    "GAIN",
    "QSI532_SHAPE",
    "READ_NOISE",
    "SATURATION",
    "FrameTruth",
    "NightTruth",
    "block_sum",
    "load_truth",
    "make_static_truth",
    "simulate_frame",
    "simulate_overscan",
]

#: Unbinned QSI 532 frame, numpy order (rows, columns) = (NAXIS2, NAXIS1).
QSI532_SHAPE = (1472, 2184)
GAIN = 1.1  # e-/ADU
READ_NOISE = 8.0  # e-
SATURATION = 65535.0  # ADU
BINNINGS = (1, 2)
TRUTH_DIR = "truth"
TRUTH_NAME = "night_truth"
#: Cosmic rays per second on the whole QSI 532 chip (~4 a minute at 2400 m).
CR_RATE = 0.07
#: With an overscan: drift of the bias level through the night (ADU per hour) and
#: its frame-to-frame jitter (ADU RMS); a few times RN/sqrt(5) over a night.
BIAS_DRIFT = 3.0
BIAS_JITTER = 2.0
#: The overscan sits this many ADU below the median of each row of the image-area bias.
OVERSCAN_STEP = 3.0

FrameKind = Literal["bias", "dark", "flat", "science"]
_COLOUR = {"B": 0.7, "V": 1.0, "R": 1.25, "I": 1.4}  # star flux relative to V


@dataclass
class FrameTruth:
    """What was simulated for one raw file (paths relative to the raw folder)."""

    path: str
    kind: FrameKind
    binning: int
    filter: str
    exptime: float
    date_obs: str
    run: int
    level: float = 0.0  # flats: mean signal, ADU per 1x1 pixel
    sky: float = 0.0  # science: sky, e-/s per 1x1 pixel
    fwhm: float = 0.0  # science: seeing FWHM, 1x1 pixels
    offset: tuple[float, float] = (0.0, 0.0)  # science: dither (rows, columns), 1x1 pixels
    transparency: float = 1.0
    flags: tuple[str, ...] = ()  # 'saturated', 'faint', 'corrupt'
    bias_offset: float = 0.0  # ADU added to the bias (image and overscan) of this frame


@dataclass
class NightTruth:
    """The ground truth of a synthetic night; see the module docstring for the model.

    Arrays in ADU are per pixel *of the stated binning*; ``dark_current``,
    ``flat`` and star positions are on the unbinned (1x1) grid.
    """

    shape: tuple[int, int]
    gain: float
    read_noise: float
    saturation: float
    bias: dict[int, np.ndarray]
    dark_current: np.ndarray
    hot_pixels: np.ndarray
    flat: dict[str, np.ndarray]
    star_xy: np.ndarray
    star_flux: dict[str, np.ndarray]
    frames: list[FrameTruth] = field(default_factory=list)
    signal: dict[str, np.ndarray] = field(default_factory=dict)
    cosmic_rays: dict[str, np.ndarray] = field(default_factory=dict)
    raw_dir: Path | None = None
    overscan: int = 0  # overscan columns per unbinned pixel width (binned: overscan // b)

    @property
    def read_noise_adu(self) -> float:
        """Read noise in ADU (the same for every binning)."""
        return self.read_noise / self.gain

    def dark_rate(self, binning: int) -> np.ndarray:
        """Dark current in ADU/s per pixel of ``binning`` (hot pixels included)."""
        return block_sum(self.dark_current, binning) / self.gain

    def overscan_level(self, binning: int) -> np.ndarray:
        """Noise-free overscan level of each row (ADU, shape ``(rows, 1)``), without offsets.

        The median of each row of ``bias[binning]`` minus ``OVERSCAN_STEP``:
        an overscan subtraction leaves the column pattern (and the step) for
        the master bias to remove.
        """
        bias = np.asarray(self.bias[binning], dtype=np.float64)
        return np.median(bias, axis=1, keepdims=True) - OVERSCAN_STEP

    def overscan_columns(self, binning: int) -> int:
        """Overscan columns of a frame of ``binning`` (0 without an overscan)."""
        return self.overscan // binning

    def flat_for(self, filter_name: str, binning: int = 1) -> np.ndarray:
        """The normalised flat field of a filter, block-averaged to ``binning``."""
        return block_sum(self.flat[filter_name], binning) / binning**2

    def frame(self, name: str | os.PathLike[str]) -> FrameTruth:
        """The frame record for a file name or a path ending in it."""
        text = Path(name).as_posix()
        for item in self.frames:
            if item.path == text or item.path.endswith("/" + text) or text.endswith(item.path):
                return item
        raise KeyError(f"no frame {text!r} in this night")

    def light(self, frame: FrameTruth) -> np.ndarray:
        """Light reaching the 1x1 pixels, e-/s, before the flat field (no dark)."""
        if frame.kind == "flat":
            return np.full(self.shape, frame.level * self.gain / frame.exptime)
        if frame.kind != "science":
            return np.zeros(self.shape)
        stars = _render_stars(
            self.shape,
            self.star_xy + np.asarray(frame.offset),
            self.star_flux[frame.filter],
            frame.fwhm,
        )
        return frame.sky + frame.transparency * stars

    def expected(self, frame: FrameTruth) -> np.ndarray:
        """Noise-free raw value in ADU (float64, before clipping; no cosmic rays)."""
        electrons = self.dark_current * frame.exptime
        if frame.kind in ("flat", "science"):
            flat = self.flat[frame.filter]
            electrons = electrons + self.light(frame) * flat * frame.exptime
        light = block_sum(electrons, frame.binning) / self.gain
        return self.bias[frame.binning] + frame.bias_offset + light

    def save(self, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write ``night_truth.json`` and ``night_truth.npz`` into ``directory``."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "dark_current": self.dark_current.astype(np.float32),
            "hot_pixels": self.hot_pixels,
            "star_xy": self.star_xy,
        }
        arrays.update({f"bias_{b}": a.astype(np.float32) for b, a in self.bias.items()})
        arrays.update({f"flat_{k}": a.astype(np.float32) for k, a in self.flat.items()})
        arrays.update({f"star_flux_{k}": a for k, a in self.star_flux.items()})
        arrays.update({f"signal_{self.frame(p).run}": a for p, a in self.signal.items()})
        arrays.update({f"cr_{self.frame(p).run}": a for p, a in self.cosmic_rays.items()})
        _write_npz(folder / f"{TRUTH_NAME}.npz", arrays, overwrite=overwrite)
        scalars = {
            "shape": list(self.shape),
            "gain": self.gain,
            "read_noise": self.read_noise,
            "saturation": self.saturation,
            "binnings": sorted(self.bias),
            "filters": sorted(self.flat),
            "raw_dir": os.path.relpath(self.raw_dir, folder) if self.raw_dir else None,
            "frames": [_frame_record(f) for f in self.frames],
        }
        if self.overscan:  # written only when there is one: older truth files stay the same
            scalars["overscan"] = self.overscan
        text = json.dumps(scalars, indent=1)
        atomic_write_text(folder / f"{TRUTH_NAME}.json", text, overwrite=overwrite)
        return folder / f"{TRUTH_NAME}.json"


def _frame_record(frame: FrameTruth) -> dict[str, object]:
    record = dataclasses.asdict(frame)
    if not record["bias_offset"]:
        del record["bias_offset"]
    return record


def _write_npz(path: Path, arrays: dict[str, np.ndarray], *, overwrite: bool) -> None:
    """Like ``np.savez_compressed``, but at zlib level 1: the noise maps hardly
    compress, and level 6 takes three times as long for 0.3 % less."""
    with (
        atomic_path(path, overwrite=overwrite) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
    ):
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asanyarray(array), allow_pickle=False)


def load_truth(path: str | os.PathLike[str]) -> NightTruth:
    """Read the truth of a night from its folder (``DIR`` or ``DIR/truth``).

    >>> import tempfile
    >>> from ccdcal.testing.night import make_night
    >>> folder = tempfile.mkdtemp()
    >>> made = make_night(folder, seed=3, size_factor=1 / 16, n_bias=1, n_dark=1,
    ...                   n_flat=1, n_science=1)
    >>> again = load_truth(folder)
    >>> bool(np.array_equal(again.bias[2], made.bias[2].astype(np.float32)))
    True
    """
    folder = Path(path)
    if (folder / TRUTH_DIR).is_dir():
        folder = folder / TRUTH_DIR
    scalars = json.loads((folder / f"{TRUTH_NAME}.json").read_text())
    frames = [
        FrameTruth(**{**f, "offset": tuple(f["offset"]), "flags": tuple(f["flags"])})
        for f in scalars["frames"]
    ]
    by_run = {f.run: f.path for f in frames}
    with np.load(folder / f"{TRUTH_NAME}.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    raw = scalars.get("raw_dir")
    return NightTruth(
        shape=(int(scalars["shape"][0]), int(scalars["shape"][1])),
        gain=float(scalars["gain"]),
        read_noise=float(scalars["read_noise"]),
        saturation=float(scalars["saturation"]),
        bias={b: arrays[f"bias_{b}"] for b in scalars["binnings"]},
        dark_current=arrays["dark_current"],
        hot_pixels=arrays["hot_pixels"],
        flat={k: arrays[f"flat_{k}"] for k in scalars["filters"]},
        star_xy=arrays["star_xy"],
        star_flux={k: arrays[f"star_flux_{k}"] for k in scalars["filters"]},
        frames=frames,
        signal={by_run[int(k[7:])]: v for k, v in arrays.items() if k.startswith("signal_")},
        cosmic_rays={by_run[int(k[3:])]: v for k, v in arrays.items() if k.startswith("cr_")},
        raw_dir=(folder / raw).resolve() if raw else None,
        overscan=int(scalars.get("overscan", 0)),
    )


# --------------------------------------------------------------------------- physics


def block_sum(array: np.ndarray, binning: int) -> np.ndarray:
    """Sum ``binning`` x ``binning`` blocks (on-chip binning of charge).

    >>> block_sum(np.arange(16.0).reshape(4, 4), 2)
    array([[10., 18.],
           [42., 50.]])
    """
    if binning == 1:
        return array
    ny, nx = array.shape
    if ny % binning or nx % binning:
        raise InvalidParameterError(
            f"shape {array.shape} is not a multiple of the binning {binning}"
        )
    return array.reshape(ny // binning, binning, nx // binning, binning).sum(axis=(1, 3))


def _pixel_gauss(centre: float, sigma: float, start: int, stop: int) -> np.ndarray:
    edges = (np.arange(start, stop + 1) - 0.5 - centre) / (np.sqrt(2.0) * sigma)
    return 0.5 * np.diff(erf(edges))


def _render_stars(
    shape: tuple[int, int], xy: np.ndarray, flux: np.ndarray, fwhm: float
) -> np.ndarray:
    """Stars as pixel-integrated Gaussians; ``xy`` rows are (x, y) in 1x1 pixels."""
    image = np.zeros(shape)
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    reach = int(np.ceil(5.0 * sigma))
    ny, nx = shape
    for (x, y), f in zip(xy, flux, strict=True):
        x0, x1 = max(int(x) - reach, 0), min(int(x) + reach + 1, nx)
        y0, y1 = max(int(y) - reach, 0), min(int(y) + reach + 1, ny)
        if x0 >= x1 or y0 >= y1:
            continue
        gx = _pixel_gauss(x, sigma, x0, x1)
        gy = _pixel_gauss(y, sigma, y0, y1)
        image[y0:y1, x0:x1] += f * np.outer(gy, gx)
    return image


def _bias(shape: tuple[int, int], binning: int, rng: np.random.Generator) -> np.ndarray:
    ny, nx = shape[0] // binning, shape[1] // binning
    level = {1: 1023.0, 2: 1008.0}.get(binning, 1000.0)
    columns = rng.normal(0.0, 2.5, nx)
    rows = np.linspace(-1.5, 1.5, ny)[:, None]
    return level + columns[None, :] + rows


def _dark_current(
    shape: tuple[int, int], area: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    glow = 0.3 * np.exp(-np.hypot(y - ny, x) / (0.08 * max(ny, nx)))  # amplifier corner
    rate = 0.02 + glow + rng.normal(0.0, 0.003, shape).clip(-0.015)
    n_hot = max(5, round(300 * area))
    flat_index = rng.choice(ny * nx, size=n_hot, replace=False)
    hot = np.column_stack(np.unravel_index(flat_index, shape))
    rate[hot[:, 0], hot[:, 1]] += np.exp(rng.uniform(np.log(0.5), np.log(50.0), n_hot))
    return rate, hot


def _dust(shape: tuple[int, int], n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    ny, nx = shape
    out = np.ones(shape)
    for _ in range(n):
        cy, cx = rng.uniform(0, ny), rng.uniform(0, nx)
        radius = max(3.0, rng.uniform(15.0, 45.0) * scale)
        depth = rng.uniform(0.03, 0.08)
        reach = int(2.0 * radius) + 1  # the ring is below 1e-6 beyond this
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, ny)
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, nx)
        y, x = np.mgrid[y0:y1, x0:x1]
        r = np.hypot(y - cy, x - cx)
        ring = np.exp(-(((r - 0.7 * radius) / (0.3 * radius)) ** 2))
        out[y0:y1, x0:x1] *= 1.0 - depth * ring
    return out


def _flats(
    shape: tuple[int, int],
    filters: Sequence[str],
    scale: float,
    area: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    r2 = ((y - ny / 2) ** 2 + (x - nx / 2) ** 2) / ((ny / 2) ** 2 + (nx / 2) ** 2)
    vignetting = 1.0 / (1.0 + 0.085 * r2) ** 2
    prnu = 1.0 + rng.normal(0.0, 0.01, shape)
    window_dust = _dust(shape, max(2, round(4 * area)), scale, rng)
    flats = {}
    for name in filters:
        tilt = (
            1.0
            + rng.uniform(-0.02, 0.02) * (x / nx - 0.5)
            + rng.uniform(-0.02, 0.02) * (y / ny - 0.5)
        )
        filter_dust = _dust(shape, max(1, round(3 * area)), scale, rng)
        response = vignetting * prnu * window_dust * filter_dust * tilt
        flats[name] = response / response.mean()
    return flats


def _cosmic_rays(
    shape: tuple[int, int], exptime: float, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Charge (e-) deposited on the 1x1 grid by cosmic rays (``rate`` hits/s on the chip)."""
    ny, nx = shape
    deposit = np.zeros(ny * nx)
    for _ in range(rng.poisson(rate * exptime)):
        length = rng.exponential(3.0)
        angle = rng.uniform(0, np.pi)
        steps = max(1, int(np.ceil(length * 2)))
        t = np.linspace(0.0, length, steps)
        ys = np.clip(np.round(rng.uniform(0, ny) + t * np.sin(angle)), 0, ny - 1).astype(int)
        xs = np.clip(np.round(rng.uniform(0, nx) + t * np.cos(angle)), 0, nx - 1).astype(int)
        energy = rng.lognormal(np.log(2000.0), 0.7)
        np.add.at(deposit, ys * nx + xs, energy / steps)
    return deposit.reshape(shape)


def _redness(filter_name: str) -> float:
    return float(np.sign(np.log(_COLOUR.get(filter_name, 1.0))))


def simulate_frame(
    truth: NightTruth,
    frame: FrameTruth,
    rng: np.random.Generator,
    *,
    cosmic_ray_rate: float = CR_RATE,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One raw realisation of ``frame`` (uint16) and its cosmic-ray mask (or None).

    ``cosmic_ray_rate`` is in hits per second on a *full-size* chip; a
    smaller frame gets proportionally fewer.

    >>> rng = np.random.default_rng(0)
    >>> truth = make_static_truth((8, 8), ("V",), rng)
    >>> bias = FrameTruth("b.fits", "bias", 2, "V", 0.0, "2025-06-24T19:30:00", 1)
    >>> raw, crs = simulate_frame(truth, bias, rng)
    >>> raw.dtype, raw.shape, crs
    (dtype('uint16'), (4, 4), None)
    """
    bias = truth.bias[frame.binning] + frame.bias_offset
    expected_e = (truth.expected(frame) - bias) * truth.gain
    electrons = rng.poisson(np.clip(expected_e, 0.0, None)).astype(np.float64)
    crs = None
    if frame.kind in ("dark", "science") and frame.exptime > 0:
        area = truth.shape[0] * truth.shape[1] / (QSI532_SHAPE[0] * QSI532_SHAPE[1])
        hits = _cosmic_rays(truth.shape, frame.exptime, cosmic_ray_rate * area, rng)
        deposit = block_sum(hits, frame.binning)
        electrons += deposit
        crs = deposit > 3.0 * truth.read_noise
    adu = bias + electrons / truth.gain
    adu += rng.normal(0.0, truth.read_noise_adu, adu.shape)
    return np.clip(np.round(adu), 0, truth.saturation).astype(np.uint16), crs


def simulate_overscan(truth: NightTruth, frame: FrameTruth, rng: np.random.Generator) -> np.ndarray:
    """The overscan columns of one raw realisation of ``frame`` (uint16; 0 columns without).

    Bias level of each row plus the frame's ``bias_offset`` and read noise.

    >>> rng = np.random.default_rng(0)
    >>> truth = make_static_truth((8, 8), ("V",), rng)
    >>> truth.overscan = 4
    >>> bias = FrameTruth("b.fits", "bias", 2, "V", 0.0, "2025-06-24T19:30:00", 1,
    ...                   bias_offset=50.0)
    >>> over = simulate_overscan(truth, bias, rng)
    >>> over.dtype, over.shape
    (dtype('uint16'), (4, 2))
    >>> bool(abs(over.mean() - truth.overscan_level(2).mean() - 50.0) < 15)
    True
    """
    level = truth.overscan_level(frame.binning) + frame.bias_offset
    columns = truth.overscan_columns(frame.binning)
    adu = level + rng.normal(0.0, truth.read_noise_adu, (level.shape[0], columns))
    return np.clip(np.round(adu), 0, truth.saturation).astype(np.uint16)


def make_static_truth(
    shape: tuple[int, int], filters: Sequence[str], rng: np.random.Generator
) -> NightTruth:
    """Draw the fixed part of a night: bias, dark current, flats and the star field.

    Numbers of hot pixels, dust motes and stars scale with the chip area
    (relative to a full QSI 532), sizes of dust motes with its side.
    """
    ny, nx = shape
    area = ny * nx / (QSI532_SHAPE[0] * QSI532_SHAPE[1])
    scale = float(np.sqrt(area))
    dark, hot = _dark_current(shape, area, rng)
    n_stars = max(15, round(300 * area))
    margin = 10.0 * scale
    xy = np.column_stack(
        [rng.uniform(margin, nx - margin, n_stars), rng.uniform(margin, ny - margin, n_stars)]
    )
    flux_v = np.exp(rng.uniform(np.log(20.0), np.log(20000.0), n_stars))
    colour = rng.uniform(0.8, 1.25, n_stars)
    return NightTruth(
        shape=shape,
        gain=GAIN,
        read_noise=READ_NOISE,
        saturation=SATURATION,
        bias={b: _bias(shape, b, rng) for b in BINNINGS},
        dark_current=dark,
        hot_pixels=hot,
        flat=_flats(shape, filters, scale, area, rng),
        star_xy=xy,
        # redder filters see red stars brighter, bluer filters fainter
        star_flux={f: flux_v * _COLOUR.get(f, 1.0) * colour ** _redness(f) for f in filters},
    )
