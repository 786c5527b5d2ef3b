"""The summary table of an :class:`~ccdcal.collection.ImageFileCollection`, and filtering on it.

The table has the form ccdproc 2.5.1 gives it, so that code using it keeps
working: a masked astropy Table whose first column is ``file``, one column per
keyword (lower case for ``'*'``, else in the case asked for), a masked cell
where a file lacks the keyword, ``COMMENT``/``HISTORY`` cards joined with
commas, and an all-masked column for a keyword no file has. Unlike ccdproc,
only the keywords asked for are parsed (the headers are in memory as text).

:func:`match_rows` applies ccdproc's filter rules: ``'*'`` matches any value
present, ``None`` matches a missing keyword, strings match case-insensitively
(exactly, or by regular-expression search with ``regex_match``), other values
by ``==``.

Examples
--------
>>> from ccdcal.collection.cards import HeaderCards
>>> h1 = HeaderCards.from_cards(["IMAGETYP= 'BIAS'", "EXPTIME =                  0.0"])
>>> h2 = HeaderCards.from_cards(["IMAGETYP= 'LIGHT'", "EXPTIME =                 30.0"])
>>> table = build_summary(["a.fits", "b.fits"], [h1, h2], ["imagetyp", "exptime"])
>>> table.colnames, table["exptime"].tolist()
(['file', 'imagetyp', 'exptime'], [0.0, 30.0])
>>> match_rows(table, {"imagetyp": "light"}).tolist()
[False, True]
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from astropy.table import MaskedColumn, Table

from ccdcal.collection.cache import CacheKey
from ccdcal.collection.cards import CardParseError, HeaderCards, values_of
from ccdcal.collection.frame import UnreadableFile
from ccdcal.errors import CollectionWarning

__all__ = [
    "build_summary",
    "decode_summary",
    "encode_summary",
    "files_fingerprint",
    "match_rows",
    "summary_columns",
    "summary_key",
    "table_from_columns",
]

logger = logging.getLogger(__name__)

_MULTI = ("comment", "history")


def _value(cards: HeaderCards, key: str, name: str) -> Any:
    try:
        return cards.get(key)
    except CardParseError as exc:
        logger.warning("%s: %s; the summary shows it as missing", name, exc)
        return None


def _columns_for_keys(
    names: Sequence[str], headers: Sequence[HeaderCards], keys: Sequence[str]
) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {"file": list(names)}
    for key in keys:
        try:
            values = values_of(headers, key)
        except CardParseError:
            values = [_value(cards, key, name) for name, cards in zip(names, headers, strict=True)]
        if any(v is not None for v in values):
            columns[key] = values
    return columns


def _file_row(name: str, cards: HeaderCards) -> dict[str, Any]:
    row: dict[str, Any] = {}
    multi: dict[str, list[str]] = {k: [] for k in _MULTI}
    try:
        items = list(cards.items_with_duplicates())
    except CardParseError as exc:
        logger.warning("%s: %s; reading its cards one by one", name, exc)
        items = _items_skipping_bad(cards, name)
    for key, value in items:
        k = key.lower()
        if k in multi:
            multi[k].append(str(value))
        elif k in row:
            warnings.warn(
                f'Header from file "{name}" contains multiple entries for "{k}", '
                f'the pair "{k}={value}" will be ignored.',
                CollectionWarning,
                stacklevel=5,
            )
        else:
            row[k] = value
    for k, values in multi.items():
        if values:
            row[k] = ",".join(values)
    return row


def _items_skipping_bad(cards: HeaderCards, name: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for image in cards.grouped_images():
        single = HeaderCards.from_cards([image])
        try:
            out.extend(single.items_with_duplicates())
        except CardParseError as exc:
            logger.warning("%s: %s; left out of the summary", name, exc)
    return out


def _columns_for_all(names: Sequence[str], headers: Sequence[HeaderCards]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {"file": []}
    for n, (name, cards) in enumerate(zip(names, headers, strict=True)):
        for key, value in _file_row(name, cards).items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * n
            column.append(value)
        columns["file"].append(name)
        for column in columns.values():
            if len(column) == n:
                column.append(None)
    return columns


def _requested(keywords: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(k for k in keywords if k != "file"))


def summary_columns(
    names: Sequence[str], headers: Sequence[HeaderCards], keywords: Sequence[str]
) -> dict[str, list[Any]]:
    """The summary's values as lists (None where a file lacks the keyword), ``file`` first.

    Keys are lower case; :func:`table_from_columns` makes the table.
    """
    requested = _requested(keywords)
    if "*" in requested:
        return _columns_for_all(names, headers)
    return _columns_for_keys(names, headers, [k.lower() for k in requested])


def build_summary(
    names: Sequence[str], headers: Sequence[HeaderCards], keywords: Sequence[str]
) -> Table:
    """The summary table of files ``names`` with headers ``headers``.

    Parameters
    ----------
    names : sequence of str
        What the ``file`` column shows.
    headers : sequence of HeaderCards
        One header per name.
    keywords : sequence of str
        The keywords to show (any case; ``'file'`` is ignored); ``'*'`` among
        them means every keyword of every file.
    """
    return table_from_columns(summary_columns(names, headers, keywords), keywords)


def table_from_columns(columns: Mapping[str, list[Any]], keywords: Sequence[str]) -> Table:
    """The summary table from :func:`summary_columns` output, in ccdproc's form."""
    requested = _requested(keywords)
    every = "*" in requested
    table = Table(dict(columns), masked=True) if columns["file"] else Table(masked=True)
    if not columns["file"]:
        table["file"] = MaskedColumn(np.array([], dtype=str))
    for name in table.colnames:
        table[name].mask = [v is None for v in columns.get(name, [])] or False
    if every:
        return table
    for key in requested:
        lower = key.lower()
        if lower in table.colnames and lower != key:
            table.rename_column(lower, key)
        elif key not in table.colnames:
            table[key] = MaskedColumn(np.zeros(len(table)), mask=np.ones(len(table), dtype=bool))
    return table[["file", *requested]]


