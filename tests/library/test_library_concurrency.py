"""Two processes writing into one library at once: nothing lost, nothing doubled.

Both processes start together on a database that does not exist yet (so table
creation races too), then each registers N masters of its own, the same N
shared masters as the other process (same files and inputs), N usage links
of its own and N usage links that both write for the same science files.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from ccdcal.library import CalibrationLibrary

N = 50


def _frame(path: str, minute: int) -> dict[str, Any]:
    return {"path": path, "frame_type": "bias", "instrument": "ST-8", "xbin": 1, "ybin": 1,
            "date_obs": f"2025-06-24T01:{minute:02d}:00"}  # fmt: skip


def _writer(url: str, tag: str, start: Any, results: Any) -> None:
    """Register masters and usages; put ``(tag, {shared path: id}, error)`` on ``results``."""
    try:
        start.wait(60)
        lib = CalibrationLibrary(url)
        shared: dict[str, int] = {}
        for i in range(N):
            m = lib.add_master(
                "bias", f"/masters/shared-{i}.fits", checksum=f"shared-{i}", instrument="ST-8",
                xbin=1, ybin=1,
                inputs=[_frame(f"/raw/shared-{i}-{k}.fits", k) for k in range(3)],
            )  # fmt: skip
            shared[m.path] = m.id
            own = lib.add_master(
                "dark", f"/masters/{tag}-{i}.fits", checksum=f"{tag}-{i}", instrument="ST-8",
                xbin=1, ybin=1, exptime=60,
                inputs=[_frame(f"/raw/{tag}-{i}.fits", 5), _frame(f"/raw/shared-{i}-0.fits", 0)],
            )  # fmt: skip
            lib.record_usage(
                f"/sci/{tag}-{i}.fits", "bias", m.id, frame=_frame(f"/raw/sci-{tag}-{i}.fits", 30)
            )
            lib.record_usage(f"/sci/common-{i}.fits", "dark", own.id, note=tag)
        lib.close()
        results.put((tag, shared, None))
    except Exception as exc:  # report to the parent instead of dying silently
        results.put((tag, {}, repr(exc)))


def _run_two_writers(url: str) -> list[tuple[str, dict[str, int], str | None]]:
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, tag, start, results)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    start.set()
    out = [results.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return out


def test_two_processes_write_one_library(db_url: str) -> None:
    outcomes = _run_two_writers(db_url)
    assert [error for _, _, error in outcomes] == [None, None]
    (_, shared_a, _), (_, shared_b, _) = outcomes
    assert shared_a == shared_b  # the same master registered twice is one row, same id
    with CalibrationLibrary(db_url) as lib:
        assert lib.check_integrity() == []
        assert lib.counts() == {
            "runs": 0,
            "masters": 3 * N,  # N shared + N per process
            # 3 per shared master, 1 own input per dark, 1 raw science per usage
            "frames": 3 * N + 2 * N + 2 * N,
            "master_inputs": 3 * N + 2 * 2 * N,
            "calibrations_used": 2 * N + N,  # own bias links + one shared dark link each
        }
        assert len(lib.list_masters("bias")) == N
        assert all(m.n_inputs == 3 for m in lib.list_masters("bias"))
        for i in (0, N - 1):
            (dark_link,) = lib.usage_for(f"/sci/common-{i}.fits")
            assert dark_link.note in {"a", "b"}
            assert dark_link.master is not None
            assert dark_link.master.path == f"/masters/{dark_link.note}-{i}.fits"
            (bias_link,) = lib.usage_for(f"/raw/sci-a-{i}.fits")
            assert bias_link.master_id == shared_a[f"/masters/shared-{i}.fits"]
