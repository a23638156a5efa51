"""Small-scale channel draws for link-level problems: per-device, per-resource-block gains.

The twin computes large-scale coupling gains for whole networks (:mod:`twinnet.radio.fast`);
uplink scheduling problems such as LINKs' minimum-delay IoT uplink need gains per device *and*
resource block. Two generators, both returning linear gains ``[N, M]``:

* :func:`channel_gains` — the LINKs paper's eq. (1), ``g = κ d^-α |h|² ζ``: a power law from a
  free-space reference (:func:`free_space_kappa`), log-normal shadowing per device, Rayleigh
  block fading per resource block;
* :func:`uma_channel_gains` — the same draws on the TR 38.901 UMa channel (LOS probability of
  Table 7.4.2-1, path loss of Table 7.4.1-1, shadow fading 4/6 dB).

Reference: S. Jiang, B. Lin, Y. Wu and Y. Gao, "LINKs: Large Language Model Integrated Management
for 6G Empowered Digital Twin NetworKs", §II-A.

>>> round(10 * math.log10(free_space_kappa(6e9)), 1)
-48.0
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError
from twinnet.radio.constants import SPEED_OF_LIGHT_M_S
from twinnet.radio.los import los_probability_uma
from twinnet.radio.pathloss import pathloss_uma_los_db, pathloss_uma_nlos_db

FloatArray = NDArray[np.float64]

__all__ = ["channel_gains", "free_space_kappa", "uma_channel_gains"]


def free_space_kappa(carrier_hz: float = 6e9, d0_m: float = 1.0) -> float:
    """κ of (1) as the free-space gain at reference distance ``d0_m``: (c / (4π f d0))².

    At 6 GHz (the paper's §IV carrier) κ ≈ 1.58e-5 (−48.0 dB).
    """
    if not (carrier_hz > 0 and d0_m > 0):
        raise InputError("carrier_hz/d0_m", (carrier_hz, d0_m), "positive numbers")
    return float((SPEED_OF_LIGHT_M_S / (4.0 * math.pi * carrier_hz * d0_m)) ** 2)


def channel_gains(distances_m: ArrayLike, n_rbs: int, *, kappa: float | None = None,
                  alpha: float = 3.5, shadowing_std_db: float = 6.0, rayleigh: bool = True,
                  rng: np.random.Generator | int | None = None) -> FloatArray:
    """Linear channel gains g_ij of (1), ``κ d^-α |h|² ζ``, shape [N, M].

    ``distances_m`` [N]: device-BS distances (> 0). |h|² ~ Exp(1) drawn independently per
    device and RB (Rayleigh block fading per RB) when ``rayleigh``; ζ = 10^(X/10), X ~
    N(0, σ²) with σ = ``shadowing_std_db``, one draw per device (large-scale, same on all RBs).
    ``kappa`` defaults to :func:`free_space_kappa` at 6 GHz; α = 3.5 by default.
    """
    d = np.asarray(distances_m, dtype=float)
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise InputError("distances_m", distances_m, "a non-empty 1-D array of distances > 0 m")
    if not (isinstance(n_rbs, int | np.integer) and n_rbs >= 1):
        raise InputError("n_rbs", n_rbs, "an integer >= 1")
    k = free_space_kappa() if kappa is None else float(kappa)
    if not (k > 0 and math.isfinite(k)):
        raise InputError("kappa", kappa, "a positive finite constant")
    if not (alpha > 0 and math.isfinite(alpha)):
        raise InputError("alpha", alpha, "a positive path-loss exponent")
    if not (shadowing_std_db >= 0):
        raise InputError("shadowing_std_db", shadowing_std_db, ">= 0 dB")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n = d.size
    fading = gen.exponential(1.0, size=(n, int(n_rbs))) if rayleigh else np.ones((n, n_rbs))
    zeta = 10.0 ** (gen.normal(0.0, shadowing_std_db, size=n) / 10.0)
    return np.asarray(k * d[:, None] ** (-alpha) * fading * zeta[:, None], dtype=float)


def uma_channel_gains(d2d_m: ArrayLike, n_rbs: int, *, fc_ghz: float = 6.0,
                      h_bs_m: float = 25.0, h_ut_m: float = 1.5, los: bool | None = None,
                      shadowing: bool = True, rayleigh: bool = True,
                      rng: np.random.Generator | int | None = None) -> FloatArray:
    """Linear gains g_ij [N, M] on the twin's TR 38.901 UMa channel (the LINKs §IV setting:
    UMa at 6 GHz): LOS state drawn with Pr_LOS of Table 7.4.2-1 (or forced by ``los``), path
    loss of Table 7.4.1-1, log-normal shadowing (σ 4 dB LOS / 6 dB NLOS, one draw per device)
    and Rayleigh block fading per RB (|h|² ~ Exp(1)) when ``rayleigh``."""
    d = np.asarray(d2d_m, dtype=float)
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise InputError("d2d_m", d2d_m, "a non-empty 1-D array of distances > 0 m")
    if not (isinstance(n_rbs, int | np.integer) and n_rbs >= 1):
        raise InputError("n_rbs", n_rbs, "an integer >= 1")
    if not 0.5 <= fc_ghz <= 100.0:
        raise InputError("fc_ghz", fc_ghz, "a carrier in [0.5, 100] GHz (TR 38.901)")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    d = np.maximum(d, 10.0)  # Table 7.4.1-1 validity: d2D >= 10 m
    d3d = np.hypot(d, h_bs_m - h_ut_m)
    is_los = (gen.uniform(size=d.size) < los_probability_uma(d, h_ut_m) if los is None
              else np.full(d.size, bool(los)))
    pl = np.where(is_los, pathloss_uma_los_db(d, d3d, fc_ghz, h_bs_m, h_ut_m),
                  pathloss_uma_nlos_db(d, d3d, fc_ghz, h_bs_m, h_ut_m))
    sf = gen.normal(0.0, 1.0, d.size) * np.where(is_los, 4.0, 6.0) if shadowing else 0.0
    fading = gen.exponential(1.0, size=(d.size, int(n_rbs))) if rayleigh \
        else np.ones((d.size, int(n_rbs)))
    return np.asarray(10.0 ** ((-pl + sf) / 10.0)[:, None] * fading, dtype=float)
