"""The one-pass FITS writer: the same bytes as astropy, checksums, no change to the input."""

from __future__ import annotations

import gzip
import io
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty

from ccdcal.io import stream
from ccdcal.io.checksum import array_datasum, encode_checksum, hdu_checksum, words_sum
from ccdcal.io.fits import ccd_to_hdulist
from ccdcal.io.identity import file_identity
from ccdcal.io.provenance import record_step

_WHEN = "2020-01-02T03:04:05"


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checksum cards' comments carry the time: make both writers use the same one."""
    monkeypatch.setattr(fits.hdu.base._ValidHDU, "_get_timestamp", lambda self: _WHEN)
    monkeypatch.setattr(stream, "_timestamp", lambda: _WHEN)


def _astropy_bytes(hdul: fits.HDUList, *, checksum: bool = True) -> bytes:
    buffer = io.BytesIO()
    hdul.writeto(buffer, checksum=checksum)
    return buffer.getvalue()


def _stream_bytes(hdul: fits.HDUList, *, checksum: bool = True) -> bytes:
    buffer = io.BytesIO()
    stream.write_hdulist(hdul, buffer, checksum=checksum)
    return buffer.getvalue()


def _reference_datasum(array: np.ndarray) -> int:
    """The definition, slowly: big-endian bytes, zero padded, 32-bit words, end-around carry."""
    raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder(">")).tobytes()
    raw += bytes(-len(raw) % 4)
    total = sum(struct.unpack(f">{len(raw) // 4}I", raw))
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def _array(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    kind = np.dtype(dtype)
    if kind.kind == "f":
        return (rng.normal(0.0, 3e4, shape)).astype(kind)
    info = np.iinfo(kind)
    native = kind.newbyteorder("=")
    return rng.integers(info.min, info.max, shape, dtype=native, endpoint=True).astype(kind)


_DTYPES = ["<f4", ">f4", "<f8", ">f8", "u1", "i1", "<i2", ">u2", "<u2", "<i4", "<u4", ">i8", "<u8"]


# ----------------------------------------------------------------------------- checksum arithmetic


@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (13, 17), (2, 3, 5)])
def test_datasum_matches_the_definition(dtype: str, shape: tuple[int, ...]) -> None:
    array = _array(np.random.default_rng(len(shape) + 10 * len(dtype)), dtype, shape)
    assert array_datasum(array) == _reference_datasum(array)


def test_datasum_of_a_strided_view() -> None:
    base = np.random.default_rng(1).normal(size=(40, 50)).astype(np.float32)
    view = base[::3, 1::2]
    assert array_datasum(view) == _reference_datasum(view)


def test_words_sum_wraps_the_carry_around() -> None:
    assert words_sum(b"\xff\xff\xff\xff\x00\x00\x00\x02") == 2  # 0xFFFFFFFF + 2 = 1 carry + 1
    assert words_sum(b"\x80") == 0x80000000
    assert words_sum(b"", start=5) == 5


def test_checksum_makes_the_hdu_sum_to_minus_zero() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        datasum = int(rng.integers(0, 2**32))
        header = bytearray(b"CHECKSUM= '0000000000000000'".ljust(2880))
        header[200:240] = rng.integers(32, 127, 40, dtype=np.uint8).tobytes()
        value = hdu_checksum(bytes(header), datasum)
        assert len(value) == 16
        assert value.isalnum()  # the encoding avoids punctuation
        filled = bytes(header).replace(b"0" * 16, value.encode(), 1)
        assert words_sum(filled, start=datasum) == 0xFFFFFFFF


def test_encoding_agrees_with_astropy() -> None:
    hdu = fits.PrimaryHDU()
    values = [0, 1, 0xFFFFFFFF, 0x3A3A3A3A, 0x40404040, 0x5B5B5B5B, 0x60606060]
    values += [int(v) for v in np.random.default_rng(3).integers(0, 2**32, 2000)]
    for value in values:
        assert encode_checksum(value) == hdu._char_encode(value), hex(value)


# ----------------------------------------------------------------------------- same file as astropy


@pytest.mark.usefixtures("fixed_time")
@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("checksum", [True, False])
def test_same_bytes_as_astropy(dtype: str, checksum: bool) -> None:
    rng = np.random.default_rng(4)
    data = _array(rng, dtype, (21, 33))
    mask = rng.random((21, 33)) < 0.2
    unc = StdDevUncertainty(np.abs(data.astype(np.float64)) + 1.0)
    ccd = CCDData(data, unit="adu", mask=mask, uncertainty=unc, meta={"OBJECT": "M67"})
    record_step(ccd, "subtract_bias", call_args={"ccd": ccd}, params={"note": "x" * 300})

    def build() -> fits.HDUList:
        return ccd_to_hdulist(ccd, file_name="frame.fits")

    assert stream.streamable(build())
    ours = _stream_bytes(build(), checksum=checksum)
    assert ours == _astropy_bytes(build(), checksum=checksum)
    assert len(ours) % stream.BLOCK == 0


@pytest.mark.usefixtures("fixed_time")
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda a: [fits.PrimaryHDU(a[::2, 1::3])], id="strided"),
        pytest.param(lambda a: [fits.PrimaryHDU(a.reshape(4, 10, 50))], id="3d"),
        pytest.param(lambda a: [fits.PrimaryHDU(a[0])], id="1d"),
        pytest.param(
            lambda a: [fits.PrimaryHDU(), fits.ImageHDU(a, name="SCI")], id="empty-primary"
        ),
    ],
)
def test_same_bytes_for_other_layouts(make: Callable[[np.ndarray], list[fits.ImageHDU]]) -> None:
    array = np.random.default_rng(5).normal(size=(40, 50)).astype(np.float32)
    assert _stream_bytes(fits.HDUList(make(array))) == _astropy_bytes(fits.HDUList(make(array)))


