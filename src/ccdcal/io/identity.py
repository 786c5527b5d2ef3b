"""A file's identity: path, size, modification time and SHA-256.

The pipeline records the identity of every input and output, to tell later
whether a file changed (:mod:`ccdcal.pipeline.state`) and to name masters by
content in the calibration library. :func:`file_identity` reads a file to
hash it; a writer that wraps its file in :class:`HashingWriter` gets the same
SHA-256 from the bytes as they go out, without reading the file again.

Examples
--------
>>> import io, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "f.bin"
>>> with open(path, "wb") as raw:
...     out = HashingWriter(raw)
...     _ = out.write(b"ab")
...     _ = out.write(b"c")
...     written = out.identity(path)
>>> written == file_identity(path), written.sha256[:8]
(True, 'ba7816bf')
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ccdcal.io.atomic import file_checksum

__all__ = ["FileIdentity", "HashingWriter", "file_identity"]


@dataclass(frozen=True)
class FileIdentity:
    """A file's path, size, modification time (ns) and SHA-256.

    Examples
    --------
    >>> ident = FileIdentity("a.fits", 5760, 1, "0" * 64)
    >>> FileIdentity.from_list(ident.to_list()) == ident
    True
    """

    path: str
    size: int
    mtime_ns: int
    sha256: str

    def to_list(self) -> list[Any]:
        """``[path, size, mtime_ns, sha256]`` for JSON."""
        return [self.path, self.size, self.mtime_ns, self.sha256]

    @classmethod
    def from_list(cls, item: list[Any]) -> FileIdentity:
        """Rebuild from :meth:`to_list` output."""
        return cls(str(item[0]), int(item[1]), int(item[2]), str(item[3]))

    def matches_stat(self, path: str | os.PathLike[str]) -> bool:
        """Whether the file has the same size and modification time now."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


def file_identity(path: str | os.PathLike[str]) -> FileIdentity:
    """Size, modification time and SHA-256 of a file (reads it once).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
    >>> file_identity(p).sha256[:8]
    'ba7816bf'
    """
    p = Path(path)
    st = p.stat()
    return FileIdentity(str(p), st.st_size, st.st_mtime_ns, file_checksum(p))


class HashingWriter:
    """A binary file wrapper that hashes (SHA-256) every byte written through it.

    It has what :mod:`gzip` and the FITS writers need (``write``, ``flush``,
    ``tell``); ``write`` takes any C-contiguous buffer, numpy arrays
    included. Write everything through it, then ask for :meth:`identity`
    before the file is changed again.

    Parameters
    ----------
    raw : binary file object
        The file, open for writing at its start.

    Examples
    --------
    >>> import io
    >>> out = HashingWriter(io.BytesIO())
    >>> out.write(b"abc"), out.tell(), out.hexdigest()[:8]
    (3, 3, 'ba7816bf')
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self._size = 0

    def write(self, data: Any) -> int:
        """Write ``data`` (a bytes-like object) and add it to the hash."""
        view = memoryview(data).cast("B")
        self._raw.write(view)
        self._digest.update(view)
        self._size += view.nbytes
        return view.nbytes

    def flush(self) -> None:
        """Flush the wrapped file."""
        self._raw.flush()

    def tell(self) -> int:
        """Bytes written so far."""
        return self._size

    def hexdigest(self) -> str:
        """SHA-256 of the bytes written so far, as 64 hex digits."""
        return self._digest.hexdigest()

    def identity(self, path: str | os.PathLike[str]) -> FileIdentity:
        """The identity of the finished file, recorded under the name ``path``.

        The wrapped file is flushed and its size and modification time taken
        from the open file (they stay the same when it is renamed into
        place), so the result equals ``file_identity(path)`` afterwards.
        """
        self._raw.flush()
        st = os.fstat(self._raw.fileno())
        if st.st_size != self._size:
            raise OSError(
                f"{str(path)!r}: {self._size} bytes were written but the file has "
                f"{st.st_size}; it was changed while being written"
            )
        return FileIdentity(str(path), st.st_size, st.st_mtime_ns, self.hexdigest())
