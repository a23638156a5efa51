"""Verification: no plan reaches the network before the twin has simulated it.

:func:`verify_plan` accepts a plan only if its predicted KPIs (a what-if on a fork of the twin)
satisfy every active :class:`~twinnet.policy.constraints.Constraints` and improve the objective
(peak PRB utilisation). Every violation is named with the predicted value and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twinnet.actions import ActionPlan
from twinnet.policy.constraints import Constraints
from twinnet.twin.whatif import what_if

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin, Evaluation

__all__ = ["Verification", "verify_plan"]


@dataclass
class Verification:
    accepted: bool
    violations: list[str]
    predicted: dict[str, Any]
    objective_gain: float

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "violations": self.violations,
                "objective_gain": self.objective_gain,
                "predicted_peak_prb_utilization": self.predicted.get("peak_prb_utilization")}


def verify_plan(twin: DigitalTwin, plan: ActionPlan, constraints: Constraints,
                baseline: Evaluation | None = None, hour: int | None = None) -> Verification:
    """Check ``plan``'s predicted KPIs on a fork of the twin against every constraint."""
    base = baseline if baseline is not None else twin.evaluate(hour=hour, uplink=False)
    r = what_if(twin, plan, hour, base)
    k, b = r.kpis, base.kpis
    v = []
    if k["peak_prb_utilization"] > constraints.peak_prb_utilization:
        v.append(f"peak PRB utilisation {k['peak_prb_utilization']:.3f} > "
                 f"{constraints.peak_prb_utilization:g}")
    p5_floor = b["p5_throughput_mbps"] * (1.0 - constraints.max_p5_throughput_drop)
    if k["p5_throughput_mbps"] < p5_floor - 1e-12:
        v.append(f"5th-percentile throughput {k['p5_throughput_mbps']:.4g} Mbps < "
                 f"{p5_floor:.4g} Mbps")
    out_k, out_b = k.get("outage_ratio", 0.0), b.get("outage_ratio", 0.0)
    if out_k > out_b + constraints.max_outage_increase:
        v.append(f"outage {out_k:.4f} > baseline {out_b:.4f} + "
                 f"{constraints.max_outage_increase:g}")
    gain = float(b["peak_prb_utilization"]) - float(k["peak_prb_utilization"])
    if gain <= 0.0:
        v.append(f"no improvement of the objective (peak PRB utilisation {gain:+.3f})")
    return Verification(not v, v, k, gain)
