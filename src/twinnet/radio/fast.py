"""Fused, parallel link-budget kernels (Numba) behind :class:`twinnet.twin.DigitalTwin`.

The NumPy functions in :mod:`twinnet.radio.pathloss`, :mod:`~twinnet.radio.los`,
:mod:`~twinnet.radio.antenna` and :mod:`~twinnet.radio.o2i` are the readable reference of each
TR 38.901 formula; this module evaluates the same chain — distance (with wrap-around), LOS
state, path loss, shadow fading, O2I loss, antenna pattern — in one pass per user and site, so
that per-link work is a few floating-point operations and nothing of size users × sites is
allocated except the result. ``tests/test_fast_kernel.py`` checks it against the reference.

Layout: for user ``u`` the kernel evaluates candidate sites ``cand[r, j]`` (``r = 0`` when all
users share one candidate list, else ``r = u``) and writes the *linear* coupling gain (antenna
gain minus all losses) of each of the site's cells into ``out[u, j * cps + s]``, where ``cps``
is the number of cell slots per site; unused slots hold 0.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "field_value",
    "interference_kernel",
    "link_gain_kernel",
    "prb_demand_kernel",
    "serving_kernel",
]

_LN10_10 = math.log(10.0) / 10.0
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


@njit(cache=True, inline="always")
def _mix(x):  # splitmix64 finaliser
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def hash_uniform(seed, a, b, salt):
    """Counter-based uniform in (0, 1) for the triple (a, b, salt): reproducible, O(1) memory."""
    z = _mix(np.uint64(seed) ^ _mix(np.uint64(a) * np.uint64(1000003) + np.uint64(b)))
    z = _mix(z ^ np.uint64(salt))
    return ((z >> _S11) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def hash_normal(seed, a, b, salt):
    u1 = hash_uniform(seed, a, b, salt)
    u2 = hash_uniform(seed, a, b, salt + 7919)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, fastmath=True)
def field_value(values, inv_dx, rho1, rho2, x, y):
    """Unit-variance bilinear lookup in a periodic field (see :mod:`twinnet.radio.fields`)."""
    n = values.shape[0]
    fx = x * inv_dx
    fy = y * inv_dx
    x0 = math.floor(fx)
    y0 = math.floor(fy)
    ax = fx - x0
    ay = fy - y0
    i0 = int(x0) % n
    j0 = int(y0) % n
    i1 = (i0 + 1) % n
    j1 = (j0 + 1) % n
    w00 = (1.0 - ax) * (1.0 - ay)
    w10 = ax * (1.0 - ay)
    w01 = (1.0 - ax) * ay
    w11 = ax * ay
    v = w00 * values[i0, j0] + w10 * values[i1, j0] + w01 * values[i0, j1] + w11 * values[i1, j1]
    var = (
        w00 * w00 + w10 * w10 + w01 * w01 + w11 * w11
        + 2.0 * rho1 * (w00 * w10 + w00 * w01 + w11 * w10 + w11 * w01)
        + 2.0 * rho2 * (w00 * w11 + w10 * w01)
    )
    return v / math.sqrt(var)


@njit(cache=True, fastmath=True, inline="always")
def _los_probability(scen, d, h_ut):
    if scen == 0:  # UMa
        if d <= 18.0:
            return 1.0
        c = 0.0
        if h_ut > 13.0:
            c = ((h_ut - 13.0) / 10.0) ** 1.5
        p = (18.0 / d + math.exp(-d / 63.0) * (1.0 - 18.0 / d)) * (
            1.0 + c * 1.25 * (d / 100.0) ** 3 * math.exp(-d / 150.0)
        )
        return min(p, 1.0)
    if scen == 1:  # UMi
        if d <= 18.0:
            return 1.0
        return 18.0 / d + math.exp(-d / 36.0) * (1.0 - 18.0 / d)
    if scen == 2:  # RMa
        if d <= 10.0:
            return 1.0
        return math.exp(-(d - 10.0) / 1000.0)
    if scen == 4:  # InH open office
        if d <= 5.0:
            return 1.0
        if d <= 49.0:
            return math.exp(-(d - 5.0) / 70.8)
        return 0.54 * math.exp(-(d - 49.0) / 211.7)
    # InH mixed office
    if d <= 1.2:
        return 1.0
    if d < 6.5:
        return math.exp(-(d - 1.2) / 4.7)
    return 0.32 * math.exp(-(d - 6.5) / 32.6)


@njit(cache=True, fastmath=True, inline="always")
def _pathloss_db(scen, los, d2d, d3d, fc_ghz, h_bs, h_ut, h_e):
    """Path loss [dB] and the 'beyond breakpoint' flag (Table 7.4.1-1)."""
    lg_d = math.log10(d3d)
    lg_f = math.log10(fc_ghz)
    if scen == 0 or scen == 1:
        dbp = 4.0 * (h_bs - h_e) * (h_ut - h_e) * fc_ghz * 1e9 / 3.0e8
        if scen == 0:
            if d2d <= dbp:
                pl = 28.0 + 22.0 * lg_d + 20.0 * lg_f
            else:
                pl = 28.0 + 40.0 * lg_d + 20.0 * lg_f - 9.0 * math.log10(
                    dbp * dbp + (h_bs - h_ut) ** 2)
            if not los:
                pl = max(pl, 13.54 + 39.08 * lg_d + 20.0 * lg_f - 0.6 * (h_ut - 1.5))
        else:
            if d2d <= dbp:
                pl = 32.4 + 21.0 * lg_d + 20.0 * lg_f
            else:
                pl = 32.4 + 40.0 * lg_d + 20.0 * lg_f - 9.5 * math.log10(
                    dbp * dbp + (h_bs - h_ut) ** 2)
            if not los:
                pl = max(pl, 35.3 * lg_d + 22.4 + 21.3 * lg_f - 0.3 * (h_ut - 1.5))
        return pl, d2d > dbp
    if scen == 2:
        h = 5.0
        w = 20.0
        dbp = 2.0 * math.pi * h_bs * h_ut * fc_ghz * 1e9 / 3.0e8
        a = min(0.03 * h**1.72, 10.0)
        b = min(0.044 * h**1.72, 14.77)
        c = 0.002 * math.log10(h)
        if d2d <= dbp:
            pl = 20.0 * math.log10(40.0 * math.pi * d3d * fc_ghz / 3.0) + a * lg_d - b + c * d3d
        else:
            pl = (20.0 * math.log10(40.0 * math.pi * dbp * fc_ghz / 3.0) + a * math.log10(dbp)
                  - b + c * dbp + 40.0 * math.log10(d3d / dbp))
        if not los:
            pn = (161.04 - 7.1 * math.log10(w) + 7.5 * math.log10(h)
                  - (24.37 - 3.7 * (h / h_bs) ** 2) * math.log10(h_bs)
                  + (43.42 - 3.1 * math.log10(h_bs)) * (lg_d - 3.0) + 20.0 * lg_f
                  - (3.2 * math.log10(11.75 * h_ut) ** 2 - 4.97))
            pl = max(pl, pn)
        return pl, d2d > dbp
    pl = 32.4 + 17.3 * lg_d + 20.0 * lg_f
    if not los:
        pl = max(pl, 38.3 * lg_d + 17.30 + 24.9 * lg_f)
    return pl, False


@njit(cache=True, fastmath=True, inline="always")
def _vertical_gain_db(cos_t, cos_tilt, theta_deg, n_el, spacing, hpbw_v, sla_v):
    """Element vertical cut A_V (Table 7.3-1) plus the vertical array factor [dB]."""
    a_v = -min(12.0 * ((theta_deg - 90.0) / hpbw_v) ** 2, sla_v)
    if n_el <= 1:
        return a_v, 0.0
    half = math.pi * spacing * (cos_t - cos_tilt)
    s = math.sin(half)
    den = n_el * s * s
    if den < 1e-12:
        af = float(n_el)
    else:
        sm = math.sin(n_el * half)
        af = sm * sm / den
    return a_v, 10.0 * math.log10(max(af, 1e-30))


@njit(parallel=True, cache=True, fastmath=True)
def link_gain_kernel(
    ue_x, ue_y, ue_h, ue_d2d_in, ue_loss_db, ue_indoor,
    site_x, site_y, site_h, shifts,
    cand, site_cell_start, site_cells, cells_per_site,
    cell_bearing_deg, cell_mtilt_deg, cell_etilt_deg,
    n_el, spacing, hpbw_v, hpbw_h, sla_v, a_max, g_max,
    scen, fc_ghz, sigma_los, sigma_nlos, sigma_o2i,
    shadowing, consistent, seed,
    f_los, f_nlos, f_o2i, f_state, f_dx, f_rho1, f_rho2, off_x, off_y,
    out,
):
    """Linear coupling gains ``out[u, j*cells_per_site + s]``; see module docstring.

    ``shadowing``: 0 none, 1 on. ``consistent``: 1 uses the spatial fields ``f_*`` (§7.6.3) for
    shadow fading and LOS state, 0 draws them i.i.d. per (user, site) from a counter-based hash.
    ``f_dx[k]`` is 1/spacing of field k (0 los SF, 1 nlos SF, 2 o2i SF, 3 LOS state).
    """
    n_ue = ue_x.shape[0]
    n_cand = cand.shape[1]
    rmul = 0 if cand.shape[0] == 1 else 1
    n_shift = shifts.shape[0]
    rad2deg = 180.0 / math.pi
    deg2rad = math.pi / 180.0
    for u in prange(n_ue):
        r = u * rmul
        xu = ue_x[u]
        yu = ue_y[u]
        hu = ue_h[u]
        indoor = ue_indoor[u] != 0
        for j in range(n_cand):
            base = j * cells_per_site
            s_idx = cand[r, j]
            if s_idx < 0:
                for k in range(cells_per_site):
                    out[u, base + k] = 0.0
                continue
            # minimum-distance image of the site (wrap-around); shifts[0] = (0, 0)
            dx = xu - site_x[s_idx]
            dy = yu - site_y[s_idx]
            best = dx * dx + dy * dy
            for q in range(1, n_shift):
                ex = xu - site_x[s_idx] - shifts[q, 0]
                ey = yu - site_y[s_idx] - shifts[q, 1]
                e2 = ex * ex + ey * ey
                if e2 < best:
                    best = e2
                    dx = ex
                    dy = ey
            d2d = max(math.sqrt(best), 1.0)
            dh = hu - site_h[s_idx]
            d3d = math.sqrt(d2d * d2d + dh * dh)
            d_out = d2d - ue_d2d_in[u] if indoor else d2d
            d_out = max(d_out, 0.0)
            # LOS state (Table 7.4.2-1), spatially consistent (§7.6.3.3) or i.i.d.
            p_los = _los_probability(scen, d_out, hu)
            if consistent:
                g = field_value(f_state, f_dx[3], f_rho1[3], f_rho2[3],
                                xu + off_x[3, s_idx], yu + off_y[3, s_idx])
                uu = 0.5 * math.erfc(-g / math.sqrt(2.0))
            else:
                uu = hash_uniform(seed, u, s_idx, 11)
            los = uu < p_los
            # UMa effective environment height h_E (Table 7.4.1-1 note 1)
            h_e = 1.0
            if scen == 0 and hu >= 13.0 and d2d > 18.0:
                c = ((hu - 13.0) / 10.0) ** 1.5 * 1.25 * (d2d / 100.0) ** 3 * math.exp(
                    -d2d / 150.0)
                if hash_uniform(seed, u, s_idx, 23) > 1.0 / (1.0 + c):
                    n_opt = int((hu - 1.5 - 12.0) / 3.0) + 1
                    if n_opt >= 1:
                        pick = int(hash_uniform(seed, u, s_idx, 29) * n_opt)
                        h_e = 12.0 + 3.0 * min(pick, n_opt - 1)
            pl, beyond = _pathloss_db(scen, los, d2d, d3d, fc_ghz, site_h[s_idx], hu, h_e)
            loss = pl + ue_loss_db[u]
            if shadowing:
                if indoor:
                    sig = sigma_o2i
                    k = 2
                elif los:
                    sig = sigma_los
                    if scen == 2 and beyond:
                        sig = 6.0
                    k = 0
                else:
                    sig = sigma_nlos
                    k = 1
                if consistent:
                    if k == 0:
                        z = field_value(f_los, f_dx[0], f_rho1[0], f_rho2[0],
                                        xu + off_x[0, s_idx], yu + off_y[0, s_idx])
                    elif k == 1:
                        z = field_value(f_nlos, f_dx[1], f_rho1[1], f_rho2[1],
                                        xu + off_x[1, s_idx], yu + off_y[1, s_idx])
                    else:
                        z = field_value(f_o2i, f_dx[2], f_rho1[2], f_rho2[2],
                                        xu + off_x[2, s_idx], yu + off_y[2, s_idx])
                else:
                    z = hash_normal(seed, u, s_idx, 101 + k)
                loss += sig * z
            # antenna: angles from the BS to the UE
            theta = math.atan2(d2d, dh) * rad2deg
            phi = math.atan2(dy, dx) * rad2deg
            cos_t = dh / d3d
            start = site_cell_start[s_idx]
            n_here = site_cell_start[s_idx + 1] - start
            prev_tilt = -1e9
            prev_et = -1e9
            a_v = 0.0
            af = 0.0
            for k in range(cells_per_site):
                if k >= n_here:
                    out[u, base + k] = 0.0
                    continue
                c_idx = site_cells[start + k]
                mt = cell_mtilt_deg[c_idx]
                et = cell_etilt_deg[c_idx]
                if mt == 0.0:
                    th_l = theta
                    ph_l = phi - cell_bearing_deg[c_idx]
                    if mt != prev_tilt or et != prev_et:
                        cos_tilt = math.cos((90.0 + et) * deg2rad)
                        a_v, af = _vertical_gain_db(cos_t, cos_tilt, th_l, n_el, spacing,
                                                    hpbw_v, sla_v)
                        prev_tilt = mt
                        prev_et = et
                else:
                    b = mt * deg2rad
                    dp = (phi - cell_bearing_deg[c_idx]) * deg2rad
                    st = d2d / d3d
                    cl = math.cos(b) * cos_t + math.sin(b) * math.cos(dp) * st
                    cl = min(1.0, max(-1.0, cl))
                    th_l = math.acos(cl) * rad2deg
                    re = math.cos(b) * st * math.cos(dp) - math.sin(b) * cos_t
                    im = math.sin(dp) * st
                    ph_l = math.atan2(im, re) * rad2deg
                    cos_tilt = math.cos((90.0 + et) * deg2rad)
                    a_v, af = _vertical_gain_db(cl, cos_tilt, th_l, n_el, spacing, hpbw_v,
                                                sla_v)
                    prev_tilt = -1e9
                ph_l = (ph_l + 180.0) % 360.0 - 180.0
                a_h = -min(12.0 * (ph_l / hpbw_h) ** 2, a_max)
                gain = g_max - min(-(a_v + a_h), a_max) + af
                out[u, base + k] = math.exp((gain - loss) * _LN10_10)


@njit(parallel=True, cache=True, fastmath=True)
def serving_kernel(gain, slot_cell, cell_tx_mw, cell_bias_lin, serving_slot, serving_cell,
                   signal_mw):
    """Serving cell = max over slots of ``tx · gain · bias`` (RSRP plus cell individual offset)."""
    n_ue, n_slot = gain.shape
    rmul = 0 if slot_cell.shape[0] == 1 else 1
    for u in prange(n_ue):
        r = u * rmul
        best = 0.0
        bk = -1
        for k in range(n_slot):
            c = slot_cell[r, k]
            if c < 0:
                continue
            v = cell_tx_mw[c] * gain[u, k] * cell_bias_lin[c]
            if v > best:
                best = v
                bk = k
        serving_slot[u] = bk
        if bk >= 0:
            c = slot_cell[r, bk]
            serving_cell[u] = c
            signal_mw[u] = cell_tx_mw[c] * gain[u, bk]
        else:
            serving_cell[u] = -1
            signal_mw[u] = 0.0


@njit(parallel=True, cache=True, fastmath=True)
def interference_kernel(gain, slot_cell, cell_tx_mw, cell_carrier, activity, serving_slot,
                        serving_cell, interference_mw):
    """Downlink interference ``sum_{c != serving, same carrier} activity_c · tx_c · gain``."""
    n_ue, n_slot = gain.shape
    rmul = 0 if slot_cell.shape[0] == 1 else 1
    for u in prange(n_ue):
        r = u * rmul
        s = serving_cell[u]
        acc = 0.0
        if s >= 0:
            car = cell_carrier[s]
            bk = serving_slot[u]
            for k in range(n_slot):
                c = slot_cell[r, k]
                if c < 0 or k == bk or cell_carrier[c] != car:
                    continue
                acc += activity[c] * cell_tx_mw[c] * gain[u, k]
        interference_mw[u] = acc


@njit(parallel=True, cache=True, fastmath=True)
def prb_demand_kernel(signal_mw, interference_mw, noise_mw, serving_cell, demand_bps,
                      cell_prb_hz, se_table, se_lo_db, se_inv_step, prb_need, sinr_db):
    """SINR [dB] per user and the PRBs it needs for its demand (inf when in outage)."""
    n_ue = signal_mw.shape[0]
    n_tab = se_table.shape[0]
    for u in prange(n_ue):
        c = serving_cell[u]
        if c < 0:
            sinr_db[u] = -np.inf
            prb_need[u] = np.inf
            continue
        sinr = signal_mw[u] / (interference_mw[u] + noise_mw[u])
        sd = 10.0 * math.log10(max(sinr, 1e-30))
        sinr_db[u] = sd
        idx = int((sd - se_lo_db) * se_inv_step + 1e-9)
        idx = min(max(idx, 0), n_tab - 1)
        se = se_table[idx]
        if se <= 0.0:
            prb_need[u] = np.inf
        else:
            prb_need[u] = demand_bps[u] / (se * cell_prb_hz[c])
