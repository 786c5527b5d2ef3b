"""Resume records: an output is current only while its recipe, file and inputs are unchanged."""

from __future__ import annotations

import os
from pathlib import Path

from ccdcal.pipeline.state import StateStore, file_identity, recipe_hash


def make(tmp_path: Path) -> tuple[StateStore, Path, Path]:
    raw = tmp_path / "raw.fits"
    raw.write_bytes(b"raw bytes")
    out = tmp_path / "out"
    (out / "science").mkdir(parents=True)
    product = out / "science" / "p.fits"
    product.write_bytes(b"product")
    store = StateStore(out)
    store.save("science/p.fits", recipe="r", inputs=[file_identity(raw)], result={"key": "p"})
    return store, raw, product


def test_current_when_nothing_changed(tmp_path: Path) -> None:
    store, raw, _ = make(tmp_path)
    assert store.is_current("science/p.fits", recipe="r", input_paths=[raw]) == {"key": "p"}


def test_not_current_after_recipe_change(tmp_path: Path) -> None:
    store, raw, _ = make(tmp_path)
    assert store.is_current("science/p.fits", recipe="other", input_paths=[raw]) is None


def test_touched_but_identical_input_is_still_current(tmp_path: Path) -> None:
    store, raw, _ = make(tmp_path)
    st = raw.stat()
    os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert store.is_current("science/p.fits", recipe="r", input_paths=[raw]) is not None


def test_changed_input_is_not_current(tmp_path: Path) -> None:
    store, raw, _ = make(tmp_path)
    raw.write_bytes(b"other bytes")
    assert store.is_current("science/p.fits", recipe="r", input_paths=[raw]) is None


def test_changed_or_missing_output_is_not_current(tmp_path: Path) -> None:
    store, raw, product = make(tmp_path)
    product.write_bytes(b"edited by hand")
    assert store.is_current("science/p.fits", recipe="r", input_paths=[raw]) is None
    product.unlink()
    assert store.is_current("science/p.fits", recipe="r", input_paths=[raw]) is None


def test_different_input_list_is_not_current(tmp_path: Path) -> None:
    store, raw, _ = make(tmp_path)
    other = tmp_path / "other.fits"
    other.write_bytes(b"x")
    assert store.is_current("science/p.fits", recipe="r", input_paths=[raw, other]) is None


def test_forget_removes_the_record(tmp_path: Path) -> None:
    store, raw, _ = make(tmp_path)
    store.forget("science/p.fits")
    assert store.load("science/p.fits") is None
    assert store.is_current("science/p.fits", recipe="r", input_paths=[raw]) is None


def test_recipe_hash_depends_on_values() -> None:
    assert recipe_hash({"a": 1}) != recipe_hash({"a": 2})
    assert recipe_hash({"a": 1, "b": 2}) == recipe_hash({"b": 2, "a": 1})
