"""Read one HDU's header from a FITS file without reading the data or parsing every card.

The header is read as bytes, 2880-byte block by block until the END card;
earlier HDUs are passed over by computing the size of their data from
``BITPIX``/``NAXISn``/``PCOUNT``/``GCOUNT``. Gzip and bzip2 files are read
through their decompressors only as far as needed. A tile-compressed image
(``ZIMAGE = T``, as in ``.fz`` files) gets the image header astropy shows for
it (``ZBITPIX`` becomes ``BITPIX``, ``ZNAXISn`` become ``NAXISn``, the table
keywords are dropped), so its shape is the image's.

Problems are raised as :class:`~ccdcal.errors.FrameReadError` with a reason
that says what is wrong: not FITS, truncated, a broken header, no such HDU.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from astropy.io import fits
>>> path = os.path.join(tempfile.mkdtemp(), "bias.fits")
>>> fits.writeto(path, np.zeros((3, 4), dtype=np.uint16), fits.Header({"IMAGETYP": "Bias Frame"}))
>>> hdu = read_hdu_header(path)
>>> hdu.index, hdu.shape, hdu.cards["IMAGETYP"]
(0, (3, 4), 'Bias Frame')
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import re
import zipfile
from dataclasses import dataclass
from typing import IO, Literal, cast

from astropy.io import fits

from ccdcal.collection.cards import (
    COMMENTARY_KEYWORDS,
    CardParseError,
    HeaderCards,
    find_end_card,
    parse_card_value,
)
from ccdcal.errors import FrameReadError

__all__ = ["BLOCK", "ExtSpec", "HDUHeader", "ext_key", "read_hdu_header"]

BLOCK = 2880
_CARD = 80
_MAX_HEADER_BLOCKS = 10_000  # 28.8 MB of header: anything bigger is broken

#: Which HDU to read: an index, an EXTNAME, an (EXTNAME, EXTVER) pair, or
#: ``'auto'`` (the primary HDU, or the first extension when the primary has no data).
ExtSpec = int | str | tuple[str, int]

_GZIP_MAGIC = b"\x1f\x8b"
_BZ2_MAGIC = b"BZh"
_ZIP_MAGIC = b"PK\x03\x04"
_LZW_MAGIC = b"\x1f\x9d"

# Keywords of a compressed-image table that astropy does not show in the image header.
_TABLE_INDEXED = re.compile(
    r"(TTYPE|TFORM|TUNIT|TNULL|TSCAL|TZERO|TDISP|TBCOL|TDIM|TCTYP|TCUNI|TCRPX|TCRVL|TCDLT|TRPOS"
    r"|NAXIS|ZNAXIS|ZTILE|ZNAME|ZVAL)[1-9][0-9]*\Z"
)
_DROPPED = frozenset(
    {
        "SIMPLE",
        "XTENSION",
        "BITPIX",
        "NAXIS",
        "EXTEND",
        "PCOUNT",
        "GCOUNT",
        "GROUPS",
        "BSCALE",
        "BZERO",
        "TFIELDS",
        "THEAP",
        "CHECKSUM",
        "DATASUM",
        "ZSIMPLE",
        "ZTENSION",
        "ZBITPIX",
        "ZNAXIS",
        "ZEXTEND",
        "ZBLOCKED",
        "ZPCOUNT",
        "ZGCOUNT",
        "ZHECKSUM",
        "ZDATASUM",
        "ZIMAGE",
        "ZCMPTYPE",
        "ZMASKCMP",
        "ZQUANTIZ",
        "ZDITHER0",
        "ZBLANK",
        "ZSCALE",
        "ZZERO",
    }
)


@dataclass(frozen=True, slots=True)
class HDUHeader:
    """The header of one HDU and where its image is.

    Attributes
    ----------
    cards : HeaderCards
        The header (for a tile-compressed image, the image header astropy shows).
    index : int
        Index of the HDU in the file.
    shape : tuple of int or None
        Shape of the image in numpy order, None when the HDU has no data.
    compressed : bool
        True for a tile-compressed image.
    primary : HeaderCards or None
        The primary header, when ``ext='auto'`` passed over an empty primary HDU.
    """

    cards: HeaderCards
    index: int
    shape: tuple[int, ...] | None
    compressed: bool = False
    primary: HeaderCards | None = None


def ext_key(ext: ExtSpec | Literal["auto"]) -> str:
    """A canonical text form of an HDU specification (used as a cache key).

    Examples
    --------
    >>> ext_key(0), ext_key("sci"), ext_key(("SCI", 2)), ext_key("auto")
    ('0', 'name:SCI', 'name:SCI,2', 'auto')
    """
    if isinstance(ext, bool):
        raise FrameReadError(f"ext must be an HDU index or name, got {ext!r}")
    if isinstance(ext, int):
        return str(ext)
    if isinstance(ext, str):
        return "auto" if ext == "auto" else f"name:{ext.strip().upper()}"
    if isinstance(ext, tuple) and len(ext) == 2:
        return f"name:{str(ext[0]).strip().upper()},{int(ext[1])}"
    raise FrameReadError(f"ext must be an HDU index, a name or a (name, version) pair, got {ext!r}")


# -- opening -------------------------------------------------------------------


def _open(path: str) -> tuple[IO[bytes], bool]:
    """Open ``path`` for reading, decompressing gzip/bzip2/zip; True when seekable raw."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed there
    magic = raw.read(4)
    if not magic.startswith((_GZIP_MAGIC, _BZ2_MAGIC, _ZIP_MAGIC, _LZW_MAGIC)):
        raw.seek(0)
        return raw, True
    raw.close()
    if magic.startswith(_GZIP_MAGIC):
        return cast(IO[bytes], gzip.open(path, "rb")), False
    if magic.startswith(_BZ2_MAGIC):
        return cast(IO[bytes], bz2.open(path, "rb")), False
    if magic.startswith(_ZIP_MAGIC):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not names:
                raise FrameReadError(f"{path}: empty zip archive")
            return io.BytesIO(archive.read(names[0])), False  # rare: read the member whole
    raise _NeedAstropy


