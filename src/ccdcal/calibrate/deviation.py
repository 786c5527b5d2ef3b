"""``create_deviation``: the standard deviation of each pixel from gain and read noise.

σ = sqrt(g·D + RN²) / g, in the data's unit (RN in electrons, g in
electron/adu for adu data).  The data are not changed; the mask is kept.

Negative values: the Poisson term of a pixel whose value is below zero
(common after overscan or bias subtraction, where half the pixels of an
empty region are negative) is taken as zero, so σ = RN/g there.  ccdproc
instead returns NaN for those pixels unless ``disregard_nan=True``, and logs
a root-logger warning on every call; a NaN σ poisons every later step and
any weighted combination.  ``disregard_nan`` is accepted for compatibility:
both values give the same, usable result.  A NaN data value still gives a
NaN σ.

Examples
--------
>>> import numpy as np
>>> from astropy import units as u
>>> from astropy.nddata import CCDData
>>> ccd = CCDData(np.array([[100.0, -4.0]], dtype=np.float32), unit="adu")
>>> out = create_deviation(ccd, gain=2 * u.electron / u.adu, readnoise=4 * u.electron)
>>> out.uncertainty.array
array([[7.3484693, 2.       ]], dtype=float32)
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import mask_of, new_frame, or_masks, require_ccd
from ccdcal.calibrate._record import logged_step, record
from ccdcal.dtypes import working_dtype
from ccdcal.errors import InvalidParameterError, ParameterTypeError, UnitMismatchError
from ccdcal.io.provenance import LogSpec

__all__ = ["create_deviation", "deviation_array"]


def deviation_array(data: np.ndarray, gain: float, readnoise: float, dtype: np.dtype) -> np.ndarray:
    """sqrt(max(g·D, 0) + RN²) / g in ``dtype`` (one temporary array).

    >>> deviation_array(np.array([8.0, -1.0]), 2.0, 3.0, np.dtype(np.float32))
    array([2.5, 1.5], dtype=float32)
    """
    var = np.multiply(data, dtype.type(1.0 / gain), dtype=dtype)  # D/g ...
    np.maximum(var, 0, out=var)
    var += dtype.type((readnoise / gain) ** 2)  # ... + (RN/g)²
    return np.sqrt(var, out=var)


def _check_inputs(ccd: CCDData, gain: u.Quantity | None, readnoise: u.Quantity | None) -> None:
    # Same checks, in the same order, as ccdproc.
    if gain is not None and not isinstance(gain, u.Quantity):
        raise ParameterTypeError(
            f"gain must be a astropy.units.Quantity, got {gain!r}; write e.g. "
            f"{gain!r} * u.electron / u.adu"
        )
    if readnoise is None:
        raise InvalidParameterError("must provide a readnoise (a Quantity, e.g. 6.5 * u.electron)")
    if not isinstance(readnoise, u.Quantity):
        raise ParameterTypeError(
            f"readnoise must be a astropy.units.Quantity, got {readnoise!r}; write e.g. "
            f"{readnoise!r} * u.electron"
        )


@logged_step
def create_deviation(
    ccd_data: CCDData,
    *,
    gain: u.Quantity | None = None,
    readnoise: u.Quantity | None = None,
    disregard_nan: bool = False,
    add_keyword: LogSpec = True,
) -> CCDData:
    """Attach the standard deviation expected from Poisson noise and read noise.

    Parameters
    ----------
    ccd_data : CCDData
        The image (overscan- or bias-subtracted, so that D counts signal).
    gain : Quantity, optional
        Gain converting the data to the unit of ``readnoise`` (e.g.
        electron/adu); not needed when the data are already in that unit.
    readnoise : Quantity
        Read noise per pixel, e.g. ``6.5 * u.electron``.
    disregard_nan : bool, optional
        Accepted for ccdproc compatibility; negative pixels always get
        σ = RN/g (see the module notes).
    add_keyword : bool, str, Keyword or dict, optional
        How to record the step in the header (as ccdproc's ``add_keyword``).

    Returns
    -------
    CCDData
        A copy of ``ccd_data`` with a ``StdDevUncertainty`` in the data unit.

    Raises
    ------
    ParameterTypeError
        ``gain`` or ``readnoise`` is not a Quantity (a ``TypeError``).
    InvalidParameterError
        ``readnoise`` is missing, or gain/readnoise are not positive (a ``ValueError``).
    UnitMismatchError
        ``gain.unit * data unit`` is not ``readnoise.unit`` (an astropy ``UnitsError``).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from astropy.nddata import CCDData
    >>> ccd = CCDData(np.full((2, 2), 100.0, dtype=np.float32), unit="adu")
    >>> out = create_deviation(ccd, gain=2 * u.electron / u.adu, readnoise=4 * u.electron)
    >>> bool(np.isclose(out.uncertainty.array[0, 0], np.sqrt(216) / 2))
    True
    """
    require_ccd(ccd_data, "ccd_data")
    _check_inputs(ccd_data, gain, readnoise)
    assert readnoise is not None  # checked above; for the type checker
    g = gain if gain is not None else 1.0 * u.dimensionless_unscaled
    target = g.unit * ccd_data.unit
    try:
        rn_value = float(readnoise.to_value(target))
    except u.UnitsError as err:
        raise UnitMismatchError(
            f"units of data, gain and readnoise do not match: data in '{ccd_data.unit}' "
            f"times gain in '{g.unit}' gives '{target}', but readnoise is in "
            f"'{readnoise.unit}'; give the gain in {readnoise.unit}/{ccd_data.unit}"
        ) from err
    g_value = float(g.value)
    if not g_value > 0 or not rn_value >= 0:
        raise InvalidParameterError(
            f"gain must be positive and readnoise non-negative, got gain={gain}, "
            f"readnoise={readnoise}"
        )
    dtype = working_dtype(ccd_data.data.dtype)
    sigma = deviation_array(np.asarray(ccd_data.data), g_value, rn_value, dtype)
    data = np.array(ccd_data.data, copy=True)
    result = new_frame(ccd_data, data, sigma=sigma, mask=or_masks(mask_of(ccd_data)))
    params = {"gain": g, "readnoise": readnoise, "disregard_nan": bool(disregard_nan)}
    record(result, "create_deviation", params=params, add_keyword=add_keyword)
    return result
