"""A synthetic pt5m-like night of raw CCD frames with known ground truth.

:func:`make_night` writes the raw frames of one night as the pt5m telescope
(0.5 m, La Palma; QSI 532 camera) stores them, and returns a
:class:`NightTruth` that says exactly what a perfect calibration recovers.

Layout on disk::

    DIR/raw/<target>/<yyyymmdd>/BIAS/r0001200.fits
    DIR/raw/<target>/<yyyymmdd>/DARK/r0001210.fits
    DIR/raw/<target>/<yyyymmdd>/SKY/FILT_V/r0001220.fits        (twilight flats)
    DIR/raw/<target>/<yyyymmdd>/SCIENCE/FILT_V/r0001232.fits
    DIR/truth/night_truth.json, DIR/truth/night_truth.npz       (outside the raw tree)

Run numbers grow with ``DATE-OBS``: biases and darks in the afternoon, flats
in the first filter at dusk, science through the night, flats in the second
filter at dawn.

Headers, as pt5m writes them: ``TELE = 'pt5m'``, ``INSTRUME``, ``TYPE`` (``BIAS``,
``DARK``, ``SKY`` or ``SCIENCE``; there is **no** ``IMAGETYP``), ``OBJECT``,
``FILTER`` on every frame (biases and darks carry whatever filter was in the
beam: B, V, R or I), ``EXPTIME``, ``DATE-OBS`` (ISO), ``XBINNING``/``YBINNING``,
``GAIN``, ``RDNOISE``, ``CCD-TEMP``, ``SET-TEMP``. Data are uint16 (BITPIX 16,
BZERO 32768) with **no** ``BUNIT``, as the camera writes them. The QSI 532
reads 2184 x 1472 pixels (numpy shape ``(1472, 2184)``); binned 2 x 2, 1092 x 736.

With ``overscan=n`` (not the real camera: it has no overscan) every frame gets
``n // binning`` overscan columns on the right and IRAF-style ``BIASSEC`` and
``TRIMSEC`` cards (1-based, in the frame's binned pixels), and the bias level
drifts from frame to frame in the image area and the overscan alike.

The truth model (what is simulated, and what ``NightTruth`` holds) is
described in :mod:`ccdcal.testing.night_truth`.

Examples
--------
>>> import tempfile
>>> truth = make_night(tempfile.mkdtemp(), seed=1, size_factor=1 / 16, n_bias=2,
...                    n_dark=1, n_flat=2, n_science=1)
>>> truth.shape, truth.frames[0].kind, truth.frames[0].path
((92, 136), 'bias', 'M67/20250624/BIAS/r0001200.fits')
>>> sorted({(f.kind, f.binning) for f in truth.frames})  # doctest: +NORMALIZE_WHITESPACE
[('bias', 1), ('bias', 2), ('dark', 1), ('dark', 2), ('flat', 1), ('science', 2)]
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from ccdcal.errors import InvalidParameterError, OutputExistsError
from ccdcal.io.atomic import atomic_path
from ccdcal.testing.night_truth import (
    BIAS_DRIFT,
    BIAS_JITTER,
    BINNINGS,
    CR_RATE,
    QSI532_SHAPE,
    TRUTH_DIR,
    FrameTruth,
    NightTruth,
    block_sum,
    load_truth,
    make_static_truth,
    simulate_frame,
    simulate_overscan,
)

__all__ = [
    "CR_RATE",
    "QSI532_SHAPE",
    "FrameTruth",
    "NightTruth",
    "block_sum",
    "load_truth",
    "make_night",
    "simulate_frame",
]

logger = logging.getLogger(__name__)

SET_TEMP = -20.0  # C
_TYPE_CARD = {"bias": "BIAS", "dark": "DARK", "flat": "SKY", "science": "SCIENCE"}
_SKY = {"B": 0.8, "V": 1.5, "R": 2.5, "I": 3.5}  # e-/s per 1x1 pixel, dark sky


# --------------------------------------------------------------------------- the night plan


@dataclass
class _Plan:
    target: str
    night: _dt.date
    frames: list[FrameTruth] = field(default_factory=list)


def _frame_shape(size_factor: float, shape: tuple[int, int] | None) -> tuple[int, int]:
    if shape is None:
        if not 0 < size_factor <= 1:
            raise InvalidParameterError(f"size_factor must be in (0, 1], got {size_factor!r}")
        shape = (
            2 * max(8, round(QSI532_SHAPE[0] * size_factor / 2)),
            2 * max(8, round(QSI532_SHAPE[1] * size_factor / 2)),
        )
    if shape[0] % 2 or shape[1] % 2 or min(shape) < 8:
        raise InvalidParameterError(
            f"shape must be even in both axes (2x2 binning) and at least 8, got {shape!r}"
        )
    return (int(shape[0]), int(shape[1]))


def _add(plan: _Plan, when: _dt.datetime, folder: str, **kwargs: Any) -> _dt.datetime:
    date_obs = when.isoformat(timespec="milliseconds")
    plan.frames.append(FrameTruth(path=folder, date_obs=date_obs, run=0, **kwargs))
    return when + _dt.timedelta(seconds=float(kwargs["exptime"]) + 12.0)


def _plan_night(
    plan: _Plan,
    filters: Sequence[str],
    *,
    n_bias: int,
    n_dark: int,
    n_flat: int,
    n_science: int,
    dark_exptime: float,
    science_exptimes: Sequence[float],
    bad_flats: bool,
    rng: np.random.Generator,
) -> None:
    day = _dt.datetime.combine(plan.night, _dt.time(19, 30))
    beam = ["B", "V", "R", "I"]  # biases and darks carry whatever filter is in the beam
    when = day
    for binning in BINNINGS:
        for i in range(n_bias):
            when = _add(
                plan, when, "BIAS", kind="bias", binning=binning, filter=beam[i % 4], exptime=0.0
            )
    for binning in BINNINGS:
        for i in range(n_dark):
            when = _add(
                plan,
                when,
                "DARK",
                kind="dark",
                binning=binning,
                filter=beam[(i + 1) % 4],
                exptime=dark_exptime,
            )
    dusk = day.replace(hour=21, minute=25)
    _plan_flats(plan, dusk, filters[0], n_flat, rising=False, bad="saturated" if bad_flats else "")
    when = day.replace(hour=22, minute=10)
    for i in range(n_science):
        for name in filters:
            when = _add(
                plan,
                when,
                f"SCIENCE/FILT_{name}",
                kind="science",
                binning=2,
                filter=name,
                exptime=float(science_exptimes[i % len(science_exptimes)]),
                sky=_SKY.get(name, 2.0) * rng.uniform(0.9, 1.2),
                fwhm=rng.uniform(3.5, 5.0),
                offset=(float(rng.uniform(-6, 6)), float(rng.uniform(-6, 6))),
                transparency=float(rng.uniform(0.9, 1.0)),
            )
    dawn = day.replace(hour=5, minute=40) + _dt.timedelta(days=1)
    second = filters[1] if len(filters) > 1 else filters[0]
    _plan_flats(plan, dawn, second, n_flat, rising=True, bad="faint" if bad_flats else "")


def _plan_flats(
    plan: _Plan, start: _dt.datetime, name: str, n: int, *, rising: bool, bad: str
) -> None:
    levels = list(np.linspace(30000.0, 16000.0, n)) if n > 1 else [25000.0] * n
    if rising:
        levels.reverse()
    flags: list[tuple[str, ...]] = [()] * n
    if bad == "saturated":
        levels.insert(0, 66000.0)  # the bright centre clips; the vignetted corners do not
        flags.insert(0, ("saturated",))
    elif bad == "faint":
        levels.insert(0, 300.0)
        flags.insert(0, ("faint",))
    exptime = 2.0
    when = start
    for level, flag in zip(levels, flags, strict=True):
        exptime = round(exptime * (0.8 if rising else 1.35), 2)
        when = _add(
            plan,
            when,
            f"SKY/FILT_{name}",
            kind="flat",
            binning=1,
            filter=name,
            exptime=exptime,
            level=float(level),
            flags=flag,
        )


def _number(plan: _Plan, first_run: int) -> None:
    plan.frames.sort(key=lambda f: f.date_obs)
    prefix = f"{plan.target}/{plan.night:%Y%m%d}"
    for i, frame in enumerate(plan.frames):
        frame.run = first_run + i
        frame.path = f"{prefix}/{frame.path}/r{frame.run:07d}.fits"


# --------------------------------------------------------------------------- writing


def _header(
    truth: NightTruth, frame: FrameTruth, target: str, rng: np.random.Generator
) -> fits.Header:
    header = fits.Header()
    header["TELE"] = ("pt5m", "telescope")
    header["INSTRUME"] = ("QSI 532ws", "camera")
    header["TYPE"] = (_TYPE_CARD[frame.kind], "frame type")
    header["OBJECT"] = target if frame.kind == "science" else _TYPE_CARD[frame.kind]
    header["FILTER"] = (frame.filter, "filter in the beam")
    header["EXPTIME"] = (frame.exptime, "[s] exposure time")
    header["DATE-OBS"] = (frame.date_obs, "UTC start of exposure")
    header["XBINNING"] = (frame.binning, "binning in x")
    header["YBINNING"] = (frame.binning, "binning in y")
    header["GAIN"] = (truth.gain, "[e-/ADU] detector gain")
    header["RDNOISE"] = (truth.read_noise, "[e-] read noise")
    header["CCD-TEMP"] = (round(SET_TEMP + rng.normal(0.0, 0.15), 2), "[C] CCD temperature")
    header["SET-TEMP"] = (SET_TEMP, "[C] CCD set point")
    columns = truth.overscan_columns(frame.binning)
    if columns:
        ny, nx = truth.shape[0] // frame.binning, truth.shape[1] // frame.binning
        header["BIASSEC"] = (f"[{nx + 1}:{nx + columns},1:{ny}]", "overscan region")
        header["TRIMSEC"] = (f"[1:{nx},1:{ny}]", "image area to keep")
    if frame.kind == "science":
        header["RA"] = ("08:51:18.0", "target right ascension (J2000)")
        header["DEC"] = ("+11:48:00", "target declination (J2000)")
        header["AIRMASS"] = (round(rng.uniform(1.05, 1.6), 3), "airmass at start")
    return header


def _write_raw(path: Path, data: np.ndarray, header: fits.Header) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, overwrite=True) as tmp:
        fits.PrimaryHDU(data, header).writeto(tmp)


def _check_overscan(overscan: int) -> int:
    if isinstance(overscan, bool) or not isinstance(overscan, int | np.integer):
        raise InvalidParameterError(f"overscan must be a whole number of columns, got {overscan!r}")
    if overscan < 0 or overscan % max(BINNINGS):
        raise InvalidParameterError(
            f"overscan must be 0 or a positive multiple of {max(BINNINGS)} (so that every "
            f"binning gets whole columns), got {overscan!r}"
        )
    return int(overscan)


def _draw_bias_offsets(frames: Sequence[FrameTruth], rng: np.random.Generator) -> None:
    """Set each frame's ``bias_offset``: a drift through the night plus frame-to-frame jitter."""
    start = min(_dt.datetime.fromisoformat(f.date_obs) for f in frames)
    for frame in frames:
        hours = (_dt.datetime.fromisoformat(frame.date_obs) - start).total_seconds() / 3600.0
        frame.bias_offset = round(BIAS_DRIFT * hours + float(rng.normal(0.0, BIAS_JITTER)), 4)


