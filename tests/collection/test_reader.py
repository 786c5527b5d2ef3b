"""read_headers: order kept, serial and threaded reads agree, progress, bad files listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccdcal.collection import reader
from ccdcal.collection.frame import UnreadableFile
from ccdcal.collection.reader import read_headers

from .conftest import write_frame


@pytest.fixture
def mixed(tmp_path: Path) -> list[Path]:
    paths = [write_frame(tmp_path / f"f{i:03d}.fits", {"INDEX": i}) for i in range(60)]
    bad = tmp_path / "f030.fits"
    bad.write_bytes(b"garbage" * 500)
    return paths


def _summary(results: list[object]) -> list[object]:
    return [r.reason if isinstance(r, UnreadableFile) else r.cards["INDEX"] for r in results]


@pytest.mark.parametrize("workers", [1, 4, None])
def test_order_and_content_do_not_depend_on_workers(mixed: list[Path], workers: int | None) -> None:
    results = read_headers(mixed, use_cache=False, workers=workers)
    expected: list[object] = list(range(60))
    expected[30] = results[30].reason  # type: ignore[union-attr]
    assert _summary(results) == expected
    assert isinstance(results[30], UnreadableFile)
    assert results[30].reason.startswith("not a FITS file")


def test_slow_disk_switches_to_threads(mixed: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[int] = []
    real = reader._read_threaded

    def spy(paths: list[str], ext: object, progress: object, workers: int) -> object:
        used.append(workers)
        return real(paths, ext, progress, workers)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "_read_threaded", spy)
    monkeypatch.setattr(reader, "SLOW_READ_SECONDS", 0.0)
    results = read_headers(mixed, use_cache=False)
    assert used
    assert used[0] > 1
    assert _summary(results)[:5] == [0, 1, 2, 3, 4]


def test_fast_disk_stays_serial(mixed: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "SLOW_READ_SECONDS", 1e9)
    monkeypatch.setattr(reader, "_read_threaded", None)  # would fail if called
    assert len(read_headers(mixed, use_cache=False)) == 60


def test_progress_reaches_total(mixed: list[Path]) -> None:
    calls: list[tuple[int, int]] = []
    read_headers(mixed, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (60, 60)
    assert all(total == 60 for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    calls.clear()
    read_headers(mixed, progress=lambda done, total: calls.append((done, total)))  # from the cache
    assert calls[-1] == (60, 60)


def test_relative_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_frame(tmp_path / "rel.fits", {"A": 1})
    monkeypatch.chdir(tmp_path)
    result = read_headers(["rel.fits", "missing.fits"])
    assert result[0].cards["A"] == 1
    assert result[1] == UnreadableFile(str(tmp_path / "missing.fits"), "no such file")


def test_folder_is_not_a_regular_file(tmp_path: Path) -> None:
    result = read_headers([tmp_path])[0]
    assert isinstance(result, UnreadableFile)
    assert result.reason == "not a regular file"
