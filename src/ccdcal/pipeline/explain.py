"""Why a science frame was calibrated with the masters it was: :func:`explain_frame`.

For a calibrated output (or its raw file) this reads, from the calibration
library, which master of each kind calibrated it, the note (same night,
derived from a finer flat, an earlier night...) and, for every other
candidate master, why it was not used.  Without a library it falls back on
the provenance record in the file's header (the masters used, not the other
candidates).

Examples
--------
>>> e = Explanation(path="/out/science/a.fits", source="header")
>>> e.add("bias", "bias_1x1.fits", "same binning 1x1")
>>> print(e.text())
/out/science/a.fits (from the file's provenance)
bias: bias_1x1.fits -- same binning 1x1
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccdcal.errors import PipelineError

__all__ = ["Explanation", "KindExplanation", "explain_frame", "find_library_file"]


@dataclass
class KindExplanation:
    """The master of one kind used for a frame, and the other candidates."""

    kind: str
    used: str | None
    note: str = ""
    others: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Text lines: the master used, then one line per other candidate."""
        head = f"{self.kind}: {self.used or 'none'}"
        if self.note:
            head += f" -- {self.note}"
        return [head, *(f"    {o}" for o in self.others)]


@dataclass
class Explanation:
    """The explanation for one science frame."""

    path: str
    source: str
    kinds: list[KindExplanation] = field(default_factory=list)

    def add(
        self, kind: str, used: str | None, note: str = "", others: list[str] | None = None
    ) -> None:
        """Add the explanation for one kind of master."""
        self.kinds.append(KindExplanation(kind, used, note, list(others or [])))

    def text(self) -> str:
        """Several lines of text."""
        origin = {
            "library": "from the calibration library",
            "header": "from the file's provenance",
        }.get(self.source, self.source)
        lines = [f"{self.path} ({origin})"]
        for k in self.kinds:
            lines.extend(k.lines())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "path": self.path,
            "source": self.source,
            "kinds": [
                {"kind": k.kind, "used": k.used, "note": k.note, "others": k.others}
                for k in self.kinds
            ],
        }


def find_library_file(path: str | os.PathLike[str], *, levels: int = 3) -> Path | None:
    """The default library file in the folder of ``path`` or up to ``levels`` parents."""
    from ccdcal.library import DEFAULT_FILENAME

    folder = Path(path).resolve().parent
    for _ in range(levels + 1):
        candidate = folder / DEFAULT_FILENAME
        if candidate.exists():
            return candidate
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def _other_lines(decisions: Any) -> list[str]:
    lines = []
    for d in decisions or ():
        if d.get("chosen"):
            continue
        reasons = "; ".join(r.get("message", "") for r in d.get("reasons", [])) or "not chosen"
        verdict = "not chosen" if d.get("accepted") else "rejected"
        lines.append(f"{d.get('label', d.get('path', '?'))}: {verdict}: {reasons}")
    return lines


def _from_library(path: Path, db: str | os.PathLike[str]) -> Explanation | None:
    from ccdcal.library import CalibrationLibrary

    lib = CalibrationLibrary(str(db), create=False)
    try:
        usages = lib.usage_for(path)
    finally:
        lib.close()
    if not usages:
        return None
    exp = Explanation(path=str(path), source="library")
    order = {"bias": 0, "dark": 1, "flat": 2}
    for use in sorted(usages, key=lambda u: order.get(u.kind, 9)):
        used = None
        if use.master is not None:
            used = f"{use.master.label} {use.master.path}"
        exp.add(use.kind, used, use.note or "", _other_lines(use.decisions))
    return exp


def _from_header(path: Path) -> Explanation:
    from astropy.io import fits

    from ccdcal.io.provenance import read_provenance

    try:
        header = fits.getheader(path)
    except (OSError, ValueError) as exc:
        raise PipelineError(f"cannot read {str(path)!r}: {exc}") from None
    records = [r for r in read_provenance(header) if r.get("step") == "calibrate_science"]
    if not records:
        raise PipelineError(
            f"{str(path)!r} has no ccdcal calibration record and no calibration library "
            "knows it; give the calibrated file (OUT_DIR/science/...) and --db if the "
            "library is not in its output directory"
        )
    params = records[-1].get("params", {})
    exp = Explanation(path=str(path), source="header")
    notes = {n.split(":", 1)[0]: n.split(":", 1)[1].strip() for n in params.get("notes", [])}
    for kind in ("bias", "dark", "flat"):
        use = params.get("masters", {}).get(kind)
        if use is None:
            exp.add(
                kind, None, "calibrated without it" if kind in params.get("missing", []) else ""
            )
            continue
        exp.add(kind, f"{use.get('key')} {use.get('path')}", notes.get(kind, ""))
    return exp


def explain_frame(
    path: str | os.PathLike[str], *, db: str | os.PathLike[str] | None = None
) -> Explanation:
    """Explain the calibration of a science frame (calibrated output or raw file).

    Parameters
    ----------
    path : path
        The calibrated file (``OUT_DIR/science/...``) or the raw file.
    db : str or path, optional
        The calibration library; default the one found next to ``path``
        (``calibration-library.sqlite`` in its folder or up to three parents).

    Raises
    ------
    PipelineError
        Neither the library nor the file's header knows how it was calibrated.
    """
    target = Path(path).resolve()
    library = db if db is not None else find_library_file(target)
    if library is not None:
        found = _from_library(target, library)
        if found is not None:
            return found
    if not target.exists():
        raise PipelineError(
            f"{str(target)!r} does not exist and no calibration library knows it; "
            "check the path (and --db)"
        )
    return _from_header(target)
