"""The installed ccdcal version (``ccdcal.__version__``), read from the package metadata.

Its own module so that ``import ccdcal`` does not pay for :mod:`importlib.metadata`.

>>> from ccdcal._version import __version__
>>> isinstance(__version__, str)
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("ccdcal")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
