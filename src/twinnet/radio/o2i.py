"""Outdoor-to-indoor penetration and indoor user geometry, TR 38.901 §7.4.3 and Table 7.4.1-1.

Material losses are Table 7.4.3-1; the low- and high-loss building models are Table 7.4.3-2.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

__all__ = [
    "CAR_PENETRATION_MEAN_DB",
    "CAR_PENETRATION_STD_DB",
    "indoor_distance_m",
    "indoor_ue_height_m",
    "material_loss_db",
    "o2i_loss_db",
    "o2i_std_db",
]

#: Car penetration loss (§7.4.3.2): mean 9 dB, sigma 5 dB.
CAR_PENETRATION_MEAN_DB = 9.0
CAR_PENETRATION_STD_DB = 5.0


def material_loss_db(material: str, fc_ghz: ArrayLike) -> FloatArray:
    """Penetration loss of one material [dB] (Table 7.4.3-1), ``fc`` in GHz.

    ``glass``: 2 + 0.2 f; ``irr_glass``: 23 + 0.3 f; ``concrete``: 5 + 4 f; ``wood``: 4.85 + 0.12 f.
    """
    f = np.asarray(fc_ghz, dtype=np.float64)
    coeffs = {
        "glass": (2.0, 0.2),
        "irr_glass": (23.0, 0.3),
        "concrete": (5.0, 4.0),
        "wood": (4.85, 0.12),
    }
    if material not in coeffs:
        from twinnet.errors import InputError

        raise InputError("material", material, f"one of {sorted(coeffs)}")
    a, b = coeffs[material]
    return a + b * f


def o2i_loss_db(fc_ghz: ArrayLike, high_loss: ArrayLike, d2d_in_m: ArrayLike) -> FloatArray:
    """Mean O2I building penetration loss [dB]: ``PL_tw + PL_in`` (Table 7.4.3-2).

    Low loss: ``PL_tw = 5 - 10 log10(0.3·10^(-L_glass/10) + 0.7·10^(-L_concrete/10))``;
    high loss: ``PL_tw = 5 - 10 log10(0.7·10^(-L_IRRglass/10) + 0.3·10^(-L_concrete/10))``;
    ``PL_in = 0.5 d2D-in``. The random part N(0, sigma_P^2) is :func:`o2i_std_db`.
    """
    l_glass = material_loss_db("glass", fc_ghz)
    l_irr = material_loss_db("irr_glass", fc_ghz)
    l_con = material_loss_db("concrete", fc_ghz)
    low = 5.0 - 10.0 * np.log10(0.3 * 10 ** (-l_glass / 10) + 0.7 * 10 ** (-l_con / 10))
    high = 5.0 - 10.0 * np.log10(0.7 * 10 ** (-l_irr / 10) + 0.3 * 10 ** (-l_con / 10))
    tw = np.where(np.asarray(high_loss, dtype=bool), high, low)
    return tw + 0.5 * np.asarray(d2d_in_m, dtype=np.float64)


def o2i_std_db(high_loss: ArrayLike) -> FloatArray:
    """Standard deviation sigma_P [dB] of the O2I loss: 4.4 (low loss), 6.5 (high loss)."""
    return np.where(np.asarray(high_loss, dtype=bool), 6.5, 4.4).astype(np.float64)


def indoor_distance_m(
    rng: np.random.Generator, n: int, scenario: str = "UMa"
) -> FloatArray:
    """Indoor 2D distance d2D-in [m] (Table 7.4.3-2 note): ``min(U(0,25), U(0,25))`` for UMa/UMi,
    ``U(0,10)`` for RMa."""
    if scenario.lower().startswith("rma"):
        return rng.uniform(0.0, 10.0, n)
    return np.minimum(rng.uniform(0.0, 25.0, n), rng.uniform(0.0, 25.0, n))


def indoor_ue_height_m(
    rng: np.random.Generator, n: int, floors_min: int = 4, floors_max: int = 8
) -> FloatArray:
    """Indoor UE height [m] (Table 7.4.1-1 note 8): ``hUT = 3 (n_fl - 1) + 1.5`` with
    ``N_fl ~ U{floors_min..floors_max}`` building floors and ``n_fl ~ U{1..N_fl}``."""
    n_floors = rng.integers(floors_min, floors_max + 1, n)
    floor = np.floor(rng.uniform(0.0, 1.0, n) * n_floors).astype(np.int64) + 1
    return (3.0 * (floor - 1) + 1.5).astype(np.float64)
