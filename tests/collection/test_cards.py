"""HeaderCards and the card value parser give the values astropy gives."""

from __future__ import annotations

import pytest
from astropy.io import fits

from ccdcal.collection.cards import CardParseError, HeaderCards, parse_card_value, values_of

CARDS = [
    "OBJECT  = '        '",
    "READOUTM= 'Normal  ' /          Readout mode of image",
    "NOTE    = '  lead and trail  '",
    "QUOTE   = 'it''s a ''test''' / doubled quotes",
    "SLASH   = 'a/b' / a slash inside the string",
    "DEXP    = 1.5D3",
    "LEXP    = 1.5e3",
    "PLUS    = +12",
    "NEG     = -0",
    "DOT     = 1.",
    "LEADDOT = .5",
    "EXPO    = 1E5",
    "ZEROS   = 00012",
    "LOGT    =                    T / fixed format",
    "LOGF    = F",
    "CPLX    = (1.0, 2)",
    "BIGINT  = 12345678901234567890123",
    "EGAIN   =   2.5999999046325684 /Electronic gain in e-/ADU",
    "EMPTY   = ''",
    "EXPTIME =  0.00000000000000000 /Exposure time in seconds",
    "ODD     = '' / a quote ' in the comment",
    "ODD2    = '' / '",
    "ODD3    = '''/     '",
    "ODD4    = 'it'' s' / x",
]


@pytest.mark.parametrize("image", CARDS)
def test_values_equal_astropy(image: str) -> None:
    expected = fits.Card.fromstring(image.ljust(80)).value
    got = parse_card_value(image)
    assert got == expected
    assert type(got) is type(expected)


def test_undefined_value_is_astropy_undefined() -> None:
    value = parse_card_value("UNDEF   =  / no value")
    assert isinstance(value, fits.card.Undefined)


def test_unparsable_card_raises_with_the_card() -> None:
    with pytest.raises(CardParseError, match="BAD"):
        parse_card_value("BAD     = 1.5 2")


def test_lookup_is_case_insensitive_and_first_card_wins() -> None:
    cards = HeaderCards.from_cards(["FILTER  = 'R'", "filter  = 'ignored'", "FILTER  = 'V'"])
    assert cards["filter"] == "R"
    assert cards.get("Filter") == "R"
    assert cards.get("NOPE", 5) == 5
    assert "NOPE" not in cards


def test_prefix_keywords_do_not_match() -> None:
    cards = HeaderCards.from_cards(
        ["NAXIS1  =                   10", "NAXIS   =                    2"]
    )
    assert cards["NAXIS"] == 2
    assert cards["NAXIS1"] == 10
    assert "NAXIS2" not in cards


def test_long_string_with_continue_and_hierarch() -> None:
    header = fits.Header()
    header["LONGSTR"] = "x" * 150 + "end"
    header["HIERARCH ESO DET CHIP NAME"] = "chip 1"
    header["AFTER"] = 3
    cards = HeaderCards.from_header(header)
    assert cards["LONGSTR"] == header["LONGSTR"]
    assert cards["ESO DET CHIP NAME"] == "chip 1"
    assert cards["hierarch eso det chip name"] == "chip 1"
    assert cards["AFTER"] == 3


def test_commentary_cards_joined_with_commas() -> None:
    header = fits.Header()
    header["HISTORY"] = "one"
    header["HISTORY"] = "two"
    header["COMMENT"] = "c"
    cards = HeaderCards.from_header(header)
    assert cards["HISTORY"] == "one,two"
    assert cards["comment"] == "c"
    with pytest.raises(KeyError, match="NOTHERE"):
        cards["NOTHERE"]


def test_items_match_astropy_items() -> None:
    header = fits.Header()
    header["SIMPLE"] = True
    header["A"] = (1.5, "comment")
    header["LONGSTR"] = "y" * 120
    header["HIERARCH SOME LONG KEY"] = 4
    header["COMMENT"] = "first"
    header.append(fits.Card("", "blank keyword card"))
    header["B"] = "b"
    cards = HeaderCards.from_header(header)
    expected = [(k, v) for k, v in header.items() if k]
    assert list(cards.items_with_duplicates()) == expected


def test_to_header_round_trip() -> None:
    cards = HeaderCards.from_cards(["EXPTIME =                 30.0", "FILTER  = 'B'"])
    header = cards.to_header()
    assert header["EXPTIME"] == 30.0
    assert header["FILTER"] == "B"


def test_values_of_matches_get() -> None:
    headers = [
        HeaderCards.from_cards(["EXPTIME =                 30.0"]),
        HeaderCards.from_cards(["EXPTIME = 'thirty'"]),
        HeaderCards.from_cards(["OTHER   = 1"]),
        HeaderCards.from_cards(["EXPTIME =  (1.0, 2.0)"]),
    ]
    assert values_of(headers, "exptime") == [h.get("EXPTIME") for h in headers]
    assert values_of(headers, "exptime") == [30.0, "thirty", None, complex(1, 2)]


def test_from_block_stops_at_end_and_cuts_cards() -> None:
    block = "A       =                    1".ljust(80) + "END".ljust(80) + "B       = 2".ljust(80)
    cards = HeaderCards.from_block(block)
    assert cards.lines() == ["A       =                    1"]
    assert "B" not in cards


def test_newlines_in_cards_cannot_split_them() -> None:
    cards = HeaderCards.from_block("NOTE    = 'a\nb'".ljust(80) + "X       = 1".ljust(80))
    assert cards["NOTE"] == "a b"
    assert cards["X"] == 1
