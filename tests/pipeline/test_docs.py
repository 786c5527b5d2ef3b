"""The worked example in docs/pipeline.md runs and prints what the page says."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"


@pytest.mark.slow
@pytest.mark.skipif(not DOC.exists(), reason="docs/pipeline.md is not in this tree")
def test_pipeline_guide_example_runs() -> None:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=flags, verbose=False)
    assert result.attempted > 10
    assert result.failed == 0
