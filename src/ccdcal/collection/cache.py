"""A persistent cache of FITS headers, so that scanning an unchanged folder again is near-instant.

Each entry is keyed by the file's absolute path, the HDU asked for, the file
size and its modification time in nanoseconds; a file that changed in any of
these is read again. The whole header is stored (as compact text), so a later
request for any keyword is served from the cache. Files that could not be
read are cached with the reason, so a broken file is not re-read either.

The cache is one SQLite database, ``headers.sqlite3``, in the folder named by
the environment variable ``CCDCAL_CACHE_DIR``, else in the user's cache folder
(``platformdirs.user_cache_dir('ccdcal')``). Nothing is ever written next to
the data. The database uses write-ahead logging and a busy timeout, so several
processes may scan at once. A corrupt or unusable cache is rebuilt or, failing
that, switched off for the process; it never stops a scan.

Examples
--------
>>> import os, tempfile
>>> cache = HeaderCache(os.path.join(tempfile.mkdtemp(), "headers.sqlite3"))
>>> cache.lookup([CacheKey("/data", "r1.fits", "0", 5760, 0)])
{}
>>> cache.close()
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import platformdirs

from ccdcal.collection.cards import HeaderCards
from ccdcal.collection.fitsfile import HDUHeader

__all__ = ["CACHE_ENV", "MAX_SUMMARIES", "CacheKey", "HeaderCache", "cache_dir"]

logger = logging.getLogger(__name__)

#: Environment variable naming the cache folder.
CACHE_ENV = "CCDCAL_CACHE_DIR"
_SCHEMA_VERSION = 3
_DB_NAME = "headers.sqlite3"
#: Files modified less than this long before they were read are not cached: a
#: file being written could change again within the resolution of its mtime.
RACY_SECONDS = 2.0
_IN_QUERY_LIMIT = 400
#: Summary tables kept (the most recent ones).
MAX_SUMMARIES = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hdu_headers (
    dir TEXT NOT NULL,
    name TEXT NOT NULL,
    ext TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hdu INTEGER,
    shape TEXT,
    compressed INTEGER,
    cards TEXT,
    primary_cards TEXT,
    error TEXT,
    PRIMARY KEY (dir, ext, name)
);
CREATE TABLE IF NOT EXISTS summaries (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    payload TEXT NOT NULL,
    stored REAL NOT NULL
);
"""


