"""BS antenna model of TR 38.901 §7.3 and the coordinate rotation of §7.1.

Angles are in degrees at the interface: zenith ``theta_deg`` (0° = up, 90° = horizon) and
azimuth ``phi_deg`` (counter-clockwise from the x axis). Tilts are positive downwards.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

__all__ = [
    "antenna_gain_dbi",
    "array_factor_db",
    "element_pattern_db",
    "local_angles_deg",
    "wrap_angle_deg",
]


def wrap_angle_deg(angle_deg: ArrayLike) -> FloatArray:
    """Wrap an angle to [-180, 180) degrees."""
    a = np.asarray(angle_deg, dtype=np.float64)
    return (a + 180.0) % 360.0 - 180.0


def local_angles_deg(
    theta_deg: ArrayLike, phi_deg: ArrayLike, bearing_deg: ArrayLike, downtilt_deg: ArrayLike = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Global → local (antenna) angles for a bearing ``alpha`` and mechanical downtilt ``beta``
    (TR 38.901 eqs. 7.1-7 and 7.1-8 with slant ``gamma = 0``).

    ``theta' = arccos(cos b cos t + sin b cos(p - a) sin t)``,
    ``phi' = arg(cos b sin t cos(p - a) - sin b cos t + j sin(p - a) sin t)``.
    Returns ``(theta_local_deg, phi_local_deg)``.
    """
    t = np.radians(np.asarray(theta_deg, dtype=np.float64))
    dp = np.radians(np.asarray(phi_deg, dtype=np.float64) - np.asarray(bearing_deg))
    b = np.radians(np.asarray(downtilt_deg, dtype=np.float64))
    cos_tl = np.clip(np.cos(b) * np.cos(t) + np.sin(b) * np.cos(dp) * np.sin(t), -1.0, 1.0)
    re = np.cos(b) * np.sin(t) * np.cos(dp) - np.sin(b) * np.cos(t)
    im = np.sin(dp) * np.sin(t)
    return np.degrees(np.arccos(cos_tl)), np.degrees(np.arctan2(im, re))


def element_pattern_db(
    theta_local_deg: ArrayLike,
    phi_local_deg: ArrayLike,
    hpbw_v_deg: float = 65.0,
    hpbw_h_deg: float = 65.0,
    sla_v_db: float = 30.0,
    a_max_db: float = 30.0,
    g_max_dbi: float = 8.0,
) -> FloatArray:
    """3-sector antenna element power pattern [dBi] (TR 38.901 Table 7.3-1).

    ``A_V = -min(12 ((theta'' - 90)/theta_3dB)^2, SLA_V)``,
    ``A_H = -min(12 (phi''/phi_3dB)^2, A_m)``,
    ``A = G_E,max - min(-(A_V + A_H), A_m)`` with theta_3dB = phi_3dB = 65°, SLA_V = A_m = 30 dB,
    G_E,max = 8 dBi.
    """
    th = np.asarray(theta_local_deg, dtype=np.float64)
    ph = wrap_angle_deg(phi_local_deg)
    a_v = -np.minimum(12.0 * ((th - 90.0) / hpbw_v_deg) ** 2, sla_v_db)
    a_h = -np.minimum(12.0 * (ph / hpbw_h_deg) ** 2, a_max_db)
    return g_max_dbi - np.minimum(-(a_v + a_h), a_max_db)


def array_factor_db(
    theta_local_deg: ArrayLike,
    n_elements: int = 10,
    spacing_wavelengths: float = 0.5,
    electrical_downtilt_deg: ArrayLike = 0.0,
) -> FloatArray:
    """Power gain [dB] of a uniform vertical array of ``n_elements`` fed by one TXRU.

    Weights ``w_m = exp(-j 2 pi (m-1) d_V/lambda cos(theta_etilt)) / sqrt(M)`` steer the beam to
    zenith ``theta_etilt = 90° + electrical downtilt`` (TR 36.897 §5.2.2, TR 38.901 Table 7.8-1
    "BS port mapping"): ``|sum w_m v_m|^2 = sin^2(M psi/2) / (M sin^2(psi/2))`` with
    ``psi = 2 pi d_V/lambda (cos theta - cos theta_etilt)``; its maximum is ``10 log10(M)``.
    """
    m = int(n_elements)
    th = np.radians(np.asarray(theta_local_deg, dtype=np.float64))
    th_t = np.radians(90.0 + np.asarray(electrical_downtilt_deg, dtype=np.float64))
    psi = 2.0 * np.pi * spacing_wavelengths * (np.cos(th) - np.cos(th_t))
    half = psi / 2.0
    den = m * np.sin(half) ** 2
    small = np.abs(den) < 1e-12
    af = np.where(small, float(m), np.sin(m * half) ** 2 / np.where(small, 1.0, den))
    return 10.0 * np.log10(np.maximum(af, 1e-30))


def antenna_gain_dbi(
    theta_deg: ArrayLike,
    phi_deg: ArrayLike,
    bearing_deg: ArrayLike,
    mechanical_downtilt_deg: ArrayLike = 0.0,
    electrical_downtilt_deg: ArrayLike = 0.0,
    n_elements: int = 10,
    spacing_wavelengths: float = 0.5,
    g_max_dbi: float = 8.0,
) -> FloatArray:
    """Directional gain [dBi] of a 38.901 sector antenna: element pattern (Table 7.3-1) plus the
    vertical array factor, evaluated in the antenna's local frame after mechanical tilt."""
    th_l, ph_l = local_angles_deg(theta_deg, phi_deg, bearing_deg, mechanical_downtilt_deg)
    return element_pattern_db(th_l, ph_l, g_max_dbi=g_max_dbi) + array_factor_db(
        th_l, n_elements, spacing_wavelengths, electrical_downtilt_deg
    )
