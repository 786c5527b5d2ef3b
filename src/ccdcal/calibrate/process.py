"""``ccd_process``: the whole per-frame reduction in one call, in ccdproc's order.

Steps, each optional, always in this order (ccdproc's, plus saturation first):

0. saturation mask (``saturation=``), on the raw values;
1. overscan subtraction (``oscan``, ``oscan_median``, ``oscan_model``,
   ``overscan_axis``, ``oscan_clip``);
2. trim (``trim``);
3. uncertainty from gain and read noise (``error=True``);
4. bad-pixel mask (``bad_pixel_mask``), **OR-ed** into the mask (ccdproc
   replaces the mask, which would drop the saturation mask and any mask the
   frame came with);
5. gain correction, here if ``gain_corrected=True`` (the masters are in
   electrons);
6. master bias; 7. dark (``dark_scale`` with exposure times or
   ``exposure_key``); 8. flat (``min_value``, ``norm_value``);
9. gain correction, here if ``gain_corrected=False``.

Each step records itself in the header, as does ``ccd_process``.

Examples
--------
>>> import numpy as np
>>> from astropy import units as u
>>> from astropy.nddata import CCDData
>>> ccd = CCDData(np.full((10, 12), 110.0, dtype=np.float32), unit="adu")
>>> ccd.data[:, 10:] = 100.0
>>> out = ccd_process(ccd, oscan="[11:12, *]", trim="[1:10, *]",
...                   gain=2.0 * u.electron / u.adu)
>>> out.shape, out.unit, float(out.data[0, 0])
((10, 10), Unit("electron"), 20.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import mask_of, or_masks, require_ccd
from ccdcal.calibrate._record import logged_step, record
from ccdcal.calibrate.bias import subtract_bias
from ccdcal.calibrate.dark import subtract_dark
from ccdcal.calibrate.deviation import create_deviation
from ccdcal.calibrate.flat import flat_correct
from ccdcal.calibrate.gain import gain_correct
from ccdcal.calibrate.overscan import subtract_overscan
from ccdcal.calibrate.saturation import mask_saturated
from ccdcal.calibrate.trim import trim_image, trim_to_slices
from ccdcal.errors import IncompatibleFramesError, InvalidParameterError, ParameterTypeError
from ccdcal.io.provenance import LogSpec

if TYPE_CHECKING:
    from astropy.modeling import Model

__all__ = ["ccd_process"]


def _validate(
    oscan: Any,
    trim: Any,
    error: bool,
    gain: Any,
    readnoise: Any,
    bad_pixel_mask: Any,
    masters: dict[str, Any],
) -> None:
    """ccdproc's argument checks, all before any work is done."""
    if oscan is not None and not isinstance(oscan, (CCDData, str)):
        raise ParameterTypeError(
            f"oscan is not None, a string, or CCDData object: got {oscan!r}; give a FITS "
            f"section such as '[1025:1056, *]' or a slice of the image"
        )
    if trim is not None and not isinstance(trim, str):
        raise ParameterTypeError(f"trim is not None or a string: got {trim!r}")
    if error and (gain is None or readnoise is None):
        raise InvalidParameterError(
            "gain and readnoise must be specified to create error frame (error=True)"
        )
    if bad_pixel_mask is not None and not isinstance(bad_pixel_mask, np.ndarray):
        raise ParameterTypeError(
            f"bad_pixel_mask is not None or numpy.ndarray: got {type(bad_pixel_mask).__name__}"
        )
    if gain is not None and not isinstance(gain, u.Quantity):
        raise ParameterTypeError(
            f"gain is not None or astropy.units.Quantity: got {gain!r}; write e.g. "
            f"{gain!r} * u.electron / u.adu"
        )
    for name, frame in masters.items():
        if frame is not None and not isinstance(frame, CCDData):
            raise ParameterTypeError(
                f"{name} is not None or a CCDData object: got {type(frame).__name__}"
            )


def _apply_bad_pixels(nccd: CCDData, original: CCDData, bad_pixel_mask: np.ndarray) -> CCDData:
    if bad_pixel_mask.shape != nccd.shape:
        raise IncompatibleFramesError(
            f"bad_pixel_mask has shape {bad_pixel_mask.shape} but the (trimmed) image has "
            f"shape {nccd.shape}"
        )
    if nccd is original:
        nccd = trim_to_slices(original, None)
    nccd.mask = or_masks(mask_of(nccd), np.asarray(bad_pixel_mask, dtype=bool))
    return nccd


