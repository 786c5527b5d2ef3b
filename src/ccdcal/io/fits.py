"""Reading and writing CCD frames as FITS files.

:func:`read_ccd` reads a raw frame or a ccdcal product into a
:class:`~astropy.nddata.CCDData`; :func:`write_ccd` writes data, uncertainty
and mask as one multi-extension FITS file, atomically, with CHECKSUM and
DATASUM cards on every HDU.

The file layout is the one astropy and ccdproc use, so each side reads the
other's files:

* primary HDU: the data, in the frame's own dtype (float32 stays float32,
  uint16 is stored as BITPIX 16 with BZERO 32768), with the header from
  ``ccd.meta`` (provenance cards included), ``BUNIT`` and the WCS;
* ``UNCERT``: the uncertainty array, with ``UTYPE`` naming its class
  (``StdDevUncertainty`` for every ccdcal product);
* ``MASK``: the mask as uint8 (1 = bad).

Raw files are opened read-only and are never changed. A file name ending in
``.gz`` is gzip-compressed and one ending in ``.fz`` is tile-compressed
(losslessly) both when reading and when writing.

Writing: astropy builds and verifies the headers; the data of uncompressed
and gzipped files go through :mod:`ccdcal.io.stream`, which computes
``DATASUM``/``CHECKSUM`` itself and never byte-swaps the arrays in place (the
file is byte for byte the one ``HDUList.writeto(checksum=True)`` writes).
:func:`write_ccd_with_identity` also returns the file's SHA-256, hashed from
the bytes as they are written, so the pipeline does not read its outputs back.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> from astropy.nddata import CCDData, StdDevUncertainty
>>> ccd = CCDData(np.full((3, 4), 7.5, dtype=np.float32), unit="electron",
...               uncertainty=StdDevUncertainty(np.ones((3, 4), dtype=np.float32)),
...               mask=np.zeros((3, 4), dtype=bool), meta={"EXPTIME": 30.0})
>>> path = write_ccd(ccd, pathlib.Path(tempfile.mkdtemp()) / "frame.fits")
>>> back = read_ccd(path)
>>> back.unit, back.data.dtype, back.meta["EXPTIME"], back.meta["CCDCFILE"]
(Unit("electron"), dtype('float32'), 30.0, 'frame.fits')
>>> type(back.uncertainty).__name__, back.mask.any()
('StdDevUncertainty', np.False_)
"""

from __future__ import annotations

import logging
import mmap
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDUncertainty,
    StdDevUncertainty,
    VarianceUncertainty,
)
from numpy.typing import DTypeLike

from ccdcal.errors import FrameNotFoundError, FrameReadError, FrameWriteError
from ccdcal.io.atomic import atomic_path
from ccdcal.io.cards import bunit_string, header_from_meta, parse_bunit, split_wcs
from ccdcal.io.identity import FileIdentity
from ccdcal.io.provenance import FILE_KEY
from ccdcal.io.stream import write_file

__all__ = [
    "FITS_SUFFIXES",
    "ccd_to_hdulist",
    "check_complete",
    "header_for",
    "read_ccd",
    "resolve_unit",
    "select_hdu",
    "write_ccd",
    "write_ccd_with_identity",
]

logger = logging.getLogger(__name__)

#: File name endings read as FITS (case-insensitive).
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz", ".fz")

_UNCERTAINTY_CLASSES: dict[str, type[NDUncertainty]] = {
    "StdDevUncertainty": StdDevUncertainty,
    "VarianceUncertainty": VarianceUncertainty,
    "InverseVariance": InverseVariance,
}

_READ_FAILURES = (OSError, ValueError, TypeError, EOFError, IndexError, KeyError, zlib.error)


