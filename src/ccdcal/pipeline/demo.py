"""The demo: a synthetic pt5m-like night, reduced, and compared with its ground truth.

:func:`run_demo` writes a night with :func:`ccdcal.testing.night.make_night`
(pt5m headers and folder layout; 1x1 and 2x2 biases and darks; 1x1 twilight
flats in two filters, one saturated and one too faint; 2x2 science frames
longer than the darks; hot pixels, vignetting, dust, cosmic rays; a log and
a notes file to pass over), reduces it with the pipeline API, and
:func:`compare_with_truth` measures each calibrated frame against the truth:

* the **pull** ``(calibrated - truth) / sigma`` over good pixels (not masked,
  not hit by a cosmic ray): its median should be ~0 and its robust standard
  deviation ~1 when the calibration is unbiased and the uncertainties honest;
* the **flat-field error**: the master flat used divided by the true flat at
  the frame's binning, minus 1 (median and robust spread).

Examples
--------
>>> c = FrameComparison("r1.fits", "V", 120.0, median_pull=0.01, pull_std=1.02,
...                     outlier_fraction=0.001, flat_error=0.0002, flat_scatter=0.003,
...                     n_pixels=1000)
>>> c.ok
True
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.stats import mad_std

from ccdcal.pipeline.options import ReduceOptions
from ccdcal.pipeline.plan import plan_night
from ccdcal.pipeline.results import RunResult
from ccdcal.pipeline.run import ProgressCallback, run_plan

__all__ = [
    "DemoReport",
    "FrameComparison",
    "compare_with_truth",
    "cosmic_ray_footprint",
    "run_demo",
]

log = logging.getLogger(__name__)

#: What "matches the truth" means for one frame.
PULL_MEDIAN_LIMIT = 0.1
PULL_STD_RANGE = (0.9, 1.1)
FLAT_ERROR_LIMIT = 0.01


@dataclass(frozen=True)
class FrameComparison:
    """How one calibrated science frame compares with the truth."""

    name: str
    filter: str
    exptime: float
    median_pull: float
    pull_std: float
    outlier_fraction: float
    flat_error: float
    flat_scatter: float
    n_pixels: int

    @property
    def ok(self) -> bool:
        """Unbiased, honest uncertainties, and a flat within 1 %."""
        lo, hi = PULL_STD_RANGE
        return (
            abs(self.median_pull) < PULL_MEDIAN_LIMIT
            and lo < self.pull_std < hi
            and abs(self.flat_error) < FLAT_ERROR_LIMIT
            and self.flat_scatter < FLAT_ERROR_LIMIT
        )

    def line(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.name:<16} {self.filter:<3} {self.exptime:>6g} s  "
            f"pull median {self.median_pull:+.3f}  robust std {self.pull_std:.3f}  "
            f"|pull|>5 {100 * self.outlier_fraction:.3f}%  "
            f"flat error {100 * self.flat_error:+.3f}% +- {100 * self.flat_scatter:.3f}%  "
            f"{'ok' if self.ok else 'CHECK'}"
        )


@dataclass
class DemoReport:
    """The comparison of every calibrated science frame with the truth."""

    frames: list[FrameComparison] = field(default_factory=list)
    rejected_flats: list[str] = field(default_factory=list)
    expected_rejections: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every frame matches and the bad flats were rejected."""
        rejected = set(self.rejected_flats)
        return (
            bool(self.frames)
            and all(f.ok for f in self.frames)
            and all(name in rejected for name in self.expected_rejections)
        )

    def verdict(self) -> str:
        """The closing line."""
        if not self.frames:
            return "FAIL: no science frame was calibrated"
        worst_med = max(abs(f.median_pull) for f in self.frames)
        stds = [f.pull_std for f in self.frames]
        flat = max(abs(f.flat_error) + f.flat_scatter for f in self.frames)
        head = "PASS" if self.ok else "CHECK"
        return (
            f"{head}: {len(self.frames)} frames; |median pull| <= {worst_med:.3f}, "
            f"robust std {min(stds):.3f}-{max(stds):.3f} (ideal 0 and 1); flat within "
            f"{100 * flat:.2f}%; bad flats rejected: "
            f"{sum(n in self.rejected_flats for n in self.expected_rejections)}"
            f"/{len(self.expected_rejections)}"
        )

    def lines(self) -> list[str]:
        """Per-frame lines, then the verdict."""
        return [f.line() for f in self.frames] + [self.verdict()]


def _robust(values: np.ndarray) -> tuple[float, float]:
    return float(np.median(values)), float(mad_std(values))