@logged_step
def ccd_process(
    ccd: CCDData,
    *,
    oscan: CCDData | str | None = None,
    trim: str | None = None,
    error: bool = False,
    master_bias: CCDData | None = None,
    dark_frame: CCDData | None = None,
    master_flat: CCDData | None = None,
    bad_pixel_mask: np.ndarray | None = None,
    gain: u.Quantity | None = None,
    readnoise: u.Quantity | None = None,
    oscan_median: bool = True,
    oscan_model: Model | None = None,
    min_value: float | None = None,
    dark_exposure: u.Quantity | None = None,
    data_exposure: u.Quantity | None = None,
    exposure_key: Any = None,
    exposure_unit: Any = None,
    dark_scale: bool = False,
    gain_corrected: bool = True,
    overscan_axis: int | None = 1,
    oscan_clip: Any = None,
    norm_value: float | u.Quantity | None = None,
    saturation: Any = None,
    add_keyword: LogSpec = True,
) -> CCDData:
    """Reduce one frame: saturation, overscan, trim, error, mask, gain, bias, dark, flat.

    Parameters
    ----------
    ccd : CCDData
        The raw frame.
    oscan : CCDData or str, optional
        Overscan region: a slice of ``ccd`` or a FITS section.
    trim : str, optional
        FITS section to keep after overscan subtraction.
    error : bool, optional
        Create the uncertainty from ``gain`` and ``readnoise``.
    master_bias, dark_frame, master_flat : CCDData, optional
        Calibration masters (in electrons if ``gain_corrected``).
    bad_pixel_mask : ndarray, optional
        True (or 1) for bad pixels, shape of the trimmed image; OR-ed into the mask.
    gain, readnoise : Quantity, optional
        Gain (e.g. electron/adu) and read noise (electron).
    oscan_median : bool, optional
        Collapse the overscan with the median (default) or the mean.
    oscan_model : astropy model, optional
        Linear model fitted to the overscan profile.
    min_value : float, optional
        Minimum value for the flat.
    dark_exposure, data_exposure : Quantity, optional
        Explicit exposure times for the dark step.
    exposure_key : str or Keyword, optional
        Header keyword of the exposure time (instead of explicit times).
    exposure_unit : astropy unit, optional
        Unit of the header exposure time.
    dark_scale : bool, optional
        Scale the dark by the exposure-time ratio.
    gain_corrected : bool, optional
        True: the masters are already gain-corrected, so the gain is applied
        before bias subtraction; False: it is applied last.
    overscan_axis : {0, 1, None}, optional
        Axis collapsed in the overscan (ccdproc always uses 1).
    oscan_clip : astropy.stats.SigmaClip or ccdcal.SigmaClip, optional
        Sigma clipping of the overscan (see :func:`subtract_overscan`).
    norm_value : float or Quantity, optional
        Flat normalisation value (see :func:`flat_correct`).
    saturation : number, Quantity, str or Keyword, optional
        Saturation level (or header keyword): raw pixels at or above it are masked first.
    add_keyword : bool, str, Keyword or dict, optional
        How to record the step in the header (as ccdproc's ``add_keyword``).

    Returns
    -------
    CCDData
        The reduced frame (a new object; ``ccd`` is not changed).

    Raises
    ------
    ParameterTypeError
        An argument has the wrong type (a ``TypeError``, as in ccdproc).
    InvalidParameterError
        ``error=True`` without gain and readnoise (a ``ValueError``).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData
    >>> raw = CCDData(np.array([[100, 65535]], dtype=np.uint16), unit="adu")
    >>> bias = CCDData(np.full((1, 2), 90.0, dtype=np.float32), unit="adu")
    >>> out = ccd_process(raw, master_bias=bias, saturation=65000)
    >>> out.data.tolist(), out.mask.tolist(), out.data.dtype
    ([[10.0, 65445.0]], [[False, True]], dtype('float32'))
    """
    require_ccd(ccd, "ccd")
    masters = {"master_bias": master_bias, "dark_frame": dark_frame, "master_flat": master_flat}
    _validate(oscan, trim, error, gain, readnoise, bad_pixel_mask, masters)
    steps: list[str] = []
    nccd = ccd
    if saturation is not None:
        nccd = mask_saturated(nccd, saturation)
        steps.append("mask_saturated")
    if oscan is not None:
        nccd = _overscan(nccd, oscan, oscan_median, oscan_model, overscan_axis, oscan_clip)
        steps.append("subtract_overscan")
    if trim is not None:
        nccd = trim_image(nccd, fits_section=trim)
        steps.append("trim_image")
    if error:
        nccd = create_deviation(nccd, gain=gain, readnoise=readnoise)
        steps.append("create_deviation")
    if bad_pixel_mask is not None:
        nccd = _apply_bad_pixels(nccd, ccd, bad_pixel_mask)
        steps.append("bad_pixel_mask")
    if gain is not None and gain_corrected:
        nccd = gain_correct(nccd, gain)
        steps.append("gain_correct")
    if master_bias is not None:
        nccd = subtract_bias(nccd, master_bias)
        steps.append("subtract_bias")
    if dark_frame is not None:
        nccd = subtract_dark(
            nccd,
            dark_frame,
            dark_exposure=dark_exposure,
            data_exposure=data_exposure,
            exposure_time=exposure_key,
            exposure_unit=exposure_unit,
            scale=dark_scale,
        )
        steps.append("subtract_dark")
    if master_flat is not None:
        nccd = _flat(nccd, master_flat, min_value, norm_value)
        steps.append("flat_correct")
    if gain is not None and not gain_corrected:
        nccd = gain_correct(nccd, gain)
        steps.append("gain_correct")
    if nccd is ccd:
        nccd = trim_to_slices(ccd, None)
    record(
        nccd,
        "ccd_process",
        params={"steps": steps},
        calibrations=masters,
        add_keyword=add_keyword,
    )
    return nccd


def _overscan(
    nccd: CCDData,
    oscan: CCDData | str,
    median: bool,
    model: Model | None,
    axis: int | None,
    clip: Any,
) -> CCDData:
    # Call as ccdproc does, so the header record matches; extras only when used.
    extra: dict[str, Any] = {}
    if axis != 1:
        extra["overscan_axis"] = axis
    if clip is not None:
        extra["clip"] = clip
    if isinstance(oscan, CCDData):
        return subtract_overscan(nccd, overscan=oscan, median=median, model=model, **extra)
    return subtract_overscan(nccd, fits_section=oscan, median=median, model=model, **extra)


def _flat(nccd: CCDData, flat: CCDData, min_value: Any, norm_value: Any) -> CCDData:
    if norm_value is None:
        return flat_correct(nccd, flat, min_value=min_value)
    return flat_correct(nccd, flat, min_value=min_value, norm_value=norm_value)
