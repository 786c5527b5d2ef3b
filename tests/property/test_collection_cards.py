"""Property: for any header astropy writes, ccdcal's lazy parser gives astropy's values.

Headers of random keywords and values (strings with quotes and slashes, long
strings that need CONTINUE cards, integers, reals, logicals, comments,
COMMENT/HISTORY cards) are written to a FITS file by astropy and read back by
both; the summary tables of a one-file collection match ccdproc's too.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccdcal.collection.cards import HeaderCards
from ccdcal.collection.fitsfile import read_hdu_header
from ccdcal.collection.image_collection import ImageFileCollection

KEYWORD = st.from_regex(r"[A-Z][A-Z0-9_-]{0,7}", fullmatch=True).filter(
    lambda k: (
        k
        not in {
            "SIMPLE",
            "BITPIX",
            "NAXIS",
            "NAXIS1",
            "NAXIS2",
            "EXTEND",
            "END",
            "COMMENT",
            "HISTORY",
            "CONTINUE",
            "BZERO",
            "BSCALE",
            "BLANK",
        }
        and not k.startswith("NAXIS")
    )
)
TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=90)
VALUE = st.one_of(
    TEXT,
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
)
COMMENT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
CARDS = st.dictionaries(KEYWORD, st.tuples(VALUE, COMMENT), min_size=1, max_size=12)
COMMENTARY = st.lists(
    st.tuples(st.sampled_from(["COMMENT", "HISTORY"]), TEXT.map(str.strip)), max_size=3
)


def _header(cards: dict[str, tuple[object, str]], commentary: list[tuple[str, str]]) -> fits.Header:
    header = fits.Header()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy warns about long comments it truncates
        for key, (value, comment) in cards.items():
            header[key] = (value, comment)
        for key, text in commentary:
            header[key] = text
    return header


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cards=CARDS, commentary=COMMENTARY)
def test_lazy_values_equal_astropy(
    cards: dict[str, tuple[object, str]], commentary: list[tuple[str, str]]
) -> None:
    header = _header(cards, commentary)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "h.fits"
        fits.PrimaryHDU(np.zeros((2, 3), np.int16), header).writeto(path)
        written = fits.getheader(path)
        hdu = read_hdu_header(path)
    assert hdu.shape == (2, 3)
    for key in cards:
        assert _same(hdu.cards[key], written[key]), key
        assert _same(HeaderCards.get(hdu.cards, key.lower()), written[key]), key
    expected = [(k, v) for k, v in written.items() if k]
    got = list(hdu.cards.items_with_duplicates())
    assert [k for k, _ in got] == [k for k, _ in expected]
    assert all(_same(a, b) for (_, a), (_, b) in zip(got, expected, strict=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cards=CARDS, commentary=COMMENTARY)
def test_summary_equals_ccdproc(
    cards: dict[str, tuple[object, str]], commentary: list[tuple[str, str]]
) -> None:
    from ccdproc import ImageFileCollection as CcdprocCollection

    header = _header(cards, commentary)
    with tempfile.TemporaryDirectory() as folder:
        fits.PrimaryHDU(np.zeros((2, 3), np.int16), header).writeto(Path(folder) / "h.fits")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            theirs = CcdprocCollection(folder).summary
        ours = ImageFileCollection(folder, use_cache=False).summary
    assert ours.colnames == theirs.colnames
    for name in theirs.colnames:
        assert ours[name].dtype == theirs[name].dtype, name
        assert all(
            _same(a, b) for a, b in zip(ours[name].tolist(), theirs[name].tolist(), strict=True)
        ), name