def cosmic_ray_footprint(truth: Any, raw_path: str, shape: tuple[int, ...]) -> np.ndarray:
    """Pixels a simulated cosmic ray of ``raw_path`` touched, with their 4 neighbours.

    A cosmic ray's charge spreads into the neighbouring pixels, so comparisons
    with the truth leave those out too (neither ccdcal nor ccdproc removes
    cosmic rays by default).

    >>> from types import SimpleNamespace
    >>> hits = np.zeros((3, 3), bool)
    >>> hits[1, 1] = True
    >>> truth = SimpleNamespace(cosmic_rays={"r.fits": hits})
    >>> int(cosmic_ray_footprint(truth, "r.fits", (3, 3)).sum())
    5
    """
    crs = truth.cosmic_rays.get(raw_path)
    if crs is None:
        return np.zeros(shape, dtype=bool)
    hit = np.asarray(crs, dtype=bool)
    grown = hit.copy()
    grown[1:, :] |= hit[:-1, :]
    grown[:-1, :] |= hit[1:, :]
    grown[:, 1:] |= hit[:, :-1]
    grown[:, :-1] |= hit[:, 1:]
    return grown


def _compare_frame(
    name: str,
    frame_truth: Any,
    truth: Any,
    calibrated: Any,
    flat: Any | None,
) -> FrameComparison:
    signal = truth.signal[frame_truth.path]
    data = np.asarray(calibrated.data, dtype=np.float64)
    sigma = np.asarray(calibrated.uncertainty.array, dtype=np.float64)
    good = ~np.asarray(calibrated.mask, dtype=bool) & np.isfinite(data) & (sigma > 0)
    good &= ~cosmic_ray_footprint(truth, frame_truth.path, data.shape)
    pull = (data[good] - signal[good]) / sigma[good]
    med, std = _robust(pull)
    outliers = float(np.mean(np.abs(pull) > 5))
    flat_err, flat_sc = float("nan"), float("nan")
    if flat is not None:
        true_flat = truth.flat_for(frame_truth.filter, frame_truth.binning)
        fgood = ~np.asarray(flat.mask, dtype=bool) if flat.mask is not None else slice(None)
        ratio = np.asarray(flat.data, dtype=np.float64)[fgood] / true_flat[fgood] - 1.0
        flat_err, flat_sc = _robust(ratio)
    return FrameComparison(
        name=name,
        filter=frame_truth.filter,
        exptime=frame_truth.exptime,
        median_pull=med,
        pull_std=std,
        outlier_fraction=outliers,
        flat_error=flat_err,
        flat_scatter=flat_sc,
        n_pixels=int(good.sum()),
    )


def compare_with_truth(result: RunResult, truth: Any) -> DemoReport:
    """Compare every calibrated science frame of ``result`` with ``truth`` (a ``NightTruth``)."""
    from ccdcal.io.fits import read_ccd

    raw_dir = Path(truth.raw_dir)
    report = DemoReport()
    planned = {Path(f.path).resolve() for f in result.plan.frames}
    report.expected_rejections = [
        Path(f.path).name
        for f in truth.frames
        if f.kind == "flat" and f.flags and (raw_dir / f.path).resolve() in planned
    ]
    for done_master in result.masters.values():
        report.rejected_flats += [Path(p).name for p, _ in done_master.rejected]
    for spec in result.plan.science:
        done = next((s for s in result.science if s.key == spec.output and s.ok), None)
        if done is None or done.output is None:
            continue
        frame_truth = truth.frame(Path(spec.frame.path).relative_to(raw_dir))
        flat = None
        if spec.flat is not None:
            master = result.plan.master(spec.flat)
            built = result.masters.get(spec.flat)
            flat_path = built.output if built is not None else master.output
            flat = read_ccd(flat_path) if flat_path else None
        report.frames.append(
            _compare_frame(Path(done.output).name, frame_truth, truth, read_ccd(done.output), flat)
        )
    return report


def run_demo(
    directory: str | os.PathLike[str],
    *,
    seed: int = 0,
    size_factor: float = 0.25,
    executor: Any = None,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    options: ReduceOptions | None = None,
) -> tuple[RunResult, DemoReport]:
    """Write (or reuse) a synthetic night in ``directory``, reduce it, compare with the truth.

    The raw night goes to ``directory/raw``, its truth to ``directory/truth``
    and the reduction to ``directory/reduced``.  A folder that already holds a
    night is reused (and the reduction resumes).
    """
    from ccdcal.testing.night import load_truth, make_night

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    if (root / "truth").exists():
        truth = load_truth(root)
        log.info("reusing the synthetic night in %s", root)
    else:
        truth = make_night(root, seed=seed, size_factor=size_factor, junk_files=True)
    out = root / "reduced"
    plan = plan_night(root / "raw", out_dir=out, options=options)
    result = run_plan(plan, executor=executor, jobs=jobs, progress=progress)
    return result, compare_with_truth(result, truth)
