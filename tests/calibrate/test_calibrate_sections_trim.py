"""FITS/IRAF sections and trim_image, against ccdproc 2.5.1."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.nddata import CCDData, StdDevUncertainty
from astropy.wcs import WCS

import ccdcal
from ccdcal.calibrate import section_to_slices
from ccdcal.errors import ParameterTypeError, SectionError

VALID_SECTIONS = [
    "[1:5, 2:3]",
    "[   4:  13,   1: 20]",
    "[*, 1:10]",
    "[-*, *]",
    "[*, -*]",
    "[10:1, 5:8]",
    "[1:30:2, 3:20:3]",
    "[20:1:4, *]",
    "[*:2, -*:3]",
    "[30, 20]",
    "[1:1, 1:1]",
    "[ 2: 29 ,\t3 :19 ]",
]


@pytest.mark.parametrize("section", VALID_SECTIONS)
def test_sections_select_what_ccdproc_selects(ccdproc, section):
    image = np.arange(20 * 30).reshape(20, 30)
    ours = image[section_to_slices(section, image.shape)]
    if section == "[30, 20]":  # a single pixel: IRAF meaning (ccdproc reads '30' as ':30')
        np.testing.assert_array_equal(ours, image[19:20, 29:30])
        return
    from ccdproc.utils.slices import slice_from_string as ref

    np.testing.assert_array_equal(ours, image[ref(section.replace("\t", " "), True)])


@pytest.mark.parametrize(
    "text", ["[2:5]", "[ : : -2] ", "[1:-1, 0:4:2]", "[0:2,0:3]", "", "[*,-*]", "[1:10:2, 4:5:2]"]
)
@pytest.mark.parametrize("fits", [False, True])
def test_slice_from_string_is_ccdprocs(ccdproc, text, fits):
    from ccdproc.utils.slices import slice_from_string as ref

    try:
        expected = ref(text, fits_convention=fits)
    except ValueError:
        with pytest.raises(SectionError, match=r"index|FITS") as info:
            ccdcal.slice_from_string(text, fits_convention=fits)
        assert isinstance(info.value, ValueError)
        return
    assert ccdcal.slice_from_string(text, fits_convention=fits) == expected


@pytest.mark.parametrize("text", ["1:2", "[1:2", "1:2]"])
def test_slice_from_string_needs_brackets(text):
    with pytest.raises(SectionError, match="square brackets"):
        ccdcal.slice_from_string(text)


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ("[1:31, *]", r"x \(columns\) range 1:31 is outside the image, which has 30 columns"),
        ("[*, 0:5]", r"y \(rows\) range 0:5 is outside.*20 rows"),
        ("[1:5]", "has 1 axes but the image has 2"),
        ("[1:5, 1:5, 1:5]", "has 3 axes"),
        ("[1:5:-1, *]", "must be positive"),
        ("[a:5, *]", "'a' is not an integer"),
        ("[1:2:3:4, *]", "cannot read"),
        ("1:5, 1:5", "square brackets"),
    ],
)
def test_bad_sections_name_section_and_shape(section, match):
    with pytest.raises(SectionError, match=match) as info:
        section_to_slices(section, (20, 30))
    assert isinstance(info.value, ValueError)
    if "outside" in match:
        assert "(20, 30)" in str(info.value)
        assert section in str(info.value)


# --- trim_image --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section", ["[20:40, :]", "[   4:  13,   1: 50]", "[-*, 5:10]", "[*:2, *]"]
)
@pytest.mark.parametrize("planes", [False, True])
def test_trim_matches_ccdproc(make_ccd, ccdproc, section, planes):
    ccd = make_ccd(shape=(50, 50), sigma=1.0 if planes else None, mask_fraction=0.2 * planes)
    ours = ccdcal.trim_image(ccd, fits_section=section)
    ref = ccdproc.trim_image(ccd, fits_section=section)
    np.testing.assert_array_equal(ours.data, ref.data)
    assert ours.data.flags.c_contiguous
    if planes:
        np.testing.assert_array_equal(ours.mask, ref.mask)
        np.testing.assert_array_equal(ours.uncertainty.array, ref.uncertainty.array)
    assert ours.header["trimim"] == ref.header["trimim"]


def test_trim_positional_section_and_log(ccdproc):
    ccd = CCDData(np.arange(1000).reshape(20, 50), unit="adu")
    ours = ccdcal.trim_image(ccd, "[10:20, 10:20]")
    ref = ccdproc.trim_image(ccd, "[10:20, 10:20]")
    assert ours.shape == (11, 11)
    assert (
        ours.header["trimim"]
        == ref.header["trimim"]
        == "ccd=<CCDData>, fits_section=[10:20, 10:20]"
    )
    assert ours.data.dtype == ccd.data.dtype


def test_trim_alters_wcs_like_ccdproc(make_ccd):
    ccd = make_ccd(shape=(40, 40))
    wcs = WCS(naxis=2)
    wcs.wcs.crpix = [20.0, 20.0]
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    ccd.wcs = wcs
    trimmed = ccdcal.trim_image(ccd, fits_section="[1:40, 11:40]")
    assert trimmed.wcs.wcs.crpix[1] == wcs.wcs.crpix[1] - 10
    sliced = ccdcal.trim_image(ccd[10:, :])
    assert sliced.wcs.wcs.crpix[1] == wcs.wcs.crpix[1] - 10
    assert ccd.wcs.wcs.crpix[1] == 20.0


def test_out_of_range_is_an_error_not_a_silent_truncation(make_ccd, ccdproc):
    ccd = make_ccd(shape=(20, 30))
    assert ccdproc.trim_image(ccd, fits_section="[1:100, *]").shape == (20, 30)
    with pytest.raises(SectionError, match=r"'\[1:100, \*\]'.*\(20, 30\)"):
        ccdcal.trim_image(ccd, fits_section="[1:100, *]")


def test_trim_section_must_be_str(make_ccd):
    with pytest.raises(ParameterTypeError, match="fits_section must be a string") as info:
        ccdcal.trim_image(make_ccd(), fits_section=5)
    assert isinstance(info.value, TypeError)


def test_trim_without_section_copies_everything(make_ccd, unchanged):
    snapshot, assert_unchanged = unchanged
    ccd = make_ccd(sigma=1.0, mask_fraction=0.3, header={"OBJECT": "x"})
    before = snapshot(ccd)
    for out in (ccdcal.trim_image(ccd), ccdcal.trim_image(ccd, fits_section="")):
        np.testing.assert_array_equal(out.data, ccd.data)
        out.data[...] = -1
        out.mask[...] = False
        out.uncertainty.array[...] = -1
        out.meta["OBJECT"] = "changed"
        assert_unchanged(ccd, before)


def test_trim_keeps_variance_uncertainty_class():
    from astropy.nddata import VarianceUncertainty

    ccd = CCDData(np.ones((4, 4)), unit="adu", uncertainty=VarianceUncertainty(np.ones((4, 4))))
    out = ccdcal.trim_image(ccd, fits_section="[1:2, 1:2]")
    assert isinstance(out.uncertainty, VarianceUncertainty)
    ccd.uncertainty = StdDevUncertainty(np.ones((4, 4)))
    assert isinstance(ccdcal.trim_image(ccd, "[1:2, 1:2]").uncertainty, StdDevUncertainty)