def resolve_unit(header: fits.Header, unit: str | u.UnitBase | None, where: str) -> u.UnitBase:
    """The unit of a frame: ``unit`` if given (it wins over ``BUNIT``), else ``BUNIT``, else adu.

    ``where`` names the file and HDU in the messages, and in the error raised
    when ``BUNIT`` is not a unit and no ``unit`` was given.  Shared with the
    combination's band reader (:mod:`ccdcal.stacking.reader`).

    >>> resolve_unit(fits.Header({"BUNIT": "ELECTRONS"}), None, "x.fits")
    Unit("electron")
    """
    given = u.Unit(unit) if unit is not None else None
    bunit = header.get("BUNIT")
    if not isinstance(bunit, str) or not bunit.strip():
        if given is None:
            logger.debug("%s has no BUNIT and no unit was given: assuming adu", where)
        return given if given is not None else u.adu
    try:
        stored = parse_bunit(bunit)
    except ValueError:
        if given is not None:
            return given
        raise FrameReadError(
            f"{where}: the keyword BUNIT = {bunit!r} is not a unit astropy understands; "
            "pass unit= (for example unit='adu') to read the file anyway"
        ) from None
    if given is not None and given != stored:
        logger.warning("%s: using unit %s given by the caller, not BUNIT = %r", where, given, bunit)
        return given
    return stored


# --------------------------------------------------------------------------- reading


def _where(path: Path, hdu: int | str | None = None) -> str:
    return f"{str(path)!r}" if hdu is None else f"{str(path)!r}, HDU {hdu!r}"


def _is_image(hdu_obj: Any) -> bool:
    return isinstance(hdu_obj, (fits.PrimaryHDU, fits.ImageHDU)) and (
        int(hdu_obj.header.get("NAXIS", 0)) > 0
    )


def select_hdu(hdul: fits.HDUList, hdu: int | str, path: Path) -> int:
    """Index of the image HDU to read; the first image when the primary is empty."""
    if isinstance(hdu, str):
        names = [h.name for h in hdul]
        if hdu.upper() not in names:
            raise FrameReadError(
                f"{_where(path)} has no HDU named {hdu!r} (it has {names}); pass hdu= "
                "with one of these names or an index"
            )
        index = names.index(hdu.upper())
    else:
        count = len(hdul)
        if not -count <= hdu < count:
            raise FrameReadError(
                f"{_where(path)} has {count} HDU(s) (0 to {count - 1}), so HDU {hdu} "
                "does not exist; pass hdu= with an existing index"
            )
        index = hdu % count
    if index == 0 and not _is_image(hdul[0]):
        for i, candidate in enumerate(hdul):
            if _is_image(candidate):
                logger.debug("%s: primary HDU is empty, reading HDU %d", path, i)
                return i
    if not _is_image(hdul[index]):
        kind = type(hdul[index]).__name__
        raise FrameReadError(
            f"{_where(path, hdu)} holds no image data (it is a {kind} with "
            f"NAXIS = {hdul[index].header.get('NAXIS', 0)}); pass hdu= naming the HDU "
            "that holds the image"
        )
    return index


def header_for(hdul: fits.HDUList, index: int, requested: int | str) -> fits.Header:
    """A copy of HDU ``index``'s header; an image after an empty primary inherits its cards."""
    header = hdul[index].header.copy()
    if index != 0 and requested in (0, "PRIMARY"):
        # an image stored after an empty primary (e.g. .fz): inherit its cards
        header.extend(hdul[0].header, unique=True)
    return header


def check_complete(hdul: fits.HDUList, index: int, path: Path) -> None:
    """Raise if the file ends before the data of HDU ``index`` do."""
    hdu_obj = hdul[index]
    if isinstance(hdu_obj, fits.CompImageHDU):
        return
    info = hdu_obj.fileinfo()
    handle = info.get("file") if info else None
    size = getattr(handle, "size", None)
    if getattr(handle, "compression", None) or not size or info.get("datLoc") is None:
        return  # compressed streams fail on their own when cut short
    header = hdu_obj.header
    nbytes = abs(int(header["BITPIX"])) // 8
    for axis in range(1, int(header["NAXIS"]) + 1):
        nbytes *= int(header[f"NAXIS{axis}"])
    if info["datLoc"] + nbytes > size:
        raise FrameReadError(
            f"{_where(path, index)} is truncated: the file has {size} bytes but the image "
            f"needs {info['datLoc'] + nbytes}; the copy or download was probably "
            "interrupted: copy the file again"
        )


