"""The arithmetic of calibrating a science frame, fused into a few passes over whole arrays.

``create_deviation`` -> ``subtract_bias`` -> ``subtract_dark`` (scaled) ->
``flat_correct`` (``norm_value=1``), as :mod:`ccdcal.calibrate` runs them
one after the other, copy and propagate every plane at every step.  Here the
masters are first reduced, once per process, to the planes the arithmetic
needs (:class:`MasterPlanes`):

* ``bias`` ``B`` and its variance ``σ_B²``;
* ``dark`` ``K`` and its variance ``σ_K²`` -- the dark's *own* variance
  ``σ_D² - σ_B²`` when it was made with this very master bias (see
  :func:`~ccdcal.pipeline.science.correlated_bias_dark`);
* ``flat`` ``F`` with its unusable pixels (masked, not finite, not positive)
  set to 1, their positions, and ``σ_F``;
* ``mask``: the masters' masks and the unusable flat pixels, OR-ed.

Each frame ``R`` (gain ``g`` in e-/ADU, read noise ``RN`` in e-) scaled to
the dark by ``k`` then takes some fifteen in-place array operations
(:func:`calibrate_planes`)::

    S = R - B
    out = (S - k·K) / F
    σ = sqrt(max(S, 0)/g + (RN/g)² + σ_extra² + c·σ_B² + k²·σ_K² + (out·σ_F)²) / F

with ``c = (1 - k)²`` when the dark holds the bias's error, else 1.  The data
are those of the steps bit for bit; σ is theirs up to float32 rounding (the
steps add the same variances, only through square roots and squares in
between).  NaN propagates as in the steps, and where the flat is unusable a
non-finite flat term is dropped (as ``flat_correct`` drops it).

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData, StdDevUncertainty
>>> def frame(value, sigma):
...     return CCDData(np.full((1, 2), value, np.float32), unit="adu",
...                    uncertainty=StdDevUncertainty(np.full((1, 2), sigma, np.float32)))
>>> planes = master_planes(frame(100.0, 3.0), frame(10.0, 4.0), frame(2.0, 0.0))
>>> raw = np.array([[205, 55]], dtype=np.uint16)
>>> data, sigma, mask = calibrate_planes(raw, planes, dark_scale=0.5, gain=1.0, read_noise=0.0)
>>> data.tolist(), mask.tolist()
([[50.0, -25.0]], [[False, False]])
>>> # sqrt(105 + 3² + 0.5²·4²) / 2 and sqrt(0 + 3² + 0.5²·4²) / 2
>>> [round(float(s), 4) for s in sigma[0]]
[5.4314, 1.8028]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData
from numba import njit

from ccdcal.calibrate._frame import data_in, describe, mask_of, or_masks, sigma_in, unit_factor
from ccdcal.dtypes import working_dtype
from ccdcal.errors import IncompatibleFramesError

__all__ = ["MasterPlanes", "calibrate_planes", "master_planes"]


def _no_index() -> np.ndarray:
    return np.zeros(0, dtype=np.intp)


@dataclass(frozen=True)
class MasterPlanes:
    """The masters of a science frame reduced to the planes its arithmetic needs.

    Every array is read-only and of ``dtype``; ``None`` stands for a master
    (or an uncertainty) that is absent.  Built by :func:`master_planes`.

    Attributes
    ----------
    shape : tuple of int
        The masters' shape (that of the calibrated frame); ``()`` without masters.
    dtype : numpy.dtype
        The dtype of the planes.
    bias, bias_variance : ndarray or None
        ``B`` and ``σ_B²``, in the frames' unit.
    dark, dark_variance : ndarray or None
        ``K`` and the variance to scale by ``k²``: ``σ_D² - σ_B²`` (at least
        0) when ``bias_in_dark``, else ``σ_D²``.
    bias_in_dark : bool
        The dark holds the bias's error (and both have uncertainties): the
        bias's variance is then scaled by ``(1 - k)²``.
    flat, flat_sigma : ndarray or None
        ``F`` with its unusable pixels set to 1, and ``σ_F``.
    flat_bad : ndarray
        Flat (ravelled) indices of the unusable flat pixels.
    flat_unusable : ndarray or None
        The same pixels as a bool plane (with a flat).
    mask : ndarray or None
        The masters' masks and the unusable flat pixels, OR-ed.

    Examples
    --------
    >>> flat = CCDData(np.array([[1.0, -1.0]], np.float32), unit="adu")
    >>> planes = master_planes(None, None, flat)
    >>> planes.flat.tolist(), planes.flat_bad.tolist(), planes.mask.tolist()
    ([[1.0, 1.0]], [1], [[False, True]])
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    bias: np.ndarray | None = None
    bias_variance: np.ndarray | None = None
    dark: np.ndarray | None = None
    dark_variance: np.ndarray | None = None
    bias_in_dark: bool = False
    flat: np.ndarray | None = None
    flat_sigma: np.ndarray | None = None
    flat_bad: np.ndarray = field(default_factory=_no_index)
    flat_unusable: np.ndarray | None = None
    mask: np.ndarray | None = None


