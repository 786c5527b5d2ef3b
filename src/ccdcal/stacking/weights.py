"""Weights of the frames in a combination: none, scalar, per frame, per pixel or 1/variance.

Weights enter the weighted average ``sum(w x) / sum(w)`` and the weighted sum
``sum(w x)`` (as ccdproc), never the rejection (as IRAF) and not the median.
Only the weights of the values that survive count (ccdproc 2.5.1 keeps the
weights of masked and rejected values in the denominator: issue #893).

Examples
--------
>>> plan = resolve_weights([1, 2, 2], n_frames=3, shape=(4, 4), have_variance=[False] * 3)
>>> plan.frame.tolist(), plan.pixel is None, plan.describe()
([1.0, 2.0, 2.0], True, 'per frame [1, 2, 2]')
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ccdcal.errors import CombineError, InvalidParameterError, ParameterTypeError

__all__ = ["INVERSE_VARIANCE", "WeightPlan", "resolve_weights"]

#: ``weights=INVERSE_VARIANCE`` weights each value by 1/variance of its input uncertainty.
INVERSE_VARIANCE = "inverse_variance"


@dataclass
class WeightPlan:
    """Resolved weights: per-frame factors, optional per-pixel weights, or 1/variance."""

    frame: np.ndarray
    pixel: np.ndarray | None = None
    ivar: bool = False

    def describe(self) -> str:
        """How the frames are weighted, for the header."""
        if self.ivar:
            return "inverse variance"
        if self.pixel is not None:
            return "per pixel"
        if np.all(self.frame == self.frame[0]):
            return "uniform" if self.frame[0] == 1 else f"uniform {self.frame[0]:g}"
        shown = ", ".join(f"{w:g}" for w in self.frame[:20])
        return f"per frame [{shown}{', ...' if self.frame.size > 20 else ''}]"


def _check_values(values: np.ndarray, what: str) -> None:
    if not np.issubdtype(values.dtype, np.number) or values.dtype.kind == "c":
        raise ParameterTypeError(f"{what} must be real numbers, got dtype {values.dtype}")
    if not np.all(np.isfinite(values)):
        raise InvalidParameterError(f"{what} must be finite; found NaN or inf")
    if np.any(values < 0):
        raise InvalidParameterError(f"{what} must be >= 0; found a negative weight")


def resolve_weights(
    weights: Any, *, n_frames: int, shape: tuple[int, ...], have_variance: Sequence[bool]
) -> WeightPlan:
    """Turn the ``weights`` argument of ``combine`` into a :class:`WeightPlan`.

    Parameters
    ----------
    weights : None, number, sequence, ndarray or ``'inverse_variance'``
        None: all 1.  A number: that weight for every frame.  N numbers: one
        per frame.  An array of shape ``(N, *frame_shape)``: one per pixel.
        ``'inverse_variance'``: 1/variance of each input value (every frame
        must carry an uncertainty).
    n_frames, shape : int, tuple
        Number of frames and the shape of one frame.
    have_variance : sequence of bool
        Which frames carry an uncertainty.
    """
    if weights is None:
        return WeightPlan(frame=np.ones(n_frames))
    if isinstance(weights, str):
        if weights.lower() not in (INVERSE_VARIANCE, "ivar"):
            raise InvalidParameterError(
                f"unknown weights {weights!r}; use 'inverse_variance', a number, one number "
                "per frame or an array of per-pixel weights"
            )
        missing = [i + 1 for i, has in enumerate(have_variance) if not has]
        if missing:
            raise CombineError(
                f"weights='inverse_variance' needs an uncertainty on every frame; frame(s) "
                f"{missing[:10]} have none: add one (create_deviation) or use other weights"
            )
        return WeightPlan(frame=np.ones(n_frames), ivar=True)
    if isinstance(weights, numbers.Real) and not isinstance(weights, bool):
        values = np.full(n_frames, float(weights))
        _check_values(values, "weights")
        return WeightPlan(frame=values)
    array = np.asarray(weights)
    if array.dtype == object:
        raise ParameterTypeError(f"weights must be numbers or an array, got {weights!r}")
    _check_values(array, "weights")
    if array.ndim == 1:
        if array.shape[0] != n_frames:
            raise InvalidParameterError(
                f"Length of weights not compatible with specified axis: {array.shape[0]} "
                f"weights for {n_frames} images; give one weight per image"
            )
        return WeightPlan(frame=array.astype(np.float64))
    if array.shape != (n_frames, *shape):
        raise InvalidParameterError(
            f"1D weights expected when shapes of the data and weights differ: weights have "
            f"shape {array.shape}, the stack {(n_frames, *shape)}; give one weight per image "
            "or one per pixel"
        )
    return WeightPlan(frame=np.ones(n_frames), pixel=array)
