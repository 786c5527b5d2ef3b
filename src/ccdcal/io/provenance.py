"""Provenance: how each step records itself in the header of its result.

Two records are written for every step (unless logging is switched off):

* **ccdproc's form**, so that scripts looking for it keep working: a card named
  after the function (``HIERARCH SUBTRACT_DARK = 'subdark'``) and a card under
  the short name holding the call's arguments as text
  (``SUBDARK = 'ccd=<CCDData>, master=<CCDData>, scale=True'``).
* **ccdcal's structured form**: a card ``CCDCPnnn`` holding one JSON object per
  step with the step name, its parameters, the calibration frames used (name
  and checksum), the ccdcal version and the UTC time.  :func:`read_provenance`
  returns them as a list of dicts.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> ccd = CCDData(np.zeros((2, 2), dtype=np.float32), unit="adu")
>>> record_step(ccd, "subtract_bias", call_args={"ccd": ccd, "master": ccd},
...             params={}, calibrations={"master": ccd})
>>> ccd.meta["subbias"]
'ccd=<CCDData>, master=<CCDData>'
>>> [r["step"] for r in read_provenance(ccd.meta)]
['subtract_bias']
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData, NDData

from ccdcal.options import conf

__all__ = [
    "FILE_KEY",
    "PROV_PREFIX",
    "SHORT_NAMES",
    "LogSpec",
    "array_checksum",
    "ccdproc_argument_string",
    "frame_identity",
    "read_provenance",
    "record_step",
]

#: ccdproc's short names for its logged steps (the keyword that holds the arguments).
SHORT_NAMES: dict[str, str] = {
    "subtract_overscan": "suboscan",
    "trim_image": "trimim",
    "create_deviation": "creatvar",
    "gain_correct": "gaincor",
    "subtract_bias": "subbias",
    "subtract_dark": "subdark",
    "flat_correct": "flatcor",
    "ccd_process": "ccdproc",
    "transform_image": "tranim",
    "wcs_project": "wcsproj",
}

#: Prefix of the structured provenance cards: CCDCP001, CCDCP002, ...
PROV_PREFIX = "CCDCP"
#: Header keyword that names the file a frame was read from or written to.
FILE_KEY = "CCDCFILE"

#: What ``add_keyword=`` may be: True (automatic), False/None (nothing), a str,
#: a ``Keyword`` (anything with ``name`` and ``value``) or a mapping.
LogSpec = bool | str | Mapping[str, Any] | Any | None

# id(array) -> (data pointer and shape, checksum); entries leave with their array.
_checksums: dict[int, tuple[tuple[int, ...], str]] = {}


def _version() -> str:
    from ccdcal import __version__

    return __version__


def array_checksum(array: np.ndarray) -> str:
    """Return a short, stable checksum (BLAKE2b, 16 hex digits) of an array's values.

    The value depends on the dtype, shape and bytes of the array.  Results are
    cached per array object, so asking again for the same master is free; an
    array changed in place after its first checksum keeps the old value.

    >>> a = np.arange(4, dtype=np.float32)
    >>> array_checksum(a) == array_checksum(np.arange(4.0).astype("f4"))
    True
    """
    key = (array.__array_interface__["data"][0], *array.shape)
    cached = _checksums.get(id(array))
    if cached is not None and cached[0] == key:
        return cached[1]
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).view(np.uint8).data)
    digest = h.hexdigest()
    if id(array) not in _checksums:
        weakref.finalize(array, _checksums.pop, id(array), None)
    _checksums[id(array)] = (key, digest)
    return digest


def frame_identity(frame: CCDData | str | Path) -> dict[str, str]:
    """Name and checksum of a calibration frame, for the provenance record.

    A path gives its file name; a ``CCDData`` gives the file it was read from
    (header keyword ``CCDCFILE``) when known, and the checksum of its data.
    """
    if isinstance(frame, (str, Path)):
        return {"file": Path(frame).name}
    meta = frame.meta or {}
    ident = {"checksum": array_checksum(np.asarray(frame.data))}
    name = meta.get(FILE_KEY)
    if name:
        ident["file"] = str(name)
    return ident


def _placeholder(value: Any) -> Any:
    """ccdproc's rendering of an argument value: arrays longer than 1 become ``<Class>``."""
    hide = False
    if isinstance(value, u.Quantity):
        hide = not value.isscalar
    elif isinstance(value, (NDData, np.ndarray)):
        try:
            hide = len(value) > 1
        except TypeError:
            try:
                hide = len(value.data) > 1
            except TypeError:
                hide = True
    return f"<{value.__class__.__name__}>" if hide else value