class _NeedAstropy(Exception):
    """The file is in a form only astropy reads (e.g. LZW ``.Z``)."""


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_header_text(stream: IO[bytes], path: str, hdu: int) -> tuple[str, int] | None:
    """The header text of the next HDU (up to END) and its size in bytes; None at end of file."""
    blocks: list[str] = []
    for nblock in range(_MAX_HEADER_BLOCKS):
        raw = _read_exact(stream, BLOCK)
        if nblock == 0:
            if not raw and hdu > 0:
                return None
            _check_start(raw, path, hdu)
        if len(raw) < BLOCK:
            if hdu > 0 and nblock == 0 and not raw.strip(b"\0 "):
                return None  # padding after the last HDU
            raise FrameReadError(
                f"{path}: truncated header in HDU {hdu} (file ends after "
                f"{nblock * BLOCK + len(raw)} header bytes without an END card)"
            )
        text = raw.decode("latin-1")
        blocks.append(text)
        end = find_end_card(text)
        if end >= 0:
            blocks[-1] = text[:end]
            return "".join(blocks), (nblock + 1) * BLOCK
    raise FrameReadError(
        f"{path}: broken header in HDU {hdu} (no END card in {BLOCK * _MAX_HEADER_BLOCKS} bytes)"
    )


def _check_start(raw: bytes, path: str, hdu: int) -> None:
    if hdu == 0:
        if not raw.startswith(b"SIMPLE  ="):
            shown = raw[:16]
            raise FrameReadError(f"{path}: not a FITS file (it starts with {shown!r}, not SIMPLE)")
    elif not raw.startswith(b"XTENSION=") and raw.strip(b"\0 "):
        raise FrameReadError(
            f"{path}: broken file: bytes after HDU {hdu - 1} do not start an extension "
            "(no XTENSION card)"
        )


# -- structure -------------------------------------------------------------------


