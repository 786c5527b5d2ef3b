"""Input identities of masters: what the run records of its raw files, and where it gets it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ccdcal.io.identity import FileIdentity, file_identity
from ccdcal.pipeline import RunResult
from ccdcal.pipeline.masters import _identities
from ccdcal.pipeline.model import FrameRef


def test_every_master_records_the_true_identity_of_its_inputs(reduced: RunResult) -> None:
    # the flats' inputs are hashed ahead by the calling process, the biases' and
    # darks' by the combination as it reads: either way the record is the file's
    flats = [r for r in reduced.masters.values() if r.kind == "flat" and r.inputs]
    assert flats, "the night has master flats built from raw flats"
    for result in reduced.masters.values():
        for ident in result.inputs:
            assert ident == file_identity(ident.path), (result.key, ident.path)


def test_a_known_identity_is_used_only_while_the_file_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "r0001.fits"
    path.write_bytes(b"x" * 2880)
    real = file_identity(path)
    frame = FrameRef(path=str(path))
    claimed = dataclasses.replace(real, sha256="0" * 64)  # as if hashed earlier
    assert _identities([frame], None, [claimed]) == (claimed,)  # not read again
    os.utime(path, ns=(real.mtime_ns + 10**9, real.mtime_ns + 10**9))  # touched since
    (again,) = _identities([frame], None, [claimed])
    assert again.sha256 == real.sha256
    assert isinstance(again, FileIdentity)
