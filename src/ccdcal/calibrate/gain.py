"""``gain_correct``: multiply by the gain (usually adu -> electron).

The gain may be a Quantity (``2.6 * u.electron / u.adu``), a ``Keyword``
read from the header (``Keyword('EGAIN', unit=u.electron / u.adu)``), a
number with ``gain_unit``, or a bare number (the unit is then unchanged).
Data ``g·D``, σ ``|g|·σ``, mask unchanged, unit ``unit · gain unit``.
float32 data stay float32 (ccdproc returns float64).

Examples
--------
>>> import numpy as np
>>> from astropy import units as u
>>> from astropy.nddata import CCDData
>>> ccd = CCDData(np.full((2, 2), 10.0, dtype=np.float32), unit="adu")
>>> out = gain_correct(ccd, 2.6 * u.electron / u.adu)
>>> out.unit, out.data.dtype, float(out.data[0, 0])
(Unit("electron"), dtype('float32'), 26.0)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import mask_of, new_frame, or_masks, require_ccd, sigma_in
from ccdcal.calibrate._record import logged_step, record
from ccdcal.calibrate.keyword import header_value, is_keyword, remember_value
from ccdcal.dtypes import working_dtype
from ccdcal.errors import InvalidParameterError, ParameterTypeError
from ccdcal.io.provenance import LogSpec

__all__ = ["gain_correct", "resolve_gain"]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise InvalidParameterError(f"{what} is {value!r}, not a number")
    try:
        return float(value)
    except ValueError:
        raise InvalidParameterError(f"{what} is {value!r}, not a number") from None


def resolve_gain(gain: Any, meta: Any, gain_unit: Any = None) -> u.Quantity | float | np.ndarray:
    """The gain as a Quantity (with a unit) or a plain number / array (without).

    >>> resolve_gain(3.0, {}, gain_unit="electron/adu")
    <Quantity 3. electron / adu>
    """
    if is_keyword(gain):
        raw = header_value(meta, gain.name, role="image")
        if isinstance(raw, u.Quantity):
            return raw
        value = _number(raw, f"gain keyword {gain.name!r}")
        unit = gain.unit if gain.unit is not None else gain_unit
        resolved = value * u.Unit(unit) if unit is not None else value
        remember_value(gain, resolved)
        return resolved
    if isinstance(gain, u.Quantity):
        return gain
    if isinstance(gain, numbers.Number) and not isinstance(gain, bool):
        return float(gain) * u.Unit(gain_unit) if gain_unit is not None else float(gain)  # type: ignore[arg-type]
    if isinstance(gain, np.ndarray) and gain.dtype.kind in "iuf":
        return gain * u.Unit(gain_unit) if gain_unit is not None else gain
    raise ParameterTypeError(
        f"gain must be a Quantity, a Keyword or a number, got {type(gain).__name__}"
    )


@logged_step
def gain_correct(
    ccd: CCDData,
    gain: Any,
    *,
    gain_unit: Any = None,
    add_keyword: LogSpec = True,
) -> CCDData:
    """Correct the gain of an image (multiply by it).

    Parameters
    ----------
    ccd : CCDData
        The image.
    gain : Quantity, Keyword or number
        The gain, e.g. ``2.6 * u.electron / u.adu`` or ``Keyword('EGAIN',
        unit=u.electron / u.adu)``.
    gain_unit : astropy unit or str, optional
        Unit of a plain-number gain (or of a Keyword without a unit).
    add_keyword : bool, str, Keyword or dict, optional
        How to record the step in the header (as ccdproc's ``add_keyword``).

    Returns
    -------
    CCDData
        ``gain * ccd`` in the working dtype, in unit ``ccd.unit * gain.unit``.

    Raises
    ------
    HeaderKeywordError
        A ``Keyword`` gain is missing from the header (a ``KeyError``).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from astropy.nddata import CCDData
    >>> from ccdcal import Keyword
    >>> ccd = CCDData(np.ones((2, 2), dtype=np.float32), unit="adu", meta={"EGAIN": 2.5})
    >>> gain_correct(ccd, Keyword("EGAIN", unit=u.electron / u.adu)).unit
    Unit("electron")
    >>> gain_correct(ccd, 3).unit
    Unit("adu")
    """
    require_ccd(ccd, "ccd")
    resolved = resolve_gain(gain, ccd.meta, gain_unit)
    unit, value = ccd.unit, resolved
    if isinstance(resolved, u.Quantity):
        unit, value = ccd.unit * resolved.unit, resolved.value
    dtype = working_dtype(ccd.data.dtype)
    factor = np.asarray(value).astype(dtype)
    out = np.multiply(np.asarray(ccd.data), factor, dtype=dtype)
    sigma = sigma_in(ccd, dtype)
    if sigma is not None:
        sigma = np.multiply(sigma, np.abs(factor), dtype=dtype)
    result = new_frame(ccd, out, sigma=sigma, mask=or_masks(mask_of(ccd)), unit=unit)
    record(result, "gain_correct", params={"gain": resolved}, add_keyword=add_keyword)
    return result