def _has_extensions(hdul: fits.HDUList) -> bool:
    """False when the file ends right after HDU 0 (a plain raw frame): saves a scan."""
    info = hdul[0].fileinfo()
    handle = info.get("file") if info else None
    size = getattr(handle, "size", None)
    if getattr(handle, "compression", None) or not size or info.get("datLoc") is None:
        return True
    return bool(info["datLoc"] + info["datSpan"] < size)


def _read_uint16_fast(
    hdul: fits.HDUList, index: int, path: Path, dtype: DTypeLike | None
) -> np.ndarray | None:
    """Raw camera data (BITPIX 16, BZERO 32768) straight from the file, or None.

    Twice as fast as astropy's scaling: flipping the sign bit of the stored
    16-bit integers *is* adding 32768, and a float result is computed in the
    same pass. Other files (scaled differently, ``BLANK``, compressed) return
    None and are read by astropy.
    """
    hdu_obj = hdul[index]
    header = hdu_obj.header
    if (
        type(hdu_obj) not in (fits.PrimaryHDU, fits.ImageHDU)
        or header.get("BITPIX") != 16
        or header.get("BZERO") != 32768
        or header.get("BSCALE", 1) != 1
        or "BLANK" in header
    ):
        return None
    info = hdu_obj.fileinfo()
    handle = info.get("file") if info else None
    if handle is None or getattr(handle, "compression", None) or info.get("datLoc") is None:
        return None
    shape = tuple(int(header[f"NAXIS{n}"]) for n in range(int(header["NAXIS"]), 0, -1))
    stored = np.memmap(path, dtype=">u2", mode="r", offset=info["datLoc"], shape=shape)
    target = np.dtype(np.uint16 if dtype is None else dtype)
    if target.kind == "f":
        return np.add(stored.view(">i2"), 32768, dtype=target)
    data = np.bitwise_xor(stored, np.uint16(0x8000), dtype=np.uint16)
    return data if target == np.uint16 else data.astype(target)


def _file_backed(array: np.ndarray) -> bool:
    base: Any = array
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def _as_dtype(array: np.ndarray, dtype: DTypeLike | None, *, memmap: bool) -> np.ndarray:
    """The array in ``dtype`` (default: its own, in native byte order), in memory.

    With ``memmap`` and no ``dtype`` the array is returned as astropy gives it
    (a view of the mapped file for unscaled data, in FITS byte order).
    """
    if dtype is not None:
        array = np.asarray(array, dtype=np.dtype(dtype))
    if memmap:
        return array
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    if _file_backed(array) or not array.flags.writeable:
        return array.copy()
    return array


def _read_uncertainty(
    hdul: fits.HDUList,
    name: str | None,
    key: str,
    shape: tuple[int, ...],
    dtype: DTypeLike | None,
    path: Path,
    memmap: bool,
) -> NDUncertainty | None:
    if not name or name not in hdul:
        return None
    ext = hdul[name]
    array = ext.data
    if array is None or array.shape != shape:
        got = None if array is None else array.shape
        raise FrameReadError(
            f"{_where(path, name)}: the uncertainty has shape {got}, the image {shape}; "
            f"the file is inconsistent: rewrite it, or read it with hdu_uncertainty=None"
        )
    stored = str(ext.header.get(key, "StdDevUncertainty"))
    cls = _UNCERTAINTY_CLASSES.get(stored)
    if cls is None:
        logger.warning("%s: unknown %s = %r, reading it as StdDevUncertainty", path, key, stored)
        cls = StdDevUncertainty
    use = dtype if dtype is not None and np.dtype(dtype).kind == "f" else None
    return cls(_as_dtype(array, use, memmap=memmap), copy=False)


