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
TASK_MODULES = ("numpy", "astropy.nddata", "ccdcal.pipeline.masters", "ccdcal.pipeline.science")


def warm_up() -> bool:
    """Load the kernels of the pipeline's combinations; True when it worked.

    Runs, on one thread and on 4x4 frames, what the master tasks run: the
    noise-model clipping of raw uint16 files (master bias and dark: the
    decoder of FITS integers and ``ccdclip``) and the scaled sigma clipping
    with a rejection map of in-memory float32 frames (master flats).
    """
    import tempfile

    import numpy as np
    from astropy.io import fits
    from astropy.nddata import CCDData

    from ccdcal.pipeline.masters import combine_frames
    from ccdcal.pipeline.noise import ClipNoise
    from ccdcal.pipeline.options import NOISE_MODEL_CLIP, ClipSettings

    frames = [CCDData(np.full((4, 4), v, dtype=np.float32), unit="adu") for v in (1, 2, 3)]
    try:
        with tempfile.TemporaryDirectory(prefix="ccdcal-warm-") as folder:
            paths = []
            for i in range(3):
                path = f"{folder}/{i}.fits"
                fits.PrimaryHDU(np.full((4, 4), 1000 + i, dtype=np.uint16)).writeto(path)
                paths.append(path)
            noise = ClipNoise(gain=1.0, read_noise=5.0, pedestal=float("inf"))
            combine_frames(paths, NOISE_MODEL_CLIP, mem_limit=1e8, threads=1, noise=noise)
        combine_frames(
            frames, ClipSettings(), mem_limit=1e8, scale=[1.0, 0.5, 0.3], threads=1,
            rejection_map=True,
        )  # fmt: skip
    except Exception as exc:  # warming up is an optimisation, never an error
        log.debug("warm-up combination failed: %s", exc)
        return False
    return True


def _load() -> bool:
    single_threaded_blas()
    with collector_paused():
        for name in TASK_MODULES:
            importlib.import_module(name)
        return warm_up()


#: Whether the kernels were loaded when this module was imported.
WARMED = _load()
