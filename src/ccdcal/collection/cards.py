"""Header cards kept as text and parsed only when a keyword is asked for.

A FITS header is a sequence of 80-character cards. Reading a night means
looking up a handful of keywords in thousands of headers, so
:class:`HeaderCards` keeps each header as one compact string (the cards with
their trailing blanks removed, joined by newlines, which cannot occur inside a
card) and parses a card's value only when it is looked up. The common value
forms (strings, logicals, integers, reals) are parsed here; anything unusual
(complex values, undefined values, ``HIERARCH`` and ``CONTINUE`` cards,
non-standard cards) goes to :meth:`astropy.io.fits.Card.fromstring`, so the
values are those astropy gives.

Examples
--------
>>> cards = HeaderCards.from_cards([
...     "SIMPLE  =                    T",
...     "EXPTIME =                300.0 / Exposure time in seconds",
...     "IMAGETYP= 'Bias Frame'",
...     "OBJECT  = '        '",
... ])
>>> cards["exptime"], cards["IMAGETYP"], cards["OBJECT"]
(300.0, 'Bias Frame', '')
>>> "FILTER" in cards
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from astropy.io import fits

__all__ = [
    "COMMENTARY_KEYWORDS",
    "CardParseError",
    "HeaderCards",
    "find_end_card",
    "parse_card_value",
    "values_of",
]

CARD_LENGTH = 80

#: Keywords whose cards hold free text rather than a value.
COMMENTARY_KEYWORDS = frozenset({"", "COMMENT", "HISTORY"})

_INT_RE = re.compile(r"[+-]?\d+\Z")
_REAL_RE = re.compile(r"[+-]?(?:\.\d+|\d+(?:\.\d*)?)(?:[DE][+-]?\d+)?\Z")


class CardParseError(ValueError):
    """A card's value cannot be parsed (astropy cannot parse it either)."""


class _NotSimple(Exception):
    """The card is not in one of the simple forms; astropy must parse it."""


def _parse_string(text: str) -> str:
    """The value of a FITS string ``'...'`` at the start of ``text`` (leading blanks removed)."""
    end = text.find("'", 1)
    while end >= 0 and text[end + 1 : end + 2] == "'":
        end = text.find("'", end + 2)
    if end < 0:
        raise _NotSimple
    rest = text[end + 1 :].lstrip(" ")
    if rest and rest[0] != "/":
        raise _NotSimple
    body = text[1:end]
    if "''" in body or (end == 1 and "'" in rest):
        # Doubled quotes: astropy's regular expression may end such a string
        # early (a value written as "'/" reads back as "'"); give what it gives.
        raise _NotSimple
    if not (body.isascii() and body.isprintable()):
        raise _NotSimple
    return body.rstrip()


def _parse_simple(field: str) -> Any:
    """Parse the value field (columns 11-80) when it has a common form."""
    text = field.lstrip(" ")
    if text[:1] == "'":
        return _parse_string(text)
    token = text.partition("/")[0].strip(" ")
    if token == "T":
        return True
    if token == "F":
        return False
    if token.isascii():
        if token.isdigit() or _INT_RE.match(token):
            return int(token)
        if _REAL_RE.match(token):
            return float(token.replace("D", "E"))
    raise _NotSimple


def _astropy_card(image: str) -> fits.Card:
    """Parse one card (or a long-string card with its CONTINUE cards) with astropy."""
    if len(image) > CARD_LENGTH:
        lines = image.split("\n")
        image = "".join(line.ljust(CARD_LENGTH) for line in lines)
    return fits.Card.fromstring(image.ljust(CARD_LENGTH))


def parse_card_value(image: str) -> Any:
    """The value of one card, as astropy would give it.

    ``image`` is one card (trailing blanks may be missing) or a long-string
    card followed by its ``CONTINUE`` cards, separated by newlines.

    Raises
    ------
    CardParseError
        When the card cannot be parsed.

    Examples
    --------
    >>> parse_card_value("XBINNING=                    2 / Binning factor")
    2
    >>> parse_card_value("EGAIN   =   2.5999999046325684 / e-/ADU")
    2.5999999046325684
    >>> parse_card_value("NOTE    = 'it''s cold' / quote doubled")
    "it's cold"
    """
    if "\n" not in image and image[8:10] == "= ":
        try:
            return _parse_simple(image[10:])
        except _NotSimple:
            pass
    try:
        return _astropy_card(image).value
    except Exception as exc:  # astropy raises VerifyError and others
        raise CardParseError(f"cannot parse card {image[:80]!r}: {exc}") from exc


def find_end_card(text: str) -> int:
    """Index of the END card in header text made of 80-character cards, or -1."""
    pos = text.find("END")
    while pos >= 0:
        if pos % CARD_LENGTH == 0 and text[pos + 3 : pos + CARD_LENGTH].strip(" ") == "":
            return pos
        pos = text.find("END", pos + 1)
    return -1


