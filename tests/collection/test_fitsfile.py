"""Reading one HDU header: plain, compressed, tile-compressed, MEF, and broken files."""

from __future__ import annotations

import bz2
import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from ccdcal.collection.fitsfile import ext_key, read_hdu_header
from ccdcal.errors import FrameReadError

from .conftest import write_frame


def _items(header: fits.Header) -> list[tuple[str, object]]:
    return [(k, v) for k, v in header.items() if k]


@pytest.fixture
def frame(tmp_path: Path) -> Path:
    header = {"IMAGETYP": "Light Frame", "EXPTIME": 30.0, "OBJECT": "it's", "LONGSTR": "z" * 100}
    return write_frame(tmp_path / "a.fits", header, shape=(20, 30))


def test_plain_header_equals_astropy(frame: Path) -> None:
    hdu = read_hdu_header(frame)
    assert hdu.index == 0
    assert hdu.shape == (20, 30)
    assert not hdu.compressed
    assert list(hdu.cards.items_with_duplicates()) == _items(fits.getheader(frame))


@pytest.mark.parametrize("kind", ["gz", "bz2", "zip"])
def test_compressed_streams(frame: Path, kind: str) -> None:
    blob = frame.read_bytes()
    target = frame.with_name(f"a.fits.{kind}")
    if kind == "gz":
        target.write_bytes(gzip.compress(blob))
    elif kind == "bz2":
        target.write_bytes(bz2.compress(blob))
    else:
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("a.fits", blob)
    hdu = read_hdu_header(target)
    assert hdu.shape == (20, 30)
    assert hdu.cards["EXPTIME"] == 30.0
    assert list(hdu.cards.items_with_duplicates()) == _items(fits.getheader(target))


@pytest.mark.parametrize(
    ("dtype", "options"),
    [
        (np.uint16, {}),
        (np.int32, {"compression_type": "GZIP_1"}),
        (np.float32, {"compression_type": "GZIP_2", "quantize_level": 16}),
        (np.float32, {"compression_type": "HCOMPRESS_1"}),
    ],
)
def test_tile_compressed_image_header_equals_astropy(
    tmp_path: Path, dtype: type, options: dict
) -> None:
    rng = np.random.default_rng(3)
    data = (rng.random((24, 40)) * 1000).astype(dtype)
    header = fits.Header({"EXPTIME": 12.5, "IMAGETYP": "Dark Frame"})
    header["HISTORY"] = "after the keywords"
    path = tmp_path / "x.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header, **options)]).writeto(path)
    hdu = read_hdu_header(path, 1)
    assert hdu.compressed
    assert hdu.index == 1
    assert hdu.shape == (24, 40)
    assert list(hdu.cards.items_with_duplicates()) == _items(fits.getheader(path, 1))


def test_auto_passes_over_empty_primary_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "mef.fits"
    primary = fits.PrimaryHDU(header=fits.Header({"OBSTYPE": "BIAS", "TELESCOP": "t"}))
    fits.HDUList([primary, fits.ImageHDU(np.zeros((5, 7), np.float32), name="SCI")]).writeto(path)
    hdu = read_hdu_header(path, "auto")
    assert hdu.index == 1
    assert hdu.shape == (5, 7)
    assert hdu.primary is not None
    assert hdu.primary["OBSTYPE"] == "BIAS"


def test_auto_reads_primary_with_data(frame: Path) -> None:
    hdu = read_hdu_header(frame, "auto")
    assert (hdu.index, hdu.primary) == (0, None)


def test_auto_on_header_only_file_gives_primary(tmp_path: Path) -> None:
    path = tmp_path / "empty.fits"
    fits.PrimaryHDU().writeto(path)
    hdu = read_hdu_header(path, "auto")
    assert (hdu.index, hdu.shape) == (0, None)