def _write_extras(raw_dir: Path, plan: _Plan, truth: NightTruth, junk: bool, corrupt: bool) -> None:
    night = raw_dir / plan.target / f"{plan.night:%Y%m%d}"
    if junk:
        lines = [
            f"{f.date_obs} r{f.run:07d} {_TYPE_CARD[f.kind]} {f.filter} {f.exptime}"
            for f in truth.frames
        ]
        (night / f"pt5m_{plan.night:%Y%m%d}.log").write_text("\n".join(lines) + "\n")
        (night / "notes.txt").write_text("Synthetic night written by ccdcal.testing.night.\n")
    if corrupt:
        source = next(f for f in truth.frames if f.kind == "science")
        run = truth.frames[-1].run + 1
        rel = Path(source.path).with_name(f"r{run:07d}.fits").as_posix()
        blob = (raw_dir / source.path).read_bytes()
        (raw_dir / rel).write_bytes(blob[: len(blob) // 2])  # a transfer cut short
        truth.frames.append(dataclasses.replace(source, path=rel, run=run, flags=("corrupt",)))


def make_night(
    directory: str | os.PathLike[str],
    *,
    seed: int = 0,
    size_factor: float = 1.0,
    shape: tuple[int, int] | None = None,
    n_bias: int = 5,
    n_dark: int = 5,
    n_flat: int = 5,
    n_science: int = 4,
    filters: Sequence[str] = ("V", "R"),
    target: str = "M67",
    night: str = "2025-06-24",
    dark_exptime: float = 60.0,
    science_exptimes: Sequence[float] = (120.0, 180.0, 300.0, 300.0),
    bad_flats: bool = True,
    junk_files: bool = False,
    corrupt_file: bool = False,
    cosmic_ray_rate: float = CR_RATE,
    first_run: int = 1200,
    overscan: int = 0,
    overwrite: bool = False,
) -> NightTruth:
    """Write a synthetic pt5m-like night under ``directory`` and return its truth.

    Parameters
    ----------
    directory : str or path-like
        Output folder; raw frames go to ``directory/raw``, the truth to
        ``directory/truth``.
    seed : int
        Seed of every random number: the same seed writes the same night.
    size_factor : float
        Linear size relative to the full 1472 x 2184 chip (1/8 for quick
        tests); rounded to even sizes. Numbers of hot pixels, dust motes,
        stars and cosmic rays scale with the area.
    shape : (int, int), optional
        Unbinned frame shape (rows, columns), overriding ``size_factor``.
    n_bias, n_dark : int
        Biases and darks *per binning* (1x1 and 2x2).
    n_flat : int
        Good twilight flats per filter (1x1); with ``bad_flats`` one more
        per filter: a saturated one (first filter) and a too-faint one (second).
    n_science : int
        Science frames per filter (2x2).
    filters : sequence of str
        Filters of flats and science (the first at dusk, the second at dawn).
    target, night : str
        Target name and night date (``YYYY-MM-DD``, the evening's date).
    dark_exptime : float
        Exposure time of the darks; shorter than the science frames, so the
        dark must be scaled.
    science_exptimes : sequence of float
        Exposure times of successive science frames (cycled).
    bad_flats, junk_files, corrupt_file : bool
        Add the saturated and faint flats; a non-FITS log and ``notes.txt`` in
        the night folder; one science file cut in half.
    cosmic_ray_rate : float
        Cosmic-ray hits per second on a full-size chip (raise it to get
        cosmic rays into a tiny test night).
    first_run : int
        Run number of the first frame (``r0001200.fits``).
    overscan : int
        Overscan columns per unbinned pixel width, a multiple of 2 (0: none,
        as the real camera). A frame binned b x b gets ``overscan // b``
        columns and ``BIASSEC``/``TRIMSEC`` cards, and the bias level of every
        frame drifts (``FrameTruth.bias_offset``); the truth stays on the
        trimmed image area.
    overwrite : bool
        Allow writing into a ``directory`` that already holds a night.

    Returns
    -------
    NightTruth
        Also saved to ``directory/truth`` (see :func:`load_truth`).

    Examples
    --------
    >>> import tempfile
    >>> truth = make_night(tempfile.mkdtemp(), seed=2, shape=(40, 60), n_bias=1, n_dark=1,
    ...                    n_flat=1, n_science=1, corrupt_file=True)
    >>> [f.flags for f in truth.frames if f.flags]
    [('saturated',), ('faint',), ('corrupt',)]
    >>> fits.getval(truth.raw_dir / truth.frames[0].path, "TYPE")
    'BIAS'
    """
    root = Path(directory)
    raw_dir = root / "raw"
    if not overwrite and (root / TRUTH_DIR).exists():
        raise OutputExistsError(
            f"{str(root)!r} already holds a synthetic night; pass overwrite=True or "
            "choose an empty folder"
        )
    if not filters:
        raise InvalidParameterError("filters must name at least one filter")
    frame_shape = _frame_shape(size_factor, shape)
    overscan = _check_overscan(overscan)
    # a fourth stream for the overscan: the first three (and so nights without one) are unchanged
    static_seq, plan_seq, frames_seq, overscan_seq = np.random.SeedSequence(seed).spawn(4)
    truth = make_static_truth(frame_shape, filters, np.random.default_rng(static_seq))
    plan = _Plan(target=target, night=_dt.date.fromisoformat(night))
    _plan_night(
        plan,
        filters,
        n_bias=n_bias,
        n_dark=n_dark,
        n_flat=n_flat,
        n_science=n_science,
        dark_exptime=dark_exptime,
        science_exptimes=science_exptimes,
        bad_flats=bad_flats,
        rng=np.random.default_rng(plan_seq),
    )
    _number(plan, first_run)
    truth.frames = plan.frames
    truth.raw_dir = raw_dir.resolve()
    truth.overscan = overscan
    over_rng = np.random.default_rng(overscan_seq)
    if overscan:
        _draw_bias_offsets(truth.frames, over_rng)
    for frame, seq in zip(truth.frames, frames_seq.spawn(len(truth.frames)), strict=True):
        rng = np.random.default_rng(seq)
        data, crs = simulate_frame(truth, frame, rng, cosmic_ray_rate=cosmic_ray_rate)
        if overscan:
            data = np.hstack([data, simulate_overscan(truth, frame, over_rng)])
        _write_raw(raw_dir / frame.path, data, _header(truth, frame, target, rng))
        if crs is not None:
            truth.cosmic_rays[frame.path] = crs
        if frame.kind == "science":
            light = block_sum(truth.light(frame) * frame.exptime, frame.binning)
            truth.signal[frame.path] = (light / truth.gain).astype(np.float32)
    _write_extras(raw_dir, plan, truth, junk_files, corrupt_file)
    truth.save(root / TRUTH_DIR, overwrite=True)
    logger.info("wrote %d synthetic frames under %s", len(truth.frames), raw_dir)
    return truth