def test_astropy_verifies_the_checksums() -> None:
    rng = np.random.default_rng(6)
    hdul = fits.HDUList(
        [
            fits.PrimaryHDU(rng.normal(size=(30, 20)).astype(np.float32)),
            fits.ImageHDU((rng.random((30, 20)) < 0.5).astype(np.uint8), name="MASK"),
            fits.ImageHDU(rng.integers(0, 65536, (30, 20), dtype=np.uint16), name="RAW"),
        ]
    )
    buffer = io.BytesIO(_stream_bytes(hdul))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy warns about a wrong checksum
        with fits.open(buffer, checksum=True) as back:
            assert [h.verify_checksum() for h in back] == [1, 1, 1]
            assert [h.verify_datasum() for h in back] == [1, 1, 1]
            np.testing.assert_array_equal(back["RAW"].data, hdul["RAW"].data)


def test_input_arrays_are_not_changed() -> None:
    data = np.random.default_rng(7).normal(size=(30, 40)).astype(np.float32)
    unsigned = np.arange(1200, dtype=np.uint16).reshape(30, 40)
    frozen = data.copy()
    frozen.flags.writeable = False
    before = (data.copy(), unsigned.copy())
    hdul = fits.HDUList([fits.PrimaryHDU(data), fits.ImageHDU(unsigned), fits.ImageHDU(frozen)])
    _stream_bytes(hdul)
    np.testing.assert_array_equal(data, before[0])
    np.testing.assert_array_equal(unsigned, before[1])
    assert data.dtype == np.dtype("=f4")
    assert unsigned.dtype == np.dtype(np.uint16)


def test_what_is_left_to_astropy() -> None:
    image = np.zeros((4, 4), np.float32)
    assert not stream.streamable(fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(image)]))
    table = fits.BinTableHDU.from_columns([fits.Column("A", "E", array=np.zeros(3))])
    assert not stream.streamable(fits.HDUList([fits.PrimaryHDU(), table]))
    blank = fits.PrimaryHDU(image)
    blank.header["NAXIS1"] = 5  # header and data disagree: let astropy sort it out
    assert not stream.streamable(fits.HDUList([blank]))
    scaled = fits.PrimaryHDU(image)
    scaled.header["BSCALE"] = 2.0
    assert not stream.streamable(fits.HDUList([scaled]))


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyUserWarning")
def test_an_invalid_header_fails_like_astropy() -> None:
    def build() -> fits.HDUList:
        header = fits.Header()
        header["HIERARCH " + "K" * 75] = 1
        return fits.HDUList([fits.PrimaryHDU(np.zeros((2, 2), np.float32), header)])

    with pytest.raises(fits.VerifyError, match=r"K{20}.*is not FITS standard") as astropy_error:
        _astropy_bytes(build())
    with pytest.raises(fits.VerifyError, match=r"K{20}.*is not FITS standard") as our_error:
        _stream_bytes(build())
    assert str(our_error.value) == str(astropy_error.value)


# ----------------------------------------------------------------------------- files and identity


@pytest.mark.parametrize("gzip_level", [None, 6])
def test_write_file_identity_equals_a_later_read(tmp_path: Path, gzip_level: int | None) -> None:
    data = np.random.default_rng(8).normal(size=(100, 120)).astype(np.float32)
    path = tmp_path / ("a.fits" if gzip_level is None else "a.fits.gz")
    hdul = fits.HDUList([fits.PrimaryHDU(data)])
    written = stream.write_file(hdul, path, gzip_level=gzip_level, record_as=path)
    assert written == file_identity(path)
    raw = gzip.decompress(path.read_bytes()) if gzip_level else path.read_bytes()
    with fits.open(io.BytesIO(raw), checksum=True) as back:
        np.testing.assert_array_equal(back[0].data, data)


def test_write_file_without_identity_returns_none(tmp_path: Path) -> None:
    hdul = fits.HDUList([fits.PrimaryHDU(np.ones((3, 3), np.int32))])
    assert stream.write_file(hdul, tmp_path / "b.fits") is None
    assert fits.getdata(tmp_path / "b.fits").sum() == 9


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 4096, 100_003])
@pytest.mark.parametrize("dtype", ["<u4", ">u4", "u1", "<u2", ">u2", "<u8"])
def test_the_word_sum_kernels_equal_the_plain_sum(size: int, dtype: str) -> None:
    """``_sum_blocks`` (numba kernels for unsigned words, either byte order) is Python's sum."""
    from ccdcal.io.checksum import _sum_blocks

    kind = np.dtype(dtype)
    top = min(np.iinfo(kind).max, 2**32 - 1)  # the values it is given are below 2**32
    rng = np.random.default_rng(size)
    values = rng.integers(top - 3, top, size, endpoint=True).astype(kind)  # near the top
    values[: size // 2] = rng.integers(0, top, size // 2, endpoint=True)
    assert _sum_blocks(values) == sum(int(v) for v in values)
    assert _sum_blocks(values[::3]) == sum(int(v) for v in values[::3])  # not contiguous
