"""ccdcal: fast, correct CCD calibration, drop-in compatible with ccdproc.

Import the steps from here, as you would from ccdproc::

    import ccdcal
    darksub = ccdcal.subtract_dark(flat, masterdark, exposure_time="EXPTIME",
                                   exposure_unit=u.s, scale=True)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ccdcal")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from astropy.nddata import CCDData

from ccdcal.errors import (
    CalibrationNotFoundError,
    CcdcalError,
    CcdcalWarning,
    ClassificationError,
    CombineError,
    ExposureRequiredError,
    ExposureTimeError,
    FrameReadError,
    HeaderKeywordError,
    IncompatibleFramesError,
    InvalidParameterError,
    LibraryError,
    ParameterTypeError,
    PipelineError,
    ProfileError,
    SectionError,
    UnitMismatchError,
)
from ccdcal.options import conf, set_options

# --- calibrate exports (begin) ---
# --- calibrate exports (end) ---
# --- io exports (begin) ---
# --- io exports (end) ---
# --- combine exports (begin) ---
# --- combine exports (end) ---
# --- collection exports (begin) ---
# --- collection exports (end) ---

__all__ = [
    # containers and settings
    "CCDData",
    "__version__",
    "conf",
    "set_options",
    # calibration steps (calibrate names begin)
    # calibration steps (calibrate names end)
    # FITS input and output (io names begin)
    # FITS input and output (io names end)
    # combination (combine names begin)
    # combination (combine names end)
    # reading a night (collection names begin)
    # reading a night (collection names end)
    # exceptions and warnings
    "CalibrationNotFoundError",
    "CcdcalError",
    "CcdcalWarning",
    "ClassificationError",
    "CombineError",
    "ExposureRequiredError",
    "ExposureTimeError",
    "FrameReadError",
    "HeaderKeywordError",
    "IncompatibleFramesError",
    "InvalidParameterError",
    "LibraryError",
    "ParameterTypeError",
    "PipelineError",
    "ProfileError",
    "SectionError",
    "UnitMismatchError",
]
