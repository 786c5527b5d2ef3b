"""A quicker start for processes that import ccdcal's whole stack.

Two things make a process that imports numba, astropy and SQLAlchemy start
slower than it needs to:

* CPython's cyclic garbage collector runs over and over while the imports
  create ~200,000 long-lived objects (module tables, numba's typing and
  lowering registries), and each full pass walks all of them again: ~15 % of
  the pipeline's fork server's start on this machine.  :func:`collector_paused`
  pauses the collector over such a stretch and then moves the objects it
  created to the collector's permanent generation (:func:`gc.freeze`), so
  later passes skip them, and worker processes forked afterwards never write
  to the pages those objects live on.  The header scan of
  :mod:`ccdcal.collection` pauses it the same way (without freezing) while it
  builds hundreds of thousands of small objects.
* OpenBLAS (loaded with numpy, and again with scipy) starts a thread per core
  that spins waiting for work for a while after it loads.  ccdcal never runs
  BLAS-heavy code: its parallelism is its own (worker processes, combination
  threads), so spinning BLAS threads only take cores from it.
  :func:`single_threaded_blas` asks for one BLAS/OpenMP thread in this process
  (if numpy is not loaded yet) and in every process it starts, unless the user
  set the variables.

Examples
--------
>>> import gc
>>> with collector_paused(freeze=False):
...     gc.isenabled()
False
>>> gc.isenabled()
True
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator

__all__ = ["BLAS_THREAD_VARIABLES", "collector_paused", "single_threaded_blas"]

#: Environment variables that set the thread count of the BLAS libraries
#: numpy and scipy may load (OpenBLAS, MKL) and of OpenMP.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_blas() -> None:
    """One BLAS/OpenMP thread for libraries loaded from now on (user settings win).

    Takes effect in this process only for libraries not loaded yet (numpy
    reads the variables when it is first imported) and in every process
    started afterwards, which inherits the environment.

    Examples
    --------
    >>> single_threaded_blas()
    >>> all(v in os.environ for v in BLAS_THREAD_VARIABLES)
    True
    """
    for var in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(var, "1")


@contextlib.contextmanager
def collector_paused(*, freeze: bool = True) -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block.

    Parameters
    ----------
    freeze : bool, optional
        At the end, move every object then alive to the permanent generation
        (:func:`gc.freeze`; default True).  Use it after importing and
        setting up what lives until the process ends.

    Notes
    -----
    Reference counting still frees every object that is not part of a
    reference cycle, so memory is not held; cycles created inside the block
    are collected by the next pass after it (or never, with ``freeze``: keep
    the block to start-up work).  The collector is re-enabled only if it was
    enabled before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
