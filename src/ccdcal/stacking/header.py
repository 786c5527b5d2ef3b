"""The header of a combined frame: the first input's header plus the record of the combination.

Cards added (IRAF names where IRAF has one):

===============  ==========================================================
``NCOMBINE``     number of frames combined
``IMCMBnnn``     file name of input nnn (``CCDData #n`` for in-memory frames)
``IMCSMnnn``     its checksum: ``sha256:<hex>`` of the file as stored
``COMBMETH``     ``average``, ``median`` or ``sum``
``COMBREJ``      the rejection, e.g. ``sigclip(low=5, high=5, ...)``
``COMBSCAL``     how the frames were scaled
``COMBZERO``     how zero offsets were set
``COMBWGHT``     how the frames were weighted
``EXPTIME``      exposure of the result: the mean of the inputs' for average
                 and median, their sum for sum (when every input has one)
``CCDCPnnn``     ccdcal's structured provenance record (JSON), with the
                 per-frame scale factors, zeros and weights
===============  ==========================================================

Only the first 999 inputs get ``IMCMB``/``IMCSM`` cards (as IRAF); the
provenance record lists them all.

Examples
--------
>>> h = combined_header({"OBJECT": "bias", "BITPIX": 16}, inputs=[("a.fits", None)],
...                     info={"method": "median"}, exposure=None)
>>> h["NCOMBINE"], h["IMCMB001"], "BITPIX" in h
(1, 'a.fits', False)
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from astropy.io import fits

from ccdcal.io import header_from_meta
from ccdcal.io.provenance import PROV_PREFIX
from ccdcal.options import conf

__all__ = ["combined_exposure", "combined_header"]

_MAX_LISTED = 999
_OWN_CARDS = re.compile(r"^(IMCMB\d{3}|IMCSM\d{3}|COMBMETH|COMBREJ|COMBSCAL|COMBZERO|COMBWGHT)$")


def combined_exposure(values: Sequence[float | None], method: str) -> float | None:
    """EXPTIME of the combination: mean (average, median) or sum, if every input has one.

    >>> combined_exposure([10.0, 20.0], "average"), combined_exposure([10.0, 20.0], "sum")
    (15.0, 30.0)
    >>> combined_exposure([10.0, None], "median") is None
    True
    """
    if not values or any(v is None for v in values):
        return None
    numbers = [float(v) for v in values if v is not None]
    total = sum(numbers)
    return total if method == "sum" else total / len(numbers)


def _version() -> str:
    from ccdcal import __version__

    return __version__


def _next_record_key(header: fits.Header) -> str:
    n = 1
    while f"{PROV_PREFIX}{n:03d}" in header:
        n += 1
    return f"{PROV_PREFIX}{n:03d}"


def combined_header(
    first_meta: Mapping[str, Any] | fits.Header | None,
    *,
    inputs: Sequence[tuple[str, str | None]],
    info: Mapping[str, Any],
    exposure: tuple[str, float] | None,
) -> fits.Header:
    """The header of the result.

    Parameters
    ----------
    first_meta : mapping or Header
        The first input's header (its array-description cards are dropped).
    inputs : sequence of (name, checksum or None)
    info : mapping
        ``method``, ``rejection``, ``scale``, ``zero``, ``weights`` (texts) and
        ``scale_factors``, ``zeros``, ``frame_weights`` (lists) for the record.
    exposure : (keyword, value) or None
    """
    header = header_from_meta(first_meta)
    # the first input may itself be a combination: its list of inputs is not ours
    stale = [k for k in header if _OWN_CARDS.match(k)]
    for key in stale:
        header.remove(key, ignore_missing=True, remove_all=True)
    header["NCOMBINE"] = (len(inputs), "number of frames combined")
    for i, (name, checksum) in enumerate(inputs[:_MAX_LISTED], start=1):
        header[f"IMCMB{i:03d}"] = (name, "combined input")
        if checksum:
            header[f"IMCSM{i:03d}"] = (f"sha256:{checksum}", f"checksum of IMCMB{i:03d}")
    texts = (
        ("COMBMETH", "method", "combination method"),
        ("COMBREJ", "rejection", "rejection"),
        ("COMBSCAL", "scale", "scaling"),
        ("COMBZERO", "zero", "zero offsets"),
        ("COMBWGHT", "weights", "weights"),
    )
    for key, name, comment in texts:
        if name in info:
            header[key] = (str(info[name]), comment)
    if exposure is not None:
        keyword, value = exposure
        how = "sum" if info.get("method") == "sum" else "mean"
        header[keyword] = (value, f"exposure of the combination ({how} of inputs)")
    if conf.auto_logging:
        record = {
            "step": "combine",
            "params": dict(info),
            "inputs": [{"file": n, "sha256": c} if c else {"file": n} for n, c in inputs],
            "version": _version(),
            "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        }
        header[_next_record_key(header)] = json.dumps(record, separators=(",", ":"), default=str)
    return header