def _int_card(cards: HeaderCards, key: str, path: str, hdu: int, default: int | None) -> int:
    try:
        value = cards.get(key, default)
    except CardParseError as exc:
        raise FrameReadError(f"{path}: broken header in HDU {hdu}: {exc}") from exc
    if value is None:
        raise FrameReadError(f"{path}: broken header in HDU {hdu}: mandatory keyword {key} missing")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FrameReadError(f"{path}: broken header in HDU {hdu}: {key} = {value!r} is not valid")
    return value


def _axes(cards: HeaderCards, prefix: str, path: str, hdu: int) -> list[int]:
    naxis = _int_card(cards, prefix, path, hdu, None)
    if naxis > 999:
        raise FrameReadError(f"{path}: broken header in HDU {hdu}: {prefix} = {naxis}")
    return [_int_card(cards, f"{prefix}{i}", path, hdu, None) for i in range(1, naxis + 1)]


def _data_size(cards: HeaderCards, path: str, hdu: int) -> int:
    """Bytes of data after the header (without padding)."""
    bitpix = _int_card_signed(cards, "BITPIX", path, hdu)
    axes = _axes(cards, "NAXIS", path, hdu)
    if not axes:
        return 0
    if hdu == 0:
        pcount, gcount = 0, 1
        if axes[0] == 0 and cards.get("GROUPS") is True:
            pcount = _int_card(cards, "PCOUNT", path, hdu, 0)
            gcount = _int_card(cards, "GCOUNT", path, hdu, 1)
            axes = axes[1:]
    else:
        pcount = _int_card(cards, "PCOUNT", path, hdu, 0)
        gcount = _int_card(cards, "GCOUNT", path, hdu, 1)
    count = 1
    for n in axes:
        count *= n
    return abs(bitpix) // 8 * gcount * (pcount + count)


def _int_card_signed(cards: HeaderCards, key: str, path: str, hdu: int) -> int:
    value = cards.get(key)
    if isinstance(value, bool) or value not in (8, 16, 32, 64, -32, -64):
        raise FrameReadError(f"{path}: broken header in HDU {hdu}: BITPIX = {value!r} is not valid")
    return int(value)


def _matches(cards: HeaderCards, index: int, ext: ExtSpec) -> bool:
    if isinstance(ext, int):
        return index == ext
    name, version = (ext, None) if isinstance(ext, str) else ext
    try:
        extname = cards.get("EXTNAME")
        extver = cards.get("EXTVER", 1)
    except CardParseError:
        return False
    if not isinstance(extname, str) or extname.strip().upper() != str(name).strip().upper():
        return False
    return version is None or extver == version


def _is_compressed(cards: HeaderCards) -> bool:
    if not cards.text.startswith("\nXTENSION= 'BINTABLE"):
        return False
    try:
        return cards.get("ZIMAGE") is True and str(cards.get("XTENSION", "")).strip() == "BINTABLE"
    except CardParseError:
        return False


def image_header_from_compressed(table: HeaderCards) -> HeaderCards:
    """The image header astropy shows for a tile-compressed image stored as a table.

    Examples
    --------
    >>> table = HeaderCards.from_cards([
    ...     "XTENSION= 'BINTABLE'", "BITPIX  =                    8",
    ...     "NAXIS   =                    2",
    ...     "NAXIS1  =                    8", "NAXIS2  =                   10",
    ...     "PCOUNT  =                  123", "GCOUNT  =                    1",
    ...     "TFIELDS =                    1", "TTYPE1  = 'COMPRESSED_DATA'",
    ...     "ZIMAGE  =                    T", "ZBITPIX =                   16",
    ...     "ZNAXIS  =                    2", "ZNAXIS1 =                   40",
    ...     "ZNAXIS2 =                   10", "EXPTIME =                 30.0",
    ...     "EXTNAME = 'COMPRESSED_IMAGE'"])
    >>> image = image_header_from_compressed(table)
    >>> [line.split("=")[0].strip() for line in image.lines()]
    ['XTENSION', 'BITPIX', 'NAXIS', 'NAXIS1', 'NAXIS2', 'PCOUNT', 'GCOUNT', 'EXPTIME']
    """
    kept: list[str] = []
    bscale = bzero = None
    for image in table.grouped_images():
        key = image[:8].rstrip().upper()
        if key == "BSCALE":
            bscale = image
        elif key == "BZERO":
            bzero = image
        if key in _DROPPED or _TABLE_INDEXED.match(key):
            continue
        if key == "EXTNAME" and str(table.get("EXTNAME", "")).strip() == "COMPRESSED_IMAGE":
            continue
        kept.append(image)
    extra = [card for card in (bscale, bzero) if card is not None and _nonzero_number(card)]
    extra += _compressed_trailer(table, kept)
    # astropy adds new cards after the last card that is not COMMENT/HISTORY/blank
    at = len(kept)
    while at > 0 and kept[at - 1][:8].rstrip() in COMMENTARY_KEYWORDS:
        at -= 1
    body = kept[:at] + extra + kept[at:]
    return HeaderCards.from_cards(_compressed_structure(table) + body)


