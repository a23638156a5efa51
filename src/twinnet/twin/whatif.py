"""What-if analysis: the KPIs a plan would give, predicted on a fork of the twin.

The twin itself is never mutated: each plan is applied to a :meth:`DigitalTwin.copy`
(users, fields and link gains shared). Plans that change only powers, offsets or on/off
states reuse the cached link gains; plans that change tilts or bearings recompute only the
columns of the cells they touch (:meth:`DigitalTwin.link_gains`). The serving association and
the load fixed point are then solved for the whole network — they couple all cells.

>>> base = twin.evaluate()                                     # doctest: +SKIP
>>> r = what_if(twin, plan, baseline=base)                     # doctest: +SKIP
>>> r.delta["peak_prb_utilization"]                            # doctest: +SKIP
-0.31
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.actions import ActionPlan

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from twinnet.twin.twin import DigitalTwin, Evaluation, LoadSummary

__all__ = ["WhatIfResult", "kpi_delta", "what_if", "what_if_batch", "what_if_load"]


@dataclass
class WhatIfResult:
    """Predicted KPIs of a plan, their change against the baseline, and per-cell load."""

    plan: ActionPlan
    kpis: dict[str, Any]
    delta: dict[str, float]
    cell_utilization: pd.Series
    elapsed_s: float
    evaluation: Evaluation | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.model_dump(), "kpis": self.kpis, "delta": self.delta,
                "cost": self.plan.cost(), "elapsed_s": self.elapsed_s}


def kpi_delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, float]:
    """Numeric KPI changes ``after − before``."""
    out = {}
    for k, v in after.items():
        b = before.get(k)
        if isinstance(v, int | float) and isinstance(b, int | float) and not isinstance(v, bool):
            out[k] = float(v) - float(b)
    return out


def what_if(twin: DigitalTwin, plan: ActionPlan, hour: int | None = None,
            baseline: Evaluation | None = None, keep_evaluation: bool = False) -> WhatIfResult:
    """Predict ``plan`` on a fork of ``twin`` (the twin is not changed)."""
    t0 = time.perf_counter()
    base = baseline if baseline is not None else twin.evaluate(hour=hour, uplink=False)
    fork = twin.copy()
    plan.apply(fork.network)
    ev = fork.evaluate(hour=hour, uplink=False)
    util = pd.Series(np.asarray(ev.load.prb_utilization), index=fork.network.cell_names)
    return WhatIfResult(plan, ev.kpis, kpi_delta(ev.kpis, base.kpis), util,
                        time.perf_counter() - t0, ev if keep_evaluation else None)


def what_if_load(twin: DigitalTwin, plan: ActionPlan, hour: int | None = None,
                 rho0: NDArray[np.float64] | None = None, reject_above: float | None = None,
                 reject_outage_above: float | None = None) -> LoadSummary:
    """The load a plan would give (per-cell PRB utilisation, peak, outage ratio) — what a plan
    search scores, without the full KPI set. ``rho0`` (e.g. the baseline's utilisation)
    warm-starts the load fixed point; ``reject_above`` / ``reject_outage_above`` stop as soon
    as the plan provably breaks them (:meth:`DigitalTwin.evaluate_load`)."""
    fork = twin.copy()
    plan.apply(fork.network)
    return fork.evaluate_load(hour, rho0, reject_above, reject_outage_above)


def what_if_batch(twin: DigitalTwin, plans: Sequence[ActionPlan], hour: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list[WhatIfResult]:
    """:func:`what_if` for many candidate plans against one shared baseline."""
    base = twin.evaluate(hour=hour, uplink=False)
    out = []
    for i, p in enumerate(plans):
        out.append(what_if(twin, p, hour, base))
        if progress is not None:
            progress(i + 1, len(plans))
    return out
