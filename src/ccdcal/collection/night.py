"""Scan a night: find the FITS files, read their headers (cached), classify every frame.

:func:`scan` is what the pipeline starts from. It returns a :class:`ScanResult`
with one :class:`~ccdcal.collection.frame.FrameInfo` per readable frame and
one :class:`~ccdcal.collection.frame.UnreadableFile` per file that could not
be read. For each file it reads the primary HDU, or the first extension when
the primary HDU holds no data (as in ``.fz`` files); the primary header's
keywords then fill in what the extension lacks.

Within one scan, frames that only the generic profile recognised take the
profile of the rest of the night when exactly one specific profile was
detected and it knows their frame type (IRAF-style ``dark`` frames next to
``zero`` and ``object`` frames are IRAF frames too).

Examples
--------
>>> import numpy as np, tempfile, os
>>> from astropy.io import fits
>>> night = tempfile.mkdtemp()
>>> for i, kind in enumerate(["Bias Frame", "Dark Frame", "Light Frame"]):
...     header = fits.Header({"IMAGETYP": kind, "EXPTIME": 10.0 * i, "XBINNING": 2})
...     fits.writeto(os.path.join(night, f"f{i}.fit"), np.zeros((4, 6), np.uint16), header)
>>> result = scan([night], use_cache=False)
>>> [(f.name, f.frame_type, f.exptime, f.xbin) for f in result.frames]
[('f0.fit', 'bias', 0.0, 2), ('f1.fit', 'dark', 10.0, 2), ('f2.fit', 'science', 20.0, 2)]
>>> result.unreadable
()
"""

from __future__ import annotations

import logging
import os
from collections import ChainMap, Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ccdcal.collection.classify import classify
from ccdcal.collection.discovery import find_fits_files
from ccdcal.collection.fitsfile import HDUHeader
from ccdcal.collection.frame import FrameInfo, UnreadableFile
from ccdcal.collection.profiles import InstrumentProfile, get_profile, load_profiles
from ccdcal.collection.reader import ProgressCallback, read_headers
from ccdcal.errors import InvalidParameterError

__all__ = ["FrameGroup", "ScanResult", "header_mapping", "scan"]

logger = logging.getLogger(__name__)


class FrameGroup(NamedTuple):
    """What frames are grouped by when counting a night."""

    frame_type: str
    xbin: int
    ybin: int
    filter: str | None
    exptime: float | None


