"""ccdcal.io: FITS input and output, atomic writes and provenance records.

Examples
--------
>>> from ccdcal.io import read_ccd, write_ccd, atomic_path, file_checksum
>>> callable(read_ccd) and callable(write_ccd)
True
"""

from typing import TYPE_CHECKING

from ccdcal._lazy import lazy_attributes

#: Where each public name lives; loaded on first use (see :mod:`ccdcal._lazy`).
_LAZY: dict[str, str] = {
    "atomic_path": "ccdcal.io.atomic",
    "atomic_write_bytes": "ccdcal.io.atomic",
    "atomic_write_text": "ccdcal.io.atomic",
    "file_checksum": "ccdcal.io.atomic",
    "bunit_string": "ccdcal.io.cards",
    "header_from_meta": "ccdcal.io.cards",
    "parse_bunit": "ccdcal.io.cards",
    "split_wcs": "ccdcal.io.cards",
    "FITS_SUFFIXES": "ccdcal.io.fits",
    "ccd_to_hdulist": "ccdcal.io.fits",
    "read_ccd": "ccdcal.io.fits",
    "write_ccd": "ccdcal.io.fits",
    "write_ccd_with_identity": "ccdcal.io.fits",
    "FileIdentity": "ccdcal.io.identity",
    "file_identity": "ccdcal.io.identity",
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

if TYPE_CHECKING:
    from ccdcal.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text, file_checksum
    from ccdcal.io.cards import bunit_string, header_from_meta, parse_bunit, split_wcs
    from ccdcal.io.fits import (
        FITS_SUFFIXES,
        ccd_to_hdulist,
        read_ccd,
        write_ccd,
        write_ccd_with_identity,
    )
    from ccdcal.io.identity import FileIdentity, file_identity

__all__ = [
    "FITS_SUFFIXES",
    "FileIdentity",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "bunit_string",
    "ccd_to_hdulist",
    "file_checksum",
    "file_identity",
    "header_from_meta",
    "parse_bunit",
    "read_ccd",
    "split_wcs",
    "write_ccd",
    "write_ccd_with_identity",
]
