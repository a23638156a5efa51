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
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

#: below this many links a kernel call runs on one thread: the parallel region's start-up costs
#: more than it saves, and on a busy machine a parallel region waits for its slowest thread
#: (a what-if on ``hotspot`` took 150 ms instead of 3 ms next to one busy process)
SERIAL_BELOW_LINKS = 400_000


@contextmanager
def threads_for(links: int) -> Iterator[None]:
    """Run the enclosed kernel calls on one thread when the problem is small."""
    if links >= SERIAL_BELOW_LINKS or numba.get_num_threads() == 1:
        yield
        return
    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(prev)


__all__ = [
    "SERIAL_BELOW_LINKS",
    "cell_prb_totals",
    "field_value",
    "field_values",
    "interference_pruned_kernel",
    "interference_shared_kernel",
    "link_gain_kernel",
    "prb_demand_kernel",
    "serving_kernel",
    "slot_rsrp_sinr_kernel",
    "threads_for",
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


@njit(cache=True, fastmath=True, inline="always")
def field_value(values, inv_dx, rho1, rho2, x, y):
    """Unit-variance bilinear lookup in a periodic field (see :mod:`twinnet.radio.fields`).

    The field side ``n`` is a power of two, so wrapping is a bit mask."""
    mask = values.shape[0] - 1
    fx = x * inv_dx
    fy = y * inv_dx
    x0 = math.floor(fx)
    y0 = math.floor(fy)
    ax = fx - x0
    ay = fy - y0
    i0 = int(x0) & mask
    j0 = int(y0) & mask
    i1 = (i0 + 1) & mask
    j1 = (j0 + 1) & mask
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


_PHI_LO, _PHI_STEP = -8.0, 1.0 / 512.0
_PHI_TABLE = np.array([0.5 * math.erfc(-(_PHI_LO + i * _PHI_STEP) / math.sqrt(2.0))
                       for i in range(int(16.0 / _PHI_STEP) + 2)])


@njit(cache=True, fastmath=True, inline="always")
def normal_cdf(z):
    """Standard normal CDF by linear interpolation in a 1/512-step table (error < 1e-6)."""
    t = (z - _PHI_LO) * (1.0 / _PHI_STEP)
    if t <= 0.0:
        return 0.0
    i = int(t)
    if i >= _PHI_TABLE.shape[0] - 1:
        return 1.0
    f = t - i
    return _PHI_TABLE[i] * (1.0 - f) + _PHI_TABLE[i + 1] * f


@njit(cache=True, fastmath=True, inline="always")
def _uma_height_factor(h_ut):
    """C'(hUT) of Table 7.4.2-1 / note 1 of Table 7.4.1-1: 0 below 13 m, ((h-13)/10)^1.5."""
    if h_ut <= 13.0:
        return 0.0
    return ((h_ut - 13.0) / 10.0) ** 1.5


@njit(cache=True, fastmath=True, inline="always")
def _uma_distance_factor(d):
    """g(d2D) of note 1 of Table 7.4.1-1: 0 up to 18 m, (5/4)(d/100)^3 exp(-d/150) beyond."""
    if d <= 18.0:
        return 0.0
    q = d / 100.0
    return 1.25 * q * q * q * math.exp(-d / 150.0)


@njit(cache=True, fastmath=True, inline="always")
def _los_probability_c(scen, d, c_h):
    """LOS probability (Table 7.4.2-1) with the UMa height factor ``c_h`` precomputed."""
    if scen == 0:  # UMa
        if d <= 18.0:
            return 1.0
        p = 18.0 / d + math.exp(-d / 63.0) * (1.0 - 18.0 / d)
        if c_h > 0.0:
            p *= 1.0 + c_h * _uma_distance_factor(d)
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
def _vertical_gain(cos_t, cos_tilt, theta_deg, n_el, spacing, hpbw_v, sla_v):
    """Element vertical cut A_V [dB] (Table 7.3-1) and the vertical array factor (linear)."""
    a_v = -min(12.0 * ((theta_deg - 90.0) / hpbw_v) ** 2, sla_v)
    if n_el <= 1:
        return a_v, 1.0
    # |sum_m e^{j m psi}|^2 / M = sin^2(M psi/2) / (M sin^2(psi/2)) = U_{M-1}(cos(psi/2))^2 / M
    # (Chebyshev polynomial of the 2nd kind, by recurrence: no division, no singularity)
    c = math.cos(math.pi * spacing * (cos_t - cos_tilt))
    u_prev = 1.0
    u = 2.0 * c
    for _ in range(n_el - 2):
        u_prev, u = u, 2.0 * c * u - u_prev
    return a_v, u * u / n_el


_ATAN_C = (0.99997726, -0.33262347, 0.19354346, -0.11643287, 0.05265332, -0.01172120)


@njit(cache=True, fastmath=True, inline="always")
def fast_atan2_deg(y, x):
    """atan2 in degrees by an 11th-order minimax polynomial (error < 1e-4 degree)."""
    ax = abs(x)
    ay = abs(y)
    mx = max(ax, ay)
    if mx == 0.0:
        return 0.0
    a = min(ax, ay) / mx
    s = a * a
    r = a * (_ATAN_C[0] + s * (_ATAN_C[1] + s * (_ATAN_C[2] + s * (_ATAN_C[3] + s * (
        _ATAN_C[4] + s * _ATAN_C[5])))))
    if ay > ax:
        r = 1.5707963267948966 - r
    if x < 0.0:
        r = 3.141592653589793 - r
    if y < 0.0:
        r = -r
    return r * 57.29577951308232


@njit(parallel=True, cache=True, fastmath=True)
def link_gain_kernel(
    ue_id, ue_x, ue_y, ue_h, ue_d2d_in, ue_loss_db, ue_indoor,
    site_x, site_y, site_h, shifts,
    cand, site_cell_start, site_cells, cells_per_site,
    cell_bearing_deg, cell_mtilt_deg, cell_cos_etilt,
    n_el, spacing, hpbw_v, hpbw_h, sla_v, a_max, g_max,
    scen, fc_ghz, sigma_los, sigma_nlos, sigma_o2i,
    shadowing, consistent, seed,
    f_los, f_nlos, f_o2i, f_state, f_dx, f_rho1, f_rho2, off_x, off_y,
    out,
):
    """Linear coupling gains ``out[u, j*cells_per_site + s]``; see module docstring.

    ``ue_id[u]`` identifies user ``u`` in the counter-based draws (its index in the whole user
    set), so the links of a subset of users are the same as in the whole set.

    ``shadowing``: 0 none, 1 on. ``consistent``: 1 uses the spatial fields ``f_*`` (§7.6.3) for
    shadow fading and LOS state, 0 draws them i.i.d. per (user, site) from a counter-based hash.
    ``cell_cos_etilt`` is ``cos(90° + electrical downtilt)``, the steering zenith's cosine.
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
        uid = ue_id[u]
        xu = ue_x[u]
        yu = ue_y[u]
        hu = ue_h[u]
        indoor = ue_indoor[u] != 0
        c_h = _uma_height_factor(hu) if scen == 0 else 0.0
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
            p_los = _los_probability_c(scen, d_out, c_h)
            if consistent:
                g = field_value(f_state, f_dx[3], f_rho1[3], f_rho2[3],
                                xu + off_x[3, s_idx], yu + off_y[3, s_idx])
                uu = normal_cdf(g)
            else:
                uu = hash_uniform(seed, uid, s_idx, 11)
            los = uu < p_los
            # UMa effective environment height h_E (Table 7.4.1-1 note 1)
            h_e = 1.0
            if c_h > 0.0 and d2d > 18.0:
                c = c_h * _uma_distance_factor(d2d)
                if hash_uniform(seed, uid, s_idx, 23) > 1.0 / (1.0 + c):
                    # h_E uniform over {12, 15, ..., hUT - 1.5}. fastmath evaluates x / 3 as
                    # x * (1/3), which gives 2.999… for hUT = 22.5 (and so never drew the
                    # largest value): floor with a margin; an empty set (hUT < 13.5) keeps 1 m
                    n_opt = math.floor((hu - 13.5) / 3.0 + 1e-6) + 1
                    if n_opt >= 1:
                        pick = int(hash_uniform(seed, uid, s_idx, 29) * n_opt)
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
                    z = hash_normal(seed, uid, s_idx, 101 + k)
                loss += sig * z
            # antenna: angles from the BS to the UE
            theta = fast_atan2_deg(d2d, dh)
            phi = fast_atan2_deg(dy, dx)
            cos_t = dh / d3d
            start = site_cell_start[s_idx]
            n_here = site_cell_start[s_idx + 1] - start
            prev_tilt = -1e9
            prev_et = -1e9
            a_v = 0.0
            af = 1.0
            for k in range(cells_per_site):
                if k >= n_here:
                    out[u, base + k] = 0.0
                    continue
                c_idx = site_cells[start + k]
                mt = cell_mtilt_deg[c_idx]
                et = cell_cos_etilt[c_idx]
                if mt == 0.0:
                    th_l = theta
                    ph_l = phi - cell_bearing_deg[c_idx]
                    if mt != prev_tilt or et != prev_et:
                        a_v, af = _vertical_gain(cos_t, et, th_l, n_el, spacing,
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
                    ph_l = fast_atan2_deg(im, re)
                    a_v, af = _vertical_gain(cl, et, th_l, n_el, spacing, hpbw_v, sla_v)
                    prev_tilt = -1e9
                if ph_l > 180.0:
                    ph_l -= 360.0
                elif ph_l < -180.0:
                    ph_l += 360.0
                if ph_l > 180.0:
                    ph_l -= 360.0
                elif ph_l < -180.0:
                    ph_l += 360.0
                a_h = -min(12.0 * (ph_l / hpbw_h) ** 2, a_max)
                gain = g_max - min(-(a_v + a_h), a_max)
                out[u, base + k] = af * math.exp((gain - loss) * _LN10_10)


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
def interference_shared_kernel(gain, slot_weight, serving_slot, serving_cell, cell_carrier,
                               interference_mw):
    """Downlink interference when all users share one slot layout (dense networks).

    ``slot_weight[k_car, k] = activity_c · tx_c`` of the slot's cell ``c`` if it is on carrier
    ``k_car`` (else 0). ``I_u = sum_k w[car_u, k] g[u, k] - w[car_u, s_u] g[u, s_u]`` — a dense
    dot product per user, which the compiler vectorises.
    """
    n_ue, n_slot = gain.shape
    for u in prange(n_ue):
        s = serving_cell[u]
        if s < 0:
            interference_mw[u] = 0.0
            continue
        car = cell_carrier[s]
        acc = 0.0
        for k in range(n_slot):
            acc += slot_weight[car, k] * gain[u, k]
        bk = serving_slot[u]
        interference_mw[u] = max(acc - slot_weight[car, bk] * gain[u, bk], 0.0)


@njit(parallel=True, cache=True, fastmath=True)
def interference_pruned_kernel(gain, slot_cell, cell_weight, serving_slot, serving_cell,
                               cell_carrier, interference_mw):
    """Downlink interference with a per-user slot layout (nearest-K pruning).

    ``cell_weight[k_car, c]`` as in :func:`interference_shared_kernel`, with one extra last
    column of zeros that empty slots (cell index -1) read.
    """
    n_ue, n_slot = gain.shape
    for u in prange(n_ue):
        s = serving_cell[u]
        if s < 0:
            interference_mw[u] = 0.0
            continue
        car = cell_carrier[s]
        acc = 0.0
        for k in range(n_slot):
            acc += cell_weight[car, slot_cell[u, k]] * gain[u, k]
        bk = serving_slot[u]
        interference_mw[u] = max(acc - cell_weight[car, s] * gain[u, bk], 0.0)


@njit(parallel=True, cache=True, fastmath=True)
def prb_demand_kernel(signal_mw, interference_mw, noise_mw, serving_cell, demand_bps,
                      cell_prb_hz, se_table, se_lo_db, se_inv_step, se_floor, prb_need,
                      sinr_db):
    """SINR [dB] per user and the PRBs it needs for its demand.

    A user below the link abstraction's minimum SINR needs ``inf`` PRBs (outage) when
    ``se_floor`` is 0, else the PRBs it would need at spectral efficiency ``se_floor`` (the
    monotone surrogate the load iteration uses, see :func:`twinnet.traffic.load.solve_load`).
    """
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
            if se_floor > 0.0:
                prb_need[u] = demand_bps[u] / (se_floor * cell_prb_hz[c])
            else:
                prb_need[u] = np.inf
        else:
            prb_need[u] = demand_bps[u] / (se * cell_prb_hz[c])


@njit(cache=True)  # no fastmath: it would assume no infinities and drop the outage test
def cell_prb_totals(serving_cell, prb_need, n_cell):
    """Sum of the finite PRB needs of each cell's users (users in outage carry inf)."""
    out = np.zeros(n_cell)
    for u in range(serving_cell.shape[0]):
        c = serving_cell[u]
        p = prb_need[u]
        if c >= 0 and p < np.inf:
            out[c] += p
    return out


@njit(cache=True)
def field_values(values, inv_dx, rho1, rho2, xs, ys):
    """:func:`field_value` at many points (callable from Python)."""
    out = np.empty(xs.shape[0])
    for i in range(xs.shape[0]):
        out[i] = field_value(values, inv_dx, rho1, rho2, xs[i], ys[i])
    return out


@njit(cache=True, parallel=True)
def slot_rsrp_sinr_kernel(gain, gain_db, slot_cell, cell_on, p_re_dbm, tx_mw, weight,
                          cell_carrier, noise_mw, ext_mw, scratch, out_rsrp, out_sinr):
    """RSRP [dBm] and SINR [dB] of every link slot ``[U, K]`` in one pass.

    ``gain`` / ``gain_db``: the links' coupling gains (linear and in dB); ``slot_cell``
    ``[1 or U, K]`` (-1: empty slot); per cell ``[C]``: ``cell_on``, the power per resource
    element ``p_re_dbm``, the total power ``tx_mw``, the interference weight ``weight`` (its
    PRB utilisation) and its carrier; ``noise_mw`` per carrier; ``ext_mw`` ``[U]`` extra
    interference; ``scratch`` ``[U, n_carriers]`` work space. A slot's SINR counts every
    other cell of its carrier the user sees, weighted by its utilisation (the snapshot twin's
    load-coupled interference); empty slots and switched-off cells get ``-inf``."""
    n_ue, n_slot = gain.shape
    rmul = 0 if slot_cell.shape[0] == 1 else 1
    for u in prange(n_ue):
        r = u * rmul
        for k in range(scratch.shape[1]):
            scratch[u, k] = 0.0
        for j in range(n_slot):
            c = slot_cell[r, j]
            if c >= 0 and cell_on[c]:
                scratch[u, cell_carrier[c]] += tx_mw[c] * gain[u, j] * weight[c]
        for j in range(n_slot):
            c = slot_cell[r, j]
            if c < 0 or not cell_on[c]:
                out_rsrp[u, j] = -np.inf
                out_sinr[u, j] = -np.inf
                continue
            out_rsrp[u, j] = p_re_dbm[c] + gain_db[u, j]
            rx = tx_mw[c] * gain[u, j]
            car = cell_carrier[c]
            interf = scratch[u, car] - rx * weight[c] + ext_mw[u]
            if interf < 0.0:
                interf = 0.0
            ratio = rx / (interf + noise_mw[car])
            out_sinr[u, j] = 10.0 * math.log10(ratio if ratio > 1e-30 else 1e-30)
