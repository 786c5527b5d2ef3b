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

__all__ = [
    # containers and settings
    "CCDData",
    "__version__",
    "conf",
    "set_options",
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
