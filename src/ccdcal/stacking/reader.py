"""Band readers: the frames of a stack, read a band of rows at a time.

A :class:`FrameSource` gives rows ``[r0, r1)`` of one frame as floats in the
working dtype, with NaN wherever the value is masked (``MASK`` extension or
``CCDData.mask``), BLANK or not finite, and optionally the variance of the
same rows (from a ``StdDevUncertainty``, ``VarianceUncertainty`` or
``InverseVariance``).

* :class:`FitsSource` opens its file **once**, parses the headers once, and
  then reads each band with one positioned read (``os.preadv``) per HDU
  straight into a reused buffer, decoding big-endian integers and applying
  BZERO/BSCALE on the way.  Nothing is memory-mapped, so pages of the file
  never count against the process's memory.  Tile-compressed (``.fz``)
  images are decompressed tile by tile through astropy's ``section``;
  gzip files are inflated once to a temporary file that is read like any
  other.
* :class:`ArraySource` serves a frame already in memory (a ``CCDData``).

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> ccd = CCDData(np.arange(6.0).reshape(2, 3), unit="adu",
...               mask=np.array([[0, 1, 0], [0, 0, 0]], dtype=bool))
>>> src = ArraySource.from_ccd(ccd, name="frame 1")
>>> out = np.empty((1, 3), np.float32)
>>> src.read(0, 1, out)
>>> out.tolist()
[[0.0, nan, 2.0]]
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData

from ccdcal.errors import FrameNotFoundError, FrameReadError

# The HDU-selection and unit rules of read_ccd, shared so that both read a file alike.
from ccdcal.io.fits import check_complete, header_for, resolve_unit, select_hdu

__all__ = ["ArraySource", "FitsSource", "FrameSource", "logical_dtype", "open_source"]

logger = logging.getLogger(__name__)

_local = threading.local()

_UNCERTAINTY_KINDS = {
    "StdDevUncertainty": "std",
    "VarianceUncertainty": "var",
    "InverseVariance": "ivar",
}


def _scratch(nbytes: int) -> np.ndarray:
    """A byte buffer of at least ``nbytes`` reused by the calling thread."""
    buf: np.ndarray | None = getattr(_local, "buf", None)
    if buf is None or buf.size < nbytes:
        buf = np.empty(max(nbytes, 1), np.uint8)
        _local.buf = buf
    return buf[:nbytes]


def _to_variance(values: np.ndarray, kind: str, out: np.ndarray) -> None:
    """Convert uncertainty values of ``kind`` ('std', 'var', 'ivar') to variances in ``out``."""
    if kind == "std":
        np.multiply(values, values, out=out, casting="unsafe")
    elif kind == "var":
        np.copyto(out, values, casting="unsafe")
    else:
        with np.errstate(divide="ignore"):
            np.divide(1.0, values, out=out, casting="unsafe")


def logical_dtype(bitpix: int, bscale: float, bzero: float) -> np.dtype:
    """The dtype astropy gives the stored pixels (uint16 for BITPIX 16 + BZERO 32768).

    >>> logical_dtype(16, 1.0, 32768.0), logical_dtype(16, 2.0, 0.0), logical_dtype(-64, 1.0, 0.0)
    (dtype('uint16'), dtype('float32'), dtype('float64'))
    """
    ints = {8: np.uint8, 16: np.int16, 32: np.int32, 64: np.int64}
    if bitpix < 0:
        return np.dtype(np.float32 if bitpix == -32 else np.float64)
    if bscale == 1.0 and bzero == 0.0:
        return np.dtype(ints[bitpix])
    unsigned = {16: 2.0**15, 32: 2.0**31, 64: 2.0**63}
    if bscale == 1.0 and bitpix in unsigned and bzero == unsigned[bitpix]:
        return np.dtype(f"uint{bitpix}")
    if bitpix == 8 and bscale == 1.0 and bzero == -128.0:
        return np.dtype(np.int8)
    return np.dtype(np.float32 if bitpix in (8, 16) else np.float64)


class FrameSource(ABC):
    """One frame of a stack, read by bands of rows.

    Attributes
    ----------
    name : str
        How the frame is named in messages and in the output header.
    path : pathlib.Path or None
        The file, for file sources.
    shape : tuple of int
        (rows, columns).
    dtype : numpy.dtype
        The dtype of the stored pixels as a reader would return them.
    unit : astropy unit
    meta : mapping
        The frame's header (a ``fits.Header`` for files).
    has_variance : bool
        The frame carries an uncertainty.
    """

    name: str
    path: Path | None = None
    shape: tuple[int, int]
    dtype: np.dtype
    unit: u.UnitBase
    meta: Mapping[str, Any]
    has_variance: bool = False
    wcs: Any = None

    @abstractmethod
    def read(self, r0: int, r1: int, out: np.ndarray) -> None:
        """Fill ``out`` (shape ``(r1 - r0, W)``) with rows r0..r1-1, NaN where invalid."""

    def read_variance(self, r0: int, r1: int, out: np.ndarray) -> None:
        """Fill ``out`` with the variance of rows r0..r1-1 (NaN without uncertainty)."""
        out[...] = np.nan

    @abstractmethod
    def read_full(self) -> np.ndarray:
        """The whole frame's data, in its stored dtype (for a ccdproc ``scale`` function)."""

    def close(self) -> None:  # noqa: B027 - sources without resources need nothing
        """Release the file (a no-op for in-memory frames)."""


