"""One case of ``bench_combine.py``, run in its own process (not run by itself).

    python benchmarks/combine_case.py CASE LISTFILE OUTFILE

CASE is ``<tool>-<kind>[-<mem>]``: tool ``ccdproc``, ``ccdcal`` or ``floor``;
kind ``import`` (start Python and import the tool: the baseline),
kind ``sigclip`` (the CCD Data Reduction Guide's clipped average), ``median``,
``average`` (plain) or ``mean`` (the floor: ``fits.getdata`` of every file
into one stack, ``stack.mean(axis=0)``, write); mem ``guide`` (mem_limit=350e6)
or ``default`` (16e9).  LISTFILE holds the frame paths, one per line.
Prints one JSON line with the in-process phase times.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _phase(times: dict[str, float], name: str, start: float) -> float:
    now = time.perf_counter()
    times[name] = round(now - start, 4)
    return now


def run_floor(files: list[str], out: str, times: dict[str, float], t: float) -> None:
    import numpy as np
    from astropy.io import fits

    t = _phase(times, "import", t)
    first = fits.getdata(files[0])
    stack = np.empty((len(files), *first.shape), first.dtype)
    for i, name in enumerate(files):
        stack[i] = fits.getdata(name)
    t = _phase(times, "read", t)
    mean = stack.mean(axis=0, dtype=np.float32)
    t = _phase(times, "mean", t)
    fits.PrimaryHDU(mean).writeto(out, overwrite=True)
    _phase(times, "write", t)


def run_import(tool: str, times: dict[str, float], t: float) -> None:
    """Only start Python and import the tool: the baseline of time and memory."""
    if tool == "ccdproc":
        import ccdproc  # noqa: F401
    else:
        import ccdcal  # noqa: F401
    _phase(times, "import", t)


def run_tool(
    tool: str, kind: str, mem: str, files: list[str], out: str, times: dict[str, float], t: float
) -> None:
    import numpy as np
    from astropy.stats import mad_std

    if tool == "ccdproc":
        from ccdproc import combine
    else:
        from ccdcal import combine
    t = _phase(times, "import", t)
    mem_limit = 350e6 if mem == "guide" else 16e9
    if kind == "sigclip":
        result = combine(
            files,
            method="average",
            sigma_clip=True,
            sigma_clip_low_thresh=5,
            sigma_clip_high_thresh=5,
            sigma_clip_func=np.ma.median,
            sigma_clip_dev_func=mad_std,
            mem_limit=mem_limit,
            unit="adu",
        )
    else:
        result = combine(files, method=kind, mem_limit=mem_limit, unit="adu")
    t = _phase(times, "combine", t)
    result.write(out, overwrite=True)
    _phase(times, "write", t)


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    case, listfile, out = argv
    files = Path(listfile).read_text().split()
    times: dict[str, float] = {}
    parts = case.split("-")
    if parts[0] == "floor":
        run_floor(files, out, times, t0)
    elif parts[1] == "import":
        run_import(parts[0], times, t0)
    else:
        tool, kind = parts[0], parts[1]
        mem = parts[2] if len(parts) > 2 else "guide"
        run_tool(tool, kind, mem, files, out, times, t0)
    print(json.dumps({"case": case, "phases": times}))
    return 0


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    raise SystemExit(main(sys.argv[1:]))
