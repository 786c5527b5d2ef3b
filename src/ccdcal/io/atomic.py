"""Atomic file output: write to a temporary file, then rename it into place.

A reader never sees a half-written output, and a run that is killed (or
fails) part-way leaves either the old file or the new one, never a mix: the
data go to a hidden temporary file in the *same directory* (so the final
rename stays on one file system and is atomic), which is renamed over the
target only when writing succeeded, and removed otherwise.

The temporary name starts with a dot and ends in ``.tmp`` (for example
``.master_bias.fits.3f9c2a1b.tmp``), so tools that look for ``*.fits`` pass
over a leftover from a killed process or a machine crash;
:func:`remove_temporaries` deletes such leftovers (when nothing is writing).

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_path(folder / "notes.txt", overwrite=False) as tmp:
...     _ = tmp.write_text("seeing 1.2 arcsec")
>>> (folder / "notes.txt").read_text()
'seeing 1.2 arcsec'
>>> sorted(p.name for p in folder.iterdir())
['notes.txt']
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from ccdcal.errors import FrameWriteError, OutputExistsError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_checksum",
    "remove_temporaries",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


#: What :func:`_temporary_name` makes: ``.<name>.<8 hex digits>.tmp``.
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")


def remove_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that writing left in ``folder`` and below; return them.

    A process killed while it wrote an output leaves its hidden temporary
    file behind (the output itself is untouched). Call this only when no
    process is writing into ``folder``, for example under an output
    directory's lock.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".flat.fits.0a1b2c3d.tmp").write_bytes(b"half")
    >>> _ = (folder / "flat.fits").write_bytes(b"whole")
    >>> [p.name for p in remove_temporaries(folder)], sorted(p.name for p in folder.iterdir())
    (['.flat.fits.0a1b2c3d.tmp'], ['flat.fits'])
    """
    removed = []
    for dirpath, _, names in os.walk(folder):
        for name in names:
            if _TEMPORARY.fullmatch(name):
                path = Path(dirpath) / name
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def _check_target(target: Path, *, overwrite: bool) -> None:
    if not target.parent.is_dir():
        raise FrameWriteError(
            f"cannot write {str(target)!r}: the directory {str(target.parent)!r} does not "
            "exist; create it first"
        )
    if target.is_dir():
        raise FrameWriteError(f"cannot write {str(target)!r}: it is a directory; give a file name")
    if not overwrite and os.path.lexists(target):
        raise OutputExistsError(
            f"{str(target)!r} already exists; pass overwrite=True to replace it, or "
            "choose another file name"
        )


def _fsync_directory(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def _publish(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Move ``tmp`` to ``target``; without ``overwrite`` never clobber a file."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if target exists: no race with another writer
    except FileExistsError:
        raise OutputExistsError(
            f"{str(target)!r} appeared while it was being written; pass overwrite=True "
            "to replace it, or choose another file name"
        ) from None
    except OSError as exc:  # file systems without hard links
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(target):
            raise OutputExistsError(
                f"{str(target)!r} appeared while it was being written; pass "
                "overwrite=True to replace it, or choose another file name"
            ) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, overwrite: bool, fsync: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    Write the complete output to the yielded path inside the ``with`` block.
    When the block ends normally the temporary file replaces ``path`` in one
    atomic step (:func:`os.replace`); when it raises, the temporary file is
    removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The final file name. Its directory must exist.
    overwrite : bool
        Replace an existing ``path``. When False an existing file is an
        error, checked before anything is written and again at the rename.
    fsync : bool, optional
        Flush the file and its directory to disk before returning, so that
        the output also survives a power cut (a killed *process* never needs
        this). Costs a disk flush per file.

    Yields
    ------
    pathlib.Path
        A hidden temporary file name in the same directory (not yet created).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    FrameWriteError
        The directory does not exist or ``path`` is a directory.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> try:
    ...     with atomic_path(target, overwrite=False) as tmp:
    ...         _ = tmp.write_text("half")
    ...         raise RuntimeError("killed")
    ... except RuntimeError:
    ...     pass
    >>> target.exists(), list(target.parent.iterdir())
    (False, [])
    """
    target = Path(path)
    _check_target(target, overwrite=overwrite)
    tmp = _temporary_name(target)
    try:
        yield tmp
        if not tmp.exists():
            raise FrameWriteError(f"nothing was written to the temporary file for {str(target)!r}")
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        _publish(tmp, target, overwrite=overwrite)
        if fsync:
            _fsync_directory(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    logger.debug("wrote %s", target)


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False, fsync: bool = False
) -> Path:
    """Write ``data`` to ``path`` atomically and return the path.

    >>> import tempfile, pathlib
    >>> p = atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "b.bin", b"\\x00\\x01")
    >>> p.read_bytes()
    b'\\x00\\x01'
    """
    with atomic_path(path, overwrite=overwrite, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(
    path: str | os.PathLike[str],
    text: str,
    *,
    overwrite: bool = False,
    encoding: str = "utf-8",
    fsync: bool = False,
) -> Path:
    """Write ``text`` to ``path`` atomically and return the path.

    >>> import tempfile, pathlib
    >>> p = atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "t.json", '{"n": 1}')
    >>> p.read_text()
    '{"n": 1}'
    """
    with atomic_path(path, overwrite=overwrite, fsync=fsync) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def file_checksum(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits (read in 1 MiB chunks).

    The checksum of the file as stored (a ``.fz`` or ``.gz`` file is hashed
    compressed), for provenance records and the calibration library.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> file_checksum(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
