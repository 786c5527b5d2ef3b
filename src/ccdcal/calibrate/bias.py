"""``subtract_bias``: remove the master bias.

Data: ``D - B``; uncertainty ``sqrt(σ_D² + σ_B²)``; masks OR-ed; unit and
header of the image; computed in the working dtype (float32 for float32 or
uint16 inputs), so a uint16 image minus a uint16 master never wraps around.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> raw = CCDData(np.array([[100, 1000]], dtype=np.uint16), unit="adu")
>>> bias = CCDData(np.array([[200, 200]], dtype=np.uint16), unit="adu")
>>> out = subtract_bias(raw, bias)
>>> out.data, out.data.dtype
(array([[-100.,  800.]], dtype=float32), dtype('float32'))
"""

from __future__ import annotations

import numpy as np
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import (
    check_same_shape,
    hypot,
    mask_of,
    new_frame,
    or_masks,
    require_ccd,
    sigma_in,
    unit_factor,
)
from ccdcal.calibrate._record import logged_step, record
from ccdcal.dtypes import working_dtype
from ccdcal.io.provenance import LogSpec

__all__ = ["subtract_bias", "subtract_scaled"]


def subtract_scaled(
    ccd: CCDData, master: CCDData, factor: float, role: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Planes of ``ccd - factor * master`` in the working dtype: data, σ, mask.

    ``master`` is converted to ``ccd``'s unit first (``UnitMismatchError`` if
    it cannot be).  σ = sqrt(σ_D² + (factor·σ_M)²); masks are OR-ed.
    """
    check_same_shape(ccd, master, role)
    scale = factor * unit_factor(ccd.unit, master, role)
    dtype = working_dtype(ccd.data.dtype, master.data.dtype)
    # Raw arrays go straight into the ufuncs, which cast as they go (no converted copy).
    data, mdata = np.asarray(ccd.data), np.asarray(master.data)
    if scale == 1.0:
        out = np.subtract(data, mdata, dtype=dtype)
    else:
        out = np.multiply(mdata, dtype.type(scale), dtype=dtype)
        np.subtract(data, out, out=out, dtype=dtype)
    sigma = _quadrature(sigma_in(ccd, dtype), sigma_in(master, dtype), abs(scale))
    return out, sigma, or_masks(mask_of(ccd), mask_of(master))


def _quadrature(
    sigma_d: np.ndarray | None, sigma_m: np.ndarray | None, scale: float
) -> np.ndarray | None:
    if sigma_m is None:
        return None if sigma_d is None else sigma_d.copy()
    dtype = sigma_m.dtype.type
    scaled = sigma_m if scale == 1.0 else np.multiply(sigma_m, dtype(scale))
    if sigma_d is None:
        return scaled.copy() if scaled is sigma_m else scaled
    return hypot(sigma_d, scaled, out=None if scaled is sigma_m else scaled)


@logged_step
def subtract_bias(ccd: CCDData, master: CCDData, *, add_keyword: LogSpec = True) -> CCDData:
    """Subtract a master bias from an image.

    Parameters
    ----------
    ccd : CCDData
        The image.
    master : CCDData
        The master bias, of the same shape and a convertible unit.
    add_keyword : bool, str, Keyword or dict, optional
        How to record the step in the header (as ccdproc's ``add_keyword``).

    Returns
    -------
    CCDData
        A new frame: ``ccd - master`` with σ added in quadrature and masks OR-ed.

    Raises
    ------
    IncompatibleFramesError
        The shapes differ (a ``ValueError``, as in ccdproc).
    UnitMismatchError
        The units cannot be converted (an astropy ``UnitsError``).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData, StdDevUncertainty
    >>> img = CCDData(np.full((2, 2), 110.0, dtype=np.float32), unit="adu",
    ...               uncertainty=StdDevUncertainty(np.full((2, 2), 3.0, dtype=np.float32)))
    >>> bias = CCDData(np.full((2, 2), 100.0, dtype=np.float32), unit="adu",
    ...                uncertainty=StdDevUncertainty(np.full((2, 2), 4.0, dtype=np.float32)))
    >>> out = subtract_bias(img, bias)
    >>> float(out.data[0, 0]), float(out.uncertainty.array[0, 0])
    (10.0, 5.0)
    """
    require_ccd(ccd, "ccd")
    require_ccd(master, "master")
    data, sigma, mask = subtract_scaled(ccd, master, 1.0, "master bias")
    result = new_frame(ccd, data, sigma=sigma, mask=mask)
    record(
        result,
        "subtract_bias",
        params={},
        calibrations={"master": master},
        add_keyword=add_keyword,
    )
    return result
