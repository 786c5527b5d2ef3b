"""Calibrated science frames keep the raw frame's world coordinates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from ccdcal.pipeline import plan_night, run_plan
from ccdcal.testing.night import make_night


def _add_wcs(path: Path, ra: float) -> None:
    # a working copy of a raw frame (the test's own night), given a TAN solution
    with fits.open(path, mode="update") as hdul:
        header = hdul[0].header
        header.update(
            CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=ra, CRVAL2=11.8,
            CRPIX1=61.5, CRPIX2=40.25, CD1_1=-1.9e-4, CD1_2=2.0e-6, CD2_1=1.5e-6, CD2_2=1.9e-4,
        )  # fmt: skip


@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")  # the raw's DATE-OBS
def test_calibrated_frames_keep_the_raw_wcs(tmp_path: Path) -> None:
    make_night(tmp_path / "n", seed=5, size_factor=0.1, n_science=1)
    raws = sorted((tmp_path / "n" / "raw").rglob("SCIENCE/*/*.fits"))
    for i, path in enumerate(raws):
        _add_wcs(path, ra=132.8 + i)
    result = run_plan(
        plan_night(tmp_path / "n" / "raw", out_dir=tmp_path / "out"),
        executor="serial",
        library=False,
    )
    assert result.complete
    by_name = {p.name: p for p in raws}
    pixels = np.array([[0.0, 0.0], [17.0, 5.0], [60.5, 40.25], [100.0, 70.0]])
    for science in result.science:
        out = fits.getheader(science.output)
        raw = fits.getheader(by_name[Path(science.output).name])
        sky_out = WCS(out).all_pix2world(pixels, 0)
        sky_raw = WCS(raw).all_pix2world(pixels, 0)
        np.testing.assert_allclose(sky_out, sky_raw, rtol=0, atol=1e-9)
        assert out["CTYPE1"] == "RA---TAN"
