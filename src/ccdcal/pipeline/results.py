"""The results of a run: :class:`RunResult`, the run summary JSON, reading results back.

Examples
--------
>>> r = RunResult(plan=Plan(), out_dir="/tmp/out")
>>> r.complete, r.exit_code, r.headline()
(True, 0, '0 masters, 0 science frames calibrated')
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccdcal.errors import InvalidParameterError, PipelineError
from ccdcal.pipeline.plan import Plan
from ccdcal.pipeline.tasks import TaskResult

if TYPE_CHECKING:
    from astropy.nddata import CCDData

__all__ = ["SUMMARY_NAME", "RunResult", "load_run"]

SUMMARY_NAME = "run-summary.json"
SUMMARY_VERSION = 1
#: Problems that mean frames of the night were left out (the run is partial).
PARTIAL_KINDS = ("unreadable", "unclassified", "bad-shape", "missing-keyword", "rejected-frame")


@dataclass
class RunResult:
    """What a run did: per master and per science frame, a :class:`TaskResult`.

    Attributes
    ----------
    plan : Plan
    out_dir : str
    masters : dict of str to TaskResult
        By master key.
    science : list of TaskResult
        One per planned science frame (built, reused, failed or skipped).
    executor : str
    started : str
        UTC start time.
    seconds : float
        Wall time of the run.
    stage_seconds : dict
        Wall time of each stage.
    """

    plan: Plan
    out_dir: str
    masters: dict[str, TaskResult] = field(default_factory=dict)
    science: list[TaskResult] = field(default_factory=list)
    executor: str = ""
    started: str = ""
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ status

    @property
    def failed(self) -> list[TaskResult]:
        """Tasks (masters and science) that failed or were skipped."""
        tasks = [*self.masters.values(), *self.science]
        return [t for t in tasks if not t.ok]

    @property
    def calibrated(self) -> list[TaskResult]:
        """Science frames with an output (built now or reused)."""
        return [s for s in self.science if s.ok]

    @property
    def complete(self) -> bool:
        """True when every planned output exists and no frame of the night was left out."""
        left_out = any(p.kind in PARTIAL_KINDS for p in self.plan.problems)
        return not self.failed and not self.plan.skipped and not left_out

    @property
    def exit_code(self) -> int:
        """0 when complete, 3 (partial) otherwise -- the ``ccdcal reduce`` exit code."""
        return 0 if self.complete else 3

    def headline(self) -> str:
        """One line: how many masters and frames, and what was skipped or failed."""
        built = sum(1 for m in self.masters.values() if m.ok)
        parts = [f"{built} masters", f"{len(self.calibrated)} science frames calibrated"]
        reused = sum(1 for t in [*self.masters.values(), *self.science] if t.status == "reused")
        if reused:
            parts.append(f"{reused} up to date from an earlier run")
        n_failed = len(self.failed)
        if n_failed:
            parts.append(f"{n_failed} failed or skipped")
        if self.plan.skipped:
            parts.append(f"{len(self.plan.skipped)} science frames skipped by the plan")
        return ", ".join(parts)

    # ------------------------------------------------------------------ data

    def science_paths(self) -> list[Path]:
        """Paths of the calibrated science frames."""
        return [Path(s.output) for s in self.calibrated if s.output]

    def master_paths(self) -> dict[str, Path]:
        """``{key: path}`` of the masters built (or reused)."""
        return {k: Path(m.output) for k, m in self.masters.items() if m.ok and m.output}

    def read_science(self, which: int | str) -> CCDData:
        """Read a calibrated science frame by index (into :attr:`calibrated`) or file name."""
        from ccdcal.io.fits import read_ccd

        paths = self.science_paths()
        if isinstance(which, int):
            return read_ccd(paths[which])
        for p in paths:
            if which in (p.name, p.stem, str(p)):
                return read_ccd(p)
        raise InvalidParameterError(
            f"no calibrated science frame {which!r}; they are {[p.name for p in paths]}"
        )

    def iter_science(self) -> Iterator[tuple[Path, CCDData]]:
        """Yield ``(path, frame)`` for every calibrated science frame."""
        from ccdcal.io.fits import read_ccd

        for p in self.science_paths():
            yield p, read_ccd(p)

    # ------------------------------------------------------------------ summary

    def to_dict(self) -> dict[str, Any]:
        """The run summary (what ``run-summary.json`` holds)."""
        from ccdcal import __version__

        plan = self.plan
        return {
            "summary_version": SUMMARY_VERSION,
            "ccdcal_version": __version__,
            "started": self.started,
            "seconds": self.seconds,
            "stage_seconds": self.stage_seconds,
            "executor": self.executor,
            "out_dir": self.out_dir,
            "raw_dirs": list(plan.raw_dirs),
            "complete": self.complete,
            "exit_code": self.exit_code,
            "headline": self.headline(),
            "counts": plan.counts(),
            "options": plan.options.to_dict(),
            "masters": [
                {**self.masters[m.key].to_dict(), "spec": m.to_dict()}
                if m.key in self.masters
                else {"key": m.key, "kind": m.kind, "status": "library", "spec": m.to_dict()}
                for m in plan.masters
            ],
            "science": [s.to_dict() for s in self.science],
            "planned_science": [s.to_dict() for s in plan.science],
            "skipped": [s.to_dict() for s in plan.skipped],
            "problems": [p.to_dict() for p in plan.problems],
        }

    def write_summary(self) -> Path:
        """Write ``run-summary.json`` in the output directory (atomically)."""
        from ccdcal.io.atomic import atomic_write_text

        path = Path(self.out_dir) / SUMMARY_NAME
        text = json.dumps(self.to_dict(), indent=1, default=str)
        return atomic_write_text(path, text, overwrite=True)


def load_run(out_dir: str | os.PathLike[str]) -> RunResult:
    """Read the results of a finished run back from its output directory.

    Raises
    ------
    PipelineError
        There is no readable ``run-summary.json`` in ``out_dir``.
    """
    from ccdcal.pipeline.state import STATE_DIR

    path = Path(out_dir) / SUMMARY_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError(
            f"no readable run summary at {str(path)!r} ({exc}); run `ccdcal reduce` first"
        ) from None
    plan_path = Path(out_dir) / STATE_DIR / "plan.json"
    plan = Plan.load(plan_path) if plan_path.exists() else Plan()
    masters = {
        m["key"]: TaskResult.from_dict({k: v for k, v in m.items() if k != "spec"})
        for m in data.get("masters", [])
        if m.get("status") != "library"
    }
    return RunResult(
        plan=plan,
        out_dir=str(data.get("out_dir", out_dir)),
        masters=masters,
        science=[TaskResult.from_dict(s) for s in data.get("science", [])],
        executor=data.get("executor", ""),
        started=data.get("started", ""),
        seconds=float(data.get("seconds", 0.0)),
        stage_seconds=dict(data.get("stage_seconds", {})),
    )
