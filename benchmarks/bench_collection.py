"""Reading a night: ccdproc 2.5.1's ImageFileCollection against ccdcal's, cold and warm cache.

The data are small FITS files (16 x 16 uint16) with 60 header cards each
(``collection_data.py`` writes them once). Each case runs in a new process that
builds ``ImageFileCollection(folder, keywords=[5 keywords])`` and takes its
``summary``:

* ``ccdproc``: ccdproc 2.5.1;
* ``cold``: ccdcal with an empty header cache (the cache folder is wiped first),
  i.e. the first scan of a folder;
* ``warm``: ccdcal again in a new process, the folder unchanged, i.e. a second
  scan served from the persistent cache (here the summary of the same
  keywords is cached whole);
* ``rekeyed``: ccdcal in a new process asking for 5 keywords not asked for
  before (a different set each round): the headers come from the cache and
  the summary is built from them.

The cases alternate (ccdproc, cold, warm, rekeyed) for ``--rounds`` rounds; the table
gives median times of the collection call (imports excluded, measured inside
the process; the whole process wall time is shown too), ratios to ccdproc and
peak resident memory. A child checks that its summary has one row per file and
the asked-for columns.

    .venv/bin/python benchmarks/bench_collection.py                # 10,000 files, 3 rounds
    .venv/bin/python benchmarks/bench_collection.py --quick        # 300 files, smoke test
    .venv/bin/python benchmarks/bench_collection.py --data DIR --files N --rounds R
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CASES = ("ccdproc", "cold", "warm", "rekeyed")

_CHILD = r"""
import json, os, resource, sys, time, warnings
t0 = time.perf_counter()
case, folder, keywords = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if case == "ccdproc":
    from ccdproc import ImageFileCollection
else:
    from ccdcal import ImageFileCollection
t1 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    collection = ImageFileCollection(folder, keywords=keywords)
    summary = collection.summary
t2 = time.perf_counter()
assert summary.colnames == ["file", *keywords], summary.colnames
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"import": t1 - t0, "scan": t2 - t1, "rows": len(summary), "rss": rss}))
"""


def run_case(case: str, folder: Path, keywords: list[str], cache: Path) -> dict[str, float]:
    """One case in a fresh process; returns its timings."""
    env = dict(os.environ, CCDCAL_CACHE_DIR=str(cache))
    if case == "cold":
        shutil.rmtree(cache, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, case, str(folder), json.dumps(keywords)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def ensure_data(folder: Path, n_files: int) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "collection_data.py"), str(folder), "--files", str(n_files)],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench-data" / "collection")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="300 files, 1 round (smoke test)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.files, args.rounds = 300, 1
        if args.data == REPO / "bench-data" / "collection":
            args.data = REPO / "bench-data" / "collection-quick"
    sys.path.insert(0, str(HERE))
    from collection_data import KEYWORDS

    ensure_data(args.data, args.files)
    cache = Path(tempfile.mkdtemp(prefix="ccdcal-bench-cache-"))
    times: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    try:
        for rnd in range(args.rounds):
            for case in CASES:
                keywords = KEYWORDS
                if case == "rekeyed":
                    keywords = ["object", "ccd-temp", f"weath{rnd:03d}", "airmass", "gain"]
                result = run_case(case, args.data, keywords, cache)
                assert result["rows"] == args.files, result
                times[case].append(result)
                scan, wall = result["scan"], result["wall"]
                print(f"round {rnd + 1} {case:8s} scan {scan:8.3f} s  wall {wall:7.2f} s")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    report(times, args)


def report(times: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    med = {
        c: {k: statistics.median(r[k] for r in times[c]) for k in ("scan", "wall", "rss", "import")}
        for c in CASES
    }
    base = med["ccdproc"]["scan"]
    load = os.getloadavg()[0]
    print()
    print(f"{args.files} files x 60 cards, 5 keywords, median of {args.rounds} round(s)", end="")
    print(f", load {load:.2f}")
    print("| case | collection + summary (s) | vs ccdproc | process wall (s) | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    labels = {
        "ccdproc": "ccdproc 2.5.1",
        "cold": "ccdcal, first scan (empty cache)",
        "warm": "ccdcal, second scan (new process)",
        "rekeyed": "ccdcal, new process, 5 other keywords",
    }
    for case in CASES:
        m = med[case]
        ratio = base / m["scan"]
        rss = m["rss"] / 2**20
        print(f"| {labels[case]} | {m['scan']:.3f} | {ratio:.1f}x | {m['wall']:.2f} | {rss:.0f} |")
    if args.json:
        args.json.write_text(
            json.dumps({"files": args.files, "rounds": args.rounds, "times": times}, indent=1)
        )


if __name__ == "__main__":
    main()
