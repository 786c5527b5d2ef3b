"""Turning frame descriptions into library rows: field mapping, paths, checksums.

:meth:`~ccdcal.library.CalibrationLibrary.add_frame` accepts any mapping
with the fields of ``ccdcal.collection.FrameInfo`` (``info.to_dict()``).
Known fields go to their columns, converted to plain Python types; anything
else is kept as JSON in the ``extra`` column, so nothing a newer
``FrameInfo`` adds is lost.

Examples
--------
>>> columns, extra = frame_values({"path": "/raw/b1.fits", "frame_type": "bias",
...                                "xbin": 1, "shape": (510, 765), "overscan": None,
...                                "date_obs": "2025-06-24T01:02:03"})
>>> columns["shape"], columns["date_obs"].isoformat(), extra
([510, 765], '2025-06-24T01:02:03+00:00', {'overscan': None})
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ccdcal.errors import LibraryError
from ccdcal.library.times import to_utc

__all__ = ["FRAME_COLUMNS", "file_checksum", "frame_values", "jsonable", "normalize_path"]

_STR = (
    "instrument",
    "frame_type",
    "raw_type",
    "filter",
    "readout_mode",
    "object",
    "telescope",
    "camera",
    "checksum",
    "status",
)
_FLOAT = ("exptime", "mjd", "ccd_temp", "set_temp", "gain", "read_noise", "saturation")
_INT = ("hdu", "xbin", "ybin", "size")

#: Frame fields stored in their own columns (the rest go to ``extra``).
FRAME_COLUMNS: frozenset[str] = frozenset(
    {"path", "date_obs", "mtime", "shape", "problems", *_STR, *_FLOAT, *_INT}
)


def normalize_path(path: str | os.PathLike[str]) -> str:
    """The absolute, resolved form of ``path`` under which files are stored.

    >>> normalize_path("/data/./night/../night/b1.fits")
    '/data/night/b1.fits'
    """
    return str(Path(path).expanduser().resolve())


def file_checksum(path: str | os.PathLike[str]) -> str:
    """``'sha256:<hex>'`` of the file's bytes.

    Raises
    ------
    LibraryError
        If the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise LibraryError(
            f"cannot read {path} to compute its checksum ({exc.strerror}); "
            "give checksum= explicitly or check the path"
        ) from None
    return f"sha256:{digest.hexdigest()}"


def jsonable(value: Any) -> Any:
    """``value`` with tuples, numpy scalars/arrays, paths and datetimes made JSON-safe.

    >>> import numpy as np
    >>> jsonable({"a": (1, np.float32(2.5)), "b": float("nan")})
    {'a': [1, 2.5], 'b': None}
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return jsonable(value.tolist())
    return str(value)


def _float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LibraryError(f"frame field {name}={value!r} is not a number") from None
    return number if math.isfinite(number) else None


def _int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LibraryError(f"frame field {name}={value!r} is not an integer") from None


def _mtime(value: Any) -> _dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return _dt.datetime.fromtimestamp(float(value), _dt.UTC)
    return to_utc(value, what="mtime")


def frame_values(frame: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a frame mapping into column values and the JSON-safe ``extra`` dict.

    ``path`` is required and normalised; ``size`` and ``mtime`` are taken
    from the file when not given and the file exists.
    """
    if not frame.get("path"):
        raise LibraryError("a frame needs its 'path' to be stored in the calibration library")
    columns: dict[str, Any] = {"path": normalize_path(frame["path"])}
    for name in _STR:
        if frame.get(name) is not None:
            columns[name] = str(frame[name]).strip()
    for name in _FLOAT:
        if name in frame:
            columns[name] = _float(name, frame[name])
    for name in _INT:
        if name in frame:
            columns[name] = _int(name, frame[name])
    if frame.get("date_obs") is not None:
        columns["date_obs"] = to_utc(frame["date_obs"], what=f"DATE-OBS of {frame['path']}")
    if frame.get("shape") is not None:
        columns["shape"] = [int(n) for n in frame["shape"]]
    if "problems" in frame:
        columns["problems"] = [str(p) for p in frame["problems"] or ()]
        columns.setdefault("status", "problems" if columns["problems"] else "ok")
    if "mtime" in frame:
        columns["mtime"] = _mtime(frame["mtime"])
    if "size" not in frame or "mtime" not in frame:
        try:
            stat = os.stat(columns["path"])
        except OSError:
            pass
        else:
            columns.setdefault("size", stat.st_size)
            columns.setdefault("mtime", _mtime(stat.st_mtime))
    extra = {k: jsonable(v) for k, v in frame.items() if k not in FRAME_COLUMNS}
    return columns, extra
