"""Cosmic-ray detection and cleaning: ``cosmicray_lacosmic`` and ``cosmicray_median``.

Both keep ccdproc 2.5.1's names, arguments and meaning: a ``CCDData`` in
gives a new ``CCDData`` out, with the cleaned data and the cosmic rays OR-ed
into the mask; an ndarray in gives ``(cleaned, crmask)`` out.  Differences
(each pinned by a test and listed in ``docs/ccdproc-differences.md``):

``cosmicray_lacosmic`` (L.A.Cosmic through ``astroscrappy.detect_cosmics``)
    * with ``gain_apply=True`` the uncertainty is multiplied by the gain too
      (ccdproc leaves it in ADU while the data are in electrons, #729); with
      ``gain_apply=False`` the unit stays the input's (ccdproc sets electron);
    * only the flagged pixels take astroscrappy's values: the other pixels
      are the input values (times the gain), exactly, in the working dtype
      (float32 for float32 / 16-bit data, float64 stays float64; ccdproc
      returns float64 whenever the gain is not 1);
    * a gain or read noise in convertible units (data in kadu, gain in
      electron/adu) is converted before astroscrappy sees it;
    * non-finite pixels are left out of detection and cleaning (a NaN next to
      a cosmic ray would otherwise turn its cleaned value into NaN), and the
      mask of a ``numpy.ma.MaskedArray`` is used as a CCDData's mask is;
    * ``invar='uncertainty'`` uses the frame's own uncertainty as the noise
      model (opt-in; the default is ccdproc's gain/read-noise model);
    * ``verbose=True`` sends astroscrappy's progress to the log, not stdout.

``cosmicray_median`` (a pixel more than ``thresh`` σ above the local median)
    * without an uncertainty or ``error_image``, σ is a robust global
      estimate (1.4826 · MAD of the residual from the median) instead of an
      ``AttributeError`` (CCDData) or the plain std, which stars inflate
      (ndarray); a number works as ``error_image`` for a ``CCDData`` too;
    * masked and non-finite pixels are left out of both medians (detection
      and replacement), are never flagged, and the replacement median leaves
      out the flagged pixels too;
    * the residual is computed in floating point (ccdproc subtracts uint16
      from uint16, so every negative residual wraps into a "cosmic ray").

Both steps add ccdcal's structured provenance card (ccdproc logs neither, so
no ccdproc-form card is written; ``add_keyword=False`` omits it).

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> rng = np.random.default_rng(0)
>>> ccd = CCDData(rng.normal(200, 10, (64, 64)).astype(np.float32), unit="adu")
>>> ccd.data[20, 30] = 2000.0
>>> out = cosmicray_lacosmic(ccd, gain=1.0, readnoise=10.0)
>>> [tuple(map(int, p)) for p in np.argwhere(out.mask)], out.data.dtype
([(20, 30)], dtype('float32'))
>>> bool(abs(out.data[20, 30] - 200) < 20)
True
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import numbers
import warnings
from typing import Any, Literal

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import mask_of, new_frame, or_masks, sigma_in
from ccdcal.calibrate._masked_median import masked_median_at, median_filter, robust_sigma
from ccdcal.calibrate._record import logged_step, record
from ccdcal.dtypes import working_dtype
from ccdcal.errors import (
    CcdcalDeprecationWarning,
    CosmicRayWarning,
    IncompatibleFramesError,
    InconsistentUnitsError,
    InvalidParameterError,
    ParameterTypeError,
)
from ccdcal.io.provenance import LogSpec

__all__ = ["CleanType", "FsMode", "PsfModel", "cosmicray_lacosmic", "cosmicray_median"]

logger = logging.getLogger(__name__)

CleanType = Literal["median", "medmask", "meanmask", "idw"]
FsMode = Literal["median", "convolve"]
PsfModel = Literal["gauss", "gaussx", "gaussy", "moffat"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "cleantype": ("median", "medmask", "meanmask", "idw"),
    "fsmode": ("median", "convolve"),
    "psfmodel": ("gauss", "gaussx", "gaussy", "moffat"),
}


# --------------------------------------------------------------------------- helpers
def _split_input(ccd: Any, step: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(data, mask) of a CCDData, ndarray or masked array; TypeError for anything else."""
    if isinstance(ccd, CCDData):
        data, mask = np.asarray(ccd.data), mask_of(ccd)
    elif isinstance(ccd, np.ma.MaskedArray):
        data = np.asarray(ccd.data)
        mask = np.ma.getmaskarray(ccd) if ccd.mask is not np.ma.nomask else None
    elif isinstance(ccd, np.ndarray):
        data, mask = ccd, None
    else:
        raise ParameterTypeError(
            f"{step}: ccd is not a CCDData or ndarray object (got {type(ccd).__name__}); "
            f"pass a CCDData or a 2-D numpy array"
        )
    if data.ndim != 2 or data.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"{step} needs a 2-D numeric image, got {data.ndim} dimension(s) of dtype {data.dtype}"
        )
    return data, mask


