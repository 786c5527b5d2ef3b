"""The calibration library: a database of frames, masters and their use, and matching rules.

A real database through SQLAlchemy: by default a SQLite file
``OUT_DIR/calibration-library.sqlite``, or any SQLAlchemy URL (PostgreSQL is
supported and tested).  It records the raw frames read, the masters made
(kind, binning, filter, exposure, temperature, time span, inputs, checksum,
quality, bad flag, validity window, derivation), which masters calibrated
which science frame (with the full match decision), and the runs.

Matching follows BANZAI and DRAGONS: same instrument, binning and readout
mode, the filter for flats, the CCD temperature for darks, not flagged bad,
nearest in time within a validity window, the science night preferred and
earlier nights reused when it has none (the provenance note says so).  Every
candidate that was not chosen comes with the reason.

Examples
--------
>>> from ccdcal.library import CalibrationLibrary, MatchRules
>>> lib = CalibrationLibrary("sqlite://")
>>> for day, filt in ((20, "R"), (24, "V")):
...     _ = lib.add_master("flat", f"/out/flat-{filt}-{day}.fits", checksum=f"{filt}{day}",
...                        instrument="ST-8", xbin=1, ybin=1, filter=filt,
...                        date_start=f"2025-06-{day}T01:00", date_end=f"2025-06-{day}T01:30")
>>> result = lib.match("flat", instrument="ST-8", xbin=1, ybin=1, filter="R",
...                    date_obs="2025-06-24T03:00")
>>> result.chosen.path, result.note
('/out/flat-R-20.fits', 'from an earlier night (2025-06-19, 4.1 d before)')
>>> [c.reasons[0].code for c in result.candidates if not c.chosen]
['filter']
"""

from typing import TYPE_CHECKING

from ccdcal._lazy import lazy_attributes

#: Name of the library file inside an output directory.  Defined here, not in
#: :mod:`ccdcal.library.engine`, so that asking whether a library exists costs
#: no SQLAlchemy import.
DEFAULT_FILENAME = "calibration-library.sqlite"

#: Where each public name lives; loaded on first use (see :mod:`ccdcal._lazy`).
_LAZY: dict[str, str] = {
    "DEFAULT_VALIDITY_DAYS": "ccdcal.library.database",
    "CalibrationLibrary": "ccdcal.library.database",
    "Candidate": "ccdcal.library.decisions",
    "DarkExposurePolicy": "ccdcal.library.decisions",
    "MatchResult": "ccdcal.library.decisions",
    "MatchRules": "ccdcal.library.decisions",
    "MatchTarget": "ccdcal.library.decisions",
    "Reason": "ccdcal.library.decisions",
    "file_checksum": "ccdcal.library.frames",
    "select_master": "ccdcal.library.matching",
    "KINDS": "ccdcal.library.records",
    "FrameRecord": "ccdcal.library.records",
    "MasterKind": "ccdcal.library.records",
    "MasterRecord": "ccdcal.library.records",
    "RunRecord": "ccdcal.library.records",
    "UsageRecord": "ccdcal.library.records",
    "SCHEMA_VERSION": "ccdcal.library.schema",
    "night_of": "ccdcal.library.times",
    "to_utc": "ccdcal.library.times",
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

if TYPE_CHECKING:
    from ccdcal.library.database import DEFAULT_VALIDITY_DAYS, CalibrationLibrary
    from ccdcal.library.decisions import (
        Candidate,
        DarkExposurePolicy,
        MatchResult,
        MatchRules,
        MatchTarget,
        Reason,
    )
    from ccdcal.library.frames import file_checksum
    from ccdcal.library.matching import select_master
    from ccdcal.library.records import (
        KINDS,
        FrameRecord,
        MasterKind,
        MasterRecord,
        RunRecord,
        UsageRecord,
    )
    from ccdcal.library.schema import SCHEMA_VERSION
    from ccdcal.library.times import night_of, to_utc

__all__ = [
    "DEFAULT_FILENAME",
    "DEFAULT_VALIDITY_DAYS",
    "KINDS",
    "SCHEMA_VERSION",
    "CalibrationLibrary",
    "Candidate",
    "DarkExposurePolicy",
    "FrameRecord",
    "MasterKind",
    "MasterRecord",
    "MatchResult",
    "MatchRules",
    "MatchTarget",
    "Reason",
    "RunRecord",
    "UsageRecord",
    "file_checksum",
    "night_of",
    "select_master",
    "to_utc",
]
