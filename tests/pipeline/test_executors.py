"""Executors: serial and process pools give the same results."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ccdcal._startup import BLAS_THREAD_VARIABLES
from ccdcal.errors import InvalidParameterError
from ccdcal.pipeline.executors import (
    Executor,
    ProcessExecutor,
    SerialExecutor,
    make_executor,
)


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def slow_square_and_pid(x: int) -> tuple[int, int]:
    time.sleep(0.05)
    return x * x, os.getpid()


def test_serial_runs_in_this_process_in_order() -> None:
    results = list(SerialExecutor().map(square_and_pid, range(5)))
    assert [r for r, _ in results] == [0, 1, 4, 9, 16]
    assert {pid for _, pid in results} == {os.getpid()}


@pytest.mark.slow
def test_process_pool_runs_elsewhere_and_gives_the_same_values() -> None:
    with ProcessExecutor(max_workers=2, use_caller=False) as ex:
        results = list(ex.map(square_and_pid, range(8)))
        again = list(ex.map(square_and_pid, range(3)))  # the pool is reused
    assert sorted(r for r, _ in results) == [x * x for x in range(8)]
    assert os.getpid() not in {pid for _, pid in results}
    assert sorted(r for r, _ in again) == [0, 1, 4]


@pytest.mark.slow
def test_caller_works_alongside_the_workers() -> None:
    # spawn: a fresh interpreter needs a second or more to import what tasks need, so the
    # worker is surely not up during the first map (a fork is ready in milliseconds)
    with ProcessExecutor(max_workers=1, use_caller=True, start_method="spawn") as ex:
        assert ex.concurrency == 2
        first = list(ex.map(square_and_pid, range(4)))  # the worker is not up yet
        while ex._ready_workers() < 1:
            time.sleep(0.01)
        later = list(ex.map(slow_square_and_pid, range(6)))
    assert sorted(r for r, _ in first) == [0, 1, 4, 9]
    assert sorted(r for r, _ in later) == [0, 1, 4, 9, 16, 25]
    assert {pid for _, pid in first} == {os.getpid()}  # the caller ran them meanwhile
    assert len({pid for _, pid in later}) == 2  # then the worker and the caller shared


def test_process_executor_with_no_workers_runs_in_the_caller() -> None:
    ex = ProcessExecutor(max_workers=0, use_caller=True)
    assert [r for r, _ in ex.map(square_and_pid, [3])] == [9]
    assert ex._pool is None


def test_process_pool_with_no_tasks_starts_nothing() -> None:
    ex = ProcessExecutor(max_workers=1)
    assert list(ex.map(square_and_pid, [])) == []
    assert ex._pool is None


def test_make_executor_by_name_and_object() -> None:
    assert isinstance(make_executor("serial"), SerialExecutor)
    proc = make_executor("process", jobs=3)
    assert isinstance(proc, ProcessExecutor)
    assert (proc.max_workers, proc.concurrency) == (3, 3)
    mine = SerialExecutor()
    assert make_executor(mine) is mine
    assert isinstance(make_executor(None, jobs=1), SerialExecutor)
    assert isinstance(mine, Executor)


def test_make_executor_rejects_unknown() -> None:
    with pytest.raises(InvalidParameterError, match="unknown executor 'dask'"):
        make_executor("dask")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="must be 'serial', 'thread', 'process'"):
        make_executor(42)  # type: ignore[arg-type]


def test_process_executor_needs_a_positive_worker_count() -> None:
    with pytest.raises(InvalidParameterError, match="max_workers must be a number"):
        ProcessExecutor(max_workers=-1)
    with pytest.raises(InvalidParameterError, match="needs use_caller=True"):
        ProcessExecutor(max_workers=0, use_caller=False)
    with pytest.raises(InvalidParameterError, match="jobs must be at least 1"):
        make_executor("process", jobs=0)


@pytest.mark.slow
def test_dask_executor_plugs_into_the_seam() -> None:
    distributed = pytest.importorskip("dask.distributed")
    from ccdcal.pipeline.executors import DaskExecutor

    client = distributed.Client(processes=False, n_workers=1, threads_per_worker=2)
    with DaskExecutor(client) as ex:
        assert isinstance(ex, Executor)
        results = sorted(ex.map(square_and_pid, range(6)))
    client.close()
    assert [r for r, _ in results] == [0, 1, 4, 9, 16, 25]


def test_default_is_a_process_pool_over_every_core_and_serial_for_one_job() -> None:
    default = make_executor(None, jobs=2)
    assert isinstance(default, ProcessExecutor)
    assert default.max_workers == 2
    assert not default.use_caller
    assert isinstance(make_executor(None, jobs=1), SerialExecutor)


_START_METHOD_SCRIPT = """
import os, sys, threading
from ccdcal.pipeline.executors import ProcessExecutor

