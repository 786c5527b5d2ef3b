"""Executors: where the tasks of a reduction run.

A reduction is a sequence of stages (bias masters, dark masters, flat
masters, science frames); each stage is a list of independent tasks, and each
task is a picklable object handed to a top-level function.  An *executor*
runs one stage: ``executor.map(fn, tasks)`` returns an iterator over
``fn(task)`` for every task, **in completion order** (each result names its
task, so order never matters to the caller).

The executors that ship with ccdcal:

* :class:`ProcessExecutor` (the default) runs them in a pool of worker
  processes, one per core;
* :class:`SerialExecutor` runs the tasks one after the other in this process
  (simple, easy to debug, used by the tests; ``jobs=1``);
* :class:`ThreadExecutor` and :class:`DaskExecutor` (a cluster).

Anything with the same ``map`` method can be passed to
:func:`ccdcal.pipeline.run_plan`; a Dask executor is ``client.submit`` for
every task then ``as_completed``.  The tasks are pure functions of file paths
and parameters and compute nothing that depends on the number of workers or
threads, so the outputs are identical whichever executor ran them.

Examples
--------
>>> ex = SerialExecutor()
>>> sorted(ex.map(abs, [-2, 1, -3]))
[1, 2, 3]
>>> make_executor("serial").name
'serial'
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypeVar, runtime_checkable

from ccdcal.pipeline.options import invalid_parameter

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorName",
    "ProcessExecutor",
    "SerialExecutor",
    "ThreadExecutor",
    "make_executor",
    "start_executor",
]


log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: The executors :func:`make_executor` knows by name.
ExecutorName = Literal["serial", "thread", "process"]


@runtime_checkable
class Executor(Protocol):
    """What :func:`ccdcal.pipeline.run_plan` needs from an executor.

    ``map(fn, tasks)`` must call ``fn`` once on every task (``fn`` and the
    tasks are picklable) and yield the results as they complete.  ``name`` is
    recorded in the run summary.
    """

    name: str

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        """Yield ``fn(task)`` for every task, in completion order."""
        ...


class _ExecutorBase:
    """What every executor shares: ``shutdown`` (nothing by default) and use in ``with``."""

    def shutdown(self) -> None:
        """Release the workers (nothing to release by default)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


class SerialExecutor(_ExecutorBase):
    """Run every task in this process, one after the other.

    Examples
    --------
    >>> list(SerialExecutor().map(str, [1, 2]))
    ['1', '2']
    """

    name = "serial"

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        """Yield ``fn(task)`` for every task, in task order."""
        for task in tasks:
            yield fn(task)

    def start(self) -> None:
        """Nothing to start."""

    def __repr__(self) -> str:
        return "SerialExecutor()"


def _start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


#: Modules the workers need: imported once by the fork server, so that each
#: worker starts with them loaded.
PRELOAD = ("ccdcal.pipeline.warm",)


#: glibc ``mallopt`` parameters (``malloc.h``) and the values workers use.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
_TRIM_THRESHOLD = 256 << 20


def keep_freed_buffers() -> bool:
    """Let glibc's malloc reuse freed frame-sized buffers instead of unmapping them.

    By default glibc serves every allocation above 128 KiB-32 MiB (its
    threshold adapts) with its own ``mmap`` and unmaps it when freed, so each
    new frame-sized array of a task starts as fresh pages that the kernel
    must fault in and zero, one by one: a few ms per 2x2 frame.  A worker
    allocates and frees arrays of the same few sizes over and over, so
    serving them from the heap (``M_MMAP_THRESHOLD`` 32 MiB, the largest
    allowed) and trimming it only above 256 MiB of free memory
    (``M_TRIM_THRESHOLD``) reuses pages that are already mapped.  Only
    process memory that was in use anyway is kept.  Returns False where the
    C library is not glibc (nothing is changed there).
    """
    import ctypes

    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, ValueError, AttributeError):  # no glibc, or no confstr
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    return mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok


def _worker_init() -> None:
    """Run once in each worker: one BLAS thread per process; malloc keeps freed buffers."""
    from ccdcal._startup import single_threaded_blas

    single_threaded_blas()
    keep_freed_buffers()


def _warm_up() -> int:
    """A no-op task that makes a worker start (and import what tasks need)."""
    import ccdcal.pipeline.warm  # noqa: F401

    return os.getpid()


