"""``Combiner``: ccdproc's in-memory combination class, on ccdcal's kernels.

The frames are stacked into :attr:`Combiner.data_arr`, a numpy
``MaskedArray`` of shape ``(N, ...)`` that scripts may read and change (its
mask too), exactly as with ccdproc.  The clipping methods only add to that
mask; the combining methods return a new ``CCDData``.

What differs from ccdproc 2.5.1 (see ``docs/ccdproc-differences.md``): the
default dtype is float32 (float64 when an input is float64); clipping
statistics leave out values already masked; ``clip_extrema`` does not count
masked values; rejection sees the scaled values; masked and rejected values
carry no weight; the uncertainty uses ddof=1 and the median's efficiency, or
propagates the inputs' uncertainties when every frame has one.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> frames = [CCDData(np.full((4, 4), v), unit="adu") for v in (1.0, 0.0, 1.0)]
>>> c = Combiner(frames)
>>> c.data_arr.shape, c.dtype
((3, 4, 4), dtype('float64'))
>>> round(float(c.average_combine().data[0, 0]), 4)
0.6667
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from astropy.nddata import CCDData, StdDevUncertainty
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    from ccdcal.stacking.engine import StackSpec

from ccdcal.dtypes import working_dtype
from ccdcal.errors import InvalidParameterError, ParameterTypeError, StackMismatchError
from ccdcal.stacking.reader import ArraySource, FrameSource
from ccdcal.stacking.rejection import (
    ExtremaClip,
    Rejection,
    SigmaClip,
    compile_rejection,
)
from ccdcal.stacking.scaling import ScalingPlan
from ccdcal.stacking.weights import WeightPlan, resolve_weights

__all__ = ["Combiner"]

_SIGMA_KWARGS = ("maxiters", "grow", "use_astropy")


class Combiner:
    """Combine ``CCDData`` frames held in memory (ccdproc's ``Combiner``).

    Parameters
    ----------
    ccd_iter : list or iterable of CCDData
        The frames: same shape and unit.
    dtype : dtype, optional
        Of the stack and the results. Default: float32, or float64 when an
        input is float64 or a 32/64-bit integer (ccdproc: always float64).

    Raises
    ------
    StackMismatchError
        (a ``TypeError``, as in ccdproc) ``ccd_iter`` is None, holds something
        that is not a ``CCDData``, or frames of different shapes or units.

    Attributes
    ----------
    data_arr : numpy.ma.MaskedArray
        The stack, shape ``(N, ...)``; its mask is where values are rejected.
    ccd_list : list of CCDData
        The inputs.
    unit : astropy unit
    """

    def __init__(self, ccd_iter: Iterable[CCDData] | None, dtype: DTypeLike | None = None):
        if ccd_iter is None:
            raise StackMismatchError(
                "ccd_iter should be a list or a generator of CCDData objects, got None"
            )
        try:
            ccd_list = list(ccd_iter)
        except TypeError:
            raise StackMismatchError(
                f"ccd_iter should be a list or a generator of CCDData objects, got {ccd_iter!r}"
            ) from None
        if not ccd_list:
            raise StackMismatchError("ccd_iter holds no CCDData objects; give at least one")
        _check_frames(ccd_list)
        self.ccd_list = ccd_list
        self.unit = ccd_list[0].unit
        self._dtype = (
            np.dtype(dtype)
            if dtype is not None
            else working_dtype(*(np.asarray(c.data).dtype for c in ccd_list))
        )
        shape = (len(ccd_list), *ccd_list[0].shape)
        stack = np.empty(shape, self._dtype)
        mask = np.zeros(shape, np.bool_)
        for i, ccd in enumerate(ccd_list):
            stack[i] = ccd.data
            if ccd.mask is not None:
                mask[i] = ccd.mask
        self.data_arr: np.ma.MaskedArray = np.ma.MaskedArray(stack, mask=mask)
        self._weights: np.ndarray | None = None
        self._scaling: np.ndarray | None = None

    # ------------------------------------------------------------------ properties

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the stack and of the results."""
        return self._dtype

    @property
    def weights(self) -> np.ndarray | None:
        """Weights: an array of N values or of the stack's shape (None: equal)."""
        return self._weights

    @weights.setter
    def weights(self, value: np.ndarray | None) -> None:
        if value is None:
            self._weights = None
            return
        if not isinstance(value, np.ndarray):
            raise ParameterTypeError(f"weights must be a numpy.ndarray, got {value!r}")
        shape = self.data_arr.shape
        if value.shape != shape:
            if value.ndim != 1:
                raise InvalidParameterError(
                    "1D weights expected when shapes of the data and weights differ: got "
                    f"shape {value.shape} for a stack of {shape}"
                )
            if value.shape[0] != shape[0]:
                raise InvalidParameterError(
                    f"Length of weights not compatible with specified axis: {value.shape[0]} "
                    f"weights for {shape[0]} images"
                )
        self._weights = value

    @property
    def scaling(self) -> np.ndarray | None:
        """Factors the frames are multiplied by before combining, shaped to broadcast.

        Set it to N numbers or to a function called on each (masked) frame.
        """
        return self._scaling

    @scaling.setter
    def scaling(self, value: Any) -> None:
        if value is None:
            self._scaling = None
            return
        n = self.data_arr.shape[0]
        if callable(value):
            factors = np.array([value(self.data_arr[i]) for i in range(n)], dtype=np.float64)
        else:
            try:
                count = len(value)
            except TypeError:
                raise ParameterTypeError(
                    "scaling must be a function or an array the same length as the number of "
                    f"images, got {value!r}"
                ) from None
            if count != n:
                raise InvalidParameterError(
                    "scaling must be a function or an array the same length as the number of "
                    f"images: got {count} values for {n} images"
                )
            factors = np.asarray(value, dtype=np.float64)
        self._scaling = factors.reshape((n,) + (1,) * (self.data_arr.ndim - 1))

    # ------------------------------------------------------------------ internals

    def _frame_shape2d(self) -> tuple[int, int]:
        shape = self.data_arr.shape[1:]
        if len(shape) == 1:
            return (1, shape[0])
        return (shape[0], int(np.prod(shape[1:])))

    def _sources(self, *, with_variance: bool = True) -> list[FrameSource]:
        shape2d = self._frame_shape2d()
        data = np.asarray(self.data_arr.data)
        mask = np.ma.getmaskarray(self.data_arr)
        sources: list[FrameSource] = []
        for i in range(data.shape[0]):
            variance = None
            ccd = self.ccd_list[i] if i < len(self.ccd_list) else None
            if with_variance and ccd is not None and ccd.uncertainty is not None:
                probe = ArraySource.from_ccd(ccd, name=f"frame {i + 1}")
                if probe.variance is not None:
                    values, kind = probe.variance
                    variance = (np.asarray(values).reshape(shape2d), kind)
            sources.append(
                ArraySource(
                    data[i].reshape(shape2d),
                    mask=mask[i].reshape(shape2d),
                    variance=variance,
                    unit=self.unit,
                    name=f"frame {i + 1}",
                )
            )
        return sources

    def _scale_factors(self, scale_to: Any) -> np.ndarray:
        n = self.data_arr.shape[0]
        value = scale_to if scale_to is not None else self._scaling
        if value is None:
            return np.ones(n)
        factors = np.asarray(value, dtype=np.float64)
        if factors.size == 1:
            return np.full(n, float(factors.reshape(-1)[0]))
        return factors.reshape(n)

    def _weight_plan(self) -> WeightPlan:
        n = self.data_arr.shape[0]
        if self._weights is None:
            return WeightPlan(frame=np.ones(n))
        w = self._weights
        if w.ndim == 1:
            return resolve_weights(w, n_frames=n, shape=(), have_variance=[False] * n)
        return WeightPlan(frame=np.ones(n), pixel=w.reshape((n, *self._frame_shape2d())))

    def _spec(
        self,
        method: str,
        rejection: Any,
        scale_to: Any = None,
        uncertainty_func: Callable[..., Any] | None = None,
    ) -> StackSpec:
        from ccdcal.stacking.engine import StackSpec  # numba is loaded on first use only

        n = self.data_arr.shape[0]
        return StackSpec(
            method=method,
            rejection=compile_rejection(rejection),
            scaling=ScalingPlan(self._scale_factors(scale_to), np.zeros(n)),
            weights=self._weight_plan(),
            dtype=working_dtype(self._dtype) if self._dtype.kind != "f" else self._dtype,
            uncertainty_function=uncertainty_func,
        )

    # ------------------------------------------------------------------ rejection

    def reject(self, rejection: Rejection | Sequence[Rejection]) -> None:
        """Mask the values a rejection (``SigmaClip(...)``, ``CCDClip(...)`` ...) rejects.

        The statistics use only unmasked values, on the scaled data.
        """
        spec = self._spec("average", rejection)
        if spec.rejection.grow > 0 and self.data_arr.ndim != 3:
            raise InvalidParameterError("grow needs 2-D frames")
        from ccdcal.stacking.engine import flag_rejections

        flags = flag_rejections(self._sources(with_variance=False), spec)
        self.data_arr.mask |= flags.reshape(self.data_arr.shape)

    def clip_extrema(self, nlow: int | None = 0, nhigh: int | None = 0) -> None:
        """Mask the ``nlow`` lowest and ``nhigh`` highest unmasked values of each pixel."""
        self.reject(ExtremaClip(nlow=int(nlow or 0), nhigh=int(nhigh or 0), nkeep=0))

    def minmax_clipping(self, min_clip: float | None = None, max_clip: float | None = None) -> None:
        """Mask values below ``min_clip`` or above ``max_clip`` (unscaled)."""
        data = np.asarray(self.data_arr.data)
        with np.errstate(invalid="ignore"):
            if min_clip is not None:
                self.data_arr.mask |= data < min_clip
            if max_clip is not None:
                self.data_arr.mask |= data > max_clip

    def sigma_clipping(
        self,
        low_thresh: float | None = 3,
        high_thresh: float | None = 3,
        func: Any = "mean",
        dev_func: Any = "std",
        **kwd: Any,
    ) -> None:
        """Mask values beyond ``low_thresh``/``high_thresh`` deviations from the centre.

        One pass by default (as ccdproc); ``maxiters=`` iterates, ``grow=``
        also masks the neighbours (in the image plane) of rejected values.
        A threshold of None clips nothing on that side.
        """
        unknown = sorted(set(kwd) - set(_SIGMA_KWARGS))
        if unknown:
            raise InvalidParameterError(
                f"sigma_clipping got unexpected keyword argument(s) {unknown}; it takes "
                "maxiters= and grow="
            )
        clip = SigmaClip(
            low=None if low_thresh is None else abs(low_thresh),
            high=None if high_thresh is None else abs(high_thresh),
            maxiters=kwd.get("maxiters", 1),
            center=func,
            deviation=dev_func,
            nkeep=0,
            grow=float(kwd.get("grow") or 0.0),
        )
        self.reject(clip)

    # ------------------------------------------------------------------ combining

    def _result(
        self,
        method: str,
        scale_to: Any,
        uncertainty_func: Any,
        user_func: Callable[..., Any] | None,
    ) -> CCDData:
        spec = self._spec(method, None, scale_to, uncertainty_func)
        from ccdcal.stacking.engine import combine_sources

        stack = combine_sources(self._sources(), spec)
        shape = self.data_arr.shape[1:]
        data = stack.data.reshape(shape)
        if user_func is not None:
            data = self._user_combination(method, user_func, scale_to).reshape(shape)
        with np.errstate(invalid="ignore"):
            out = CCDData(
                np.asarray(data).astype(self._dtype),
                mask=stack.mask.reshape(shape),
                unit=self.unit,
                uncertainty=StdDevUncertainty(
                    stack.sigma.reshape(shape).astype(
                        self._dtype if self._dtype.kind == "f" else np.float64
                    )
                ),
            )
        out.meta["NCOMBINE"] = len(self.data_arr)
        return out

    def _user_combination(self, method: str, func: Callable[..., Any], scale_to: Any) -> np.ndarray:
        """ccdproc's path for a user function: it gets the scaled masked stack."""
        factors = self._scale_factors(scale_to).reshape((-1,) + (1,) * (self.data_arr.ndim - 1))
        data = self.data_arr * factors
        if self._weights is not None and method in ("average", "sum"):
            w = self._weights
            if w.ndim == 1:
                w = w.reshape((-1,) + (1,) * (self.data_arr.ndim - 1))
            w = np.ma.MaskedArray(
                np.broadcast_to(w, data.shape).astype(np.float64), mask=np.ma.getmaskarray(data)
            )
            summed = func(data * w, axis=0)
            if method == "sum":
                return np.ma.filled(np.ma.asarray(summed).astype(np.float64), np.nan)
            return np.ma.filled(np.ma.asarray(summed / np.ma.sum(w, axis=0)), np.nan)
        return np.ma.filled(np.ma.asarray(func(data, axis=0)).astype(np.float64), np.nan)

    def average_combine(
        self,
        scale_func: Callable[..., Any] | None = None,
        scale_to: Any = None,
        uncertainty_func: Callable[..., Any] | None = None,
        sum_func: Callable[..., Any] | None = None,
    ) -> CCDData:
        """Weighted mean of the unmasked values of each pixel.

        ``scale_func`` (ccdproc's name for the averaging function) and
        ``sum_func``, when given, run on the scaled masked stack.
        ``uncertainty_func``, when given, replaces ccdcal's uncertainty by
        ``uncertainty_func(stack, axis=0) / sqrt(n)``.
        """
        if scale_func is not None:
            return self._result("average", scale_to, uncertainty_func, scale_func)
        if sum_func is not None and self._weights is not None:
            return self._weighted_with(sum_func, scale_to, uncertainty_func)
        return self._result("average", scale_to, uncertainty_func, None)

    def _weighted_with(
        self, sum_func: Callable[..., Any], scale_to: Any, uncertainty_func: Any
    ) -> CCDData:
        out = self._result("average", scale_to, uncertainty_func, None)
        factors = self._scale_factors(scale_to).reshape((-1,) + (1,) * (self.data_arr.ndim - 1))
        data = self.data_arr * factors
        w = self._weights
        assert w is not None
        if w.ndim == 1:
            w = w.reshape((-1,) + (1,) * (self.data_arr.ndim - 1))
        w = np.ma.MaskedArray(
            np.broadcast_to(w, data.shape).astype(np.float64), mask=np.ma.getmaskarray(data)
        )
        mean = np.ma.filled(np.ma.asarray(sum_func(data * w, axis=0) / sum_func(w, axis=0)), np.nan)
        out.data = np.asarray(mean).astype(self._dtype)
        return out

    def median_combine(
        self,
        median_func: Callable[..., Any] | None = None,
        scale_to: Any = None,
        uncertainty_func: Callable[..., Any] | None = None,
    ) -> CCDData:
        """Median of the unmasked values of each pixel (weights are not used)."""
        return self._result("median", scale_to, uncertainty_func, median_func)

    def sum_combine(
        self,
        sum_func: Callable[..., Any] | None = None,
        scale_to: Any = None,
        uncertainty_func: Callable[..., Any] | None = None,
    ) -> CCDData:
        """Weighted sum of the unmasked values of each pixel (not rescaled for rejections)."""
        return self._result("sum", scale_to, uncertainty_func, sum_func)


def _check_frames(ccd_list: Sequence[Any]) -> None:
    first = ccd_list[0]
    for i, ccd in enumerate(ccd_list):
        if not isinstance(ccd, CCDData):
            raise StackMismatchError(
                f"ccd_list should only contain CCDData objects; item {i + 1} is a "
                f"{type(ccd).__name__}"
            )
        if ccd.shape != first.shape:
            raise StackMismatchError(
                f"CCDData objects are not the same size: item {i + 1} is {ccd.shape}, the "
                f"first {first.shape}"
            )
        if ccd.unit != first.unit:
            raise StackMismatchError(
                f"CCDData objects don't have the same unit: item {i + 1} is in {ccd.unit}, "
                f"the first in {first.unit}"
            )
