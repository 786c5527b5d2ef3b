"""Read speed of one raw 2048 x 2048 uint16 frame: ccdcal.read_ccd against the alternatives.

Each case runs in its own process (alternating, after a warm-up), reads the same
file ``--reads`` times from the page cache and prints the median time per read.
Cases: ``fits.getdata`` (the floor), ``CCDData.read(unit='adu')`` (what ccdproc
does), ``read_ccd`` (uint16 kept) and ``read_ccd(dtype=float32)``.

    .venv/bin/python benchmarks/bench_io_read.py [--rounds 5] [--reads 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

CASES = ("getdata", "ccddata_read", "read_ccd", "read_ccd_f32")


def make_frame(path: Path) -> None:
    import numpy as np
    from astropy.io import fits

    rng = np.random.default_rng(1)
    data = rng.normal(1000, 8, (2048, 2048)).astype(np.uint16)
    header = fits.Header()
    cards = {
        "TELE": "pt5m",
        "INSTRUME": "QSI 532ws",
        "TYPE": "BIAS",
        "OBJECT": "BIAS",
        "FILTER": "V",
        "EXPTIME": 0.0,
        "DATE-OBS": "2025-06-24T19:30:00.000",
        "XBINNING": 1,
        "YBINNING": 1,
        "GAIN": 1.1,
        "RDNOISE": 8.0,
        "CCD-TEMP": -20.1,
        "SET-TEMP": -20.0,
    }
    for key, value in cards.items():
        header[key] = value
    fits.PrimaryHDU(data, header).writeto(path, overwrite=True)


def run_case(case: str, path: str, reads: int) -> float:
    warnings.simplefilter("default")  # as a user runs: astropy prints its WCS warnings
    import numpy as np
    from astropy.io import fits
    from astropy.nddata import CCDData

    from ccdcal.io import read_ccd

    funcs = {
        "getdata": lambda: fits.getdata(path),
        "ccddata_read": lambda: CCDData.read(path, unit="adu"),
        "read_ccd": lambda: read_ccd(path),
        "read_ccd_f32": lambda: read_ccd(path, dtype=np.float32),
    }
    func = funcs[case]
    func()
    times = []
    for _ in range(reads):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reads", type=int, default=30)
    parser.add_argument("--case")
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.case:
        print(json.dumps({"case": args.case, "s": run_case(args.case, args.path, args.reads)}))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "raw2048.fits"
        make_frame(path)
        results: dict[str, list[float]] = {case: [] for case in CASES}
        for round_ in range(args.rounds + 1):  # the first round is a warm-up
            for case in CASES:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--case",
                        case,
                        "--path",
                        str(path),
                        "--reads",
                        str(args.reads),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                if round_:
                    results[case].append(json.loads(out.stdout)["s"])
    floor = statistics.median(results["getdata"])
    print(f"{'case':<14} {'median ms/read':>15} {'x getdata':>10}")
    for case in CASES:
        med = statistics.median(results[case])
        print(f"{case:<14} {med * 1e3:>15.2f} {med / floor:>10.2f}")


if __name__ == "__main__":
    main()
