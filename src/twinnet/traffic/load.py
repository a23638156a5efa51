"""PRB load and served throughput with load-coupled interference.

Each user ``u`` served by cell ``c`` needs ``n_u = D_u / (SE(SINR_u) · B_PRB · (1 - overhead))``
PRBs on average to carry its demand ``D_u``. Cell ``c``'s offered load is
``L_c = sum_u n_u / N_PRB,c`` and its PRB utilisation ``rho_c = min(1, L_c)``. Interference is
weighted by the neighbours' utilisation (a cell that transmits on a fraction rho of its PRBs
interferes on that fraction), which couples the cells: ``rho = min(1, f(rho))`` is solved by
fixed-point iteration from ``rho = 0`` (the load-coupling model of Siomina & Yuan, 2012).
A saturated cell (``L_c > 1``) serves each user ``D_u / L_c`` (resource-fair sharing); the rest is
the cell's unserved demand. Users whose SINR is below the link abstraction's minimum are in
outage: they get nothing and add no load.

Dropping a user's load the moment it falls into outage would make ``f`` non-monotone (more
interference → a user drops out → less load → less interference → it comes back) and the
iteration could cycle. So the iteration runs on a monotone surrogate in which a user below the
minimum SINR still asks for the PRBs it would need at the lowest positive spectral efficiency;
``f`` is then monotone and the iteration increases monotonically to the least fixed point. One
final pass at that fixed point applies the outage cut, and its loads are the ones reported.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

import numpy as np
from numpy.typing import NDArray

from twinnet.radio.fast import (
    cell_prb_totals,
    interference_pruned_kernel,
    interference_shared_kernel,
    prb_demand_kernel,
    threads_for,
)
from twinnet.radio.link import LinkAbstraction

__all__ = ["LoadResult", "solve_load"]


@dataclass
class LoadResult:
    sinr_db: NDArray[np.float64]
    spectral_efficiency: NDArray[np.float32]
    prb_need: NDArray[np.float64]
    offered_load: NDArray[np.float64]
    prb_utilization: NDArray[np.float64]
    throughput_mbps: NDArray[np.float64]
    cell_throughput_mbps: NDArray[np.float64]
    cell_unserved_mbps: NDArray[np.float64]
    cell_users: NDArray[np.int64]
    interference_mw: NDArray[np.float64]
    iterations: int
    converged: bool
    #: the iteration stopped early: ``prb_utilization`` and the outage are lower bounds that
    #: already break ``reject_above`` / ``reject_outage_above`` (see :func:`solve_load`)
    rejected: bool = False


P = ParamSpec("P")
R = TypeVar("R")


def _serial_when_small(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn``'s kernels on one thread when its first argument (the link matrix) is small
    (:func:`twinnet.radio.fast.threads_for`)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        gain: Any = args[0] if args else kwargs.get("gain")
        with threads_for(int(np.size(gain))):
            return fn(*args, **kwargs)

    return wrapper


@_serial_when_small
def solve_load(
    gain: NDArray[np.float32],
    slot_cell: NDArray[np.int32],
    serving_slot: NDArray[np.int32],
    serving_cell: NDArray[np.int32],
    signal_mw: NDArray[np.float64],
    cell_tx_mw: NDArray[np.float64],
    cell_carrier: NDArray[np.int32],
    cell_n_prb: NDArray[np.int64],
    cell_prb_hz: NDArray[np.float64],
    noise_mw: NDArray[np.float64],
    demand_mbps: NDArray[np.float64],
    link: LinkAbstraction,
    overhead: float = 0.14,
    interference: Literal["load", "full-buffer"] = "load",
    max_iter: int = 200,
    tol: float = 1e-4,
    rho0: NDArray[np.float64] | None = None,
    reject_above: float | None = None,
    reject_outage_above: float | None = None,
) -> LoadResult:
    """Solve the load-coupling fixed point (see module docstring). Shapes: ``gain [U, K]``,
    ``slot_cell [1 or U, K]``, per-user arrays ``[U]``, per-cell arrays ``[C]``.

    ``rho0`` warm-starts the iteration (e.g. from the fixed point of a network that differs by
    a few actions). The surrogate map is monotone and has one fixed point in practice (noise
    makes it a standard interference function), so the iteration reaches the same point
    (within ``tol``) from above or below — in fewer steps from a nearby start.

    ``reject_above`` / ``reject_outage_above`` stop the iteration as soon as the state provably
    breaks them — a plan search's test, exact rather than approximate. From ``rho = 0`` the
    iterates ``rho_k`` rise monotonically to the fixed point, so each user's interference at
    ``rho_k`` is at most its final one and its spectral efficiency at least the final one: its
    PRB need is a lower bound of its final need. A user whose SINR clears the link
    abstraction's minimum even at full-buffer interference (every cell at ``rho = 1``) is
    never cut as in outage, so the sum of these users' needs at ``rho_k`` is a lower bound of
    the cell's reported load; a user below the minimum at ``rho_k`` is in outage at the fixed
    point too, so their share is a lower bound of the outage ratio. When a bound already breaks
    a limit the result has ``rejected = True`` and carries the bounds; otherwise the iteration
    runs to the same fixed point as without the limits."""
    check = reject_above is not None or reject_outage_above is not None
    if check and rho0 is not None:
        raise ValueError("rho0: early rejection needs the iteration from rho = 0")
    n_ue = signal_mw.shape[0]
    n_cell = cell_tx_mw.shape[0]
    active = cell_tx_mw > 0
    eff_prb_hz = cell_prb_hz * (1.0 - overhead)
    demand_bps = demand_mbps * 1e6
    sinr_db = np.empty(n_ue)
    prb_need = np.empty(n_ue)
    interf = np.empty(n_ue)
    inv_step = 1.0 / link.step_db
    has_cell = serving_cell >= 0
    sc = np.where(has_cell, serving_cell, 0)

    n_car = int(cell_carrier.max()) + 1 if n_cell else 1
    on_car = cell_carrier[None, :] == np.arange(n_car)[:, None]  # [n_car, C]
    shared = slot_cell.shape[0] == 1 and n_ue != 1

    def offered(rho: NDArray[np.float64], floor: float) -> NDArray[np.float64]:
        w_cell = np.zeros((n_car, n_cell + 1))
        w_cell[:, :n_cell] = np.where(on_car, rho * cell_tx_mw, 0.0)
        if shared:
            w_slot = np.ascontiguousarray(w_cell[:, slot_cell[0]])  # -1 reads the zero column
            interference_shared_kernel(gain, w_slot, serving_slot, serving_cell, cell_carrier,
                                       interf)
        else:
            interference_pruned_kernel(gain, slot_cell, w_cell, serving_slot, serving_cell,
                                       cell_carrier, interf)
        prb_demand_kernel(signal_mw, interf, noise_mw, serving_cell, demand_bps, eff_prb_hz,
                          link.table_, link.lo_db, inv_step, floor, prb_need, sinr_db)
        total: NDArray[np.float64] = cell_prb_totals(serving_cell, prb_need, n_cell)
        return total / cell_n_prb

    if interference == "full-buffer":
        rho = active.astype(np.float64)
        load = offered(rho, 0.0)
        it, converged = 1, True
    else:
        rho = (np.zeros(n_cell) if rho0 is None
               else np.where(active, np.clip(np.asarray(rho0, dtype=np.float64), 0.0, 1.0), 0.0))
        converged = False
        it = 0
        sure: NDArray[np.bool_] | None = None
        if check:  # users served even at full-buffer interference
            offered(active.astype(np.float64), 0.0)
            sure = np.isfinite(prb_need)
        for it in range(1, max_iter + 1):
            load = offered(rho, link.se_floor)
            if sure is not None:
                lb = np.where(active, np.minimum(
                    cell_prb_totals(serving_cell, np.where(sure, prb_need, np.inf), n_cell)
                    / cell_n_prb, 1.0), 0.0)
                if ((reject_above is not None and n_cell and float(lb.max()) > reject_above)
                        or (reject_outage_above is not None and n_ue and float(np.mean(
                            ~has_cell | (link(sinr_db) <= 0.0))) > reject_outage_above)):
                    se = link(sinr_db)
                    zero = np.zeros(n_cell)
                    return LoadResult(
                        sinr_db=sinr_db.copy(), spectral_efficiency=se,
                        prb_need=prb_need.copy(), offered_load=lb, prb_utilization=lb,
                        throughput_mbps=np.zeros(n_ue), cell_throughput_mbps=zero,
                        cell_unserved_mbps=zero, cell_users=np.bincount(
                            sc[has_cell], minlength=n_cell), interference_mw=interf.copy(),
                        iterations=it, converged=False, rejected=True)
            new = np.where(active, np.minimum(load, 1.0), 0.0)
            delta = float(np.max(np.abs(new - rho))) if n_cell else 0.0
            rho = new
            if delta < tol:
                converged = True
                break
        # the outage cut, at the fixed point's interference
        load = offered(rho, 0.0)
        rho = np.where(active, np.minimum(load, 1.0), 0.0)

    se = link(sinr_db)
    ok = np.isfinite(prb_need) & has_cell
    share = np.where(load > 1.0, 1.0 / np.maximum(load, 1e-300), 1.0)
    thr = np.where(ok, demand_mbps * share[sc], 0.0)
    cell_thr: NDArray[np.float64] = np.asarray(
        np.bincount(sc[has_cell], weights=thr[has_cell], minlength=n_cell), dtype=np.float64)
    cell_dem: NDArray[np.float64] = np.asarray(
        np.bincount(sc[has_cell], weights=demand_mbps[has_cell], minlength=n_cell),
        dtype=np.float64)
    cell_users = np.bincount(sc[has_cell], minlength=n_cell)
    return LoadResult(
        sinr_db=sinr_db.copy(), spectral_efficiency=se, prb_need=prb_need.copy(),
        offered_load=load, prb_utilization=rho, throughput_mbps=thr,
        cell_throughput_mbps=cell_thr, cell_unserved_mbps=cell_dem - cell_thr,
        cell_users=cell_users, interference_mw=interf.copy(), iterations=it,
        converged=converged,
    )