class ProcessExecutor(_ExecutorBase):
    """Run tasks in a pool of worker processes (one per core by default).

    The pool starts at :meth:`start` (or on first use) and is reused by every
    stage of a run; use the executor as a context manager (or call
    :meth:`shutdown`) to stop it.  The workers are forked by a fork server
    (``spawn`` where that is missing): a fresh process that imports what
    the tasks need and loads the compiled kernels once, while the caller
    plans the night, then forks every worker from itself in milliseconds.
    The imports are paid once rather than once per worker (on two cores,
    workers that each imported everything would be ready ~0.4 s later and
    compete with the planning for the CPU), their memory pages are shared,
    and no lock held by a thread of the caller leaks into a worker.  Where a
    task runs never changes its result.

    Parameters
    ----------
    max_workers : int, optional
        Number of worker processes; default: one per core (minus the
        caller's with ``use_caller``).
    use_caller : bool, optional
        The calling process runs tasks too (default False: it keeps the
        books, records the library and draws the progress).
    start_method : {'fork', 'forkserver', 'spawn'}, optional
        Force a :mod:`multiprocessing` start method (default: ``forkserver``
        where the platform has it, else ``spawn``).

    Examples
    --------
    >>> with ProcessExecutor(max_workers=1) as ex:  # doctest: +SKIP
    ...     sorted(ex.map(abs, [-1, -2]))
    [1, 2]
    """

    name = "process"

    def __init__(
        self,
        *,
        max_workers: int | None = None,
        use_caller: bool = False,
        start_method: str | None = None,
    ) -> None:
        if max_workers is not None and max_workers < 0:
            raise invalid_parameter(
                f"max_workers must be a number of processes >= 0, got {max_workers}"
            )
        if max_workers == 0 and not use_caller:
            raise invalid_parameter(
                "max_workers=0 needs use_caller=True (someone has to run the tasks)"
            )
        cores = os.cpu_count() or 1
        default = cores - 1 if use_caller else cores
        self.max_workers = default if max_workers is None else max_workers
        self.use_caller = use_caller
        self.start_method = start_method
        self._method = ""
        self._pool: cf.ProcessPoolExecutor | None = None
        self._warm: list[cf.Future[int]] | None = None

    @property
    def method(self) -> str:
        """The start method of the running pool (``''`` before it starts)."""
        return self._method

    @property
    def concurrency(self) -> int:
        """How many tasks run at once: the workers, plus the caller."""
        return self.max_workers + (1 if self.use_caller else 0)

    def _context(self) -> multiprocessing.context.BaseContext:
        ctx = multiprocessing.get_context(self.start_method or _start_method())
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(list(PRELOAD))
        return ctx

    def _get_pool(self) -> cf.ProcessPoolExecutor | None:
        if self._pool is None and self.max_workers > 0:
            ctx = self._context()
            self._method = ctx.get_start_method()
            log.debug("starting %d worker processes (%s)", self.max_workers, self._method)
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.max_workers, mp_context=ctx, initializer=_worker_init
            )
        return self._pool

    def start(self) -> None:
        """Start the workers now; they import what tasks need while the caller goes on.

        With ``fork`` (only when asked for) the workers are forked here, so
        call this before any thread of this process exists; with
        ``forkserver`` or ``spawn`` they are started from a background thread
        (the fork server first imports the modules, which takes most of a
        second).
        """
        if self._warm is not None:
            return
        warm: list[cf.Future[int]] = []
        self._warm = warm
        pool = self._get_pool()
        if pool is None:
            return

        def spawn() -> None:
            try:
                for _ in range(self.max_workers):
                    warm.append(pool.submit(_warm_up))  # noqa: PERF401 - one by one, as each starts
            except RuntimeError:  # shut down before the workers came up
                pass

        if self._method == "fork":
            spawn()
        else:
            threading.Thread(target=spawn, name="ccdcal-pool-start", daemon=True).start()

    def _ready_workers(self) -> int:
        return sum(1 for f in list(self._warm or ()) if f.done())

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        """Run every task (workers that are up, and the caller); yield results as they come."""
        pending = list(tasks)
        if not pending:
            return
        self.start()
        pool = self._get_pool()
        running: set[cf.Future[R]] = set()

        def top_up() -> None:
            # one task waits behind each running one, so that a worker starts its next
            # task the moment it finishes one, while the caller is still busy with the
            # result (the books, the library): no worker idles between two tasks
            while pool is not None and pending and len(running) < 2 * self._ready_workers():
                running.add(pool.submit(fn, pending.pop(0)))

        try:
            while pending or running:
                top_up()
                if pending and (self.use_caller or not running):
                    if self.use_caller:
                        yield fn(pending.pop(0))
                    else:  # no worker up yet: wait for one
                        time.sleep(0.01)
                    finished = {f for f in running if f.done()}
                else:
                    finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                running.difference_update(finished)
                top_up()
                for future in finished:
                    yield future.result()
        finally:
            for future in running:
                future.cancel()

    def shutdown(self) -> None:
        """Stop the worker processes (the next ``map`` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._warm = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(max_workers={self.max_workers}, use_caller={self.use_caller})"


class ThreadExecutor(_ExecutorBase):
    """Run tasks in a pool of threads of this process.

    No worker start-up and no second copy of the interpreter: the heavy work
    (reading, the combination kernels, numpy arithmetic, writing) releases
    the GIL, so threads use several cores.  The bookkeeping in Python does
    not, which is why :class:`ProcessExecutor` scales further on big nights.

    Examples
    --------
    >>> with ThreadExecutor(max_workers=2) as ex:
    ...     sorted(ex.map(abs, [-1, -2, 3]))
    [1, 2, 3]
    """

    name = "thread"

    def __init__(self, *, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise invalid_parameter(
                f"max_workers must be a positive number of threads, got {max_workers}"
            )
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pool: cf.ThreadPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        """Submit every task, then yield the results as they complete."""
        task_list = list(tasks)
        if not task_list:
            return
        if self._pool is None:
            self._pool = cf.ThreadPoolExecutor(self.max_workers, thread_name_prefix="ccdcal")
        futures = [self._pool.submit(fn, task) for task in task_list]
        try:
            for future in cf.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def shutdown(self) -> None:
        """Stop the threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"ThreadExecutor(max_workers={self.max_workers})"


