"""Read the headers of many files: from the cache when unchanged, else from disk, in parallel.

:func:`read_headers` returns, for each path, either the
:class:`~ccdcal.collection.fitsfile.HDUHeader` or an
:class:`~ccdcal.collection.frame.UnreadableFile` with the reason. It never
raises for a bad file: one broken frame does not stop a night.

How the files are read: headers of page-cached files on a local disk read
fastest one after the other (a file takes tens of microseconds; a thread pool
only adds hand-over costs under the GIL), while files on a slow or network disk
spend most of their time waiting, which threads overlap. So the first few
files are read serially and timed; if a file takes longer than
:data:`SLOW_READ_SECONDS`, the rest are read by a thread pool. ``workers``
forces either (1: serial, more: that many threads).

Examples
--------
>>> import numpy as np, tempfile, os, pathlib
>>> from astropy.io import fits
>>> folder = tempfile.mkdtemp()
>>> good = os.path.join(folder, "a.fits")
>>> fits.writeto(good, np.zeros((2, 2)), fits.Header({"EXPTIME": 5.0}))
>>> bad = os.path.join(folder, "notes.fits")
>>> _ = pathlib.Path(bad).write_text("not a FITS file")
>>> first, second = read_headers([good, bad], use_cache=False)
>>> first.cards["EXPTIME"], second.reason[:15]
(5.0, 'not a FITS file')
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from ccdcal._startup import collector_paused
from ccdcal.collection.cache import CacheKey, CacheValue, HeaderCache
from ccdcal.collection.fitsfile import ExtSpec, HDUHeader, ext_key, read_hdu_header
from ccdcal.collection.frame import UnreadableFile
from ccdcal.errors import FrameReadError

__all__ = [
    "ProgressCallback",
    "ReadResult",
    "read_headers",
    "read_stated",
    "stat_files",
]

logger = logging.getLogger(__name__)

#: ``progress(done, total)``, called as files are read.
ProgressCallback = Callable[[int, int], None]
ReadResult = HDUHeader | UnreadableFile

#: A file slower than this to read (on average over the first files) switches to threads.
SLOW_READ_SECONDS = 300e-6
_PROBE = 16
_CHUNK = 16
_MAX_THREADS = 16


def _read_one(path: str, ext: ExtSpec) -> tuple[CacheValue, bool]:
    """The header or the reason it cannot be read, and whether the outcome may be cached."""
    try:
        return read_hdu_header(path, ext), True
    except FrameReadError as exc:
        reason = str(exc)
        if reason.startswith(path + ": "):
            reason = reason[len(path) + 2 :]
        cacheable = not isinstance(exc.__cause__, OSError) or reason.startswith("cannot read")
        return reason, cacheable
    except OSError as exc:  # permission denied, vanished: may change without a new mtime
        return f"cannot read: {exc.strerror or exc}", False


def _key(path: str, spec: str) -> CacheKey | str:
    """The cache key of a file, or the reason it cannot be read."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot stat: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    folder, _, name = path.rpartition(os.sep)
    return CacheKey(folder or os.sep, name, spec, st.st_size, st.st_mtime_ns)


def stat_files(
    paths: Sequence[str | os.PathLike[str]], *, ext: ExtSpec | Literal["auto"] = 0
) -> list[CacheKey | UnreadableFile]:
    """For each path, its cache key (absolute path, HDU, size, mtime) or why it cannot be read.

    Examples
    --------
    >>> stat_files(["/no/such/file.fits"])
    [UnreadableFile(path='/no/such/file.fits', reason='no such file')]
    """
    spec = ext_key(ext)
    out: list[CacheKey | UnreadableFile] = []
    for given in paths:
        path = _absolute(os.fspath(given))
        key = _key(path, spec)
        out.append(UnreadableFile(path, key) if isinstance(key, str) else key)
    return out


def _absolute(path: str) -> str:
    if os.path.isabs(path) and "/." not in path and "//" not in path and os.sep == "/":
        return path
    return os.path.abspath(path)


class _Progress:
    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self.step = max(1, total // 200)
        self._last = 0

    def add(self, n: int) -> None:
        self.done += n
        if self.callback is not None and (
            self.done - self._last >= self.step or self.done == self.total
        ):
            self._last = self.done
            self.callback(self.done, self.total)


def _read_serial(
    paths: Sequence[str], ext: ExtSpec, progress: _Progress
) -> list[tuple[CacheValue, bool]]:
    out = []
    for path in paths:
        out.append(_read_one(path, ext))
        progress.add(1)
    return out


def _read_threaded(
    paths: Sequence[str], ext: ExtSpec, progress: _Progress, workers: int
) -> list[tuple[CacheValue, bool]]:
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]

    def work(chunk: Sequence[str]) -> list[tuple[CacheValue, bool]]:
        return [_read_one(path, ext) for path in chunk]

    out: list[tuple[CacheValue, bool]] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ccdcal-read") as pool:
        for chunk, result in zip(chunks, pool.map(work, chunks), strict=True):
            out.extend(result)
            progress.add(len(chunk))
    return out


