"""Synthetic CCD frames with known truth, for tests and benchmarks.

A :class:`Camera` holds the fixed truth of a detector (bias structure, dark
current map with hot pixels, flat-field response with vignetting, dust and
pixel-to-pixel variation).  Its methods draw seeded frames from it:
:meth:`Camera.bias`, :meth:`Camera.dark`, :meth:`Camera.flat`,
:meth:`Camera.light`.  Each returns a :class:`SyntheticFrame`: the
``CCDData`` (float32 or uint16, with a header), the noise-free ``expected``
raw values, the ``signal`` a perfect calibration recovers, and the noise
``variance`` of each raw pixel.

Noise model (all in ADU): raw = bias + offset + Poisson(g·(t·dark + F·S))/g
+ N(0, RN), clipped at ``saturation`` (and rounded for integer dtypes).
With ``overscan > 0`` the frame carries that many overscan columns on the
right, holding bias level, frame offset and read noise only; headers then
have BIASSEC and TRIMSEC.

Examples
--------
>>> cam = Camera(shape=(32, 48), seed=1)
>>> dark = cam.dark(300.0, seed=2)
>>> dark.ccd.shape, dark.ccd.data.dtype, dark.ccd.header["EXPTIME"]
((32, 48), dtype('float32'), 300.0)
>>> bool(abs((dark.ccd.data - dark.expected).mean()) < 1)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from numpy.typing import DTypeLike

__all__ = ["Camera", "CameraTruth", "SyntheticFrame"]


@dataclass(frozen=True)
class CameraTruth:
    """The fixed truth of a camera, on the image area (no overscan).

    Attributes
    ----------
    bias : ndarray
        Bias structure in ADU (level plus column pattern), float64.
    dark_rate : ndarray
        Dark current in ADU/s, with hot pixels, float64.
    flat : ndarray
        Flat-field response, mean exactly 1, float64.
    hot_pixels : ndarray of bool
        Where the hot pixels are.
    """

    bias: np.ndarray
    dark_rate: np.ndarray
    flat: np.ndarray
    hot_pixels: np.ndarray


@dataclass(frozen=True)
class SyntheticFrame:
    """One synthetic frame and its truth.

    Attributes
    ----------
    ccd : CCDData
        The raw frame as a camera would write it (with overscan columns if any).
    expected : ndarray
        Noise-free raw values (before clipping at saturation), float64, same shape.
    signal : ndarray
        What a perfect calibration returns on the image area, in ADU: 0 for
        a bias, t·dark for a dark, level·flat for a flat, sky + stars for a light.
    variance : ndarray
        Noise variance of each raw pixel, ADU², same shape as ``ccd``.
    """

    ccd: CCDData
    expected: np.ndarray
    signal: np.ndarray
    variance: np.ndarray


@dataclass(frozen=True)
class Camera:
    """A synthetic CCD camera with known truth.

    Parameters
    ----------
    shape : (int, int)
        Image area (rows, columns), without overscan.
    overscan : int
        Overscan columns appended on the right (0: none).
    bias_level : float
        Mean bias level, ADU.
    column_pattern : float
        RMS of a fixed per-column bias pattern, ADU.
    bias_jitter : float
        RMS of a per-frame bias offset, ADU (seen by the overscan; keep 0
        without overscan, or a master bias cannot remove it).
    read_noise : float
        Read noise, ADU.
    gain : float
        Gain, electron/ADU.
    dark_rate : float
        Dark current of normal pixels, ADU/s.
    hot_fraction : float
        Fraction of hot pixels.
    hot_rate : (float, float)
        Range of hot-pixel dark current, ADU/s (log-uniform).
    vignetting : float
        Fractional drop of the flat response at the corners.
    dust : int
        Number of dust donuts in the flat.
    prnu : float
        Pixel-to-pixel response non-uniformity (RMS, fractional).
    saturation : float
        Raw values are clipped at this level, ADU.
    seed : int
        Seed of the camera's fixed truth.
    """

    shape: tuple[int, int] = (64, 96)
    overscan: int = 0
    bias_level: float = 1000.0
    column_pattern: float = 3.0
    bias_jitter: float = 0.0
    read_noise: float = 5.0
    gain: float = 2.0
    dark_rate: float = 0.05
    hot_fraction: float = 0.002
    hot_rate: tuple[float, float] = (1.0, 20.0)
    vignetting: float = 0.15
    dust: int = 2
    prnu: float = 0.01
    saturation: float = 65535.0
    seed: int = 0

    @cached_property
    def truth(self) -> CameraTruth:
        """The camera's fixed bias, dark-current and flat maps (computed once)."""
        rng = np.random.default_rng([self.seed, 0])
        columns = rng.normal(0.0, self.column_pattern, self.shape[1])
        bias = self.bias_level + np.broadcast_to(columns, self.shape)
        hot = rng.random(self.shape) < self.hot_fraction
        dark = np.full(self.shape, float(self.dark_rate))
        low, high = np.log(self.hot_rate[0]), np.log(self.hot_rate[1])
        dark[hot] = np.exp(rng.uniform(low, high, int(hot.sum())))
        flat = self._flat(rng)
        return CameraTruth(bias=np.array(bias), dark_rate=dark, flat=flat, hot_pixels=hot)

    def _flat(self, rng: np.random.Generator) -> np.ndarray:
        rows, cols = self.shape
        y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
        r2 = ((y - (rows - 1) / 2) / (rows / 2)) ** 2 + ((x - (cols - 1) / 2) / (cols / 2)) ** 2
        flat = 1.0 - self.vignetting * r2 / 2.0
        for _ in range(self.dust):
            cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
            radius = rng.uniform(2.0, max(3.0, min(rows, cols) / 8))
            d = np.hypot(y - cy, x - cx)
            flat *= 1.0 - 0.08 * np.exp(-(((d - radius) / (radius / 3)) ** 2))
        flat *= 1.0 + self.prnu * rng.standard_normal(self.shape)
        return flat / flat.mean()

    @property
    def full_shape(self) -> tuple[int, int]:
        """Shape of a raw frame, overscan included."""
        return (self.shape[0], self.shape[1] + self.overscan)

    @property
    def image_section(self) -> str:
        """FITS section of the image area, e.g. ``'[1:96, 1:64]'``."""
        return f"[1:{self.shape[1]}, 1:{self.shape[0]}]"

    @property
    def overscan_section(self) -> str | None:
        """FITS section of the overscan columns, or None without overscan."""
        if not self.overscan:
            return None
        first = self.shape[1] + 1
        return f"[{first}:{first + self.overscan - 1}, 1:{self.shape[0]}]"

    def _frame(
        self,
        image_electrons: np.ndarray,
        signal: np.ndarray,
        header: dict[str, object],
        seed: int,
        dtype: DTypeLike,
    ) -> SyntheticFrame:
        """Draw a raw frame whose image area collects ``image_electrons`` (expected, e-)."""
        rng = np.random.default_rng([self.seed, 1, seed])
        offset = rng.normal(0.0, self.bias_jitter) if self.bias_jitter else 0.0
        full = np.full(self.full_shape, float(self.bias_level + offset))
        full[:, : self.shape[1]] = self.truth.bias + offset
        expected = full.copy()
        expected[:, : self.shape[1]] += image_electrons / self.gain
        variance = np.full(self.full_shape, float(self.read_noise) ** 2)
        variance[:, : self.shape[1]] += image_electrons / self.gain**2
        raw = full + rng.normal(0.0, self.read_noise, self.full_shape)
        raw[:, : self.shape[1]] += rng.poisson(image_electrons) / self.gain
        raw = np.minimum(raw, self.saturation)
        out_dtype = np.dtype(dtype)
        if out_dtype.kind in "iu":
            info = np.iinfo(out_dtype)
            raw = np.clip(np.rint(raw), info.min, info.max)
        return SyntheticFrame(
            ccd=CCDData(raw.astype(out_dtype), unit="adu", meta=self._header(header)),
            expected=expected,
            signal=signal,
            variance=variance,
        )

    def _header(self, extra: dict[str, object]) -> fits.Header:
        header = fits.Header()
        header["EGAIN"] = (self.gain, "electron/ADU")
        header["RDNOISE"] = (self.read_noise * self.gain, "read noise, electron")
        header["XBINNING"] = 1
        header["YBINNING"] = 1
        header["CCD-TEMP"] = -10.0
        header["SATURATE"] = (self.saturation, "ADU")
        if self.overscan:
            header["BIASSEC"] = self.overscan_section
            header["TRIMSEC"] = self.image_section
        for key, value in extra.items():
            header[key] = value
        return header

    def bias(self, *, seed: int = 0, dtype: DTypeLike = np.float32) -> SyntheticFrame:
        """A zero-second bias frame (``signal`` is zero)."""
        zeros = np.zeros(self.shape)
        header = {"IMAGETYP": "Bias Frame", "EXPTIME": 0.0}
        return self._frame(zeros, zeros, header, seed, dtype)

    def dark(
        self, exptime: float, *, seed: int = 0, dtype: DTypeLike = np.float32
    ) -> SyntheticFrame:
        """A dark of ``exptime`` seconds (``signal`` = exptime · dark rate, ADU)."""
        signal = exptime * self.truth.dark_rate
        header = {"IMAGETYP": "Dark Frame", "EXPTIME": float(exptime)}
        return self._frame(signal * self.gain, signal, header, seed, dtype)

    def flat(
        self,
        level: float,
        *,
        exptime: float = 2.0,
        seed: int = 0,
        dtype: DTypeLike = np.float32,
        filter_name: str = "V",
    ) -> SyntheticFrame:
        """A flat with mean illumination ``level`` ADU (``signal`` = level · flat)."""
        signal = level * self.truth.flat
        electrons = (signal + exptime * self.truth.dark_rate) * self.gain
        header = {"IMAGETYP": "Flat Field", "EXPTIME": float(exptime), "FILTER": filter_name}
        return self._frame(electrons, signal, header, seed, dtype)

    def light(
        self,
        exptime: float,
        *,
        sky: float = 1.0,
        n_stars: int = 10,
        peak: tuple[float, float] = (100.0, 5000.0),
        fwhm: float = 2.5,
        seed: int = 0,
        dtype: DTypeLike = np.float32,
        filter_name: str = "V",
    ) -> SyntheticFrame:
        """A science frame: ``sky`` ADU/s plus ``n_stars`` Gaussian stars.

        ``signal`` is sky·exptime plus the stars (peak values log-uniform in
        ``peak``, ADU), before the flat: what the calibration must recover.
        """
        rng = np.random.default_rng([self.seed, 2, seed])
        signal = np.full(self.shape, float(sky * exptime))
        for _ in range(n_stars):
            centre = (rng.uniform(0, self.shape[0]), rng.uniform(0, self.shape[1]))
            amp = np.exp(rng.uniform(np.log(peak[0]), np.log(peak[1])))
            _add_star(signal, centre, amp, fwhm / 2.3548)
        electrons = (self.truth.flat * signal + exptime * self.truth.dark_rate) * self.gain
        header = {
            "IMAGETYP": "Light Frame",
            "EXPTIME": float(exptime),
            "FILTER": filter_name,
            "OBJECT": "synthetic",
        }
        return self._frame(electrons, signal, header, seed, dtype)


def _add_star(image: np.ndarray, centre: tuple[float, float], amp: float, sigma: float) -> None:
    """Add a Gaussian of peak ``amp`` to ``image`` in place, on a stamp of +-6 sigma."""
    half = int(np.ceil(6 * sigma)) + 1
    cy, cx = centre
    y0, y1 = max(0, int(cy) - half), min(image.shape[0], int(cy) + half + 1)
    x0, x1 = max(0, int(cx) - half), min(image.shape[1], int(cx) + half + 1)
    y, x = np.mgrid[y0:y1, x0:x1]
    image[y0:y1, x0:x1] += amp * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))
