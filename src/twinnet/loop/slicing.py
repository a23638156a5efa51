"""Network slices for XR and industrial sensors on the living network (a factory hall).

:class:`SliceLoop` runs the emulated living network of a scenario whose user groups name slices
(``[[groups]] slice = "..."``). A slice's service is what its groups send: XR frames (3GPP
TR 38.838: a frame every 1/fps, due within its delay budget) downlink, sensor reports uplink
with a deadline. Every reporting interval the policy sets each cell's dedicated PRBs per slice
(``reserve_prbs`` with a direction) for the next interval:

``noop``
    no slices: everyone shares every PRB (proportional fair);
``rule``
    static slices: every cell dedicates ``rule_share`` of its PRBs to its slices (split
    evenly), whatever is there;
``solver``
    slices sized per cell from what the network reports: the users of each slice the cell
    holds (per-slice counters, TS 28.552 per S-NSSAI) and the spectral efficiency its users
    see (the lower quartile of the serving SINR in the measurement reports, through the twin's
    link model). A slice whose service has a delay budget gets, for ``k`` users, the PRBs that
    carry ``margin × k`` of its packets within the budget at that efficiency (every user's
    packet at once, the worst case), at most ``max_share`` of the cell;
    Cells that hold vehicles (users of a V2X slice) also get handover settings for them, from
    their mobility-robustness counters (:meth:`SliceLoop._mobility`: a shorter
    time-to-trigger where handovers come too late; optionally more hysteresis and a longer one
    where they ping-pong);
``llm``
    as ``solver``; the language model chooses the margin (0.5, 1, 1.5 of the solver's) with
    the slices' satisfaction and the other users' throughput in its context report.

Measured on the emulator against a fork that never slices (same users, same random streams),
for the services the scenario has: ``xr_satisfied_ratio`` (of the XR users of every interval,
the share with at least ``on_time`` of their frames within the budget:
:func:`~twinnet.policy.kpis.on_time_satisfied`), ``sensor_deadline_misses`` (sensor reports
past their deadline), ``v2x_reliability`` (the share of V2X messages within their budget),
``handover_failures``, and the throughput of the users outside any slice against the fork
(``background_throughput_loss_fraction``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.actions import ActionPlan, ReservePRBs, SetHandoverParams
from twinnet.errors import InputError
from twinnet.llm.engine import DecisionEngine, Outlook
from twinnet.loop.living import LivingNetwork, usecase_report
from twinnet.policy.kpis import on_time_satisfied
from twinnet.scenario import TTT_VALUES_MS, Scenario
from twinnet.store.context import ContextStore

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend

__all__ = ["SLICING_POLICIES", "SliceLoop", "SliceService", "run_slicing"]

SLICING_POLICIES = ("noop", "rule", "solver", "llm")


@dataclass(frozen=True)
class SliceService:
    """What a slice carries: packets of ``packet_bits`` due within ``budget_s`` (``None``: no
    deadline), ``direction`` ``dl`` or ``ul``, and the traffic model of its groups."""

    slice_id: str
    model: str
    direction: str
    packet_bits: float
    budget_s: float | None


def slice_services(sc: Scenario) -> dict[str, SliceService]:
    """The services of the scenario's slices, from their groups' traffic (the largest packet,
    the tightest budget)."""
    out: dict[str, SliceService] = {}
    for g in sc.groups:
        if g.slice is None:
            continue
        t = g.traffic
        if t.model == "xr":
            bits = max(t.xr_mbps) * 1e6 / t.fps
        elif t.model in ("iot", "v2x"):
            bits = t.payload_bytes * 8.0
        elif t.model == "video":
            bits = t.video_mbps * 1e6 * t.segment_s
        else:
            bits = t.file_size_mbit * 1e6
        d = "ul" if t.uplink else "dl"
        prev = out.get(g.slice)
        if prev is not None and prev.direction != d:
            raise InputError(f"groups.{g.name}.slice", g.slice,
                             "one direction per slice (its groups send one way)")
        budget = t.budget_s
        if prev is not None:
            bits = max(bits, prev.packet_bits)
            budget = min(b for b in (budget, prev.budget_s) if b is not None) if (
                budget is not None or prev.budget_s is not None) else None
        out[g.slice] = SliceService(g.slice, t.model, d, bits, budget)
    return out


class SliceLoop:
    """Slices on the emulated living network (module docstring)."""

    def __init__(self, scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                 backend: ChatBackend | None = None, rule_share: float = 0.4,
                 margin: float = 1.0, max_share: float = 0.7, on_time: float = 0.99,
                 ping_pong_above: float | None = None, late_above: float = 0.02,
                 max_extra_hysteresis_db: float = 2.0, max_ttt_ms: int = 320,
                 llm_timeout_s: float = 30.0,
                 progress: Callable[[int, int], None] | None = None):
        if policy not in SLICING_POLICIES:
            raise InputError("policy", policy, f"one of {list(SLICING_POLICIES)}")
        for name, v in (("rule_share", rule_share), ("max_share", max_share)):
            if not 0.0 < v < 1.0:
                raise InputError(name, v, "a share of the PRBs in (0, 1)")
        if not margin > 0:
            raise InputError("margin", margin, "> 0")
        live = LivingNetwork.open(scenario, store, "slices are set over time")
        self.sc, self.emu, self.twin, self.sync = live.sc, live.emu, live.twin, live.sync
        self.services = slice_services(self.sc)
        if not self.services:
            raise InputError("scenario.groups", [g.name for g in self.sc.groups],
                             "a group with a slice")
        self.report_s = live.report_s
        self.store, self.policy, self.backend = store, policy, backend
        self.rule_share, self.margin, self.max_share = rule_share, margin, max_share
        self.on_time = on_time
        self.ping_pong_above, self.late_above = ping_pong_above, late_above
        if max_ttt_ms not in TTT_VALUES_MS:
            raise InputError("max_ttt_ms", max_ttt_ms, f"one of {list(TTT_VALUES_MS)}")
        self.max_extra_hysteresis_db, self.max_ttt_ms = max_extra_hysteresis_db, max_ttt_ms
        self.progress = progress
        self.engine = DecisionEngine(backend if policy == "llm" else None, store,
                                     llm_budget_s=llm_timeout_s)
        self.ref = copy.deepcopy(self.emu)  # never sliced
        assert self.emu.sim is not None
        self.groups = {gs.group.name: gs for gs in self.emu.sim.groups}
        self.rows: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        self.directives = 0
        self.timing = {"simulate": 0.0, "decide": 0.0}

    # ------------------------------------------------------------------ measurement
    def _service(self, emu: Any) -> dict[str, Any]:
        """The interval's service: XR users satisfied, packets and late packets of the sensor
        (``iot``) and V2X slices, handover failures, and the downlink volume of the users
        outside any slice."""
        u = emu.sim.last_users
        out: dict[str, Any] = {"xr_users": 0, "xr_satisfied": 0, "sensor_packets": 0,
                               "sensor_late": 0, "v2x_packets": 0, "v2x_late": 0,
                               "background_mbit": 0.0}
        for gs in emu.sim.groups:
            users = gs.users[u["present"][gs.users] > 0]
            g = gs.group
            if g.slice is None:
                out["background_mbit"] += float(u["bits"][users].sum()) / 1e6
                continue
            if g.traffic.model == "xr":
                sat = on_time_satisfied(u["packets"][users], u["late"][users], self.on_time)
                out["xr_users"] += int(((u["packets"][users] + u["late"][users]) > 0).sum())
                out["xr_satisfied"] += int(sat.sum())
            elif g.traffic.budget_s is not None:
                kind = "v2x" if g.traffic.model == "v2x" else "sensor"
                out[f"{kind}_packets"] += int(u["packets"][users].sum())
                out[f"{kind}_late"] += int(u["late"][users].sum())
        k = emu.sim.last_interval
        out["handover_failures"] = int(k["ho_failures"].sum()) if k is not None else 0
        out["ping_pong"] = int(k["ping_pong"].sum()) if k is not None else 0
        out["handovers"] = int(k["ho_attempts"].sum()) if k is not None else 0
        return out

    # ------------------------------------------------------------------ plans
    def _efficiency(self, reports: pd.DataFrame) -> np.ndarray:
        """Per cell: the lower quartile of its users' spectral efficiency [bit/s/Hz] in the
        measurement reports (serving SINR through the twin's link model); cells without
        reports get the network's."""
        net = self.twin.network
        srv = reports[reports["serving"]] if len(reports) else reports
        overall = float(np.quantile(srv["sinr_db"], 0.25)) if len(srv) else 0.0
        q = srv.groupby("cell_id")["sinr_db"].quantile(0.25) if len(srv) else pd.Series(
            dtype=float)
        sinr = q.reindex(net.cell_names).fillna(overall).to_numpy(dtype=float)
        return np.maximum(np.asarray(self.twin.link(sinr), dtype=float), 0.05)

    def _sized(self, kpis: pd.DataFrame, reports: pd.DataFrame, margin: float
               ) -> dict[tuple[str, str], int]:
        """(cell, slice) → PRBs (module docstring, ``solver``)."""
        net = self.twin.network
        kp = kpis.set_index("cell_id")
        se = self._efficiency(reports)
        prb_hz = net.cell_prb_hz
        ovh = 1.0 - self.sc.link.overhead
        out: dict[tuple[str, str], int] = {}
        for sl, svc in self.services.items():
            col = f"users_slice_{sl}"
            k = kp[col].reindex(net.cell_names).fillna(0.0).to_numpy() if col in kp else \
                np.zeros(net.n_cells)
            for c, name in enumerate(net.cell_names):
                users = math.ceil(k[c] - 1e-9)
                if users == 0 or svc.budget_s is None:
                    out[(name, sl)] = 0
                    continue
                need = margin * users * svc.packet_bits / (svc.budget_s * se[c] * prb_hz[c]
                                                           * ovh)
                out[(name, sl)] = int(min(math.ceil(need),
                                          math.floor(self.max_share * net.cell_n_prb[c])))
        return out

    def _static(self) -> dict[tuple[str, str], int]:
        net = self.twin.network
        n = len(self.services)
        return {(name, sl): int(self.rule_share * net.cell_n_prb[c] / n)
                for c, name in enumerate(net.cell_names) for sl in self.services}

    def _actions(self, want: dict[tuple[str, str], int]) -> list[Any]:
        net = self.twin.network
        acts = []
        for (name, sl), n in want.items():
            c = net.cell_names.index(name)
            have = net.cell_prb_slices.get(c, {}).get(sl, (0, ""))[0]
            if have != n:
                acts.append(ReservePRBs(cell=name, slice_id=sl, n_prb=n,
                                        direction=self.services[sl].direction))
        return acts

    def _mobility(self, kpis: pd.DataFrame) -> list[Any]:
        """Handover settings for the cells that hold vehicles (users of a V2X slice), from
        their mobility-robustness counters (TS 38.300 §15.5.2): where more than
        ``late_above`` of the handovers were too late or ended in a radio link failure, the
        next shorter time-to-trigger and half a dB less (fast vehicles); where more than
        ``ping_pong_above`` came back within the ping-pong window (``None``, the default: not
        acted on — on ``iov`` the longer settings cut ping-pong but delayed the V2X messages of
        the vehicles kept on fading cells), one more dB of hysteresis and the next longer
        time-to-trigger; never more than ``max_extra_hysteresis_db`` above
        the scenario's hysteresis nor a time-to-trigger above ``max_ttt_ms``."""
        v2x = [sl for sl, svc in self.services.items() if svc.model == "v2x"]
        if not v2x:
            return []
        net = self.twin.network
        cfg = self.sc.simulation.handover if self.sc.simulation else None
        assert cfg is not None
        kp = kpis.set_index("cell_id")
        ttts = list(TTT_VALUES_MS)
        acts = []
        for c, name in enumerate(net.cell_names):
            cars = sum(float(kp.get(f"users_slice_{sl}", pd.Series(dtype=float)).get(name, 0.0))
                       for sl in v2x)
            n = float(kp["ho_attempts"].get(name, 0.0))
            if cars < 1.0 or n < 10:
                continue
            hys, ttt = net.cell_handover.get(c, (cfg.hysteresis_db,
                                                 float(cfg.time_to_trigger_ms)))
            k = ttts.index(int(ttt)) if int(ttt) in ttts else ttts.index(
                cfg.time_to_trigger_ms)
            late = (float(kp["too_late"].get(name, 0.0)) + float(kp["rlf"].get(name, 0.0))) / n
            pp = float(kp["ping_pong"].get(name, 0.0)) / n
            if late > self.late_above:
                hys, k = max(hys - 0.5, 0.0), max(k - 1, ttts.index(40))
            elif self.ping_pong_above is not None and pp > self.ping_pong_above:
                hys = min(hys + 1.0, cfg.hysteresis_db + self.max_extra_hysteresis_db)
                k = min(k + 1, ttts.index(self.max_ttt_ms))
            else:
                continue
            if (hys, float(ttts[k])) != net.cell_handover.get(c, (cfg.hysteresis_db, float(
                    cfg.time_to_trigger_ms))):
                acts.append(SetHandoverParams(cell=name, hysteresis_db=hys,
                                              time_to_trigger_ms=ttts[k]))
        return acts

    def _decide(self, ts: pd.Timestamp, tel: Any, last: dict[str, Any]
                ) -> dict[str, Any] | None:
        if self.policy == "rule":
            want = self._static()
            source, margin = "rule", None
        else:
            margin = self.margin
            source = "rrm"
            extra: dict[str, Any] = {}
            want = self._sized(tel.kpis, tel.reports, margin)
            if self.policy == "llm" and self.backend is not None:
                options = [self.margin, 0.5 * self.margin, 1.5 * self.margin]
                sizes = [want] + [self._sized(tel.kpis, tel.reports, m) for m in options[1:]]
                notes = (f"slices: XR users satisfied {last['xr_satisfied']}/"
                         f"{last['xr_users']}, sensor reports late {last['sensor_late']}/"
                         f"{last['sensor_packets']}, V2X messages late {last['v2x_late']}/"
                         f"{last['v2x_packets']}, users outside slices "
                         f"{last['background_mbit'] / self.report_s:.0f} Mbit/s",)
                lines = [f"slices sized with margin {m:g}: {sum(s.values())} PRBs dedicated "
                         "over all cells" for m, s in zip(options, sizes, strict=True)]
                k, extra = self.engine.choose(
                    self.twin, 0.8, Outlook(horizon_min=max(1, int(self.report_s / 60)),
                                            notes=notes), lines,
                    "Slice sizes for the next interval (dedicated PRBs for XR and sensors):",
                    ts)
                if k is not None:
                    margin, want, source = options[k], sizes[k], "llm+rrm"
        acts = self._actions(want)
        if self.policy in ("solver", "llm"):
            acts += self._mobility(tel.kpis)
        if not acts:
            return None
        why = f"{self.policy}: slices " + (f"sized with margin {margin:g}" if margin else
                                           f"static at {self.rule_share:g} of the PRBs")
        plan = ActionPlan(actions=acts, rationale=why)
        self.sync.v2p(self.emu, plan, ts=ts, reason=why)
        self.store.record_decision("slicing", plan.model_dump(), {"policy": self.policy,
                                                                 "margin": margin},
                                   "applied", source, ts=ts)
        self.directives += len(acts)
        return {"ts": str(ts), "kind": "act", "source": source, "margin": margin,
                "dedicated_prbs": int(sum(want.values())), "actions": len(acts),
                **({} if self.policy != "llm" else extra)}

    # ------------------------------------------------------------------ run
    def run(self, intervals: int = 30) -> dict[str, Any]:
        if isinstance(intervals, bool) or not isinstance(intervals, int) or intervals < 1:
            raise InputError("intervals", intervals, "at least 1")
        t_all = time.perf_counter()
        for i in range(intervals):
            ts = self.emu.clock
            t0 = time.perf_counter()
            tel = self.emu.step()
            self.ref.step()
            self.timing["simulate"] += time.perf_counter() - t0
            self.sync.p2v(tel, update_demand=False)
            got, ref = self._service(self.emu), self._service(self.ref)
            row = {"interval": i, "ts": str(ts), **got,
                   **{f"{k}_reference": ref[k] for k in (
                       "xr_users", "xr_satisfied", "sensor_late", "v2x_packets", "v2x_late",
                       "handover_failures", "ping_pong", "handovers", "background_mbit")}}
            self.rows.append(row)
            if self.policy != "noop" and i + 1 < intervals:
                t0 = time.perf_counter()
                d = self._decide(self.emu.clock, tel, got)
                self.timing["decide"] += time.perf_counter() - t0
                if d is not None:
                    self.decisions.append(d)
            if self.progress is not None:
                self.progress(i + 1, intervals)
        return self.report(time.perf_counter() - t_all)

    def report(self, wall_s: float) -> dict[str, Any]:
        df = pd.DataFrame(self.rows)
        bg, bg_ref = float(df["background_mbit"].sum()), float(
            df["background_mbit_reference"].sum())

        def ratio(num: str, den: str, late: bool = False) -> float | None:
            n, d = float(df[num].sum()), float(df[den].sum())
            if d <= 0:
                return None
            return 1.0 - n / d if late else n / d

        u: dict[str, Any] = {}
        if df["xr_users"].sum() > 0:
            # the share of XR users satisfied, over all the intervals' users
            u["xr_satisfied_ratio"] = ratio("xr_satisfied", "xr_users")
            u["xr_satisfied_ratio_no_slicing"] = ratio("xr_satisfied_reference",
                                                       "xr_users_reference")
        if df["sensor_packets"].sum() > 0:
            u["sensor_deadline_misses"] = int(df["sensor_late"].sum())
            u["sensor_deadline_misses_no_slicing"] = int(df["sensor_late_reference"].sum())
            u["sensor_packets"] = int(df["sensor_packets"].sum())
        if df["v2x_packets"].sum() > 0:
            u["v2x_reliability"] = ratio("v2x_late", "v2x_packets", late=True)
            u["v2x_reliability_no_slicing"] = ratio("v2x_late_reference",
                                                    "v2x_packets_reference", late=True)
        u.update({
            "handover_failures": int(df["handover_failures"].sum()),
            "handover_failures_no_slicing": int(df["handover_failures_reference"].sum()),
            "ping_pong_ratio": ratio("ping_pong", "handovers"),
            "ping_pong_ratio_no_slicing": ratio("ping_pong_reference", "handovers_reference"),
            "background_throughput_mbps": bg / (len(df) * self.report_s),
            "background_throughput_loss_fraction": 1.0 - bg / bg_ref if bg_ref > 0 else 0.0,
            "directives": self.directives,
        })
        keys = ("xr_satisfied", "sensor_late", "v2x_late", "background_mbit")
        return usecase_report(self, keys, u, self.engine.stats.to_dict(), wall_s)


def run_slicing(scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                backend: ChatBackend | None = None, intervals: int | None = None,
                progress: Callable[[int, int], None] | None = None,
                **kwargs: Any) -> dict[str, Any]:
    """Run :class:`SliceLoop` (default: 30 intervals) and return its JSON report: ``usecase``
    (``xr_satisfied_ratio``, ``sensor_deadline_misses``, the other users' throughput against
    no slicing), ``plan``, ``timeline`` and ``timings_s``."""
    return SliceLoop(scenario, store, policy, backend, progress=progress,
                     **kwargs).run(30 if intervals is None else intervals)
