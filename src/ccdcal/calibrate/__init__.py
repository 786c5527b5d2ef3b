"""ccdcal.calibrate: the per-frame calibration steps, drop-in for ccdproc's.

Every step takes a ``CCDData`` and returns a new one (inputs are never
changed), computes in float32 for float32 or 16-bit integer data, propagates
the standard deviation and the mask, and records itself in the header both
in ccdproc's form and in ccdcal's structured provenance.

Examples
--------
>>> import numpy as np
>>> from astropy import units as u
>>> from astropy.nddata import CCDData
>>> from ccdcal.calibrate import subtract_bias, subtract_dark, flat_correct
>>> raw = CCDData(np.full((4, 4), 1300, dtype=np.uint16), unit="adu", meta={"EXPTIME": 30.0})
>>> bias = CCDData(np.full((4, 4), 1000.0, dtype=np.float32), unit="adu")
>>> dark = CCDData(np.full((4, 4), 20.0, dtype=np.float32), unit="adu", meta={"EXPTIME": 300.0})
>>> flat = CCDData(np.ones((4, 4), dtype=np.float32), unit="adu")
>>> out = flat_correct(subtract_dark(subtract_bias(raw, bias), dark, exposure_time="EXPTIME",
...                                  exposure_unit=u.s, scale=True), flat)
>>> float(out.data[0, 0]), out.data.dtype
(298.0, dtype('float32'))
"""

from ccdcal.calibrate.bias import subtract_bias
from ccdcal.calibrate.cosmicray import cosmicray_lacosmic, cosmicray_median
from ccdcal.calibrate.dark import subtract_dark
from ccdcal.calibrate.deviation import create_deviation
from ccdcal.calibrate.flat import flat_correct
from ccdcal.calibrate.gain import gain_correct
from ccdcal.calibrate.geometry import block_average, block_reduce, block_replicate
from ccdcal.calibrate.keyword import Keyword
from ccdcal.calibrate.overscan import subtract_overscan
from ccdcal.calibrate.process import ccd_process
from ccdcal.calibrate.saturation import mask_saturated
from ccdcal.calibrate.sections import section_to_slices, slice_from_string
from ccdcal.calibrate.trim import trim_image

__all__ = [
    "Keyword",
    "block_average",
    "block_reduce",
    "block_replicate",
    "ccd_process",
    "cosmicray_lacosmic",
    "cosmicray_median",
    "create_deviation",
    "flat_correct",
    "gain_correct",
    "mask_saturated",
    "section_to_slices",
    "slice_from_string",
    "subtract_bias",
    "subtract_dark",
    "subtract_overscan",
    "trim_image",
]