def cache_dir() -> Path:
    """The folder of the header cache (``$CCDCAL_CACHE_DIR`` or the user's cache folder).

    Examples
    --------
    >>> isinstance(cache_dir(), Path)
    True
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("ccdcal"))


class CacheKey(NamedTuple):
    """What identifies one cached header: folder, file name, HDU spec, size, mtime."""

    folder: str
    name: str
    ext: str
    size: int
    mtime_ns: int

    @property
    def path(self) -> str:
        """The absolute path."""
        folder = self.folder
        return folder + self.name if folder.endswith(os.sep) else folder + os.sep + self.name


#: A cached result: the header, or the reason the file could not be read.
CacheValue = HDUHeader | str


def _encode(value: CacheValue) -> tuple[object, ...]:
    if isinstance(value, str):
        return (None, None, None, None, None, value)
    shape = ",".join(map(str, value.shape)) if value.shape is not None else None
    primary = value.primary.text if value.primary is not None else None
    return (value.index, shape, int(value.compressed), value.cards.text, primary, None)


_SHAPES: dict[str, tuple[int, ...]] = {}


def _shape(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    shape = _SHAPES.get(text)
    if shape is None:
        shape = _SHAPES.setdefault(text, tuple(map(int, text.split(","))))
    return shape


def _decode(row: Sequence[Any]) -> CacheValue:
    hdu, shape, compressed, cards, primary, error = row
    if error is not None:
        return str(error)
    return HDUHeader(
        HeaderCards(cards),
        hdu,
        _shape(shape),
        bool(compressed),
        HeaderCards(primary) if primary is not None else None,
    )


class HeaderCache:
    """The SQLite header cache.

    Parameters
    ----------
    path : path-like, optional
        The database file; default ``cache_dir() / 'headers.sqlite3'``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else cache_dir() / _DB_NAME
        self._conn: sqlite3.Connection | None = None
        self._disabled = False

    # -- connection -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection | None:
        if self._disabled:
            return None
        if self._conn is not None:
            return self._conn
        for attempt in range(2):
            try:
                self._conn = self._open()
                return self._conn
            except (sqlite3.Error, OSError) as exc:
                self._close_quietly()
                if attempt == 0 and isinstance(exc, sqlite3.DatabaseError):
                    logger.warning(
                        "header cache %s is unusable (%s); rebuilding it", self.path, exc
                    )
                    self._remove_files()
                    continue
                logger.warning("header cache %s switched off: %s", self.path, exc)
        self._disabled = True
        return None

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30.0)
        self._conn = conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != _SCHEMA_VERSION:
            with conn:
                conn.execute("DROP TABLE IF EXISTS hdu_headers")
                conn.execute("DROP TABLE IF EXISTS summaries")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        conn.execute("SELECT count(*) FROM hdu_headers WHERE dir = ''").fetchone()
        return conn

    def _close_quietly(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("cannot remove %s%s: %s", self.path, suffix, exc)

    def _failed(self, exc: sqlite3.Error, doing: str) -> None:
        logger.warning(
            "header cache %s: %s failed (%s); going on without it", self.path, doing, exc
        )
        self._close_quietly()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            self._remove_files()  # corrupt: the next process starts afresh
        self._disabled = True

    def close(self) -> None:
        """Close the database connection."""
        self._close_quietly()

    def __enter__(self) -> HeaderCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups ----------------------------------------------------------------

    def lookup(self, keys: Sequence[CacheKey]) -> dict[CacheKey, CacheValue]:
        """The cached entries of ``keys`` that are still valid (same size and mtime)."""
        conn = self._connect()
        if conn is None or not keys:
            return {}
        groups: dict[tuple[str, str], dict[str, CacheKey]] = {}
        for key in keys:
            groups.setdefault((key.folder, key.ext), {})[key.name] = key
        found: dict[CacheKey, CacheValue] = {}
        try:
            for (folder, ext), wanted in groups.items():
                for row in self._rows(conn, folder, ext, list(wanted)):
                    hit = wanted.get(row[0])
                    if hit is not None and row[1] == hit.size and row[2] == hit.mtime_ns:
                        found[hit] = _decode(row[3:])
        except sqlite3.Error as exc:
            self._failed(exc, "lookup")
            return {}
        return found

    def _rows(
        self, conn: sqlite3.Connection, folder: str, ext: str, names: list[str]
    ) -> list[Sequence[Any]]:
        columns = "name, size, mtime_ns, hdu, shape, compressed, cards, primary_cards, error"
        if len(names) > _IN_QUERY_LIMIT:
            return conn.execute(
                f"SELECT {columns} FROM hdu_headers WHERE dir = ? AND ext = ?", (folder, ext)
            ).fetchall()
        marks = ",".join("?" * len(names))
        return conn.execute(
            f"SELECT {columns} FROM hdu_headers WHERE dir = ? AND ext = ? AND name IN ({marks})",
            (folder, ext, *names),
        ).fetchall()

    # -- storing ----------------------------------------------------------------

    def store(self, entries: Iterable[tuple[CacheKey, CacheValue]]) -> int:
        """Store entries (skipping files modified in the last two seconds); the number stored."""
        conn = self._connect()
        if conn is None:
            return 0
        newest = time.time_ns() - int(RACY_SECONDS * 1e9)
        rows = []
        for key, value in entries:
            if key.mtime_ns > newest:
                continue
            rows.append((*key, *_encode(value)))
        if not rows:
            return 0
        try:
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO hdu_headers VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
                )
        except sqlite3.Error as exc:
            self._failed(exc, "store")
            return 0
        return len(rows)

    def clear(self) -> None:
        """Forget every cached header and summary."""
        conn = self._connect()
        if conn is None:
            return
        try:
            with conn:
                conn.execute("DELETE FROM hdu_headers")
                conn.execute("DELETE FROM summaries")
        except sqlite3.Error as exc:
            self._failed(exc, "clear")

    # -- whole summaries ------------------------------------------------------------

    def lookup_summary(self, key: str, fingerprint: str) -> str | None:
        """A stored summary (JSON text) when its files are unchanged (same fingerprint)."""
        conn = self._connect()
        if conn is None:
            return None
        try:
            row = conn.execute(
                "SELECT fingerprint, payload FROM summaries WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error as exc:
            self._failed(exc, "summary lookup")
            return None
        if row is None or row[0] != fingerprint:
            return None
        return str(row[1])

    def store_summary(self, key: str, fingerprint: str, payload: str) -> None:
        """Store a summary, keeping the :data:`MAX_SUMMARIES` most recent."""
        conn = self._connect()
        if conn is None:
            return
        try:
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO summaries VALUES (?, ?, ?, ?)",
                    (key, fingerprint, payload, time.time()),
                )
                conn.execute(
                    "DELETE FROM summaries WHERE key NOT IN "
                    "(SELECT key FROM summaries ORDER BY stored DESC LIMIT ?)",
                    (MAX_SUMMARIES,),
                )
        except sqlite3.Error as exc:
            self._failed(exc, "summary store")