def _read_mask(
    hdul: fits.HDUList, name: str | None, shape: tuple[int, ...], path: Path
) -> np.ndarray | None:
    if not name or name not in hdul:
        return None
    array = hdul[name].data
    if array is None or array.shape != shape:
        got = None if array is None else array.shape
        raise FrameReadError(
            f"{_where(path, name)}: the mask has shape {got}, the image {shape}; the file "
            "is inconsistent: rewrite it, or read it with hdu_mask=None"
        )
    return np.asarray(array).astype(bool)


def read_ccd(
    path: str | os.PathLike[str],
    *,
    hdu: int | str = 0,
    unit: str | u.UnitBase | None = None,
    dtype: DTypeLike | None = None,
    memmap: bool = False,
    hdu_uncertainty: str | None = "UNCERT",
    hdu_mask: str | None = "MASK",
    key_uncertainty_type: str = "UTYPE",
) -> CCDData:
    """Read a FITS frame (raw or ccdcal product) into a ``CCDData``.

    The file is opened read-only and never changed. A WCS is built only when
    the header has one (``CTYPE1``), which keeps reading raw frames fast.

    Parameters
    ----------
    path : str or path-like
        A ``.fits``/``.fit``/``.fts`` file, optionally ``.gz``, or a
        tile-compressed ``.fz`` file.
    hdu : int or str, optional
        The HDU holding the image. With the default (0), an empty primary HDU
        is passed over for the first image extension (as in ``.fz`` files),
        whose header then also gets the primary header's cards.
    unit : str or astropy unit, optional
        The data unit. When given it is used even if the file has ``BUNIT``
        (a differing ``BUNIT`` is logged). Without it the unit comes from
        ``BUNIT``; a frame without ``BUNIT`` is taken to be in **adu** (what a
        camera writes; ccdproc raises here instead).
    dtype : dtype-like, optional
        Convert the data (and a floating uncertainty) to this dtype. By
        default the stored dtype is kept: a raw BITPIX 16 / BZERO 32768 frame
        comes back as uint16, so it is never silently widened.
    memmap : bool, optional
        Map the file instead of reading it (data then stay in FITS byte order).
    hdu_uncertainty, hdu_mask : str or None, optional
        Extension names of the uncertainty and mask (``None``: do not read).
    key_uncertainty_type : str, optional
        Keyword of the uncertainty extension naming its class (astropy's ``UTYPE``).

    Returns
    -------
    CCDData
        ``meta`` is the header (WCS cards moved to ``.wcs``), with
        ``CCDCFILE`` set to the file name.

    Raises
    ------
    FrameNotFoundError
        The file does not exist.
    FrameReadError
        The file is not FITS, is truncated, has no such HDU, the HDU holds no
        image, or ``BUNIT`` is not a unit (and no ``unit`` was given).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> raw = pathlib.Path(tempfile.mkdtemp()) / "r0000001.fits"
    >>> fits.PrimaryHDU(np.full((2, 3), 1000, dtype=np.uint16)).writeto(raw)
    >>> ccd = read_ccd(raw)
    >>> ccd.data.dtype, ccd.unit, int(ccd.data[0, 0])
    (dtype('uint16'), Unit("adu"), 1000)
    >>> read_ccd(raw, dtype="float32").data.dtype
    dtype('float32')
    """
    path = Path(path)
    try:
        # memmap=None lets astropy map the file and scale integers from the map,
        # twice as fast as memmap=False; _as_dtype then copies out of the map.
        with fits.open(path, mode="readonly", memmap=None) as hdul:
            index = select_hdu(hdul, hdu, path)
            where = _where(path, index)
            check_complete(hdul, index, path)
            header = header_for(hdul, index, hdu)
            data = _read_uint16_fast(hdul, index, path, dtype)
            if data is None:
                data = _as_dtype(hdul[index].data, dtype, memmap=memmap)
            if index == 0 and not _has_extensions(hdul):
                hdu_uncertainty = hdu_mask = None
            uncertainty = _read_uncertainty(
                hdul, hdu_uncertainty, key_uncertainty_type, data.shape, dtype, path, memmap
            )
            mask = _read_mask(hdul, hdu_mask, data.shape, path)
    except FrameReadError:
        raise
    except FileNotFoundError:
        raise FrameNotFoundError(
            f"{_where(path)} does not exist; check the path and the folder"
        ) from None
    except IsADirectoryError:
        raise FrameReadError(f"{_where(path)} is a directory, not a FITS file") from None
    except PermissionError:
        raise FrameReadError(
            f"{_where(path)} cannot be read: permission denied; check its permissions"
        ) from None
    except _READ_FAILURES as exc:
        raise FrameReadError(
            f"{_where(path)} could not be read as FITS ({type(exc).__name__}: {exc}); the "
            "file is not FITS, or is truncated or corrupt: check it with fitsverify, or "
            "copy it again"
        ) from exc
    ccd_unit = resolve_unit(header, unit, where)
    header, wcs = split_wcs(header)
    header[FILE_KEY] = (path.name, "file this frame was read from or written to")
    return CCDData(data, unit=ccd_unit, meta=header, mask=mask, uncertainty=uncertainty, wcs=wcs)


