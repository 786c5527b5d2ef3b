"""Resuming a run: a record of how each output was made, to skip the finished ones.

Each output (a master or a calibrated science frame) gets a small JSON record
under ``OUT_DIR/.ccdcal/state/`` written *after* the output itself, holding

* the output's size, modification time and SHA-256,
* the recipe hash: everything that decides the output besides the raw files
  (the task's parameters, the settings, the checksums of the masters it
  used, the ccdcal version),
* each raw input's size, modification time and SHA-256,
* the task's result (so a skipped task reports the same numbers).

On the next run an output is skipped when its record exists, its recipe hash
is the same, the output file is unchanged and every raw input is unchanged
(same size and time, or else the same SHA-256).  A run killed part-way leaves
outputs without records; they are simply made again.

A run holds the directory's lock (:func:`out_dir_lock`) from start to end:
one run writes into an output directory at a time, and the run that holds it
knows that a temporary file it finds was left by a killed run and removes it.

:class:`FileIdentity` and :func:`file_identity` live in
:mod:`ccdcal.io.identity` (so that the FITS writer can return an identity)
and are re-exported here.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> raw = out / "raw.fits"; _ = raw.write_bytes(b"raw")
>>> product = out / "p.fits"; _ = product.write_bytes(b"product")
>>> store = StateStore(out)
>>> store.save("p.fits", recipe="r1", inputs=[file_identity(raw)], result={"n": 1})
>>> store.is_current("p.fits", recipe="r1", input_paths=[raw]) is not None
True
>>> store.is_current("p.fits", recipe="r2", input_paths=[raw]) is None
True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ccdcal.errors import PipelineError
from ccdcal.io.atomic import atomic_write_text, file_checksum, remove_temporaries
from ccdcal.io.identity import FileIdentity, file_identity

__all__ = [
    "STATE_DIR",
    "FileIdentity",
    "StateStore",
    "file_identity",
    "out_dir_lock",
    "recipe_hash",
]

log = logging.getLogger(__name__)

#: Folder (inside the output directory) holding ccdcal's bookkeeping.
STATE_DIR = ".ccdcal"


def recipe_hash(parts: Mapping[str, Any]) -> str:
    """A short stable hash of a JSON-able mapping (the recipe of an output).

    >>> recipe_hash({"a": 1, "b": [2]}) == recipe_hash({"b": [2], "a": 1})
    True
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


#: The lock file (inside the state folder) a run holds while it writes.
LOCK_NAME = "lock"


@contextlib.contextmanager
def out_dir_lock(out_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the lock of ``out_dir`` while a run writes into it; clear a killed run's leftovers.

    The lock is an advisory ``flock`` on ``OUT_DIR/.ccdcal/lock``; the
    operating system releases it when its process ends, however it ends, so
    a killed run never leaves a stale lock.  Once it holds the lock the run
    removes what a killed run can leave behind: hidden temporary files of
    half-written outputs and the spill folders of master tasks.  Where the
    platform has no ``fcntl`` there is no lock and nothing is removed.

    Raises
    ------
    PipelineError
        Another process holds the lock: a run is writing into ``out_dir``.

    Examples
    --------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> with out_dir_lock(out):
    ...     with out_dir_lock(out):  # doctest: +ELLIPSIS
    ...         pass
    Traceback (most recent call last):
    ...
    ccdcal.errors.PipelineError: ... is being written by another ccdcal run (process ...
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    folder = Path(out_dir) / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    with open(path, "a+", encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise PipelineError(
                f"{str(out_dir)!r} is being written by another ccdcal run (process {holder}, "
                f"lock {str(path)!r}); wait for it to finish or choose another output "
                "directory"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            for leftover in remove_temporaries(out_dir):
                log.info("removed %s, left by an interrupted run", leftover)
            shutil.rmtree(folder / "tmp", ignore_errors=True)
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


class StateStore:
    """The records of the outputs of one output directory."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.root = self.out_dir / STATE_DIR / "state"

    def _record_path(self, output: str) -> Path:
        return self.root / f"{output}.json"

    def load(self, output: str) -> dict[str, Any] | None:
        """The record of ``output`` (a path relative to the output directory), or None."""
        path = self._record_path(output)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def save(
        self,
        output: str,
        *,
        recipe: str,
        inputs: Iterable[FileIdentity],
        result: Mapping[str, Any],
        product: FileIdentity | None = None,
    ) -> None:
        """Record how ``output`` was made (call after the output is written).

        ``product`` is the output's identity when the caller already has it
        (otherwise the file is read to compute it).
        """
        target = self.out_dir / output
        if product is None and target.exists():
            product = file_identity(target)
        record = {
            "output": output,
            "recipe": recipe,
            "product": product.to_list() if product is not None else None,
            "inputs": [i.to_list() for i in inputs],
            "result": dict(result),
        }
        path = self._record_path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record, sort_keys=True, default=str), overwrite=True)

    def forget(self, output: str) -> None:
        """Remove the record of ``output`` (before it is made again)."""
        with contextlib.suppress(FileNotFoundError):
            self._record_path(output).unlink()

    def is_current(
        self, output: str, *, recipe: str, input_paths: Iterable[str | os.PathLike[str]]
    ) -> dict[str, Any] | None:
        """The stored result if ``output`` is finished and up to date, else None."""
        record = self.load(output)
        if record is None or record.get("recipe") != recipe or not record.get("product"):
            return None
        product = FileIdentity.from_list(record["product"])
        target = self.out_dir / output
        if not product.matches_stat(target):
            log.info("%s changed since it was written; making it again", output)
            return None
        known = {i[0]: FileIdentity.from_list(i) for i in record.get("inputs", [])}
        wanted = [str(p) for p in input_paths]
        if sorted(known) != sorted(wanted):
            return None
        for path in wanted:
            ident = known[path]
            if ident.matches_stat(path):
                continue
            try:
                if file_checksum(path) != ident.sha256:
                    log.info("input %s changed; making %s again", path, output)
                    return None
            except OSError:
                return None
        result = record.get("result")
        return result if isinstance(result, dict) else {}
