"""Self-healing on the living network: detect → diagnose → compensate → measure → revert.

:class:`SelfHealingLoop` runs an emulated living network (a scenario with ``[simulation]`` and
``[[events]]``) beside its twin, one reporting interval at a time, under one of four policies:

``noop``
    nothing is detected or done (the reference for what the faults cost);
``rule``
    what a network without a twin does: cell-down alarms, and per-KPI thresholds on each cell's
    counters and reports (:class:`~twinnet.engines.faults.ThresholdDetector`); an outage is
    compensated by a fixed rule (its three main neighbours uptilt 2°), other findings are
    logged;
``solver``
    the twin's residual detector and diagnosis (:mod:`twinnet.engines.faults`); an outage is
    compensated by the RRM engine's plan (:func:`~twinnet.rrm.compensation.solve_compensation`,
    scored on the twin with the failed cell off); a tilt or power fault is corrected on the
    faulty cell (the twin first takes the estimated fault, then verifies the correction);
``llm``
    as ``solver``, and the language model writes each incident's explanation from the evidence
    (it phrases, it does not decide the cause) and chooses among the verified compensation
    plans (an index, validated; the solver's first plan when the model fails).

The twin mirrors what the operator knows: the recorded configuration from the store (P2V),
then an overlay of the open incidents (a failed cell is off, a diagnosed tilt or power error is
added). The radio engine is not retrained while an incident is open: a fault is not drift.

Compensation is measured on the emulator (the truth): when it is applied the emulator is
forked, and the next interval runs three ways — as applied, without the plan, and without the
fault. ``recovered_fraction`` = (out-of-service user-time without the plan − with it) / (without
the plan − without the fault). When the cell returns (alarm cleared, or reports again), the
compensation is reverted; when a corrected fault disappears (the cell's residual fits the
fault's absence), the correction is reverted.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.actions import ActionPlan, SetElectricalTilt, SetTxPower, describe_action
from twinnet.engines.faults import (
    Detection,
    Diagnosis,
    ResidualDetector,
    ThresholdDetector,
    cell_residuals,
    diagnose,
)
from twinnet.engines.radio_calibration import RadioCalibration
from twinnet.errors import InputError
from twinnet.loop.living import LivingNetwork
from twinnet.policy.kpis import kpi_subset
from twinnet.rrm.capacity import neighbour_cells
from twinnet.rrm.compensation import solve_compensation
from twinnet.scenario import CellOutage, PaDegradation, Scenario, TiltFault
from twinnet.store.context import ContextStore
from twinnet.twin.fidelity import predict_reports
from twinnet.twin.whatif import what_if_load

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend

__all__ = ["POLICIES", "SelfHealingLoop", "run_selfheal"]

POLICIES = ("noop", "rule", "solver", "llm")
_CAUSE_OF = {"cell_outage": "outage", "tilt_fault": "tilt", "pa_degradation": "power"}
_MAX_POWER_DBM = 49.0


@dataclass
class Incident:
    """One detected problem on one cell and what was done about it."""

    cell: str
    detected_s: float
    detection: Detection
    diagnosis: Diagnosis | None = None
    plan: ActionPlan | None = None
    undo: ActionPlan | None = None
    touched: set[str] = field(default_factory=set)
    overlay: dict[str, float] = field(default_factory=dict)
    recovered_fraction: float | None = None
    compensation: dict[str, Any] | None = None
    explanation: str | None = None
    explained_by: str = "template"
    closed_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def cause(self) -> str | None:
        return None if self.diagnosis is None else self.diagnosis.cause


class SelfHealingLoop:
    """The emulated living network, its twin and the self-healing engines (module docstring).

    Parameters
    ----------
    scenario: a scenario with ``[simulation]`` (and usually ``[[events]]``).
    store: the context store (telemetry, alarms, decisions).
    policy: one of :data:`POLICIES`.
    backend: the language model for ``llm`` (``None``: ``llm`` behaves as ``solver``, said so).
    warmup: intervals before the radio engine is fitted.
    baseline: quiet intervals after it that set each cell's usual residual.
    max_prb_utilization: the compensation's load limit.
    """

    def __init__(self, scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                 backend: ChatBackend | None = None, warmup: int = 4, baseline: int = 4,
                 max_prb_utilization: float = 0.95, llm_timeout_s: float = 30.0,
                 progress: Callable[[int, int], None] | None = None):
        if policy not in POLICIES:
            raise InputError("policy", policy, f"one of {list(POLICIES)}")
        if warmup < 2:
            raise InputError("warmup", warmup, "at least 2 intervals")
        if baseline < 3:
            raise InputError("baseline", baseline, "at least 3 intervals")
        live = LivingNetwork.open(scenario, store, "self-healing runs on a living network")
        self.sc, self.emu, self.twin, self.sync = live.sc, live.emu, live.twin, live.sync
        self.store, self.policy, self.backend = store, policy, backend
        self.warmup, self.baseline = warmup, baseline
        self.max_prb = max_prb_utilization
        self.llm_timeout_s = llm_timeout_s
        self.progress = progress
        self.report_s = live.report_s
        self.detector = ResidualDetector()
        self.thresholds = ThresholdDetector()
        self.open: dict[str, Incident] = {}
        self._rule_flags: set[str] = set()
        self._pending: tuple[Incident, float, float] | None = None
        self._prev_reports: pd.DataFrame | None = None
        self.incidents: list[Incident] = []
        self.timeline: list[dict[str, Any]] = []
        self.llm_calls = 0
        self.llm_errors: list[str] = []
        self.timing = {"simulate": 0.0, "detect": 0.0, "diagnose": 0.0, "compensate": 0.0,
                       "measure": 0.0, "llm": 0.0}

    # ------------------------------------------------------------------ twin state
    def _overlay(self) -> None:
        """The twin = the recorded configuration (the store) + the open incidents."""
        self.sync.pull_topology()
        net = self.twin.network
        names = net.cell_names
        for inc in self.open.values():
            c = names.index(inc.cell)
            if inc.overlay.get("off"):
                net.cell_active[c] = False
            net.cell_elec_tilt_deg[c] += inc.overlay.get("tilt_deg", 0.0)
            net.cell_tx_power_dbm[c] -= inc.overlay.get("loss_db", 0.0)

    def _sim_s(self) -> float:
        return self.emu.sim_time_s()

    # ------------------------------------------------------------------ one interval
    def _interval(self, i: int) -> None:
        ts = self.emu.clock
        t0 = time.perf_counter()
        pred_util = None  # the twin's load for the interval: evidence once residuals are read
        if self.policy != "noop" and i >= self.warmup:
            pred = self.twin.evaluate_load(hour=ts.hour)
            pred_util = pd.Series(np.asarray(pred.prb_utilization),
                                  index=self.twin.network.cell_names)
        tel = self.emu.step()
        self.timing["simulate"] += time.perf_counter() - t0
        self.sync.p2v(tel, update_demand=False)
        self._overlay()
        k = self.emu.last_kpis
        self.timeline.append({"interval": i, "ts": str(ts), "t_s": self._sim_s(),
                              "n_users": k.get("n_users", 0),
                              "outage_ratio": k.get("outage_ratio"),
                              "peak_prb_utilization": k.get("peak_prb_utilization"),
                              "p5_throughput_mbps": k.get("p5_throughput_mbps")})
        if self.policy == "noop":
            if i == self.warmup - 1:
                self._calibrate()
            return
        alarms = tel.alarms if tel.alarms is not None else pd.DataFrame()
        down = [str(c) for c in alarms[alarms["severity"] == "critical"]["cell_id"]] \
            if len(alarms) else []
        cleared = {str(c) for c in alarms[alarms["severity"] == "cleared"]["cell_id"]} \
            if len(alarms) else set()
        if i < self.warmup + self.baseline:
            # learning: alarms are acted on already (they need no baseline); the cells of open
            # incidents stay out of the baseline
            self._early(i, tel, pred_util, down, cleared)
            return
        t0 = time.perf_counter()
        frame = cell_residuals(self.twin, tel.kpis, tel.reports, pred_util)
        if self.policy == "rule":
            flagged = self.thresholds.update(tel.kpis, tel.reports, ts, down)
            self._rule_flags = {d.cell for d in flagged}
        # cells of incidents open during this interval (closed now or not): their residuals
        # carry the fault or its compensation, not news
        busy = set(self.open) | {c for inc in self.open.values() for c in inc.touched}
        self._close(frame, tel.reports, cleared)
        busy |= set(self.open) | {c for inc in self.open.values() for c in inc.touched}
        if self.policy == "rule":
            found = [d for d in flagged if d.cell not in busy]
        else:
            found = self.detector.update(frame, ts, down, busy)
        self.timing["detect"] += time.perf_counter() - t0
        for d in found:
            if d.cell in self.open:
                continue
            # a shift the CUSUM accumulated was there in the previous interval too: the
            # diagnosis reads both intervals' reports (twice the rows to tell tilt from power)
            rep = tel.reports
            if d.reason.startswith("CUSUM") and self._prev_reports is not None:
                rep = pd.concat([self._prev_reports, tel.reports], ignore_index=True)
            self._handle(Incident(d.cell, self._sim_s(), d), rep)
        self._prev_reports = tel.reports

    def _calibrate(self) -> None:
        RadioCalibration().fit_store(self.store, source=self.sync.source,
                                     twin=self.twin).attach(self.twin)

    def _early(self, i: int, tel: Any, pred_util: pd.Series | None, down: list[str],
               cleared: set[str]) -> None:
        """An interval of the warm-up or baseline: outages on alarms, then learning."""
        for cell, inc in list(self.open.items()):
            if inc.cause == "outage" and cell in cleared:
                self._revert(cell, inc)
        for cell in down:
            if cell not in self.open:
                d = Detection(cell, tel.ts, "cell-down alarm", {})
                self._handle(Incident(cell, self._sim_s(), d), tel.reports)
        if i == self.warmup - 1:
            self._calibrate()
        if i < self.warmup:
            return
        t0 = time.perf_counter()
        frame = cell_residuals(self.twin, tel.kpis, tel.reports, pred_util)
        busy = list(set(self.open) | {c for inc in self.open.values() for c in inc.touched})
        frame.loc[frame.index.isin(busy), ["n", "rsrp_resid_db", "sinr_db", "prb_resid"]] = \
            np.nan
        frame["n"] = frame["n"].fillna(0)
        self.detector.learn(frame)
        self.thresholds.learn(tel.kpis[~tel.kpis["cell_id"].isin(busy)],
                              tel.reports[~tel.reports["cell_id"].isin(busy)])
        if i == self.warmup + self.baseline - 1:
            self.detector.fit()
            self.thresholds.fit()
        self.timing["detect"] += time.perf_counter() - t0

    # ------------------------------------------------------------------ handling
    def _handle(self, inc: Incident, reports: pd.DataFrame) -> None:
        t0 = time.perf_counter()
        if self.policy == "rule":
            cause = "outage" if inc.detection.reason == "cell-down alarm" else "unknown"
            inc.diagnosis = Diagnosis(inc.cell, cause, {**inc.detection.evidence,
                                                         "why": inc.detection.reason})
        else:
            mu = float(self.detector.mu_rsrp.get(inc.cell, 0.0)) if self.detector.fitted \
                else 0.0
            inc.diagnosis = diagnose(self.twin, inc.detection, reports, mu,
                                     z_limit=self.detector.z_low)
        self.timing["diagnose"] += time.perf_counter() - t0
        self.incidents.append(inc)
        self.open[inc.cell] = inc
        cause = inc.diagnosis.cause
        self.store.log_event("fault_detected", f"{inc.cell}: {cause} ({inc.detection.reason})",
                             cell_id=inc.cell, severity="warning",
                             payload={"diagnosis": _jsonable(inc.diagnosis.to_dict())},
                             ts=self.emu.clock)
        if cause == "outage":
            inc.overlay["off"] = 1.0
            self._overlay()
            self._compensate(inc)
        elif cause in ("tilt", "power") and self.policy in ("solver", "llm"):
            self._correct(inc)
        inc.explanation = self._explain(inc)

    def _compensate(self, inc: Incident) -> None:
        t0 = time.perf_counter()
        names = self.twin.network.cell_names
        hour = self.emu.clock.hour
        choices: list[tuple[ActionPlan, dict[str, Any]]] = []
        if self.policy == "rule":
            on = self.twin.copy()
            c = names.index(inc.cell)
            on.network.cell_active[c] = True
            nb = neighbour_cells(on, [c], top=3, within_db=20.0).get(c, [])
            acts = [SetElectricalTilt(cell=names[k], tilt_deg=max(
                float(self.twin.network.cell_elec_tilt_deg[k]) - 2.0, 0.0)) for k in nb]
            plan = ActionPlan(actions=acts, rationale=f"rule: uptilt the three main neighbours "
                                                      f"of {inc.cell} by 2°")
            choices.append((plan, {"rule": "neighbours uptilt 2°"}))
        else:
            r = solve_compensation(self.twin, [inc.cell], max_prb_utilization=self.max_prb,
                                   hour=hour)
            if r.plan.actions and r.recovered_users > 0:
                choices.append((r.plan, r.to_dict()))
                for opts, out, peak in r.runners_up:
                    acts = [a for o in opts for a in r.option_actions.get(o, ())]
                    if acts:
                        choices.append((ActionPlan(actions=acts, rationale="runner-up: "
                                                   + "; ".join(opts)),
                                        {"options": opts, "out_after": out,
                                         "peak_prb_utilization": peak}))
            else:
                inc.notes.append("no compensation serves more users on the twin")
        self.timing["compensate"] += time.perf_counter() - t0
        if not choices:
            return
        k = self._choose(inc, choices) if self.policy == "llm" and len(choices) > 1 else 0
        plan, info = choices[k]
        inc.compensation = {**info, "chosen": k}
        self._apply(inc, plan, measure=True)

    def _correct(self, inc: Incident) -> None:
        """A diagnosed tilt or power error: the twin takes it, then the inverse is commanded
        if the twin says it serves at least as many users."""
        assert inc.diagnosis is not None
        est = inc.diagnosis.estimate
        rec = self.sync.store.cells().set_index("cell_id")
        if inc.cause == "tilt":
            d = float(est.get("delta_deg", 0.0))
            inc.overlay["tilt_deg"] = d
            tilt = float(rec.at[inc.cell, "electrical_tilt_deg"]) - d
            if not -5.0 <= tilt <= 20.0:
                inc.notes.append(f"tilt correction to {tilt:g}° is out of range")
                self._overlay()
                return
            plan = ActionPlan(actions=[SetElectricalTilt(cell=inc.cell, tilt_deg=tilt)],
                              rationale=f"correct a {d:+g}° tilt error on {inc.cell}")
        else:
            loss = max(float(est.get("loss_db", 0.0)), 0.0)
            inc.overlay["loss_db"] = loss
            p = min(float(rec.at[inc.cell, "tx_power_dbm"]) + round(loss), _MAX_POWER_DBM)
            plan = ActionPlan(actions=[SetTxPower(cell=inc.cell, tx_power_dbm=p)],
                              rationale=f"compensate a {loss:.1f} dB power loss on {inc.cell}")
        self._overlay()
        hour = self.emu.clock.hour
        before = self.twin.evaluate_load(hour=hour)
        after = what_if_load(self.twin, plan, hour)
        if after.outage_ratio > before.outage_ratio + 1e-9:
            inc.notes.append("the twin predicts the correction serves fewer users: not applied")
            return
        inc.compensation = {"correction": plan.rationale,
                            "outage_before": before.outage_ratio,
                            "outage_after": after.outage_ratio}
        self._apply(inc, plan, measure=True)

    def _apply(self, inc: Incident, plan: ActionPlan, measure: bool) -> None:
        before = self.twin.network.copy()
        undo = plan.inverse(before)
        fork_b = fork_c = None
        if measure:
            fork_b = copy.deepcopy(self.emu)
            fork_c = copy.deepcopy(self.emu)
            c = fork_c.recorded.cell_names.index(inc.cell)
            fork_c.event_off[c] = 0
            fork_c.event_tilt_deg[c] = 0.0
            fork_c.event_loss_db[c] = 0.0
            fork_c.sync_truth()
        self.sync.v2p(self.emu, plan, ts=self.emu.clock, reason=plan.rationale)
        self._overlay()
        inc.plan, inc.undo = plan, undo
        inc.touched = set(plan.touched_cells()) - {inc.cell}
        self.store.record_decision("selfheal", plan.model_dump(), {
            "diagnosis": _jsonable(inc.diagnosis.to_dict() if inc.diagnosis else {}),
            "compensation": _jsonable(inc.compensation)}, "applied", self.policy,
            ts=self.emu.clock)
        if measure and fork_b is not None and fork_c is not None:
            t0 = time.perf_counter()
            # the next interval three ways: the main run steps it in run(); the forks now
            fork_b.step()
            fork_c.step()
            inc.notes.append("measured on forks of the emulator")
            self._pending = (inc, fork_b.last_kpis.get("outage_ratio", 0.0),
                             fork_c.last_kpis.get("outage_ratio", 0.0))
            self.timing["measure"] += time.perf_counter() - t0

    def _close(self, frame: pd.DataFrame, reports: pd.DataFrame, cleared: set[str]) -> None:
        for cell, inc in list(self.open.items()):
            done = False
            if inc.cause == "outage":
                back = cell in cleared or (inc.detection.reason != "cell-down alarm" and
                                           frame.at[cell, "n"] >= self.detector.min_rows)
                done = back
            elif inc.cause in ("tilt", "power") and inc.plan is not None:
                done = self._fault_gone(inc, reports)
            elif self.policy == "rule":
                done = cell not in self._rule_flags
            else:
                done = self.detector.normal(frame, cell)
            if done:
                self._revert(cell, inc)

    def _revert(self, cell: str, inc: Incident) -> None:
        if inc.undo is not None and inc.plan is not None:
            self.sync.v2p(self.emu, inc.undo, ts=self.emu.clock,
                          reason=f"revert: {inc.cell} is back")
        inc.closed_s = self._sim_s()
        del self.open[cell]
        self._overlay()
        self.store.log_event("fault_closed", f"{cell}: {inc.cause} closed", cell_id=cell,
                             ts=self.emu.clock)

    def _fault_gone(self, inc: Incident, reports: pd.DataFrame) -> bool:
        """After a correction: does the cell's residual now fit the fault's absence (the twin
        without the overlay) better than its presence?"""
        mine = reports[reports["cell_id"].astype(str) == inc.cell]
        if len(mine) < self.detector.min_rows:
            return False
        mu = float(self.detector.mu_rsrp.get(inc.cell, 0.0))
        with_fault = predict_reports(self.twin, mine)
        bare = self.twin.copy()
        c = bare.network.cell_names.index(inc.cell)
        bare.network.cell_elec_tilt_deg[c] -= inc.overlay.get("tilt_deg", 0.0)
        bare.network.cell_tx_power_dbm[c] += inc.overlay.get("loss_db", 0.0)
        without = predict_reports(bare, mine)
        y = mine["rsrp_dbm"].to_numpy(dtype=float) - mu
        ok = np.isfinite(with_fault) & np.isfinite(without)
        if ok.sum() < self.detector.min_rows:
            return False
        e_with = float(np.median(y[ok] - with_fault[ok]))
        e_without = float(np.median(y[ok] - without[ok]))
        z = abs(e_with) / max(self.detector.sd_rsrp, 1e-9)
        return z >= self.detector.z_low and abs(e_without) < abs(e_with)

    # ------------------------------------------------------------------ language model
    def _explain(self, inc: Incident) -> str:
        d = inc.diagnosis
        assert d is not None
        acts = "; ".join(describe_action(a) for a in inc.plan.actions) if inc.plan else "no action"
        text = (f"{inc.cell}: {d.cause} — {d.evidence.get('why', inc.detection.reason)}. "
                f"Action: {acts}.")
        if self.policy != "llm" or self.backend is None:
            return text
        evidence = {k: v for k, v in d.evidence.items() if k in (
            "why", "z_rsrp", "rsrp_shift_db", "n", "tilt_delta_deg", "mean_shift_db")}
        msgs = [{"role": "system", "content": "You explain a radio network fault to an "
                 "operator in two sentences, using only the evidence given. Do not invent "
                 "numbers or causes."},
                {"role": "user", "content": json.dumps({
                    "cell": inc.cell, "cause": d.cause, "estimate": d.estimate,
                    "evidence": _jsonable(evidence), "action": acts})}]
        schema = {"type": "object", "properties": {"explanation": {
            "type": "string", "maxLength": 400}}, "required": ["explanation"]}
        out = self._ask(msgs, schema)
        if out is None or not isinstance(out.get("explanation"), str):
            return text
        phr = out["explanation"].strip()
        low = phr.lower()
        if not phr or (d.cause not in low and d.cause.replace("_", " ") not in low):
            self.llm_errors.append("explanation did not name the diagnosed cause: template kept")
            return text
        invented = _unsupported_numbers(phr, msgs[1]["content"])
        if invented:
            self.llm_errors.append(f"explanation has numbers not in the evidence "
                                   f"({', '.join(invented[:3])}): template kept")
            return text
        inc.explained_by = "llm"
        return phr

    def _choose(self, inc: Incident, choices: list[tuple[ActionPlan, dict[str, Any]]]) -> int:
        menu = [{"index": i, "actions": [describe_action(a) for a in p.actions],
                 "users_out_of_service_after": info.get("out_after"),
                 "peak_prb_utilization": info.get("peak_prb_utilization_after",
                                                  info.get("peak_prb_utilization"))}
                for i, (p, info) in enumerate(choices)]
        msgs = [{"role": "system", "content": "Choose one compensation plan for a failed "
                 "cell. All were verified on the digital twin. Prefer fewer users out of "
                 "service, then lower peak load. Answer with its index and a short reason."},
                {"role": "user", "content": json.dumps({"failed_cell": inc.cell,
                                                        "plans": _jsonable(menu)})}]
        schema = {"type": "object", "properties": {
            "index": {"type": "integer", "minimum": 0, "maximum": len(choices) - 1},
            "reason": {"type": "string", "maxLength": 300}}, "required": ["index"]}
        out = self._ask(msgs, schema)
        if out is None:
            return 0
        k = out.get("index")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(choices):
            self.llm_errors.append(f"plan index {k!r} out of range: the solver's plan kept")
            return 0
        inc.notes.append(f"the model chose plan {k}: {str(out.get('reason', ''))[:300]}")
        return k

    def _ask(self, msgs: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any] | None:
        from twinnet.llm.backends import LLMError

        assert self.backend is not None
        t0 = time.perf_counter()
        self.llm_calls += 1
        try:
            r = self.backend.chat(msgs, json_schema=schema, max_tokens=160,
                                  timeout_s=self.llm_timeout_s)
            out = json.loads(r.text)
            return out if isinstance(out, dict) else None
        except (LLMError, ValueError) as exc:
            self.llm_errors.append(str(exc)[:200])
            return None
        finally:
            self.timing["llm"] += time.perf_counter() - t0

    # ------------------------------------------------------------------ run
    def run(self, intervals: int | None = None) -> dict[str, Any]:
        """Run ``intervals`` reporting intervals (default: until two intervals after the last
        cell event ends) and return the report (see :func:`run_selfheal`)."""
        n = intervals if intervals is not None else self.default_intervals()
        first = self.warmup + self.baseline
        if n <= first:
            raise InputError("intervals", n, f"more than warm-up + baseline = {first}")
        self._pending = None
        t0 = time.perf_counter()
        base: dict[str, Any] = {}
        for i in range(n):
            self._interval(i)
            if self._pending is not None and self._pending[0].plan is not None and \
                    self._pending[0].detected_s < self._sim_s():
                inc, out_b, out_c = self._pending
                out_a = float(self.emu.last_kpis.get("outage_ratio", 0.0))
                lost = out_b - out_c
                inc.recovered_fraction = None if lost <= 1e-4 else float(
                    np.clip((out_b - out_a) / lost, -1.0, 1.0))
                inc.compensation = {**(inc.compensation or {}), "measured": {
                    "outage_with_plan": out_a, "outage_without_plan": out_b,
                    "outage_without_fault": out_c}}
                self._pending = None
            if i == first - 1:
                base = kpi_subset(self.emu.last_kpis)
            if self.progress is not None:
                self.progress(i + 1, n)
        return self.report(base, time.perf_counter() - t0, n)

    def default_intervals(self) -> int:
        ends = [e.end_s for e in self.sc.events if isinstance(e, CellOutage | TiltFault |
                                                               PaDegradation)]
        horizon = max([e for e in ends if np.isfinite(e)], default=0.0)
        first = self.warmup + self.baseline
        return max(first + 4, int(np.ceil(horizon / self.report_s)) + 2)

    def report(self, base: dict[str, Any], wall_s: float, n: int) -> dict[str, Any]:
        events = []
        matched: set[int] = set()
        for e in self.sc.events:
            if not isinstance(e, CellOutage | TiltFault | PaDegradation):
                continue
            hit = None
            for k, inc in enumerate(self.incidents):
                if inc.cell == e.cell and e.at_s <= inc.detected_s <= e.end_s + \
                        2 * self.report_s and k not in matched:
                    hit = (k, inc)
                    break
            row: dict[str, Any] = {"type": e.type, "cell": e.cell, "start_s": e.at_s,
                                   "end_s": None if not np.isfinite(e.end_s) else e.end_s,
                                   "detected_s": None, "delay_s": None, "diagnosis": None,
                                   "diagnosis_correct": None, "actions": [],
                                   "recovered_fraction": None}
            if hit is not None:
                k, inc = hit
                matched.add(k)
                row.update(detected_s=inc.detected_s, delay_s=inc.detected_s - e.at_s,
                           diagnosis=inc.cause, diagnosis_correct=inc.cause == _CAUSE_OF[e.type],
                           actions=[a.model_dump() for a in inc.plan.actions] if inc.plan else [],
                           recovered_fraction=inc.recovered_fraction,
                           explanation=inc.explanation, explained_by=inc.explained_by,
                           reverted_s=inc.closed_s, compensation=_jsonable(inc.compensation),
                           notes=inc.notes)
            events.append(row)
        def explained(inc: Incident) -> bool:  # any finding on a faulty cell while it is
            return any(isinstance(e, CellOutage | TiltFault | PaDegradation)   # faulty
                       and e.cell == inc.cell and e.at_s <= inc.detected_s
                       <= e.end_s + 2 * self.report_s for e in self.sc.events)

        false = [inc for inc in self.incidents if not explained(inc)]
        monitored_s = max(n - self.warmup - self.baseline, 0) * self.report_s
        n_cells = int(self.emu.recorded.n_cells)
        cell_days = n_cells * monitored_s / 86400.0
        tl = pd.DataFrame(self.timeline)
        monitored = tl[tl["interval"] >= self.warmup + self.baseline]
        out_user_h = float((monitored["outage_ratio"] * monitored["n_users"]).sum()
                           * self.report_s / 3600.0) if len(monitored) else 0.0
        plans = [a.model_dump() for inc in self.incidents if inc.plan
                 for a in inc.plan.actions]
        return {
            "scenario": self.sc.name, "policy": self.policy, "intervals": n,
            "report_s": self.report_s, "verified_on": "emulator",
            "truth": self.emu.truth_cfg.model, "baseline": base,
            "after": kpi_subset(self.emu.last_kpis), "plan": plans,
            "events": events, "false_alarms": len(false),
            "false_alarm_detail": [{"cell": inc.cell, "detected_s": inc.detected_s,
                                    "reason": inc.detection.reason,
                                    "diagnosis": inc.cause} for inc in false],
            "false_alarms_per_cell_day": len(false) / cell_days if cell_days else None,
            "cell_days_monitored": cell_days,
            "out_of_service_user_hours": out_user_h,
            "timeline": self.timeline,
            "llm": {"backend": None if self.backend is None else self.backend.name,
                    "calls": self.llm_calls, "errors": self.llm_errors},
            "timings_s": {k: round(v, 3) for k, v in self.timing.items()} | {
                "total": round(wall_s, 3)},
        }


def run_selfheal(scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                 backend: ChatBackend | None = None, intervals: int | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 **kwargs: Any) -> dict[str, Any]:
    """Run :class:`SelfHealingLoop` and return its JSON report: ``baseline`` / ``after`` (the
    network KPIs of the last baseline interval and of the last interval), ``plan`` (every
    directive issued), ``events`` (per injected cell fault: ``type``, ``cell``, ``start_s``,
    ``detected_s`` (null if missed), ``diagnosis``, ``actions``, ``recovered_fraction``),
    ``false_alarms``, ``timeline`` and ``timings_s``."""
    loop = SelfHealingLoop(scenario, store, policy, backend, progress=progress, **kwargs)
    if policy == "llm" and backend is None:
        loop.llm_errors.append("no language model: the llm policy ran as solver")
    return loop.run(intervals)


def _unsupported_numbers(text: str, evidence: str) -> list[str]:
    """Numbers in ``text`` that no number in ``evidence`` supports (to the precision written):
    a model that phrases the evidence must not invent figures."""
    import re

    pat = re.compile(r"-?\d+(?:\.\d+)?")
    have = [float(x) for x in pat.findall(evidence)]
    bad = []
    for tok in pat.findall(text):
        v = float(tok)
        step = 10.0 ** -(len(tok.split(".")[1]) if "." in tok else 0)
        if not any(abs(abs(v) - abs(h)) <= step / 2 + 1e-9 for h in have):
            bad.append(tok)
    return bad


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: float(o) if isinstance(
        o, np.floating | np.integer) else bool(o) if isinstance(o, np.bool_) else str(o)))