def _nonzero_number(image: str) -> bool:
    try:
        value = parse_card_value(image)
    except CardParseError:
        return False
    return isinstance(value, int | float) and not isinstance(value, bool) and value != 0


def _card(key: str, value: object) -> str:
    return str(fits.Card(key, value))


def _compressed_structure(table: HeaderCards) -> list[str]:
    if "ZSIMPLE" in table:
        head = [_card("SIMPLE", table["ZSIMPLE"])]
    else:
        head = [_card("XTENSION", "IMAGE")]
    head.append(_card("BITPIX", table["ZBITPIX"]))
    naxis = int(table["ZNAXIS"])
    head.append(_card("NAXIS", naxis))
    head.extend(_card(f"NAXIS{i}", table[f"ZNAXIS{i}"]) for i in range(1, naxis + 1))
    if "ZSIMPLE" not in table:
        head.append(_card("PCOUNT", table.get("ZPCOUNT", 0)))
        head.append(_card("GCOUNT", table.get("ZGCOUNT", 1)))
    return head


def _compressed_trailer(table: HeaderCards, kept: list[str]) -> list[str]:
    tail: list[str] = []
    for zkey, key in (
        ("ZEXTEND", "EXTEND"),
        ("ZBLOCKED", "BLOCKED"),
        ("ZHECKSUM", "CHECKSUM"),
        ("ZDATASUM", "DATASUM"),
    ):
        if zkey in table:
            tail.append(_card(key, table[zkey]))
    have_blank = any(image[:8].rstrip() == "BLANK" for image in kept)
    if int(table["ZBITPIX"]) > 0 and not have_blank and "ZBLANK" in table:
        tail.append(_card("BLANK", table["ZBLANK"]))
    return tail


def _shape(axes: list[int]) -> tuple[int, ...] | None:
    return tuple(reversed(axes)) if axes else None


# -- reading ------------------------------------------------------------------------


def read_hdu_header(path: str | os.PathLike[str], ext: ExtSpec = 0) -> HDUHeader:
    """Read the header of one HDU of a FITS file.

    Parameters
    ----------
    path : str or path-like
        The file (plain, gzip, bzip2 or zip compressed; tile-compressed images too).
    ext : int, str, (str, int) or 'auto', optional
        HDU index, EXTNAME, (EXTNAME, EXTVER), or ``'auto'``: the primary HDU,
        or the first extension when the primary HDU has no data (its header
        is then kept in ``primary``).

    Raises
    ------
    ccdcal.errors.FrameReadError
        Not FITS, truncated, a broken header, or no such HDU.
    """
    path = os.fspath(path)
    ext_key(ext)  # validates
    try:
        stream, seekable = _open(path)
    except _NeedAstropy:
        return _read_with_astropy(path, ext)
    except FrameReadError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FrameReadError(f"{path}: cannot open: {exc}") from exc
    try:
        with stream:
            size = os.fstat(stream.fileno()).st_size if seekable else None
            return _walk(stream, path, ext, size)
    except FrameReadError:
        raise
    except (OSError, EOFError, ValueError) as exc:  # corrupt gzip/bz2 streams and the like
        raise FrameReadError(f"{path}: cannot read: {exc}") from exc


