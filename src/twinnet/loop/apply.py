"""Apply, measure, roll back: a verified plan goes to the network and is judged by what it does.

:func:`apply_and_measure` pushes an accepted plan to the network (V2P), measures the next
interval and rolls the plan back automatically (:meth:`~twinnet.actions.ActionPlan.inverse`)
when the measured peak utilisation is worse than predicted beyond the constraints' tolerance.
Every step is recorded in the store's ``decisions`` table with its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twinnet.actions import ActionPlan
from twinnet.policy.constraints import Constraints
from twinnet.policy.kpis import kpi_subset

if TYPE_CHECKING:
    from twinnet.emulator import NetworkEmulator
    from twinnet.twin.sync import TwinSync
    from twinnet.twin.verify import Verification

__all__ = ["Outcome", "apply_and_measure"]


@dataclass
class Outcome:
    applied: bool
    rolled_back: bool
    measured: dict[str, Any]
    predicted: dict[str, Any]
    decision_id: str | None = None
    notes: list[str] = field(default_factory=list)


def apply_and_measure(sync: TwinSync, network: NetworkEmulator, plan: ActionPlan,
                      verification: Verification, constraints: Constraints,
                      evidence: dict[str, Any] | None = None, source: str = "rrm") -> Outcome:
    """Apply a verified plan (V2P), measure the next interval, roll back if it disappoints.
    The decision is stored at the network's clock (``source`` says who proposed the plan)."""
    store = sync.store
    ts = getattr(network, "clock", None)
    if not verification.accepted:
        did = store.record_decision("plan", plan.model_dump(), {
            "verification": verification.to_dict(), **(evidence or {})}, "rejected", source,
            ts=ts)
        return Outcome(False, False, {}, verification.predicted, did,
                       ["rejected by verification: " + "; ".join(verification.violations)])
    did = store.record_decision("plan", plan.model_dump(), {
        "verification": verification.to_dict(), **(evidence or {})}, "verified", source, ts=ts)
    before = sync.twin.network.copy()
    sync.v2p(network, plan, reason=plan.rationale)
    network.step()
    measured = dict(network.last_kpis)
    pred = verification.predicted
    worse = measured["peak_prb_utilization"] > pred["peak_prb_utilization"] + \
        constraints.rollback_tolerance
    notes = []
    if worse:
        undo = plan.inverse(before)
        sync.v2p(network, undo, reason="rollback: measured worse than predicted")
        notes.append(f"rolled back: measured peak {measured['peak_prb_utilization']:.3f} > "
                     f"predicted {pred['peak_prb_utilization']:.3f} + "
                     f"{constraints.rollback_tolerance:g}")
    store.update_decision(did, "rolled_back" if worse else "applied", {
        "verification": verification.to_dict(), "measured": kpi_subset(measured),
        "predicted": kpi_subset(pred), **(evidence or {}), "notes": notes})
    return Outcome(True, worse, measured, pred, did, notes)
