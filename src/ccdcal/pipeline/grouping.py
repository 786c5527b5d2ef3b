"""Grouping calibration frames into masters.

* **bias**: one master per instrument, binning and readout mode (never split
  by filter: some observatories write FILTER on bias frames too);
* **dark**: per instrument, binning, readout mode and temperature group, then
  split into exposure-time clusters;
* **flat**: per instrument, binning, readout mode and filter.

Within a group every frame must have the same shape; the odd ones out (fewer
than the most common shape) are rejected with a reason.  Everything here is
pure: lists of :class:`~ccdcal.pipeline.model.FrameRef` in, groups out.

Examples
--------
>>> from ccdcal.pipeline.model import FrameRef
>>> darks = [FrameRef(path=f"d{i}", frame_type="dark", exptime=t, shape=(4, 4))
...          for i, t in enumerate([60, 61, 300, 299.5])]
>>> [g.exptime for g in group_frames(darks, "dark")]
[60.5, 299.75]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from statistics import fmean

from ccdcal.pipeline.model import FrameRef, Rejection
from ccdcal.pipeline.options import MasterKind, ReduceOptions

__all__ = [
    "FrameGroup",
    "cluster_values",
    "group_frames",
    "split_by_shape",
]


@dataclass
class FrameGroup:
    """Frames that make one master, plus those rejected from it."""

    kind: MasterKind
    instrument: str | None
    xbin: int
    ybin: int
    readout_mode: str | None
    filter: str | None = None
    frames: list[FrameRef] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int] | None:
        """The frames' common shape."""
        return self.frames[0].shape if self.frames else None

    @property
    def exptime(self) -> float | None:
        """Mean exposure time of the frames (None if any lacks one)."""
        times = [f.exptime for f in self.frames]
        if not times or any(t is None for t in times):
            return None
        return round(fmean(t for t in times if t is not None), 6)

    @property
    def temperature(self) -> float | None:
        """Mean CCD temperature of the frames (set-point where no CCD temperature is known)."""
        temps = [f.ccd_temp if f.ccd_temp is not None else f.set_temp for f in self.frames]
        known = [t for t in temps if t is not None]
        return round(fmean(known), 3) if known else None

    @property
    def date_span(self) -> tuple[str | None, str | None]:
        """Earliest and latest DATE-OBS of the frames."""
        dates = sorted(f.date_obs for f in self.frames if f.date_obs)
        return (dates[0], dates[-1]) if dates else (None, None)


def cluster_values(
    values: Sequence[float], *, close: Callable[[float, float], bool]
) -> list[list[int]]:
    """Cluster sorted values: a new cluster starts where ``close(first, value)`` fails.

    Returns lists of indices into ``values``, clusters in increasing value order.

    >>> cluster_values([300, 10, 11, 290], close=lambda a, b: (b - a) <= 0.1 * a)
    [[1, 2], [3, 0]]
    """
    order = sorted(range(len(values)), key=lambda i: (values[i], i))
    clusters: list[list[int]] = []
    first = 0.0
    for i in order:
        if clusters and close(first, values[i]):
            clusters[-1].append(i)
        else:
            clusters.append([i])
            first = values[i]
    return clusters


def split_by_shape(frames: Sequence[FrameRef]) -> tuple[list[FrameRef], list[Rejection]]:
    """Keep the frames of the most common shape; reject the others with a reason.

    Ties go to the larger shape (a full frame over a sub-frame).

    >>> fs = [FrameRef(path=p, shape=s) for p, s in [("a", (4, 4)), ("b", (4, 4)), ("c", (2, 4))]]
    >>> kept, rej = split_by_shape(fs)
    >>> [f.path for f in kept], rej[0].reason
    (['a', 'b'], 'shape (2, 4) differs from the other frames of its group (4, 4)')
    """
    counts = Counter(f.shape for f in frames)
    if len(counts) <= 1:
        return list(frames), []
    best = max(counts, key=lambda s: (counts[s], (s[0] * s[1]) if s else -1, s or ()))
    kept = [f for f in frames if f.shape == best]
    rejected = [
        Rejection(f.path, f"shape {f.shape} differs from the other frames of its group {best}")
        for f in frames
        if f.shape != best
    ]
    return kept, rejected


def _base_key(f: FrameRef) -> tuple[str, int, int, str]:
    return (f.instrument or "", f.xbin, f.ybin, f.readout_mode or "")


def _bucket(
    frames: Iterable[FrameRef], key: Callable[[FrameRef], Hashable]
) -> list[list[FrameRef]]:
    buckets: dict[Hashable, list[FrameRef]] = defaultdict(list)
    for f in frames:
        buckets[key(f)].append(f)
    return [sorted(buckets[k], key=lambda f: f.path) for k in sorted(buckets, key=repr)]


def _temperature_groups(frames: list[FrameRef], tolerance: float) -> list[list[FrameRef]]:
    known = [f for f in frames if f.temperature is not None]
    unknown = [f for f in frames if f.temperature is None]
    temps = [f.temperature for f in known]
    clusters = cluster_values(
        [t for t in temps if t is not None], close=lambda a, b: (b - a) <= tolerance
    )
    groups = [[known[i] for i in c] for c in clusters]
    if unknown:
        groups.append(unknown)
    return groups


def _exposure_groups(frames: list[FrameRef], tolerance: float) -> list[list[FrameRef]]:
    times = [f.exptime or 0.0 for f in frames]
    clusters = cluster_values(times, close=lambda a, b: a > 0 and (b - a) <= tolerance * a)
    return [[frames[i] for i in c] for c in clusters]


def _make_group(kind: MasterKind, frames: list[FrameRef]) -> FrameGroup:
    first = frames[0]
    kept, rejected = split_by_shape(sorted(frames, key=lambda f: f.path))
    return FrameGroup(
        kind=kind,
        instrument=first.instrument,
        xbin=first.xbin,
        ybin=first.ybin,
        readout_mode=first.readout_mode,
        filter=first.filter if kind == "flat" else None,
        frames=kept,
        rejected=rejected,
    )


def group_frames(
    frames: Iterable[FrameRef], kind: MasterKind, *, options: ReduceOptions | None = None
) -> list[FrameGroup]:
    """Group calibration frames of one kind into the masters to build.

    Frames of other types are ignored; groups come out in a stable order
    (instrument, binning, mode, then filter / temperature / exposure).
    """
    opts = options or ReduceOptions()
    mine = [f for f in frames if f.frame_type == kind]
    if kind == "bias":
        buckets = _bucket(mine, _base_key)
    elif kind == "flat":
        buckets = _bucket(mine, lambda f: (*_base_key(f), f.filter or ""))
    else:
        buckets = [
            egroup
            for bucket in _bucket(mine, _base_key)
            for tgroup in _temperature_groups(bucket, opts.temperature_tolerance)
            for egroup in _exposure_groups(tgroup, opts.exposure_tolerance)
        ]
    return [_make_group(kind, bucket) for bucket in buckets]