def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    if array is not None and array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def _check_shapes(masters: dict[str, CCDData]) -> tuple[int, ...]:
    first = next(iter(masters))
    shape = masters[first].shape
    for role, ccd in masters.items():
        if ccd.shape != shape:
            raise IncompatibleFramesError(
                f"{describe(ccd, role)} has shape {ccd.shape} but "
                f"{describe(masters[first], first)} has shape {shape}; the masters "
                "of a frame must have the same section and binning"
            )
    return shape


def _planes_of(
    ccd: CCDData, unit: u.UnitBase, role: str, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray | None]:
    """Data and variance of a master in ``unit`` (the data array itself when it can be)."""
    factor = unit_factor(unit, ccd, role)
    data = data_in(ccd, dtype)
    if factor != 1.0:
        data = np.multiply(data, dtype.type(factor), dtype=dtype)
    sigma = sigma_in(ccd, dtype)
    var = None if sigma is None else np.square(sigma, dtype=dtype)
    if var is not None and factor != 1.0:
        var *= dtype.type(factor * factor)
    return data, var


def _flat_planes(
    flat: CCDData, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray | None]:
    """``F`` (unusable pixels set to 1), ``σ_F``, their indices and plane, and the flat's mask."""
    fhat = data_in(flat, dtype)
    with np.errstate(invalid="ignore"):
        bad = ~((fhat > 0) & (fhat < np.inf))  # NaN is bad too
    fmask = mask_of(flat)
    if fmask is not None:
        bad |= fmask
    index = np.flatnonzero(bad)
    if index.size:
        fhat = fhat.copy()
        fhat.ravel()[index] = 1
    has_mask = index.size > 0 or flat.mask is not None
    return fhat, sigma_in(flat, dtype), index, bad, bad if has_mask else None


def master_planes(
    bias: CCDData | None,
    dark: CCDData | None,
    flat: CCDData | None,
    *,
    bias_in_dark: bool = False,
    unit: u.UnitBase = u.adu,
) -> MasterPlanes:
    """Reduce the masters of a frame to :class:`MasterPlanes`, once for many frames.

    Parameters
    ----------
    bias, dark, flat : CCDData or None
        The master bias, the master dark (bias-subtracted, not scaled) and
        the normalised master flat; None for one that is not used.
    bias_in_dark : bool
        The dark was made with this very master bias, so it carries the
        bias's error (see :func:`~ccdcal.pipeline.science.correlated_bias_dark`).
    unit : astropy unit
        The unit of the frames; bias and dark are converted to it
        (``UnitMismatchError`` when they cannot be, as in ``subtract_bias``).

    Raises
    ------
    IncompatibleFramesError
        The masters' shapes differ.
    """
    roles = (("master bias", bias), ("master dark", dark), ("flat", flat))
    given = {role: m for role, m in roles if m is not None}
    shape = _check_shapes(given) if given else ()
    dt = working_dtype(*(m.data.dtype for m in given.values()))
    planes: dict[str, np.ndarray | None] = {}
    if bias is not None:
        planes["bias"], planes["bias_variance"] = _planes_of(bias, unit, "master bias", dt)
    if dark is not None:
        planes["dark"], planes["dark_variance"] = _planes_of(dark, unit, "master dark", dt)
    bias_var, dark_var = planes.get("bias_variance"), planes.get("dark_variance")
    correlated = False
    if bias_in_dark and bias_var is not None and dark_var is not None:
        own = np.subtract(dark_var, bias_var, dtype=dt)
        planes["dark_variance"] = np.maximum(own, 0, out=own)
        correlated = True
    flat_bad, flat_mask = _no_index(), None
    if flat is not None:
        planes["flat"], planes["flat_sigma"], flat_bad, planes["flat_unusable"], flat_mask = (
            _flat_planes(flat, dt)
        )
    masks = [mask_of(m) for m in (bias, dark) if m is not None]
    frozen = {name: _frozen(array) for name, array in planes.items()}
    return MasterPlanes(
        shape=shape,
        dtype=dt,
        bias_in_dark=correlated,
        flat_bad=flat_bad,
        mask=_frozen(or_masks(*masks, flat_mask)),
        **frozen,
    )


