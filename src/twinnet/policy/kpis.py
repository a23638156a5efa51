"""Network key performance indicators computed from per-user and per-cell results."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["KPI_NAMES", "jain_fairness", "network_kpis"]

#: The headline KPIs every evaluation reports (JSON keys).
KPI_NAMES = (
    "mean_throughput_mbps",
    "p5_throughput_mbps",
    "peak_prb_utilization",
    "mean_prb_utilization",
    "jain_fairness",
    "outage_ratio",
)


def jain_fairness(x: ArrayLike) -> float:
    """Jain's index ``(sum x)^2 / (n sum x^2)`` in [1/n, 1]; 1 for an all-zero vector."""
    v = np.asarray(x, dtype=np.float64).ravel()
    if v.size == 0:
        return 1.0
    s2 = float(np.sum(v * v))
    if s2 == 0.0:
        return 1.0
    return float(np.sum(v) ** 2 / (v.size * s2))


def network_kpis(
    throughput_mbps: ArrayLike,
    demand_mbps: ArrayLike,
    in_outage: ArrayLike,
    prb_utilization: ArrayLike,
    cell_active: ArrayLike,
    sinr_db: ArrayLike,
) -> dict[str, float]:
    """Headline KPIs. ``jain_fairness`` is computed over the active cells' PRB utilisation (the
    load-balance index that capacity and load-balancing actions act on);
    ``throughput_jain_fairness`` is the same index over users' served throughput."""
    thr = np.asarray(throughput_mbps, dtype=np.float64)
    dem = np.asarray(demand_mbps, dtype=np.float64)
    out = np.asarray(in_outage, dtype=bool)
    util = np.asarray(prb_utilization, dtype=np.float64)[np.asarray(cell_active, dtype=bool)]
    sinr = np.asarray(sinr_db, dtype=np.float64)
    finite = sinr[np.isfinite(sinr)]
    total_dem = float(dem.sum())
    return {
        "mean_throughput_mbps": float(thr.mean()) if thr.size else 0.0,
        "p5_throughput_mbps": float(np.percentile(thr, 5)) if thr.size else 0.0,
        "peak_prb_utilization": float(util.max()) if util.size else 0.0,
        "mean_prb_utilization": float(util.mean()) if util.size else 0.0,
        "jain_fairness": jain_fairness(util),
        "outage_ratio": float(out.mean()) if out.size else 0.0,
        "throughput_jain_fairness": jain_fairness(thr),
        "served_ratio": float(thr.sum() / total_dem) if total_dem > 0 else 1.0,
        "total_demand_mbps": total_dem,
        "total_served_mbps": float(thr.sum()),
        "median_sinr_db": float(np.median(finite)) if finite.size else float("nan"),
        "p5_sinr_db": float(np.percentile(finite, 5)) if finite.size else float("nan"),
        "n_users": int(thr.size),
        "n_cells": int(util.size),
        "saturated_cells": int(np.sum(util >= 0.999)),
    }
