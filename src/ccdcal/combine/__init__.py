"""ccdcal.combine: the stack engine (``combine``, ``Combiner``, rejection, scaling, weights).

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> from ccdcal.combine import combine, SigmaClip
>>> frames = [CCDData(np.full((2, 2), v, np.float32), unit="adu") for v in (10, 11, 12, 500)]
>>> float(combine(frames, rejection=SigmaClip(low=3, high=3, deviation="mad_std")).data[0, 0])
11.0
"""

from ccdcal.combine.api import combine
from ccdcal.combine.combiner import Combiner
from ccdcal.combine.rejection import (
    AvSigClip,
    CCDClip,
    ExtremaClip,
    MinMaxClip,
    PClip,
    PercentileClip,
    Rejection,
    SigmaClip,
    WinsorizedSigmaClip,
)
from ccdcal.combine.scaling import ScaleBy, ZeroBy
from ccdcal.combine.weights import INVERSE_VARIANCE

__all__ = [
    "INVERSE_VARIANCE",
    "AvSigClip",
    "CCDClip",
    "Combiner",
    "ExtremaClip",
    "MinMaxClip",
    "PClip",
    "PercentileClip",
    "Rejection",
    "ScaleBy",
    "SigmaClip",
    "WinsorizedSigmaClip",
    "ZeroBy",
    "combine",
]
