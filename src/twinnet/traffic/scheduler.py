r"""Proportional-fair sharing of each cell's PRB-time among its users, step by step.

The per-TTI proportional-fair scheduler (A. Jalali, R. Padovani, R. Pankaj, "Data throughput
of CDMA-HDR a high efficiency-high data rate personal communication wireless system", 2000;
J. M. Holtzman, "Asymptotic analysis of proportional fair algorithm", 2001) gives each TTI's
resources to the user with the largest metric ``r_u / x̄_u`` — the rate it would get over the
average throughput it has had (an EWMA with time constant ``τ``). Over a step ``dt`` of many TTIs
with the channel held constant, this shares the cell's PRB-time ``s_u`` (fractions summing to at
most 1) in proportion to the metric — the fluid limit studied by H. J. Kushner and P. A. Whiting,
"Convergence of proportional-fair sharing algorithms under general conditions", 2004 — whose
fixed point is the proportional-fair allocation (F. Kelly, "Charging and rate control for
elastic traffic", 1997): full-buffer users get equal time shares ``1/N``, so throughput ``∝``
rate.

**One step.** ``rate_bps[u]`` is what user ``u`` would get with all its serving cell's PRBs;
``need_u = demand_u / (r_u·dt)`` the share that carries all its data. Shares are weighted by the
metric and water-filled: ``s_u = min(need_u, λ_c·r_u / x̄'_u)`` with the cell's level ``λ_c`` set
so that ``Σ_u s_u = 1`` (or ``s_u = need_u`` for all when the cell can carry everything) — a user
that needs less than its weighted share takes only what it needs and the rest goes to the
others.

**Stability for every step length.** The average is updated with the step's own service,
``x̄'_u = (1 - α)·x̄_u + α·s_u·r_u`` with ``α = 1 - exp(-dt/τ)`` (a backward-Euler step of the
fluid dynamics). Using the old average instead (``s ∝ r/x̄``) makes relative errors of the
shares evolve as ``ε' = (1 - 2α)·ε``: they decay for ``dt ≲ τ`` but oscillate without decay when
``dt ≫ τ`` (``α → 1``), e.g. two full-buffer users trading 80/20 and 20/80 every step at
``dt = 60 s``. With the step's own service each unconstrained share solves
``α r s² + (1-α) x̄ s - λ r = 0``, i.e. ``s_u(λ) = 2λr / ((1-α)x̄ + sqrt((1-α)²x̄² + 4αλr²))``,
increasing and concave in ``λ``; Newton's iteration on ``λ``, started at the previous step's
level, finds each cell's level (all cells at once, one pass over the users per iteration,
Numba; on a concave sum it climbs to the root monotonically after its first step). At
``dt ≫ τ`` this gives the proportional-fair allocation in one step; at ``dt ≪ τ`` the
metric-weighted sharing of the previous paragraph.

**Busy rate.** A user whose need is met still receives its data at the rate of the share it
could have taken, ``min(1, s_u(λ_c))·r_u`` — all the cell's PRBs when the cell can carry every
user's data — which times the packets of delay-sensitive flows (:mod:`twinnet.traffic.queues`).

**Backhaul.** When the bits served at a site exceed its backhaul capacity in the step, its
users' shares, service and busy rates are scaled down by the same factor (the PRB-time that is
not used is not used: the cells' utilisation falls with it).

Shapes: ``[U]`` per user, ``[C]`` per cell, ``[S]`` per site. Bits, seconds, bit/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from twinnet.errors import InputError

__all__ = ["ProportionalFair", "Schedule"]

#: the level iteration stops when every cell's shares sum to 1 within this
_SHARE_TOL = 1e-12
_MAX_ITER = 200


@dataclass
class Schedule:
    """One step's allocation.

    ``share`` ``[U]``: fraction of the serving cell's PRB-time; ``served_bits`` ``[U]``: bits
    served this step (at most the demand); ``cell_utilization`` ``[C]``: sum of the shares
    (0…1; 1 whenever a full-buffer user is present, unless the backhaul limits the site);
    ``busy_rate_bps`` ``[U]``: the rate a user is served at while it has data (0 without data).
    """

    share: NDArray[np.float64]
    served_bits: NDArray[np.float64]
    cell_utilization: NDArray[np.float64]
    busy_rate_bps: NDArray[np.float64]


@njit(cache=True)
def _level_share(lam: float, r: float, b: float, alpha: float) -> float:
    """The unconstrained share ``s`` solving ``α r s² + b s - λ r = 0`` (``b = (1-α)x̄``)."""
    return 2.0 * lam * r / (b + math.sqrt(b * b + 4.0 * alpha * lam * r * r))


@njit(cache=True)
def _pf_shares(cell, rate, demand, avg, dt, alpha, n_cells, lam, share, served, busy, util,
               need, bu, cap):
    """Water-filled proportional-fair shares of every cell (see the module docstring).

    ``lam`` ``[C]`` holds a starting level (the previous step's) and receives each cell's level
    (``inf`` where the cell carries all its users' data); writes ``share``, ``served`` [bit],
    ``busy`` (busy rate [bit/s]) and ``util`` ``[C]``; ``need``, ``bu`` and ``cap`` ``[U]`` are
    work space.
    Returns the number of Newton iterations. Each iteration is one sequential pass over the
    users that skips cells already solved (streaming beats gathering users cell by cell here:
    the per-cell sums stay in cache, the per-user arrays are read in order).
    """
    n = cell.size
    need_sum = np.zeros(n_cells)
    count = np.zeros(n_cells, dtype=np.int64)
    k_min = np.full(n_cells, np.inf)
    for u in range(n):
        c = cell[u]
        b = (1.0 - alpha) * avg[u]
        bu[u] = b
        need[u] = 0.0
        if c >= 0 and rate[u] > 0.0 and demand[u] > 0.0:
            x = demand[u] / (rate[u] * dt)  # the share that carries all the user's data
            need[u] = x
            cap[u] = x * (alpha * x + b / rate[u]) if x < np.inf else np.inf  # λ_u(need)
            need_sum[c] += x
            count[c] += 1
            k_min[c] = min(k_min[c], b / rate[u])
    # Σ_u min(need_u, s_u(λ)) is concave and increasing in λ: Newton from any start lands left
    # of the root after one step and then climbs to it monotonically; ``lo`` (the lowest
    # user's level for a share of 1/N: no share exceeds 1/N there, so the sum is at most 1)
    # keeps a first step from the right above zero
    lo = np.zeros(n_cells)
    active = np.zeros(n_cells, dtype=np.bool_)
    for c in range(n_cells):
        if need_sum[c] > 1.0:
            s1 = 1.0 / count[c]
            lo[c] = alpha * s1 * s1 + s1 * k_min[c]
            if not lo[c] < lam[c] < np.inf:
                lam[c] = lo[c]
            active[c] = True
        else:
            lam[c] = np.inf
    g = np.zeros(n_cells)
    dg = np.zeros(n_cells)
    it = 0
    while it < _MAX_ITER:
        it += 1
        g[:] = 0.0
        dg[:] = 0.0
        for u in range(n):
            c = cell[u]
            if c >= 0 and active[c] and need[u] > 0.0:
                if lam[c] >= cap[u]:
                    g[c] += need[u]
                else:
                    s = _level_share(lam[c], rate[u], bu[u], alpha)
                    g[c] += s
                    dg[c] += rate[u] / (2.0 * alpha * rate[u] * s + bu[u])
        left = False
        for c in range(n_cells):
            if not active[c]:
                continue
            f = g[c] - 1.0
            if abs(f) <= _SHARE_TOL or not dg[c] > 0.0:
                active[c] = False
                continue
            nxt = max(lam[c] - f / dg[c], lo[c])
            if nxt == lam[c]:
                active[c] = False
                continue
            lam[c] = nxt
            left = True
        if not left:
            break
    # shares at the level; a saturated cell's free shares are then scaled so that its shares
    # sum to exactly 1
    capped = np.zeros(n_cells)
    free = np.zeros(n_cells)
    for u in range(n):
        c = cell[u]
        if c < 0 or need[u] <= 0.0:
            share[u] = 0.0
            busy[u] = 0.0
        elif lam[c] < np.inf:
            s = _level_share(lam[c], rate[u], bu[u], alpha)
            busy[u] = min(1.0, s)
            if lam[c] >= cap[u]:
                share[u] = need[u]
                capped[c] += need[u]
            else:
                share[u] = s
                free[c] += s
        else:  # the cell carries everything: each user at the full cell rate
            share[u] = need[u]
            busy[u] = 1.0
            capped[c] += need[u]
    fix = np.ones(n_cells)
    for c in range(n_cells):
        util[c] = 0.0
        if lam[c] < np.inf and free[c] > 0.0 and capped[c] < 1.0:
            fix[c] = (1.0 - capped[c]) / free[c]
    for u in range(n):
        c = cell[u]
        served[u] = 0.0
        if c >= 0 and need[u] > 0.0:
            if lam[c] < cap[u]:
                share[u] *= fix[c]
                busy[u] = min(1.0, busy[u] * fix[c])
            util[c] += share[u]
            served[u] = min(share[u] * rate[u] * dt, demand[u])
            busy[u] *= rate[u]
    for c in range(n_cells):
        util[c] = min(util[c], 1.0)
    return it


@njit(cache=True)
def _backhaul(cell, site_of_cell, cap, share, served, busy, util):
    """Scale the users of every site whose served bits exceed its cap ``[S]`` down to it."""
    load = np.zeros(cap.size)
    for u in range(cell.size):
        if cell[u] >= 0:
            load[site_of_cell[cell[u]]] += served[u]
    factor = np.ones(cap.size)
    over = False
    for k in range(cap.size):
        if load[k] > cap[k]:
            factor[k] = cap[k] / load[k]
            over = True
    if not over:
        return
    util[:] = 0.0
    for u in range(cell.size):
        c = cell[u]
        if c >= 0:
            f = factor[site_of_cell[c]]
            share[u] *= f
            served[u] *= f
            busy[u] *= f
            util[c] += share[u]
    for c in range(util.size):
        util[c] = min(util[c], 1.0)


@njit(cache=True)
def _ewma(avg, served, alpha, dt):
    """``avg ← (1 - α)·avg + α·served/dt`` in place."""
    for u in range(avg.size):
        avg[u] = (1.0 - alpha) * avg[u] + alpha * (served[u] / dt)


class ProportionalFair:
    """Proportional-fair scheduler over all cells (see the module docstring).

    ``avg_rate_bps`` ``[U]`` is each user's EWMA of served throughput (time constant
    ``time_constant_s``); it starts at 0.
    """

    def __init__(self, n_users: int, time_constant_s: float = 1.0):
        if n_users < 0:
            raise InputError("n_users", n_users, "a non-negative number of users")
        if not (time_constant_s > 0 and math.isfinite(time_constant_s)):
            raise InputError("time_constant_s", time_constant_s, "a positive, finite time [s]")
        self.n_users = int(n_users)
        self.time_constant_s = float(time_constant_s)
        self.avg_rate_bps = np.zeros(n_users)
        #: each cell's level of the last step (the next step's starting point)
        self._level = np.zeros(0)
        #: Newton iterations of the last step's levels
        self.iterations = 0
        self._work = (np.empty(n_users), np.empty(n_users), np.empty(n_users))

    def schedule(self, serving_cell: NDArray[np.int32], n_cells: int,
                 rate_bps: NDArray[np.float64], demand_bits: NDArray[np.float64],
                 dt_s: float, site_of_cell: NDArray[np.int32] | None = None,
                 site_cap_bits: NDArray[np.float64] | None = None) -> Schedule:
        """Share each cell's PRB-time among its users with data for one step of ``dt_s`` [s].

        ``serving_cell`` ``[U]`` (``-1``: not served), ``rate_bps`` ``[U]`` [bit/s] with all the
        serving cell's PRBs, ``demand_bits`` ``[U]`` [bit] (``inf`` for full buffer). With
        ``site_of_cell`` ``[C]`` and ``site_cap_bits`` ``[S]`` (backhaul capacity this step
        [bit]; ``inf`` for none), a site serves at most its cap. Updates ``avg_rate_bps``.
        """
        n = self.n_users
        cell = np.asarray(serving_cell)
        rate = np.asarray(rate_bps, dtype=np.float64)
        demand = np.asarray(demand_bits, dtype=np.float64)
        for name, arr in (("serving_cell", cell), ("rate_bps", rate), ("demand_bits", demand)):
            if arr.shape != (n,):
                raise InputError(name, arr.shape, f"shape ({n},), one per user")
        if n_cells < 1:
            raise InputError("n_cells", n_cells, "at least one cell")
        if not (dt_s > 0 and math.isfinite(dt_s)):
            raise InputError("dt_s", dt_s, "a positive, finite step [s]")
        if n:
            if not np.issubdtype(cell.dtype, np.integer):
                raise InputError("serving_cell", cell.dtype, "integer cell indices")
            if cell.min() < -1 or cell.max() >= n_cells:
                bad = int(cell.min()) if cell.min() < -1 else int(cell.max())
                raise InputError("serving_cell", bad, f"a cell in [0, {n_cells}) or -1")
            if not (rate.min() >= 0 and rate.max() < np.inf):
                bad = rate[~((rate >= 0) & (rate < np.inf))][0]
                raise InputError("rate_bps", float(bad), "finite, non-negative rates")
            if not demand.min() >= 0:
                raise InputError("demand_bits", float(np.nanmin(demand)),
                                 "non-negative demands (inf for full buffer)")
        if (site_of_cell is None) != (site_cap_bits is None):
            raise InputError("site_cap_bits", site_cap_bits,
                             "site_of_cell and site_cap_bits together, or neither")
        if site_of_cell is not None and site_cap_bits is not None:
            sites = np.asarray(site_of_cell)
            cap = np.asarray(site_cap_bits, dtype=np.float64)
            if sites.shape != (n_cells,) or not np.issubdtype(sites.dtype, np.integer):
                raise InputError("site_of_cell", sites.shape,
                                 f"shape ({n_cells},), one site index per cell")
            if cap.ndim != 1 or (cap.size and not cap.min() >= 0):
                raise InputError("site_cap_bits", cap.min() if cap.size else cap,
                                 "non-negative capacities [bit] per site (inf for none)")
            if sites.min() < 0 or sites.max() >= cap.shape[0]:
                raise InputError("site_of_cell", int(sites.max()),
                                 f"site indices in [0, {cap.shape[0]}) (one cap per site)")
        alpha = -math.expm1(-dt_s / self.time_constant_s)
        share = np.empty(n)
        served = np.empty(n)
        busy_rate = np.empty(n)
        util = np.empty(n_cells)
        if self._level.shape != (n_cells,):
            self._level = np.full(n_cells, np.nan)
        self.iterations = _pf_shares(cell, rate, demand, self.avg_rate_bps, float(dt_s), alpha,
                                     int(n_cells), self._level, share, served, busy_rate, util,
                                     *self._work)
        if site_of_cell is not None and site_cap_bits is not None:
            _backhaul(cell, sites, cap, share, served, busy_rate, util)
        _ewma(self.avg_rate_bps, served, alpha, float(dt_s))
        return Schedule(share, served, util, busy_rate)
