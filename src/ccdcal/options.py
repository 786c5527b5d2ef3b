"""Global options: ``ccdcal.conf`` (ccdproc-compatible) and :func:`set_options`.

Examples
--------
>>> import ccdcal
>>> ccdcal.conf.auto_logging
True
>>> with ccdcal.set_options(auto_logging=False):
...     ccdcal.conf.auto_logging
False
>>> ccdcal.conf.auto_logging
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

from ccdcal.errors import InvalidParameterError

__all__ = ["Config", "conf", "set_options"]


@dataclass
class Config:
    """Process-wide settings.

    Attributes
    ----------
    auto_logging : bool
        Record every calibration step in the header of its result (as
        ``ccdproc.conf.auto_logging`` does).
    fast_exit : bool
        Once the combination kernels are loaded, skip the garbage
        collector's walk over numba's tables when the interpreter exits
        (:mod:`ccdcal._exit`; saves ~0.3 s per process).
    """

    auto_logging: bool = True
    fast_exit: bool = True


conf = Config()


@contextmanager
def set_options(**options: object) -> Iterator[Config]:
    """Change settings of :data:`conf` for the duration of a ``with`` block."""
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidParameterError(
            f"unknown option(s) {unknown}; known options are {sorted(known)}"
        )
    old = {name: getattr(conf, name) for name in options}
    for name, value in options.items():
        setattr(conf, name, value)
    try:
        yield conf
    finally:
        for name, value in old.items():
            setattr(conf, name, value)