_SCRATCH = threading.local()


def _scratch(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A work array of this thread, kept for the next frame of the same shape.

    A fresh array of a frame's size costs more in page faults (the memory
    comes from the system again every time) than the arithmetic done in it.
    """
    array = getattr(_SCRATCH, "array", None)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = np.empty(shape, dtype=dtype)
        _SCRATCH.array = array
    return array


def _add_scaled(var: np.ndarray, plane: np.ndarray | None, factor: float, tmp: np.ndarray) -> None:
    """``var += factor·plane`` (``tmp``: scratch space of var's shape and dtype)."""
    if plane is None:
        return
    if factor == 1.0:
        var += plane
        return
    np.multiply(plane, var.dtype.type(factor), out=tmp)
    var += tmp


def _flat_variance(out: np.ndarray, planes: MasterPlanes, tmp: np.ndarray) -> np.ndarray:
    """``(out·σ_F)²`` in ``tmp``, zero where the flat is unusable and the term is not finite."""
    assert planes.flat_sigma is not None
    term = np.multiply(out, planes.flat_sigma, out=tmp)
    if planes.flat_bad.size:
        flat_view = term.reshape(-1)
        values = flat_view[planes.flat_bad]
        values[~np.isfinite(values)] = 0
        flat_view[planes.flat_bad] = values
    return np.square(term, out=term)


def calibrate_planes(
    raw: np.ndarray,
    planes: MasterPlanes,
    *,
    dark_scale: float,
    gain: float,
    read_noise: float,
    extra_variance: float = 0.0,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated data, σ and mask of one frame (new arrays; ``raw`` is not changed).

    Parameters
    ----------
    raw : ndarray
        The frame (overscan-subtracted and trimmed if it had to be), in the
        masters' unit.
    planes : MasterPlanes
        The masters, from :func:`master_planes`.
    dark_scale : float
        ``k``: the dark is subtracted as ``k·K`` (the frame's exposure over the dark's).
    gain : float
        Gain (e-/ADU) of the Poisson term ``max(R - B, 0)/g`` (ADU²).
    read_noise : float
        Read noise in electrons (``RN/g`` ADU).
    extra_variance : float
        Variance (ADU²) added to every pixel (that of an overscan level).
    mask : ndarray of bool, optional
        The frame's own mask (saturated pixels), OR-ed with the masters'.

    Raises
    ------
    IncompatibleFramesError
        ``raw`` does not have the masters' shape.
    """
    dt = working_dtype(raw.dtype, planes.dtype)
    if planes.shape and raw.shape != planes.shape:
        raise IncompatibleFramesError(
            f"the frame has shape {raw.shape} but its masters {planes.shape}; use masters "
            "of the same section and binning"
        )
    terms = (dark_scale, gain, read_noise, extra_variance)
    if _fits_the_kernel(raw, planes, dt):
        out, sigma = _calibrate_in_one_pass(raw, planes, *terms)
    else:
        out, sigma = _calibrate_in_passes(raw, planes, dt, *terms)
    return out, sigma, _mask(raw.shape, mask, planes.mask)


def _fits_the_kernel(raw: np.ndarray, planes: MasterPlanes, dt: np.dtype) -> bool:
    """Whether :func:`_calibrate_kernel` applies: float32, every master and σ present.

    The planes must be native float32 and the frame a native integer or
    floating array that float32 holds exactly as numpy converts it.
    """
    if dt != np.float32 or not raw.dtype.isnative or raw.dtype.itemsize > 4:
        return False
    if raw.dtype.kind not in "uif" or planes.flat_unusable is None:
        return False
    return all(plane is not None and plane.dtype == np.float32 for plane in _kernel_planes(planes))


def _kernel_planes(planes: MasterPlanes) -> tuple[np.ndarray | None, ...]:
    """The float32 planes :func:`_calibrate_kernel` reads, in its order."""
    return (
        planes.bias,
        planes.bias_variance,
        planes.dark,
        planes.dark_variance,
        planes.flat,
        planes.flat_sigma,
    )


def _calibrate_in_one_pass(
    raw: np.ndarray,
    planes: MasterPlanes,
    dark_scale: float,
    gain: float,
    read_noise: float,
    extra_variance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Data and σ from :func:`_calibrate_kernel` (float32, every plane present)."""
    f32 = np.float32
    bias_factor = (1.0 - dark_scale) ** 2 if planes.bias_in_dark else 1.0
    constant = (read_noise / gain) ** 2 + extra_variance
    out = np.empty(raw.shape, dtype=f32)
    sigma = np.empty(raw.shape, dtype=f32)
    arrays = (raw, *_kernel_planes(planes), planes.flat_unusable)
    raw_1d, bias, bias_var, dark, dark_var, flat, flat_sigma, unusable = (
        np.ascontiguousarray(array).reshape(-1) for array in arrays
    )
    _calibrate_kernel(
        raw_1d, bias, bias_var, dark, dark_var, flat, flat_sigma, unusable,
        f32(1.0 / gain), f32(bias_factor), f32(dark_scale**2), f32(constant), f32(dark_scale),
        out.reshape(-1), sigma.reshape(-1),
    )  # fmt: skip
    return out, sigma


@njit(cache=True, nogil=True, error_model="numpy")
def _calibrate_kernel(
    raw: np.ndarray,
    bias: np.ndarray,
    bias_var: np.ndarray,
    dark: np.ndarray,
    dark_var: np.ndarray,
    flat: np.ndarray,
    flat_sigma: np.ndarray,
    unusable: np.ndarray,
    inv_gain: np.float32,
    bias_factor: np.float32,
    dark_factor: np.float32,
    constant: np.float32,
    scale: np.float32,
    out: np.ndarray,
    sigma: np.ndarray,
) -> None:
    """The float32 operations of :func:`_calibrate_in_passes`, in its order, pixel by pixel.

    Each operation is the same IEEE float32 operation as the numpy pass it
    replaces (no fused multiply-add: numba's default keeps them apart), so
    the results are bit for bit those of the passes.  ``np.maximum(v, 0)``
    keeps NaN (and ``-0.0``); a non-finite flat term counts 0 only where the
    flat is unusable.
    """
    zero = np.float32(0.0)
    for i in range(raw.size):
        signal = np.float32(raw[i]) - bias[i]
        var = signal * inv_gain
        var = var if (var >= zero or var != var) else zero
        var = var + bias_var[i] * bias_factor
        var = var + dark_var[i] * dark_factor
        var = var + constant
        data = (signal - dark[i] * scale) / flat[i]
        term = data * flat_sigma[i]
        finite = term - term == zero
        term = term if (finite or not unusable[i]) else zero
        var = var + term * term
        out[i] = data
        sigma[i] = np.sqrt(var) / flat[i]


def _calibrate_in_passes(
    raw: np.ndarray,
    planes: MasterPlanes,
    dt: np.dtype,
    dark_scale: float,
    gain: float,
    read_noise: float,
    extra_variance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Data and σ in whole-array numpy passes (any dtype, any plane missing)."""
    if planes.bias is not None:
        signal = np.subtract(raw, planes.bias, dtype=dt)
    else:
        signal = np.array(raw, dtype=dt)
    var = np.multiply(signal, dt.type(1.0 / gain), dtype=dt)
    np.maximum(var, 0, out=var)  # NaN stays NaN
    tmp = _scratch(var.shape, var.dtype)
    bias_factor = (1.0 - dark_scale) ** 2 if planes.bias_in_dark else 1.0
    _add_scaled(var, planes.bias_variance, bias_factor, tmp)
    _add_scaled(var, planes.dark_variance, dark_scale**2, tmp)
    var += dt.type((read_noise / gain) ** 2 + extra_variance)
    out = signal  # the data from here on
    if planes.dark is not None:
        out -= np.multiply(planes.dark, dt.type(dark_scale), out=tmp)
    if planes.flat is not None:
        out /= planes.flat
        if planes.flat_sigma is not None:
            var += _flat_variance(out, planes, tmp)
    sigma = np.sqrt(var, out=var)
    if planes.flat is not None:
        sigma /= planes.flat
    return out, sigma


def _mask(shape: tuple[int, ...], own: np.ndarray | None, masters: np.ndarray | None) -> np.ndarray:
    if own is None:
        return np.zeros(shape, dtype=bool) if masters is None else masters.copy()
    if masters is None:
        return np.array(own, dtype=bool)
    return np.logical_or(own, masters)
