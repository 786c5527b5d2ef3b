"""Whole-night reduction: ``ccdcal reduce`` against the hand-written ccdproc 2.5.1 chain.

Both reduce the same synthetic pt5m night (``ccdcal demo``'s night, written by
:func:`ccdcal.testing.night.make_night`: 1x1 and 2x2 biases and darks, 1x1
twilight flats in two filters, 2x2 science frames), each in its own
subprocess, alternately, after one warm-up run each (page cache, numba
caches), with ccdcal's modules byte-compiled first as ``pip install`` does.
``ccdcal`` runs with ``--no-report`` (the same work as the ccdproc script);
``ccdcal+report`` is the default command, which also writes the QA report.
Reported: median wall time, peak memory and CPU (the proportional
set size of the process and its workers together, and their CPU times,
sampled every 20 ms in a run of its own), the ratios, how far the calibrated
frames of the two disagree in units of the noise (``|ccdcal - ccdproc| /
sigma`` over pixels good in both), and each chain's error against the
night's truth in units of ccdcal's sigma.

Usage::

    .venv/bin/python benchmarks/bench_pipeline.py [--size-factor 1.0] [--runs 3]
    .venv/bin/python benchmarks/bench_pipeline.py --frames 10 10 10 20   # a fuller night

``benchmarks/pipeline_ccdproc_night.py`` is the ccdproc script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

HERE = Path(__file__).resolve().parent


def tree_memory(proc: psutil.Process) -> int:
    """Memory of a process and all its children, in bytes.

    The proportional set size (PSS): pages shared between processes (a
    worker forked from the fork server shares the interpreter and the
    imported libraries) count once in total, not once per process.
    """
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def _wait_for_group(pgid: int, timeout: float = 10.0) -> None:
    """Wait until no process of the process group ``pgid`` is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.005)


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` alone; return its wall seconds and the CPU seconds ``rusage`` saw.

    The wall time is the command's process's lifetime, what a shell's
    ``time`` reports: ccdcal's pool fork server is a background process that
    finishes exiting (~0.07 s) after the command has returned, so it is
    waited for (it runs in the command's process group) only after the clock
    stops, before the next run starts.  Standard error goes to a file, not a
    pipe, whose end the fork server would hold open.

    ``rusage`` covers the process and the children it waited for: all of
    ccdproc's work, but not ccdcal's pool workers (children of its fork
    server); :func:`peak_memory` samples the whole tree's CPU instead.

    Nothing samples the process while it runs (reading ``/proc/PID/smaps`` for
    memory every few ms costs a good part of a core on a 2-core machine, and
    more for a tree of processes than for one).
    """
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        popen = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
        _, status, usage = os.wait4(popen.pid, 0)
        wall = time.perf_counter() - start
        _wait_for_group(popen.pid)
        errors.seek(0)
        err = errors.read()
    popen.returncode = os.waitstatus_to_exitcode(status)
    if popen.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed ({popen.returncode}):\n{err.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def peak_memory(cmd: list[str]) -> tuple[int, float]:
    """Run ``cmd`` once more, sampling its process tree every 20 ms: peak PSS and CPU seconds.

    The CPU is the sum over every process of the tree of its last sampled
    user + system time (the pool's workers are children of the fork server,
    which nobody waits for, so the timed runs' ``rusage`` does not see them);
    a process's last < 20 ms may be missed.
    """
    popen = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = psutil.Process(popen.pid)
    peak = 0
    cpu: dict[int, float] = {}
    while popen.poll() is None:
        peak = max(peak, tree_memory(proc))
        try:
            for p in [proc, *proc.children(recursive=True)]:
                times = p.cpu_times()
                cpu[p.pid] = times.user + times.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        time.sleep(0.02)
    return peak, sum(cpu.values())


def commands(raw: Path, out: Path, executor: str) -> dict[str, list[str]]:
    py = sys.executable
    reduce = [py, "-m", "ccdcal", "reduce", str(raw), "--quiet", "--executor", executor]
    return {
        "ccdproc": [py, str(HERE / "pipeline_ccdproc_night.py"), str(raw), str(out / "ccdproc")],
        # the same work as the ccdproc script (it writes no QA report) ...
        "ccdcal": [*reduce, "-o", str(out / "ccdcal"), "--no-report"],
        # ... and the default command, which also writes the QA report
        "ccdcal+report": [*reduce, "-o", str(out / "ccdcal-report")],
    }


def compare(out: Path, night: Path) -> dict[str, float]:
    """The two chains against each other and against the night's truth.

    ``|ccdcal - ccdproc| / sigma`` over the science frames (pixels good in
    both, ``sigma`` ccdcal's uncertainty); and for each chain the robust
    standard deviation (``mad_std``) of ``(frame - truth) / sigma`` -- its
    error in units of the noise ccdcal states, 1 for an ideal calibration --
    outside the cosmic rays (which neither chain removes).
    """
    from astropy.stats import mad_std

    from ccdcal.io.fits import read_ccd
    from ccdcal.pipeline.demo import cosmic_ray_footprint
    from ccdcal.testing.night_truth import load_truth

    truth = load_truth(night / "truth")
    by_name = {Path(p).name: p for p in truth.signal}
    meds, p99s, rel, ours_err, theirs_err = [], [], [], [], []
    for path in sorted((out / "ccdcal" / "science").glob("*.fits")):
        ours = read_ccd(path)
        theirs = read_ccd(out / "ccdproc" / "science" / path.name)
        good = ~ours.mask & np.isfinite(theirs.data) & np.isfinite(ours.data)
        if theirs.mask is not None:
            good &= ~theirs.mask
        sigma = ours.uncertainty.array[good]
        diff = np.abs(ours.data[good] - theirs.data[good].astype(np.float64))
        pulls = diff / sigma
        meds.append(float(np.median(pulls)))
        p99s.append(float(np.percentile(pulls, 99)))
        rel.append(float(np.median(diff / np.maximum(np.abs(theirs.data[good]), 1.0))))
        raw = by_name.get(path.name)
        if raw is None:
            continue
        clean = good & ~cosmic_ray_footprint(truth, raw, good.shape)
        signal = truth.signal[raw][clean]
        s = ours.uncertainty.array[clean].astype(np.float64)
        ours_err.append(float(mad_std((ours.data[clean] - signal) / s)))
        theirs_err.append(float(mad_std((theirs.data[clean].astype(np.float64) - signal) / s)))
    return {
        "frames": len(meds),
        "median_abs_diff_over_sigma": max(meds),
        "p99_abs_diff_over_sigma": max(p99s),
        "median_relative_diff": max(rel),
        "truth_error_over_sigma_ccdcal": [round(v, 4) for v in ours_err],
        "truth_error_over_sigma_ccdproc": [round(v, 4) for v in theirs_err],
    }


def compile_bytecode() -> None:
    """Byte-compile ccdcal's modules, as ``pip install`` does.

    Both tools are timed as installed.  ccdproc lives in site-packages with
    the bytecode pip compiled; ccdcal here is an editable install, which gets
    its bytecode on first import unless ``PYTHONDONTWRITEBYTECODE`` is set
    (as it is on the development machines).  Without it each of ccdcal's
    processes would compile its modules from source, ~0.1 s apiece.
    """
    import compileall

    import ccdcal

    compileall.compile_dir(Path(ccdcal.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-factor", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the night and every run's outputs here (default: a temporary folder, "
        "removed at the end; a night and its runs take several GB)",
    )
    parser.add_argument("--executor", default="process", choices=("process", "thread", "serial"))
    parser.add_argument(
        "--frames",
        type=int,
        nargs=4,
        default=(5, 5, 5, 4),
        metavar=("BIAS", "DARK", "FLAT", "SCIENCE"),
        help="make_night's n_bias, n_dark (per binning), n_flat, n_science (per filter); "
        "default: the demo night's 5 5 5 4",
    )
    args = parser.parse_args()
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
            run(args, Path(folder))
    else:
        run(args, args.workdir)


def run(args: argparse.Namespace, work: Path) -> None:
    """Make the night in ``work`` (unless it is there) and time both chains on it."""
    from ccdcal.testing.night import make_night

    compile_bytecode()
    night = work / "night"
    if not (night / "truth").exists():
        n_bias, n_dark, n_flat, n_science = args.frames
        make_night(
            night,
            seed=args.seed,
            size_factor=args.size_factor,
            junk_files=True,
            n_bias=n_bias,
            n_dark=n_dark,
            n_flat=n_flat,
            n_science=n_science,
        )
    raw = night / "raw"
    n_files = sum(1 for _ in raw.rglob("*.fits"))
    raw_mb = sum(p.stat().st_size for p in raw.rglob("*.fits")) / 2**20
    names = ("ccdproc", "ccdcal", "ccdcal+report")
    times: dict[str, list[float]] = {n: [] for n in names}
    peaks: dict[str, list[int]] = {n: [] for n in names}
    tree_cpu: dict[str, float] = {}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    for i in range(args.runs + 1):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            out = work / f"run{i}"
            shutil.rmtree(out / name.replace("+", "-"), ignore_errors=True)
            wall, cpu = timed(commands(raw, out, args.executor)[name])
            load = os.getloadavg()[0]
            line = f"{wall:.2f} s, {cpu:.2f} CPU s (rusage), load {load:.2f}"
            if i == 0:
                print(f"warm-up {name}: {line}")
                continue
            times[name].append(wall)
            cpus[name].append(cpu)
            print(f"run {i} {name}: {line}")
    for name in names:  # memory in runs of their own: sampling slows what it samples
        out = work / "memory"
        shutil.rmtree(out / name.replace("+", "-"), ignore_errors=True)
        peak, tree_cpu[name] = peak_memory(commands(raw, out, args.executor)[name])
        peaks[name].append(peak)
        print(f"memory {name}: {peak / 2**20:.0f} MiB, CPU {tree_cpu[name]:.2f} s (sampled)")
    agreement = compare(work / f"run{args.runs}", night)
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpus.items()}
    peak = {k: max(v) for k, v in peaks.items()}
    result = {
        "frames": n_files,
        "raw_MiB": round(raw_mb, 1),
        "size_factor": args.size_factor,
        "executor": args.executor,
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg()[0],
        "wall_s": {k: round(v, 2) for k, v in med.items()},
        "wall_s_all": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "peak_MiB": {k: round(v / 2**20) for k, v in peak.items()},
        "cpu_s_rusage": {k: round(v, 2) for k, v in cpu_med.items()},
        "cpu_s_tree_sampled": {k: round(v, 2) for k, v in tree_cpu.items()},
        "speedup": round(med["ccdproc"] / med["ccdcal"], 2),
        "speedup_with_report": round(med["ccdproc"] / med["ccdcal+report"], 2),
        "memory_ratio": round(peak["ccdproc"] / peak["ccdcal"], 2),
        "agreement": agreement,
    }
    print(
        f"\n{n_files} raw files ({raw_mb:.0f} MiB), {args.runs} runs, median wall: "
        f"ccdproc {med['ccdproc']:.2f} s, ccdcal {med['ccdcal']:.2f} s "
        f"-> {result['speedup']}x faster (with the QA report {med['ccdcal+report']:.2f} s, "
        f"{result['speedup_with_report']}x); peak memory ccdproc {result['peak_MiB']['ccdproc']} "
        f"MiB, ccdcal {result['peak_MiB']['ccdcal']} MiB -> {result['memory_ratio']}x less"
    )
    print(
        f"calibrated frames: median |ccdcal - ccdproc| / sigma = "
        f"{agreement['median_abs_diff_over_sigma']:.4f} (99th percentile "
        f"{agreement['p99_abs_diff_over_sigma']:.3f})"
    )
    print(
        "error against the truth, robust std of (frame - truth) / sigma, per frame: ccdcal "
        f"{agreement['truth_error_over_sigma_ccdcal']}, ccdproc "
        f"{agreement['truth_error_over_sigma_ccdproc']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