def ccdproc_argument_string(call_args: Mapping[str, Any]) -> str:
    """The text ccdproc stores for a call: ``name=value`` pairs joined by ``', '``.

    >>> ccdproc_argument_string({"ccd": np.zeros(3), "scale": True})
    'ccd=<ndarray>, scale=True'
    """
    text = ", ".join(f"{name}={_placeholder(val)}" for name, val in call_args.items())
    return text.replace("\n", "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, u.Quantity):
        if value.isscalar:
            return {"value": float(value.value), "unit": value.unit.to_string()}
        return f"<{value.__class__.__name__}>"
    if isinstance(value, (NDData, np.ndarray)):
        return f"<{value.__class__.__name__}>"
    if isinstance(value, u.UnitBase):
        return value.to_string()
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "name") and hasattr(value, "value"):  # a Keyword
        return {"keyword": value.name, "value": _jsonable(value.value)}
    return repr(value)


def _set(meta: Any, key: str, value: Any, comment: str | None = None) -> None:
    if isinstance(meta, fits.Header):
        if comment is not None:
            meta[key] = (value, comment)
        else:
            meta[key] = value
    elif comment is not None:
        meta[key] = (value, comment)
    else:
        meta[key] = value


def _next_prov_key(meta: Any) -> str:
    n = 1
    while f"{PROV_PREFIX}{n:03d}" in meta:
        n += 1
    if n > 999:
        raise OverflowError("more than 999 provenance records in one header")
    return f"{PROV_PREFIX}{n:03d}"


def _insert_user_log(meta: Any, spec: Any) -> None:
    if isinstance(spec, str):
        items: Mapping[str, Any] = {spec: None}
    elif isinstance(spec, Mapping):
        items = spec
    else:  # a Keyword
        items = {spec.name: spec.value}
    for key, value in items.items():
        _insert_ccdproc_form(meta, key, value)


def _insert_ccdproc_form(meta: Any, key: str, value: Any) -> None:
    short = SHORT_NAMES.get(key)
    if short is None:
        _set(meta, key, value)
        return
    long_key = f"HIERARCH {key.upper()}" if isinstance(meta, fits.Header) else key
    _set(meta, long_key, short, "Shortened name for ccdproc command")
    _set(meta, short, value)


def record_step(
    ccd: CCDData,
    step: str,
    *,
    call_args: Mapping[str, Any],
    params: Mapping[str, Any],
    calibrations: Mapping[str, CCDData | str | Path | None] | None = None,
    add_keyword: LogSpec = True,
) -> None:
    """Record a step in ``ccd.meta`` (changed in place: pass the step's *result*).

    Parameters
    ----------
    ccd : CCDData
        The result of the step.
    step : str
        The function name, e.g. ``'subtract_dark'``.
    call_args : mapping
        The arguments the caller passed explicitly, by name, for ccdproc's form.
    params : mapping
        The effective parameters (resolved exposure times, scale factor...) for
        the structured form.
    calibrations : mapping of role to frame, optional
        Calibration frames used (``{'master': masterdark}``); their file name
        and data checksum are recorded.
    add_keyword : bool, str, Keyword or mapping
        ccdproc's option: ``True`` records automatically (if
        ``ccdcal.conf.auto_logging``), ``False``/``None`` records nothing, any
        other value is inserted as ccdproc inserts it (and the structured
        record is still written).
    """
    if add_keyword is None or add_keyword is False:
        return
    if add_keyword is True:
        if not conf.auto_logging:
            return
        _insert_ccdproc_form(ccd.meta, step, ccdproc_argument_string(call_args))
    else:
        _insert_user_log(ccd.meta, add_keyword)
    record: dict[str, Any] = {
        "step": step,
        "params": _jsonable(dict(params)),
        "version": _version(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if calibrations:
        record["calibrations"] = {
            role: frame_identity(frame) for role, frame in calibrations.items() if frame is not None
        }
    key = _next_prov_key(ccd.meta)
    _set(ccd.meta, key, _card_json(record))


def _card_json(record: Mapping[str, Any]) -> str:
    r"""``record`` as compact JSON that survives a long FITS string card.

    astropy (8.0) cuts a string continued over CONTINUE cards at a quote
    followed by a slash (``'/``) when it reads it back, so that pair is
    written ``'\/``: the same JSON (``\/`` is an escaped ``/``).

    >>> print(_card_json({"path": "/data/O'/x"}))
    {"path":"/data/O'\/x"}
    >>> json.loads(_card_json({"path": "/data/O'/x"}))["path"]
    "/data/O'/x"
    """
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    return text.replace("'/", "'\\/")


def read_provenance(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the structured provenance records of a header, oldest first."""
    records = []
    for key in sorted(k for k in meta if str(k).upper().startswith(PROV_PREFIX)):
        value = meta[key]
        if isinstance(value, tuple):
            value = value[0]
        try:
            records.append(json.loads(value))
        except (TypeError, json.JSONDecodeError):
            continue
    return records