class ArraySource(FrameSource):
    """A frame in memory: an array with an optional mask and uncertainty.

    Parameters
    ----------
    data : numpy.ndarray
        2-D (frames of other dimensionality are reshaped by the caller).
    mask : numpy.ndarray of bool, optional
    variance : tuple (array, kind), optional
        The uncertainty values and their kind: ``'std'``, ``'var'`` or ``'ivar'``.
    unit, meta, name : frame description
    """

    def __init__(
        self,
        data: np.ndarray,
        *,
        mask: np.ndarray | None = None,
        variance: tuple[np.ndarray, str] | None = None,
        unit: u.UnitBase | None = None,
        meta: Mapping[str, Any] | None = None,
        name: str = "<array>",
    ) -> None:
        self.data = np.asarray(data)
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.variance = variance
        self.has_variance = variance is not None
        self.shape = (int(self.data.shape[0]), int(self.data.shape[1]))
        self.dtype = self.data.dtype
        self.unit = unit if unit is not None else u.dimensionless_unscaled
        self.meta = meta if meta is not None else {}
        self.name = name

    @classmethod
    def from_ccd(cls, ccd: CCDData, *, name: str) -> ArraySource:
        """Serve a 2-D ``CCDData`` (its mask and uncertainty included)."""
        variance = None
        unc = ccd.uncertainty
        if unc is not None:
            kind = _UNCERTAINTY_KINDS.get(type(unc).__name__)
            if kind is None:
                raise FrameReadError(
                    f"{name}: an uncertainty of type {type(unc).__name__} cannot be "
                    "propagated; convert it to StdDevUncertainty first"
                )
            values = np.asarray(unc.array)
            factor = _uncertainty_factor(unc, ccd.unit, kind)
            if factor != 1.0:
                values = values * factor
            variance = (values, kind)
        source = cls(
            np.asarray(ccd.data),
            mask=None if ccd.mask is None else np.asarray(ccd.mask),
            variance=variance,
            unit=ccd.unit,
            meta=ccd.meta,
            name=name,
        )
        source.wcs = ccd.wcs
        return source

    def read(self, r0: int, r1: int, out: np.ndarray) -> None:
        np.copyto(out, self.data[r0:r1], casting="unsafe")
        if self.mask is not None:
            np.copyto(out, np.nan, where=self.mask[r0:r1])

    def read_variance(self, r0: int, r1: int, out: np.ndarray) -> None:
        if self.variance is None:
            out[...] = np.nan
            return
        values, kind = self.variance
        _to_variance(values[r0:r1], kind, out)

    def read_full(self) -> np.ndarray:
        return self.data


def _uncertainty_factor(unc: Any, data_unit: u.UnitBase | None, kind: str) -> float:
    """Factor that brings uncertainty values given in another unit to the data unit."""
    unit = getattr(unc, "_unit", None)
    if unit is None or data_unit is None:
        return 1.0
    power = {"std": 1, "var": 2, "ivar": -2}[kind]
    try:
        return float((unit / data_unit**power).to(u.dimensionless_unscaled))
    except u.UnitConversionError:
        return 1.0


