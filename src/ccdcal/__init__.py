"""ccdcal: fast, correct CCD calibration, drop-in compatible with ccdproc.

Import the steps from here, as you would from ccdproc::

    import ccdcal
    darksub = ccdcal.subtract_dark(flat, masterdark, exposure_time="EXPTIME",
                                   exposure_unit=u.s, scale=True)

The public names are loaded on first use (:pep:`562`): ``import ccdcal`` costs
almost nothing (not even the exceptions, whose module imports astropy.units),
and ``ccdcal.combine`` brings in the combination engine when it is first
called for, so the command line and worker processes start quickly.
``from ccdcal import *`` and ``dir(ccdcal)`` see every name.

Examples
--------
>>> import ccdcal
>>> ccdcal.combine.__module__
'ccdcal.stacking.api'
>>> "subtract_dark" in dir(ccdcal)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccdcal._lazy import lazy_attributes

#: Where each lazily loaded public name lives.
_LAZY: dict[str, str] = {
    # exceptions and warnings (their module imports astropy.units: loaded on first use)
    **dict.fromkeys(
        (
            "CalibrationNotFoundError",
            "CcdcalDeprecationWarning",
            "CcdcalError",
            "CcdcalWarning",
            "ClassificationError",
            "CollectionWarning",
            "CombineError",
            "CosmicRayWarning",
            "ExposureRequiredError",
            "ExposureTimeError",
            "FrameNotFoundError",
            "FrameReadError",
            "FrameWriteError",
            "HeaderKeywordError",
            "IncompatibleFramesError",
            "InconsistentUnitsError",
            "InvalidParameterError",
            "LibraryError",
            "OutputExistsError",
            "ParameterTypeError",
            "PipelineError",
            "ProfileError",
            "SectionError",
            "UnitMismatchError",
            "UnsupportedOperationError",
        ),
        "ccdcal.errors",
    ),
    "__version__": "ccdcal._version",
    # containers and settings
    "CCDData": "astropy.nddata",
    "conf": "ccdcal.options",
    "set_options": "ccdcal.options",
    # --- calibrate exports (begin) ---
    **dict.fromkeys(
        (
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
        ),
        "ccdcal.calibrate",
    ),
    # --- calibrate exports (end) ---
    # --- io exports (begin) ---
    "fits_ccddata_reader": "astropy.nddata",
    "fits_ccddata_writer": "astropy.nddata",
    "read_ccd": "ccdcal.io",
    "write_ccd": "ccdcal.io",
    # --- io exports (end) ---
    # --- combine exports (begin) ---
    **dict.fromkeys(
        (
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
        ),
        "ccdcal.stacking",
    ),
    # --- combine exports (end) ---
    # --- collection exports (begin) ---
    **dict.fromkeys(
        (
            "FrameInfo",
            "ImageFileCollection",
            "InstrumentProfile",
            "ScanResult",
            "UnreadableFile",
            "classify",
            "load_profiles",
            "scan",
        ),
        "ccdcal.collection",
    ),
    # --- collection exports (end) ---
    # --- report exports (begin) ---
    "QAChecks": "ccdcal.report.qa",
    "qa_metrics": "ccdcal.report.qa",
    "write_qa_report": "ccdcal.report.qa",
    # --- report exports (end) ---
}

#: Subpackages reachable as attributes after ``import ccdcal`` alone.
_SUBPACKAGES = frozenset(
    {
        "calibrate",
        "cli",
        "collection",
        "dtypes",
        "errors",
        "io",
        "library",
        "options",
        "pipeline",
        "report",
        "stacking",
        "testing",
    }
)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, submodules=_SUBPACKAGES)


if TYPE_CHECKING:  # what static type checkers see: the same names, imported eagerly
    from astropy.nddata import CCDData, fits_ccddata_reader, fits_ccddata_writer

    from ccdcal._version import __version__
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
    from ccdcal.errors import (
        CalibrationNotFoundError,
        CcdcalDeprecationWarning,
        CcdcalError,
        CcdcalWarning,
        ClassificationError,
        CollectionWarning,
        CombineError,
        CosmicRayWarning,
        ExposureRequiredError,
        ExposureTimeError,
        FrameNotFoundError,
        FrameReadError,
        FrameWriteError,
        HeaderKeywordError,
        IncompatibleFramesError,
        InconsistentUnitsError,
        InvalidParameterError,
        LibraryError,
        OutputExistsError,
        ParameterTypeError,
        PipelineError,
        ProfileError,
        SectionError,
        UnitMismatchError,
        UnsupportedOperationError,
    )
    from ccdcal.io import read_ccd, write_ccd
    from ccdcal.options import conf, set_options
    from ccdcal.report.qa import QAChecks, qa_metrics, write_qa_report
    from ccdcal.stacking import (
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
    # QA report (report names begin)
    "QAChecks",
    "qa_metrics",
    "write_qa_report",
    # QA report (report names end)
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
