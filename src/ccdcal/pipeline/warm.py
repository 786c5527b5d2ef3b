"""Warm-up of a worker process: import what tasks need and load the compiled kernels.

Imported by the fork server of :class:`~ccdcal.pipeline.executors.ProcessExecutor`
before it forks the workers, so that every worker starts with the modules
imported and the combination kernels loaded (numba's first call in a process
costs most of a second).  Importing it runs one tiny single-threaded
combination; nothing else.

Examples
--------
>>> from ccdcal.pipeline import warm
>>> warm.WARMED
True
"""

from __future__ import annotations

import logging

import numpy as np
from astropy.nddata import CCDData

import ccdcal.pipeline.masters
import ccdcal.pipeline.science  # noqa: F401

__all__ = ["WARMED", "warm_up"]

log = logging.getLogger(__name__)


def warm_up() -> bool:
    """Run a tiny sigma-clipped combination on one thread; True when it worked."""
    from ccdcal.stacking import SigmaClip, combine

    frames = [CCDData(np.full((4, 4), v, dtype=np.float32), unit="adu") for v in (1, 2, 3)]
    try:
        combine(frames, rejection=SigmaClip(deviation="mad_std"), threads=1, rejection_map=True)
    except Exception as exc:  # warming up is an optimisation, never an error
        log.debug("warm-up combination failed: %s", exc)
        return False
    return True


#: Whether the kernels were loaded when this module was imported.
WARMED = warm_up()
