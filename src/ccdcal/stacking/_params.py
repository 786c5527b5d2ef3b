"""Codes and parameter-vector layout shared by the combination kernels.

The kernels take two small vectors instead of a dozen scalar arguments:
``ip`` (int64, offsets ``IP_*``) and ``fp`` (float64, offsets ``FP_*``).

>>> ip, fp = default_params()
>>> int(ip[IP_MODE]) == MODE_COMBINE, float(fp[FP_THI])
(True, inf)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ALG_AVSIGCLIP",
    "ALG_CCDCLIP",
    "ALG_NONE",
    "ALG_PCLIP",
    "ALG_PERCENTILE",
    "ALG_SIGCLIP",
    "ALG_WINSOR",
    "CENTER_MEAN",
    "CENTER_MEDIAN",
    "DEV_MAD",
    "DEV_MAD_STD",
    "DEV_STD",
    "FP_HIGH",
    "FP_LOW",
    "FP_PCLIP",
    "FP_PEDESTAL",
    "FP_PHIGH",
    "FP_PLOW",
    "FP_SIZE",
    "FP_SNOISE",
    "FP_THI",
    "FP_TLO",
    "FP_WCUT",
    "IP_ALG",
    "IP_CENTER",
    "IP_DEV",
    "IP_IDS",
    "IP_IVAR",
    "IP_MAXITERS",
    "IP_METHOD",
    "IP_MINCLIP",
    "IP_MODE",
    "IP_NHIGH",
    "IP_NKEEP",
    "IP_NKEEP_EXTREMA",
    "IP_NLOW",
    "IP_SIZE",
    "METHODS",
    "METHOD_AVERAGE",
    "METHOD_MEDIAN",
    "METHOD_SUM",
    "MODE_COMBINE",
    "MODE_FLAGS",
    "default_params",
]

METHOD_AVERAGE, METHOD_MEDIAN, METHOD_SUM = 0, 1, 2
#: combination methods by name
METHODS = {"average": METHOD_AVERAGE, "median": METHOD_MEDIAN, "sum": METHOD_SUM}
ALG_NONE, ALG_SIGCLIP, ALG_CCDCLIP, ALG_AVSIGCLIP = 0, 1, 2, 3
ALG_PCLIP, ALG_WINSOR, ALG_PERCENTILE = 4, 5, 6
CENTER_MEDIAN, CENTER_MEAN = 0, 1
DEV_STD, DEV_MAD_STD, DEV_MAD = 0, 1, 2
MODE_COMBINE, MODE_FLAGS = 1, 2

# integer parameters
IP_MODE, IP_METHOD, IP_ALG, IP_CENTER, IP_DEV, IP_MAXITERS = 0, 1, 2, 3, 4, 5
IP_NLOW, IP_NHIGH, IP_NKEEP_EXTREMA, IP_NKEEP, IP_MINCLIP, IP_IVAR, IP_IDS = range(6, 13)
IP_SIZE = 13
# float parameters
FP_TLO, FP_THI, FP_LOW, FP_HIGH, FP_PCLIP, FP_WCUT, FP_PLOW, FP_PHIGH, FP_SNOISE = range(9)
FP_PEDESTAL = 9  # ccdclip: level (unscaled ADU) without photon noise
FP_SIZE = 10


def default_params() -> tuple[np.ndarray, np.ndarray]:
    """Parameter vectors for a plain combination (average, no rejection, no thresholds)."""
    ip = np.zeros(IP_SIZE, np.int64)
    ip[IP_MODE] = MODE_COMBINE
    ip[IP_MAXITERS] = 1
    fp = np.zeros(FP_SIZE, np.float64)
    fp[FP_TLO], fp[FP_THI] = -np.inf, np.inf
    fp[FP_LOW], fp[FP_HIGH] = 3.0, 3.0
    return ip, fp
