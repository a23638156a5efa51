"""Received power, coupling loss, serving-cell selection and SINR (reference functions).

Shapes follow Sionna's convention: a matrix ``[..., num_ut, num_cell]`` per user and cell.
Powers in dBm, gains/losses in dB, linear powers in mW. Coupling loss is defined as in
TR 38.901 §7.8.1: path loss + shadow fading + O2I loss − antenna gains (positive, in dB).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.units import db_to_lin, lin_to_db

FloatArray = NDArray[np.float64]

__all__ = [
    "dl_sinr_db",
    "rsrp_dbm",
    "serving_cell",
    "ul_sinr_db",
]


def rsrp_dbm(tx_power_dbm: ArrayLike, n_prb: ArrayLike, coupling_loss_db: ArrayLike) -> FloatArray:
    """RSRP [dBm]: power per resource element (``P_tx - 10 log10(12 N_PRB)``) minus coupling
    loss (TS 38.215 §5.1.1, equal power per RE)."""
    return (np.asarray(tx_power_dbm, dtype=float) - 10.0 * np.log10(12.0 * np.asarray(n_prb))
            - np.asarray(coupling_loss_db, dtype=float))


def serving_cell(rsrp_dbm_: ArrayLike, offset_db: ArrayLike = 0.0) -> NDArray[np.int64]:
    """Index of the serving cell per user: ``argmax_c (RSRP[u, c] + offset[c])`` (``[U, C]``)."""
    return np.argmax(np.asarray(rsrp_dbm_, dtype=float) + np.asarray(offset_db, dtype=float),
                     axis=-1)


def dl_sinr_db(
    rx_power_dbm: ArrayLike, serving: ArrayLike, noise_dbm: ArrayLike,
    activity: ArrayLike = 1.0,
) -> FloatArray:
    """Downlink SINR [dB] from received powers ``[U, C]`` (full bandwidth), the serving index
    ``[U]``, noise ``[U]`` or scalar, and the interferers' activity ``[C]`` (1 = full buffer,
    PRB utilisation = load-weighted)."""
    p = db_to_lin(rx_power_dbm)
    s_idx = np.asarray(serving)
    rows = np.arange(p.shape[0])
    sig = p[rows, s_idx]
    act = np.broadcast_to(np.asarray(activity, dtype=float), p.shape[-1:])
    interf = (p * act).sum(axis=-1) - p[rows, s_idx] * act[s_idx]
    return lin_to_db(sig / (interf + db_to_lin(noise_dbm)))


def ul_sinr_db(
    coupling_loss_db: ArrayLike, serving: ArrayLike, cell_activity: ArrayLike,
    p_max_dbm: float = 23.0, p0_dbm: float = -90.0, alpha: float = 0.8,
    n_prb_per_user: ArrayLike = 1.0, noise_per_prb_dbm: float = -116.4,
) -> FloatArray:
    """Uplink SINR [dB] per PRB with fractional power control (TS 38.213 §7.1.1).

    Per-PRB transmit PSD ``P = min(P_max - 10 log10(M), P0 + alpha · CL_serving)``; the
    interference at cell ``c`` is the activity-weighted mean received PSD of the users of
    every other cell: ``I_c = sum_{c' != c} rho_c' · mean_{u in c'} P_u / CL[u, c]``.
    ``coupling_loss_db`` is ``[U, C]``.
    """
    cl = np.asarray(coupling_loss_db, dtype=float)
    srv = np.asarray(serving)
    n_ue, n_cell = cl.shape
    rows = np.arange(n_ue)
    cl_s = cl[rows, srv]
    p_dbm = np.minimum(p_max_dbm - 10.0 * np.log10(np.asarray(n_prb_per_user, float)),
                       p0_dbm + alpha * cl_s)
    counts = np.bincount(srv, minlength=n_cell).astype(float)
    act = np.asarray(cell_activity, dtype=float)
    w = db_to_lin(p_dbm) * act[srv] / np.maximum(counts[srv], 1.0)
    rx = w[:, None] * db_to_lin(-cl)
    rx[rows, srv] = 0.0
    interf = rx.sum(axis=0)
    return lin_to_db(db_to_lin(p_dbm - cl_s) / (interf[srv] + db_to_lin(noise_per_prb_dbm)))
