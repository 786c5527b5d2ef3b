"""``subtract_dark``: remove the dark current, optionally scaled by exposure time.

Both of ccdproc's call forms work unchanged::

    subtract_dark(flat, masterdark, dark_exposure=60.0*u.s, data_exposure=2.0*u.s,
                  scale=True, exposure_unit='adu')   # exposure_unit ignored here
    subtract_dark(flat, masterdark, exposure_time="EXPTIME", exposure_unit=u.s, scale=True)

With ``scale=True`` the dark is multiplied by k = t_data / t_dark (mixed
time units convert): ``D - k·K``, σ = sqrt(σ_D² + k²σ_K²), masks OR-ed.
Unlike ccdproc, the result stays float32 for float32 inputs, and a zero or
negative dark exposure, a missing keyword or a non-numeric value is an
error naming the keyword and the file rather than a silent ``-inf``.

Examples
--------
>>> import numpy as np
>>> from astropy import units as u
>>> from astropy.nddata import CCDData
>>> img = CCDData(np.full((2, 2), 12.0, dtype=np.float32), unit="adu")
>>> dark = CCDData(np.full((2, 2), 60.0, dtype=np.float32), unit="adu")
>>> out = subtract_dark(img, dark, dark_exposure=60.0 * u.s, data_exposure=2.0 * u.s,
...                     scale=True, exposure_unit="adu")
>>> float(out.data[0, 0]), out.data.dtype
(10.0, dtype('float32'))
"""

from __future__ import annotations

import logging
import math
from typing import Any

from astropy import units as u
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import describe, new_frame, require_ccd
from ccdcal.calibrate._record import logged_step, record
from ccdcal.calibrate.bias import subtract_scaled
from ccdcal.calibrate.keyword import exposure_from_header, keyword_name
from ccdcal.errors import (
    ExposureRequiredError,
    ExposureTimeError,
    IncompatibleFramesError,
    ParameterTypeError,
    UnitMismatchError,
)
from ccdcal.io.provenance import LogSpec

__all__ = ["subtract_dark"]

logger = logging.getLogger(__name__)


def _check_shapes(ccd: Any, master: Any) -> None:
    # ccdproc compares shapes before it checks types; keep that order.
    shape, mshape = getattr(ccd, "shape", None), getattr(master, "shape", None)
    if shape is not None and mshape is not None and shape != mshape:
        raise IncompatibleFramesError(
            f"operands could not be subtracted with shapes {shape} {mshape}: the master "
            f"dark must have the shape of the image (same section and binning)"
        )


def _explicit_exposures(dark_exposure: Any, data_exposure: Any) -> tuple[u.Quantity, u.Quantity]:
    if dark_exposure is None or data_exposure is None:
        missing = "dark_exposure" if dark_exposure is None else "data_exposure"
        raise ExposureRequiredError(
            f"{missing} is missing: give both dark_exposure and data_exposure (as "
            f"Quantities, e.g. 60.0 * u.s), or exposure_time='EXPTIME' alone"
        )
    for name, value in (("dark_exposure", dark_exposure), ("data_exposure", data_exposure)):
        if not isinstance(value, u.Quantity):
            raise ParameterTypeError(
                f"exposure times must be astropy.units.Quantity objects: {name}={value!r}; "
                f"write e.g. {value!r} * u.s"
            )
        if not value.isscalar or not math.isfinite(float(value.value)):
            raise ExposureTimeError(f"{name} must be one finite number, got {value!r}")
    return dark_exposure, data_exposure


def _exposures(
    ccd: CCDData,
    master: CCDData,
    dark_exposure: Any,
    data_exposure: Any,
    exposure_time: Any,
    exposure_unit: Any,
) -> tuple[u.Quantity, u.Quantity]:
    """(dark, data) exposure times as Quantities, checked as ccdproc checks them."""
    if data_exposure is not None and dark_exposure is not None and exposure_time is not None:
        raise ParameterTypeError(
            "specify either exposure_time or (dark_exposure and data_exposure), not both"
        )
    if data_exposure is None and dark_exposure is None:
        if exposure_time is None:
            raise ExposureRequiredError(
                "must specify either exposure_time or both dark_exposure and data_exposure "
                "(exposure information is required even with scale=False, as in ccdproc)"
            )
        data_t = exposure_from_header(ccd.meta, exposure_time, unit=exposure_unit, role="image")
        dark_t = exposure_from_header(
            master.meta, exposure_time, unit=exposure_unit, role="master dark"
        )
        return dark_t, data_t
    return _explicit_exposures(dark_exposure, data_exposure)


