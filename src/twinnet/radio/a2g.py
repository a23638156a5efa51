"""Air-to-ground channel of a drone (low-altitude platform) base station to ground users.

Al-Hourani, Kandeepan & Lardner's model: the mean path loss from a drone at altitude ``h`` to a
ground user at horizontal distance ``r`` is free-space loss plus an excess loss weighted by the
probability of line of sight at elevation angle ``θ``::

    P_LoS(θ) = 1 / (1 + a · exp(−b (θ − a)))        (θ in degrees)
    PL(r, h) = FSPL(√(r² + h²)) + η_LoS P_LoS + η_NLoS (1 − P_LoS)      [dB]

with urban parameters ``a = 9.61, b = 0.16, η_LoS = 1 dB, η_NLoS = 20 dB``. A minimum SNR at
the cell edge fixes a maximum path loss and hence a **coverage radius per altitude**; the
radius is largest at an optimal elevation angle that depends only on the environment
(42.44° urban). A drone's **radio capacity** [Mbps] is the bandwidth times the area-averaged
spectral efficiency (attenuated Shannon, TR 36.942 A.2) over its coverage disc.

References
----------
* A. Al-Hourani, S. Kandeepan and S. Lardner, "Optimal LAP altitude for maximum coverage,"
  IEEE Wireless Commun. Lett., 3(6):569–572, 2014.
* 3GPP TR 36.942, "Evolved Universal Terrestrial Radio Access (E-UTRA); Radio Frequency (RF)
  system scenarios", Annex A.2 (attenuated Shannon bound).

>>> round(float(a2g_pathloss_db(100.0, 100.0, 2.0, A2G_URBAN)), 2)
83.09
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError
from twinnet.radio.constants import SPEED_OF_LIGHT_M_S
from twinnet.radio.link import spectral_efficiency_shannon
from twinnet.radio.noise import thermal_noise_dbm

FloatArray = NDArray[np.float64]

__all__ = [
    "A2G_DENSE_URBAN",
    "A2G_HIGHRISE_URBAN",
    "A2G_SUBURBAN",
    "A2G_URBAN",
    "A2GEnvironment",
    "A2GLinkBudget",
    "a2g_pathloss_db",
    "coverage_radius_m",
    "elevation_angle_deg",
    "free_space_pathloss_db",
    "los_probability_a2g",
    "optimal_elevation_deg",
]


@dataclass(frozen=True)
class A2GEnvironment:
    """Parameters of the Al-Hourani air-to-ground model: S-curve ``a``, ``b`` and the mean excess
    losses [dB] of LoS and NLoS links (Al-Hourani et al. 2014, Table I, 2 GHz)."""

    a: float
    b: float
    eta_los_db: float
    eta_nlos_db: float
    name: str = ""


A2G_SUBURBAN = A2GEnvironment(4.88, 0.43, 0.1, 21.0, "suburban")
A2G_URBAN = A2GEnvironment(9.61, 0.16, 1.0, 20.0, "urban")
A2G_DENSE_URBAN = A2GEnvironment(12.08, 0.11, 1.6, 23.0, "dense urban")
A2G_HIGHRISE_URBAN = A2GEnvironment(27.23, 0.08, 2.3, 34.0, "high-rise urban")


def elevation_angle_deg(horizontal_m: ArrayLike, altitude_m: ArrayLike) -> FloatArray:
    """Elevation angle [deg] of the drone seen from the user: ``atan2(h, r)`` (broadcast)."""
    r = np.asarray(horizontal_m, dtype=np.float64)
    h = np.asarray(altitude_m, dtype=np.float64)
    return np.asarray(np.degrees(np.arctan2(h, r)), dtype=np.float64)


def los_probability_a2g(
    elevation_deg: ArrayLike, env: A2GEnvironment = A2G_URBAN
) -> FloatArray:
    """Probability of line of sight ``1 / (1 + a exp(−b (θ − a)))``, ``θ`` in degrees
    (Al-Hourani et al. 2014, eq. (3)); any shape."""
    th = np.asarray(elevation_deg, dtype=np.float64)
    return np.asarray(1.0 / (1.0 + env.a * np.exp(-env.b * (th - env.a))), dtype=np.float64)


def free_space_pathloss_db(distance_m: ArrayLike, fc_ghz: float) -> FloatArray:
    """Free-space path loss [dB] ``20 log10(4π d f / c)`` (Friis), ``c = 3·10⁸ m/s``."""
    d = np.asarray(distance_m, dtype=np.float64)
    return np.asarray(
        20.0 * np.log10(4.0 * math.pi * np.maximum(d, 1e-3) * fc_ghz * 1e9 / SPEED_OF_LIGHT_M_S),
        dtype=np.float64,
    )


def a2g_pathloss_db(
    horizontal_m: ArrayLike,
    altitude_m: ArrayLike,
    fc_ghz: float = 2.0,
    env: A2GEnvironment = A2G_URBAN,
) -> FloatArray:
    """Mean air-to-ground path loss [dB] (Al-Hourani et al. 2014, eq. (5)).

    ``FSPL(√(r² + h²)) + η_LoS P_LoS(θ) + η_NLoS (1 − P_LoS(θ))`` with ``θ = atan2(h, r)``.
    ``horizontal_m`` and ``altitude_m`` broadcast (e.g. ``[S, 1]`` × ``[1, J]`` → ``[S, J]``).
    """
    r = np.asarray(horizontal_m, dtype=np.float64)
    h = np.asarray(altitude_m, dtype=np.float64)
    if np.any(r < 0) or np.any(h <= 0):
        raise InputError("horizontal_m/altitude_m", (r.min(), h.min()),
                         "horizontal distance ≥ 0 and altitude > 0 [m]")
    p_los = los_probability_a2g(elevation_angle_deg(r, h), env)
    fspl = free_space_pathloss_db(np.hypot(r, h), fc_ghz)
    return np.asarray(fspl + env.eta_los_db * p_los + env.eta_nlos_db * (1.0 - p_los),
                      dtype=np.float64)


def coverage_radius_m(
    altitude_m: ArrayLike,
    max_pathloss_db: float,
    fc_ghz: float = 2.0,
    env: A2GEnvironment = A2G_URBAN,
) -> FloatArray:
    """Horizontal coverage radius [m] per altitude: the largest ``r`` with ``PL(r, h) ≤ PL_max``.

    ``PL`` grows with ``r`` at fixed ``h`` (longer path, lower elevation, less LoS), so the radius
    is found by bisection (60 halvings, sub-millimetre). Zero where even ``r = 0`` is too lossy.
    Shape of ``altitude_m``.
    """
    h = np.atleast_1d(np.asarray(altitude_m, dtype=np.float64))
    if np.any(h <= 0) or not np.all(np.isfinite(h)):
        raise InputError("altitude_m", altitude_m, "positive finite altitudes [m]")
    # FSPL alone is a lower bound on PL, so the free-space range bounds the radius from above
    d_fs = SPEED_OF_LIGHT_M_S / (4.0 * math.pi * fc_ghz * 1e9) * 10.0 ** (
        (max_pathloss_db - min(env.eta_los_db, env.eta_nlos_db)) / 20.0)
    hi = np.sqrt(np.maximum(d_fs**2 - h**2, 0.0)) + 1.0
    lo = np.zeros_like(h)
    ok0 = a2g_pathloss_db(lo, h, fc_ghz, env) <= max_pathloss_db
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        inside = a2g_pathloss_db(mid, h, fc_ghz, env) <= max_pathloss_db
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    out = np.where(ok0, lo, 0.0)
    return out.reshape(np.shape(altitude_m)) if np.ndim(altitude_m) else out


def optimal_elevation_deg(env: A2GEnvironment = A2G_URBAN) -> float:
    """Elevation angle [deg] at the edge of the largest coverage disc (Al-Hourani et al. 2014).

    Maximises ``20 log10(cos θ) − η(θ)``, independent of frequency and maximum path loss
    (20.34° suburban, 42.44° urban, 54.62° dense urban, 75.52° high-rise urban). The optimal
    altitude for a radius ``R`` is ``R tan θ_opt``.
    """
    from scipy.optimize import minimize_scalar

    def neg(theta: float) -> float:
        p = float(los_probability_a2g(theta, env))
        eta = env.eta_los_db * p + env.eta_nlos_db * (1.0 - p)
        return -(20.0 * math.log10(math.cos(math.radians(theta))) - eta)

    res = minimize_scalar(neg, bounds=(0.01, 89.9), method="bounded",
                          options={"xatol": 1e-6})
    return float(res.x)


@dataclass(frozen=True)
class A2GLinkBudget:
    """Downlink budget of a drone small cell to ground users.

    ``max_pathloss_db = P_tx + G_tx + G_rx − (N + SNR_min)`` with thermal noise
    ``N = −174 dBm/Hz + 10 log10(B) + NF``. Defaults: 2 GHz, 20 MHz, 23 dBm, 0 dBi, NF 7 dB,
    10 dB edge SNR, urban Al-Hourani parameters — a coverage radius of a few hundred metres, the
    scale of a stadium and its surroundings.
    """

    fc_ghz: float = 2.0
    bandwidth_mhz: float = 20.0
    tx_power_dbm: float = 23.0
    tx_gain_dbi: float = 0.0
    rx_gain_dbi: float = 0.0
    noise_figure_db: float = 7.0
    min_snr_db: float = 10.0
    env: A2GEnvironment = A2G_URBAN
    #: attenuated-Shannon parameters (TR 36.942 A.2)
    se_alpha: float = 0.6
    se_max: float = 7.4063

    def __post_init__(self) -> None:
        for name in ("fc_ghz", "bandwidth_mhz"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise InputError(name, v, "a positive finite value")

    @property
    def noise_dbm(self) -> float:
        """Thermal noise over the bandwidth [dBm]."""
        return float(thermal_noise_dbm(self.bandwidth_mhz * 1e6, self.noise_figure_db))

    @property
    def max_pathloss_db(self) -> float:
        """Largest path loss [dB] at which the SNR still reaches ``min_snr_db``."""
        return float(self.tx_power_dbm + self.tx_gain_dbi + self.rx_gain_dbi
                     - self.noise_dbm - self.min_snr_db)

    def snr_db(self, horizontal_m: ArrayLike, altitude_m: ArrayLike) -> FloatArray:
        """Mean SNR [dB] of a ground user (broadcast shapes)."""
        pl = a2g_pathloss_db(horizontal_m, altitude_m, self.fc_ghz, self.env)
        return np.asarray(self.tx_power_dbm + self.tx_gain_dbi + self.rx_gain_dbi - pl
                          - self.noise_dbm, dtype=np.float64)

    def coverage_radius_m(self, altitude_m: ArrayLike) -> FloatArray:
        """Coverage radius [m] per altitude (shape of ``altitude_m``)."""
        return coverage_radius_m(altitude_m, self.max_pathloss_db, self.fc_ghz, self.env)

    def radio_capacity_mbps(self, altitude_m: ArrayLike, n_rings: int = 256) -> FloatArray:
        """Cell capacity [Mbps] per altitude: ``B × mean SE`` over the coverage disc.

        The mean is area-weighted (equal-area rings), i.e. the throughput when the drone's
        resources are shared by users spread uniformly over the disc. Zero where the radius is.
        """
        h = np.atleast_1d(np.asarray(altitude_m, dtype=np.float64))
        radius = np.atleast_1d(self.coverage_radius_m(h))
        frac = np.sqrt((np.arange(n_rings) + 0.5) / n_rings)  # equal-area ring mid-radii / R
        r = radius[:, None] * frac[None, :]
        se = spectral_efficiency_shannon(self.snr_db(r, h[:, None]), alpha=self.se_alpha,
                                         se_max=self.se_max)
        cap = np.where(radius > 0, self.bandwidth_mhz * se.mean(axis=1), 0.0)
        return cap.reshape(np.shape(altitude_m)) if np.ndim(altitude_m) else cap