def _read_many(
    paths: Sequence[str], ext: ExtSpec, progress: _Progress, workers: int | None
) -> list[tuple[CacheValue, bool]]:
    if workers is not None and workers > 1:
        return _read_threaded(paths, ext, progress, workers)
    if workers == 1 or len(paths) <= 2 * _PROBE:
        return _read_serial(paths, ext, progress)
    start = time.perf_counter()
    head = _read_serial(paths[:_PROBE], ext, progress)
    per_file = (time.perf_counter() - start) / _PROBE
    rest = paths[_PROBE:]
    if per_file < SLOW_READ_SECONDS:
        return head + _read_serial(rest, ext, progress)
    threads = min(_MAX_THREADS, 4 * (os.cpu_count() or 1))
    logger.debug("%.0f us per header: reading with %d threads", per_file * 1e6, threads)
    return head + _read_threaded(rest, ext, progress, threads)


def read_headers(
    paths: Sequence[str | os.PathLike[str]],
    *,
    ext: ExtSpec | Literal["auto"] = 0,
    use_cache: bool = True,
    cache: HeaderCache | None = None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> list[ReadResult]:
    """Read one HDU header from each file, using and filling the header cache.

    Parameters
    ----------
    paths : sequence of path-like
        The files.
    ext : int, str, (str, int) or 'auto', optional
        The HDU to read (see :func:`~ccdcal.collection.fitsfile.read_hdu_header`).
    use_cache : bool, optional
        Use the persistent header cache (default True).
    cache : HeaderCache, optional
        The cache to use (default: the user's cache).
    progress : callable, optional
        ``progress(done, total)`` is called as files are done.
    workers : int, optional
        1 to read serially, more for that many threads; default: decide by
        how fast the first files read.

    Returns
    -------
    list
        One :class:`HDUHeader` or :class:`UnreadableFile` per path, in order.
        Paths are made absolute.
    """
    # the headers make hundreds of thousands of objects, none in reference cycles: the
    # collector's passes over them would cost 15-20 % of a warm scan
    with collector_paused(freeze=False):
        stats = stat_files(paths, ext=ext)
        return read_stated(
            stats, ext=ext, use_cache=use_cache, cache=cache, progress=progress, workers=workers
        )


def read_stated(
    stats: Sequence[CacheKey | UnreadableFile],
    *,
    ext: ExtSpec | Literal["auto"] = 0,
    use_cache: bool = True,
    cache: HeaderCache | None = None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> list[ReadResult]:
    """:func:`read_headers` for files already looked at by :func:`stat_files` (same ``ext``)."""
    abspaths = [s.path for s in stats]
    tracker = _Progress(progress, len(abspaths))
    results: list[ReadResult | None] = [None] * len(abspaths)
    keys: dict[int, CacheKey] = {}
    for i, stat_result in enumerate(stats):
        if isinstance(stat_result, UnreadableFile):
            results[i] = stat_result
        else:
            keys[i] = stat_result
    tracker.add(len(abspaths) - len(keys))
    owned = cache is None and use_cache
    store = (cache or HeaderCache()) if use_cache else None
    try:
        hits = store.lookup(list(keys.values())) if store is not None else {}
        _fill(results, keys, hits, abspaths)
        tracker.add(len(hits))
        missing = [i for i in keys if keys[i] not in hits]
        read = _read_many([abspaths[i] for i in missing], ext, tracker, workers)
        fresh = [(keys[i], value) for i, (value, ok) in zip(missing, read, strict=True) if ok]
        if store is not None and fresh:
            store.store(fresh)
        outcome = {keys[i]: value for i, (value, _) in zip(missing, read, strict=True)}
        _fill(results, keys, outcome, abspaths)
    finally:
        if owned and store is not None:
            store.close()
    return [
        r if r is not None else UnreadableFile(abspaths[i], "not read")
        for i, r in enumerate(results)
    ]


def _fill(
    results: list[ReadResult | None],
    keys: dict[int, CacheKey],
    values: dict[CacheKey, CacheValue],
    paths: Sequence[str],
) -> None:
    for i, key in keys.items():
        value = values.get(key)
        if value is None:
            continue
        results[i] = UnreadableFile(paths[i], value) if isinstance(value, str) else value