# -- whole summaries in the header cache -----------------------------------------------

_JSON_TYPES = (str, int, float, bool, type(None))
_TRANSIENT = ("cannot", "no such file", "not a regular file")  # reasons that may change


def summary_key(
    paths: Sequence[str], names: Sequence[str], ext: str, keywords: Sequence[str]
) -> str:
    """Cache key of a summary: the files (in order, and as the ``file`` column names them),
    the HDU and the keywords."""
    text = json.dumps([ext, list(keywords), list(paths), list(names)])
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def files_fingerprint(stats: Sequence[CacheKey | UnreadableFile]) -> str:
    """Changes when any file's size or modification time changes (or it appears/vanishes)."""
    parts = [f"{s.size}:{s.mtime_ns}" if isinstance(s, CacheKey) else f"!{s.reason}" for s in stats]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def encode_summary(
    columns: Mapping[str, list[Any]], unreadable: Sequence[UnreadableFile]
) -> str | None:
    """JSON of a summary's columns and unreadable files; None when it should not be stored.

    Not stored: values JSON cannot hold exactly (complex, undefined) and
    unreadable files whose reason may change without a new mtime.
    """
    if any(u.reason.startswith(_TRANSIENT) for u in unreadable):
        return None
    for values in columns.values():
        if not all(type(v) in _JSON_TYPES for v in values):
            return None
    return json.dumps({"columns": columns, "unreadable": [u.to_dict() for u in unreadable]})


def decode_summary(payload: str) -> tuple[dict[str, list[Any]], list[UnreadableFile]]:
    """Inverse of :func:`encode_summary`."""
    data = json.loads(payload)
    unreadable = [UnreadableFile(u["path"], u["reason"]) for u in data["unreadable"]]
    return data["columns"], unreadable


def _string_matches(column: Any, present: np.ndarray, value: str, regex_match: bool) -> np.ndarray:
    if regex_match:
        pattern = re.compile(value, flags=re.IGNORECASE)
    else:
        pattern = re.compile("^" + re.escape(value) + "$", flags=re.IGNORECASE)
    have = np.zeros(len(present), dtype=bool)
    for i, item in enumerate(column.tolist()):
        if not present[i]:
            continue
        try:
            have[i] = pattern.search(item) is not None
        except TypeError:  # a number in an object column
            have[i] = False
    return have


def match_rows(
    table: Table, criteria: Mapping[str, Any], *, regex_match: bool = False
) -> np.ndarray:
    """Boolean array: the rows of ``table`` whose columns have the given values.

    The table is not changed (ccdproc 2.5.1 sets a mask on its ``file``
    column here and, in its generators, leaves it behind).
    """
    matches = np.ones(len(table), dtype=bool)
    for key, value in criteria.items():
        column = table[key]
        missing = np.ma.getmaskarray(column)
        present = ~missing
        if isinstance(value, str) and value == "*":
            have = present
        elif value is None:
            have = missing
        elif isinstance(value, str):
            have = _string_matches(column, present, value, regex_match)
        else:
            have = present.copy()
            have[present] = np.asarray(column[present] == value, dtype=bool)
            have &= present
        matches &= have
    return matches
