"""Write speed of a calibrated frame: ccdcal.write_ccd against astropy (what ccdproc uses).

The frame is shaped like the demo night's outputs: float32 data and
uncertainty, a bool mask and about 40 header cards including long JSON
provenance cards; ``--shape`` 1472x2184 is a 1x1 master, 736x1092 a 2x2
science frame. Each case runs in its own process (alternating, after a
warm-up round), writes ``--writes`` new files and prints the minimum and
median time per file. Cases:

* ``bytes``: only the big-endian bytes of the three arrays (the floor);
* ``ccddata_write``: ``CCDData.write`` (what a ccdproc script does; no checksums);
* ``astropy_cs_sha``: ``HDUList.writeto(checksum=True)`` then SHA-256 of the
  file read back (ccdcal before its own writer);
* ``write_ccd``: :func:`ccdcal.io.fits.write_ccd` (CHECKSUM/DATASUM, atomic);
* ``write_ccd_identity``: :func:`ccdcal.io.fits.write_ccd_with_identity`
  (the same plus the file's SHA-256, as the pipeline writes its outputs).

    .venv/bin/python benchmarks/bench_io_write.py [--shape 1472x2184] [--rounds 5] [--writes 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CASES = ("bytes", "ccddata_write", "astropy_cs_sha", "write_ccd", "write_ccd_identity")


def make_frame(shape: tuple[int, int]) -> Any:
    import numpy as np
    from astropy.nddata import CCDData, StdDevUncertainty

    from ccdcal.io.provenance import record_step

    rng = np.random.default_rng(1)
    data = rng.normal(1.0, 0.01, shape).astype(np.float32)
    unc = np.full(shape, 0.003, dtype=np.float32)
    mask = rng.random(shape) < 0.001
    meta: dict[str, Any] = {
        "TELE": "pt5m",
        "INSTRUME": "pt5m",
        "IMAGETYP": "Master Flat",
        "OBJECT": "SKY",
        "FILTER": "R",
        "DATE-OBS": "2025-06-25T05:40:00",
        "XBINNING": 1,
        "YBINNING": 1,
        "GAIN": 1.1,
        "RDNOISE": 8.0,
        "CCD-TEMP": -19.965,
        "NCOMBINE": 5,
    }
    meta.update({f"IMCMB{n:03d}": f"r{1235 + n:07d}.fits" for n in range(1, 6)})
    ccd = CCDData(data, unit="", uncertainty=StdDevUncertainty(unc), mask=mask, meta=meta)
    inputs = [f"r{1235 + n:07d}.fits" for n in range(1, 6)]
    record_step(ccd, "combine", call_args={}, params={"method": "average", "inputs": inputs})
    record_step(
        ccd,
        "make_master_flat",
        call_args={},
        params={"inputs": inputs, "uses": {"bias": {"checksum": "0" * 64}}},
        calibrations={"bias": "bias_1x1.fits", "dark": "dark_1x1_60s.fits"},
        add_keyword={},
    )
    return ccd


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_case(case: str, shape: tuple[int, int], writes: int, folder: str) -> list[float]:
    import numpy as np

    from ccdcal.io.fits import ccd_to_hdulist, write_ccd, write_ccd_with_identity

    ccd = make_frame(shape)

    def raw_bytes(path: Path) -> None:
        with open(path, "wb") as handle:
            for array in (ccd.data, ccd.uncertainty.array, ccd.mask.view(np.uint8)):
                array.astype(array.dtype.newbyteorder(">")).tofile(handle)

    def astropy_cs_sha(path: Path) -> None:
        ccd_to_hdulist(ccd, file_name=path.name).writeto(path, checksum=True)
        _sha256(path)

    funcs = {
        "bytes": raw_bytes,
        "ccddata_write": lambda path: ccd.write(path),
        "astropy_cs_sha": astropy_cs_sha,
        "write_ccd": lambda path: write_ccd(ccd, path),
        "write_ccd_identity": lambda path: write_ccd_with_identity(ccd, path),
    }
    func = funcs[case]
    times = []
    for n in range(writes + 1):  # the first write is a warm-up
        path = Path(folder) / f"{case}{n}.fits"
        start = time.perf_counter()
        func(path)
        if n:
            times.append(time.perf_counter() - start)
        path.unlink()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="1472x2184", help="rows x columns")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writes", type=int, default=9)
    parser.add_argument("--case")
    parser.add_argument("--folder")
    args = parser.parse_args()
    rows, cols = (int(v) for v in args.shape.split("x"))
    if args.case:
        times = run_case(args.case, (rows, cols), args.writes, args.folder)
        print(json.dumps({"case": args.case, "times": times}))
        return
    results: dict[str, list[float]] = {case: [] for case in CASES}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds + 1):  # the first round is a warm-up
            for case in CASES:
                command = [sys.executable, __file__, "--case", case, "--folder", folder]
                command += ["--shape", args.shape, "--writes", str(args.writes)]
                out = subprocess.run(command, check=True, capture_output=True, text=True)
                if round_:
                    results[case].extend(json.loads(out.stdout)["times"])
    floor = min(results["bytes"])
    print(f"{args.shape}: {'case':<20} {'min ms':>8} {'median ms':>10} {'min / bytes':>12}")
    for case in CASES:
        best = min(results[case])
        print(
            f"{'':{len(args.shape) + 2}}{case:<20} {best * 1e3:>8.1f} "
            f"{statistics.median(results[case]) * 1e3:>10.1f} {best / floor:>12.2f}"
        )


if __name__ == "__main__":
    main()
