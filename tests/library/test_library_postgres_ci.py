"""CI must test PostgreSQL for real: the server is configured, reachable and used."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ccdcal.library import CalibrationLibrary

SERVICES = Path(__file__).resolve().parents[2] / ".ci" / "services.sh"


def test_ci_sets_the_postgres_url() -> None:
    if os.environ.get("CI", "").lower() != "true":
        pytest.skip("only checked in CI (CI=true), where .ci/services.sh must start PostgreSQL")
    assert os.environ.get("CCDCAL_TEST_POSTGRES_URL"), (
        "CCDCAL_TEST_POSTGRES_URL is not set in CI: `source .ci/services.sh` did not export it"
    )


@pytest.mark.postgres
def test_postgres_server_is_real(postgres_server_url: str) -> None:
    engine = create_engine(postgres_server_url)
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version()")).scalar_one()
    engine.dispose()
    assert version.startswith("PostgreSQL ")


@pytest.mark.postgres
def test_library_on_postgres_hides_the_password(postgres_schema_url: str) -> None:
    # The CI server trusts loopback connections, so any password is accepted.
    url = make_url(postgres_schema_url).set(password="s3cret")
    with CalibrationLibrary(url.render_as_string(hide_password=False)) as lib:
        assert lib.dialect == "postgresql"
        assert "s3cret" not in lib.location
        assert "s3cret" not in repr(lib)
        assert ":***@" in lib.location


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_services_script_is_valid_bash() -> None:
    result = subprocess.run(
        ["bash", "-n", str(SERVICES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
