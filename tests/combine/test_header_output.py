"""Header of the combined frame, and output_file written atomically."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

import ccdcal
from ccdcal.errors import OutputExistsError
from ccdcal.io import read_ccd
from ccdcal.io.provenance import read_provenance
from ccdcal.stacking import ScaleBy, SigmaClip


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_header_records_the_combination(raw_files: list[Path]) -> None:
    result = ccdcal.combine(
        raw_files,
        method="average",
        unit="adu",
        rejection=SigmaClip(low=4, high=4, deviation="mad_std"),
        scale=ScaleBy("median"),
        weights=np.arange(1.0, 8.0),
    )
    meta = result.meta
    assert meta["NCOMBINE"] == 7
    for i, path in enumerate(raw_files, start=1):
        assert meta[f"IMCMB{i:03d}"] == path.name
        assert meta[f"IMCSM{i:03d}"] == f"sha256:{_sha256(path)}"
    assert meta["COMBMETH"] == "average"
    assert meta["COMBREJ"].startswith("sigclip(low=4, high=4, maxiters=5, center=median")
    assert meta["COMBSCAL"] == "median, normalised to the mean"
    assert meta["COMBWGHT"].startswith("per frame [1, 2, 3")
    # the first input's header is kept, without its array description
    first = fits.getheader(raw_files[0])
    assert meta["IMAGETYP"] == first["IMAGETYP"]
    assert "BZERO" not in meta
    assert "BITPIX" not in meta
    record = read_provenance(meta)[-1]
    assert record["step"] == "combine"
    assert [r["sha256"] for r in record["inputs"]] == [_sha256(p) for p in raw_files]
    assert len(record["params"]["scale_factors"]) == 7


@pytest.mark.parametrize(
    ("method", "expected"), [("average", 20.0), ("median", 20.0), ("sum", 60.0)]
)
def test_exposure_time_of_the_result(method: str, expected: float) -> None:
    frames = [
        CCDData(np.full((2, 2), 5.0), unit="adu", meta={"EXPTIME": t}) for t in (10.0, 20.0, 30.0)
    ]
    assert ccdcal.combine(frames, method=method).meta["EXPTIME"] == expected


def test_exposure_missing_on_one_input_is_not_invented() -> None:
    frames = [
        CCDData(np.full((2, 2), 5.0), unit="adu", meta={"EXPTIME": 10.0}),
        CCDData(np.full((2, 2), 5.0), unit="adu"),
    ]
    assert ccdcal.combine(frames).meta["EXPTIME"] == 10.0  # the first header's, untouched
    frames.reverse()
    assert "EXPTIME" not in ccdcal.combine(frames).meta


def test_in_memory_inputs_are_named() -> None:
    frames = [
        CCDData(np.ones((2, 2)), unit="adu", meta={"CCDCFILE": "dark_01.fits"}),
        CCDData(np.ones((2, 2)), unit="adu"),
    ]
    meta = ccdcal.combine(frames).meta
    assert meta["IMCMB001"] == "dark_01.fits"
    assert meta["IMCMB002"] == "CCDData #2"
    assert "IMCSM001" not in meta


def test_output_file_is_written_and_read_back(tmp_path: Path, raw_files: list[Path]) -> None:
    out = tmp_path / "master_bias.fits"
    result = ccdcal.combine(raw_files, output_file=out, unit="adu", rejection_map=True)
    back = read_ccd(out)
    np.testing.assert_array_equal(back.data, result.data)
    np.testing.assert_array_equal(back.uncertainty.array, result.uncertainty.array)
    np.testing.assert_array_equal(back.mask, result.mask)
    assert back.meta["NCOMBINE"] == 7
    with fits.open(out) as hdul:
        assert hdul[0].verify_checksum() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master_bias.fits"]


def test_output_file_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "master.fits"
    frames = [CCDData(np.full((3, 3), v), unit="adu") for v in (1.0, 2.0)]
    ccdcal.combine(frames, output_file=out)
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match="already exists"):
        ccdcal.combine(frames, output_file=out)

    def broken_write(hdul: Any, name: Any, *args: Any, **kwargs: Any) -> None:
        Path(name).write_bytes(b"SIMPLE  =                    T / half a file")
        raise OSError("disk full")

    monkeypatch.setattr(ccdcal.io.fits, "write_file", broken_write)  # the file writer
    with pytest.raises(OSError, match="disk full"):
        ccdcal.combine(frames, output_file=out, overwrite_output=True)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.fits"]


def test_rejection_map_in_flags() -> None:
    values = np.array([10.0, 10.0, 11.0, 9.0, 10.0, 500.0])
    frames = [CCDData(np.full((2, 3), v), unit="adu") for v in values]
    clip = SigmaClip(low=3, high=3, maxiters=1, deviation="mad_std")
    result = ccdcal.combine(frames, rejection=clip, rejection_map=True)
    assert result.flags.dtype == np.uint16
    np.testing.assert_array_equal(result.flags, 1)
    assert ccdcal.combine(frames).flags is None


def test_recombining_masters_drops_the_old_input_list() -> None:
    frames = [CCDData(np.full((2, 2), v), unit="adu") for v in (1.0, 2.0, 3.0, 4.0)]
    master = ccdcal.combine(frames)
    again = ccdcal.combine([master, master])
    assert again.meta["NCOMBINE"] == 2
    assert "IMCMB003" not in again.meta
    assert "IMCMB004" not in again.meta