def _bad_pixels(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
    """Masked or non-finite pixels (None when there are none)."""
    bad = None
    if data.dtype.kind == "f":
        finite = np.isfinite(data)
        if not finite.all():
            bad = ~finite
    bad = or_masks(mask, bad)
    return bad if bad is not None and bad.any() else None


def _shape_checked(array: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        raise ParameterTypeError(
            f"{name} must be a numeric numpy array of the image's shape {shape}, "
            f"got {type(array).__name__}"
        )
    if array.shape != shape:
        raise IncompatibleFramesError(
            f"{name} has shape {array.shape} but the image has shape {shape}"
        )
    return array


def _box(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- L.A.Cosmic
def _as_quantity(value: Any, default_unit: u.UnitBase, name: str) -> u.Quantity:
    if isinstance(value, u.Quantity):
        quantity = value
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        quantity = float(value) * default_unit
    else:
        raise ParameterTypeError(
            f"{name} must be a number or a Quantity (e.g. 2.0 * u.electron / u.adu for a "
            f"gain), got {value!r}"
        )
    if not quantity.isscalar or not math.isfinite(float(quantity.value)):
        raise InvalidParameterError(f"{name} must be one finite number, got {value!r}")
    return quantity


def _check_choices(**options: str) -> None:
    for name, value in options.items():
        if value not in _CHOICES[name]:
            raise InvalidParameterError(
                f"{name}={value!r} is not one of {', '.join(map(repr, _CHOICES[name]))}"
            )


def _units_for_detection(
    ccd: CCDData, gain: u.Quantity, readnoise: u.Quantity
) -> tuple[float, u.UnitBase]:
    """(gain in readnoise-unit per data unit, unit of the gain-multiplied data).

    The checks are ccdproc's: data already in electrons with a gain other than
    1 only warns (and, as in ccdproc, the gain is used as given); otherwise
    gain · data unit must be convertible to the unit of the read noise.
    """
    if ccd.unit.is_equivalent(u.electron) and gain.value != 1.0:
        warnings.warn(
            f"Image unit is electron but gain value is not 1.0 (gain={gain}). Data maybe end "
            f"up being gain corrected twice; pass gain=1 for data in electrons",
            CosmicRayWarning,
            stacklevel=4,
        )
        return float(gain.value), ccd.unit * gain.unit
    if readnoise.unit == u.electron and ccd.unit == u.electron and gain.value == 1.0:
        gain = 1.0 * u.dimensionless_unscaled
    try:
        factor = float((gain * ccd.unit).to_value(readnoise.unit))
    except u.UnitsError as err:
        raise InconsistentUnitsError(
            f"Inconsistent units for gain ({gain.unit})  ccd ({ccd.unit}) and readnoise "
            f"({readnoise.unit}): gain times the data unit must be the unit of the read "
            f"noise; for data in adu give e.g. gain=2.0 * u.electron / u.adu and "
            f"readnoise=6.5 * u.electron"
        ) from err
    return factor, readnoise.unit


def _resolve_invar(invar: Any, ccd: Any, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    if invar is None:
        return None
    if isinstance(invar, str):
        if invar != "uncertainty":
            raise InvalidParameterError(
                f"invar={invar!r}: give an array of variances or the string 'uncertainty'"
            )
        sigma = sigma_in(ccd, dtype) if isinstance(ccd, CCDData) else None
        if sigma is None:
            raise InvalidParameterError(
                "invar='uncertainty' needs a CCDData with an uncertainty; this image has "
                "none (add one with create_deviation, or pass invar=None)"
            )
        return np.square(sigma, dtype=np.float32)
    return _shape_checked(invar, shape, "invar")


def _detection_input(values: np.ndarray, offset: float, bad: np.ndarray | None) -> np.ndarray:
    """The data (plus ``pssl``) with non-finite pixels set to the median of the others.

    Those pixels are in astroscrappy's ``inmask`` too; filling them keeps the
    Laplacian and median filters of their neighbours finite.
    """
    detect = values + values.dtype.type(offset) if offset else values
    if bad is None or values.dtype.kind != "f":
        return detect
    finite = np.isfinite(values)
    if finite.all() or not finite.any():
        return detect
    return np.where(finite, detect, np.median(detect[finite]))


def _run_astroscrappy(
    detect_input: np.ndarray, *, verbose: bool, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``astroscrappy.detect_cosmics``; with ``verbose`` its printed progress is logged."""
    from astroscrappy import detect_cosmics

    if not verbose:
        return detect_cosmics(detect_input, verbose=False, **kwargs)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = detect_cosmics(detect_input, verbose=True, **kwargs)
    for line in printed.getvalue().splitlines():
        logger.info("astroscrappy: %s", line)
    return result


def _check_pssl(pssl: Any, inbkg: Any, invar: Any) -> float:
    if pssl is None:
        return 0.0
    warnings.warn(
        "The pssl keyword will be removed in ccdproc 3.0 (and ccdcal follows). Use inbkg "
        "instead to have astroscrappy temporarily remove the background during processing.",
        CcdcalDeprecationWarning,
        stacklevel=4,
    )
    if pssl != 0 and (inbkg is not None or invar is not None):
        raise InvalidParameterError(
            "Cannot set both pssl and inbkg (or invar): pssl adds a sky level back for a "
            "sky-subtracted image, inbkg/invar describe the background and noise directly"
        )
    return float(pssl)


@logged_step
def cosmicray_lacosmic(
    ccd: CCDData | np.ndarray,
    *,
    sigclip: float = 4.5,
    sigfrac: float = 0.3,
    objlim: float = 5.0,
    gain: float | u.Quantity = 1.0,
    readnoise: float | u.Quantity = 6.5,
    satlevel: float = 65535.0,
    niter: int = 4,
    sepmed: bool = True,
    cleantype: CleanType = "meanmask",
    fsmode: FsMode = "median",
    psfmodel: PsfModel = "gauss",
    psffwhm: float = 2.5,
    psfsize: int = 7,
    psfk: np.ndarray | None = None,
    psfbeta: float = 4.765,
    verbose: bool = False,
    gain_apply: bool = True,
    inbkg: np.ndarray | None = None,
    invar: np.ndarray | Literal["uncertainty"] | None = None,
    pssl: float | None = None,
    add_keyword: LogSpec = True,
) -> CCDData | tuple[np.ndarray, np.ndarray]:
    """Find and clean cosmic rays with L.A.Cosmic (van Dokkum 2001; astroscrappy).

    Parameters
    ----------
    ccd : CCDData or ndarray
        The image, bias- (and dark-) subtracted but with its sky, so that the
        noise model sees the photon noise.  A ``CCDData``'s mask is passed to
        astroscrappy as ``inmask`` (masked pixels are never flagged nor used
        to clean); so is the mask of a ``numpy.ma.MaskedArray``.
    sigclip, sigfrac, objlim : float, optional
        Laplacian-to-noise limit; fraction of it for neighbouring pixels;
        contrast against the fine-structure image (raise it if star cores
        are flagged).
    gain : float or Quantity, optional
        Gain; a number is taken as electron/adu.
    readnoise : float or Quantity, optional
        Read noise; a number is taken as electron.
    satlevel : float, optional
        Saturation level in electrons (of the gain-multiplied data).
    niter : int, optional
        Number of L.A.Cosmic iterations.
    sepmed : bool, optional
        Use astroscrappy's faster separable median filter.
    cleantype : {'meanmask', 'medmask', 'median', 'idw'}, optional
        How flagged pixels are replaced (5×5 boxes).
    fsmode : {'median', 'convolve'}, optional
        How the fine-structure image is built.
    psfmodel : {'gauss', 'gaussx', 'gaussy', 'moffat'}, optional
        PSF model for ``fsmode='convolve'`` (with ``psffwhm``, ``psfsize``,
        ``psfbeta``), unless a kernel ``psfk`` is given.
    psffwhm, psfsize, psfk, psfbeta : optional
        See ``psfmodel``.
    verbose : bool, optional
        Log astroscrappy's progress (at INFO level) instead of printing it.
    gain_apply : bool, optional
        Return the data (and uncertainty) multiplied by the gain, in the unit
        of ``readnoise`` (electron for adu data and a gain in electron/adu).
        With False the data keep their values and unit.
    inbkg : ndarray, optional
        A cosmic-ray-free background in the data unit, removed during
        detection only.
    invar : ndarray or 'uncertainty', optional
        Variance of each pixel in the data unit squared, used instead of the
        gain/read-noise model; ``'uncertainty'`` takes it from the frame's
        uncertainty.
    pssl : float, optional
        Deprecated (as in ccdproc): a sky level subtracted earlier, added back
        during detection.  Use ``inbkg``.
    add_keyword : bool, str, Keyword or dict, optional
        Record the step in ccdcal's structured provenance (``False`` to skip).

    Returns
    -------
    CCDData or (ndarray, ndarray)
        For a ``CCDData``: a new frame with the cleaned data and its mask OR
        the cosmic rays.  For an array: ``(cleaned, crmask)``.

    Raises
    ------
    ParameterTypeError
        ``ccd`` is neither a CCDData nor an ndarray, or ``gain``/``readnoise``/
        ``inbkg``/``invar`` have the wrong type (a ``TypeError``).
    InconsistentUnitsError
        gain · data unit is not the unit of the read noise (a ``ValueError``,
        as in ccdproc).
    InvalidParameterError
        An option out of range or not one of its choices (a ``ValueError``).

    Warns
    -----
    CosmicRayWarning
        The data are in electrons but the gain is not 1 (as in ccdproc).
    CcdcalDeprecationWarning
        ``pssl`` was given (as ccdproc's ``AstropyDeprecationWarning``).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from astropy.nddata import CCDData, StdDevUncertainty
    >>> rng = np.random.default_rng(1)
    >>> data = rng.normal(500, 15, (48, 48)).astype(np.float32)
    >>> data[10, 12] += 3000.0
    >>> ccd = CCDData(data, unit="adu", uncertainty=StdDevUncertainty(np.full((48, 48), 15.0)))
    >>> out = cosmicray_lacosmic(ccd, gain=2.0 * u.electron / u.adu, readnoise=10 * u.electron)
    >>> out.unit, int(out.mask.sum()), float(out.uncertainty.array[0, 0])
    (Unit("electron"), 1, 30.0)
    >>> cleaned, crmask = cosmicray_lacosmic(data, gain=2.0, readnoise=10.0, gain_apply=False)
    >>> bool(crmask[10, 12]), bool(cleaned[10, 12] < 600)
    (True, True)
    """
    step = "cosmicray_lacosmic"
    data, mask = _split_input(ccd, step)
    offset = _check_pssl(pssl, inbkg, invar)
    _check_choices(cleantype=cleantype, fsmode=fsmode, psfmodel=psfmodel)
    if isinstance(niter, bool) or not isinstance(niter, numbers.Integral) or niter < 0:
        raise InvalidParameterError(f"niter must be an integer >= 0, got {niter!r}")
    gain_q = _as_quantity(gain, u.electron / u.adu, "gain")
    readnoise_q = _as_quantity(readnoise, u.electron, "readnoise")
    if isinstance(ccd, CCDData):
        gain_detect, gained_unit = _units_for_detection(ccd, gain_q, readnoise_q)
    else:
        gain_detect, gained_unit = float(gain_q.value), u.dimensionless_unscaled
    if not gain_detect > 0 or readnoise_q.value < 0:
        raise InvalidParameterError(
            f"gain must be positive and readnoise non-negative, got gain={gain!r}, "
            f"readnoise={readnoise!r}"
        )
    dtype = working_dtype(data.dtype)
    values = data.astype(dtype, copy=False)
    bad = _bad_pixels(values, mask)
    crmask, cleanarr = _run_astroscrappy(
        _detection_input(values, offset, bad),
        verbose=verbose,
        inmask=bad,
        inbkg=None if inbkg is None else _shape_checked(inbkg, data.shape, "inbkg"),
        invar=_resolve_invar(invar, ccd, dtype, data.shape),
        sigclip=sigclip,
        sigfrac=sigfrac,
        objlim=objlim,
        gain=gain_detect,
        readnoise=float(readnoise_q.value),
        satlevel=satlevel,
        niter=int(niter),
        sepmed=sepmed,
        cleantype=cleantype,
        fsmode=fsmode,
        psfmodel=psfmodel,
        psffwhm=psffwhm,
        psfsize=psfsize,
        psfk=psfk,
        psfbeta=psfbeta,
    )
    cleaned = np.array(values, dtype=dtype, copy=True)
    cleaned[crmask] = cleanarr[crmask] - np.float32(offset)
    factor = gain_detect if gain_apply else 1.0
    if factor != 1.0:
        cleaned *= dtype.type(factor)
    logger.debug("%s: %d pixels flagged", step, int(crmask.sum()))
    if not isinstance(ccd, CCDData):
        return cleaned, crmask
    sigma = sigma_in(ccd, dtype)
    if sigma is not None and factor != 1.0:
        sigma = np.multiply(sigma, dtype.type(abs(factor)), dtype=dtype)
    unit = gained_unit if gain_apply else ccd.unit
    result = new_frame(ccd, cleaned, sigma=sigma, mask=or_masks(mask, crmask), unit=unit)
    params: dict[str, Any] = {
        "sigclip": sigclip,
        "sigfrac": sigfrac,
        "objlim": objlim,
        "gain": gain_q,
        "readnoise": readnoise_q,
        "satlevel": float(satlevel),
        "niter": int(niter),
        "sepmed": bool(sepmed),
        "cleantype": cleantype,
        "fsmode": fsmode,
        "gain_apply": bool(gain_apply),
        "inbkg": "array" if inbkg is not None else None,
        "invar": invar if isinstance(invar, str) or invar is None else "array",
        "n_flagged": int(crmask.sum()),
    }
    if fsmode == "convolve":
        params["psf"] = {"model": psfmodel, "fwhm": psffwhm, "size": psfsize, "beta": psfbeta}
        params["psf"]["kernel"] = "array" if psfk is not None else None
    if offset:
        params["pssl"] = offset
    record(result, step, params=params, add_keyword=add_keyword)
    return result


# --------------------------------------------------------------------------- median
def _error_values(
    error_image: Any, ccd: Any, dtype: np.dtype, shape: tuple[int, ...]
) -> np.ndarray | float | None:
    """σ as given (number or array), from the uncertainty, or None (estimate it)."""
    if error_image is None:
        return sigma_in(ccd, dtype) if isinstance(ccd, CCDData) else None
    if isinstance(error_image, u.Quantity):
        unit = ccd.unit if isinstance(ccd, CCDData) else u.dimensionless_unscaled
        try:
            error_image = error_image.to_value(unit)
        except u.UnitsError as err:
            raise InconsistentUnitsError(
                f"error_image is in '{error_image.unit}' but the data are in '{unit}'"
            ) from err
    is_number = isinstance(error_image, numbers.Real) and not isinstance(error_image, bool)
    if is_number or (isinstance(error_image, np.ndarray) and error_image.ndim == 0):
        value = float(error_image)
        if not (math.isfinite(value) and value > 0):
            raise InvalidParameterError(f"error_image must be positive, got {value!r}")
        return value
    if not isinstance(error_image, np.ndarray):
        raise ParameterTypeError(
            f"error_image is not a float or ndarray (got {type(error_image).__name__})"
        )
    if error_image.shape != shape:
        raise IncompatibleFramesError(
            f"error_image is not the same shape as data: {error_image.shape} against {shape}"
        )
    return np.asarray(error_image).astype(dtype, copy=False)


def _median_detect(
    data: np.ndarray,
    mask: np.ndarray | None,
    error: np.ndarray | float | None,
    *,
    thresh: float,
    mbox: int,
    gbox: int,
    rbox: int,
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(cleaned data in the input dtype, cosmic-ray mask, estimated global σ or None)."""
    dtype = working_dtype(data.dtype)
    values = data.astype(dtype, copy=False)
    bad = _bad_pixels(values, mask)
    residual = np.subtract(values, median_filter(values, bad, mbox), dtype=dtype)
    usable = np.isfinite(residual)
    if bad is not None:
        usable &= ~bad
    estimated = None
    if error is None:
        error = estimated = robust_sigma(residual, usable)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.divide(residual, error, out=residual)
    crarr = usable & (ratio > thresh)
    if isinstance(error, np.ndarray):
        crarr &= error > 0
    if gbox > 0:
        from scipy import ndimage  # deferred: costly import

        crarr = ndimage.maximum_filter(crarr, gbox)
    cleaned = np.array(data, copy=True)
    if rbox > 0 and crarr.any():
        rows, cols = np.nonzero(crarr)
        exclude = crarr if bad is None else crarr | bad
        medians = masked_median_at(values, exclude, rbox, rows, cols)
        have = np.isfinite(medians)
        cleaned[rows[have], cols[have]] = medians[have].astype(data.dtype)
    return cleaned, crarr, estimated


@logged_step
def cosmicray_median(
    ccd: CCDData | np.ndarray,
    *,
    error_image: np.ndarray | float | None = None,
    thresh: float = 5,
    mbox: int = 11,
    gbox: int = 0,
    rbox: int = 0,
    add_keyword: LogSpec = True,
) -> CCDData | tuple[np.ndarray, np.ndarray]:
    """Find cosmic rays as pixels far above the local median (like IRAF crmedian).

    A pixel is flagged when (D − median_mbox(D)) / σ > ``thresh``; positive
    outliers only.  Flags are grown by a ``gbox`` box, and with ``rbox > 0``
    flagged pixels are replaced by the median of the good pixels of an
    ``rbox`` box around them.

    Parameters
    ----------
    ccd : CCDData, ndarray or masked array
        The image.  Masked (and non-finite) pixels are left out of the
        medians and never flagged.
    error_image : ndarray or float, optional
        σ of each pixel (or one σ for all), in the data unit.  Default: the
        frame's uncertainty; without one, 1.4826 · MAD of the residual
        D − median(D) over the good pixels.
    thresh : float, optional
        Detection threshold in σ.
    mbox : int, optional
        Size of the median box used for detection.
    gbox : int, optional
        Size of the box by which flags are grown (0: no growing).
    rbox : int, optional
        Size of the median box for the replacement values (0: no replacement).
    add_keyword : bool, str, Keyword or dict, optional
        Record the step in ccdcal's structured provenance (``False`` to skip).

    Returns
    -------
    CCDData or (ndarray, ndarray)
        For a ``CCDData``: a new frame (data in the input dtype, σ unchanged,
        mask OR the cosmic rays).  For an array: ``(data, crmask)``.

    Raises
    ------
    ParameterTypeError
        ``ccd`` or ``error_image`` has the wrong type (a ``TypeError``).
    IncompatibleFramesError
        ``error_image`` has another shape than the data (a ``ValueError``).
    InvalidParameterError
        A box size is not a non-negative integer (``mbox`` must be >= 1), or a
        number ``error_image`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData
    >>> rng = np.random.default_rng(2)
    >>> ccd = CCDData(rng.normal(100, 5, (40, 40)).astype(np.float32), unit="adu")
    >>> ccd.data[7, 9] = 400.0
    >>> out = cosmicray_median(ccd, thresh=6, rbox=5)
    >>> [tuple(map(int, p)) for p in np.argwhere(out.mask)], bool(out.data[7, 9] < 120)
    ([(7, 9)], True)
    """
    step = "cosmicray_median"
    data, mask = _split_input(ccd, step)
    mbox = _box(mbox, "mbox", minimum=1)
    gbox = _box(gbox, "gbox", minimum=0)
    rbox = _box(rbox, "rbox", minimum=0)
    error = _error_values(error_image, ccd, working_dtype(data.dtype), data.shape)
    cleaned, crarr, estimated = _median_detect(
        data, mask, error, thresh=float(thresh), mbox=mbox, gbox=gbox, rbox=rbox
    )
    logger.debug("%s: %d pixels flagged", step, int(crarr.sum()))
    if not isinstance(ccd, CCDData):
        return cleaned, crarr
    sigma = sigma_in(ccd, working_dtype(data.dtype))
    result = new_frame(ccd, cleaned, sigma=sigma, mask=or_masks(mask, crarr))
    if error_image is not None:
        source: Any = "error_image"
    else:
        source = "uncertainty" if estimated is None else {"robust_sigma": estimated}
    params = {
        "thresh": float(thresh),
        "mbox": mbox,
        "gbox": gbox,
        "rbox": rbox,
        "error": source,
        "n_flagged": int(crarr.sum()),
    }
    record(result, step, params=params, add_keyword=add_keyword)
    return result