def info(x):
    return x, os.getpid(), os.getppid(), "ccdcal.pipeline.warm" in sys.modules

def collector_state(_):
    import gc
    return gc.get_freeze_count(), gc.isenabled()

if __name__ == "__main__":
    if sys.argv[1] == "thread":
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
    with ProcessExecutor(max_workers=2) as ex:
        ex.start()
        method = ex.method
        out = sorted(ex.map(info, range(6)))
    assert [x for x, *_ in out] == list(range(6)), out
    workers = {pid for _, pid, _, _ in out}
    parents = {ppid for _, _, ppid, _ in out}
    assert os.getpid() not in workers, out
    # every worker was forked by one fork server (not by this process), which had
    # imported the tasks' modules before it forked them
    assert len(parents) == 1 and os.getpid() not in parents, out
    assert all(warm for *_, warm in out), out
    with ProcessExecutor(max_workers=1) as ex:
        frozen, enabled = next(iter(ex.map(collector_state, [0])))
    print(frozen, enabled)
    print(method)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="the fork server exists on POSIX only")
@pytest.mark.parametrize("threads", ["alone", "thread"])
def test_workers_come_from_a_fork_server_that_imported_the_task_modules(
    tmp_path: Path, threads: str
) -> None:
    script = tmp_path / "pool.py"
    script.write_text(_START_METHOD_SCRIPT)
    run = subprocess.run(
        [sys.executable, str(script), threads], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    *_, state, method = run.stdout.splitlines()
    assert method == "forkserver"
    frozen, enabled = state.split()
    # the fork server froze what it imported, so a worker's collector passes skip
    # those objects (and never write to their pages); the workers collect as usual
    assert int(frozen) > 50_000
    assert enabled == "True"


_BLAS_THREADS_SCRIPT = """
import os
import ccdcal.pipeline.warm
print(len(os.listdir("/proc/self/task")), os.environ["OPENBLAS_NUM_THREADS"])
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_the_fork_server_loads_blas_with_one_thread() -> None:
    # OpenBLAS (numpy's, and scipy's for numba) starts a thread per core that spins while
    # the fork server imports; the warm-up asks for one before numpy loads
    env = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARIABLES}
    run = subprocess.run(
        [sys.executable, "-c", _BLAS_THREADS_SCRIPT], capture_output=True, text=True,
        timeout=120, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "1"]


_MALLOC_SCRIPT = """
import resource, sys
import numpy as np
from ccdcal.pipeline.executors import keep_freed_buffers

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        a = np.ones((736, 1092), np.float32)  # a 2x2 pt5m frame, 3.2 MB ...
        b = a + 1.0  # ... and a result: freeing both lets glibc trim its heap
        del a, b
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults()
default = faults()
if not keep_freed_buffers():
    print("not glibc")
    sys.exit(0)
faults()  # the first array after the change still comes from a fresh mapping
print(default, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_workers_reuse_freed_frame_buffers() -> None:
    # glibc unmaps every freed frame-sized buffer by default, so each new array of a task
    # is faulted in page by page; a worker keeps them in its heap instead
    run = subprocess.run(
        [sys.executable, "-c", _MALLOC_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    if run.stdout.strip() == "not glibc":
        pytest.skip("the C library is not glibc")
    default, kept = (int(x) for x in run.stdout.split())
    pages = 2 * 10 * 736 * 1092 * 4 // 4096
    assert default > 0.5 * pages  # arrays faulted in anew
    assert kept < 0.05 * pages  # the same pages reused


_KERNELS_SCRIPT = """
import sys
import ccdcal.pipeline.warm
from numba.core.registry import CPUDispatcher
from ccdcal.pipeline import plan_night, run_plan
from ccdcal.testing.night import make_night

def compiled():
    return {
        (name, attr): len(obj.signatures)
        for name, module in list(sys.modules.items()) if name.startswith("ccdcal")
        for attr, obj in list(vars(module).items()) if isinstance(obj, CPUDispatcher)
    }

loaded = compiled()
make_night(sys.argv[1] + "/n", seed=2, size_factor=0.1, n_science=1)
plan = plan_night(sys.argv[1] + "/n/raw", out_dir=sys.argv[1] + "/out")
assert run_plan(plan, executor="serial", library=False).complete
after = compiled()
print(sorted(k for k, n in after.items() if n > loaded.get(k, 0)))
"""


def test_the_warm_up_loads_every_kernel_the_night_runs(tmp_path: Path) -> None:
    # a kernel loaded in the fork server is loaded once; one first used by a task is
    # loaded again by every worker, at its first task, on the night's critical path
    run = subprocess.run(
        [sys.executable, "-c", _KERNELS_SCRIPT, str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "[]"
