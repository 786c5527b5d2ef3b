"""FITS header cards: making ``meta`` FITS-safe, units in ``BUNIT``, WCS cards.

Examples
--------
>>> h = header_from_meta({"NAXIS": 2, "object": "M67", "subtract_dark": ("subdark", "ccdproc")})
>>> list(h.keys()), h.comments["SUBTRACT_DARK"]
(['OBJECT', 'SUBTRACT_DARK'], 'ccdproc')
>>> parse_bunit("ADU"), bunit_string(parse_bunit("electrons"))
(Unit("adu"), 'electron')
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from ccdcal.errors import FrameWriteError

__all__ = ["bunit_string", "header_from_meta", "parse_bunit", "split_wcs"]

logger = logging.getLogger(__name__)

# Cards that describe the stored array, not the frame: written afresh on output.
_STRUCTURAL = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|BZERO|BSCALE|BLANK|"
    r"CHECKSUM|DATASUM|EXTNAME|EXTVER|EXTLEVEL|TFIELDS|T(TYPE|FORM|DIM)\d+|"
    r"Z(IMAGE|SIMPLE|TENSION|EXTEND|BITPIX|NAXIS\d*|TILE\d*|CMPTYPE|NAME\d+|VAL\d+|"
    r"QUANTIZ|DITHER0|BLANK|SCALE|ZERO|HECKSUM|DATASUM|PCOUNT|GCOUNT|MASKCMP))$"
)

# Unit spellings cameras and other programs write that astropy does not parse.
_UNIT_ALIASES = {
    "adu": "adu",
    "adus": "adu",
    "electron": "electron",
    "electrons": "electron",
    "e-": "electron",
    "count": "count",
    "counts": "count",
    "dimensionless": "",
}
_UNIT_WORD = re.compile(r"[A-Za-z]+-?")

_COMMENTARY = {"COMMENT": "add_comment", "HISTORY": "add_history", "": "add_blank"}


# --------------------------------------------------------------------------- units


def parse_bunit(text: str) -> u.UnitBase:
    """Parse a ``BUNIT`` value, accepting the spellings cameras use.

    ``ADU``, ``ADUs``, ``ELECTRONS`` and ``e-`` are understood in any case,
    also inside compound units such as ``'ADU/S'``.

    Raises
    ------
    ValueError
        The text is not a unit.

    Examples
    --------
    >>> parse_bunit("ADU"), parse_bunit("ELECTRONS/S"), parse_bunit("dimensionless")
    (Unit("adu"), Unit("electron / s"), Unit(dimensionless))
    """
    text = text.strip()
    if text.lower() in _DIMENSIONLESS:  # bunit_string writes it; astropy parses it slowly
        return u.dimensionless_unscaled
    try:
        return u.Unit(text)
    except ValueError:
        if not text.isupper():
            return u.Unit(_UNIT_WORD.sub(_alias, text))
    # all capitals ('ELECTRONS/S'): read the words in lower case, so S is seconds
    return u.Unit(_UNIT_WORD.sub(lambda m: _alias(m).lower(), text))


#: ``BUNIT`` texts of a dimensionless frame (a normalised flat).
_DIMENSIONLESS = frozenset({"dimensionless", ""})


def _alias(match: re.Match[str]) -> str:
    word = match.group(0)
    return _UNIT_ALIASES.get(word.lower(), word)


def bunit_string(unit: u.UnitBase) -> str:
    """The ``BUNIT`` text for a unit (``'dimensionless'`` rather than an empty string).

    >>> bunit_string(u.electron / u.s), bunit_string(u.dimensionless_unscaled)
    ('electron / s', 'dimensionless')
    """
    if unit == u.dimensionless_unscaled:
        return "dimensionless"
    return unit.to_string()


# --------------------------------------------------------------------------- cards


def _fits_value(key: str, value: Any) -> Any:
    if isinstance(value, u.Quantity) and value.isscalar:
        return float(value.value)
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, complex)):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.isascii() and text.isprintable():
        return text
    cleaned = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = "".join(ch if ch.isprintable() else " " for ch in cleaned)
    logger.warning("header keyword %s: replaced non-ASCII text %r by %r", key, text, cleaned)
    return cleaned


def _card_key(key: str) -> str:
    key = key.strip().upper()
    if key.startswith("HIERARCH "):
        return key
    if len(key) > 8 or not re.fullmatch(r"[A-Z0-9_-]*", key):
        return f"HIERARCH {key}"
    return key


def _unwritable(key: str, value: Any, exc: Exception) -> FrameWriteError:
    return FrameWriteError(
        f"header keyword {key!r} with value {value!r} cannot be written to FITS "
        f"({exc}); remove or rename it in ccd.meta before writing"
    )


def _value_comment(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1]
    return value, None


def _add_card(header: fits.Header, key: str, value: Any) -> None:
    value, comment = _value_comment(value)
    commentary = _COMMENTARY.get(key.upper())
    if commentary is not None:
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            getattr(header, commentary)(str(_fits_value(key, item)))
        return
    card_key = _card_key(key)
    try:
        header[card_key] = (_fits_value(key, value), comment)
    except (ValueError, KeyError, TypeError) as exc:
        raise _unwritable(key, value, exc) from exc


def _new_card(key: str, value: Any) -> fits.Card:
    """The card ``header[key] = value`` appends to a header without ``key``."""
    value, comment = _value_comment(value)
    try:
        return fits.Card(_card_key(key), _fits_value(key, value), comment)
    except (ValueError, KeyError, TypeError) as exc:
        raise _unwritable(key, value, exc) from exc


def _all_plain_and_distinct(keys: list[str]) -> bool:
    """No commentary card and no keyword twice: the cards then go in as they come."""
    seen = {_card_key(key).removeprefix("HIERARCH ") for key in keys}
    return len(seen) == len(keys) and not any(key.upper() in _COMMENTARY for key in keys)


def _card_item(card: fits.Card) -> tuple[str, Any]:
    """``(keyword, (value, comment))`` of a card; an unparsable one is an error."""
    try:
        return card.keyword, (card.value, card.comment or None)
    except fits.VerifyError as exc:
        raise FrameWriteError(
            f"header keyword {card.keyword!r} cannot be written to FITS: its card "
            f"cannot be read ({exc}); remove or correct it in ccd.meta before writing"
        ) from exc


def header_from_meta(meta: Mapping[str, Any] | fits.Header | None) -> fits.Header:
    """A FITS header for a frame's ``meta``, without the array-description cards.

    ``SIMPLE``, ``BITPIX``, ``NAXISn``, ``BZERO``/``BSCALE``, checksums and
    compression cards are dropped (they are written afresh). Keys longer
    than 8 characters become HIERARCH cards; long strings use CONTINUE cards;
    ``(value, comment)`` pairs keep their comment.

    Examples
    --------
    >>> h = header_from_meta({"BITPIX": 16, "exptime": 60.0, "subtract_bias": "subbias"})
    >>> list(h.keys())
    ['EXPTIME', 'SUBTRACT_BIAS']
    """
    if meta is None:
        return fits.Header()
    cards: Iterable[tuple[str, Any]]
    if isinstance(meta, fits.Header):
        cards = (_card_item(card) for card in meta.cards)
    else:
        cards = meta.items()
    items = [(str(key), value) for key, value in cards if not _STRUCTURAL.match(str(key).upper())]
    if _all_plain_and_distinct([key for key, _ in items]):
        # one card each, in order: the header setting them one by one would hold
        # the same cards, but looks each keyword up first
        return fits.Header([_new_card(key, value) for key, value in items])
    header = fits.Header()
    for key, value in items:
        _add_card(header, key, value)
    return header


def split_wcs(header: fits.Header) -> tuple[fits.Header, WCS | None]:
    """Build the WCS of a header that has one, and take its cards out of the header.

    A header without ``CTYPE1`` is returned as it is, with no WCS (building
    one is slow and astropy finds none there anyway). Otherwise the header
    is changed in place, as astropy's FITS reader does: the WCS cards move to
    the returned ``WCS``, while ``DATE-OBS`` and ``MJD-OBS`` stay.

    >>> h = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 10.0,
    ...                  "OBJECT": "M67"})
    >>> h, wcs = split_wcs(h)
    >>> list(h.keys()), wcs.wcs.crval[0]
    (['OBJECT'], np.float64(10.0))
    """
    if "CTYPE1" not in header:
        return header, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header)
    except Exception as exc:  # a malformed WCS must not make the frame unreadable
        logger.info("could not build a WCS from the header: %s", exc)
        return header, None
    if not wcs.wcs.ctype[0]:
        return header, None
    wcs_cards = wcs.to_header(relax=True)
    for key in wcs_cards:
        if key not in ("DATE-OBS", "MJD-OBS", "JD-OBS"):
            header.remove(key, ignore_missing=True, remove_all=True)
    if any(k.startswith("PC") for k in wcs_cards):
        for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"):
            header.remove(key, ignore_missing=True)
    if wcs.sip is not None:
        sip = re.compile(r"^(A|B|AP|BP)_(\d+_\d+|ORDER)$")
        for key in [k for k in header if sip.match(k)]:
            header.remove(key, ignore_missing=True, remove_all=True)
    return header, wcs
