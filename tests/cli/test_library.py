"""``ccdcal library list|show|flag-bad|flag-good``."""

from __future__ import annotations

import os
import uuid
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ccdcal.cli.main import main
from ccdcal.library import CalibrationLibrary


def run(*argv: str) -> tuple[int, str]:
    console = Console(file=StringIO(), width=200)
    code = main(list(argv), console=console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return code, output


def fill(lib: CalibrationLibrary) -> dict[str, int]:
    """A bias used for one science frame, a flat with inputs, a dark flagged bad."""
    bias = lib.add_master(
        "bias",
        "/out/master-bias.fits",
        checksum="b",
        instrument="ST-8",
        xbin=1,
        ybin=1,
        date_start="2025-06-24T00:10",
        date_end="2025-06-24T00:20",
        quality={"mean": 1001.5},
    )
    flat = lib.add_master(
        "flat", "/out/master-flat-R.fits", checksum="f", instrument="ST-8", xbin=2, ybin=2,
        filter="R", inputs=[{"path": f"/raw/flat-{i}.fits", "frame_type": "flat", "exptime": 3,
                             "date_obs": f"2025-06-24T01:0{i}:00"} for i in range(3)],
    )  # fmt: skip
    dark = lib.add_master(
        "dark",
        "/out/master-dark-60.fits",
        checksum="d",
        instrument="ST-8",
        xbin=1,
        ybin=1,
        exptime=60,
        ccd_temp=-10.0,
        date_start="2025-06-20T02:00",
        date_end="2025-06-20T03:00",
    )
    lib.flag_bad(dark.id, "light leak")
    lib.record_usage("/out/m57-R-001.fits", "bias", bias.id, note="same night")
    return {"bias": bias.id, "flat": flat.id, "dark": dark.id}


@pytest.fixture
def out_dir(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    with CalibrationLibrary.for_output_dir(tmp_path) as lib:
        ids = fill(lib)
    return tmp_path, ids


def test_list_shows_every_master(out_dir: tuple[Path, dict[str, int]]) -> None:
    path, ids = out_dir
    code, output = run("library", "list", str(path))
    assert code == 0
    assert "3 master(s)" in output
    header = next(line for line in output.splitlines() if "┃" in line)
    names = [cell.strip() for cell in header.split("┃")[1:-1]]
    rows = [
        dict(zip(names, (cell.strip() for cell in line.split("│")[1:-1]), strict=True))
        for line in output.splitlines()
        if line.startswith("│")
    ]
    by_kind = {row["kind"]: row for row in rows}
    assert set(by_kind) == {"bias", "dark", "flat"}
    flat, dark = by_kind["flat"], by_kind["dark"]
    assert (flat["file"], flat["bin"], flat["filter"], flat["n"]) == (
        "master-flat-R.fits", "2x2", "R", "3",
    )  # fmt: skip
    assert flat["inputs (UTC)"] == "2025-06-24 01:00 – 01:02"
    assert (dark["id"], dark["exp"], dark["temp"]) == (str(ids["dark"]), "60 s", "-10.0 °C")
    assert dark["status"] == "BAD: light leak"
    assert by_kind["bias"]["status"] == "ok"


def test_list_filters(out_dir: tuple[Path, dict[str, int]]) -> None:
    path, _ = out_dir
    code, output = run("library", "list", str(path), "--usable")
    assert code == 0
    assert "2 master(s)" in output
    assert "light leak" not in output
    code, output = run("library", "list", str(path), "--kind", "flat", "--filter", "R")
    assert "1 master(s)" in output
    assert "master-flat-R.fits" in output


def test_show_gives_inputs_quality_and_use(out_dir: tuple[Path, dict[str, int]]) -> None:
    path, ids = out_dir
    code, output = run("library", "show", str(path), str(ids["flat"]))
    assert code == 0
    assert f"flat #{ids['flat']} (ST-8, 2x2, filter R)" in output
    assert "Inputs (3)" in output
    for i in range(3):
        assert f"/raw/flat-{i}.fits" in output
    code, output = run("library", "show", str(path), str(ids["bias"]))
    assert "quality: mean" in output
    assert "1001.5" in output
    assert "Used for (1 science frame(s))" in output
    assert "/out/m57-R-001.fits" in output


def test_flag_bad_then_good(out_dir: tuple[Path, dict[str, int]]) -> None:
    path, ids = out_dir
    code, output = run("library", "flag-bad", str(path), str(ids["flat"]), "--reason", "dust")
    assert code == 0
    assert "bad: dust" in output
    with CalibrationLibrary.for_output_dir(path) as lib:
        assert lib.get_master(ids["flat"]).bad_reason == "dust"
    code, output = run("library", "flag-good", str(path), str(ids["flat"]))
    assert code == 0
    with CalibrationLibrary.for_output_dir(path) as lib:
        assert lib.get_master(ids["flat"]).is_bad is False


def test_flag_bad_needs_a_reason(out_dir: tuple[Path, dict[str, int]]) -> None:
    path, ids = out_dir
    with pytest.raises(SystemExit, match="2"):
        run("library", "flag-bad", str(path), str(ids["flat"]))


def test_db_option_and_default_directory(
    out_dir: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = out_dir
    code, output = run(
        "library", "show", "--db", str(path / "calibration-library.sqlite"), str(ids["dark"])
    )
    assert code == 0
    assert "BAD: light leak" in output
    monkeypatch.chdir(path)
    code, output = run("library", "list")
    assert code == 0
    assert "3 master(s)" in output


def test_errors_are_reported_not_raised(out_dir: tuple[Path, dict[str, int]]) -> None:
    path, _ = out_dir
    code, output = run("library", "show", str(path), "4242")
    assert code == 1
    assert "no master #4242" in output
    code, output = run("library", "list", str(path / "elsewhere"))
    assert code == 1
    assert "no calibration library at" in output
    assert not (path / "elsewhere").exists()


@pytest.mark.postgres
def test_list_on_postgres() -> None:
    server = os.environ.get("CCDCAL_TEST_POSTGRES_URL")
    if not server:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CCDCAL_TEST_POSTGRES_URL is not set in CI")
        pytest.skip("CCDCAL_TEST_POSTGRES_URL is not set; run `source .ci/services.sh`")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    db = url.render_as_string(hide_password=False)
    try:
        with CalibrationLibrary(db) as lib:
            ids = fill(lib)
        code, output = run("library", "flag-bad", "--db", db, str(ids["bias"]), "--reason", "x")
        assert code == 0
        code, output = run("library", "list", "--db", db, "--usable")
        assert code == 0
        assert "1 master(s)" in output
        assert "master-flat-R.fits" in output
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
