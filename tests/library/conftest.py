"""Fixtures: a calibration library on SQLite and on PostgreSQL for every test that asks.

PostgreSQL tests need ``CCDCAL_TEST_POSTGRES_URL`` (``source .ci/services.sh``
starts a private server and sets it).  Without it they are skipped locally
and fail in CI (``CI=true``), so CI cannot silently skip PostgreSQL.  Each
test gets its own PostgreSQL schema, so parallel workers never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ccdcal.library import CalibrationLibrary

POSTGRES_ENV = "CCDCAL_TEST_POSTGRES_URL"


def postgres_url_or_skip() -> str:
    """The server URL; skip (locally) or fail (CI) when it is not configured."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{POSTGRES_ENV} is not set in CI: .ci/services.sh must start PostgreSQL")
    pytest.skip(f"{POSTGRES_ENV} is not set; run `source .ci/services.sh` to test PostgreSQL")


@pytest.fixture
def postgres_server_url() -> str:
    """The PostgreSQL server's URL (skip locally / fail in CI when not configured)."""
    return postgres_url_or_skip()


@pytest.fixture
def postgres_schema_url(postgres_server_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh, private schema (dropped afterwards)."""
    server = postgres_server_url
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each backend (a new SQLite file / a new PostgreSQL schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'library.sqlite'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def library(db_url: str) -> Iterator[CalibrationLibrary]:
    """An empty library on each backend."""
    lib = CalibrationLibrary(db_url)
    yield lib
    lib.close()
