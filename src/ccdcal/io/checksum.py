"""FITS ``DATASUM`` and ``CHECKSUM`` values, computed with numpy.

The FITS checksum convention (FITS standard 4.0, appendix J) sums an HDU as
big-endian unsigned 32-bit words in *ones' complement* arithmetic (a carry
out of bit 31 is added back into bit 0):

* ``DATASUM`` is the sum of the data unit, written as a decimal string;
* ``CHECKSUM`` is 16 characters encoding the complement of the sum of the
  whole HDU (the header with ``CHECKSUM = '0000000000000000'``, plus the
  data sum), chosen so that the HDU as written then sums to ``-0``.

The padding of a header or data unit is blanks or zeros: zeros add nothing to
the sum, so :func:`array_datasum` works on the array alone.

Examples
--------
>>> import numpy as np
>>> words_sum(b"\\x00\\x00\\x00\\x01\\xff\\xff\\xff\\xff")  # 1 + (2**32 - 1) wraps to 1
1
>>> array_datasum(np.array([1.0], dtype=np.float32)) == 0x3F800000
True
>>> encode_checksum(0)
'0000000000000000'
"""

from __future__ import annotations

import numpy as np

__all__ = ["array_datasum", "encode_checksum", "fold", "hdu_checksum", "words_sum"]

_MASK32 = 0xFFFFFFFF

# Characters the encoding avoids (punctuation between the digits and letters).
_EXCLUDE = tuple(b":;<=>?@[\\]^_`")


def fold(total: int) -> int:
    """Fold the carries of a sum above 32 bits back in (the ones' complement sum).

    >>> fold(0x1_0000_0002)
    3
    """
    while total >> 32:
        total = (total & _MASK32) + (total >> 32)
    return total


# Words summed by one kernel call: a uint64 holds the sum of 2**32 words below 2**32.
_BLOCK_WORDS = 1 << 31


def _sum_blocks(values: np.ndarray) -> int:
    """Plain integer sum of a 1-D array of non-negative integers below 2**32.

    Unsigned arrays go through compiled loops (:mod:`ccdcal.io._checksum_kernels`,
    imported here so that reading FITS files never loads numba); anything
    else through numpy.
    """
    from ccdcal.io._checksum_kernels import sum_swapped_words, sum_words

    dtype = values.dtype
    if dtype.kind != "u" or dtype.itemsize > 4:
        return int(np.add.reduce(values, dtype=np.uint64))
    if dtype.isnative or dtype.itemsize == 1:
        kernel = sum_words
    elif dtype.itemsize == 4:
        kernel = sum_swapped_words
        values = values.view(dtype.newbyteorder("="))
    else:
        return int(np.add.reduce(values, dtype=np.uint64))
    total = 0
    for start in range(0, values.size, _BLOCK_WORDS):
        total += int(kernel(values[start : start + _BLOCK_WORDS]))
    return total


def _bytes_sum(raw: np.ndarray) -> int:
    """Unfolded sum of a flat uint8 array read as big-endian 32-bit words (zero-padded)."""
    whole = raw.size - raw.size % 4
    total = _sum_blocks(raw[:whole].view(">u4"))
    if whole < raw.size:
        tail = raw[whole:].tobytes()
        total += int.from_bytes(tail + bytes(4 - len(tail)), "big")
    return total


