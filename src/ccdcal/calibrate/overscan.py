"""``subtract_overscan``: remove the bias level measured in the overscan region.

The overscan region (a ``CCDData`` slice of the image, or a FITS section) is
collapsed along ``overscan_axis`` with the mean (default) or the median,
giving one value per row (axis 1) or per column (axis 0).  Optionally an
astropy model is fitted to that profile with a linear least-squares fitter,
and its evaluation is subtracted instead.

Beyond ccdproc:

* masked and non-finite overscan pixels are ignored (ccdproc uses the raw
  values); a line with no usable pixel is interpolated from its neighbours
  (or left out of the model fit) and logged;
* ``clip=SigmaClip(...)`` (an ``astropy.stats.SigmaClip``) sigma-clips the
  pixels of each line before collapsing them and, with a ``model``,
  iteratively rejects outlying lines from the fit (ccdproc has no rejection,
  astropy/ccdproc#722);
* the result keeps the working dtype (float32 for uint16 or float32 data).

The uncertainty is copied unchanged: the overscan estimate averages many
pixels, and its small, row-correlated error is not added to the per-pixel σ
(as in ccdproc).

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> data = np.full((3, 6), 105.0, dtype=np.float32)
>>> data[:, 4:] = 100.0
>>> out = subtract_overscan(CCDData(data, unit="adu"), fits_section="[5:6, *]")
>>> out.data[:, :4]
array([[5., 5., 5., 5.],
       [5., 5., 5., 5.],
       [5., 5., 5., 5.]], dtype=float32)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import bottleneck as bn
import numpy as np
from astropy.nddata import CCDData
from astropy.stats import SigmaClip, median_absolute_deviation

from ccdcal.calibrate._frame import data_in, mask_of, new_frame, or_masks, sigma_in
from ccdcal.calibrate._record import logged_step, record
from ccdcal.calibrate.sections import section_to_slices
from ccdcal.dtypes import working_dtype
from ccdcal.errors import IncompatibleFramesError, InvalidParameterError, ParameterTypeError
from ccdcal.io.provenance import LogSpec

if TYPE_CHECKING:
    from astropy.modeling import Model

__all__ = ["as_astropy_clip", "overscan_profile", "subtract_overscan"]

logger = logging.getLogger(__name__)


def as_astropy_clip(clip: Any) -> SigmaClip | None:
    """``clip`` as an ``astropy.stats.SigmaClip``.

    Accepts astropy's ``SigmaClip`` as is, and ccdcal's rejection object of the same
    name (``ccdcal.SigmaClip(low=3, high=3, maxiters=5, center=..., deviation=...)``,
    recognised by its fields); ``low``/``high`` = None means no clipping on that side.

    >>> as_astropy_clip(SigmaClip(sigma=2.5)).sigma
    2.5
    """
    if clip is None or isinstance(clip, SigmaClip):
        return clip
    if all(hasattr(clip, f) for f in ("low", "high", "maxiters", "center", "deviation")):
        deviation = clip.deviation
        if isinstance(deviation, str) and deviation == "mad":
            deviation = median_absolute_deviation
        return SigmaClip(
            sigma_lower=np.inf if clip.low is None else clip.low,
            sigma_upper=np.inf if clip.high is None else clip.high,
            maxiters=clip.maxiters,
            cenfunc=clip.center,
            stdfunc=deviation,
        )
    raise ParameterTypeError(
        f"clip must be an astropy.stats.SigmaClip or ccdcal.SigmaClip, got {clip!r}"
    )


def _collapse(
    data: np.ndarray, bad: np.ndarray | None, axis: int, median: bool, clip: SigmaClip | None
) -> np.ndarray:
    """One value per line, NaN for lines without a usable pixel."""
    if clip is not None:
        masked = np.ma.masked_array(data, mask=False if bad is None else bad)
        clipped = clip(masked, axis=axis, masked=True)
        reduce = np.ma.median if median else np.ma.mean
        return np.ma.filled(reduce(clipped, axis=axis).astype(data.dtype), np.nan)
    if bad is not None and bad.any():
        filled = np.where(bad, np.nan, data)
        return (bn.nanmedian if median else bn.nanmean)(filled, axis=axis).astype(data.dtype)
    if median:
        return np.median(data, axis=axis)
    return np.mean(data, axis=axis, dtype=data.dtype)


def _fit(profile: np.ndarray, good: np.ndarray, model: Model, clip: SigmaClip | None) -> np.ndarray:
    if not getattr(model, "linear", False):
        raise InvalidParameterError(
            f"model {model!r} is not linear in its parameters; subtract_overscan fits with "
            f"a linear least-squares fitter: use Polynomial1D, Chebyshev1D or Legendre1D"
        )
    from astropy.modeling import fitting  # deferred: a costly import that few calls need

    x = np.arange(profile.size, dtype=np.float64)
    y = profile.astype(np.float64)
    if clip is not None:
        niter = clip.maxiters if clip.maxiters is not None else 10
        fitter = fitting.FittingWithOutlierRemoval(fitting.LinearLSQFitter(), clip, niter=niter)
        fitted, _ = fitter(model, x[good], y[good])
    else:
        fitted = fitting.LinearLSQFitter()(model, x[good], y[good])
    return np.asarray(fitted(x), dtype=profile.dtype)


def overscan_profile(
    overscan: np.ndarray,
    *,
    axis: int,
    mask: np.ndarray | None = None,
    median: bool = False,
    model: Model | None = None,
    clip: SigmaClip | None = None,
) -> np.ndarray:
    """The overscan level per line: collapsed along ``axis``, optionally fitted.

    Parameters
    ----------
    overscan : ndarray
        The overscan pixels (2-D, in the working dtype).
    axis : {0, 1}
        The axis collapsed (1: one value per row).
    mask : ndarray of bool, optional
        Pixels to ignore (non-finite pixels are always ignored).
    median, model, clip
        As for :func:`subtract_overscan`.

    Examples
    --------
    >>> profile = overscan_profile(np.array([[1.0, 3.0], [5.0, np.nan]]), axis=1)
    >>> profile
    array([2., 5.])
    """
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(overscan)
    if mask is not None:
        bad |= mask
    profile = _collapse(overscan, bad if bad.any() else None, axis, median, clip)
    good = np.isfinite(profile)
    if not good.any():
        raise InvalidParameterError(
            "the overscan region has no usable (finite, unmasked) pixel; check the section"
        )
    if model is not None:
        return _fit(profile, good, model, clip)
    if not good.all():
        idx = np.arange(profile.size)
        logger.warning(
            "overscan: %d line(s) without a usable pixel interpolated from their neighbours",
            int((~good).sum()),
        )
        profile = np.interp(idx, idx[good], profile[good]).astype(profile.dtype)
    return profile


def _overscan_region(ccd: CCDData, overscan: Any, fits_section: Any) -> CCDData:
    if not isinstance(ccd, CCDData):
        raise ParameterTypeError(
            f"ccddata is not a CCDData object: subtract_overscan needs a CCDData image, got "
            f"{type(ccd).__name__}"
        )
    if (overscan is None) == (fits_section is None):
        raise ParameterTypeError(
            "specify either overscan or fits_section, but not both (and not neither)"
        )
    if overscan is not None and not isinstance(overscan, CCDData):
        raise ParameterTypeError(
            f"overscan is not a CCDData object (got {type(overscan).__name__}); pass a "
            f"slice of the image such as ccd[:, 1024:], or fits_section='[1025:1056, *]'"
        )
    if fits_section is not None:
        if not isinstance(fits_section, str):
            raise ParameterTypeError(
                f"fits_section must be a string such as '[1025:1056, *]', got {fits_section!r}"
            )
        overscan = ccd[section_to_slices(fits_section, ccd.shape)]
    if ccd.ndim != 2 or overscan.ndim not in (1, 2):
        raise IncompatibleFramesError(
            f"subtract_overscan works on 2-D images; got image shape {ccd.shape} and "
            f"overscan shape {overscan.shape}"
        )
    return overscan


def _check_axis(
    axis: Any, region_shape: tuple[int, ...], shape: tuple[int, ...], region_ndim: int
) -> None:
    if axis not in (0, 1):
        raise InvalidParameterError(f"overscan_axis must be 0, 1 or None, got {axis!r}")
    line_axis = 1 - axis
    if region_ndim == 2 and region_shape[line_axis] != shape[line_axis]:
        raise IncompatibleFramesError(
            f"the overscan region (shape {region_shape}) must span the image (shape "
            f"{shape}) along axis {line_axis} to be collapsed along axis {axis}"
        )


@logged_step
def subtract_overscan(
    ccd: CCDData,
    overscan: CCDData | None = None,
    *,
    overscan_axis: int | None = 1,
    fits_section: str | None = None,
    median: bool = False,
    model: Model | None = None,
    clip: Any = None,
    add_keyword: LogSpec = True,
) -> CCDData:
    """Subtract the overscan level from an image.

    Parameters
    ----------
    ccd : CCDData
        The raw image, including its overscan.
    overscan : CCDData, optional
        The overscan region, usually a slice of ``ccd`` (``ccd[:, 1024:]``).
        Give this or ``fits_section``.
    overscan_axis : {0, 1, None}, optional
        Axis collapsed (python order): 1 gives one value per row.  None picks
        the shorter dimension of the region (1 if it is square).
    fits_section : str, optional
        The overscan region as a FITS section (``'[1025:1056, *]'``).
    median : bool, optional
        Collapse with the median instead of the mean.
    model : astropy.modeling.Model, optional
        A linear model (e.g. ``Polynomial1D(2)``) fitted to the profile.
    clip : astropy.stats.SigmaClip or ccdcal.SigmaClip, optional
        Sigma-clip each line before collapsing and, with ``model``, reject
        outlying lines from the fit iteratively.
    add_keyword : bool, str, Keyword or dict, optional
        How to record the step in the header (as ccdproc's ``add_keyword``).

    Returns
    -------
    CCDData
        ``ccd`` minus the overscan level, broadcast along the lines.

    Raises
    ------
    ParameterTypeError
        Both or neither of ``overscan`` / ``fits_section``, or wrong types
        (a ``TypeError``, as in ccdproc).
    SectionError
        ``fits_section`` cannot be parsed or reaches outside the image.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData
    >>> ccd = CCDData(np.ones((100, 100), dtype=np.float32), unit="adu")
    >>> bool((subtract_overscan(ccd, overscan=ccd[:, 90:100]).data == 0).all())
    True
    """
    region = _overscan_region(ccd, overscan, fits_section)
    clip = as_astropy_clip(clip)
    dtype = working_dtype(ccd.data.dtype)
    values, mask = data_in(region, dtype), mask_of(region)
    if region.ndim == 1:  # a single line (ccdproc accepts it): one level for the image
        values = values.reshape(1, -1)
        mask = None if mask is None else mask.reshape(1, -1)
        overscan_axis = 1
    elif overscan_axis is None:
        overscan_axis = 0 if region.shape[1] > region.shape[0] else 1
    _check_axis(overscan_axis, values.shape, ccd.shape, region.ndim)
    profile = overscan_profile(
        values, axis=overscan_axis, mask=mask, median=median, model=model, clip=clip
    )
    level = profile.reshape((-1, 1) if overscan_axis == 1 else (1, -1))
    out = np.subtract(np.asarray(ccd.data), level, dtype=dtype)
    sigma = sigma_in(ccd, dtype)
    result = new_frame(
        ccd, out, sigma=None if sigma is None else sigma.copy(), mask=or_masks(mask_of(ccd))
    )
    params = {
        "region": fits_section if fits_section is not None else list(region.shape),
        "overscan_axis": overscan_axis,
        "median": bool(median),
        "model": repr(model) if model is not None else None,
        "clip": repr(clip) if clip is not None else None,
        "mean_level": float(np.mean(profile, dtype=np.float64)),
    }
    record(result, "subtract_overscan", params=params, add_keyword=add_keyword)
    return result
