"""Writing an uncompressed FITS file in one pass: headers by astropy, data by numpy.

``HDUList.writeto(checksum=True)`` reads every data array three times: once
to byte-swap it in place for the ``DATASUM``, once to write it (swapped in
place again, then back), once more to swap it back. :func:`write_hdulist`
writes the same bytes with one pass over the native array for the data sum
(:func:`ccdcal.io.checksum.array_datasum`, a compiled loop that needs no
big-endian copy) and one
pass that converts the array to big-endian in small chunks, each written
(and hashed, by a :class:`~ccdcal.io.identity.HashingWriter`) while it is in
the cache. The input arrays are never modified.

astropy still builds, fixes and verifies every header (``verify`` with
``option='exception'``, as ``writeto`` does), so an invalid header fails in
the same way, and writes the header text; only the data path is ccdcal's.
HDUs this module does not handle (compressed, tables, random groups, scaled
data, unusual dtypes) are reported by :func:`streamable`, and the caller
then uses astropy's writer.

Examples
--------
>>> import io
>>> import numpy as np
>>> from astropy.io import fits
>>> hdul = fits.HDUList([fits.PrimaryHDU(np.arange(6, dtype=np.float32).reshape(2, 3))])
>>> streamable(hdul)
True
>>> buffer = io.BytesIO()
>>> write_hdulist(hdul, buffer, checksum=True)
>>> _ = buffer.seek(0)
>>> with fits.open(buffer, checksum=True) as back:
...     back[0].data[1].tolist(), len(buffer.getvalue())
([3.0, 4.0, 5.0], 5760)
"""

from __future__ import annotations

import datetime
import gzip
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from astropy.io import fits

from ccdcal.io.checksum import array_datasum, hdu_checksum
from ccdcal.io.identity import FileIdentity, HashingWriter

__all__ = ["BLOCK", "Sink", "streamable", "write_file", "write_hdulist"]

#: FITS block size: headers and data units are padded to a multiple of it.
BLOCK = 2880

# Bytes converted to big-endian at a time: small enough to stay in the cache while
# they are hashed and written, large enough to make few calls (1 MiB wrote a 1x1
# master ~1.5 ms faster than 256 KiB or 2 MiB).
_CHUNK = 1 << 20

# BITPIX of each stored element type (kind, itemsize); pseudo-unsigned types
# (uint16/32/64, int8) are stored as the other signedness with BZERO.
_BITPIX = {
    ("f", 4): -32,
    ("f", 8): -64,
    ("u", 1): 8,
    ("i", 1): 8,
    ("i", 2): 16,
    ("u", 2): 16,
    ("i", 4): 32,
    ("u", 4): 32,
    ("i", 8): 64,
    ("u", 8): 64,
}


class Sink(Protocol):
    """Where the bytes go: a binary file, a gzip stream, a hashing wrapper."""

    def write(self, data: Any, /) -> int:
        """Write a bytes-like object."""
        ...  # pragma: no cover - protocol


def _is_pseudo(dtype: np.dtype[Any]) -> bool:
    """Stored with a BZERO offset: uint16/32/64 and int8."""
    return (dtype.kind == "u" and dtype.itemsize > 1) or (dtype.kind == "i" and dtype.itemsize == 1)


def _pseudo_zero(dtype: np.dtype[Any]) -> int:
    return -128 if dtype.kind == "i" else 1 << (8 * dtype.itemsize - 1)


def _streamable_hdu(hdu: Any) -> bool:
    if type(hdu) not in (fits.PrimaryHDU, fits.ImageHDU):
        return False
    header = hdu.header
    data = hdu.data
    if data is None:
        return int(header.get("NAXIS", 0)) == 0
    if type(data) is not np.ndarray or data.size == 0:
        return False
    key = (data.dtype.kind, data.dtype.itemsize)
    if key not in _BITPIX or header.get("BITPIX") != _BITPIX[key]:
        return False
    naxes = tuple(int(header.get(f"NAXIS{n}", -1)) for n in range(data.ndim, 0, -1))
    if header.get("NAXIS") != data.ndim or naxes != data.shape:
        return False
    zero = _pseudo_zero(data.dtype) if _is_pseudo(data.dtype) else 0
    return bool(header.get("BSCALE", 1) == 1 and header.get("BZERO", 0) == zero)


def streamable(hdul: fits.HDUList) -> bool:
    """Whether :func:`write_hdulist` can write every HDU of ``hdul``.

    True for primary and image HDUs without scaling whose data are a numpy
    array of a FITS integer or floating type (pseudo-unsigned integers
    included); False for compressed HDUs, tables and anything else.

    Examples
    --------
    >>> import numpy as np
    >>> streamable(fits.HDUList([fits.PrimaryHDU(np.zeros(3, np.uint16))]))
    True
    >>> streamable(fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(np.zeros((2, 2)))]))
    False
    """
    return all(_streamable_hdu(hdu) for hdu in hdul)


def _stored_values(data: np.ndarray) -> np.ndarray:
    """C-contiguous array of the values FITS stores (big-endian in the file)."""
    data = np.ascontiguousarray(data)
    if not _is_pseudo(data.dtype):
        return data
    # x - BZERO in two's complement is x with its top bit flipped
    size = data.dtype.itemsize
    bits = data.view(np.dtype(f"u{size}").newbyteorder(data.dtype.byteorder))
    return np.bitwise_xor(bits, np.array(1 << (8 * size - 1), dtype=bits.dtype))