def words_sum(data: bytes | bytearray | memoryview, start: int = 0) -> int:
    """Ones' complement sum of bytes read as big-endian 32-bit words.

    A length that is not a multiple of 4 is padded with zero bytes.

    Parameters
    ----------
    data : bytes-like
        The bytes, for example a header as written.
    start : int, optional
        A sum to continue (for example the data sum of the same HDU).

    Returns
    -------
    int
        The 32-bit sum.

    Examples
    --------
    >>> words_sum(b"\\x00\\x00\\x00\\x05"), words_sum(b"\\x01", start=1)
    (5, 16777217)
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    return fold(start + _bytes_sum(raw))


def array_datasum(stored: np.ndarray) -> int:
    """``DATASUM`` of a data unit holding ``stored`` (its values, written big-endian).

    ``stored`` is the array of the values FITS stores, in any byte order: a
    native float32 array is summed as the big-endian words it becomes in the
    file, without converting it. (Pseudo-unsigned integers must already be
    offset to the signed values FITS stores.) Summing the values directly is
    possible because a 4- or 8-byte element consists of whole 32-bit words
    whichever the byte order; 1- and 2-byte elements are combined into words
    in file order.

    Parameters
    ----------
    stored : numpy.ndarray
        Any integer or floating array (it is made C-contiguous if it is not).

    Returns
    -------
    int
        The 32-bit ones' complement sum, the value of the ``DATASUM`` card.

    Examples
    --------
    >>> import numpy as np
    >>> array_datasum(np.array([1, 2], dtype=np.int16))  # the word 0x00010002
    65538
    >>> a = np.arange(10.0)
    >>> array_datasum(a) == array_datasum(a.astype(">f8"))
    True
    """
    flat = np.ascontiguousarray(stored).reshape(-1)
    size = flat.dtype.itemsize
    if size == 1:
        return fold(_bytes_sum(flat.view(np.uint8)))
    # the same values read as unsigned integers, in the array's own byte order
    order = "<" if flat.dtype.byteorder == "<" else ">" if flat.dtype.byteorder == ">" else "="
    if size == 2:
        values = flat.view(np.dtype(f"{order}u2"))
        # in the file, element 2k is the high half of a word and 2k + 1 the low half
        return fold((_sum_blocks(values[0::2]) << 16) + _sum_blocks(values[1::2]))
    if size in (4, 8):
        return fold(_sum_blocks(flat.view(np.dtype(f"{order}u4"))))
    raise ValueError(f"cannot compute a FITS data sum for elements of {size} bytes")


def _encode_byte(byte: int) -> list[int]:
    quotient = byte // 4 + ord("0")
    chars = [quotient + byte % 4, quotient, quotient, quotient]
    changed = True
    while changed:  # step off the excluded characters, keeping the sum of each pair
        changed = False
        for excluded in _EXCLUDE:
            for j in (0, 2):
                if excluded in (chars[j], chars[j + 1]):
                    chars[j] += 1
                    chars[j + 1] -= 1
                    changed = True
    return chars


def encode_checksum(value: int) -> str:
    """The 16 ASCII characters that encode a 32-bit value (FITS appendix J).

    Each byte becomes four characters that add up to it (offset by ``'0'``),
    avoiding punctuation; the result is rotated right by one character.
    ``CHECKSUM`` holds the encoding of the *complement* of the HDU sum (see
    :func:`hdu_checksum`).

    Examples
    --------
    >>> encode_checksum(0), encode_checksum(0xFFFFFFFF)
    ('0000000000000000', 'orrrrooooooooooo')
    """
    value &= _MASK32
    columns = [_encode_byte((value >> (24 - 8 * i)) & 0xFF) for i in range(4)]
    text = [columns[i][j] for j in range(4) for i in range(4)]
    return bytes(text[-1:] + text[:-1]).decode("ascii")


def hdu_checksum(header: bytes | bytearray | memoryview, datasum: int) -> str:
    """``CHECKSUM`` of an HDU from its header bytes and its ``DATASUM``.

    Parameters
    ----------
    header : bytes-like
        The header as written (padded to 2880 bytes), with
        ``CHECKSUM = '0000000000000000'`` and the final ``DATASUM`` card.
    datasum : int
        The data sum (:func:`array_datasum`; 0 without data).

    Returns
    -------
    str
        The value of the ``CHECKSUM`` card: once it replaces the zeros, the
        whole HDU sums to ``-0`` (0xFFFFFFFF).

    Examples
    --------
    >>> header = b"CHECKSUM= '0000000000000000'".ljust(2880)
    >>> value = hdu_checksum(header, 7)
    >>> words_sum(header.replace(b"0" * 16, value.encode()), start=7) == 0xFFFFFFFF
    True
    """
    return encode_checksum(~words_sum(header, start=datasum))
