"""Master-frame combination: ``ccdcal.combine`` against ``ccdproc.combine`` 2.5.1.

Writes synthetic raw bias frames (uint16, BITPIX 16 + BZERO 32768, Gaussian
noise and 0.1 % cosmic-ray-like hits) to a data folder once, warms the page
cache, then runs every case in its own process -- the tools alternating,
after one warm-up run of each -- and measures the wall time and the peak RSS
of the child (``os.wait4``).  It reports medians, the ratios ccdproc/ccdcal
and ccdcal/floor, and writes the table as markdown.

Cases (same call for both tools, files given by name, result written to FITS):

* ``sigclip``: the CCD Data Reduction Guide's call, ``method='average',
  sigma_clip=True, sigma_clip_low_thresh=5, sigma_clip_high_thresh=5,
  sigma_clip_func=np.ma.median, sigma_clip_dev_func=mad_std, unit='adu'``
  with ``mem_limit=350e6`` (``-guide``) or ccdproc's default 16e9 (``-default``);
* ``median``: ``method='median'``; ``average``: plain average (ccdcal only);
* ``floor-mean``: ``fits.getdata`` of every file into one stack,
  ``stack.mean(axis=0)``, write (the floor the issue compares with).

Usage::

    .venv/bin/python benchmarks/bench_combine.py                  # the full matrix
    .venv/bin/python benchmarks/bench_combine.py --quick          # small smoke run
    .venv/bin/python benchmarks/bench_combine.py --frames 10 --size 4096 --repeats 3

Options: ``--data-dir`` (default ``bench-data/`` in the repository),
``--output`` (markdown; default ``benchmarks/results/combine.md``),
``--skip-default-mem-at`` (frame counts where ccdproc's default mem_limit
would need more memory than the machine has; default 40).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASE_SCRIPT = Path(__file__).with_name("combine_case.py")


@dataclass
class Result:
    case: str
    frames: int
    size: int
    walls: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    phases: list[dict[str, float]] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def peak_mib(self) -> float:
        return statistics.median(self.rss)


def make_data(folder: Path, frames: int, size: int) -> list[Path]:
    """Write (or reuse) ``frames`` raw frames of size x size in folder/<size>."""
    sys.path.insert(0, str(REPO / "src"))
    from ccdcal.testing.stacks import write_raw_frames

    target = folder / f"bias{size}"
    existing = sorted(target.glob("bias_*.fits")) if target.exists() else []
    if len(existing) >= frames:
        return existing[:frames]
    print(f"writing {frames} frames of {size}x{size} to {target} ...", flush=True)
    return write_raw_frames(target, frames, (size, size), seed=1)[:frames]


def warm(paths: list[Path]) -> None:
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass


def run_case(case: str, paths: list[Path], workdir: Path) -> tuple[float, float, dict[str, float]]:
    """Run one case in a child process: (wall s, peak RSS MiB, in-process phases)."""
    listfile = workdir / "files.txt"
    listfile.write_text("\n".join(str(p) for p in paths))
    out = workdir / f"{case}.fits"
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(CASE_SCRIPT), case, str(listfile), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(REPO),
    )
    stdout_data = proc.stdout.read() if proc.stdout else b""
    stderr_data = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{stderr_data.decode()[-3000:]}")
    line = stdout_data.decode().strip().splitlines()[-1]
    phases = json.loads(line)["phases"]
    return wall, usage.ru_maxrss / 1024.0, phases


def cases_for(frames: int, args: argparse.Namespace) -> list[str]:
    cases = ["ccdproc-import", "ccdcal-import", "floor-mean", "ccdcal-average-guide"]
    for kind in args.kinds:
        cases += [f"ccdproc-{kind}-guide", f"ccdcal-{kind}-guide"]
        if args.default_mem and frames not in args.skip_default_mem_at:
            cases += [f"ccdproc-{kind}-default", f"ccdcal-{kind}-default"]
    if args.no_ccdproc:
        cases = [c for c in cases if not c.startswith("ccdproc")]
    return cases


def run_matrix(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    workdir = Path(args.data_dir) / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    for frames in args.frames:
        paths = make_data(Path(args.data_dir), frames, args.size)
        warm(paths)
        cases = cases_for(frames, args)
        table = {c: Result(c, frames, args.size) for c in cases}
        for case in cases if args.warmup else []:
            slow = case.startswith("ccdproc") and not case.endswith("import")
            if slow and frames in args.ccdproc_repeats:
                continue  # minutes per run: no warm-up, the page cache is warm already
            run_case(case, paths, workdir)
        for rep in range(args.repeats):
            order = cases if rep % 2 == 0 else list(reversed(cases))
            for case in order:
                slow = case.startswith("ccdproc") and not case.endswith("import")
                if slow and rep >= args.ccdproc_repeats.get(frames, 99):
                    continue
                wall, rss, phases = run_case(case, paths, workdir)
                res = table[case]
                res.walls.append(wall)
                res.rss.append(rss)
                res.phases.append(phases)
                print(
                    f"  N={frames:3d} {case:26s} {wall:8.2f} s {rss:8.0f} MiB {phases}", flush=True
                )
        results += table.values()
    return results


def _find(results: list[Result], frames: int, case: str) -> Result | None:
    return next((r for r in results if r.frames == frames and r.case == case), None)


def _phase(result: Result, *names: str) -> float:
    return sum(statistics.median(p.get(n, 0.0) for p in result.phases) for n in names)


def _row(r: Result, results: list[Result]) -> str:
    tool, _, rest = r.case.partition("-")
    runs = f" ({len(r.walls)} run)" if len(r.walls) == 1 else ""
    cells = [str(r.frames), r.case + runs, f"{r.wall:.2f}", f"{r.peak_mib:.0f}"]
    base = _find(results, r.frames, f"{tool}-import")
    above = ""
    if base is not None and base.walls and rest not in ("import",) and tool != "floor":
        above = f"{r.peak_mib - base.peak_mib:.0f}"
    cells.append(above)
    speed = memory = floor_ratio = floor_phase = ""
    if tool == "ccdcal" and rest != "import":
        other = _find(results, r.frames, f"ccdproc-{rest}")
        if other is not None and other.walls:
            speed = f"**{other.wall / r.wall:.1f}x**"
            memory = f"{r.peak_mib / other.peak_mib:.2f}"
            if base is not None and base.walls:
                other_base = _find(results, r.frames, "ccdproc-import")
                if other_base is not None and other_base.walls:
                    ours = r.peak_mib - base.peak_mib
                    theirs = other.peak_mib - other_base.peak_mib
                    memory += f" ({ours / theirs:.2f})"
        floor = _find(results, r.frames, "floor-mean")
        if floor is not None and floor.walls:
            floor_ratio = f"{r.wall / floor.wall:.2f}"
            floor_phase = f"{_phase(r, 'combine') / _phase(floor, 'read', 'mean'):.2f}"
    cells += [speed, memory, floor_ratio, floor_phase]
    return "| " + " | ".join(cells) + " |"


def markdown(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        (
            f"{len(results)} cases, {args.size}x{args.size} uint16 frames, {args.repeats} "
            f"counted run(s) after {'one warm-up' if args.warmup else 'no warm-up'}; medians. "
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}. Load average at start: {args.load_start}."
        ),
        "",
        (
            "| N | case | wall s | peak RSS MiB | MiB above import | ccdproc / ccdcal (time) "
            "| ccdcal / ccdproc (memory; above import) | ccdcal / floor (process) "
            "| ccdcal / floor (in process) |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(r, results) for r in results]
    lines += ["", "In-process phases (median, s):", ""]
    for r in results:
        keys = r.phases[0].keys() if r.phases else []
        text = ", ".join(f"{k} {statistics.median(p[k] for p in r.phases):.2f}" for k in keys)
        lines.append(f"- N={r.frames} {r.case}: {text}")
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(REPO / "bench-data"))
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "combine.md"))
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=["sigclip", "median"])
    parser.add_argument(
        "--default-mem", action="store_true", help="also run ccdproc's default mem_limit (16e9)"
    )
    parser.add_argument("--skip-default-mem-at", type=int, nargs="*", default=[40])
    parser.add_argument(
        "--ccdproc-repeats-at-40",
        type=int,
        default=1,
        help="counted ccdproc runs at N=40 (each takes minutes)",
    )
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument("--no-ccdproc", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="tiny frames, one run: checks that the script works"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.size, args.repeats, args.warmup = [3], 64, 1, False
        args.kinds = ["sigclip", "median"]
    args.ccdproc_repeats = {40: args.ccdproc_repeats_at_40}
    args.load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    results = run_matrix(args)
    text = markdown(results, args)
    print(text)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
