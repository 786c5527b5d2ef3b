"""The whole exception and warning hierarchy of ccdcal.

Every error ccdcal raises derives from :class:`CcdcalError` *and* from the
built-in exception a caller would naturally catch (``ValueError``,
``TypeError``, ``KeyError``, ``OSError`` ...).  Where ccdproc pins an
exception type for the same situation, the ccdcal class subclasses that type
too, so that ``except TypeError`` written for ccdproc still catches it.

Messages say what failed, the value received, the file / HDU / keyword
involved when known, and how to fix it.

Examples
--------
>>> from ccdcal.errors import ExposureTimeError, CcdcalError
>>> issubclass(ExposureTimeError, ValueError) and issubclass(ExposureTimeError, CcdcalError)
True
"""

from __future__ import annotations

from astropy.units import UnitsError
from astropy.utils.exceptions import AstropyDeprecationWarning, AstropyUserWarning

__all__ = [
    "CalibrationNotFoundError",
    "CcdcalDeprecationWarning",
    "CcdcalError",
    "CcdcalWarning",
    "ClassificationError",
    "CollectionWarning",
    "CombineError",
    "CombineMemoryWarning",
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
    "StackMismatchError",
    "UnitMismatchError",
    "UnsupportedOperationError",
]


class CcdcalError(Exception):
    """Base class of every error raised by ccdcal."""


class CcdcalWarning(UserWarning):
    """Base class of every warning issued by ccdcal."""


class InvalidParameterError(CcdcalError, ValueError):
    """An option has a value that cannot be used (out of range, unknown choice...)."""


class ParameterTypeError(CcdcalError, TypeError):
    """An argument has the wrong type (ccdproc raises ``TypeError`` here too)."""


class IncompatibleFramesError(CcdcalError, ValueError):
    """Frames that must match (shape, binning, unit) do not."""


class UnitMismatchError(CcdcalError, UnitsError):
    """The units of a frame and of its calibration frame cannot be combined.

    Subclasses :class:`astropy.units.UnitsError`, which ccdproc raises here.
    """


class InconsistentUnitsError(UnitMismatchError, ValueError):
    """The units of data, gain and read noise do not fit together.

    Also a ``ValueError``, which ccdproc's ``cosmicray_lacosmic`` raises here.
    """


class CosmicRayWarning(CcdcalWarning):
    """A cosmic-ray step was called in a way that probably gives a wrong result."""


class CcdcalDeprecationWarning(CcdcalWarning, AstropyDeprecationWarning):
    """An argument is deprecated (where ccdproc issues ``AstropyDeprecationWarning``)."""


class HeaderKeywordError(CcdcalError, KeyError):
    """A header keyword that is needed is missing.

    Subclasses ``KeyError`` (what ccdproc raises for a missing keyword) but
    prints its message plainly rather than as a quoted repr.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ExposureRequiredError(CcdcalError, TypeError):
    """No exposure-time information was given (ccdproc raises ``TypeError`` here)."""


class ExposureTimeError(CcdcalError, ValueError):
    """An exposure time is zero, negative, non-finite or not a number."""


class SectionError(CcdcalError, ValueError):
    """A FITS/IRAF section such as ``'[1:100, 1:50]'`` cannot be parsed or is out of range."""


class FrameReadError(CcdcalError, OSError):
    """A file could not be read as a FITS frame (not FITS, truncated, bad header...)."""


class FrameNotFoundError(FrameReadError, FileNotFoundError):
    """The file to read does not exist."""


class FrameWriteError(CcdcalError, OSError):
    """A frame could not be written (missing directory, header not FITS-safe...)."""


class OutputExistsError(FrameWriteError, FileExistsError):
    """The output file exists and overwriting was not asked for."""


class CombineError(CcdcalError, ValueError):
    """Images cannot be combined as asked."""


class StackMismatchError(IncompatibleFramesError, TypeError):
    """Frames to be combined differ in shape or unit, or are not frames at all.

    Subclasses ``TypeError``, which ccdproc's ``Combiner`` raises here.
    """


class CombineMemoryWarning(CcdcalWarning):
    """``mem_limit`` is below what a combination needs at the least; the minimum is used."""


class ProfileError(CcdcalError, ValueError):
    """An instrument profile is malformed or cannot be found."""


class ClassificationError(CcdcalError, ValueError):
    """The type of a frame (bias, dark, flat, science) cannot be told from its header."""


class CollectionWarning(CcdcalWarning, AstropyUserWarning):
    """An ImageFileCollection is empty or a header has repeated keywords.

    Subclasses astropy's ``AstropyUserWarning``, which ccdproc issues here.
    """


class UnsupportedOperationError(CcdcalError, NotImplementedError):
    """An operation ccdproc also refuses (``NotImplementedError`` there too)."""


class CalibrationNotFoundError(CcdcalError, LookupError):
    """No calibration master matches a frame."""


class LibraryError(CcdcalError, RuntimeError):
    """The calibration library database cannot be used as asked."""


class PipelineError(CcdcalError, RuntimeError):
    """A reduction run cannot go on."""
