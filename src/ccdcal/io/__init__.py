"""ccdcal.io: FITS input and output, atomic writes and provenance records.

Examples
--------
>>> from ccdcal.io import read_ccd, write_ccd, atomic_path, file_checksum
>>> callable(read_ccd) and callable(write_ccd)
True
"""

from ccdcal.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text, file_checksum
from ccdcal.io.cards import bunit_string, header_from_meta, parse_bunit, split_wcs
from ccdcal.io.fits import FITS_SUFFIXES, ccd_to_hdulist, read_ccd, write_ccd

__all__ = [
    "FITS_SUFFIXES",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "bunit_string",
    "ccd_to_hdulist",
    "file_checksum",
    "header_from_meta",
    "parse_bunit",
    "read_ccd",
    "split_wcs",
    "write_ccd",
]
