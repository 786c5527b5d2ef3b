"""``mask_saturated``: mask pixels at or above the saturation level.

ccdproc has no saturation step.  Saturated pixels must be masked on the
*raw* values, before any subtraction (after bias and dark subtraction the
plateau is no longer at a known level); ``ccd_process(saturation=...)``
does this first.  The level is a number (in the image's unit), a Quantity,
or a header keyword (``'SATURATE'`` or a ``Keyword``).

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> ccd = CCDData(np.array([[100, 65535]], dtype=np.uint16), unit="adu")
>>> out = mask_saturated(ccd, 60000)
>>> out.mask, out.data.dtype
(array([[False,  True]]), dtype('uint16'))
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import mask_of, new_frame, require_ccd
from ccdcal.calibrate._record import record
from ccdcal.calibrate.keyword import header_value, is_keyword
from ccdcal.errors import InvalidParameterError, UnitMismatchError
from ccdcal.io.provenance import LogSpec

__all__ = ["mask_saturated", "saturation_level"]


def saturation_level(level: Any, meta: Mapping[str, Any], unit: u.UnitBase) -> float:
    """The saturation level as a number in ``unit``.

    ``level`` is a number, a Quantity, a header keyword name or a ``Keyword``.

    >>> saturation_level("SATURATE", {"SATURATE": 65000}, u.adu)
    65000.0
    """
    what = "saturation level"
    if isinstance(level, str) or is_keyword(level):
        name = level if isinstance(level, str) else level.name
        what = f"saturation keyword {name!r}"
        raw = header_value(meta, name, role="image")
        if is_keyword(level) and level.unit is not None and not isinstance(raw, u.Quantity):
            raw = _number(raw, what) * u.Unit(level.unit)
        level = raw
    if isinstance(level, u.Quantity):
        try:
            return float(level.to_value(unit))
        except u.UnitsError as err:
            raise UnitMismatchError(
                f"{what} {level} cannot be converted to the image unit '{unit}'"
            ) from err
    return _number(level, what)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise InvalidParameterError(f"{what} is {value!r}, not a number")
    try:
        number = float(value)
    except ValueError:
        raise InvalidParameterError(f"{what} is {value!r}, not a number") from None
    if np.isnan(number):
        raise InvalidParameterError(f"{what} is NaN")
    return number


def mask_saturated(ccd: CCDData, level: Any, *, add_keyword: LogSpec = True) -> CCDData:
    """Mask the pixels whose value is at or above ``level``.

    Parameters
    ----------
    ccd : CCDData
        The raw image (saturation is defined on raw values).
    level : number, Quantity, str or Keyword
        The saturation level, or the header keyword holding it.
    add_keyword : bool, str, Keyword or dict, optional
        Record the step in ccdcal's structured provenance (``False`` to skip).

    Returns
    -------
    CCDData
        A copy of ``ccd`` (same dtype) whose mask also covers saturated pixels.

    Raises
    ------
    HeaderKeywordError
        The keyword is missing (a ``KeyError``).
    InvalidParameterError
        The level is not a number (a ``ValueError``).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData
    >>> ccd = CCDData(np.array([[10.0, 50.0]], dtype=np.float32), unit="adu",
    ...               meta={"SATURATE": 40})
    >>> mask_saturated(ccd, "SATURATE").mask
    array([[False,  True]])
    """
    require_ccd(ccd, "ccd")
    value = saturation_level(level, ccd.meta, ccd.unit)
    data = np.array(ccd.data, copy=True)
    with np.errstate(invalid="ignore"):
        saturated = data >= value
    old = mask_of(ccd)
    mask = saturated if old is None else np.logical_or(saturated, old)
    sigma = None
    if ccd.uncertainty is not None:
        sigma = np.array(ccd.uncertainty.array, copy=True)
    result = new_frame(ccd, data, sigma=None, mask=mask)
    if sigma is not None:
        result.uncertainty = ccd.uncertainty.__class__(sigma, unit=ccd.uncertainty.unit)
    params = {"level": value, "saturated_pixels": int(np.count_nonzero(saturated))}
    record(result, "mask_saturated", params=params, add_keyword=add_keyword)
    return result
