"""The closed loop: observe → analyse → propose → optimise → verify → apply → measure → learn.

:class:`ClosedLoop` ties the emulated network, the context store, the twin, the LLM decision
engine and the RRM engine together (LLM-DTNet §III; the congested-cell task of Wang et al.):

* **observe** — the network reports an interval; telemetry goes through the store into the twin
  (P2V); the fidelity monitor scores the twin's RSRP against the new measurement reports;
* **learn / twin management** — when the monitor flags drift, the engine decides which layer
  engine to retrain (the model chooses among the flagged layers; a rule does when there is no
  model or it fails) and the loop retrains it from the stored reports;
* **analyse → propose → optimise → verify** — :class:`twinnet.llm.engine.DecisionEngine`
  (the model's proposal refined by the RRM engine and verified on the twin; solver-only with
  ``backend=None`` or as a fallback);
* **apply → measure** — V2P, the next interval measured, automatic rollback when the outcome is
  worse than predicted (:func:`twinnet.loop.apply.apply_and_measure`).

:func:`run_closed_loop` runs it once on demand and returns the JSON report of ``twinnet run``;
:meth:`ClosedLoop.run` runs it on a schedule (one decision every ``every`` intervals).

References
----------
* M. Haider, I. Ahmed, Z. Hassan, K. Hasan and H. V. Poor, "LLM-Integrated Digital Twins for
  Hierarchical Resource Allocation in 6G Networks" (LLM-DTNet).
* Y. Wang, K. Gao, Z. Shao, J. Woo and S.-W. Jeon, "LLM-Assisted Network Management Using
  Digital Twins" (Wang et al.).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twinnet.emulator import GroundTruth, NetworkEmulator
from twinnet.engines.radio_calibration import RadioCalibration
from twinnet.llm.engine import DecisionEngine, Outlook
from twinnet.loop.apply import apply_and_measure
from twinnet.policy.constraints import Constraints
from twinnet.policy.kpis import kpi_subset
from twinnet.scenario import Scenario, load_scenario
from twinnet.store.context import ContextStore
from twinnet.twin.fidelity import FidelityMonitor, rsrp_error
from twinnet.twin.sync import TwinSync
from twinnet.twin.twin import DigitalTwin

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend

__all__ = ["CAPACITY_TRUTH", "ClosedLoop", "run_closed_loop"]

#: The hidden truth of the capacity study: a mildly different network at busy-hour demand.
CAPACITY_TRUTH = GroundTruth(seed=1, demand="peak", n_areas=4, area_loss_db=(3.0, 8.0),
                             tilt_error_std_deg=1.0, gain_error_std_db=1.0)


class ClosedLoop:
    """One emulated network, its twin and the engines, wired through one store."""

    def __init__(self, scenario: str | Scenario, store: ContextStore,
                 backend: ChatBackend | None = None, constraints: Constraints | None = None,
                 truth: GroundTruth | None = None, interval_s: int = 900,
                 reports_per_interval: int = 400, proof_budget: int = 20000,
                 congestion: float = 0.8, engine: DecisionEngine | None = None,
                 progress: Callable[[str], None] | None = None, design_margin: float = 0.03):
        self.sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.store = store
        self.cons = constraints or Constraints()
        if truth is None:  # the busy hour; a scenario's own radio world (ray-traced) is kept
            truth = (CAPACITY_TRUTH if self.sc.truth.model == "perturbed"
                     else self.sc.truth.model_copy(update={"demand": "peak"}))
        self.emu = NetworkEmulator(self.sc, truth=truth, interval_s=interval_s,
                                   reports_per_interval=reports_per_interval)
        self.twin = DigitalTwin(self.sc)
        self.sync = TwinSync(store, self.twin, source=f"emulator:{self.sc.name}")
        self.sync.publish_topology(self.emu.recorded, self.sc)
        self.engine = engine or DecisionEngine(backend, store, proof_budget=proof_budget)
        self.monitor = FidelityMonitor(store)
        self.congestion = congestion
        #: the plan is designed for ``target − design_margin`` on the twin
        self.design_margin = design_margin
        self.say = progress or (lambda _m: None)
        self.management: list[dict[str, Any]] = []
        self.timing = {"observe": 0.0, "learn": 0.0}
        self.last: Any = None

    # ------------------------------------------------------------------ observe / learn
    def observe(self) -> Any:
        t0 = time.perf_counter()
        tel = self.emu.step()
        err = rsrp_error(self.twin, tel.reports)  # the twin's view before it sees the interval
        self.sync.p2v(tel, update_demand=False)
        self.monitor.record(tel.ts, "L1", "rsrp_rmse_db", err["rmse_db"], int(err["n"]))
        self.last = tel
        self.timing["observe"] += time.perf_counter() - t0
        return tel

    def manage(self) -> list[dict[str, Any]]:
        """Twin management: retrain the layer engines the monitor flagged (and the engine
        chose)."""
        recs = [r for r in self.monitor.recommendations if not r.get("handled")]
        if not recs:
            return []
        t0 = time.perf_counter()
        choice, by = self.engine.choose_retraining(recs, ts=self.last.ts if self.last else None)
        done = []
        for r in recs:
            r["handled"] = True
        for layer in choice:
            if layer == "L1":
                self.say("retraining the radio twin (L1)")
                l1 = RadioCalibration().fit_store(self.store, source=self.sync.source,
                                                  twin=self.twin)
                l1.attach(self.twin)
                l1.register(self.store)
                self.monitor.retrained("L1")
                done.append("L1")
        entry = {"flagged": [r["layer"] for r in recs], "reasons": [r["reason"] for r in recs],
                 "retrained": done, "decided_by": by}
        self.management.append(entry)
        self.timing["learn"] += time.perf_counter() - t0
        return [entry]

    def start(self, observe: int = 3) -> None:
        """Observe ``observe`` intervals and manage the twin; the L1 engine is fitted then even
        if no drift was flagged (too few intervals for a verdict, or a twin within limits)."""
        self.say("observing the network")
        for _ in range(observe):
            self.observe()
        self.manage()
        if not self.management:
            self.monitor.recommendations.append({"layer": "L1", "engine": "radio calibration",
                                                 "reason": "first calibration"})
            self.manage()

    # ------------------------------------------------------------------ decide / act
    def decide_and_act(self, untrusted: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        tel = self.last if self.last is not None else self.observe()
        baseline = kpi_subset(self.emu.last_kpis)
        measured = tel.kpis.set_index("cell_id")["prb_util_dl"]
        congested = sorted(measured[measured > self.cons.peak_prb_utilization].index)
        rep: dict[str, Any] = {"baseline": baseline, "congested_cells": congested,
                               "verified_on": "emulator", "truth": self.emu.truth_cfg.model,
                               "store": self.store.path}
        base = self.twin.evaluate(uplink=False)
        rep["twin_baseline_peak_prb_utilization"] = base.kpis["peak_prb_utilization"]
        if not congested:
            rep.update(after=baseline, plan=[], rrm={"method": "none"},
                       note="no cell above the target")
            return rep
        worst = sorted(measured[measured >= self.congestion].index) or [str(measured.idxmax())]
        self.say("deciding (LLM engine → RRM engine → twin)")
        t0 = time.perf_counter()
        d = self.engine.decide(self.twin, self.cons, congested=worst, untrusted=untrusted,
                               ts=tel.ts, design_margin=self.design_margin,
                               outlook=Outlook(fidelity=self.monitor.latest()))
        self.timing["decision"] = self.timing.get("decision", 0.0) + time.perf_counter() - t0
        rep["decision"] = d.to_dict()
        rep["plan_source"] = d.source
        if d.rrm is not None:
            rep["rrm"] = d.rrm.to_dict()
        if d.heuristic is not None:
            rep["heuristic"] = {"cost": d.heuristic.cost, "feasible": d.heuristic.feasible,
                                "options": d.heuristic.options,
                                "predicted_peak_prb_utilization":
                                    d.heuristic.predicted_kpis["peak_prb_utilization"]}
        rep["plan"] = d.plan.model_dump()["actions"]
        rep["plan_cost"] = d.plan.cost()
        if d.verification is None or not d.plan.actions:
            rep.update(after=baseline, note="no candidate plan meets the target on the twin")
            self.store.record_decision("plan", [], {"decision": d.to_dict()}, "infeasible",
                                       d.source, ts=tel.ts)
            return rep
        rep["verification"] = d.verification.to_dict()
        self.say("applying (V2P) and measuring")
        t0 = time.perf_counter()
        out = apply_and_measure(self.sync, self.emu, d.plan, d.verification, self.cons,
                                {"decision": d.to_dict(), "heuristic": rep.get("heuristic")},
                                source=d.source)
        self.timing["apply"] = self.timing.get("apply", 0.0) + time.perf_counter() - t0
        rep["after"] = kpi_subset(out.measured) if out.applied else baseline
        rep["predicted"] = kpi_subset(out.predicted)
        rep["rolled_back"] = out.rolled_back
        rep["decision_id"] = out.decision_id
        rep["notes"] = out.notes
        return rep

    def run(self, intervals: int, every: int = 4, observe_first: int = 3) -> list[dict[str, Any]]:
        """On a schedule: observe every interval, manage the twin, decide every ``every``."""
        reports = []
        for i in range(intervals):
            self.observe()
            self.manage()
            if i + 1 >= observe_first and (i + 1 - observe_first) % every == 0:
                reports.append(self.decide_and_act())
        return reports


def run_closed_loop(scenario: str | Scenario, store: ContextStore,
                    backend: ChatBackend | None = None, constraints: Constraints | None = None,
                    observe: int = 3, truth: GroundTruth | None = None,
                    proof_budget: int = 20000, congestion: float = 0.8,
                    untrusted: list[tuple[str, str]] | None = None,
                    engine: DecisionEngine | None = None,
                    progress: Callable[[str], None] | None = None,
                    design_margin: float = 0.03) -> dict[str, Any]:
    """Run the loop once on demand (``observe`` intervals first) and return the JSON report."""
    loop = ClosedLoop(scenario, store, backend, constraints, truth, proof_budget=proof_budget,
                      congestion=congestion, engine=engine, progress=progress,
                      design_margin=design_margin)
    t0 = time.perf_counter()
    loop.start(observe)
    rep = loop.decide_and_act(untrusted)
    rep["llm"] = loop.engine.stats.to_dict()
    rep["twin_management"] = loop.management
    # decision: from the analysed telemetry to the verified plan (model calls, refinement,
    # proof, verification), split into llm / solver / twin; then the loop's own stages
    timing = dict(rep.get("decision", {}).get("timing_s", {}))
    timing.update({k: round(v, 3) for k, v in loop.timing.items()})
    timing["total"] = round(time.perf_counter() - t0, 3)
    rep["timings_s"] = {"decision": timing.pop("decision", 0.0), **timing}
    return rep
