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
# isort: split
from ccdcal.calibrate import (
    Keyword,
    block_average,
    block_reduce,
    block_replicate,
    ccd_process,
    cosmicray_lacosmic,
    cosmicray_median,
    create_deviation,
    flat_correct,
    gain_correct,
    mask_saturated,
    slice_from_string,
    subtract_bias,
    subtract_dark,
    subtract_overscan,
    trim_image,
)
from ccdcal.errors import CcdcalDeprecationWarning, CosmicRayWarning, InconsistentUnitsError

# --- calibrate exports (end) ---
# --- io exports (begin) ---
# isort: split
from astropy.nddata import fits_ccddata_reader, fits_ccddata_writer

from ccdcal.errors import FrameNotFoundError, FrameWriteError, OutputExistsError
from ccdcal.io import read_ccd, write_ccd

# --- io exports (end) ---
# --- combine exports (begin) ---
# isort: split
from ccdcal.combine import (
    INVERSE_VARIANCE,
    AvSigClip,
    CCDClip,
    Combiner,
    ExtremaClip,
    MinMaxClip,
    PClip,
    PercentileClip,
    ScaleBy,
    SigmaClip,
    WinsorizedSigmaClip,
    ZeroBy,
    combine,
)

# --- combine exports (end) ---
# --- collection exports (begin) ---
# isort: split
from ccdcal.collection import (
    FrameInfo,
    ImageFileCollection,
    InstrumentProfile,
    ScanResult,
    UnreadableFile,
    classify,
    load_profiles,
    scan,
)
from ccdcal.errors import CollectionWarning, UnsupportedOperationError

# --- collection exports (end) ---

__all__ = [
    # containers and settings
    "CCDData",
    "__version__",
    "conf",
    "set_options",
    # calibration steps (calibrate names begin)
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
    "slice_from_string",
    "subtract_bias",
    "subtract_dark",
    "subtract_overscan",
    "trim_image",
    "CcdcalDeprecationWarning",
    "CosmicRayWarning",
    "InconsistentUnitsError",
    # calibration steps (calibrate names end)
    # FITS input and output (io names begin)
    "FrameNotFoundError",
    "FrameWriteError",
    "OutputExistsError",
    "fits_ccddata_reader",
    "fits_ccddata_writer",
    "read_ccd",
    "write_ccd",
    # FITS input and output (io names end)
    # combination (combine names begin)
    "INVERSE_VARIANCE",
    "AvSigClip",
    "CCDClip",
    "Combiner",
    "ExtremaClip",
    "MinMaxClip",
    "PClip",
    "PercentileClip",
    "ScaleBy",
    "SigmaClip",
    "WinsorizedSigmaClip",
    "ZeroBy",
    "combine",
    # combination (combine names end)
    # reading a night (collection names begin)
    "CollectionWarning",
    "FrameInfo",
    "ImageFileCollection",
    "InstrumentProfile",
    "ScanResult",
    "UnreadableFile",
    "UnsupportedOperationError",
    "classify",
    "load_profiles",
    "scan",
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
