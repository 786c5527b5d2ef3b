"""Test-session settings shared by tests/ and the doctests under src/.

The header cache and the user profile folder are pointed at fresh temporary
folders, so tests never read or write the developer's own ~/.cache/ccdcal or
~/.config/ccdcal.
"""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    for var, prefix in (("CCDCAL_CACHE_DIR", "cache"), ("CCDCAL_CONFIG_DIR", "config")):
        os.environ[var] = tempfile.mkdtemp(prefix=f"ccdcal-test-{prefix}-")
