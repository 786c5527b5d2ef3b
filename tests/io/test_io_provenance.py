"""Tests of the provenance records and the checksum cache."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData

from ccdcal.io import provenance, write_ccd
from ccdcal.io.provenance import array_checksum, read_provenance, record_step
from ccdcal.options import set_options


def test_checksum_depends_on_values_dtype_and_shape() -> None:
    a = np.arange(12, dtype=np.float32)
    assert array_checksum(a) == array_checksum(a.copy())
    assert array_checksum(a) != array_checksum(a.astype(np.float64))
    assert array_checksum(a) != array_checksum(a.reshape(3, 4))
    b = a.copy()
    b[5] += 1
    assert array_checksum(a) != array_checksum(b)


def test_checksum_cache_is_used_and_released() -> None:
    a = np.ones((64, 64), dtype=np.float32)
    first = array_checksum(a)
    assert id(a) in provenance._checksums
    assert array_checksum(a) == first
    key = id(a)
    del a
    gc.collect()
    assert key not in provenance._checksums


def test_record_step_writes_both_forms_in_a_fits_header() -> None:
    ccd = CCDData(np.zeros((4, 4), dtype=np.float32), unit="adu", meta=fits.Header())
    master = CCDData(np.ones((4, 4), dtype=np.float32), unit="adu", meta={"CCDCFILE": "bias.fits"})
    record_step(
        ccd,
        "subtract_bias",
        call_args={"ccd": ccd, "master": master},
        params={"level": np.float32(2.5)},
        calibrations={"master": master},
    )
    assert ccd.meta["HIERARCH SUBTRACT_BIAS"] == "subbias"
    assert ccd.meta["SUBBIAS"] == "ccd=<CCDData>, master=<CCDData>"
    (rec,) = read_provenance(ccd.meta)
    assert rec["step"] == "subtract_bias"
    assert rec["params"] == {"level": 2.5}
    assert rec["calibrations"]["master"] == {
        "file": "bias.fits",
        "checksum": array_checksum(master.data),
    }


def test_record_step_respects_add_keyword_and_auto_logging() -> None:
    ccd = CCDData(np.zeros((2, 2), dtype=np.float32), unit="adu")
    record_step(ccd, "subtract_bias", call_args={}, params={}, add_keyword=False)
    assert read_provenance(ccd.meta) == []
    with set_options(auto_logging=False):
        record_step(ccd, "subtract_bias", call_args={}, params={})
    assert read_provenance(ccd.meta) == []
    record_step(ccd, "subtract_bias", call_args={}, params={}, add_keyword={"MYKEY": 3})
    assert ccd.meta["MYKEY"] == 3
    assert [r["step"] for r in read_provenance(ccd.meta)] == ["subtract_bias"]


def test_a_record_with_a_quote_before_a_slash_survives_the_file(tmp_path: Path) -> None:
    # astropy cuts a long (CONTINUE) string at "'/" when it reads the card back;
    # a path such as /data/O'/night is written so that the record survives
    ccd = CCDData(np.zeros((2, 2), np.float32), unit="adu")
    path = "/data/O'/" + "night/" * 20 + "r0001.fits"
    record_step(ccd, "subtract_bias", call_args={}, params={"raw": path})
    out = tmp_path / "p.fits"
    write_ccd(ccd, out)
    with fits.open(out) as hdul:
        (record,) = read_provenance(hdul[0].header)
    assert record["params"]["raw"] == path