# --------------------------------------------------------------------------- writing


def _uncertainty_array(ccd: CCDData, data: np.ndarray) -> tuple[np.ndarray, str]:
    unc = ccd.uncertainty
    name = type(unc).__name__
    if name not in _UNCERTAINTY_CLASSES:
        raise FrameWriteError(
            f"an uncertainty of type {name} cannot be saved; convert it to "
            "StdDevUncertainty (uncertainty.represent_as(StdDevUncertainty))"
        )
    array = np.asarray(unc.array)
    unc_unit = getattr(unc, "_unit", None)
    if isinstance(unc, StdDevUncertainty) and unc_unit is not None and unc_unit != ccd.unit:
        try:
            array = array * unc_unit.to(ccd.unit)
        except u.UnitConversionError:
            raise FrameWriteError(
                f"the uncertainty is in {unc_unit}, which cannot be converted to the data "
                f"unit {ccd.unit}; fix the uncertainty's unit before writing"
            ) from None
    if array.shape != data.shape:
        raise FrameWriteError(
            f"the uncertainty has shape {array.shape} but the data {data.shape}; they "
            "must match to be written"
        )
    out = data.dtype if data.dtype.kind == "f" else np.result_type(array.dtype, np.float32)
    return np.asarray(array, dtype=out), name


def _mask_array(ccd: CCDData, data: np.ndarray) -> np.ndarray:
    mask = np.asarray(ccd.mask)
    if mask.shape != data.shape:
        raise FrameWriteError(
            f"the mask has shape {mask.shape} but the data {data.shape}; they must match "
            "to be written"
        )
    if mask.dtype == np.bool_:
        return mask.view(np.uint8)  # a bool is stored as the byte 0 or 1: no copy
    return np.not_equal(mask, 0).view(np.uint8)


def _image_hdu(
    array: np.ndarray, header: fits.Header | None, name: str | None, *, compress: bool
) -> fits.ImageHDU:
    if compress:
        kind = "GZIP_2" if array.dtype.kind == "f" else "RICE_1"
        return fits.CompImageHDU(
            array, header, name=name, compression_type=kind, quantize_level=0.0
        )
    return fits.ImageHDU(array, header, name=name)


