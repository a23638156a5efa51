"""Verification and rollback: no plan reaches the network before the twin has simulated it.

:func:`verify_plan` accepts a plan only if its predicted KPIs satisfy every active constraint
and improve the objective (peak PRB utilisation). :func:`apply_and_measure` pushes an accepted
plan to the network (V2P), measures the next interval and rolls the plan back automatically
when the measured KPIs are worse than predicted beyond a tolerance. Every step is recorded in
the store's ``decisions`` table with its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from twinnet.actions import (
    ActionPlan,
    AddCarrier,
    AllocateIoTUplink,
    BlankPRBs,
    DeployDrone,
    IoTGrant,
    RemoveCarrier,
    ReservePRBs,
    SetCellActive,
    SetCellOffset,
    SetElectricalTilt,
    SetTxPower,
)
from twinnet.twin.whatif import what_if

if TYPE_CHECKING:
    from twinnet.network.emulator import NetworkEmulator
    from twinnet.twin.sync import TwinSync
    from twinnet.twin.twin import DigitalTwin, Evaluation

__all__ = ["Constraints", "Outcome", "Verification", "apply_and_measure", "inverse_plan",
           "verify_plan"]


class Constraints(BaseModel):
    """Active constraints a plan's predicted KPIs must satisfy."""

    model_config = ConfigDict(extra="forbid")
    peak_prb_utilization: float = Field(0.5, gt=0.0, le=1.0)
    #: 5th-percentile user throughput may fall at most this fraction below the baseline's
    max_p5_throughput_drop: float = Field(0.05, ge=0.0, le=1.0)
    #: outage (users without service) may rise at most this much (fraction of users)
    max_outage_increase: float = Field(0.005, ge=0.0, le=1.0)
    #: tolerance on measured − predicted peak utilisation before a rollback
    rollback_tolerance: float = Field(0.1, ge=0.0, le=1.0)


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


@dataclass
class Outcome:
    applied: bool
    rolled_back: bool
    measured: dict[str, Any]
    predicted: dict[str, Any]
    decision_id: str | None = None
    notes: list[str] = field(default_factory=list)


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


def inverse_plan(before: Any, plan: ActionPlan) -> ActionPlan:
    """The plan restoring ``before``'s values (a :class:`Network`) of every parameter that
    ``plan`` changes."""
    names = before.cell_names
    acts: list[Any] = []
    for a in plan.actions:
        if isinstance(a, DeployDrone):
            if a.cell in before.site_names:  # moved: back to where it was (and as it was)
                s = before.site_names.index(a.cell)
                c = int(np.flatnonzero(before.cell_site == s)[0])
                acts.append(SetCellActive(cell=names[c], active=bool(before.cell_active[c])))
                acts.append(DeployDrone(cell=a.cell, x_m=float(before.site_x_m[s]),
                                        y_m=float(before.site_y_m[s]),
                                        altitude_m=float(before.site_height_m[s]),
                                        tx_power_dbm=float(before.cell_tx_power_dbm[c]),
                                        carrier=a.carrier))
            else:  # new: a deployed drone cannot be undeployed by a directive; it lands (off)
                acts.append(SetCellActive(cell=a.cell_name(), active=False))
            continue
        if isinstance(a, AddCarrier | RemoveCarrier):
            t = a.target_cell()
            j = names.index(t)
            if isinstance(a, AddCarrier):
                acts.append(SetCellOffset(cell=t, offset_db=float(before.cell_cio_db[j])))
            acts.append(SetCellActive(cell=t, active=bool(before.cell_active[j])))
            continue
        i = names.index(a.cell)
        if isinstance(a, AllocateIoTUplink):
            prev = before.iot_uplink.get(a.cell, {})
            acts.append(AllocateIoTUplink(cell=a.cell, grants=tuple(
                IoTGrant(device=d, tx_power_dbm=p, resource_blocks=rb)
                for d, (p, rb) in prev.items())))
            continue
        if isinstance(a, SetTxPower):
            acts.append(SetTxPower(cell=a.cell, tx_power_dbm=float(before.cell_tx_power_dbm[i])))
        elif isinstance(a, SetElectricalTilt):
            acts.append(SetElectricalTilt(cell=a.cell,
                                          tilt_deg=float(before.cell_elec_tilt_deg[i])))
        elif isinstance(a, SetCellOffset):
            acts.append(SetCellOffset(cell=a.cell, offset_db=float(before.cell_cio_db[i])))
        elif isinstance(a, SetCellActive):
            acts.append(SetCellActive(cell=a.cell, active=bool(before.cell_active[i])))
        elif isinstance(a, ReservePRBs):
            prev = 0 if before.cell_prb_reserved is None else int(before.cell_prb_reserved[i])
            acts.append(ReservePRBs(cell=a.cell, slice_id=a.slice_id, n_prb=prev))
        elif isinstance(a, BlankPRBs):
            prev = 0 if before.cell_prb_blanked is None else int(before.cell_prb_blanked[i])
            acts.append(BlankPRBs(cell=a.cell, start_prb=0, end_prb=prev - 1))
    return ActionPlan(actions=list(reversed(acts)), rationale="rollback")


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
        undo = inverse_plan(before, plan)
        sync.v2p(network, undo, reason="rollback: measured worse than predicted")
        notes.append(f"rolled back: measured peak {measured['peak_prb_utilization']:.3f} > "
                     f"predicted {pred['peak_prb_utilization']:.3f} + "
                     f"{constraints.rollback_tolerance:g}")
    store.update_decision(did, "rolled_back" if worse else "applied", {
        "verification": verification.to_dict(), "measured": _kpi_subset(measured),
        "predicted": _kpi_subset(pred), **(evidence or {}), "notes": notes})
    return Outcome(True, worse, measured, pred, did, notes)


def _kpi_subset(k: dict[str, Any]) -> dict[str, Any]:
    keys = ("peak_prb_utilization", "mean_prb_utilization", "jain_fairness",
            "p5_throughput_mbps", "outage_ratio", "hottest_cell")
    return {x: k[x] for x in keys if x in k}
