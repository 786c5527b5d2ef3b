"""Frame mappings to rows: conversions, extras, checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ccdcal.errors import LibraryError
from ccdcal.library import file_checksum
from ccdcal.library.frames import frame_values, jsonable


def test_numpy_values_become_plain_python() -> None:
    columns, extra = frame_values({
        "path": "/raw/x.fits", "exptime": np.float32(30.0), "xbin": np.int64(2),
        "ccd_temp": float("nan"), "shape": np.array([255, 382]), "gain": None,
        "overscan": np.array([[0, 10], [0, 5]]), "set_temp": "-10.0",
    })  # fmt: skip
    assert columns["exptime"] == 30.0
    assert type(columns["exptime"]) is float
    assert columns["xbin"] == 2
    assert type(columns["xbin"]) is int
    assert columns["ccd_temp"] is None  # NaN is stored as unknown
    assert columns["shape"] == [255, 382]
    assert columns["set_temp"] == -10.0
    assert extra == {"overscan": [[0, 10], [0, 5]]}


def test_bad_numbers_name_the_field() -> None:
    with pytest.raises(LibraryError, match=r"exptime='long' is not a number"):
        frame_values({"path": "/raw/x.fits", "exptime": "long"})
    with pytest.raises(LibraryError, match=r"xbin='2x2' is not an integer"):
        frame_values({"path": "/raw/x.fits", "xbin": "2x2"})


def test_jsonable_handles_paths_and_unknown_objects() -> None:
    assert jsonable({1: Path("/a/b"), "s": {3}}) == {"1": "/a/b", "s": [3]}
    assert jsonable(object).startswith("<class")


def test_file_checksum(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # more than one read chunk
    path = tmp_path / "f.fits"
    path.write_bytes(data)
    assert file_checksum(path) == "sha256:" + hashlib.sha256(data).hexdigest()
