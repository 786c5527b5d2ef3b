"""How a calibration step remembers its call and records itself in the header.

ccdproc writes, for every logged step, the arguments *as the caller passed
them* (positional ones named, keyword ones in the caller's order).  Python
does not keep that order for keyword-only parameters, so each public step is
wrapped by :func:`logged_step`, which notes the call in a context variable
for the duration of the step (nested steps, as inside ``ccd_process``, each
see their own call).  The step then calls :func:`record` with the effective
parameters for ccdcal's structured record.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> @logged_step
... def subtract_bias(ccd, master, *, add_keyword=True):
...     result = CCDData(ccd.data - master.data, unit=ccd.unit)
...     record(result, "subtract_bias", params={}, add_keyword=add_keyword)
...     return result
>>> ccd = CCDData(np.ones((2, 2)), unit="adu")
>>> subtract_bias(ccd, ccd).meta["subbias"]
'ccd=<CCDData>, master=<CCDData>'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from astropy.nddata import CCDData

from ccdcal.io.provenance import SHORT_NAMES, LogSpec, record_step
from ccdcal.options import conf

__all__ = ["logged_step", "record"]

P = ParamSpec("P")
R = TypeVar("R")

_LOG_ARGUMENT = "add_keyword"
_CALL: ContextVar[dict[str, Any] | None] = ContextVar("ccdcal_step_call", default=None)


def logged_step(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a step so that :func:`record` knows the arguments it was called with.

    The signature, name and docstring of ``func`` are kept; no argument is
    added or changed.
    """
    names = [name for name in inspect.signature(func).parameters if name != _LOG_ARGUMENT]

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        call = dict(zip(names, args, strict=False))
        call.update((k, v) for k, v in kwargs.items() if k != _LOG_ARGUMENT)
        token = _CALL.set(call)
        try:
            return func(*args, **kwargs)
        finally:
            _CALL.reset(token)

    return wrapper


def record(
    result: CCDData,
    step: str,
    *,
    params: Mapping[str, Any],
    calibrations: Mapping[str, CCDData | str | Path | None] | None = None,
    add_keyword: LogSpec = True,
) -> None:
    """Record ``step`` in ``result.meta`` in ccdproc's form and ccdcal's structured form.

    Steps that ccdproc does not log (``mask_saturated``, ``block_*``) get the
    structured record only, so that no non-standard long keyword is written.
    """
    if add_keyword is True and step not in SHORT_NAMES:
        if not conf.auto_logging:
            return
        add_keyword = {}
    record_step(
        result,
        step,
        call_args=_CALL.get() or {},
        params=params,
        calibrations=calibrations,
        add_keyword=add_keyword,
    )