def values_of(headers: Sequence[HeaderCards], key: str) -> list[Any]:
    """``[h.get(key) for h in headers]``, faster for many headers.

    Examples
    --------
    >>> hs = [HeaderCards.from_cards(["EXPTIME =                  2.5"]), HeaderCards("")]
    >>> values_of(hs, "exptime")
    [2.5, None]
    """
    upper = key.upper()
    if len(upper) > 8 or " " in upper or upper in ("COMMENT", "HISTORY", ""):
        return [h.get(key) for h in headers]
    needle = "\n" + upper.ljust(8)
    out: list[Any] = []
    append = out.append
    for header in headers:
        text = header.text
        start = text.find(needle) + 1
        if start:
            end = text.find("\n", start)
            if end < 0:
                end = len(text)
            if text[start + 8 : start + 10] == "= " and not text.startswith("\nCONTINUE", end):
                try:
                    append(_parse_simple(text[start + 10 : end]))
                    continue
                except _NotSimple:
                    pass
        append(header.get(key))
    return out


def _is_standard_key(key: str) -> bool:
    return len(key) <= 8 and " " not in key


class HeaderCards(Mapping[str, Any]):
    """One HDU's header as compact text, parsed lazily and case-insensitively.

    Parameters
    ----------
    text : str
        The cards with trailing blanks removed, each preceded by a newline
        (see :meth:`from_cards`); the END card is not included.

    Notes
    -----
    Lookups behave as astropy's ``Header.get``: keywords are case-insensitive,
    the first of repeated cards wins, a long keyword or one with blanks finds
    its ``HIERARCH`` card. ``COMMENT`` and ``HISTORY`` give all their cards
    joined with commas (as ccdproc's summary table shows them).
    """

    __slots__ = ("_index", "_lines", "_parsed", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._parsed: dict[str, Any] | None = None
        self._index: dict[str, int] | None = None
        self._lines: list[str] = []

    def indexed(self) -> HeaderCards:
        """A copy with its keywords indexed: faster for many lookups, most of them misses.

        Worth it when one header is asked for tens of keywords (classification);
        a few lookups per header are faster without, and the index takes memory,
        so it lives only as long as the copy.

        Examples
        --------
        >>> cards = HeaderCards.from_cards(["EXPTIME =                 10.0"]).indexed()
        >>> cards.get("EXPTIME"), cards.get("FILTER")
        (10.0, None)
        """
        if self._index is not None:
            return self
        copy = HeaderCards(self.text)
        lines = self.lines()
        index: dict[str, int] = {}
        for i, line in enumerate(lines):
            index.setdefault(line[:8].rstrip(), i)
        copy._lines = lines
        copy._index = index
        return copy

    @classmethod
    def from_cards(cls, cards: Iterable[str]) -> HeaderCards:
        """Build from card images (a longer image or one with newlines makes several cards).

        Examples
        --------
        >>> HeaderCards.from_cards(["NAXIS   =                    2"])["NAXIS"]
        2
        """
        parts: list[str] = []
        for card in cards:
            for line in card.replace("\r", " ").split("\n"):
                starts = range(0, max(len(line), 1), CARD_LENGTH)
                parts.extend("\n" + line[i : i + CARD_LENGTH].rstrip() for i in starts)
        return cls("".join(parts))

    @classmethod
    def from_block(cls, block: str) -> HeaderCards:
        """Build from header text in 80-character cards (END and what follows are dropped).

        Examples
        --------
        >>> HeaderCards.from_block("NAXIS   =                    0".ljust(80) + "END").lines()
        ['NAXIS   =                    0']
        """
        end = find_end_card(block)
        if end >= 0:
            block = block[:end]
        if "\n" in block or "\r" in block:
            block = block.replace("\n", " ").replace("\r", " ")
        step = CARD_LENGTH
        return cls(
            "".join(["\n" + block[i : i + step].rstrip() for i in range(0, len(block), step)])
        )

    @classmethod
    def from_header(cls, header: fits.Header) -> HeaderCards:
        """Build from an astropy header."""
        return cls.from_block(header.tostring())

    def to_header(self) -> fits.Header:
        """An astropy :class:`~astropy.io.fits.Header` with the same cards."""
        return fits.Header.fromstring(self.text[1:], sep="\n") if self.text else fits.Header()

    # -- low level -----------------------------------------------------------

    def lines(self) -> list[str]:
        """The card images (trailing blanks removed), in order."""
        return self.text.split("\n")[1:] if self.text else []

    def _find(self, key: str) -> int:
        """Start index of the first card with keyword ``key`` (upper case), or -1."""
        text = self.text
        pos = text.find("\n" + key.ljust(8))
        if pos >= 0:
            return pos + 1
        short = "\n" + key  # a card with nothing after its keyword
        pos = text.find(short + "\n")
        if pos >= 0:
            return pos + 1
        return len(text) - len(key) if text.endswith(short) else -1

    def _find_hierarch(self, key: str) -> str | None:
        if "\nHIERARCH" not in self.text and "\nhierarch" not in self.text:
            return None
        wanted = " ".join(key.split())
        for line in self.lines():
            if line[:9].upper() != "HIERARCH ":
                continue
            name = line[9:].split("=", 1)[0]
            if " ".join(name.split()).upper() == wanted:
                return line
        return None

    def card_image(self, key: str) -> str | None:
        """The image of the first card for ``key`` (with any CONTINUE cards), or None."""
        key = key.upper().strip()
        if key.startswith("HIERARCH "):
            return self._find_hierarch(key[9:])
        if not _is_standard_key(key):
            return self._find_hierarch(key)
        start = self._find(key)
        if start < 0:
            return None
        end = self.text.find("\n", start)
        if end < 0:
            return self.text[start:]
        image = self.text[start:end]
        while self.text.startswith("\nCONTINUE", end):
            nxt = self.text.find("\n", end + 1)
            stop = len(self.text) if nxt < 0 else nxt
            image += self.text[end:stop]
            end = stop
        return image

    def _commentary(self, key: str) -> str | None:
        values = [line[8:].rstrip() for line in self.lines() if line[:8].rstrip().upper() == key]
        return ",".join(values) if values else None

    # -- Mapping interface ---------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when there is no such card.

        Raises
        ------
        CardParseError
            When the card is there but its value cannot be parsed.
        """
        upper = key.upper()
        if len(upper) > 8 or " " in upper or upper in ("COMMENT", "HISTORY", ""):
            try:
                return self[key]
            except KeyError:
                return default
        if self._index is not None:
            return self._indexed_get(upper, default)
        text = self.text
        start = text.find("\n" + upper.ljust(8)) + 1
        if not start:
            start = self._find(upper)
            if start < 0:
                return default
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        if text[start + 8 : start + 10] == "= " and not text.startswith("\nCONTINUE", end):
            try:
                return _parse_simple(text[start + 10 : end])
            except _NotSimple:
                pass
        return self[key]

    def _indexed_get(self, upper: str, default: Any) -> Any:
        assert self._index is not None
        i = self._index.get(upper)
        if i is None:
            return default
        line = self._lines[i]
        continued = i + 1 < len(self._lines) and self._lines[i + 1].startswith("CONTINUE")
        if line[8:10] == "= " and not continued:
            try:
                return _parse_simple(line[10:])
            except _NotSimple:
                pass
        return self[upper]

    def __getitem__(self, key: str) -> Any:
        upper = key.upper().strip()
        if upper in ("COMMENT", "HISTORY"):
            joined = self._commentary(upper)
            if joined is None:
                raise KeyError(key)
            return joined
        image = self.card_image(upper)
        if image is None:
            raise KeyError(key)
        return parse_card_value(image)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        upper = key.upper().strip()
        if upper in ("COMMENT", "HISTORY"):
            return self._commentary(upper) is not None
        return self.card_image(upper) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.parsed())

    def __len__(self) -> int:
        return len(self.parsed())

    def __repr__(self) -> str:
        return f"HeaderCards({len(self.lines())} cards)"

    # -- whole header ---------------------------------------------------------

    def grouped_images(self) -> list[str]:
        """Card images with each long-string card joined to its CONTINUE cards."""
        groups: list[str] = []
        for line in self.lines():
            if groups and line.startswith("CONTINUE"):
                groups[-1] += "\n" + line
            else:
                groups.append(line)
        return groups

    def items_with_duplicates(self) -> Iterator[tuple[str, Any]]:
        """``(KEYWORD, value)`` for every card in order, as astropy's ``Header.items()``.

        Blank-keyword cards are skipped; COMMENT and HISTORY cards come one by one.
        """
        for image in self.grouped_images():
            key = image[:8].rstrip().upper()
            if "\n" not in image:
                if key in ("COMMENT", "HISTORY"):
                    yield key, image[8:].rstrip()
                    continue
                if key == "":
                    continue
                if image[8:10] == "= ":
                    yield key, parse_card_value(image)
                    continue
            try:
                card = _astropy_card(image)
                value = card.value
            except Exception as exc:  # astropy raises VerifyError and others
                raise CardParseError(f"cannot parse card {image[:80]!r}: {exc}") from exc
            if card.keyword:
                yield card.keyword, value

    def parsed(self) -> dict[str, Any]:
        """All keywords (upper case) and values, first card wins, COMMENT/HISTORY joined."""
        if self._parsed is None:
            out: dict[str, Any] = {}
            commentary: dict[str, list[str]] = {}
            for key, value in self.items_with_duplicates():
                if key in ("COMMENT", "HISTORY"):
                    commentary.setdefault(key, []).append(str(value))
                elif key not in out:
                    out[key] = value
            for key, values in commentary.items():
                out[key] = ",".join(values)
            self._parsed = out
        return self._parsed
