"""Proactive capacity on the living network: act before the busy hour, undo after it.

:class:`CapacityDayLoop` runs a day of an emulated living network (demand from the real Milan
series) beside its twin. Its L2 engine (:class:`~twinnet.engines.traffic_forecast.
TrafficForecast`) is trained on the operator's counters of the ``history_days`` before the day
— the traffic of each reference area (:class:`~twinnet.engines.traffic_forecast.DemandAreas`)
every reporting interval — forecasts every area for the next hours, and is scored each interval
against what the network then carried (``forecast_nrmse`` in the fidelity monitor; a drift flag
refits it on the history and the day so far). The L1 engine is calibrated on the first
``warmup`` intervals' measurement reports. After each interval the policy decides for the
next:

``noop``
    nothing changes;
``rule``
    the reactive threshold rule on the counters: a macro cell whose PRB utilisation reached
    ``congested`` gets its sector's nearest switched-off small cell switched on with +6 dB
    range extension; a small cell the rule switched on goes off again when its and its macro
    cell's utilisation together fell below ``release``;
``reactive``
    the RRM engine on the twin loaded with the traffic measured in the last interval (and the
    L2 load correction, :meth:`CapacityDayLoop._learn_load`): when the twin shows a cell above
    ``target − 0.03``, a plan over the candidate options of the three hottest cells
    (:func:`~twinnet.rrm.capacity.candidate_options`, ``option_kinds``: by default the
    switched-off small cells nearby, on or on with range extension, and offsets that push
    load out of hot cells and pull it into their neighbours — downtilts and power cuts only
    shed load onto neighbours and coverage, and stacked over a day they left the network
    serving less than no-op did), built greedily on the twin — each step
    the option that removes the most overload (utilisation above that level), the cheapest
    among those within 5 % of it, never raising the outage — up to ``max_plan_actions``
    actions, and never taking a cell more than ``max_power_change_db`` /
    ``max_tilt_change_deg`` from where the day started; a plan in force is undone (newest
    first) when the twin shows every cell below ``target − undo_margin`` without it;
``solver``
    proactive: the same, with the twin loaded with the L2 forecast — for acting, the largest
    point forecast of the next ``horizon`` intervals; for undoing, the largest upper band of
    the next ``undo_horizon`` — never below what was measured. Capacity comes before the load
    does and goes only when even the forecast's upper band says the busy period has passed.
    ``horizon`` is 1 (the interval about to run) by default: plans sized for the peak of the
    next hour spread the load for a distribution it does not have yet, and on a test day
    left more congestion than the reactive loop (the README has the numbers);
``llm``
    as ``solver``; the language model chooses among the greedy plans started from each of the
    three best first options, with the forecast and the twin layers' fidelity (a drifting
    layer says so) in its context report (:class:`~twinnet.llm.engine.Outlook`); the
    solver's plan when the model fails.

Everything is measured on the emulator: congested cell-minutes (active cells with PRB
utilisation ≥ ``congested`` in an interval, times its minutes), the p5 UE throughput of each
interval (TS 28.552: volume over the time with data in the buffer), the served share of the
offered traffic, the directives issued (actions sent over V2P) and the hours small cells were
on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.actions import (
    ActionPlan,
    SetCellActive,
    SetCellOffset,
    SetElectricalTilt,
    SetTxPower,
    describe_action,
)
from twinnet.engines.radio_calibration import RadioCalibration
from twinnet.engines.traffic_forecast import DemandAreas, TrafficForecast
from twinnet.errors import InputError
from twinnet.llm.engine import DecisionEngine, Outlook
from twinnet.loop.living import (
    LivingNetwork,
    day_intervals,
    learn_load_factor,
    usecase_report,
)
from twinnet.rrm.capacity import Option, candidate_options
from twinnet.scenario import Scenario
from twinnet.store.context import ContextStore
from twinnet.twin.fidelity import FidelityMonitor, rsrp_error
from twinnet.twin.twin import DigitalTwin

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend

__all__ = ["PROACTIVE_POLICIES", "CapacityDayLoop", "run_proactive"]

PROACTIVE_POLICIES = ("noop", "rule", "reactive", "solver", "llm")


@dataclass
class _InForce:
    """A plan applied and not yet undone, with what undoes it."""

    plan: ActionPlan
    inverse: ActionPlan
    ts: str
    cells: set[str] = field(default_factory=set)


class CapacityDayLoop:
    """A day of capacity management on the emulated living network (module docstring)."""

    def __init__(self, scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                 backend: ChatBackend | None = None, target: float = 0.8,
                 congested: float = 0.9, horizon: int = 1, undo_horizon: int = 8,
                 undo_margin: float = 0.1, release: float = 0.7, history_days: int = 14,
                 warmup: int = 4, forecast_model: str | None = None,
                 max_plan_actions: int = 8, max_power_change_db: float = 6.0,
                 max_tilt_change_deg: float = 4.0,
                 option_kinds: tuple[str, ...] = ("cell", "offset"),
                 llm_timeout_s: float = 30.0,
                 progress: Callable[[int, int], None] | None = None):
        if policy not in PROACTIVE_POLICIES:
            raise InputError("policy", policy, f"one of {list(PROACTIVE_POLICIES)}")
        for name, v, lo in (("horizon", horizon, 1), ("undo_horizon", undo_horizon, 1),
                            ("history_days", history_days, 2), ("warmup", warmup, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InputError(name, v, f"an integer of at least {lo}")
        if not 0.0 < target < congested <= 1.0:
            raise InputError("target", target, f"in (0, congested = {congested:g})")
        live = LivingNetwork.open(scenario, store, "proactive capacity runs over a day")
        self.sc, self.emu, self.twin, self.sync = live.sc, live.emu, live.twin, live.sync
        self.report_s = live.report_s
        self.store, self.policy, self.backend = store, policy, backend
        self.target, self.congested = target, congested
        self.horizon, self.undo_horizon = horizon, max(undo_horizon, horizon)
        self.undo_margin, self.release = undo_margin, release
        self.warmup = warmup
        self.max_plan_actions = max_plan_actions
        self.max_power_change_db = max_power_change_db
        #: candidate option groups offered (:func:`candidate_options`: cell, offset, tilt,
        #: power, carrier); by default capacity (small cells) and load shifting (offsets)
        self.option_kinds = tuple(option_kinds)
        self.max_tilt_change_deg = max_tilt_change_deg
        self._design = target - 0.03  # plans are designed with a margin below the target
        self.progress = progress
        self.monitor = FidelityMonitor(store)
        self.engine = DecisionEngine(backend if policy == "llm" else None, store,
                                     llm_budget_s=llm_timeout_s)
        self.areas = DemandAreas(self.twin)
        self.timing = {"simulate": 0.0, "forecast": 0.0, "decide": 0.0}
        t0 = time.perf_counter()
        self.history = self._history(history_days)
        #: the L2 forecaster: only the proactive policies use one
        self.l2: TrafficForecast | None = None
        self.models: list[str] = []
        if policy in ("solver", "llm"):
            self.l2 = TrafficForecast(forecast_model).fit(self.history)
            self.models.append(self.l2.register(store))
            self.monitor.retrained("L2")
        self.timing["forecast"] += time.perf_counter() - t0
        self.live: dict[pd.Timestamp, pd.Series] = {}
        self.in_force: list[_InForce] = []
        self.rule_on: dict[str, str] = {}  # small cell switched on by the rule → its macro
        self.rows: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        self.directives = 0
        self.retrains: list[str] = []
        self._next_forecast: pd.Series | None = None
        self._measured_hot = False
        #: per-user load factor of the L2 load correction (:meth:`_learn_load`)
        self.load_factor = np.ones(self.twin.users.n)
        net = self.twin.network
        self._base_net = net.copy()
        self._base_active = {c for c, a in zip(net.cell_names, net.cell_active, strict=True)
                             if a}

    # ------------------------------------------------------------------ L2
    def _history(self, days: int) -> pd.DataFrame:
        """The operator's counters of the ``days`` before the simulated day: each reference
        area's traffic every reporting interval (the users' demand under the truth's demand
        model, with the counters' noise), before anything in the day is known."""
        emu = self.emu
        step = pd.Timedelta(seconds=self.report_s)
        t0 = emu.demand_series_start
        if t0 is not None:  # the series is played round: before its start is its future
            have = int((emu.clock - t0) // pd.Timedelta(days=1))
            if have < 2:
                raise InputError("simulation.start", str(emu.clock),
                                 f"at least 2 days after the demand series starts ({t0}): "
                                 "the forecaster learns from the days before")
            days = min(days, have)
        times = pd.date_range(emu.clock - pd.Timedelta(days=days), emu.clock - step, freq=step)
        ref = self.areas.ref_cell_
        ok = ref >= 0
        n = self.twin.network.n_cells
        cols = [self.twin.network.cell_names.index(a) for a in self.areas.areas_]
        demand = emu.twin.users.demand_mbps[: ref.size]
        rng = np.random.default_rng([self.sc.seed, 53])
        noise = emu.truth_cfg.kpi_noise
        rows = []
        for ts in times:
            mult = emu.demand_multiplier(ts)[: ref.size]
            area = np.bincount(ref[ok], weights=(demand * mult)[ok], minlength=n)[cols]
            rows.append(area * (1.0 + noise * rng.standard_normal(area.size)))
        return pd.DataFrame(np.maximum(np.asarray(rows), 0.0), index=times,
                            columns=self.areas.areas_)

    def _series(self) -> pd.DataFrame:
        live = pd.DataFrame(self.live).T.sort_index() if self.live else None
        return self.history if live is None else pd.concat([self.history, live])

    def _refit_l2(self, why: str) -> None:
        assert self.l2 is not None
        t0 = time.perf_counter()
        self.l2 = TrafficForecast(self.l2.model).fit(self._series())
        self.models.append(self.l2.register(self.store))
        self.monitor.retrained("L2")
        self.retrains.append(why)
        self.timing["forecast"] += time.perf_counter() - t0

    # ------------------------------------------------------------------ twin demand
    def _load(self, twin: DigitalTwin, area_mbps: pd.Series) -> None:
        twin.demand_multiplier = self.areas.multiplier(twin, area_mbps, None) * self.load_factor

    def _learn_load(self, observed: pd.Series, measured: pd.Series) -> float:
        """L2 load correction: the twin loaded with the traffic just measured predicts each
        cell's PRB utilisation; where neither side is saturated (or idle), the users of the
        cell get their load factor moved halfway (geometrically) towards measured / predicted.
        The radio twin's spectral efficiency, the scheduler and the traffic's burstiness all
        differ from the network's; the factor absorbs what they do to the load. Returns the
        mean absolute PRB error before the update (the L2 fidelity)."""
        tw = self.twin
        self._load(tw, observed)
        m = measured.reindex(tw.network.cell_names).to_numpy(dtype=float)
        self.load_factor, mae = learn_load_factor(tw, m, self.load_factor)
        return mae

    def _peak(self, twin: DigitalTwin) -> tuple[float, float, np.ndarray]:
        ev = twin.evaluate(uplink=False)
        u = np.asarray(ev.load.prb_utilization, dtype=float)
        return float(ev.kpis["peak_prb_utilization"]), float(ev.kpis["outage_ratio"]), u

    def _hot(self, twin: DigitalTwin) -> tuple[float, list[str]]:
        """The twin's peak PRB utilisation and its active cells above the design level,
        hottest first."""
        peak, _, u = self._peak(twin)
        act, names = twin.network.cell_active, twin.network.cell_names
        return peak, [names[c] for c in np.argsort(-u) if u[c] > self._design and act[c]]

    # ------------------------------------------------------------------ decisions
    def _apply(self, plan: ActionPlan, ts: pd.Timestamp, kind: str, source: str,
               detail: dict[str, Any]) -> None:
        self.sync.v2p(self.emu, plan, ts=ts, reason=plan.rationale)
        self.store.record_decision(kind, plan.model_dump(), detail, "applied", source, ts=ts)
        self.directives += len(plan.actions)

    def _rule(self, ts: pd.Timestamp, util: pd.Series) -> dict[str, Any] | None:
        net = self.twin.network
        names = net.cell_names
        acts: list[Any] = []
        for sc_name, macro in list(self.rule_on.items()):  # release first
            if util.get(sc_name, 0.0) + util.get(macro, 0.0) < self.release:
                acts += [SetCellActive(cell=sc_name, active=False),
                         SetCellOffset(cell=sc_name, offset_db=0.0)]
                del self.rule_on[sc_name]
        off = [int(k) for k in np.flatnonzero(~net.cell_active) if names[k] not in self.rule_on]
        for c in map(int, np.flatnonzero(net.cell_active)):
            if util.get(names[c], 0.0) < self.congested or names[c] in self.rule_on:
                continue
            if any(m == names[c] for m in self.rule_on.values()) or not off:
                continue
            k = self._sector_small_cell(c, off)
            if k is None:
                continue
            off.remove(k)
            acts += [SetCellActive(cell=names[k], active=True),
                     SetCellOffset(cell=names[k], offset_db=6.0)]
            self.rule_on[names[k]] = names[c]
        if not acts:
            return None
        plan = ActionPlan(actions=acts, rationale="rule: small cells on at PRB utilisation ≥ "
                          f"{self.congested:g}, off below {self.release:g}")
        self._apply(plan, ts, "proactive", "rule", {"policy": "rule"})
        return {"ts": str(ts), "kind": "rule", "actions": len(acts)}

    def _sector_small_cell(self, c: int, off: list[int], reach_m: float = 250.0) -> int | None:
        """The switched-off cell nearest to the middle of cell ``c``'s sector (150 m out along
        its bearing), within ``reach_m`` of ``c``'s site."""
        net = self.twin.network
        s = net.cell_site[c]
        sx, sy = net.site_x_m[s], net.site_y_m[s]
        a = np.radians(net.cell_bearing_deg[c])
        mx, my = sx + 150.0 * np.cos(a), sy + 150.0 * np.sin(a)
        best, dist = None, np.inf
        for k in off:
            kx, ky = net.site_x_m[net.cell_site[k]], net.site_y_m[net.cell_site[k]]
            if np.hypot(kx - sx, ky - sy) > reach_m:
                continue
            d = float(np.hypot(kx - mx, ky - my))
            if d < dist:
                best, dist = k, d
        return best

    def _demands(self, observed: pd.Series) -> tuple[pd.Series, pd.Series, dict[str, float]]:
        """Area traffic to act for and to undo for (module docstring) and the forecast load
        multipliers over the acting horizon."""
        if self.l2 is None:  # reactive
            return observed, observed, {}
        t0 = time.perf_counter()
        pred = self.l2.predict(self._series(), horizon=self.undo_horizon)
        self.timing["forecast"] += time.perf_counter() - t0
        hi = pred.quantiles[max(pred.quantiles)].clip(lower=0.0)
        self._next_forecast = pred.mean.iloc[0]
        now = observed.reindex(hi.columns).fillna(0.0)
        act = np.maximum(pred.mean.iloc[: self.horizon].max(), now)
        undo = np.maximum(hi.max(), now)
        mult = (act / now.clip(lower=1e-6)).clip(upper=10.0)
        return act, undo, {str(k): round(float(v), 3) for k, v in mult.items()}

    def _overload(self, twin: DigitalTwin) -> tuple[float, float, float]:
        """Σ over active cells of the PRB utilisation above the design level, the peak and the
        outage ratio of the twin as loaded."""
        peak, out, u = self._peak(twin)
        act = twin.network.cell_active
        return float(np.maximum(u[act] - self._design, 0.0).sum()), peak, out

    def _greedy(self, twin: DigitalTwin, opts: list[Option], first: Option | None = None
                ) -> tuple[list[Any], list[str], float, float]:
        """Options added one at a time, each the one that removes the most overload on the
        twin (the cheapest of those within 5 % of the best) without raising the outage,
        until no cell is above the design level, nothing helps, or the plan has
        ``max_plan_actions`` actions. Removing overload, not cost, leads: a power cut is
        cheap but sheds load onto neighbours and coverage, a small cell adds capacity.
        Returns the actions, the options' names, the overload after and the peak after."""
        cur = twin.copy()
        ov, peak, out0 = self._overload(cur)
        acts: list[Any] = []
        names: list[str] = []
        used: set[str] = set()
        while ov > 0.0:
            if acts:  # the cells still hot after the steps so far get their options
                opts = self._options(cur) or opts
            cands: list[tuple[float, Option, DigitalTwin, float, float]] = []
            for o in ([first] if first is not None and not acts else opts):
                if o.group in used or len(acts) + len(o.actions) > self.max_plan_actions:
                    continue
                f = cur.copy()
                ActionPlan(actions=list(o.actions)).apply(f.network)
                o_ov, o_peak, o_out = self._overload(f)
                if o_ov < ov - 1e-3 and o_out <= out0 + 0.002:
                    cands.append((ov - o_ov, o, f, o_ov, o_peak))
            if not cands:
                break
            top = max(c[0] for c in cands)
            _, o, cur, ov, peak = min((c for c in cands if c[0] >= 0.95 * top),
                                      key=lambda c: (c[1].cost, -c[0]))
            acts += list(o.actions)
            names.append(o.name)
            used.add(o.group)
        return acts, names, ov, peak

    def _options(self, twin: DigitalTwin, hot: list[str] | None = None) -> list[Option]:
        """The candidate options of the three hottest cells (``hot``, else those above the
        design level on ``twin``), of the kinds offered and within the day's limits."""
        if hot is None:
            hot = self._hot(twin)[1]
        if not hot:
            return []
        return [o for o in candidate_options(twin, self._design, congested=hot[:3], hops=1)
                if o.group.split(":", 1)[0] in self.option_kinds and self._within_limits(o)]

    def _within_limits(self, o: Option) -> bool:
        """Plans stack over the day: no option may take a cell's power more than
        ``max_power_change_db`` or its tilt more than ``max_tilt_change_deg`` from the
        configuration the day started with."""
        base = self._base_net
        names = base.cell_names
        for a in o.actions:
            if a.cell not in names:
                continue
            c = names.index(a.cell)
            if isinstance(a, SetTxPower) and abs(a.tx_power_dbm - base.cell_tx_power_dbm[c]) \
                    > self.max_power_change_db + 1e-9:
                return False
            if isinstance(a, SetElectricalTilt) and abs(
                    a.tilt_deg - base.cell_elec_tilt_deg[c]) > self.max_tilt_change_deg + 1e-9:
                return False
        return True

    def _act(self, ts: pd.Timestamp, twin: DigitalTwin, hot: list[str], peak: float,
             mult: dict[str, float]) -> dict[str, Any]:
        """Capacity for the cells the twin shows above the design level: the greedy plan
        over their candidate options (:meth:`_options`); for ``llm`` the
        model chooses among the greedy plans started from each of the three best first
        options, with the forecast and the twin's fidelity in its context report."""
        opts = self._options(twin, hot)
        ov0, _, _ = self._overload(twin)
        acts, names, ov, after = self._greedy(twin, opts)
        source = "rrm"
        choice: dict[str, Any] = {}
        if self.policy == "llm" and self.backend is not None and acts:
            alts = [(acts, names, ov, after)]
            for o in opts:
                if len(alts) == 3:
                    break
                if o.name == names[0] or any(o.name == a[1][0] for a in alts):
                    continue
                alt = self._greedy(twin, opts, first=o)
                if alt[0] and alt[2] < ov0:
                    alts.append(alt)
            k, choice = self._choose(ts, twin, alts, mult, ov0)
            if k is not None:
                acts, names, ov, after = alts[k]
                source = "llm+rrm"
        if not acts:
            return {"ts": str(ts), "kind": "none", "twin_peak": round(peak, 3), "hot": hot[:5],
                    "why": "no candidate option lowers the overload on the twin"}
        plan = ActionPlan(actions=acts, rationale=f"capacity ahead of the load ({self.policy}): "
                          + "; ".join(names))
        inverse = plan.inverse(twin.network)
        self._apply(plan, ts, "proactive", source, {"policy": self.policy, "options": names,
                                                    "twin_overload": [ov0, ov], **choice})
        self.in_force.append(_InForce(plan, inverse, str(ts), set(plan.touched_cells())))
        return {"ts": str(ts), "kind": "act", "source": source, "hot": hot[:5],
                "twin_peak": round(peak, 3), "twin_peak_after": round(after, 3),
                "actions": [describe_action(a) for a in acts],
                "before_congestion": not self._measured_hot, **choice}

    def _choose(self, ts: pd.Timestamp, twin: DigitalTwin,
                alts: list[tuple[list[Any], list[str], float, float]], mult: dict[str, float],
                ov0: float) -> tuple[int | None, dict[str, Any]]:
        """The model picks a plan (a letter, validated; ``None`` when it fails)."""
        outlook = Outlook(forecast=mult, horizon_min=int(self.horizon * self.report_s / 60),
                          fidelity=self.monitor.latest())
        lines = [f"{'; '.join(n)} (twin: peak PRB utilisation {p:.2f}, overload "
                 f"{ov0:.2f} -> {o:.2f})" for _, n, o, p in alts]
        return self.engine.choose(twin, self.target, outlook, lines,
                                  f"Plans for the next {outlook.horizon_min} min, each checked "
                                  "on the twin with the forecast load:", ts)

    def _solve(self, ts: pd.Timestamp, observed: pd.Series) -> dict[str, Any] | None:
        act, undo, mult = self._demands(observed)
        twin = self.twin
        self._load(twin, act)
        peak, hot = self._hot(twin)
        if hot:
            return self._act(ts, twin, hot, peak, mult)
        # undo: the newest plan whose cells no later plan touched, if the twin holds without it
        self._load(twin, undo)
        _, base_out, _ = self._peak(twin)
        for k in range(len(self.in_force) - 1, -1, -1):
            e = self.in_force[k]
            if any(e.cells & later.cells for later in self.in_force[k + 1:]):
                continue
            fork = twin.copy()
            e.inverse.apply(fork.network)
            p, out, _ = self._peak(fork)
            if p <= self.target - self.undo_margin and out <= base_out + 0.005:
                inv = ActionPlan(actions=list(e.inverse.actions),
                                 rationale=f"undo the plan of {e.ts}: the twin holds the "
                                           f"target without it (peak {p:.2f})")
                self._apply(inv, ts, "proactive_undo", self.policy, {"policy": self.policy})
                del self.in_force[k]
                return {"ts": str(ts), "kind": "undo", "of": e.ts, "twin_peak": round(p, 3),
                        "actions": [describe_action(a) for a in inv.actions]}
            break  # undo newest first: an older plan waits
        return None

    # ------------------------------------------------------------------ run
    def run(self, intervals: int | None = None) -> dict[str, Any]:
        n = day_intervals(self.report_s, intervals)
        t_all = time.perf_counter()
        handled = 0
        for i in range(n):
            ts = self.emu.clock
            t0 = time.perf_counter()
            tel = self.emu.step()
            self.timing["simulate"] += time.perf_counter() - t0
            err = rsrp_error(self.twin, tel.reports)
            self.sync.p2v(tel, update_demand=False)
            self.monitor.record(ts, "L1", "rsrp_rmse_db", err["rmse_db"], int(err["n"]))
            kp = tel.kpis.set_index("cell_id")
            observed = self.areas.area_demand(self.twin, kp["thr_dl_mbps"])
            self.live[ts] = observed
            row: dict[str, Any] = {"interval": i, "ts": str(ts)}
            if self._next_forecast is not None:
                f = self._next_forecast.reindex(observed.index)
                nrmse = float(np.sqrt(np.mean((f - observed) ** 2)) / max(observed.mean(), 1e-9))
                self.monitor.record(ts, "L2", "forecast_nrmse", nrmse, len(observed))
                row["forecast_nrmse"] = nrmse
                self._next_forecast = None
            rec = self.emu.recorded
            util = kp["prb_util_dl"].reindex(rec.cell_names).fillna(0.0)
            act = rec.cell_active
            hot = [c for c, a in zip(rec.cell_names, act, strict=True)
                   if a and util[c] >= self.congested]
            self._measured_hot = bool(hot)
            k = self.emu.last_kpis
            row.update({"congested_cells": len(hot), "congested": hot,
                        "peak_prb_utilization": float(util[act].max()),
                        "p5_ue_throughput_mbps": k.get("p5_ue_throughput_mbps", 0.0),
                        "served_ratio": k.get("served_ratio", 1.0),
                        "outage_ratio": k.get("outage_ratio", 0.0),
                        "cells_switched_on": int(sum(
                            a for c, a in zip(rec.cell_names, act, strict=True)
                            if c not in self._base_active))})
            self.rows.append(row)
            if i + 1 == self.warmup:
                RadioCalibration().fit_store(self.store, source=self.sync.source,
                                             twin=self.twin).attach(self.twin)
                self.monitor.retrained("L1")
            if i + 1 >= self.warmup:
                mae = self._learn_load(observed, util)
                self.monitor.record(ts, "L2", "prb_util_mae", mae, int(act.sum()))
                row["twin_prb_util_mae"] = mae
            for r in self.monitor.recommendations[handled:]:
                handled += 1
                # the forecaster is refitted when its own error drifts (the load correction
                # follows the PRB error by itself)
                if r.get("metric") == "forecast_nrmse" and self.policy in ("solver", "llm"):
                    self._refit_l2(str(r["reason"]))
            if self.policy != "noop" and i + 1 >= self.warmup and i + 1 < n:
                t0 = time.perf_counter()
                nxt = self.emu.clock
                d = (self._rule(nxt, util) if self.policy == "rule"
                     else self._solve(nxt, observed))
                self.timing["decide"] += time.perf_counter() - t0
                if d is not None:
                    self.decisions.append(d)
            if self.progress is not None:
                self.progress(i + 1, n)
        return self.report(time.perf_counter() - t_all)

    def report(self, wall_s: float) -> dict[str, Any]:
        df = pd.DataFrame(self.rows)
        m = self.report_s / 60.0
        keys = ("peak_prb_utilization", "p5_ue_throughput_mbps", "served_ratio")
        acts = [d for d in self.decisions if d["kind"] in ("act", "rule")]
        ahead = [d for d in self.decisions if d.get("before_congestion")]
        return usecase_report(self, keys, {
                "congested_cell_minutes": float(df["congested_cells"].sum() * m),
                "congestion_threshold": self.congested,
                "p5_throughput_mbps": float(df["p5_ue_throughput_mbps"].mean()),
                "p5_throughput_mbps_worst_interval": float(df["p5_ue_throughput_mbps"].min()),
                "served_ratio": float(df["served_ratio"].mean()),
                "directives": self.directives,
                "plans": len(acts),
                "plans_before_congestion": len(ahead),
                "undos": sum(d["kind"] == "undo" for d in self.decisions),
                "small_cell_hours": float(df["cells_switched_on"].sum() * m / 60.0),
                "forecast": None if self.l2 is None else {
                    "model": self.l2.model, "history_intervals": len(self.history),
                    "mean_nrmse": (float(df["forecast_nrmse"].mean())
                                   if "forecast_nrmse" in df else None),
                    "retrains": self.retrains},
        }, self.engine.stats.to_dict(), wall_s, models=self.models)


def run_proactive(scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                  backend: ChatBackend | None = None, intervals: int | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  **kwargs: Any) -> dict[str, Any]:
    """Run :class:`CapacityDayLoop` (default: one day) and return its JSON report:
    ``baseline`` / ``after``, ``plan`` (the decisions), ``usecase`` (``congested_cell_minutes``,
    ``p5_throughput_mbps``, ``directives``, ``small_cell_hours``, the forecast's error),
    ``timeline`` and ``timings_s``."""
    return CapacityDayLoop(scenario, store, policy, backend, progress=progress,
                           **kwargs).run(intervals)