def _write_data(sink: Sink, stored: np.ndarray) -> None:
    """Write ``stored`` big-endian, then the zero padding of its data unit."""
    flat = stored.reshape(-1)
    big = flat.dtype.newbyteorder(">")
    if flat.dtype == big:  # already in file order (big-endian or single bytes)
        sink.write(flat)
    else:
        step = max(1, _CHUNK // flat.itemsize)
        buffer = np.empty(min(step, flat.size), dtype=big)
        for start in range(0, flat.size, step):
            piece = flat[start : start + step]
            out = buffer[: piece.size]
            np.copyto(out, piece)
            sink.write(out)
    if pad := -flat.nbytes % BLOCK:
        sink.write(bytes(pad))


def _timestamp() -> str:
    """The time in the checksum cards' comments, as astropy writes it."""
    return datetime.datetime.now().isoformat()[:19]


def _header_bytes(header: fits.Header, datasum: int | None, when: str) -> bytes:
    """The header as written; with ``datasum``, with its DATASUM and CHECKSUM cards.

    The cards are placed and commented as astropy's ``add_checksum`` does.
    """
    if datasum is None:
        return header.tostring().encode("ascii")
    header["DATASUM"] = (str(datasum), f"data unit checksum updated {when}")
    header.set("CHECKSUM", "0" * 16, f"HDU checksum updated {when}", before="DATASUM")
    header["CHECKSUM"] = hdu_checksum(header.tostring().encode("ascii"), datasum)
    return header.tostring().encode("ascii")


def write_hdulist(hdul: fits.HDUList, sink: Sink, *, checksum: bool = True) -> None:
    """Write ``hdul`` to ``sink`` as an uncompressed FITS file.

    The HDU list is verified first, as ``HDUList.writeto`` does with its
    default ``output_verify='exception'``; its headers are then completed in
    place (``EXTEND``, and ``CHECKSUM``/``DATASUM`` when asked). The data
    arrays are not changed. Call only when :func:`streamable` is true.

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        Primary HDU first, then image extensions.
    sink : binary file-like
        Anything with ``write`` taking bytes-like objects (numpy arrays
        included); writing starts at its current position.
    checksum : bool, optional
        Add ``CHECKSUM`` and ``DATASUM`` cards to every HDU.

    Raises
    ------
    astropy.io.fits.VerifyError
        A header is not valid FITS (the message names the card).

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> primary = fits.PrimaryHDU(np.zeros((2, 2), dtype=np.uint16))
    >>> mask = fits.ImageHDU(np.ones((2, 2), dtype=np.uint8), name="MASK")
    >>> buffer = io.BytesIO()
    >>> write_hdulist(fits.HDUList([primary, mask]), buffer)
    >>> _ = buffer.seek(0)
    >>> with fits.open(buffer, checksum=True) as back:
    ...     [h.name for h in back], back[0].header["BZERO"], back[1].header["DATASUM"]
    (['PRIMARY', 'MASK'], 32768, '16843009')
    """
    hdul.verify(option="exception")
    hdul.update_extend()
    when = _timestamp()
    for hdu in hdul:
        stored = None if hdu.data is None else _stored_values(hdu.data)
        datasum = None
        if checksum:
            datasum = 0 if stored is None else array_datasum(stored)
        sink.write(_header_bytes(hdu.header, datasum, when))
        if stored is not None:
            _write_data(sink, stored)


def _write_hdus(hdul: fits.HDUList, sink: Sink, *, checksum: bool) -> None:
    if streamable(hdul):
        write_hdulist(hdul, sink, checksum=checksum)
    else:
        hdul.writeto(sink, checksum=checksum)


def write_file(
    hdul: fits.HDUList,
    path: str | os.PathLike[str],
    *,
    checksum: bool = True,
    gzip_level: int | None = None,
    record_as: str | os.PathLike[str] | None = None,
) -> FileIdentity | None:
    """Write ``hdul`` to the file ``path``, optionally hashing it on the way.

    Streamable HDU lists (:func:`streamable`) go through
    :func:`write_hdulist`, others (tile-compressed, tables) through
    astropy's ``writeto``; either way into the same file object, so the
    SHA-256 of the file is computed from the bytes as they are written.

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        What to write. Its headers are completed in place.
    path : str or path-like
        The file to write (replaced if it exists); usually the temporary
        name :func:`ccdcal.io.atomic.atomic_path` yields.
    checksum : bool, optional
        Add ``CHECKSUM`` and ``DATASUM`` cards to every HDU.
    gzip_level : int, optional
        Gzip-compress the whole file at this level (1-9).
    record_as : str or path-like, optional
        Hash the file and return its identity under this name (the final
        name of a file written under a temporary one).

    Returns
    -------
    FileIdentity or None
        With ``record_as``, the identity of the file as written (equal to
        ``file_identity(record_as)`` once renamed there); else None.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from ccdcal.io.identity import file_identity
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.fits"
    >>> hdul = fits.HDUList([fits.PrimaryHDU(np.ones((4, 4), dtype=np.float32))])
    >>> written = write_file(hdul, path, record_as=path)
    >>> written == file_identity(path), written.size
    (True, 5760)
    """
    with open(path, "wb") as raw:
        sink: Any = raw if record_as is None else HashingWriter(raw)
        if gzip_level is None:
            _write_hdus(hdul, sink, checksum=checksum)
        else:
            name = Path(record_as if record_as is not None else path).name
            with gzip.GzipFile(name, "wb", gzip_level, fileobj=sink) as zipped:
                _write_hdus(hdul, zipped, checksum=checksum)
        return None if record_as is None else sink.identity(record_as)