def ccd_to_hdulist(
    ccd: CCDData,
    *,
    dtype: DTypeLike | None = None,
    file_name: str | None = None,
    hdu_mask: str | None = "MASK",
    hdu_uncertainty: str | None = "UNCERT",
    key_uncertainty_type: str = "UTYPE",
    compress: bool = False,
) -> fits.HDUList:
    """The HDU list :func:`write_ccd` writes: image, then ``MASK`` and ``UNCERT``.

    With ``compress=True`` the image and extensions are tile-compressed
    losslessly after an empty primary HDU (the ``.fz`` layout).

    Examples
    --------
    >>> import numpy as np
    >>> ccd = CCDData(np.ones((2, 2), dtype=np.float32), unit="adu", mask=np.eye(2, dtype=bool))
    >>> [h.name for h in ccd_to_hdulist(ccd)]
    ['PRIMARY', 'MASK']
    """
    data = np.asarray(ccd.data)
    if dtype is not None:
        data = data.astype(np.dtype(dtype), copy=False)
    header = header_from_meta(ccd.meta)
    header["BUNIT"] = (bunit_string(ccd.unit), "unit of the data")
    if ccd.wcs is not None:
        header.extend(ccd.wcs.to_header(relax=True), useblanks=False, update=True)
    if file_name is not None:
        try:
            header[FILE_KEY] = (file_name, "file this frame was read from or written to")
        except ValueError as exc:
            raise FrameWriteError(
                f"the file name {file_name!r} cannot be written to the header keyword "
                f"{FILE_KEY} ({exc}); use a file name made of ASCII characters"
            ) from None
    if compress:
        hdus: list[Any] = [fits.PrimaryHDU(), _image_hdu(data, header, None, compress=True)]
    else:
        hdus = [fits.PrimaryHDU(data, header)]
    if hdu_mask and ccd.mask is not None:
        hdus.append(_image_hdu(_mask_array(ccd, data), None, hdu_mask, compress=compress))
    if hdu_uncertainty and ccd.uncertainty is not None:
        array, name = _uncertainty_array(ccd, data)
        unc_header = fits.Header()
        unc_header[key_uncertainty_type] = (name, "class of the uncertainty")
        hdus.append(_image_hdu(array, unc_header, hdu_uncertainty, compress=compress))
    return fits.HDUList(hdus)


def _suffix_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".fz"):
        return "tile"
    return "plain"


def _write(
    ccd: CCDData,
    target: Path,
    *,
    overwrite: bool,
    checksum: bool,
    dtype: DTypeLike | None,
    hdu_mask: str | None,
    hdu_uncertainty: str | None,
    key_uncertainty_type: str,
    fsync: bool,
    identify: bool,
) -> FileIdentity | None:
    """Write ``ccd`` to ``target`` atomically; its identity when ``identify``."""
    kind = _suffix_kind(target)
    hdul = ccd_to_hdulist(
        ccd,
        dtype=dtype,
        file_name=target.name,
        hdu_mask=hdu_mask,
        hdu_uncertainty=hdu_uncertainty,
        key_uncertainty_type=key_uncertainty_type,
        compress=kind == "tile",
    )
    with atomic_path(target, overwrite=overwrite, fsync=fsync) as tmp:
        try:
            written = write_file(
                hdul,
                tmp,
                checksum=checksum,
                gzip_level=6 if kind == "gzip" else None,
                record_as=target if identify else None,
            )
        except fits.VerifyError as exc:
            raise FrameWriteError(
                f"{str(target)!r} could not be written: the header is not valid FITS "
                f"({exc}); fix the keyword named above in ccd.meta"
            ) from exc
        except FrameWriteError:
            raise
        except OSError as exc:  # permission denied, disk full...
            raise FrameWriteError(
                f"{str(target)!r} could not be written ({exc.strerror or exc}); check the "
                f"free space and the permissions of {str(target.parent)!r}"
            ) from exc
    logger.debug("wrote %s", target)
    return written