@dataclass(frozen=True)
class ScanResult:
    """The frames of a night and the files that could not be read."""

    frames: tuple[FrameInfo, ...]
    unreadable: tuple[UnreadableFile, ...]

    @property
    def usable(self) -> tuple[FrameInfo, ...]:
        """Frames with a known type and no problems."""
        return tuple(f for f in self.frames if f.usable)

    @property
    def unclassified(self) -> tuple[FrameInfo, ...]:
        """Frames that cannot be used as they are (unknown type or other problems)."""
        return tuple(f for f in self.frames if not f.usable)

    def by_type(self, frame_type: str) -> tuple[FrameInfo, ...]:
        """The usable frames of one type."""
        return tuple(f for f in self.usable if f.frame_type == frame_type)

    def group_counts(self) -> list[tuple[FrameGroup, int]]:
        """Number of usable frames per (type, binning, filter, exposure), in pipeline order."""
        counts = Counter(
            FrameGroup(str(f.frame_type), f.xbin, f.ybin, f.filter, f.exptime) for f in self.usable
        )
        order = {"bias": 0, "dark": 1, "flat": 2, "science": 3}

        def key(item: tuple[FrameGroup, int]) -> tuple[Any, ...]:
            g = item[0]
            return (order.get(g.frame_type, 9), g.xbin, g.ybin, g.filter or "", g.exptime or 0.0)

        return sorted(counts.items(), key=key)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: frames, group counts, unclassified and unreadable files."""
        return {
            "frames": [f.to_dict() for f in self.frames],
            "groups": [{**g._asdict(), "count": n} for g, n in self.group_counts()],
            "unclassified": [
                {"path": f.path, "problems": list(f.problems)} for f in self.unclassified
            ],
            "unreadable": [u.to_dict() for u in self.unreadable],
        }


def header_mapping(hdu: HDUHeader) -> Mapping[str, Any]:
    """The header to classify: the HDU's cards, falling back on the primary header's."""
    if hdu.primary is None:
        return hdu.cards
    return ChainMap(hdu.cards, hdu.primary)  # type: ignore[arg-type]


def _collect(paths: Sequence[str | os.PathLike[str]], recursive: bool) -> list[str]:
    files: dict[str, None] = {}
    for given in paths:
        path = os.path.abspath(os.fspath(given))
        if os.path.isdir(path):
            for name in find_fits_files(path, recursive=recursive):
                files[os.path.normpath(os.path.join(path, name))] = None
        elif os.path.exists(path):
            files[path] = None
        else:
            raise InvalidParameterError(
                f"scan: {os.fspath(given)!r} does not exist; give folders or FITS files"
            )
    return list(files)


def _classify_one(
    hdu: HDUHeader,
    path: str,
    profiles: Sequence[InstrumentProfile],
    forced: InstrumentProfile | None,
) -> FrameInfo:
    header = header_mapping(hdu)
    try:
        return classify(header, path=path, profile=forced, hdu=hdu.index, profiles=profiles)
    except (ValueError, TypeError, KeyError) as exc:  # a header no profile field can cope with
        logger.warning("%s: cannot classify: %s", path, exc)
        return FrameInfo(path=path, hdu=hdu.index, problems=(f"cannot classify: {exc}",))


def _adopt_night_profile(
    frames: list[FrameInfo], headers: dict[str, HDUHeader], profiles: Sequence[InstrumentProfile]
) -> list[FrameInfo]:
    specific = {f.instrument for f in frames} - {p.name for p in profiles if p.is_fallback}
    if len(specific) != 1:
        return frames
    night = get_profile(specific.pop(), profiles)
    out = []
    for frame in frames:
        if frame.instrument != night.name and frame.raw_type is not None:
            kind = night.map_type(frame.raw_type)
            if kind is not None and kind != "other":
                hdu = headers[frame.path]
                frame = _classify_one(hdu, frame.path, profiles, night)
        out.append(frame)
    return out


def scan(
    paths: Sequence[str | os.PathLike[str]],
    *,
    recursive: bool = True,
    instrument: str | None = None,
    instrument_files: Sequence[str | os.PathLike[str]] = (),
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> ScanResult:
    """Find, read and classify the FITS frames under ``paths``.

    Parameters
    ----------
    paths : sequence of path-like
        Folders (searched for ``.fits``/``.fit``/``.fts`` files, optionally
        ``.gz`` or ``.fz``) and single files.
    recursive : bool, optional
        Search subfolders too (default True).
    instrument : str, optional
        Use this instrument profile for every frame instead of detecting one.
    instrument_files : sequence of path-like, optional
        Extra profile files (TOML), added to the built-in and user profiles.
    use_cache : bool, optional
        Use the persistent header cache (default True).
    progress : callable, optional
        ``progress(done, total)`` as headers are read.
    workers : int, optional
        Reader threads (see :func:`~ccdcal.collection.reader.read_headers`).

    Returns
    -------
    ScanResult

    Raises
    ------
    ccdcal.errors.InvalidParameterError
        When a path does not exist.
    ccdcal.errors.ProfileError
        When a profile file is malformed or ``instrument`` is unknown.
    """
    profiles = load_profiles(instrument_files)
    forced = get_profile(instrument, profiles) if instrument else None
    files = _collect(paths, recursive)
    results = read_headers(
        files, ext="auto", use_cache=use_cache, progress=progress, workers=workers
    )
    frames: list[FrameInfo] = []
    unreadable: list[UnreadableFile] = []
    headers: dict[str, HDUHeader] = {}
    for path, result in zip(files, results, strict=True):
        if isinstance(result, UnreadableFile):
            unreadable.append(result)
            continue
        headers[path] = result
        frames.append(_classify_one(result, path, profiles, forced))
    if forced is None:
        frames = _adopt_night_profile(frames, headers, profiles)
    logger.info(
        "scanned %d files: %d frames, %d unreadable", len(files), len(frames), len(unreadable)
    )
    return ScanResult(tuple(frames), tuple(unreadable))
