"""Path loss models of 3GPP TR 38.901 (V17) Table 7.4.1-1.

Every function is a pure NumPy function of broadcastable arrays. Units are in the names:
distances in metres, heights in metres, carrier frequency ``fc_ghz`` in GHz, results in dB.
Formulas are evaluated as written in the table; applicability ranges (e.g. 10 m ≤ d2D ≤ 5 km
for UMa) are the caller's responsibility — the twin enforces a minimum BS–UE distance when it
drops users.

Example
-------
>>> round(float(pathloss_uma_los_db(100.0, 100.0 ** 0.5 * 10.0, 3.5, 25.0, 1.5)), 2) > 0
True
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.radio.constants import SPEED_OF_LIGHT_M_S, canonical_scenario

FloatArray = NDArray[np.float64]

__all__ = [
    "breakpoint_distance_m",
    "breakpoint_distance_rma_m",
    "pathloss_db",
    "pathloss_inh_los_db",
    "pathloss_inh_nlos_db",
    "pathloss_rma_los_db",
    "pathloss_rma_nlos_db",
    "pathloss_uma_los_db",
    "pathloss_uma_nlos_db",
    "pathloss_umi_los_db",
    "pathloss_umi_nlos_db",
    "shadow_fading_std_db",
]


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def breakpoint_distance_m(
    h_bs_m: ArrayLike, h_ut_m: ArrayLike, fc_ghz: ArrayLike, h_e_m: ArrayLike = 1.0
) -> FloatArray:
    """Effective breakpoint distance d'BP [m] for UMa and UMi (Table 7.4.1-1, note 1).

    ``d'BP = 4 h'BS h'UT fc / c`` with ``h'BS = hBS - hE`` and ``h'UT = hUT - hE``; ``fc`` in Hz.
    """
    h_e = _f(h_e_m)
    return 4.0 * (_f(h_bs_m) - h_e) * (_f(h_ut_m) - h_e) * _f(fc_ghz) * 1e9 / SPEED_OF_LIGHT_M_S


def breakpoint_distance_rma_m(
    h_bs_m: ArrayLike, h_ut_m: ArrayLike, fc_ghz: ArrayLike
) -> FloatArray:
    """Breakpoint distance dBP [m] for RMa (Table 7.4.1-1, note 5): ``2 pi hBS hUT fc / c``."""
    return 2.0 * np.pi * _f(h_bs_m) * _f(h_ut_m) * _f(fc_ghz) * 1e9 / SPEED_OF_LIGHT_M_S


def pathloss_uma_los_db(
    d2d_m: ArrayLike,
    d3d_m: ArrayLike,
    fc_ghz: ArrayLike,
    h_bs_m: ArrayLike = 25.0,
    h_ut_m: ArrayLike = 1.5,
    h_e_m: ArrayLike = 1.0,
) -> FloatArray:
    """UMa LOS path loss [dB] (TR 38.901 Table 7.4.1-1).

    ``PL1 = 28.0 + 22 log10(d3D) + 20 log10(fc)`` for ``d2D <= d'BP``;
    ``PL2 = 28.0 + 40 log10(d3D) + 20 log10(fc) - 9 log10(d'BP^2 + (hBS - hUT)^2)`` beyond.
    Shadow fading sigma 4 dB.
    """
    d2d, d3d, fc = _f(d2d_m), _f(d3d_m), _f(fc_ghz)
    dbp = breakpoint_distance_m(h_bs_m, h_ut_m, fc, h_e_m)
    pl1 = 28.0 + 22.0 * np.log10(d3d) + 20.0 * np.log10(fc)
    pl2 = (
        28.0
        + 40.0 * np.log10(d3d)
        + 20.0 * np.log10(fc)
        - 9.0 * np.log10(dbp**2 + (_f(h_bs_m) - _f(h_ut_m)) ** 2)
    )
    return np.where(d2d <= dbp, pl1, pl2)


def pathloss_uma_nlos_db(
    d2d_m: ArrayLike,
    d3d_m: ArrayLike,
    fc_ghz: ArrayLike,
    h_bs_m: ArrayLike = 25.0,
    h_ut_m: ArrayLike = 1.5,
    h_e_m: ArrayLike = 1.0,
) -> FloatArray:
    """UMa NLOS path loss [dB] (TR 38.901 Table 7.4.1-1).

    ``PL = max(PL_UMa-LOS, PL'_UMa-NLOS)`` with
    ``PL' = 13.54 + 39.08 log10(d3D) + 20 log10(fc) - 0.6 (hUT - 1.5)``. Sigma 6 dB.
    """
    d3d, fc = _f(d3d_m), _f(fc_ghz)
    pl_nlos = 13.54 + 39.08 * np.log10(d3d) + 20.0 * np.log10(fc) - 0.6 * (_f(h_ut_m) - 1.5)
    return np.maximum(pathloss_uma_los_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m, h_e_m), pl_nlos)


def pathloss_umi_los_db(
    d2d_m: ArrayLike,
    d3d_m: ArrayLike,
    fc_ghz: ArrayLike,
    h_bs_m: ArrayLike = 10.0,
    h_ut_m: ArrayLike = 1.5,
    h_e_m: ArrayLike = 1.0,
) -> FloatArray:
    """UMi-Street Canyon LOS path loss [dB] (TR 38.901 Table 7.4.1-1).

    ``PL1 = 32.4 + 21 log10(d3D) + 20 log10(fc)`` for ``d2D <= d'BP``;
    ``PL2 = 32.4 + 40 log10(d3D) + 20 log10(fc) - 9.5 log10(d'BP^2 + (hBS - hUT)^2)`` beyond.
    Shadow fading sigma 4 dB.
    """
    d2d, d3d, fc = _f(d2d_m), _f(d3d_m), _f(fc_ghz)
    dbp = breakpoint_distance_m(h_bs_m, h_ut_m, fc, h_e_m)
    pl1 = 32.4 + 21.0 * np.log10(d3d) + 20.0 * np.log10(fc)
    pl2 = (
        32.4
        + 40.0 * np.log10(d3d)
        + 20.0 * np.log10(fc)
        - 9.5 * np.log10(dbp**2 + (_f(h_bs_m) - _f(h_ut_m)) ** 2)
    )
    return np.where(d2d <= dbp, pl1, pl2)


def pathloss_umi_nlos_db(
    d2d_m: ArrayLike,
    d3d_m: ArrayLike,
    fc_ghz: ArrayLike,
    h_bs_m: ArrayLike = 10.0,
    h_ut_m: ArrayLike = 1.5,
    h_e_m: ArrayLike = 1.0,
) -> FloatArray:
    """UMi-Street Canyon NLOS path loss [dB] (TR 38.901 Table 7.4.1-1).

    ``PL = max(PL_UMi-LOS, PL'_UMi-NLOS)`` with
    ``PL' = 35.3 log10(d3D) + 22.4 + 21.3 log10(fc) - 0.3 (hUT - 1.5)``. Sigma 7.82 dB.
    """
    d3d, fc = _f(d3d_m), _f(fc_ghz)
    pl_nlos = 35.3 * np.log10(d3d) + 22.4 + 21.3 * np.log10(fc) - 0.3 * (_f(h_ut_m) - 1.5)
    return np.maximum(pathloss_umi_los_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m, h_e_m), pl_nlos)


def pathloss_rma_los_db(
    d2d_m: ArrayLike,
    d3d_m: ArrayLike,
    fc_ghz: ArrayLike,
    h_bs_m: ArrayLike = 35.0,
    h_ut_m: ArrayLike = 1.5,
    h_building_m: ArrayLike = 5.0,
) -> FloatArray:
    """RMa LOS path loss [dB] (TR 38.901 Table 7.4.1-1).

    ``PL1 = 20 log10(40 pi d3D fc / 3) + min(0.03 h^1.72, 10) log10(d3D)
    - min(0.044 h^1.72, 14.77) + 0.002 log10(h) d3D`` for ``d2D <= dBP``;
    ``PL2 = PL1(dBP) + 40 log10(d3D / dBP)`` beyond, ``h`` the average building height.
    Shadow fading sigma 4 dB (6 dB beyond the breakpoint).
    """
    d2d, d3d, fc, h = _f(d2d_m), _f(d3d_m), _f(fc_ghz), _f(h_building_m)
    dbp = breakpoint_distance_rma_m(h_bs_m, h_ut_m, fc)

    def pl1(d: FloatArray) -> FloatArray:
        return (
            20.0 * np.log10(40.0 * np.pi * d * fc / 3.0)
            + np.minimum(0.03 * h**1.72, 10.0) * np.log10(d)
            - np.minimum(0.044 * h**1.72, 14.77)
            + 0.002 * np.log10(h) * d
        )

    return np.where(d2d <= dbp, pl1(d3d), pl1(dbp) + 40.0 * np.log10(d3d / dbp))


def pathloss_rma_nlos_db(
    d2d_m: ArrayLike,
    d3d_m: ArrayLike,
    fc_ghz: ArrayLike,
    h_bs_m: ArrayLike = 35.0,
    h_ut_m: ArrayLike = 1.5,
    h_building_m: ArrayLike = 5.0,
    w_street_m: ArrayLike = 20.0,
) -> FloatArray:
    """RMa NLOS path loss [dB] (TR 38.901 Table 7.4.1-1).

    ``PL = max(PL_RMa-LOS, PL'_RMa-NLOS)`` with
    ``PL' = 161.04 - 7.1 log10(W) + 7.5 log10(h) - (24.37 - 3.7 (h/hBS)^2) log10(hBS)
    + (43.42 - 3.1 log10(hBS)) (log10(d3D) - 3) + 20 log10(fc)
    - (3.2 (log10(11.75 hUT))^2 - 4.97)``. Sigma 8 dB.
    """
    d3d, fc = _f(d3d_m), _f(fc_ghz)
    h, w, hbs, hut = _f(h_building_m), _f(w_street_m), _f(h_bs_m), _f(h_ut_m)
    pl_nlos = (
        161.04
        - 7.1 * np.log10(w)
        + 7.5 * np.log10(h)
        - (24.37 - 3.7 * (h / hbs) ** 2) * np.log10(hbs)
        + (43.42 - 3.1 * np.log10(hbs)) * (np.log10(d3d) - 3.0)
        + 20.0 * np.log10(fc)
        - (3.2 * np.log10(11.75 * hut) ** 2 - 4.97)
    )
    return np.maximum(pathloss_rma_los_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m, h), pl_nlos)


def pathloss_inh_los_db(d3d_m: ArrayLike, fc_ghz: ArrayLike) -> FloatArray:
    """InH-Office LOS path loss [dB] (TR 38.901 Table 7.4.1-1).

    ``PL = 32.4 + 17.3 log10(d3D) + 20 log10(fc)``, 1 m ≤ d3D ≤ 150 m. Sigma 3 dB.
    """
    return 32.4 + 17.3 * np.log10(_f(d3d_m)) + 20.0 * np.log10(_f(fc_ghz))


def pathloss_inh_nlos_db(d3d_m: ArrayLike, fc_ghz: ArrayLike) -> FloatArray:
    """InH-Office NLOS path loss [dB] (TR 38.901 Table 7.4.1-1).

    ``PL = max(PL_InH-LOS, PL'_InH-NLOS)`` with ``PL' = 38.3 log10(d3D) + 17.30 + 24.9 log10(fc)``.
    Sigma 8.03 dB.
    """
    pl_nlos = 38.3 * np.log10(_f(d3d_m)) + 17.30 + 24.9 * np.log10(_f(fc_ghz))
    return np.maximum(pathloss_inh_los_db(d3d_m, fc_ghz), pl_nlos)


def pathloss_db(
    scenario: str,
    los: ArrayLike,
    d2d_m: ArrayLike,
    d3d_m: ArrayLike,
    fc_ghz: ArrayLike,
    h_bs_m: ArrayLike,
    h_ut_m: ArrayLike,
    h_e_m: ArrayLike = 1.0,
) -> FloatArray:
    """Path loss [dB] for any TR 38.901 scenario, choosing LOS or NLOS per element of ``los``."""
    name = canonical_scenario(scenario)
    los_b = np.asarray(los, dtype=bool)
    if name == "UMa":
        pl_los = pathloss_uma_los_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m, h_e_m)
        pl_nlos = pathloss_uma_nlos_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m, h_e_m)
    elif name == "UMi-Street-Canyon":
        pl_los = pathloss_umi_los_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m, h_e_m)
        pl_nlos = pathloss_umi_nlos_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m, h_e_m)
    elif name == "RMa":
        pl_los = pathloss_rma_los_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m)
        pl_nlos = pathloss_rma_nlos_db(d2d_m, d3d_m, fc_ghz, h_bs_m, h_ut_m)
    else:
        pl_los = pathloss_inh_los_db(d3d_m, fc_ghz)
        pl_nlos = pathloss_inh_nlos_db(d3d_m, fc_ghz)
    return np.where(los_b, pl_los, pl_nlos)


#: Shadow-fading standard deviations [dB]: (LOS, NLOS, O2I) per scenario (Tables 7.4.1-1, 7.5-6).
_SF_STD_DB: dict[str, tuple[float, float, float]] = {
    "UMa": (4.0, 6.0, 7.0),
    "UMi-Street-Canyon": (4.0, 7.82, 7.0),
    "RMa": (4.0, 8.0, 8.0),
    "InH-Office-Mixed": (3.0, 8.03, 8.03),
    "InH-Office-Open": (3.0, 8.03, 8.03),
}


def shadow_fading_std_db(scenario: str, los: ArrayLike, indoor: ArrayLike = False) -> FloatArray:
    """Shadow-fading standard deviation [dB] (Table 7.4.1-1; O2I value from Table 7.5-6).

    Outdoor links use the LOS or NLOS sigma; links to indoor (O2I) users use the O2I sigma.
    RMa LOS uses 4 dB (the value below the breakpoint).
    """
    s_los, s_nlos, s_o2i = _SF_STD_DB[canonical_scenario(scenario)]
    out = np.where(np.asarray(los, dtype=bool), s_los, s_nlos)
    return np.where(np.asarray(indoor, dtype=bool), s_o2i, out).astype(np.float64)
