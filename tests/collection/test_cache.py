"""The persistent header cache: hits, invalidation, corruption, concurrency, location."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ccdcal.collection import reader
from ccdcal.collection.cache import HeaderCache, cache_dir
from ccdcal.collection.frame import UnreadableFile
from ccdcal.collection.reader import read_headers

from .conftest import make_old, write_frame


class CountingReads:
    """Counts the files read from disk (cache misses)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real = reader.read_hdu_header

        def counting(path: str, ext: object = 0) -> object:
            self.paths.append(path)
            return real(path, ext)  # type: ignore[arg-type]

        monkeypatch.setattr(reader, "read_hdu_header", counting)


@pytest.fixture
def frames(tmp_path: Path) -> list[Path]:
    raw = tmp_path / "raw"
    return [write_frame(raw / f"r{i}.fits", {"EXPTIME": float(i)}) for i in range(5)]


def test_second_read_comes_from_cache(frames: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingReads(monkeypatch)
    first = read_headers(frames)
    assert len(counter.paths) == 5
    second = read_headers(frames)
    assert len(counter.paths) == 5  # nothing read again
    assert [h.cards["EXPTIME"] for h in second] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [h.cards.text for h in second] == [h.cards.text for h in first]
    assert [h.shape for h in second] == [(4, 6)] * 5


def test_changed_file_is_read_again(frames: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    read_headers(frames)
    counter = CountingReads(monkeypatch)
    write_frame(frames[2], {"EXPTIME": 99.0}, shape=(8, 6))
    make_old(frames[2], seconds=30)
    result = read_headers(frames)
    assert counter.paths == [str(frames[2])]
    assert result[2].cards["EXPTIME"] == 99.0
    assert result[2].shape == (8, 6)


def test_same_size_new_mtime_is_read_again(
    frames: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_headers(frames)
    counter = CountingReads(monkeypatch)
    make_old(frames[0], seconds=30)  # touched: same bytes, new mtime
    read_headers(frames)
    assert counter.paths == [str(frames[0])]


def test_recent_files_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = write_frame(tmp_path / "fresh.fits", {"A": 1}, old=False)
    read_headers([fresh])
    counter = CountingReads(monkeypatch)
    read_headers([fresh])
    assert counter.paths == [str(fresh)]


def test_each_hdu_spec_is_cached_separately(frames: list[Path]) -> None:
    assert read_headers(frames[:1], ext=0)[0].index == 0
    result = read_headers(frames[:1], ext=1)[0]
    assert isinstance(result, UnreadableFile)
    assert "no HDU 1" in result.reason


def test_unreadable_files_are_cached_with_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.fits"
    bad.write_text("not fits at all")
    make_old(bad)
    first = read_headers([bad])[0]
    counter = CountingReads(monkeypatch)
    second = read_headers([bad])[0]
    assert counter.paths == []
    assert isinstance(second, UnreadableFile)
    assert second.reason == first.reason
    assert second.reason.startswith("not a FITS file")


def test_permission_errors_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_frame(tmp_path / "locked.fits", {"A": 1})

    def refuse(path: str, ext: object = 0) -> object:
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patched:
        patched.setattr(reader, "read_hdu_header", refuse)
        assert read_headers([path])[0].reason == "cannot read: Permission denied"
    assert read_headers([path])[0].cards["A"] == 1


def test_missing_file_reported(tmp_path: Path) -> None:
    result = read_headers([tmp_path / "gone.fits"])[0]
    assert result == UnreadableFile(str(tmp_path / "gone.fits"), "no such file")


def test_cache_lives_in_cache_dir_not_in_data(frames: list[Path], tmp_path: Path) -> None:
    before = sorted(p.name for p in frames[0].parent.iterdir())
    read_headers(frames)
    after = sorted(p.name for p in frames[0].parent.iterdir())
    assert before == after
    assert (cache_dir() / "headers.sqlite3").is_file()
    assert cache_dir() == Path(os.environ["CCDCAL_CACHE_DIR"])


def test_use_cache_false_touches_no_cache(frames: list[Path]) -> None:
    read_headers(frames, use_cache=False)
    assert not cache_dir().exists()


def test_corrupt_cache_is_rebuilt(frames: list[Path], caplog: pytest.LogCaptureFixture) -> None:
    read_headers(frames)
    db = cache_dir() / "headers.sqlite3"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    result = read_headers(frames)
    assert [h.cards["EXPTIME"] for h in result] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert "rebuilding" in caplog.text
    with HeaderCache() as cache:  # usable again
        assert cache.lookup([]) == {}
    again = read_headers(frames)
    assert [h.cards["EXPTIME"] for h in again] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_unwritable_cache_is_switched_off(
    frames: list[Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("CCDCAL_CACHE_DIR", str(blocker / "cache"))
    result = read_headers(frames)
    assert [h.cards["EXPTIME"] for h in result] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_clear_forgets(frames: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    read_headers(frames)
    with HeaderCache() as cache:
        cache.clear()
    counter = CountingReads(monkeypatch)
    read_headers(frames)
    assert len(counter.paths) == 5


_WRITER = """
import sys
from ccdcal.collection.reader import read_headers
paths = sys.argv[1:]
for _ in range(3):
    out = read_headers(paths)
    assert all(h.cards["EXPTIME"] >= 0 for h in out), out
print("ok")
"""


def test_concurrent_processes_share_the_cache(tmp_path: Path) -> None:
    paths = [
        str(write_frame(tmp_path / "raw" / f"c{i}.fits", {"EXPTIME": float(i)})) for i in range(40)
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, *paths], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert out.strip() == b"ok"
    with HeaderCache() as cache:
        from ccdcal.collection.cache import CacheKey

        keys = []
        for path in paths:
            st = os.stat(path)
            folder, name = os.path.split(path)
            keys.append(CacheKey(folder, name, "0", st.st_size, st.st_mtime_ns))
        assert len(cache.lookup(keys)) == 40
