"""L3 insights: what the policy layer sees in a twin evaluation, as typed statements.

An :class:`Insight` is one statement of a twin layer — a kind of finding about a subject (a cell
id of the network, an area or ``"network"``), a one-line message with numbers and units, and the
numbers behind it. The L3 layer states congestion against the target, unfair load, outage,
energy-saving candidates and a KPI summary (:func:`l3_insights`); the L1/L2 layers' insights and
the report a language model reads are built in :mod:`twinnet.llm.context`.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["CRITICAL_UTILIZATION", "FAIRNESS_MIN", "IDLE_UTILIZATION", "KIND_CONTEXT",
           "OUTAGE_CRITICAL", "OUTAGE_WARN", "Insight", "Layer", "Severity", "l3_insights",
           "one_line", "percent"]

Layer = Literal["L1", "L2", "L3"]
Severity = Literal["info", "warning", "critical"]

#: insight kind → the context it belongs to (kinds not listed are always reported)
KIND_CONTEXT: dict[str, str] = {
    "interference": "radio",
    "coverage": "radio",
    "congestion": "load",
    "fairness": "load",
    "outage": "load",
    "kpi": "load",
    "forecast": "forecast",
    "drift": "fidelity",
    "weather": "weather",
    "mobility": "mobility",
    "drone_interference": "non_terrestrial",
    "spectrum": "spectrum",
    "energy": "energy",
}

_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_MAX_LINE = 240

#: thresholds of the L3 insight rules
CRITICAL_UTILIZATION = 0.9
FAIRNESS_MIN = 0.8
OUTAGE_WARN = 0.01
OUTAGE_CRITICAL = 0.05
IDLE_UTILIZATION = 0.05


def one_line(text: str, limit: int = _MAX_LINE) -> str:
    """Control characters and line breaks become spaces; runs of spaces collapse; bounded."""
    s = " ".join(_CONTROL.sub(" ", str(text)).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class Insight(BaseModel):
    """One statement of a twin layer: ``kind`` of finding about ``subject`` (a cell id of the
    network, an area or ``"network"``), a one-line ``message`` with numbers and units, and the
    numbers behind it (``value`` [``unit``], ``evidence``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: Layer
    kind: str = Field(min_length=1, max_length=40)
    subject: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1)
    severity: Severity
    value: float | None = None
    unit: str = Field("", max_length=16)
    evidence: dict[str, Any] = Field(default_factory=dict)

    @field_validator("subject", "message", "unit", "kind")
    @classmethod
    def _single_line(cls, v: str) -> str:
        return one_line(v)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else float(v)

    @property
    def context(self) -> str | None:
        """The context this insight belongs to (``None``: reported in every context)."""
        return KIND_CONTEXT.get(self.kind)

    def sort_key(self) -> tuple[int, float, str, str, str]:
        v = -self.value if self.value is not None else math.inf
        return (_SEVERITY_RANK[self.severity], v, self.subject, self.kind, self.message)


def percent(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def l3_insights(cells: pd.DataFrame, kpis: dict[str, Any], names: list[str],
                active: np.ndarray, target: float) -> list[Insight]:
    """L3 insights of one evaluation (its per-cell table ``cells`` with ``prb_utilization``,
    ``users`` and ``unserved_mbps`` columns, and its ``kpis``): every active cell above
    ``target`` (``congestion``, critical from :data:`CRITICAL_UTILIZATION`), unfair cell loads
    (``fairness``), outage (``outage``), nearly idle active cells (``energy``) and a one-line
    KPI summary (``kpi``)."""
    out: list[Insight] = []
    util = cells["prb_utilization"].to_numpy(dtype=float)
    users = cells["users"].to_numpy()
    unserved = cells["unserved_mbps"].to_numpy(dtype=float)
    for c in np.flatnonzero(active & (util > target)):
        u = float(util[c])
        extra = f", {unserved[c]:.1f} Mbit/s unserved" if unserved[c] > 0.05 else ""
        out.append(Insight(
            layer="L3", kind="congestion", subject=names[c],
            message=f"{names[c]} PRB utilisation {u:.2f} (target {target:.2f}), "
                    f"{int(users[c])} users{extra}",
            severity="critical" if u >= CRITICAL_UTILIZATION else "warning", value=u,
            evidence={"prb_utilization": round(u, 4), "target": target,
                      "users": int(users[c]), "unserved_mbps": round(float(unserved[c]), 3)}))
    k = kpis
    jain = float(k.get("jain_fairness", 1.0))
    if jain < FAIRNESS_MIN:
        out.append(Insight(
            layer="L3", kind="fairness", subject="network",
            message=f"network Jain fairness of cell loads {jain:.2f} (below {FAIRNESS_MIN:.1f}); "
                    f"peak {float(k.get('peak_prb_utilization', 0.0)):.2f}, "
                    f"mean {float(k.get('mean_prb_utilization', 0.0)):.2f}",
            severity="warning", value=jain,
            evidence={"jain_fairness": round(jain, 4)}))
    ratio = float(k.get("outage_ratio", 0.0))
    if ratio > OUTAGE_WARN:
        n_users = int(k.get("n_users", 0))
        out.append(Insight(
            layer="L3", kind="outage", subject="network",
            message=f"network outage ratio {percent(ratio)} ({round(ratio * n_users)} of "
                    f"{n_users} users)",
            severity="critical" if ratio > OUTAGE_CRITICAL else "warning", value=ratio,
            evidence={"outage_ratio": round(ratio, 5), "n_users": n_users}))
    idle = [names[c] for c in np.flatnonzero(active & (util < IDLE_UTILIZATION))]
    if idle:
        shown = ", ".join(idle[:6]) + (f" (+{len(idle) - 6})" if len(idle) > 6 else "")
        out.append(Insight(
            layer="L3", kind="energy", subject="network",
            message=f"{len(idle)} active cells below PRB utilisation {IDLE_UTILIZATION:.2f} "
                    f"(sleep candidates): {shown}",
            severity="info", value=float(len(idle)), unit="cells",
            evidence={"cells": idle}))
    hot = str(k.get("hottest_cell", ""))
    med = k.get("median_sinr_db")
    sinr = f", median SINR {float(med):.1f} dB" if med is not None and math.isfinite(
        float(med)) else ""
    out.append(Insight(
        layer="L3", kind="kpi", subject="network",
        message=f"network peak PRB utilisation {float(k.get('peak_prb_utilization', 0.0)):.2f}"
                f"{' at ' + hot if hot else ''}, mean "
                f"{float(k.get('mean_prb_utilization', 0.0)):.2f}, outage {percent(ratio)}{sinr}",
        severity="info",
        evidence={key: k[key] for key in ("peak_prb_utilization", "mean_prb_utilization",
                                           "outage_ratio", "median_sinr_db", "hottest_cell")
                  if key in k}))
    return out
