"""Database connections for the calibration library: URLs, SQLite settings, retries.

Several runs may write into one library at the same time.  What keeps the
database consistent:

* **SQLite**: write-ahead logging (``journal_mode=WAL``: readers never block
  the writer), a busy timeout (a writer waits for the lock instead of
  failing), foreign keys on, and write transactions that start with
  ``BEGIN IMMEDIATE`` so two writers never both read and then both try to
  upgrade their lock (which SQLite can only resolve by failing one of them).
* **PostgreSQL**: ordinary ``READ COMMITTED`` transactions; table creation
  is serialised with an advisory lock.
* **Everywhere**: unique constraints on the natural keys, writes that look
  for the existing row first, and :func:`run_transaction`, which retries a
  transaction that lost a race (unique violation, deadlock, lock timeout).

Examples
--------
>>> resolve_url("sqlite://")
'sqlite://'
>>> resolve_url("/data/night/calibration-library.sqlite")
'sqlite:////data/night/calibration-library.sqlite'
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from ccdcal.errors import LibraryError
from ccdcal.library import DEFAULT_FILENAME
from ccdcal.library.schema import SCHEMA_VERSION, UPGRADES, Base, SchemaRow
from ccdcal.library.times import now_utc

__all__ = [
    "BUSY_TIMEOUT_S",
    "DEFAULT_FILENAME",
    "WRITE_OPTION",
    "ensure_schema",
    "make_engine",
    "redact",
    "resolve_url",
    "run_transaction",
]

log = logging.getLogger(__name__)

#: How long a SQLite writer waits for the lock before giving up (seconds).
BUSY_TIMEOUT_S = 60.0
#: Execution option marking an engine whose transactions write.
WRITE_OPTION = "ccdcal_write"
#: A fixed key for PostgreSQL's advisory lock around schema creation.
_SCHEMA_LOCK_KEY = 0x63636463616C  # "ccdcal"

T = TypeVar("T")


def resolve_url(url_or_path: str | Path) -> str:
    """A SQLAlchemy URL for ``url_or_path``: URLs pass through, paths become SQLite files.

    A string containing ``://`` is a URL (``sqlite://`` is an in-memory
    database); anything else is the path of a SQLite file.

    >>> resolve_url("postgresql+psycopg2://u@localhost/db")
    'postgresql+psycopg2://u@localhost/db'
    """
    text_ = str(url_or_path)
    if "://" in text_:
        try:
            make_url(text_)
        except (ArgumentError, ValueError) as exc:
            raise LibraryError(f"cannot read the database URL {redact(text_)!r}: {exc}") from None
        return text_
    return f"sqlite:///{Path(text_).expanduser().resolve()}"


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs.

    >>> redact("postgresql://user:secret@host/db")
    'postgresql://user:***@host/db'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def _sqlite_file(url: str) -> str | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    return None if not database or database == ":memory:" else database


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Create the engine for ``url`` with the settings described in the module docstring.

    With ``create=False`` a SQLite file that does not exist is an error
    instead of a new empty library.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"future": True}
    if backend == "sqlite":
        path = _sqlite_file(url)
        if path is None:  # in-memory: one shared connection
            kwargs |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            if not Path(path).exists() and not create:
                raise LibraryError(
                    f"no calibration library at {path}; run a reduction into that directory "
                    "first, or name the database with --db"
                )
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise LibraryError(f"cannot open the database {redact(url)!r}: {exc}") from None
    if backend == "sqlite":
        _configure_sqlite(engine, wal=_sqlite_file(url) is not None)
    return engine


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _retryable(exc: DBAPIError) -> bool:
    """Whether ``exc`` means "lost a race, try again" rather than a real error."""
    if isinstance(exc, IntegrityError):
        return True  # a concurrent writer inserted the same key first
    code = getattr(exc.orig, "pgcode", None)
    if code in {"40001", "40P01", "55P03"}:  # serialization failure, deadlock, lock timeout
        return True
    message = str(exc.orig).lower()
    return isinstance(exc, OperationalError) and ("locked" in message or "busy" in message)


def run_transaction(engine: Engine, work: Callable[[Session], T], *, attempts: int = 8) -> T:
    """Run ``work(session)`` in one transaction, retrying when it loses a race.

    ``work`` must be safe to run again from the start (look up before
    inserting).  After ``attempts`` failures the last error is raised as a
    :class:`~ccdcal.errors.LibraryError`.
    """
    for attempt in range(1, attempts + 1):
        try:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                return work(session)
        except DBAPIError as exc:
            if not _retryable(exc) or attempt == attempts:
                raise LibraryError(
                    f"calibration library write failed after {attempt} attempt(s) on "
                    f"{redact(str(engine.url))}: {exc.orig}"
                ) from exc
            delay = min(2.0, 0.02 * 2**attempt) * (0.5 + random.random())
            log.debug("retrying a library transaction in %.2f s after: %s", delay, exc.orig)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def ensure_schema(engine: Engine) -> int:
    """Create missing tables, upgrade an older schema, refuse a newer one.

    Returns the schema version.  Safe when several processes open a new
    database at once: the whole step is one serialised write transaction.
    """
    from ccdcal import __version__

    def work(session: Session) -> int:
        connection = session.connection()
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK_KEY})
        Base.metadata.create_all(connection)
        row = session.scalars(select(SchemaRow).where(SchemaRow.id == 1)).one_or_none()
        if row is None:
            session.add(
                SchemaRow(
                    id=1,
                    version=SCHEMA_VERSION,
                    created=now_utc(),
                    software_version=__version__,
                    masters_generation=0,
                )
            )
            return SCHEMA_VERSION
        if row.version > SCHEMA_VERSION:
            raise LibraryError(
                f"the calibration library {redact(str(engine.url))} has schema version "
                f"{row.version}, made by ccdcal {row.software_version}; this ccdcal "
                f"({__version__}) knows version {SCHEMA_VERSION}: upgrade ccdcal"
            )
        for version in range(row.version, SCHEMA_VERSION):
            log.info("upgrading the calibration library schema %d -> %d", version, version + 1)
            UPGRADES[version](connection)
        row.version = SCHEMA_VERSION
        return SCHEMA_VERSION

    return run_transaction(engine.execution_options(**{WRITE_OPTION: True}), work)
