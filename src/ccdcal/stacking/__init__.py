"""ccdcal.stacking: the engine behind ``ccdcal.combine`` and ``ccdcal.Combiner``.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> from ccdcal.stacking import combine, SigmaClip
>>> frames = [CCDData(np.full((2, 2), v, np.float32), unit="adu") for v in (10, 11, 12, 500)]
>>> float(combine(frames, rejection=SigmaClip(low=3, high=3, deviation="mad_std")).data[0, 0])
11.0
"""

from ccdcal.stacking.api import combine
from ccdcal.stacking.combiner import Combiner
from ccdcal.stacking.rejection import (
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
from ccdcal.stacking.scaling import ScaleBy, ZeroBy
from ccdcal.stacking.weights import INVERSE_VARIANCE

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
