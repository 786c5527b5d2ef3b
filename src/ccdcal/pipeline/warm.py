"""Warm-up of a worker process: import what tasks need and load the compiled kernels.

Imported by the fork server of :class:`~ccdcal.pipeline.executors.ProcessExecutor`
before it forks the workers, so that every worker starts with the modules
imported and the combination kernels loaded (numba's first call in a process
costs most of a second).  Importing it

* asks for one BLAS thread (:func:`ccdcal._startup.single_threaded_blas`)
  before numpy loads, since workers run one task per core already;
* imports the task modules and runs one tiny single-threaded combination with
  the garbage collector paused, then freezes what it loaded
  (:func:`ccdcal._startup.collector_paused`), so the forked workers' collector
  passes never walk (or copy) the fork server's objects.

Examples
--------
>>> from ccdcal.pipeline import warm
>>> warm.WARMED
True
"""

from __future__ import annotations

import importlib
import logging

from ccdcal._startup import collector_paused, single_threaded_blas

__all__ = ["TASK_MODULES", "WARMED", "warm_up"]

log = logging.getLogger(__name__)

#: The modules the tasks run: imported by the fork server.
TASK_MODULES = (
    "numpy",
    "astropy.nddata",
    "ccdcal.pipeline.masters",
    "ccdcal.pipeline.flats",
    "ccdcal.pipeline.science",
)


def warm_up() -> bool:
    """Load the kernels the pipeline's tasks run; True when it worked.

    Runs, on one thread and on 4x4 frames, what the tasks run: the
    noise-model clipping of raw uint16 files (master bias and dark: the
    decoder of FITS integers and ``ccdclip``), the scaled sigma clipping with
    a rejection map of in-memory float32 frames (master flats), the writing
    of a master with its checksums, and the fused calibration of a raw uint16
    frame (science).
    """
    import tempfile

    try:
        with tempfile.TemporaryDirectory(prefix="ccdcal-warm-") as folder:
            _warm_kernels(folder)
    except Exception as exc:  # warming up is an optimisation, never an error
        log.debug("warm-up failed: %s", exc)
        return False
    return True


def _warm_kernels(folder: str) -> None:
    import numpy as np
    from astropy.io import fits
    from astropy.nddata import CCDData, StdDevUncertainty

    from ccdcal.io.fits import write_ccd_with_identity
    from ccdcal.pipeline.fused import calibrate_planes, master_planes
    from ccdcal.pipeline.masters import combine_frames
    from ccdcal.pipeline.noise import ClipNoise
    from ccdcal.pipeline.options import NOISE_MODEL_CLIP, ClipSettings

    raw = [np.full((4, 4), 1000 + i, dtype=np.uint16) for i in range(3)]
    paths = [f"{folder}/{i}.fits" for i in range(3)]
    for frame, path in zip(raw, paths, strict=True):
        fits.PrimaryHDU(frame).writeto(path)
    noise = ClipNoise(gain=1.0, read_noise=5.0, pedestal=float("inf"))
    master = combine_frames(paths, NOISE_MODEL_CLIP, mem_limit=1e8, threads=1, noise=noise)
    write_ccd_with_identity(master, f"{folder}/master.fits", overwrite=True)
    frames = [CCDData(np.full((4, 4), v, dtype=np.float32), unit="adu") for v in (1, 2, 3)]
    combine_frames(
        frames, ClipSettings(), mem_limit=1e8, scale=[1.0, 0.5, 0.3], threads=1,
        rejection_map=True,
    )  # fmt: skip
    sigma = StdDevUncertainty(np.ones((4, 4), dtype=np.float32))
    bias, dark, flat = (
        CCDData(np.full((4, 4), v, np.float32), unit="adu", uncertainty=sigma) for v in (1, 2, 1)
    )
    planes = master_planes(bias, dark, flat)
    calibrate_planes(raw[0], planes, dark_scale=1.0, gain=1.0, read_noise=5.0)


def _load() -> bool:
    single_threaded_blas()
    with collector_paused():
        for name in TASK_MODULES:
            importlib.import_module(name)
        return warm_up()


#: Whether the kernels were loaded when this module was imported.
WARMED = _load()
