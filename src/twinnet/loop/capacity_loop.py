"""The capacity loop without an LLM: observe → calibrate → detect → optimise → verify →
apply → measure (the congested-cell study of seed 003 on the emulated network).

1. the emulated network runs ``observe`` intervals at its busy-hour demand; telemetry goes
   through the store into the twin (P2V) and the L1 engine is fitted on the reports;
2. congested cells are those whose *measured* PRB utilisation exceeds the target; those at or
   above ``congestion`` get the full option set (tilt, power, nearby small cells), the others a
   relief option (power −3 dB);
3. the RRM capacity engine (:mod:`twinnet.rrm.capacity`) finds the cheapest plan it can prove
   on the twin — every cheaper combination of the candidates is evaluated (``proof_budget``
   bounds how many) — and the greedy heuristic runs on the same candidates for comparison;
4. the plan is verified on the twin against the constraints, applied to the network (V2P),
   the next interval is measured, and the plan is rolled back if it disappoints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twinnet.loop.verify import Constraints, apply_and_measure, verify_plan
from twinnet.network.emulator import GroundTruth, NetworkEmulator
from twinnet.rrm.capacity import candidate_options, greedy_capacity_plan, solve_capacity
from twinnet.scenario import Scenario, load_scenario
from twinnet.store.context import ContextStore
from twinnet.twin.engines import RadioCalibration
from twinnet.twin.sync import TwinSync
from twinnet.twin.twin import DigitalTwin

__all__ = ["KPI_KEYS", "run_capacity_loop"]

KPI_KEYS = ("peak_prb_utilization", "mean_prb_utilization", "jain_fairness",
            "p5_throughput_mbps", "mean_throughput_mbps", "outage_ratio", "served_ratio",
            "hottest_cell")

#: The hidden truth of the capacity study: a mildly different network at busy-hour demand.
CAPACITY_TRUTH = GroundTruth(seed=1, demand="peak", n_areas=4, area_loss_db=(3.0, 8.0),
                             tilt_error_std_deg=1.0, gain_error_std_db=1.0)


def _kpis(k: dict[str, Any]) -> dict[str, Any]:
    return {x: k[x] for x in KPI_KEYS if x in k}


def run_capacity_loop(scenario: str | Scenario, store: ContextStore,
                      constraints: Constraints | None = None, observe: int = 3,
                      truth: GroundTruth | None = None, design_margin: float = 0.03,
                      proof_budget: int = 20000, congestion: float = 0.8,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the loop once and return the JSON-ready report."""
    cons = constraints or Constraints()
    say = progress or (lambda _m: None)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    emu = NetworkEmulator(sc, truth=truth or CAPACITY_TRUTH, interval_s=900,
                          reports_per_interval=400)
    twin = DigitalTwin(sc)
    sync = TwinSync(store, twin, source="emulator:capacity")
    sync.publish_topology(emu.recorded, sc)
    say("observing the network")
    tel = None
    for _ in range(observe):
        tel = emu.step()
        sync.p2v(tel, update_demand=False)
    assert tel is not None
    baseline = _kpis(emu.last_kpis)
    say("calibrating the radio twin (L1)")
    l1 = RadioCalibration().fit(twin, store.ue_reports(source=sync.source))
    l1.attach(twin)
    store.register_model("L1", "radio_calibration", l1, l1.metrics())
    measured = tel.kpis.set_index("cell_id")["prb_util_dl"]
    congested = sorted(measured[measured > cons.peak_prb_utilization].index)
    report: dict[str, Any] = {"baseline": baseline, "congested_cells": congested,
                              "verified_on": "emulator", "store": store.path}
    twin_base = twin.evaluate(uplink=False)
    report["twin_baseline_peak_prb_utilization"] = twin_base.kpis["peak_prb_utilization"]
    if not congested:
        report.update(after=baseline, plan=[], rrm={"method": "none"},
                      note="no cell above the target")
        return report
    design = cons.peak_prb_utilization - design_margin
    say("optimising (RRM capacity engine)")
    # full option set around the congested cells (measured ≥ ``congestion``), relief options
    # for the other cells above the target
    worst = sorted(measured[measured >= congestion].index) or [str(measured.idxmax())]
    opts = candidate_options(twin, design, congested=worst)
    greedy = greedy_capacity_plan(twin, design, opts)
    res = solve_capacity(twin, design, opts, max_proof_combinations=proof_budget,
                         incumbent=greedy)
    report["rrm"] = res.to_dict()
    report["heuristic"] = {"cost": greedy.cost, "feasible": greedy.feasible,
                           "options": greedy.options,
                           "predicted_peak_prb_utilization":
                               greedy.predicted_kpis["peak_prb_utilization"]}
    report["plan"] = res.plan.model_dump()["actions"]
    if not res.feasible:
        report.update(after=baseline, note="no candidate plan meets the target on the twin")
        store.record_decision("plan", [], {"rrm": res.to_dict()}, "infeasible", "rrm")
        return report
    say("verifying on the twin and applying")
    ver = verify_plan(twin, res.plan, cons, twin_base)
    report["verification"] = ver.to_dict()
    out = apply_and_measure(sync, emu, res.plan, ver, cons,
                            {"rrm": res.to_dict(), "heuristic": report["heuristic"]})
    report["after"] = _kpis(out.measured) if out.applied else baseline
    report["predicted"] = _kpis(out.predicted)
    report["rolled_back"] = out.rolled_back
    report["decision_id"] = out.decision_id
    report["notes"] = out.notes
    return report
