"""Benchmark data for bench_collection.py: many small FITS files with 60 header cards.

Each file is a 16 x 16 uint16 image (BITPIX 16, BZERO 32768) whose header has 60
cards, like a pt5m raw frame: TELE, TYPE (BIAS/DARK/SKY/SCIENCE), EXPTIME,
FILTER, DATE-OBS, XBINNING/YBINNING, temperatures, gain, read noise, pointing,
weather and camera keywords, and a COMMENT and a HISTORY card, all written with
astropy (about a minute for 10,000 files; done once). ``verify`` reads a sample
back with astropy.

    .venv/bin/python benchmarks/collection_data.py bench-data/collection --files 10000
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from astropy.io import fits

TYPES = ("BIAS", "DARK", "SKY", "SCIENCE")
FILTERS = ("B", "V", "R", "I")
#: The keywords the benchmark asks for.
KEYWORDS = ["type", "exptime", "filter", "date-obs", "xbinning"]
N_CARDS = 60


def _header(i: int) -> fits.Header:
    kind = TYPES[i % 4]
    exptime = {"BIAS": 0.0, "DARK": 60.0, "SKY": 5.0 + i % 7, "SCIENCE": 120.0}[kind]
    h = fits.Header()
    h["BZERO"] = 32768
    h["BSCALE"] = 1
    h["TELE"] = ("pt5m", "telescope")
    h["TELESCOP"] = ("pt5m", "telescope name")
    h["INSTRUME"] = ("QSI 532ws", "camera")
    h["TYPE"] = (kind, "frame type")
    h["OBJECT"] = ("M 67" if kind == "SCIENCE" else kind, "target")
    h["FILTER"] = (FILTERS[i % 4], "filter name")
    h["EXPTIME"] = (exptime, "exposure time [s]")
    h["DATE-OBS"] = (
        f"2025-06-24T{20 + i // 3600 % 4:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000",
        "UTC start",
    )
    h["MJD-OBS"] = (60850.8 + i / 86400.0, "MJD at start")
    h["XBINNING"] = (1 + i % 3, "binning in x")
    h["YBINNING"] = (1 + i % 3, "binning in y")
    h["CCD-TEMP"] = (-20.0 + (i % 10) * 0.01, "CCD temperature [C]")
    h["SET-TEMP"] = (-20.0, "set point [C]")
    h["GAIN"] = (1.1, "e-/ADU")
    h["RDNOISE"] = (8.0, "read noise [e-]")
    h["READOUTM"] = ("Normal", "readout mode")
    h["RA"] = ("08:51:18.0", "right ascension")
    h["DEC"] = ("+11:48:00", "declination")
    h["EQUINOX"] = (2000.0, "equinox")
    h["AIRMASS"] = (1.0 + (i % 50) / 100.0, "airmass")
    h["ALT"] = (60.0, "altitude [deg]")
    h["AZ"] = (180.0, "azimuth [deg]")
    h["FOCUSPOS"] = (12000 + i % 100, "focuser position")
    h["OBSERVER"] = ("robotic", "observer")
    h["SITE"] = ("La Palma", "site")
    h["SWCREATE"] = ("pt5m control 3.2", "software")
    h["COMMENT"] = "synthetic frame for the ccdcal collection benchmark"
    h["HISTORY"] = "written by benchmarks/collection_data.py"
    filler = N_CARDS - 5 - len(h)  # SIMPLE, BITPIX, NAXIS, NAXIS1, NAXIS2 come first
    for k in range(filler):
        h[f"WEATH{k:03d}"] = (round(10.0 + k * 0.25 + (i % 13) * 0.01, 2), "weather sensor")
    return h


def write_files(folder: Path, n_files: int) -> None:
    """Write ``n_files`` frames ``rNNNNNNN.fits`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(1).integers(0, 60000, (16, 16)).astype(np.uint16)
    for i in range(n_files):
        hdu = fits.PrimaryHDU(data, _header(i))
        path = folder / f"r{i:07d}.fits"
        hdu.writeto(path, overwrite=True)


def verify(folder: Path, sample: int = 5) -> None:
    """Check a few files: 60 cards, the asked-for keywords present."""
    files = sorted(folder.glob("r*.fits"))
    for path in files[:: max(1, len(files) // sample)]:
        header = fits.getheader(path)
        assert len(header) == N_CARDS, (path, len(header))
        for key in KEYWORDS:
            assert key.upper() in header, (path, key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    existing = len(list(args.folder.glob("r*.fits"))) if args.folder.is_dir() else 0
    if existing != args.files:
        for stale in args.folder.glob("r*.fits") if args.folder.is_dir() else []:
            os.remove(stale)
        write_files(args.folder, args.files)
    verify(args.folder)
    print(f"{args.files} files in {args.folder}")


if __name__ == "__main__":
    main()
