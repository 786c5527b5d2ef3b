"""Pictures of the QA report: frame thumbnails and two plots of the night.

* :func:`write_thumbnail` -- a (downsampled) frame as an 8-bit greyscale PNG,
  scaled with astropy's ``ZScaleInterval`` computed on the thumbnail itself;
* :func:`plot_science_trends` -- sky level (ADU/s) and noise ratio of the science
  frames against time (``DATE-OBS``), one colour per filter;
* :func:`plot_flat_profiles` -- radial profiles of the master flats.

matplotlib is imported inside the plotting functions (``import ccdcal`` does
not load it) and used through :class:`matplotlib.figure.Figure` and the Agg
canvas directly, never pyplot: no global backend is set, no figure is kept.
Thumbnails are written with Pillow (a matplotlib dependency) as one-channel
PNGs, four times less to compress than matplotlib's RGBA ``imsave``, which
makes them several times faster.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> image = np.random.default_rng(0).normal(100.0, 5.0, (30, 40))
>>> write_thumbnail(folder / "t.png", image).read_bytes()[1:4]
b'PNG'
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ccdcal.io.atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_flat_profiles",
    "plot_science_trends",
    "preload_plotting",
    "scale_to_bytes",
    "write_thumbnail",
]

log = logging.getLogger(__name__)

#: PNG compression of thumbnails: noise hardly compresses, so a fast level.
_PNG_LEVEL = 1
_MARKERS = "osD^v<>ph*"


def preload_plotting() -> None:
    """Import what the pictures need (matplotlib's Agg canvas, Pillow, astropy.visualization).

    Importing them costs ~0.3 s; ``ccdcal reduce`` calls this from a
    background thread while its worker processes run, so that the report at
    the end does not wait for it.

    Examples
    --------
    >>> preload_plotting()
    >>> import sys
    >>> "matplotlib.figure" in sys.modules
    True
    """
    import astropy.visualization  # noqa: F401
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401
    import PIL.Image  # noqa: F401


def scale_to_bytes(image: np.ndarray) -> np.ndarray:
    """Map ``image`` to 0-255 with the zscale limits of the image itself.

    Row 0 of the result is the *top* row of a picture, so the array is
    flipped: FITS row 1 (numpy row 0) ends up at the bottom, as in DS9.

    Examples
    --------
    >>> out = scale_to_bytes(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> out.dtype, out.tolist()  # the bottom row is the first row of the image
    (dtype('uint8'), [[170, 255], [0, 85]])
    """
    from astropy.visualization import ZScaleInterval

    finite = np.isfinite(image)
    values = image if finite.all() else image[finite]
    if values.size == 0:
        return np.zeros(image.shape, dtype=np.uint8)
    low, high = ZScaleInterval().get_limits(values)
    if not high > low:
        low, high = float(values.min()), float(values.max())
    scale = 255.0 / (high - low) if high > low else 1.0
    scaled = np.subtract(image, low, dtype=np.float32)
    scaled *= np.float32(scale)
    np.clip(np.nan_to_num(scaled, copy=False), 0, 255, out=scaled)
    return scaled.astype(np.uint8)[::-1]


def write_thumbnail(path: Path, image: np.ndarray) -> Path:
    """Write ``image`` (already downsampled) as a zscaled greyscale PNG, atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> p = write_thumbnail(pathlib.Path(tempfile.mkdtemp()) / "x.png", np.eye(4))
    >>> Image.open(p).size, Image.open(p).mode
    ((4, 4), 'L')
    """
    from PIL import Image

    picture = Image.fromarray(scale_to_bytes(image), mode="L")
    with atomic_path(path, overwrite=True) as tmp:
        picture.save(tmp, format="PNG", compress_level=_PNG_LEVEL)
    return Path(path)


def _figure(width: float, height: float, ncols: int) -> tuple[Figure, list[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.17, top=0.9, wspace=0.28)
    return fig, list(axes)


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": _PNG_LEVEL})


def _when(text: Any) -> _dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def plot_science_trends(
    science: Sequence[Mapping[str, Any]], path: Path, *, band: tuple[float, float] = (0.8, 1.25)
) -> bool:
    """Plot sky level and noise ratio against ``DATE-OBS``, per filter; False if no data.

    ``science`` are the science entries of :func:`ccdcal.report.qa.qa_metrics`
    (keys ``date_obs``, ``filter``, ``sky_rate`` -- the sky in ADU/s, or
    ``sky`` -- and ``noise_ratio``); ``band`` is
    the accepted range of the noise ratio, shaded.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rows = [{"date_obs": f"2025-06-24T22:{m:02d}:00", "filter": "V", "sky": 100.0 + m,
    ...          "noise_ratio": 1.0} for m in range(3)]
    >>> plot_science_trends(rows, pathlib.Path(tempfile.mkdtemp()) / "s.png")
    True
    >>> plot_science_trends([], pathlib.Path("unused.png"))
    False
    """
    points: dict[str, list[tuple[_dt.datetime, float | None, float | None]]] = {}
    for row in science:
        when = _when(row.get("date_obs"))
        sky = row.get("sky_rate", row.get("sky"))
        if when is None or sky is None:
            continue
        points.setdefault(str(row.get("filter") or "?"), []).append(
            (when, sky, row.get("noise_ratio"))
        )
    if not points:
        return False
    from matplotlib.dates import DateFormatter

    fig, (ax_sky, ax_ratio) = _figure(9.0, 3.2, 2)
    for i, (name, rows) in enumerate(sorted(points.items())):
        rows.sort(key=lambda r: r[0])
        times = np.array([r[0].replace(tzinfo=None) for r in rows], dtype="datetime64[ms]")
        marker = _MARKERS[i % len(_MARKERS)]
        ax_sky.plot(times, _floats([r[1] for r in rows]), marker=marker, ls="-", label=name)
        ax_ratio.plot(times, _floats([r[2] for r in rows]), marker=marker, ls="-", label=name)
    ax_ratio.axhspan(*band, color="0.92", zorder=0)
    ax_ratio.axhline(1.0, color="0.5", lw=0.8)
    ax_sky.set_title("sky level (ADU/s)", fontsize=10)
    ax_ratio.set_title("sky noise / median uncertainty", fontsize=10)
    for ax in (ax_sky, ax_ratio):
        ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
        ax.set_xlabel("DATE-OBS (UT)")
        ax.tick_params(labelsize=8)
    ax_sky.legend(fontsize=8, title="filter", title_fontsize=8)
    _save(fig, path)
    return True


def plot_flat_profiles(masters: Sequence[Mapping[str, Any]], path: Path) -> bool:
    """Plot the radial profiles of the flats; False if there is none.

    ``masters`` are the master entries of :func:`ccdcal.report.qa.qa_metrics`;
    those with ``profiles`` (flats) are drawn, derived flats dashed. (The
    row and column profiles stay in ``qa.json``: one panel draws in half
    the time of three.)

    Examples
    --------
    >>> import tempfile, pathlib
    >>> prof = {"radius": [0.25, 0.75], "radial": [1.05, 0.95]}
    >>> plot_flat_profiles([{"key": "flat_V", "profiles": prof}],
    ...                    pathlib.Path(tempfile.mkdtemp()) / "f.png")
    True
    """
    flats = [m for m in masters if m.get("profiles")]
    if not flats:
        return False
    fig, (ax,) = _figure(5.5, 3.2, 1)
    fig.subplots_adjust(left=0.14, right=0.97)
    for i, entry in enumerate(flats):
        prof = entry["profiles"]
        ax.plot(
            prof["radius"],
            _floats(prof["radial"]),
            ls="--" if entry.get("source") == "derived" else "-",
            marker=_MARKERS[i % len(_MARKERS)],
            ms=3,
            lw=1,
            label=str(entry.get("key")),
        )
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set_title("master flats: median in rings", fontsize=10)
    ax.set_xlabel("radius (0 centre, 1 corner)")
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7)
    _save(fig, path)
    return True


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)
