"""Reading a night: what is on disk, fast, cached and classified.

* :class:`ImageFileCollection`: ccdproc's catalogue of a folder of FITS files
  (same API), reading each header once and only the keywords asked for, with a
  persistent header cache.
* :func:`scan` and :func:`classify`: every frame as a :class:`FrameInfo` with its
  normalised type (bias, dark, flat, science), exposure, binning, filter, time,
  temperature, gain... through instrument profiles (:mod:`.profiles`: pt5m,
  MaxIm DL, IRAF-style, generic, and the user's own TOML files).
* Lower levels: :func:`read_headers` (many files, cached, parallel when that
  helps), :func:`read_hdu_header` (one file), :class:`HeaderCards` (a header
  parsed lazily), :class:`HeaderCache`.

Examples
--------
>>> from ccdcal.collection import FrameInfo, load_profiles
>>> [p.name for p in load_profiles()]
['pt5m', 'maximdl', 'iraf', 'generic']
"""

from typing import TYPE_CHECKING

from ccdcal._lazy import lazy_attributes

#: Where each public name lives; loaded on first use (see :mod:`ccdcal._lazy`).
_LAZY: dict[str, str] = {
    "HeaderCache": "ccdcal.collection.cache",
    "cache_dir": "ccdcal.collection.cache",
    "HeaderCards": "ccdcal.collection.cards",
    "classify": "ccdcal.collection.classify",
    "find_fits_files": "ccdcal.collection.discovery",
    "HDUHeader": "ccdcal.collection.fitsfile",
    "read_hdu_header": "ccdcal.collection.fitsfile",
    "FRAME_TYPES": "ccdcal.collection.frame",
    "FrameInfo": "ccdcal.collection.frame",
    "FrameType": "ccdcal.collection.frame",
    "UnreadableFile": "ccdcal.collection.frame",
    "ImageFileCollection": "ccdcal.collection.image_collection",
    "FrameGroup": "ccdcal.collection.night",
    "ScanResult": "ccdcal.collection.night",
    "scan": "ccdcal.collection.night",
    "InstrumentProfile": "ccdcal.collection.profiles",
    "builtin_profiles": "ccdcal.collection.profiles",
    "detect_profile": "ccdcal.collection.profiles",
    "get_profile": "ccdcal.collection.profiles",
    "load_profile": "ccdcal.collection.profiles",
    "load_profiles": "ccdcal.collection.profiles",
    "read_headers": "ccdcal.collection.reader",
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

if TYPE_CHECKING:
    from ccdcal.collection.cache import HeaderCache, cache_dir
    from ccdcal.collection.cards import HeaderCards
    from ccdcal.collection.classify import classify
    from ccdcal.collection.discovery import find_fits_files
    from ccdcal.collection.fitsfile import HDUHeader, read_hdu_header
    from ccdcal.collection.frame import FRAME_TYPES, FrameInfo, FrameType, UnreadableFile
    from ccdcal.collection.image_collection import ImageFileCollection
    from ccdcal.collection.night import FrameGroup, ScanResult, scan
    from ccdcal.collection.profiles import (
        InstrumentProfile,
        builtin_profiles,
        detect_profile,
        get_profile,
        load_profile,
        load_profiles,
    )
    from ccdcal.collection.reader import read_headers

__all__ = [
    "FRAME_TYPES",
    "FrameGroup",
    "FrameInfo",
    "FrameType",
    "HDUHeader",
    "HeaderCache",
    "HeaderCards",
    "ImageFileCollection",
    "InstrumentProfile",
    "ScanResult",
    "UnreadableFile",
    "builtin_profiles",
    "cache_dir",
    "classify",
    "detect_profile",
    "find_fits_files",
    "get_profile",
    "load_profile",
    "load_profiles",
    "read_hdu_header",
    "read_headers",
    "scan",
]
