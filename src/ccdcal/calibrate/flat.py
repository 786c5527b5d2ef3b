"""``flat_correct``: divide by the normalised flat field.

The flat F is normalised to F̂ = F / m, where m is ``norm_value`` or, by
default, the **mean of the finite, unmasked flat pixels** (ccdproc takes the
plain mean, so one NaN in the flat turns the whole image NaN).  Pixels where
F̂ is masked, not finite or not positive are set to 1 and masked in the
result: no inf or NaN leaks from a bad flat pixel.  Then

    out = D / F̂,   σ_out = sqrt(σ_D² + (out · σ_F̂)²) / |F̂|,   σ_F̂ = σ_F / m,

masks are OR-ed and the unit is the image's.  The error of m itself is
neglected (as in ccdproc; it is tiny for a mean over many pixels).

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> img = CCDData(np.full((2, 2), 100.0, dtype=np.float32), unit="adu")
>>> flat = CCDData(np.array([[1.0, 3.0], [2.0, np.nan]], dtype=np.float32), unit="adu")
>>> out = flat_correct(img, flat)
>>> out.data
array([[200.      ,  66.666664],
       [100.      , 100.      ]], dtype=float32)
>>> out.mask
array([[False, False],
       [False,  True]])
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import (
    data_in,
    describe,
    hypot,
    mask_of,
    new_frame,
    or_masks,
    require_ccd,
    sigma_in,
)
from ccdcal.calibrate._record import logged_step, record
from ccdcal.dtypes import working_dtype
from ccdcal.errors import IncompatibleFramesError, InvalidParameterError, UnitMismatchError
from ccdcal.io.provenance import LogSpec

__all__ = ["flat_correct", "flat_normalisation"]

logger = logging.getLogger(__name__)


def _in_flat_unit(value: Any, flat: CCDData, name: str) -> float:
    if isinstance(value, u.Quantity):
        try:
            return float(value.to_value(flat.unit))
        except u.UnitsError as err:
            raise UnitMismatchError(
                f"{name}={value} cannot be converted to the unit '{flat.unit}' of "
                f"{describe(flat, 'flat')}"
            ) from err
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"{name} must be a number or a Quantity, got {value!r}"
        ) from None


def flat_normalisation(flat_data: np.ndarray, bad: np.ndarray | None) -> float:
    """Mean of the finite pixels of ``flat_data`` outside ``bad`` (accumulated in float64).

    >>> flat_normalisation(np.array([1.0, 3.0, np.nan]), None)
    2.0
    """
    good = np.isfinite(flat_data)
    if bad is not None:
        good &= ~bad
    if good.all():
        return float(np.mean(flat_data, dtype=np.float64))
    if not good.any():
        return float("nan")
    return float(np.mean(flat_data[good], dtype=np.float64))


def _norm_value(
    norm_value: Any, flat: CCDData, fdata: np.ndarray, fmask: np.ndarray | None
) -> float:
    if norm_value is not None:
        value = _in_flat_unit(norm_value, flat, "norm_value")
        if not value > 0 or not np.isfinite(value):
            raise InvalidParameterError(
                f"norm_value must be greater than zero (and finite), got {norm_value!r}"
            )
        return value
    value = flat_normalisation(fdata, fmask)
    if not value > 0 or not np.isfinite(value):
        raise InvalidParameterError(
            f"cannot normalise {describe(flat, 'flat')}: the mean of its finite, unmasked "
            f"pixels is {value}; check the flat (is it bias-subtracted? all masked?) or "
            f"pass norm_value="
        )
    return value


def _normalised_flat(
    flat: CCDData, dtype: np.dtype, min_value: Any, norm_value: Any
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """(F̂, bad-pixel mask, m, number of bad pixels)."""
    fdata = data_in(flat, dtype)
    if min_value is not None:
        fdata = np.maximum(fdata, dtype.type(_in_flat_unit(min_value, flat, "min_value")))
    fmask = mask_of(flat)
    norm = _norm_value(norm_value, flat, fdata, fmask)
    fhat = np.divide(fdata, dtype.type(norm), dtype=dtype)
    with np.errstate(invalid="ignore"):
        good = fhat > 0  # False for NaN
        good &= fhat < np.inf
    bad = np.logical_not(good, out=good)
    if fmask is not None:
        bad |= fmask
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        fhat[bad] = 1
    return fhat, bad, norm, n_bad


@logged_step
def flat_correct(
    ccd: CCDData,
    flat: CCDData,
    *,
    min_value: float | u.Quantity | None = None,
    norm_value: float | u.Quantity | None = None,
    add_keyword: LogSpec = True,
) -> CCDData:
    """Correct an image for the flat field.

    Parameters
    ----------
    ccd : CCDData
        The image (bias- and dark-subtracted).
    flat : CCDData
        The master flat, same shape.
    min_value : float or Quantity, optional
        Flat values below this are raised to it before normalising.
    norm_value : float or Quantity, optional
        Normalise the flat by this value (in the flat's unit) instead of the
        mean of its finite, unmasked pixels.  Must be positive.
    add_keyword : bool, str, Keyword or dict, optional
        How to record the step in the header (as ccdproc's ``add_keyword``).

    Returns
    -------
    CCDData
        ``ccd / (flat / m)`` in the working dtype; pixels where the
        normalised flat is unusable are left as ``ccd`` and masked.

    Raises
    ------
    IncompatibleFramesError
        The shapes differ (a ``ValueError``).
    InvalidParameterError
        ``norm_value`` is not positive, or the flat has no usable pixel
        (a ``ValueError``).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData
    >>> img = CCDData(np.full((1, 2), 10.0, dtype=np.float32), unit="adu")
    >>> flat = CCDData(np.array([[4.0, 6.0]], dtype=np.float32), unit="adu")
    >>> flat_correct(img, flat).data
    array([[12.5     ,  8.333333]], dtype=float32)
    >>> flat_correct(img, flat, norm_value=2.0).data
    array([[5.       , 3.3333333]], dtype=float32)
    """
    require_ccd(ccd, "ccd")
    require_ccd(flat, "flat")
    if ccd.shape != flat.shape:
        raise IncompatibleFramesError(
            f"{describe(flat, 'flat')} has shape {flat.shape} but the image has shape "
            f"{ccd.shape}; use a flat of the same section and binning"
        )
    dtype = working_dtype(ccd.data.dtype, flat.data.dtype)
    fhat, bad, norm, n_bad = _normalised_flat(flat, dtype, min_value, norm_value)
    if n_bad:
        logger.info("flat_correct: %d unusable flat pixels set to 1 and masked", n_bad)
    out = np.divide(np.asarray(ccd.data), fhat, dtype=dtype)
    sigma = _sigma(sigma_in(ccd, dtype), sigma_in(flat, dtype), out, fhat, norm, bad, n_bad)
    flat_mask = bad if (n_bad or flat.mask is not None) else None
    result = new_frame(ccd, out, sigma=sigma, mask=or_masks(mask_of(ccd), flat_mask))
    params = {"norm_value": norm, "min_value": min_value, "bad_flat_pixels": n_bad}
    record(
        result,
        "flat_correct",
        params=params,
        calibrations={"flat": flat},
        add_keyword=add_keyword,
    )
    return result


def _sigma(
    sigma_d: np.ndarray | None,
    sigma_f: np.ndarray | None,
    out: np.ndarray,
    fhat: np.ndarray,
    norm: float,
    bad: np.ndarray,
    n_bad: int,
) -> np.ndarray | None:
    if sigma_f is None:
        if sigma_d is None:
            return None
        ratio = np.divide(sigma_d, fhat)
        return np.abs(ratio, out=ratio)
    term = np.multiply(out, sigma_f)  # D/F̂ · σ_F ...
    term *= term.dtype.type(1.0 / norm)  # ... · 1/m = out · σ_F̂
    if n_bad:
        term[bad & ~np.isfinite(term)] = 0
    if sigma_d is not None:
        hypot(sigma_d, term, out=term)
    term /= fhat
    return np.abs(term, out=term)