class _Part:
    """An uncompressed image HDU in a file: where its bytes are and how to decode them."""

    def __init__(self, fd: int, hdu: Any, shape: tuple[int, int]) -> None:
        header = hdu.header
        info = hdu.fileinfo()
        self.fd = fd
        self.offset = int(info["datLoc"])
        self.bitpix = int(header["BITPIX"])
        self.bscale = float(header.get("BSCALE", 1.0))
        self.bzero = float(header.get("BZERO", 0.0))
        blank = header.get("BLANK")
        self.blank = int(blank) if isinstance(blank, (int, np.integer)) else None
        self.itemsize = abs(self.bitpix) // 8
        self.width = shape[1]
        self.dtype = logical_dtype(self.bitpix, self.bscale, self.bzero)

    def read(self, r0: int, r1: int, out: np.ndarray) -> None:
        row_bytes = self.width * self.itemsize
        nbytes = (r1 - r0) * row_bytes
        raw = _scratch(nbytes)
        got = os.preadv(self.fd, [raw.data], self.offset + r0 * row_bytes)
        if got != nbytes:
            raise FrameReadError(
                f"short read: {got} of {nbytes} bytes at rows {r0}-{r1}; the file was "
                "truncated or changed while it was being combined"
            )
        from ccdcal.stacking.kernels import decode_be  # numba is loaded on first use only

        decode_be(raw, self.bitpix, out, bscale=self.bscale, bzero=self.bzero, blank=self.blank)


class _Section:
    """A compressed image HDU, decompressed band by band (one thread at a time)."""

    def __init__(self, hdu: Any, lock: threading.Lock) -> None:
        self.hdu = hdu
        self.lock = lock
        header = hdu.header
        self.dtype = logical_dtype(
            int(header["BITPIX"]), float(header.get("BSCALE", 1.0)), float(header.get("BZERO", 0.0))
        )

    def read(self, r0: int, r1: int, out: np.ndarray) -> None:
        with self.lock:
            block = self.hdu.section[r0:r1]
        np.copyto(out, block, casting="unsafe")