def _scale_factor(
    dark_t: u.Quantity, data_t: u.Quantity, master: CCDData, exposure_time: Any
) -> float:
    source = (
        f" (keyword {keyword_name(exposure_time)!r} of {describe(master, 'master dark')})"
        if exposure_time is not None
        else ""
    )
    for name, value in (("dark", dark_t), ("data", data_t)):
        if not value.unit.is_equivalent(u.s):
            raise UnitMismatchError(
                f"the {name} exposure time {value} is not a time; give exposure times in "
                f"seconds (e.g. exposure_unit=u.s)"
            )
    if dark_t.value <= 0:
        raise ExposureTimeError(
            f"dark exposure time is {dark_t}{source}: cannot scale a dark by a zero or "
            f"negative exposure; use a master dark with a positive exposure time, or "
            f"scale=False"
        )
    if data_t.value < 0:
        raise ExposureTimeError(
            f"image exposure time is {data_t}, which is negative; fix the header or pass "
            f"data_exposure explicitly"
        )
    return float((data_t / dark_t).to_value(u.dimensionless_unscaled))


@logged_step
def subtract_dark(
    ccd: CCDData,
    master: CCDData,
    *,
    dark_exposure: u.Quantity | None = None,
    data_exposure: u.Quantity | None = None,
    exposure_time: Any = None,
    exposure_unit: Any = None,
    scale: bool = False,
    add_keyword: LogSpec = True,
) -> CCDData:
    """Subtract dark current from an image.

    Parameters
    ----------
    ccd : CCDData
        The image.
    master : CCDData
        The master dark (bias-subtracted), same shape, convertible unit.
    dark_exposure, data_exposure : Quantity, optional
        Exposure times of the dark and of the image; give both or neither.
    exposure_time : str or Keyword, optional
        Header keyword holding the exposure time of both frames (instead of
        the two explicit exposures).
    exposure_unit : astropy unit or str, optional
        Unit of the header value when it is a plain number.  Ignored when
        explicit Quantities are given (as ccdproc ignores it).
    scale : bool, optional
        Scale the dark by ``data_exposure / dark_exposure``.
    add_keyword : bool, str, Keyword or dict, optional
        How to record the step in the header (as ccdproc's ``add_keyword``).

    Returns
    -------
    CCDData
        ``ccd - k * master`` (k = 1 without ``scale``), in the working dtype.

    Raises
    ------
    IncompatibleFramesError
        The shapes differ (a ``ValueError``; checked first, as in ccdproc).
    ParameterTypeError, ExposureRequiredError
        Wrong types, or no / incomplete exposure information (``TypeError``).
    HeaderKeywordError
        The exposure keyword is missing (a ``KeyError``).
    ExposureTimeError
        An exposure time is not a number, or with ``scale=True`` the dark
        exposure is zero or negative (a ``ValueError``).
    UnitMismatchError
        The units of image and dark, or of the exposure times, do not match
        (an astropy ``UnitsError``).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from astropy.nddata import CCDData
    >>> img = CCDData(np.full((2, 2), 30.0, dtype=np.float32), unit="adu",
    ...               meta={"EXPTIME": 30.0})
    >>> dark = CCDData(np.full((2, 2), 20.0, dtype=np.float32), unit="adu",
    ...                meta={"EXPTIME": 60.0})
    >>> out = subtract_dark(img, dark, exposure_time="EXPTIME", exposure_unit=u.s, scale=True)
    >>> float(out.data[0, 0])
    20.0
    """
    _check_shapes(ccd, master)
    if not (isinstance(ccd, CCDData) and isinstance(master, CCDData)):
        require_ccd(ccd, "ccd")
        require_ccd(master, "master")
    dark_t, data_t = _exposures(
        ccd, master, dark_exposure, data_exposure, exposure_time, exposure_unit
    )
    factor = _scale_factor(dark_t, data_t, master, exposure_time) if scale else 1.0
    logger.debug("subtract_dark: t_dark=%s t_data=%s scale=%s k=%g", dark_t, data_t, scale, factor)
    data, sigma, mask = subtract_scaled(ccd, master, factor, "master dark")
    result = new_frame(ccd, data, sigma=sigma, mask=mask)
    params: dict[str, Any] = {
        "dark_exposure": dark_t,
        "data_exposure": data_t,
        "scale": bool(scale),
        "factor": factor,
    }
    if exposure_time is not None:
        params["exposure_keyword"] = keyword_name(exposure_time)
    record(
        result,
        "subtract_dark",
        params=params,
        calibrations={"master": master},
        add_keyword=add_keyword,
    )
    return result