def _walk(stream: IO[bytes], path: str, ext: ExtSpec, size: int | None) -> HDUHeader:
    offset = 0
    primary: HDUHeader | None = None
    index = 0
    while True:
        found = _read_header_text(stream, path, index)
        if found is None:
            if primary is not None:
                return primary  # 'auto' and the primary HDU is all there is
            raise FrameReadError(_missing_hdu_message(path, ext, index))
        text, header_bytes = found
        cards = HeaderCards.from_block(text)
        data_bytes = _data_size(cards, path, index)
        offset += header_bytes
        _check_length(path, index, size, offset + data_bytes)
        if ext == "auto":
            if index > 0 or cards.get("NAXIS", 0) != 0:
                return _make_hdu(cards, index, path, primary.cards if primary else None)
            primary = _make_hdu(cards, index, path, None)
        elif _matches(cards, index, ext):
            return _make_hdu(cards, index, path, None)
        padded = -(-data_bytes // BLOCK) * BLOCK
        _skip(stream, padded, path, index, size)
        offset += padded
        index += 1


def _make_hdu(cards: HeaderCards, index: int, path: str, primary: HeaderCards | None) -> HDUHeader:
    if _is_compressed(cards):
        try:
            image = image_header_from_compressed(cards)
            axes = [int(cards[f"ZNAXIS{i}"]) for i in range(1, int(cards["ZNAXIS"]) + 1)]
        except (KeyError, ValueError, TypeError) as exc:
            raise FrameReadError(
                f"{path}: broken compressed-image header in HDU {index}: {exc}"
            ) from exc
        return HDUHeader(image, index, _shape(axes), compressed=True, primary=primary)
    axes = _axes(cards, "NAXIS", path, index)
    return HDUHeader(cards, index, _shape(axes), primary=primary)


def _check_length(path: str, index: int, size: int | None, needed: int) -> None:
    if size is not None and size < needed:
        raise FrameReadError(
            f"{path}: truncated file: HDU {index} needs {needed} bytes, the file has {size}"
        )


def _skip(stream: IO[bytes], nbytes: int, path: str, index: int, size: int | None) -> None:
    if size is not None:
        stream.seek(nbytes, os.SEEK_CUR)
        return
    remaining = nbytes
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            raise FrameReadError(f"{path}: truncated file: data of HDU {index} ends early")
        remaining -= len(chunk)


def _missing_hdu_message(path: str, ext: ExtSpec, count: int) -> str:
    if ext == "auto":
        return f"{path}: no image HDU found (the file has {count} HDU(s))"
    return f"{path}: no HDU {ext!r} (the file has {count} HDU(s))"


def _read_with_astropy(path: str, ext: ExtSpec) -> HDUHeader:
    """Fallback for forms only astropy reads (LZW-compressed ``.Z`` files)."""
    try:
        with fits.open(path, mode="readonly", memmap=False) as hdul:
            index = _astropy_index(hdul, ext)
            hdu = hdul[index]
            cards = HeaderCards.from_header(hdu.header)
            shape = tuple(int(n) for n in hdu.shape) if hdu.header.get("NAXIS", 0) else None
            primary = HeaderCards.from_header(hdul[0].header) if index and ext == "auto" else None
            compressed = isinstance(hdu, fits.CompImageHDU)
            return HDUHeader(cards, index, shape or None, compressed=compressed, primary=primary)
    except FrameReadError:
        raise
    except Exception as exc:  # astropy raises many kinds here
        raise FrameReadError(f"{path}: cannot read: {exc}") from exc


def _astropy_index(hdul: fits.HDUList, ext: ExtSpec) -> int:
    if ext == "auto":
        if hdul[0].header.get("NAXIS", 0) == 0 and len(hdul) > 1:
            return 1
        return 0
    return int(hdul.index_of(ext))
