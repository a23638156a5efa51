"""Thermal noise: ``N = −174 dBm/Hz + 10 log10(B) + NF`` (kT at 290 K, as in 3GPP evaluations).

>>> round(float(thermal_noise_dbm(20e6, 9.0)), 3)
-91.99
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError
from twinnet.radio.constants import THERMAL_NOISE_DBM_PER_HZ

FloatArray = NDArray[np.float64]

__all__ = ["thermal_noise_dbm", "thermal_noise_w"]


def thermal_noise_dbm(bandwidth_hz: ArrayLike, noise_figure_db: ArrayLike = 9.0) -> FloatArray:
    """Thermal noise power [dBm] in ``bandwidth_hz`` [Hz] behind a receiver of noise figure
    ``noise_figure_db`` [dB]: ``-174 dBm/Hz + 10 log10(B) + NF`` (any broadcastable shapes)."""
    return (THERMAL_NOISE_DBM_PER_HZ + 10.0 * np.log10(np.asarray(bandwidth_hz, dtype=float))
            + np.asarray(noise_figure_db, dtype=float))


def thermal_noise_w(bandwidth_hz: float, noise_figure_db: float = 5.0) -> float:
    """Noise power N0 [W] in ``bandwidth_hz`` [Hz]: −174 dBm/Hz + 10 log10(B) + NF (default: a
    base-station receiver, NF 5 dB)."""
    if not (bandwidth_hz > 0):
        raise InputError("bandwidth_hz", bandwidth_hz, "a positive bandwidth in Hz")
    dbm = THERMAL_NOISE_DBM_PER_HZ + 10.0 * math.log10(bandwidth_hz) + noise_figure_db
    return float(10.0 ** ((dbm - 30.0) / 10.0))
