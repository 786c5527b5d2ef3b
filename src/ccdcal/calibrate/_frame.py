"""Shared plumbing of the calibration steps: planes in the working dtype, units, results.

The steps compute directly on numpy arrays (not astropy's NDArithmetic, which
is slow and promotes to float64).  These helpers take the planes of a
``CCDData`` (data, standard deviation, mask) in the working dtype, check
shapes and units with clear errors, and build the result frame with a copied
header and the first frame's WCS, as ccdproc does.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> ccd = CCDData(np.arange(4, dtype=np.uint16).reshape(2, 2), unit="adu")
>>> data_in(ccd, np.dtype(np.float32)).dtype
dtype('float32')
>>> sigma_in(ccd, np.dtype(np.float32)) is None
True
>>> or_masks(None, np.array([True, False]))
array([ True, False])
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from astropy import units as u
from astropy.nddata import (
    CCDData,
    InverseVariance,
    StdDevUncertainty,
    VarianceUncertainty,
)

from ccdcal.errors import (
    IncompatibleFramesError,
    ParameterTypeError,
    UnitMismatchError,
)
from ccdcal.io.provenance import FILE_KEY

__all__ = [
    "check_same_shape",
    "data_in",
    "describe",
    "hypot",
    "mask_of",
    "new_frame",
    "or_masks",
    "require_ccd",
    "sigma_in",
    "unit_factor",
]


def describe(ccd: CCDData, role: str) -> str:
    """``"the master bias (file 'bias.fits')"`` or just ``"the master bias"``."""
    name = (ccd.meta or {}).get(FILE_KEY) if hasattr(ccd, "meta") else None
    return f"the {role} (file {str(name)!r})" if name else f"the {role}"


def require_ccd(obj: Any, name: str) -> CCDData:
    """Return ``obj`` if it is a ``CCDData``, else raise ``ParameterTypeError``."""
    if not isinstance(obj, CCDData):
        raise ParameterTypeError(
            f"{name} must be an astropy CCDData, got {type(obj).__name__}; "
            f"wrap an array with CCDData(array, unit='adu')"
        )
    return obj


def check_same_shape(ccd: CCDData, other: CCDData, role: str) -> None:
    """Raise ``IncompatibleFramesError`` (a ``ValueError``) if the shapes differ."""
    if ccd.shape != other.shape:
        raise IncompatibleFramesError(
            f"operands could not be subtracted with shapes {ccd.shape} {other.shape}: "
            f"{describe(other, role)} has shape {other.shape} but the image "
            f"{_file_part(ccd)}has shape {ccd.shape}; trim both to the same section "
            f"(and use a {role} with the same binning)"
        )


def _file_part(ccd: CCDData) -> str:
    name = (ccd.meta or {}).get(FILE_KEY)
    return f"(file {str(name)!r}) " if name else ""


def unit_factor(image_unit: u.UnitBase, calib: CCDData, role: str) -> float:
    """Factor converting ``calib``'s values to ``image_unit``.

    Raises ``UnitMismatchError`` (an astropy ``UnitsError``) if the units are
    not convertible.
    """
    if calib.unit == image_unit:
        return 1.0
    try:
        return float(u.Unit(calib.unit).to(image_unit))
    except (u.UnitsError, TypeError, ValueError) as err:
        raise UnitMismatchError(
            f"Unit '{image_unit}' of the uncalibrated image does not match unit "
            f"'{calib.unit}' of the calibration image ({describe(calib, role)}); "
            f"bring both to the same unit (gain_correct converts adu to electron)"
        ) from err


def data_in(ccd: CCDData, dtype: np.dtype) -> np.ndarray:
    """The data array in ``dtype`` (the array itself when it already is; never write to it)."""
    return np.asarray(ccd.data).astype(dtype, copy=False)


def sigma_in(ccd: CCDData, dtype: np.dtype) -> np.ndarray | None:
    """The standard deviation of ``ccd`` in its data unit and ``dtype``, or None.

    ``StdDevUncertainty``, ``VarianceUncertainty`` and ``InverseVariance``
    are accepted; other uncertainty classes raise ``ParameterTypeError``.
    """
    unc = ccd.uncertainty
    if unc is None:
        return None
    if isinstance(unc, StdDevUncertainty):
        std = unc
    elif isinstance(unc, (VarianceUncertainty, InverseVariance)):
        std = unc.represent_as(StdDevUncertainty)
    else:
        raise ParameterTypeError(
            f"uncertainty of type {type(unc).__name__} cannot be propagated; use "
            f"StdDevUncertainty, VarianceUncertainty or InverseVariance"
        )
    array = np.asarray(std.array)
    unit = std.unit
    if unit is not None and ccd.unit is not None and unit != ccd.unit:
        try:
            array = array * u.Unit(unit).to(ccd.unit)
        except u.UnitsError as err:
            raise UnitMismatchError(
                f"the uncertainty is in '{unit}' but the data are in '{ccd.unit}'; set the "
                f"uncertainty again after changing the unit of a frame"
            ) from err
    return array.astype(dtype, copy=False)


def hypot(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sqrt(a² + b²) element-wise; ``out`` may be ``a`` or ``b``.

    About twice as fast as ``np.hypot`` (which guards against overflow that
    standard deviations never reach).

    >>> hypot(np.array([3.0], np.float32), np.array([4.0], np.float32))
    array([5.], dtype=float32)
    """
    b2 = np.multiply(b, b)
    result = np.multiply(a, a, out=out)
    result += b2
    return np.sqrt(result, out=result)


def mask_of(ccd: CCDData) -> np.ndarray | None:
    """The mask of ``ccd`` as a boolean array of the data's shape, or None (never write to it)."""
    mask = ccd.mask
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        mask = mask.astype(bool)
    if mask.shape != ccd.shape:
        mask = np.broadcast_to(mask, ccd.shape)
    return mask


def or_masks(*masks: np.ndarray | None) -> np.ndarray | None:
    """Logical OR of the masks that are not None, as a new array (None if all are None)."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    result = np.array(present[0], dtype=bool, copy=True)
    for mask in present[1:]:
        np.logical_or(result, mask, out=result)
    return result


def new_frame(
    template: CCDData,
    data: np.ndarray,
    *,
    sigma: np.ndarray | None,
    mask: np.ndarray | None,
    unit: u.UnitBase | None = None,
    wcs: Any = "copy",
) -> CCDData:
    """A new ``CCDData`` with the given planes, ``template``'s header (copied) and WCS.

    The arrays are used as they are (not copied): pass arrays that belong to
    the result.  ``wcs='copy'`` deep-copies the template's WCS.
    """
    if isinstance(wcs, str) and wcs == "copy":
        wcs = copy.deepcopy(template.wcs) if template.wcs is not None else None
    meta = template.meta.copy() if template.meta is not None else None
    return CCDData(
        data,
        unit=template.unit if unit is None else unit,
        mask=mask,
        uncertainty=StdDevUncertainty(sigma, copy=False) if sigma is not None else None,
        meta=meta,
        wcs=wcs,
        copy=False,
    )