class DaskExecutor(_ExecutorBase):
    """Run tasks on a Dask cluster: ``client.submit`` for each task, results as they complete.

    Needs ``dask[distributed]`` (``pip install 'ccdcal[dask]'``).  The tasks
    and their functions pickle, and the task functions read and write only
    files named in the task, so any cluster whose workers see the same file
    system can run them.

    Parameters
    ----------
    client : dask.distributed.Client, optional
        The cluster to use; default a local cluster of worker processes
        (closed again by :meth:`shutdown` / the ``with`` block).

    Examples
    --------
    >>> from dask.distributed import Client  # doctest: +SKIP
    >>> with DaskExecutor(Client(processes=False)) as ex:  # doctest: +SKIP
    ...     sorted(ex.map(abs, [-1, -2]))
    [1, 2]
    """

    name = "dask"

    def __init__(self, client: Any = None) -> None:
        self._owned = client is None
        if client is None:
            from dask.distributed import Client

            client = Client(processes=True)
        self.client = client

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        """Submit every task to the cluster, then yield the results as they complete."""
        from dask.distributed import as_completed

        futures = [self.client.submit(fn, task, pure=False) for task in tasks]
        for future in as_completed(futures):
            yield future.result()

    def shutdown(self) -> None:
        """Close the client if this executor made it."""
        if self._owned:
            self.client.close()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client!r})"


def prestart_fork_server() -> bool:
    """Start the fork server the default process pool will use, now; True if started.

    The server then imports the task modules (most of a second) while the
    caller is still parsing its command line and planning; a
    :class:`ProcessExecutor` made later forks its workers from it.  Nothing
    happens where the platform has no fork server.
    """
    if _start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(PRELOAD))
    forkserver.ensure_running()
    return True


def start_executor(executor: Executor) -> None:
    """Call the executor's optional ``start()`` (workers come up in the background).

    >>> start_executor(SerialExecutor())
    """
    start = getattr(executor, "start", None)
    if callable(start):
        start()


def make_executor(
    spec: ExecutorName | Executor | None = None,
    *,
    jobs: int | None = None,
) -> Executor:
    """An executor from a name (``'process'``, ``'thread'``, ``'serial'``) or an object.

    ``jobs`` is how many tasks run at once (default: one per core).  The
    default (``None`` or ``'process'``) is a pool of ``jobs`` worker
    processes, or this process alone (``'serial'``) when ``jobs`` is 1.

    >>> make_executor("process", jobs=3)
    ProcessExecutor(max_workers=3, use_caller=False)
    >>> make_executor("thread", jobs=2)
    ThreadExecutor(max_workers=2)
    >>> make_executor(None, jobs=1)
    SerialExecutor()
    """
    if jobs is not None and jobs < 1:
        raise invalid_parameter(f"jobs must be at least 1, got {jobs}")
    n = jobs or os.cpu_count() or 1
    if spec is None:
        spec = "process" if n > 1 else "serial"
    if isinstance(spec, str):
        if spec == "serial":
            return SerialExecutor()
        if spec == "thread":
            return ThreadExecutor(max_workers=n)
        if spec == "process":
            return ProcessExecutor(max_workers=n)
        raise invalid_parameter(
            f"unknown executor {spec!r}; use 'serial', 'thread', 'process' or an object with "
            "a map() method"
        )
    if not isinstance(spec, Executor):
        raise invalid_parameter(
            f"executor must be 'serial', 'thread', 'process' or have name and map(fn, tasks); "
            f"got {spec!r}"
        )
    return spec