def write_ccd(
    ccd: CCDData,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    checksum: bool = True,
    dtype: DTypeLike | None = None,
    hdu_mask: str | None = "MASK",
    hdu_uncertainty: str | None = "UNCERT",
    key_uncertainty_type: str = "UTYPE",
    fsync: bool = False,
) -> Path:
    """Write a frame with its uncertainty and mask to one FITS file, atomically.

    The file is first written under a hidden temporary name in the same
    folder and renamed into place only when complete, so a reader (or a run
    killed part-way) never sees half a file. ``ccd`` is not changed.

    astropy builds and verifies the headers; the data of an uncompressed
    (or gzipped) file are written by :mod:`ccdcal.io.stream`, which computes
    ``DATASUM``/``CHECKSUM`` itself in the same pass. The file is the one
    ``HDUList.writeto(checksum=True)`` writes.

    Parameters
    ----------
    ccd : CCDData
        The frame. Its data are written in their own dtype unless ``dtype``
        is given; the uncertainty in the same floating dtype.
    path : str or path-like
        Output file; a name ending in ``.gz`` is gzip-compressed and one
        ending in ``.fz`` is tile-compressed (losslessly).
    overwrite : bool, optional
        Replace an existing file (otherwise :class:`~ccdcal.errors.OutputExistsError`).
    checksum : bool, optional
        Add ``CHECKSUM`` and ``DATASUM`` cards to every HDU.
    dtype : dtype-like, optional
        Write the data in this dtype.
    hdu_mask, hdu_uncertainty, key_uncertainty_type : optional
        Extension names and the uncertainty-class keyword (astropy's defaults).
    fsync : bool, optional
        Also flush to disk before the rename (survives a power cut).

    Returns
    -------
    pathlib.Path
        The path written. Its header has ``CCDCFILE`` set to the file name.

    Raises
    ------
    OutputExistsError
        The file exists and ``overwrite`` is False.
    FrameWriteError
        A header keyword is not valid FITS (the message names it), the
        uncertainty or mask cannot be saved, or the file cannot be written.

    See Also
    --------
    write_ccd_with_identity : the same, returning the file's size, time and SHA-256.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> ccd = CCDData(np.zeros((2, 2), dtype=np.float32), unit="adu", meta={"OBJECT": "M67"})
    >>> out = write_ccd(ccd, pathlib.Path(tempfile.mkdtemp()) / "m.fits")
    >>> fits.getheader(out)["CHECKSUM"] != "", fits.getval(out, "CCDCFILE")
    (True, 'm.fits')
    >>> write_ccd(ccd, out)
    Traceback (most recent call last):
    ...
    ccdcal.errors.OutputExistsError: '...m.fits' already exists; pass overwrite=True ...
    """
    target = Path(path)
    _write(
        ccd,
        target,
        overwrite=overwrite,
        checksum=checksum,
        dtype=dtype,
        hdu_mask=hdu_mask,
        hdu_uncertainty=hdu_uncertainty,
        key_uncertainty_type=key_uncertainty_type,
        fsync=fsync,
        identify=False,
    )
    return target


def write_ccd_with_identity(
    ccd: CCDData,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    checksum: bool = True,
    dtype: DTypeLike | None = None,
    hdu_mask: str | None = "MASK",
    hdu_uncertainty: str | None = "UNCERT",
    key_uncertainty_type: str = "UTYPE",
    fsync: bool = False,
) -> FileIdentity:
    """:func:`write_ccd`, returning the identity (size, time, SHA-256) of the file.

    The SHA-256 is computed from the bytes as they are written, so the file
    is not read back; the result equals
    :func:`~ccdcal.io.identity.file_identity` of ``path`` afterwards. The
    parameters, file and errors are those of :func:`write_ccd`.

    Returns
    -------
    FileIdentity
        ``path`` (as given), size, modification time (ns) and SHA-256.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from ccdcal.io.identity import file_identity
    >>> ccd = CCDData(np.ones((4, 5), dtype=np.float32), unit="electron")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "science.fits"
    >>> written = write_ccd_with_identity(ccd, path)
    >>> written == file_identity(path), written.size
    (True, 5760)
    """
    written = _write(
        ccd,
        Path(path),
        overwrite=overwrite,
        checksum=checksum,
        dtype=dtype,
        hdu_mask=hdu_mask,
        hdu_uncertainty=hdu_uncertainty,
        key_uncertainty_type=key_uncertainty_type,
        fsync=fsync,
        identify=True,
    )
    assert written is not None  # write_file hashes when record_as is given
    return written
