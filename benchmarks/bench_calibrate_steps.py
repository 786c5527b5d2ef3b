"""Per-frame calibration steps: ccdcal against ccdproc 2.5.1 on the same inputs.

Inputs (same for both): a 2048 x 2048 raw light (uint16, EXPTIME 120 s) and float32
masters with a StdDevUncertainty (bias, 300 s dark, flat).  Each (library, step) case
runs in its own process; libraries alternate within each round, after a warm-up call.
Printed: median seconds per call over the rounds, the ccdproc / ccdcal ratio, and the
peak memory allocated by one call (tracemalloc, MiB), plus the output dtype.
``ccd_process_nolog`` is ``ccd_process`` with header records switched off in both.

    .venv/bin/python benchmarks/bench_calibrate_steps.py [--rounds 5] [--calls 5] [--size 2048]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any

STEPS = (
    "subtract_bias",
    "subtract_dark_scaled",
    "flat_correct",
    "gain_correct",
    "create_deviation",
    "subtract_overscan",
    "trim_image",
    "ccd_process",
    "ccd_process_nolog",
    "block_average",
)


def make_inputs(size: int) -> dict[str, Any]:
    import numpy as np
    from astropy.nddata import CCDData, StdDevUncertainty

    from ccdcal.testing.frames import Camera

    cam = Camera(shape=(size, size), overscan=32, bias_jitter=2.0, seed=1)
    light = cam.light(120.0, sky=5.0, n_stars=200, seed=2, dtype=np.uint16).ccd

    def master(values: np.ndarray, sigma: float, **meta: Any) -> CCDData:
        return CCDData(
            values.astype(np.float32),
            unit="adu",
            uncertainty=StdDevUncertainty(np.full(values.shape, sigma, np.float32)),
            meta=meta,
        )

    bias = master(cam.truth.bias - cam.bias_level, 1.5)
    return {
        "raw": light,
        "light": CCDData(light.data[:, :size].astype(np.float32), unit="adu", meta=light.meta),
        "bias": bias,
        "dark": master(300.0 * cam.truth.dark_rate, 0.7, EXPTIME=300.0),
        "flat": master(20000.0 * cam.truth.flat, 40.0),
        "osec": cam.overscan_section,
        "isec": cam.image_section,
    }


def call_for(lib: Any, step: str, x: dict[str, Any]) -> Any:
    import astropy.units as u

    gain = 2.0 * u.electron / u.adu
    light, bias, dark, flat = x["light"], x["bias"], x["dark"], x["flat"]
    calls = {
        "subtract_bias": lambda: lib.subtract_bias(light, bias),
        "subtract_dark_scaled": lambda: lib.subtract_dark(
            light, dark, exposure_time="EXPTIME", exposure_unit=u.s, scale=True
        ),
        "flat_correct": lambda: lib.flat_correct(light, flat),
        "gain_correct": lambda: lib.gain_correct(light, gain),
        "create_deviation": lambda: lib.create_deviation(
            light, gain=gain, readnoise=10 * u.electron
        ),
        "subtract_overscan": lambda: lib.subtract_overscan(
            x["raw"], fits_section=x["osec"], median=True
        ),
        "trim_image": lambda: lib.trim_image(x["raw"], fits_section=x["isec"]),
        "ccd_process": lambda: lib.ccd_process(
            x["raw"],
            oscan=x["osec"],
            trim=x["isec"],
            error=True,
            gain=gain,
            readnoise=10 * u.electron,
            master_bias=bias,
            dark_frame=dark,
            master_flat=flat,
            exposure_key="EXPTIME",
            exposure_unit=u.s,
            dark_scale=True,
            gain_corrected=False,
        ),
        "block_average": lambda: lib.block_average(light, 2),
    }
    if step == "ccd_process_nolog":  # header records switched off (both libraries)
        process = calls["ccd_process"]
        if lib.__name__ == "ccdcal":
            return lambda: _without_logging(lib.set_options(auto_logging=False), process)
        return lambda: _without_logging(lib.conf.set_temp("auto_logging", False), process)
    return calls[step]


def _without_logging(context: Any, func: Any) -> Any:
    with context:
        return func()


def run_case(lib_name: str, step: str, size: int, calls: int) -> dict[str, Any]:
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)  # ccdproc's create_deviation logs on every call
    lib = __import__(lib_name)
    inputs = make_inputs(size)
    func = call_for(lib, step, inputs)
    out = func()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "seconds": statistics.median(times),
        "peak_mib": peak / 2**20,
        "dtype": str(out.data.dtype),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--case", nargs=3, metavar=("LIB", "STEP", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        lib, step, size = args.case
        print(json.dumps(run_case(lib, step, int(size), args.calls)))
        return
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for step in STEPS:
            for lib in ("ccdproc", "ccdcal"):
                cmd = [
                    sys.executable,
                    __file__,
                    "--calls",
                    str(args.calls),
                    "--case",
                    lib,
                    step,
                    str(args.size),
                ]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                results.setdefault((lib, step), []).append(json.loads(out.strip().splitlines()[-1]))
    print(f"{args.size}x{args.size}, median of {args.rounds} rounds x {args.calls} calls")
    print(
        f"{'step':22s} {'ccdproc s':>10s} {'ccdcal s':>10s} {'ratio':>7s} "
        f"{'ccdproc MiB':>12s} {'ccdcal MiB':>11s}  dtypes (ccdproc/ccdcal)"
    )
    for step in STEPS:
        ref, ours = results[("ccdproc", step)], results[("ccdcal", step)]
        t_ref = statistics.median(r["seconds"] for r in ref)
        t_ours = statistics.median(r["seconds"] for r in ours)
        m_ref = statistics.median(r["peak_mib"] for r in ref)
        m_ours = statistics.median(r["peak_mib"] for r in ours)
        print(
            f"{step:22s} {t_ref:10.4f} {t_ours:10.4f} {t_ref / t_ours:7.1f} {m_ref:12.0f} "
            f"{m_ours:11.0f}  {ref[0]['dtype']}/{ours[0]['dtype']}"
        )


if __name__ == "__main__":
    main()
