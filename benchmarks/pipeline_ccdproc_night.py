"""The hand-written ccdproc 2.5.1 reduction of a synthetic pt5m night (the benchmark's peer).

This is the chain of the seed post ("Subtracting dark images") and the CCD
Data Reduction Guide, written the way a careful user writes it for a pt5m
night, so that it does the same work as ``ccdcal reduce``:

* master bias per binning: ``combine`` (average, 3-sigma clipping about the
  median with ``mad_std``);
* master dark per binning: each dark bias-subtracted, then combined the same
  way; EXPTIME = the darks' mean;
* master flat per filter (1x1): ``ccd_process`` with the bias and the dark
  scaled by EXPTIME, flats above 0.8 x saturation or below 1000 ADU left out,
  combined with ``scale = 1 / median`` and clipping;
* the 2x2 flat: the 1x1 master flat block-averaged (``ccdproc.block_average``);
* science (2x2): ``create_deviation`` (gain and read noise from the header),
  then ``ccd_process`` with bias, dark scaled by EXPTIME and flat; written
  with uncertainty and mask.

Usage: ``python benchmarks/pipeline_ccdproc_night.py RAW_DIR OUT_DIR``
"""

from __future__ import annotations

import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import ccdproc
import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.stats import mad_std
from astropy.utils.exceptions import AstropyWarning

SATURATION = 65535.0
CLIP = {
    "method": "average",
    "sigma_clip": True,
    "sigma_clip_low_thresh": 3,
    "sigma_clip_high_thresh": 3,
    "sigma_clip_func": np.ma.median,
    "sigma_clip_dev_func": mad_std,
}


def inventory(raw: Path) -> dict[str, list[tuple[Path, fits.Header]]]:
    """Every FITS file under ``raw`` by frame type (pt5m's TYPE keyword)."""
    found: dict[str, list[tuple[Path, fits.Header]]] = defaultdict(list)
    for path in sorted(raw.rglob("*.fits")):
        try:
            header = fits.getheader(path)
        except OSError:
            continue
        found[str(header.get("TYPE", "")).upper()].append((path, header))
    return found


def master_bias(files: list[Path]) -> CCDData:
    return ccdproc.combine([str(f) for f in files], unit="adu", **CLIP)


def master_dark(files: list[Path], bias: CCDData) -> CCDData:
    darks = [ccdproc.subtract_bias(CCDData.read(f, unit="adu"), bias) for f in files]
    master = ccdproc.combine(darks, **CLIP)
    master.meta["EXPTIME"] = float(np.mean([d.meta["EXPTIME"] for d in darks]))
    return master


def master_flat(files: list[Path], bias: CCDData, dark: CCDData) -> CCDData:
    flats = []
    for f in files:
        raw = CCDData.read(f, unit="adu")
        if np.median(raw.data) > 0.8 * SATURATION:
            continue
        ccd = ccdproc.ccd_process(
            raw,
            master_bias=bias,
            dark_frame=dark,
            exposure_key="EXPTIME",
            exposure_unit=u.second,
            dark_scale=True,
        )
        if np.median(ccd.data) < 1000:
            continue
        flats.append(ccd)
    return ccdproc.combine(flats, scale=lambda a: 1.0 / np.ma.median(a), **CLIP)


def calibrate(path: Path, bias: CCDData, dark: CCDData, flat: CCDData, out: Path) -> None:
    raw = CCDData.read(path, unit="adu")
    raw = ccdproc.create_deviation(
        raw,
        gain=raw.header["GAIN"] * u.electron / u.adu,
        readnoise=raw.header["RDNOISE"] * u.electron,
        disregard_nan=True,
    )
    ccd = ccdproc.ccd_process(
        raw,
        master_bias=bias,
        dark_frame=dark,
        master_flat=flat,
        exposure_key="EXPTIME",
        exposure_unit=u.second,
        dark_scale=True,
    )
    ccd.write(out / "science" / path.name, overwrite=True)


def main(raw_dir: str, out_dir: str) -> None:
    warnings.simplefilter("ignore", AstropyWarning)
    t0 = time.perf_counter()
    raw, out = Path(raw_dir), Path(out_dir)
    (out / "masters").mkdir(parents=True, exist_ok=True)
    (out / "science").mkdir(parents=True, exist_ok=True)
    frames = inventory(raw)

    def by_bin(kind: str) -> dict[int, list[Path]]:
        groups: dict[int, list[Path]] = defaultdict(list)
        for path, header in frames[kind]:
            groups[int(header["XBINNING"])].append(path)
        return groups

    biases = {b: master_bias(files) for b, files in by_bin("BIAS").items()}
    darks = {b: master_dark(files, biases[b]) for b, files in by_bin("DARK").items()}
    for b in biases:
        biases[b].write(out / "masters" / f"bias_{b}x{b}.fits", overwrite=True)
        darks[b].write(out / "masters" / f"dark_{b}x{b}.fits", overwrite=True)
    flat_files: dict[str, list[Path]] = defaultdict(list)
    for path, header in frames["SKY"]:
        flat_files[str(header["FILTER"])].append(path)
    flats2 = {}
    for name, files in flat_files.items():
        flat1 = master_flat(files, biases[1], darks[1])
        flat1.write(out / "masters" / f"flat_1x1_{name}.fits", overwrite=True)
        flat2 = ccdproc.block_average(flat1, 2)
        flats2[name] = CCDData(flat2.data, unit=flat1.unit, meta=flat1.meta)
    for path, header in frames["SCIENCE"]:
        b = int(header["XBINNING"])
        calibrate(path, biases[b], darks[b], flats2[str(header["FILTER"])], out)
    print(f"ccdproc night reduced in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