def test_extensions_by_index_name_and_version(tmp_path: Path) -> None:
    path = tmp_path / "mef.fits"
    hdus = [
        fits.PrimaryHDU(np.zeros((2, 2), np.int16)),
        fits.ImageHDU(np.zeros((3, 4), np.float32), name="SCI"),
        fits.ImageHDU(np.zeros((5, 6), np.float32), name="SCI", ver=2),
        fits.BinTableHDU.from_columns([fits.Column("a", "E", array=np.arange(3.0))], name="TAB"),
    ]
    fits.HDUList(hdus).writeto(path)
    assert read_hdu_header(path, 1).shape == (3, 4)
    assert read_hdu_header(path, "sci").index == 1
    assert read_hdu_header(path, ("SCI", 2)).shape == (5, 6)
    assert read_hdu_header(path, "TAB").index == 3
    with pytest.raises(FrameReadError, match=r"no HDU 7 \(the file has 4 HDU"):
        read_hdu_header(path, 7)
    with pytest.raises(FrameReadError, match="no HDU 'DQ'"):
        read_hdu_header(path, "DQ")


def test_not_fits(tmp_path: Path) -> None:
    path = tmp_path / "notes.fits"
    path.write_text("observing log: clear skies\n")
    with pytest.raises(FrameReadError, match="not a FITS file"):
        read_hdu_header(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.fits"
    path.write_bytes(b"")
    with pytest.raises(FrameReadError, match="not a FITS file"):
        read_hdu_header(path)


def test_truncated_data_is_reported(frame: Path) -> None:
    blob = frame.read_bytes()
    cut = frame.with_name("cut.fits")
    cut.write_bytes(blob[: 2880 + 100])
    with pytest.raises(FrameReadError, match="truncated file: HDU 0 needs"):
        read_hdu_header(cut)


def test_truncated_header_is_reported(frame: Path) -> None:
    cut = frame.with_name("cut.fits")
    cut.write_bytes(frame.read_bytes()[:1000])
    with pytest.raises(FrameReadError, match="truncated header"):
        read_hdu_header(cut)


def test_header_without_end_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "noend.fits"
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                   16",
        "NAXIS   =                    0",
    ]
    path.write_bytes("".join(c.ljust(80) for c in cards).ljust(2880 * 2).encode())
    with pytest.raises(FrameReadError, match="truncated header in HDU 0"):
        read_hdu_header(path)


@pytest.mark.parametrize(
    ("cards", "message"),
    [
        (
            ["SIMPLE  =                    T", "BITPIX  =                   17", "NAXIS   = 0"],
            "BITPIX = 17",
        ),
        (["SIMPLE  =                    T", "BITPIX  =                   16"], "NAXIS missing"),
        (
            ["SIMPLE  =                    T", "BITPIX  = 16", "NAXIS   = 2", "NAXIS1  = 4"],
            "NAXIS2 missing",
        ),
        (["SIMPLE  =                    T", "BITPIX  = 16", "NAXIS   = -1"], "NAXIS = -1"),
    ],
)
def test_broken_structure_is_reported(tmp_path: Path, cards: list[str], message: str) -> None:
    path = tmp_path / "broken.fits"
    text = "".join(c.ljust(80) for c in [*cards, "END"])
    path.write_bytes(text.ljust(2880).encode())
    with pytest.raises(FrameReadError, match=f"broken header.*{message}"):
        read_hdu_header(path)


def test_corrupt_gzip_is_reported(frame: Path) -> None:
    blob = gzip.compress(frame.read_bytes())
    path = frame.with_name("bad.fits.gz")
    path.write_bytes(blob[:40])
    with pytest.raises(FrameReadError, match=r"bad\.fits\.gz"):
        read_hdu_header(path)


def test_missing_file_is_a_frame_read_error(tmp_path: Path) -> None:
    with pytest.raises(FrameReadError, match="cannot open"):
        read_hdu_header(tmp_path / "nothere.fits")


def test_ext_key_rejects_nonsense() -> None:
    with pytest.raises(FrameReadError, match="ext must be"):
        ext_key(True)
    with pytest.raises(FrameReadError, match="ext must be"):
        ext_key(1.5)  # type: ignore[arg-type]
