"""Finding the FITS files of a night on disk.

By name, a FITS file ends in ``.fits``, ``.fit`` or ``.fts`` (any case),
optionally followed by a compression suffix (``.gz``, ``.bz2``, ``.Z``,
``.zip``, ``.fz``); a bare ``.fz`` is accepted too. With ``by_reading`` the
first bytes decide instead (compressed files are looked into). Folders may be
searched recursively; hidden folders (``.name``) are skipped then, and
symbolic links to folders are followed once (no loops).

Examples
--------
>>> is_fits_name("r0000001.fits"), is_fits_name("flat-001-c.FIT"), is_fits_name("x.fits.fz")
(True, True, True)
>>> is_fits_name("notes.txt"), is_fits_name("myfit")
(False, False)
"""

from __future__ import annotations

import bz2
import fnmatch
import gzip
import os
from collections.abc import Iterator

__all__ = ["COMPRESSION_SUFFIXES", "FITS_EXTENSIONS", "find_fits_files", "is_fits_name"]

#: File-name extensions of FITS files.
FITS_EXTENSIONS = ("fits", "fit", "fts")
#: Compression suffixes that may follow them.
COMPRESSION_SUFFIXES = ("gz", "bz2", "z", "zip", "fz")

_SIGNATURE = b"SIMPLE  ="


def is_fits_name(name: str) -> bool:
    """True when a file name says FITS (case-insensitive)."""
    parts = name.lower().rsplit(".", 2)
    if len(parts) < 2:
        return False
    if parts[-1] in FITS_EXTENSIONS or parts[-1] == "fz":
        return True
    return len(parts) == 3 and parts[-1] in COMPRESSION_SUFFIXES and parts[-2] in FITS_EXTENSIONS


def looks_like_fits(path: str) -> bool:
    """True when the file starts as a FITS file does (also inside gzip or bzip2).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.dat"
    >>> _ = path.write_text("SIMPLE  =                    T")
    >>> looks_like_fits(str(path))
    True
    """
    try:
        with open(path, "rb") as raw:
            magic = raw.read(len(_SIGNATURE))
            if magic.startswith(b"\x1f\x8b"):
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw) as inner:
                    magic = inner.read(len(_SIGNATURE))
            elif magic.startswith(b"BZh"):
                raw.seek(0)
                with bz2.BZ2File(raw) as inner2:
                    magic = inner2.read(len(_SIGNATURE))
    except (OSError, EOFError):
        return False
    return magic == _SIGNATURE


def _walk(location: str, recursive: bool) -> Iterator[str]:
    """Relative paths (``/``-separated) of the regular files under ``location``."""
    if not recursive:
        with os.scandir(location) as entries:
            for entry in entries:
                if entry.is_file():
                    yield entry.name
        return
    seen = {os.path.realpath(location)}
    for folder, dirs, files in os.walk(location, followlinks=True):
        keep = []
        for name in sorted(dirs):
            real = os.path.realpath(os.path.join(folder, name))
            if not name.startswith(".") and real not in seen:  # no hidden folders, no loops
                seen.add(real)
                keep.append(name)
        dirs[:] = keep
        rel = os.path.relpath(folder, location)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in files:
            if os.path.isfile(os.path.join(folder, name)):
                yield prefix + name


def _glob_match(name: str, pattern: str) -> bool:
    """A pattern matches the relative path or the bare file name."""
    base = name.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(base, pattern)


def find_fits_files(
    location: str | os.PathLike[str],
    *,
    recursive: bool = False,
    glob_include: str | None = None,
    glob_exclude: str | None = None,
    by_reading: bool = False,
) -> list[str]:
    """The FITS files in a folder, as sorted paths relative to it.

    Parameters
    ----------
    location : path-like
        The folder.
    recursive : bool, optional
        Also look in subfolders (not hidden ones).
    glob_include, glob_exclude : str, optional
        Shell patterns (``fnmatch``); a file is kept when ``glob_include``
        matches its relative path or its name, and dropped when
        ``glob_exclude`` does.
    by_reading : bool, optional
        Decide by the first bytes of each file rather than by its name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.fits", "a.fit", "notes.txt"):
    ...     _ = (folder / name).write_text("x")
    >>> find_fits_files(folder)
    ['a.fit', 'b.fits']
    """
    root = os.fspath(location)
    found = []
    for name in _walk(root, recursive):
        if by_reading:
            if not looks_like_fits(os.path.join(root, name)):
                continue
        elif not is_fits_name(name.rsplit("/", 1)[-1]):
            continue
        if glob_include is not None and not _glob_match(name, glob_include):
            continue
        if glob_exclude is not None and _glob_match(name, glob_exclude):
            continue
        found.append(name)
    return sorted(found)
