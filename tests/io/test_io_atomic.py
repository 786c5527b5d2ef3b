"""atomic_path and friends: outputs appear whole or not at all."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ccdcal.errors import FrameWriteError, OutputExistsError
from ccdcal.io import atomic_path, atomic_write_bytes, atomic_write_text, file_checksum


def _write_then_fail(target: Path) -> None:
    with atomic_path(target, overwrite=True) as tmp:
        tmp.write_text("new but incomplete")
        raise RuntimeError("boom")


def _enter(target: Path, entered: list[Path]) -> None:
    with atomic_path(target, overwrite=False) as tmp:
        entered.append(tmp)


def _race(target: Path) -> None:
    with atomic_path(target, overwrite=False) as tmp:
        tmp.write_text("mine")
        target.write_text("someone else's")  # another writer gets there first


def test_success_renames_into_place(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    with atomic_path(target, overwrite=False) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".a.txt.")
        assert tmp.name.endswith(".tmp")
        tmp.write_text("done")
        assert not target.exists()  # nothing visible before the block ends
    assert target.read_text() == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failure_removes_temporary_and_keeps_old(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        _write_then_fail(target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_existing_file_is_refused_before_writing(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    entered: list[Path] = []
    with pytest.raises(OutputExistsError, match=r"a\.txt' already exists.*overwrite=True"):
        _enter(target, entered)
    assert entered == []
    assert target.read_text() == "old"


def test_file_appearing_during_the_write_is_not_clobbered(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    with pytest.raises(OutputExistsError, match="appeared while it was being written"):
        _race(target)
    assert target.read_text() == "someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_overwrite_replaces(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "a.txt", "one")
    atomic_write_text(target, "two", overwrite=True)
    assert target.read_text() == "two"


def test_nothing_written_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FrameWriteError, match="nothing was written"):
        _enter(tmp_path / "a.txt", [])
    assert list(tmp_path.iterdir()) == []


def test_directory_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(FrameWriteError, match="is a directory"):
        atomic_write_bytes(tmp_path / "sub", b"x", overwrite=True)


def test_fsync_option_writes_the_same(tmp_path: Path) -> None:
    path = atomic_write_bytes(tmp_path / "b.bin", b"\x01\x02", fsync=True)
    assert path.read_bytes() == b"\x01\x02"


def test_file_checksum_matches_sha256_over_several_chunks(tmp_path: Path) -> None:
    blob = os.urandom(3 * (1 << 20) + 17)  # more than three 1 MiB chunks
    path = tmp_path / "big.bin"
    path.write_bytes(blob)
    assert file_checksum(path) == hashlib.sha256(blob).hexdigest()
    path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    assert file_checksum(path) != hashlib.sha256(blob).hexdigest()


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_killed_writer_loses_nothing(tmp_path: Path) -> None:
    """A process killed in the middle of a write leaves the old output intact."""
    target = tmp_path / "master.fits"
    target.write_bytes(b"old complete master")
    script = textwrap.dedent(
        f"""
        import os, signal
        from ccdcal.io import atomic_path
        with atomic_path({str(target)!r}, overwrite=True) as tmp:
            with open(tmp, "wb") as handle:
                handle.write(b"new master, first half")
                handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"old complete master"
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    # the killed process could not clean up; its file is hidden and is not *.fits
    assert len(leftovers) == 1
    assert leftovers[0].startswith(".master.fits.")
    assert leftovers[0].endswith(".tmp")
