"""Network key performance indicators: their formulas and the one list of their names.

:func:`network_kpis` computes every KPI of an evaluation from per-user and per-cell results;
:data:`KPIS` describes each key it returns (label, unit, which direction is better);
:data:`HEADLINE_KPIS` is the subset every report, decision record and JSON output shows
(:func:`kpi_subset`).

>>> sorted(HEADLINE_KPIS) == sorted(kpi_subset({k: 0 for k in KPIS}))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError

__all__ = [
    "HEADLINE_KPIS",
    "KPIS",
    "Kpi",
    "format_kpi",
    "jain_fairness",
    "kpi_subset",
    "network_kpis",
    "on_time_satisfied",
]


@dataclass(frozen=True)
class Kpi:
    """One KPI: its JSON key, a label for people, its unit and which direction is better."""

    key: str
    label: str
    unit: str = ""
    better: Literal["higher", "lower", "neither"] = "neither"
    fmt: str = "{:.3g}"


#: Every KPI an evaluation reports (the keys of :func:`network_kpis` plus the twin's own).
KPIS: dict[str, Kpi] = {k.key: k for k in (
    Kpi("peak_prb_utilization", "peak PRB utilisation", better="lower"),
    Kpi("mean_prb_utilization", "mean PRB utilisation", better="lower"),
    Kpi("jain_fairness", "Jain fairness", better="higher"),
    Kpi("p5_throughput_mbps", "p5 throughput", "Mbps", "higher", "{:.3g} Mbps"),
    Kpi("mean_throughput_mbps", "mean throughput", "Mbps", "higher", "{:.3g} Mbps"),
    Kpi("outage_ratio", "outage", better="lower"),
    Kpi("served_ratio", "served ratio", better="higher"),
    Kpi("hottest_cell", "hottest cell", fmt="{}"),
    Kpi("throughput_jain_fairness", "Jain fairness of user throughput", better="higher"),
    Kpi("total_demand_mbps", "total demand", "Mbps", fmt="{:.4g} Mbps"),
    Kpi("total_served_mbps", "total served", "Mbps", "higher", "{:.4g} Mbps"),
    Kpi("median_sinr_db", "median SINR", "dB", "higher", "{:.3g} dB"),
    Kpi("p5_sinr_db", "p5 SINR", "dB", "higher", "{:.3g} dB"),
    Kpi("n_users", "users", fmt="{}"),
    Kpi("n_cells", "active cells", fmt="{}"),
    Kpi("saturated_cells", "saturated cells", better="lower", fmt="{}"),
)}

#: The KPIs every report, decision record and ``--json`` output shows, in this order.
HEADLINE_KPIS: tuple[str, ...] = (
    "peak_prb_utilization", "mean_prb_utilization", "jain_fairness", "p5_throughput_mbps",
    "mean_throughput_mbps", "outage_ratio", "served_ratio", "hottest_cell",
)


def kpi_subset(kpis: dict[str, Any], keys: tuple[str, ...] = HEADLINE_KPIS) -> dict[str, Any]:
    """The ``keys`` of ``kpis`` that it has, in the order of ``keys``."""
    return {k: kpis[k] for k in keys if k in kpis}


def format_kpi(key: str, value: Any) -> str:
    """``"label value unit"`` of one KPI (unknown keys are shown as they are)."""
    spec = KPIS.get(key)
    label, fmt = (spec.label, spec.fmt) if spec is not None else (key, "{}")
    if isinstance(value, float) and not np.isfinite(value):
        return f"{label} {value}"
    try:
        return f"{label} {fmt.format(value)}"
    except (ValueError, TypeError):
        return f"{label} {value}"


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


def on_time_satisfied(packets: ArrayLike, late: ArrayLike, on_time: float = 0.99
                      ) -> NDArray[np.bool_]:
    """Per user: whether at least ``on_time`` of its packets arrived within their delay budget
    (3GPP TR 38.838 §5: an XR user is satisfied when more than 99 % of its frames arrive within
    the packet delay budget). ``packets`` the packets the user completed, ``late`` those of its
    packets that missed the budget (delivered late or still queued past it, counted once). A
    user without packets is not counted as satisfied."""
    p = np.asarray(packets, dtype=np.float64)
    lt = np.asarray(late, dtype=np.float64)
    if p.shape != lt.shape:
        raise InputError("late", lt.shape, f"one count per user, like packets {p.shape}")
    if not 0.0 < on_time <= 1.0:
        raise InputError("on_time", on_time, "a share in (0, 1]")
    total = np.maximum(p, lt)  # a packet late and still queued is not in ``packets`` yet
    return (total > 0) & (lt <= (1.0 - on_time) * total + 1e-9)
