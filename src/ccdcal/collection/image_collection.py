"""``ImageFileCollection``: ccdproc's catalogue of a folder of FITS files, fast and cached.

It keeps ccdproc 2.5.1's constructor, properties, methods and generators, so
scripts run by changing the import. Underneath, each file's header is read once
(from the persistent header cache when the file is unchanged) and kept in
memory as text; only the keywords asked for are parsed, and filtering on a
keyword that is not in the summary does not read the files again.

Differences from ccdproc 2.5.1 (see ``docs/ccdproc-differences.md``): no state
leaks from the generators or ``files_filtered``; ``filter`` keeps ``ext``;
``ccds`` defaults to adu when a file has no ``BUNIT`` and saves when asked;
file extensions match in any case; truncated or broken files are listed in
``unreadable`` with the reason; ``values(unique=True)`` keeps first-seen order;
optional ``recursive`` search, ``use_cache`` and ``workers``.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from astropy.io import fits
>>> folder = tempfile.mkdtemp()
>>> for i, kind in enumerate(["BIAS", "BIAS", "LIGHT"]):
...     fits.writeto(os.path.join(folder, f"img{i}.fits"), np.zeros((2, 2)),
...                  fits.Header({"IMAGETYP": kind, "EXPTIME": 10.0 * i}))
>>> ic = ImageFileCollection(folder, keywords=["imagetyp", "exptime"], use_cache=False)
>>> ic.summary["file", "imagetyp"].pprint()
   file   imagetyp
--------- --------
img0.fits     BIAS
img1.fits     BIAS
img2.fits    LIGHT
>>> ic.files_filtered(imagetyp="bias").tolist()
['img0.fits', 'img1.fits']
>>> [h["EXPTIME"] for h in ic.headers(imagetyp="light")]
[20.0]
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.table import Table

from ccdcal._startup import collector_paused
from ccdcal.collection.cache import RACY_SECONDS, CacheKey, HeaderCache
from ccdcal.collection.cards import HeaderCards
from ccdcal.collection.discovery import find_fits_files
from ccdcal.collection.fitsfile import ExtSpec, ext_key
from ccdcal.collection.frame import UnreadableFile
from ccdcal.collection.reader import read_stated, stat_files
from ccdcal.collection.summary import (
    build_summary,
    decode_summary,
    encode_summary,
    files_fingerprint,
    match_rows,
    summary_columns,
    summary_key,
    table_from_columns,
)
from ccdcal.errors import (
    CollectionWarning,
    FrameNotFoundError,
    InvalidParameterError,
    UnsupportedOperationError,
)

__all__ = ["ImageFileCollection"]

logger = logging.getLogger(__name__)


class _SummaryIdentity(NamedTuple):
    """What a cached summary is looked up by, and the file states it was made from."""

    key: str
    fingerprint: str
    settled: bool  # every file older than the cache's race window
    stats: list[CacheKey | UnreadableFile]


class ImageFileCollection:
    """A collection of FITS files: a summary table of header keywords, filters and generators.

    Parameters
    ----------
    location : str or None, optional
        Folder holding the FITS files.
    keywords : list of str, '*' or None, optional
        Keywords to show as columns of :attr:`summary`; ``'*'`` (or None) for
        every keyword of every file.
    find_fits_by_reading : bool, optional
        Decide which files are FITS by reading their first bytes instead of by
        their names (compressed files are recognised too). Ignored when
        ``filenames`` is given.
    filenames : str or list of str, optional
        The files of the collection, relative to ``location`` or absolute;
        overrides the folder listing.
    glob_include, glob_exclude : str, optional
        Shell patterns selecting the files to keep / drop.
    ext : int, str or (str, int), optional
        The HDU whose header and data are used (default 0).
    recursive : bool, optional
        Also look in subfolders of ``location`` (not in ccdproc; default False).
        The ``file`` column then holds paths relative to ``location``.
    use_cache : bool, optional
        Use the persistent header cache (default True).
    workers : int, optional
        Threads reading headers (default: chosen by how fast files read).
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        keywords: str | Sequence[str] | None = None,
        find_fits_by_reading: bool = False,
        filenames: str | Sequence[str] | None = None,
        glob_include: str | None = None,
        glob_exclude: str | None = None,
        ext: ExtSpec = 0,
        *,
        recursive: bool = False,
        use_cache: bool = True,
        workers: int | None = None,
    ) -> None:
        self._glob_exclude = str(glob_exclude) if glob_exclude is not None else None
        self._glob_include = str(glob_include) if glob_include is not None else None
        self._location: Any = location if location is not None else ""  # as given, like ccdproc
        self._folder = os.fspath(self._location)
        self._find_fits_by_reading = find_fits_by_reading
        self._filenames = filenames
        self._recursive = recursive
        self._use_cache = use_cache
        self._workers = workers
        self._ext = ext
        self._files = self._get_files()
        if not self._files:
            warnings.warn("no FITS files in the collection.", CollectionWarning, stacklevel=2)
        self._forget_headers()
        self._summary: Any = {}
        self._all_keywords = False
        if keywords is None:
            keywords = "*"
        if keywords:
            self.keywords = keywords

    # -- construction ------------------------------------------------------------

    def _get_files(self) -> list[str]:
        if self._filenames:
            if isinstance(self._filenames, str):
                return [self._filenames]
            return list(self._filenames)
        if not self._folder:
            return []
        if not os.path.isdir(self._folder):
            raise FrameNotFoundError(
                f"ImageFileCollection: location {self._folder!r} is not a folder"
            )
        return find_fits_files(
            self._folder,
            recursive=self._recursive,
            glob_include=self._glob_include,
            glob_exclude=self._glob_exclude,
            by_reading=self._find_fits_by_reading,
        )

    def _full_path(self, name: str) -> str:
        return os.path.join(self._folder, name)

    def _forget_headers(self) -> None:
        """Headers are read when first needed (a cached summary may make that never)."""
        self._header_map: dict[str, HeaderCards] | None = None
        self._unreadable_files: list[UnreadableFile] | None = None
        self._readable_names: list[str] | None = None

    @property
    def _headers(self) -> dict[str, HeaderCards]:
        """The header of each readable file, read (or fetched from the cache) on first use."""
        return self._load_headers(None)

    def _load_headers(
        self, stats: list[CacheKey | UnreadableFile] | None
    ) -> dict[str, HeaderCards]:
        if self._header_map is None:
            if stats is None:
                paths = [self._full_path(name) for name in self._files]
                stats = stat_files(paths, ext=self._ext)
            results = read_stated(
                stats, ext=self._ext, use_cache=self._use_cache, workers=self._workers
            )
            headers: dict[str, HeaderCards] = {}
            unreadable = []
            for name, result in zip(self._files, results, strict=True):
                if isinstance(result, UnreadableFile):
                    logger.warning(
                        "unable to get FITS header for file %s: %s", result.path, result.reason
                    )
                    unreadable.append(result)
                else:
                    headers[name] = result.cards
            self._header_map = headers
            self._unreadable_files = unreadable
            self._readable_names = [name for name in self._files if name in headers]
        return self._header_map

    def _readable(self) -> list[str]:
        if self._readable_names is None:
            self._headers  # noqa: B018 - reads them
        assert self._readable_names is not None
        return self._readable_names

    def _fits_summary(self, header_keywords: Sequence[str]) -> Table | None:
        if not self._files:
            return None
        keywords = list(header_keywords)
        with collector_paused(freeze=False):
            identity = self._summary_identity(keywords) if self._use_cache else None
            if identity is not None and self._header_map is None:
                cached = self._cached_summary(identity)
                if cached is not None:
                    return table_from_columns(cached, keywords)
            headers = self._load_headers(identity.stats if identity else None)
            names = self._readable()
            columns = summary_columns(names, [headers[n] for n in names], keywords)
            if identity is not None:
                self._store_summary(identity, columns)
            return table_from_columns(columns, keywords)

    def _summary_identity(self, keywords: list[str]) -> _SummaryIdentity:
        """Key and fingerprint of a summary, and whether its files are old enough to store it."""
        paths = [self._full_path(name) for name in self._files]
        stats = stat_files(paths, ext=self._ext)
        key = summary_key([s.path for s in stats], self._files, ext_key(self._ext), keywords)
        newest = time.time_ns() - int(RACY_SECONDS * 1e9)
        settled = all(not isinstance(s, CacheKey) or s.mtime_ns <= newest for s in stats)
        return _SummaryIdentity(key, files_fingerprint(stats), settled, stats)

    def _cached_summary(self, identity: _SummaryIdentity) -> dict[str, list[Any]] | None:
        with HeaderCache() as cache:
            payload = cache.lookup_summary(identity.key, identity.fingerprint)
        if payload is None:
            return None
        columns, unreadable = decode_summary(payload)
        for bad in unreadable:
            logger.warning("unable to get FITS header for file %s: %s", bad.path, bad.reason)
        self._unreadable_files = unreadable
        self._readable_names = [str(name) for name in columns["file"]]
        return columns

    def _store_summary(self, identity: _SummaryIdentity, columns: dict[str, list[Any]]) -> None:
        payload = encode_summary(columns, self._unreadable_files or [])
        if payload is not None and identity.settled:
            with HeaderCache() as cache:
                cache.store_summary(identity.key, identity.fingerprint, payload)

    # -- ccdproc's properties -------------------------------------------------

    def __repr__(self) -> str:
        params = [
            f"location={self.location!r}" if self.location else "",
            "" if self._all_keywords else f"keywords={list(self.keywords)[1:]!r}",
            f"filenames={self._filenames}" if self._filenames is not None else "",
            f"glob_include={self.glob_include!r}" if self.glob_include is not None else "",
            f"glob_exclude={self.glob_exclude!r}" if self.glob_exclude is not None else "",
            f"ext={self.ext}" if self.ext != 0 else "",
        ]
        return f"{type(self).__name__}({', '.join(p for p in params if p)})"

    @property
    def summary(self) -> Any:
        """`~astropy.table.Table` of the keyword values; the first column is ``file``.

        None for an empty collection.
        """
        return self._summary

    @property
    def location(self) -> Any:
        """The folder of the files, as given ('' when none was given)."""
        return self._location

    @property
    def keywords(self) -> list[str]:
        """The summary's column names; setting re-makes the summary (served from memory)."""
        if self._summary is not None and len(self._summary):
            return list(self._summary.keys())
        return []

    @keywords.setter
    def keywords(self, keywords: str | Sequence[str] | None) -> None:
        if keywords is None:
            self._summary = []
            return
        self._all_keywords = keywords == "*"
        wanted = [keywords] if isinstance(keywords, str) else list(keywords)
        new_keys = set(wanted) | {"file"}
        current = set(self.keywords)
        if isinstance(self._summary, Table) and new_keys <= current:
            for key in current - new_keys:
                self._summary.remove_column(key)
            return
        self._summary = self._fits_summary(list(dict.fromkeys(wanted)))

    @keywords.deleter
    def keywords(self) -> None:
        self._summary = []

    @property
    def files(self) -> list[str]:
        """The files of the collection (unfiltered), as given or found."""
        return self._files

    @property
    def glob_include(self) -> str | None:
        """Shell pattern of the files to include."""
        return self._glob_include

    @property
    def glob_exclude(self) -> str | None:
        """Shell pattern of the files to exclude."""
        return self._glob_exclude

    @property
    def ext(self) -> ExtSpec:
        """The HDU whose header and data are used."""
        return self._ext

    @property
    def unreadable(self) -> tuple[UnreadableFile, ...]:
        """Files that could not be read, with the reason (not in ccdproc)."""
        if self._unreadable_files is None:
            self._headers  # noqa: B018 - reads them
        return tuple(self._unreadable_files or ())

    # -- ccdproc's methods ------------------------------------------------------------

    def values(self, keyword: str, unique: bool = False) -> list[Any]:
        """The values of a summary column, as a list (``unique``: each once, first-seen order)."""
        if keyword not in self.keywords:
            raise InvalidParameterError(f"keyword {keyword} is not in the current summary")
        values = self._summary[keyword].tolist()
        return list(dict.fromkeys(values)) if unique else values

    def _matching(self, criteria: dict[str, Any]) -> np.ndarray:
        """Rows of the summary matching ``criteria`` (the summary is not changed)."""
        regex_match = bool(criteria.pop("regex_match", False))
        table = self._summary
        if not set(criteria) <= set(self.keywords):
            names = [str(n) for n in table["file"].tolist()]
            headers = [self._headers[n] for n in names]
            table = build_summary(names, headers, list(criteria))
        return match_rows(table, criteria, regex_match=regex_match)

    def files_filtered(self, **kwd: Any) -> Any:
        """Files whose keywords have the given values.

        Parameters
        ----------
        include_path : bool, keyword-only
            Return full paths (as a list) rather than names (as an array).
        regex_match : bool, keyword-only
            Match string values as case-insensitive regular expressions.
        **kwd
            Keyword/value pairs: ``'*'`` matches any value, None a missing keyword;
            strings match case-insensitively.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from astropy.io import fits
        >>> folder = tempfile.mkdtemp()
        >>> fits.writeto(os.path.join(folder, "a.fits"), np.zeros(2), fits.Header({"FILTER": "R"}))
        >>> fits.writeto(os.path.join(folder, "b.fits"), np.zeros(2))
        >>> ic = ImageFileCollection(folder, keywords=["filter"], use_cache=False)
        >>> ic.files_filtered(filter=None).tolist(), ic.files_filtered(filter="r").tolist()
        (['b.fits'], ['a.fits'])
        """
        if self._summary is None:
            return []
        include_path = kwd.pop("include_path", False)
        rows = self._matching(kwd)
        names = self._summary["file"][rows].compressed()
        if include_path:
            return [self._full_path(str(name)) for name in names.tolist()]
        return names

    def refresh(self) -> None:
        """Look for files and read the headers again (unchanged files come from the cache)."""
        keywords = "*" if self._all_keywords else self.keywords
        self._files = self._get_files()
        self._forget_headers()
        self._summary = self._fits_summary(keywords)

    def sort(self, keys: str | Sequence[str]) -> None:
        """Sort the summary (in place) and the order of iteration by one or more keys."""
        if self._summary is not None and len(self._summary) > 0:
            self._summary.sort(keys)
            self._files = [str(f) for f in self._summary["file"].tolist()]

    def filter(self, **kwd: Any) -> ImageFileCollection:
        """A new collection of the files matching ``kwd`` (see :meth:`files_filtered`).

        The new collection keeps ``ext`` (ccdproc 2.5.1 drops it) and reuses
        the headers already read (else they come from the header cache).
        """
        files = self.files_filtered(include_path=True, **kwd)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._location = new._folder = ""
        new._filenames = files
        new._glob_include = new._glob_exclude = None
        new._files = list(files)
        new._forget_headers()
        if self._header_map is not None:
            by_path = {self._full_path(name): cards for name, cards in self._header_map.items()}
            new._header_map = {path: by_path[path] for path in files}
            new._unreadable_files = []
            new._readable_names = list(files)
        new._summary = {}
        if not files:
            warnings.warn("no FITS files in the collection.", CollectionWarning, stacklevel=2)
        new.keywords = "*" if self._all_keywords else self.keywords
        return new

    # -- generators --------------------------------------------------------------

    def _paths(self) -> list[str]:
        """Full path of each file in the summary."""
        if self._summary is None or not len(self._summary):
            return []
        return [self._full_path(str(name)) for name in self._summary["file"].tolist()]

    def _selected(self, kwd: dict[str, Any]) -> list[tuple[str, str]]:
        if self._summary is None or not isinstance(self._summary, Table) or not len(self._summary):
            return []
        names = [str(n) for n in self._summary["file"].tolist()]
        if kwd:
            rows = self._matching(kwd)
            names = [n for n, keep in zip(names, rows, strict=True) if keep]
        return [(name, self._full_path(name)) for name in names]

    def _generator(
        self,
        return_type: str,
        save_with_name: str = "",
        save_location: str = "",
        overwrite: bool = False,
        do_not_scale_image_data: bool = True,
        return_fname: bool = False,
        ccd_kwargs: dict[str, Any] | None = None,
        **kwd: Any,
    ) -> Iterator[Any]:
        for name, full_path in self._selected(kwd):
            thing = self._load(return_type, full_path, do_not_scale_image_data, ccd_kwargs)
            shown = name if self._folder else os.path.basename(full_path)
            yield (thing, shown) if return_fname else thing
            new_path = self._save_path(name, full_path, save_location, save_with_name)
            if new_path != full_path or overwrite:
                self._save(
                    return_type, thing, full_path, new_path, overwrite, do_not_scale_image_data
                )

    def _load(self, kind: str, path: str, no_scale: bool, ccd_kwargs: dict[str, Any] | None) -> Any:
        if kind == "header":
            return fits.getheader(path, self._ext)
        if kind == "data":
            return fits.getdata(path, self._ext, do_not_scale_image_data=no_scale)
        if kind == "ccd":
            return _read_ccd(path, self._ext, dict(ccd_kwargs or {}))
        with fits.open(path, do_not_scale_image_data=no_scale) as hdulist:
            return hdulist[hdulist.index_of(self._ext)].copy()

    def _save_path(self, name: str, full_path: str, location: str, suffix: str) -> str:
        base = os.path.basename(full_path)
        if suffix:
            stem, extension = os.path.splitext(base)
            base = stem + suffix + extension
        if not location:
            return os.path.join(os.path.dirname(full_path), base)
        subfolder = os.path.dirname(name) if self._recursive and self._folder else ""
        return os.path.join(location, subfolder, base)

    def _save(
        self, kind: str, thing: Any, source: str, target: str, overwrite: bool, no_scale: bool
    ) -> None:
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        if kind == "ccd":
            thing.write(target, overwrite=overwrite)
            return
        with fits.open(source, do_not_scale_image_data=no_scale) as hdulist:
            index = hdulist.index_of(self._ext)
            if kind == "hdu":
                hdulist[index] = thing
            elif kind == "data":
                hdulist[index].data = thing
            else:
                hdulist[index].header = thing
            hdulist.writeto(target, overwrite=overwrite)

    def headers(self, do_not_scale_image_data: bool = True, **kwd: Any) -> Iterator[fits.Header]:
        """Yield the header of each (matching) file; saving as in ccdproc.

        Parameters
        ----------
        save_with_name : str, optional
            Text added to each file name (before the extension) when saving.
        save_location : str, optional
            Folder to save a copy of each file in, after your loop body ran.
        overwrite : bool, optional
            Overwrite the input files (or existing copies).
        return_fname : bool, optional
            Yield ``(header, file name)`` pairs.
        regex_match : bool, optional
            Match string filter values as regular expressions.
        **kwd
            Filter on keyword values as in :meth:`files_filtered`.
        """
        return self._generator("header", do_not_scale_image_data=do_not_scale_image_data, **kwd)

    def hdus(self, do_not_scale_image_data: bool = False, **kwd: Any) -> Iterator[Any]:
        """Yield a copy of the HDU of each (matching) file (options as :meth:`headers`)."""
        return self._generator("hdu", do_not_scale_image_data=do_not_scale_image_data, **kwd)

    def data(self, do_not_scale_image_data: bool = False, **kwd: Any) -> Iterator[np.ndarray]:
        """Yield the data array of each (matching) file (options as :meth:`headers`)."""
        return self._generator("data", do_not_scale_image_data=do_not_scale_image_data, **kwd)

    def ccds(self, ccd_kwargs: dict[str, Any] | None = None, **kwd: Any) -> Iterator[Any]:
        """Yield a ``CCDData`` for each (matching) file (options as :meth:`headers`).

        ``ccd_kwargs`` go to the reader (``unit``, ``hdu`` ...); without a unit
        and without ``BUNIT`` the data are taken to be in adu. With
        ``save_location`` or ``save_with_name`` each CCDData is written after
        your loop body ran; ``overwrite=True`` is refused, as in ccdproc.
        """
        clobber = kwd.pop("clobber", None)
        if clobber is not None:
            warnings.warn(
                "The 'clobber' keyword argument is a deprecated alias for 'overwrite'",
                category=DeprecationWarning,
                stacklevel=2,
            )
            kwd["overwrite"] = clobber
        if kwd.get("overwrite"):
            raise UnsupportedOperationError(
                "overwrite=True is not supported for CCDs: it would replace the raw files; "
                "use save_location or save_with_name"
            )
        return self._generator("ccd", ccd_kwargs=ccd_kwargs, **kwd)


def _read_ccd(path: str, ext: ExtSpec, kwargs: dict[str, Any]) -> Any:
    """Read a CCDData with ccdcal's reader (adu when there is no BUNIT and no unit).

    Options that reader does not take (e.g. ``hdu_flags``) go to astropy's reader.
    """
    from ccdcal.io.fits import read_ccd

    hdu = kwargs.pop("hdu", ext)
    accepted = inspect.signature(read_ccd).parameters
    if not isinstance(hdu, tuple) and all(key in accepted for key in kwargs):
        return read_ccd(path, hdu=hdu, **kwargs)
    if kwargs.get("unit") is None:
        kwargs["unit"] = fits.getheader(path, hdu).get("BUNIT") or "adu"
    return CCDData.read(path, hdu=hdu, **kwargs)
