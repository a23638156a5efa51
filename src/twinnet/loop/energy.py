"""Energy saving on the living network: capacity cells sleep at low load, QoS held.

:class:`EnergyLoop` runs a day of an emulated living network beside its twin and, every
``every`` reporting intervals, decides which capacity cells sleep for the next period:

``noop``
    every cell stays on;
``rule``
    the classic threshold rule: a capacity cell whose PRB utilisation was below
    ``sleep_below`` sleeps if its sector's coverage cell was below ``room_below``; a sector's
    sleeping cells wake when its coverage cell passes ``wake_above``;
``solver``
    the RRM engine's energy–QoS Pareto front on the twin (:func:`~twinnet.rrm.energy.
    energy_front`), scored over the next period's hours with the demand the twin measured and
    its diurnal profile (so the plan sees the morning ramp coming) — the capacity cells of a
    site where a cell's counters were above ``max_prb_utilization`` stay on (a saturated cell
    hides its demand), and so does a capacity cell whose carried load would not fit in its
    sector's coverage cell below ``room_below`` (PRB-time scaled by the carriers' bandwidths) —
    and the operator policy's
    point (:func:`~twinnet.rrm.energy.pick`: least power with p5 throughput ≥ ``p5_fraction``
    of all-on, outage at most ``outage_margin`` above it, peak PRB utilisation ≤
    ``max_prb_utilization``);
``llm``
    as ``solver``, the language model choosing among the points the policy allows (an index,
    validated; the policy's point when the model fails).

A woken cell gets its offset raised by ``wake_boost_db`` for one period (a wake procedure): the
users the night moved to the coverage layer are connected, do not reselect, and A3 hands them
back only past its margin — without the boost they stay on the smaller carrier all day.

Everything is measured on the emulator against a **reference fork** of it that keeps every
cell on (same users, same random streams): the energy of both (EARTH model on the recorded
configuration and the counters' PRB utilisation), and per interval the served share of the
offered traffic, the outage and the p5 throughput of both. ``qos_violations`` counts the
intervals where the policy served ``served_margin`` less of its traffic than the reference or
its outage rose more than ``outage_margin`` above it (per-interval p5 of a living network
moves with who happened to send what; it is compared over the day).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.actions import ActionPlan, SetCellActive, SetCellOffset
from twinnet.emulator import NetworkEmulator
from twinnet.errors import InputError
from twinnet.loop.living import LivingNetwork, day_intervals, usecase_report
from twinnet.policy.energy import cell_power_w
from twinnet.rrm.energy import EnergyPoint, capacity_cells, compliant, energy_front, pick
from twinnet.scenario import Scenario
from twinnet.store.context import ContextStore

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend

__all__ = ["ENERGY_POLICIES", "EnergyLoop", "run_energy"]

ENERGY_POLICIES = ("noop", "rule", "solver", "llm")


class EnergyLoop:
    """A day of energy saving on the emulated living network (module docstring)."""

    def __init__(self, scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                 backend: ChatBackend | None = None, every: int = 4, p5_fraction: float = 0.9,
                 outage_margin: float = 0.005, max_prb_utilization: float = 0.8,
                 served_margin: float = 0.01, sleep_below: float = 0.1,
                 room_below: float = 0.5, wake_above: float = 0.7, wake_boost_db: float = 4.0,
                 bs_type: str = "macro", llm_timeout_s: float = 30.0,
                 progress: Callable[[int, int], None] | None = None):
        if policy not in ENERGY_POLICIES:
            raise InputError("policy", policy, f"one of {list(ENERGY_POLICIES)}")
        if every < 1:
            raise InputError("every", every, "at least 1 interval")
        live = LivingNetwork.open(scenario, store, "energy saving runs over a day")
        self.sc, self.emu, self.twin, self.sync = live.sc, live.emu, live.twin, live.sync
        self.store, self.policy, self.backend = store, policy, backend
        self.every = every
        self.p5_fraction, self.outage_margin = p5_fraction, outage_margin
        self.served_margin = served_margin
        self.max_prb = max_prb_utilization
        self.sleep_below, self.room_below, self.wake_above = sleep_below, room_below, wake_above
        self.wake_boost_db = wake_boost_db
        self._boosted: list[int] = []
        self.bs_type = bs_type
        self.llm_timeout_s = llm_timeout_s
        self.progress = progress
        self.ref = copy.deepcopy(self.emu)  # the same network, every cell on, no decisions
        self.report_s = live.report_s
        self.candidates = capacity_cells(self.twin)
        self._offset0 = self.twin.network.cell_cio_db.copy()
        #: capacity cell → the coverage cell of its sector (the topology does not change)
        self.cover = self._coverage_of()
        if not self.candidates:
            raise InputError("scenario.carriers", [c.name for c in self.sc.carriers],
                             "a capacity carrier above the coverage carrier: nothing could "
                             "sleep")
        self.rows: list[dict[str, Any]] = []
        self.last_front: dict[str, Any] = {}
        self.decisions: list[dict[str, Any]] = []
        self.directives = 0
        self.llm_calls = 0
        self.llm_errors: list[str] = []
        self.timing = {"simulate": 0.0, "decide": 0.0, "llm": 0.0}

    # ------------------------------------------------------------------ measurement
    def _power_w(self, emu: NetworkEmulator, kpis: pd.DataFrame) -> float:
        net = emu.recorded
        util = kpis.set_index("cell_id")["prb_util_dl"].reindex(net.cell_names).fillna(0.0)
        return float(cell_power_w(net.cell_tx_power_dbm, util.to_numpy(), net.cell_active,
                                  self.bs_type).sum())

    def _demand(self, kpis: pd.DataFrame, hour: int) -> None:
        """The twin's demand: the scenario's users and diurnal profile, scaled as a whole to
        the traffic the network carried (per-cell counters of 15 minutes are too sparse at
        night to place demand user by user; the profile carries it into the next hours)."""
        tw = self.twin
        tw.demand_multiplier = None
        total = float(tw.users.demand_mbps.sum() * tw.demand_scale(hour))
        carried = float(kpis["thr_dl_mbps"].sum())
        if total > 0 and np.isfinite(carried):
            tw.demand_multiplier = np.full(tw.users.n, max(carried / total, 1e-3))

    # ------------------------------------------------------------------ decisions
    def _coverage_of(self) -> dict[int, int]:
        """Capacity cell → the coverage cell of its sector (same site and sector)."""
        net = self.twin.network
        cov = {(int(net.cell_site[c]), int(net.cell_sector[c])): c for c in range(net.n_cells)
               if c not in self.candidates}
        out = {}
        for c in self.candidates:
            k = cov.get((int(net.cell_site[c]), int(net.cell_sector[c])))
            if k is not None:
                out[c] = k
        return out

    def _rule(self, util: np.ndarray) -> set[int]:
        """The threshold rule on the counters' PRB utilisation (class docstring)."""
        net = self.twin.network
        out: set[int] = set()
        for c in self.candidates:
            k = self.cover.get(c)
            cu = util[k] if k is not None else 1.0
            if not net.cell_active[c]:
                if cu <= self.wake_above:
                    out.add(c)
            elif util[c] < self.sleep_below and cu < self.room_below:
                out.add(c)
        return out

    def _solver(self, hour: int, candidates: list[int]) -> tuple[set[int], dict[str, Any]]:
        fork = self.twin.copy()
        fork.network.cell_active[self.candidates] = True  # the front starts from all on
        span = max(1, int(np.ceil(self.every * self.report_s / 3600.0)))
        hours: list[int | None] = [(hour + k) % 24 for k in range(span + 1)]
        points, front, facts = energy_front(fork, hours, candidates, self.bs_type)
        ref = points[0]
        chosen = pick(front, ref, self.p5_fraction, self.outage_margin, self.max_prb)
        allowed = compliant(front, ref, self.p5_fraction, self.outage_margin, self.max_prb)
        if self.policy == "llm" and self.backend is not None and len(allowed) > 1:
            chosen = self._choose(allowed, ref, chosen)
        names = self.twin.network.cell_names
        info = {"front": [p.to_dict() for p in front], "reference": ref.to_dict(),
                "chosen": chosen.to_dict(), **facts}
        return {names.index(n) for n in chosen.sleep}, info

    def _choose(self, allowed: list[EnergyPoint], ref: EnergyPoint,
                default: EnergyPoint) -> EnergyPoint:
        from twinnet.llm.backends import LLMError

        assert self.backend is not None
        menu = [{"index": i, "cells_asleep": len(p.sleep), "power_kw": round(p.power_w / 1e3, 2),
                 "p5_throughput_mbps": round(p.p5_throughput_mbps, 3),
                 "outage_ratio": round(p.outage_ratio, 4)} for i, p in enumerate(allowed)]
        msgs = [{"role": "system", "content": "Pick one energy-saving point for the next hour. "
                 "All meet the operator's QoS limits on the digital twin. Save energy, keep "
                 "service. Answer with its index."},
                {"role": "user", "content": json.dumps({
                    "all_cells_on": {"power_kw": round(ref.power_w / 1e3, 2),
                                     "p5_throughput_mbps": round(ref.p5_throughput_mbps, 3)},
                    "points": menu})}]
        schema = {"type": "object", "properties": {"index": {
            "type": "integer", "minimum": 0, "maximum": len(allowed) - 1}},
            "required": ["index"]}
        t0 = time.perf_counter()
        self.llm_calls += 1
        try:
            r = self.backend.chat(msgs, json_schema=schema, max_tokens=32,
                                  timeout_s=self.llm_timeout_s)
            k = json.loads(r.text).get("index")
        except (LLMError, ValueError, AttributeError) as exc:
            self.llm_errors.append(str(exc)[:200])
            return default
        finally:
            self.timing["llm"] += time.perf_counter() - t0
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(allowed):
            self.llm_errors.append(f"index {k!r} out of range: the policy's point kept")
            return default
        return allowed[k]

    def _decide(self, ts: pd.Timestamp, kpis: pd.DataFrame) -> None:
        t0 = time.perf_counter()
        info: dict[str, Any] = {}
        rec = self.emu.recorded
        util = kpis.set_index("cell_id")["prb_util_dl"].reindex(rec.cell_names).fillna(
            0.0).to_numpy()
        measured_peak = float(util[rec.cell_active].max())
        # a saturated cell hides its demand (its counters show what it carried): the capacity
        # cells of its site stay on — the twin cannot know their headroom there
        hot_sites = {int(rec.cell_site[c]) for c in np.flatnonzero(util > self.max_prb)}
        # and a cell whose carried load would not fit in its sector's coverage cell below
        # ``room_below`` (PRB-time scaled by the carriers' bandwidths) is not offered either:
        # the twin spreads demand by its profile, the counters see the local peaks it smooths
        cov = self.cover
        bw = rec.cell_n_prb_available * rec.cell_prb_hz

        def fits(c: int) -> bool:
            k = cov.get(c)
            if k is None:
                return False
            moved = util[c] * bw[c] / max(bw[k], 1.0) if rec.cell_active[c] else 0.0
            return bool(util[k] + moved < self.room_below)

        cand = [c for c in self.candidates if int(rec.cell_site[c]) not in hot_sites and fits(c)]
        if self.policy == "rule":
            sleep = self._rule(util)
        elif not cand:
            sleep, info = set(), {"why": "every site has a cell above the limit: all on"}
        else:
            sleep, info = self._solver((ts + pd.Timedelta(seconds=self.report_s)).hour, cand)
        net = self.twin.network
        acts: list[Any] = [SetCellActive(cell=net.cell_names[c], active=c not in sleep)
                           for c in self.candidates if bool(net.cell_active[c]) == (c in sleep)]
        # wake procedure: a woken cell's offset is raised by ``wake_boost_db`` for one period,
        # so the users the night moved to the coverage layer hand back (A3 needs its margin
        # and connected users do not reselect); then the usual offset returns
        woken = [c for c in self.candidates if not net.cell_active[c] and c not in sleep]
        for c in self._boosted:
            if c not in woken:
                acts.append(SetCellOffset(cell=net.cell_names[c],
                                          offset_db=float(self._offset0[c])))
        self._boosted = []
        if self.wake_boost_db > 0:
            for c in woken:
                acts.append(SetCellOffset(cell=net.cell_names[c], offset_db=float(
                    min(self._offset0[c] + self.wake_boost_db, 24.0))))
                self._boosted.append(c)
        self.timing["decide"] += time.perf_counter() - t0
        self.decisions.append({"ts": str(ts), "asleep": len(sleep), "changes": len(acts),
                               "measured_peak_prb_utilization": measured_peak,
                               **({"chosen": info["chosen"], "front_size": len(info["front"])}
                                  if "front" in info else {})})
        if "front" in info:
            self.last_front = info
        if acts:
            plan = ActionPlan(actions=acts, rationale=f"energy saving ({self.policy}): "
                                                      f"{len(sleep)} capacity cells asleep")
            self.sync.v2p(self.emu, plan, ts=ts, reason=plan.rationale)
            self.store.record_decision("energy", plan.model_dump(), {"policy": self.policy,
                                       **({"chosen": info["chosen"]} if "chosen" in info
                                          else {})},
                                       "applied", self.policy, ts=ts)
            self.directives += sum(isinstance(a, SetCellActive) for a in acts)

    # ------------------------------------------------------------------ run
    def default_intervals(self) -> int:
        return day_intervals(self.report_s)

    def run(self, intervals: int | None = None) -> dict[str, Any]:
        n = day_intervals(self.report_s, intervals)
        self.last_front = {}
        t_all = time.perf_counter()
        for i in range(n):
            ts = self.emu.clock
            t0 = time.perf_counter()
            tel = self.emu.step()
            ref = self.ref.step()
            self.timing["simulate"] += time.perf_counter() - t0
            self.sync.p2v(tel, update_demand=False)
            self._demand(tel.kpis, ts.hour)
            k, kr = self.emu.last_kpis, self.ref.last_kpis
            row = {"interval": i, "ts": str(ts),
                   "power_w": self._power_w(self.emu, tel.kpis),
                   "power_w_reference": self._power_w(self.ref, ref.kpis),
                   "asleep": int(sum(not self.emu.recorded.cell_active[c]
                                     for c in self.candidates)),
                   "p5_throughput_mbps": k.get("p5_throughput_mbps", 0.0),
                   "p5_throughput_mbps_reference": kr.get("p5_throughput_mbps", 0.0),
                   "outage_ratio": k.get("outage_ratio", 0.0),
                   "outage_ratio_reference": kr.get("outage_ratio", 0.0),
                   "peak_prb_utilization": k.get("peak_prb_utilization", 0.0)}
            row["served_ratio"] = k.get("served_ratio", 1.0)
            row["served_ratio_reference"] = kr.get("served_ratio", 1.0)
            row["qos_held"] = bool(
                row["served_ratio"] >= row["served_ratio_reference"] - self.served_margin
                and row["outage_ratio"] <= row["outage_ratio_reference"] + self.outage_margin)
            self.rows.append(row)
            if self.policy != "noop" and (i + 1) % self.every == 0 and i + 1 < n:
                self._decide(self.emu.clock - pd.Timedelta(seconds=self.report_s), tel.kpis)
            if self.progress is not None:
                self.progress(i + 1, n)
        return self.report(time.perf_counter() - t_all)

    def report(self, wall_s: float) -> dict[str, Any]:
        df = pd.DataFrame(self.rows)
        h = self.report_s / 3600.0
        e = float(df["power_w"].sum() * h / 1e3)
        e_ref = float(df["power_w_reference"].sum() * h / 1e3)
        keys = ("p5_throughput_mbps", "outage_ratio", "peak_prb_utilization")
        return usecase_report(self, keys, {
                "energy_kwh": e, "energy_kwh_reference": e_ref,
                "energy_saved_fraction": (e_ref - e) / e_ref if e_ref > 0 else 0.0,
                "qos_violations": int((~df["qos_held"]).sum()),
                "qos_limits": {"p5_fraction": self.p5_fraction,
                               "served_margin": self.served_margin,
                               "outage_margin": self.outage_margin,
                               "max_prb_utilization": self.max_prb},
                "mean_p5_throughput_mbps": float(df["p5_throughput_mbps"].mean()),
                "mean_p5_throughput_mbps_reference":
                    float(df["p5_throughput_mbps_reference"].mean()),
                "mean_outage_ratio": float(df["outage_ratio"].mean()),
                "mean_outage_ratio_reference": float(df["outage_ratio_reference"].mean()),
                "served_ratio": float(df["served_ratio"].mean()),
                "served_ratio_reference": float(df["served_ratio_reference"].mean()),
                "cell_hours_asleep": float(df["asleep"].sum() * h),
                "directives": self.directives,
                "pareto_front": self.last_front.get("front", []),
        }, {"backend": None if self.backend is None else self.backend.name,
            "calls": self.llm_calls, "errors": self.llm_errors}, wall_s)


def run_energy(scenario: str | Scenario, store: ContextStore, policy: str = "solver",
               backend: ChatBackend | None = None, intervals: int | None = None,
               progress: Callable[[int, int], None] | None = None,
               **kwargs: Any) -> dict[str, Any]:
    """Run :class:`EnergyLoop` (default: one day) and return its JSON report: ``baseline`` /
    ``after``, ``plan`` (the decisions), ``usecase`` (``energy_kwh``,
    ``energy_kwh_reference``, ``energy_saved_fraction``, ``qos_violations``, the last Pareto
    front), ``timeline`` and ``timings_s``."""
    loop = EnergyLoop(scenario, store, policy, backend, progress=progress, **kwargs)
    if policy == "llm" and backend is None:
        loop.llm_errors.append("no language model: the llm policy ran as solver")
    return loop.run(intervals)
