"""Line-of-sight probability of TR 38.901 §7.4.2 (Table 7.4.2-1).

``d2d_out_m`` is the outdoor part of the 2D distance (for indoor users ``d2D - d2D-in``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.radio.constants import canonical_scenario

FloatArray = NDArray[np.float64]

__all__ = [
    "los_probability",
    "los_probability_inh_mixed",
    "los_probability_inh_open",
    "los_probability_rma",
    "los_probability_uma",
    "los_probability_umi",
]


def los_probability_rma(d2d_out_m: ArrayLike) -> FloatArray:
    """RMa: 1 for ``d <= 10 m``, else ``exp(-(d - 10) / 1000)``."""
    d = np.asarray(d2d_out_m, dtype=np.float64)
    return np.where(d <= 10.0, 1.0, np.exp(-(d - 10.0) / 1000.0))


def los_probability_umi(d2d_out_m: ArrayLike) -> FloatArray:
    """UMi-Street Canyon: 1 for ``d <= 18 m``, else ``18/d + exp(-d/36) (1 - 18/d)``."""
    d = np.maximum(np.asarray(d2d_out_m, dtype=np.float64), 1e-9)
    p = 18.0 / d + np.exp(-d / 36.0) * (1.0 - 18.0 / d)
    return np.where(d <= 18.0, 1.0, p)


def los_probability_uma(d2d_out_m: ArrayLike, h_ut_m: ArrayLike = 1.5) -> FloatArray:
    """UMa: 1 for ``d <= 18 m``, else
    ``[18/d + exp(-d/63)(1 - 18/d)] [1 + C'(hUT) 5/4 (d/100)^3 exp(-d/150)]`` with
    ``C'(hUT) = 0`` for ``hUT <= 13 m`` and ``((hUT - 13)/10)^1.5`` for 13 < hUT ≤ 23 m.
    """
    d = np.maximum(np.asarray(d2d_out_m, dtype=np.float64), 1e-9)
    h = np.asarray(h_ut_m, dtype=np.float64)
    c = np.where(h <= 13.0, 0.0, (np.maximum(h - 13.0, 0.0) / 10.0) ** 1.5)
    p = (18.0 / d + np.exp(-d / 63.0) * (1.0 - 18.0 / d)) * (
        1.0 + c * 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0)
    )
    return np.where(d <= 18.0, 1.0, np.minimum(p, 1.0))


def los_probability_inh_mixed(d2d_m: ArrayLike) -> FloatArray:
    """InH-Office mixed: 1 (d ≤ 1.2 m); ``exp(-(d-1.2)/4.7)`` (1.2 < d < 6.5 m);
    ``0.32 exp(-(d-6.5)/32.6)`` (d ≥ 6.5 m)."""
    d = np.asarray(d2d_m, dtype=np.float64)
    return np.where(
        d <= 1.2,
        1.0,
        np.where(d < 6.5, np.exp(-(d - 1.2) / 4.7), 0.32 * np.exp(-(d - 6.5) / 32.6)),
    )


def los_probability_inh_open(d2d_m: ArrayLike) -> FloatArray:
    """InH-Office open: 1 (d ≤ 5 m); ``exp(-(d-5)/70.8)`` (5 < d ≤ 49 m);
    ``0.54 exp(-(d-49)/211.7)`` (d > 49 m)."""
    d = np.asarray(d2d_m, dtype=np.float64)
    return np.where(
        d <= 5.0,
        1.0,
        np.where(d <= 49.0, np.exp(-(d - 5.0) / 70.8), 0.54 * np.exp(-(d - 49.0) / 211.7)),
    )


def los_probability(scenario: str, d2d_out_m: ArrayLike, h_ut_m: ArrayLike = 1.5) -> FloatArray:
    """LOS probability for any TR 38.901 scenario (Table 7.4.2-1)."""
    name = canonical_scenario(scenario)
    if name == "UMa":
        return los_probability_uma(d2d_out_m, h_ut_m)
    if name == "UMi-Street-Canyon":
        return los_probability_umi(d2d_out_m)
    if name == "RMa":
        return los_probability_rma(d2d_out_m)
    if name == "InH-Office-Open":
        return los_probability_inh_open(d2d_out_m)
    return los_probability_inh_mixed(d2d_out_m)