class FitsSource(FrameSource):
    """A frame in a FITS file, opened once and read by bands.

    Parameters
    ----------
    path : str or path-like
    hdu : int or str, optional
        The image HDU (as :func:`ccdcal.io.read_ccd`: an empty primary is
        passed over for the first image extension).
    unit : str or unit, optional
        Overrides ``BUNIT``; without either the frame is in adu.
    hdu_mask, hdu_uncertainty : str or None, optional
        Extension names of the mask and the uncertainty (``None``: ignore).
    key_uncertainty_type : str, optional
        Keyword naming the uncertainty's class in its extension.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hdu: int | str = 0,
        unit: str | u.UnitBase | None = None,
        hdu_mask: str | None = "MASK",
        hdu_uncertainty: str | None = "UNCERT",
        key_uncertainty_type: str = "UTYPE",
    ) -> None:
        self.file = Path(path)
        self.path = self.file
        self.name = self.file.name
        self._tmpdir: str | None = None
        self._lock = threading.Lock()
        where = f"{str(self.file)!r}"
        try:
            self._handle = open(self._plain_path(), "rb")  # noqa: SIM115 - kept open
        except FileNotFoundError:
            raise FrameNotFoundError(f"{where} does not exist; check the path") from None
        except OSError as exc:
            raise FrameReadError(f"{where} cannot be opened: {exc}") from exc
        try:
            self._open(hdu, unit, hdu_mask, hdu_uncertainty, key_uncertainty_type)
        except FrameReadError:
            self.close()
            raise
        except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
            self.close()
            raise FrameReadError(
                f"{where} could not be read as FITS ({type(exc).__name__}: {exc}); check "
                "the file with fitsverify or copy it again"
            ) from exc

    def _plain_path(self) -> Path:
        """The file to read: the path itself, or a temporary inflated copy of a .gz."""
        if not self.file.name.lower().endswith(".gz"):
            return self.file
        if not self.file.exists():
            raise FileNotFoundError(self.file)
        self._tmpdir = tempfile.mkdtemp(prefix="ccdcal-combine-")
        target = Path(self._tmpdir) / self.file.name[:-3]
        with gzip.open(self.file, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        logger.debug("inflated %s to %s", self.file, target)
        return target

    def _open(
        self,
        hdu: int | str,
        unit: str | u.UnitBase | None,
        hdu_mask: str | None,
        hdu_uncertainty: str | None,
        key_uncertainty_type: str,
    ) -> None:
        self._hdul = fits.open(self._handle, mode="readonly", memmap=False)
        index = select_hdu(self._hdul, hdu, self.file)
        check_complete(self._hdul, index, self.file)
        image = self._hdul[index]
        self._image = image
        self.meta = header_for(self._hdul, index, hdu)
        self.unit = resolve_unit(self.meta, unit, f"{str(self.file)!r}, HDU {index}")
        naxis = int(image.header["NAXIS"])
        if naxis != 2:
            raise FrameReadError(
                f"{str(self.file)!r}, HDU {index} has {naxis} axes; combine works on 2-D "
                "images: pass hdu= naming a 2-D image"
            )
        self.shape = (int(image.header["NAXIS2"]), int(image.header["NAXIS1"]))
        self._data = self._part(image)
        self.dtype = self._data.dtype
        self._mask = self._extension(hdu_mask)
        self._unc = self._extension(hdu_uncertainty)
        self._unc_kind = "std"
        if self._unc is not None and hdu_uncertainty is not None:
            utype = str(self._hdul[hdu_uncertainty].header.get(key_uncertainty_type, ""))
            self._unc_kind = _UNCERTAINTY_KINDS.get(utype, "std")
        self.has_variance = self._unc is not None

    def _part(self, hdu: Any) -> _Part | _Section:
        if isinstance(hdu, fits.CompImageHDU):
            return _Section(hdu, self._lock)
        return _Part(self._handle.fileno(), hdu, self.shape)

    def _extension(self, name: str | None) -> _Part | _Section | None:
        if not name or name not in self._hdul:
            return None
        ext = self._hdul[name]
        shape = (int(ext.header.get("NAXIS2", 0)), int(ext.header.get("NAXIS1", 0)))
        if int(ext.header.get("NAXIS", 0)) != 2 or shape != self.shape:
            raise FrameReadError(
                f"{str(self.path)!r}: extension {name!r} has shape {shape}, the image "
                f"{self.shape}; the file is inconsistent: rewrite it, or combine with "
                f"hdu_mask=None / hdu_uncertainty=None"
            )
        return self._part(ext)

    def read(self, r0: int, r1: int, out: np.ndarray) -> None:
        self._data.read(r0, r1, out)
        if self._mask is not None:
            flags = np.empty(out.shape, np.float32)
            self._mask.read(r0, r1, flags)
            np.copyto(out, np.nan, where=flags != 0)

    def read_variance(self, r0: int, r1: int, out: np.ndarray) -> None:
        if self._unc is None:
            out[...] = np.nan
            return
        values = np.empty(out.shape, out.dtype)
        self._unc.read(r0, r1, values)
        _to_variance(values, self._unc_kind, out)

    def read_full(self) -> np.ndarray:
        with self._lock:
            return np.asarray(self._image.section[:, :])

    def close(self) -> None:
        hdul = getattr(self, "_hdul", None)
        if hdul is not None:
            hdul.close()
        handle = getattr(self, "_handle", None)
        if handle is not None and not handle.closed:
            handle.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def open_source(item: Any, *, index: int, read_options: Mapping[str, Any]) -> FrameSource:
    """A source for one entry of ``img_list``: a path or a ``CCDData``.

    >>> from astropy.nddata import CCDData
    >>> open_source(CCDData(np.zeros((2, 2)), unit="adu"), index=0, read_options={}).name
    'CCDData #1'
    """
    if isinstance(item, CCDData):
        if item.data.ndim != 2:
            raise FrameReadError(
                f"image {index + 1} of the list has {item.data.ndim} axes; combine() works "
                "on 2-D frames (use Combiner for other shapes)"
            )
        name = str(item.meta.get("CCDCFILE", f"CCDData #{index + 1}"))
        return ArraySource.from_ccd(item, name=name)
    if isinstance(item, (str, os.PathLike)):
        return FitsSource(item, **read_options)
    raise FrameReadError(
        f"image {index + 1} of the list is a {type(item).__name__}; give file names or "
        "CCDData objects"
    )
