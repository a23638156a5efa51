"""Stadium surge with drone base stations (LLM-DTNet §IV-B2) on the living network.

:class:`StadiumLoop` runs an evening of an emulated living network around a crowd event beside
its twin. The operator knows the event from its calendar (:class:`~twinnet.scenario.
CalendarEvent`); the truth's crowd (``[[events]]`` of type ``crowd``) may be larger, earlier,
and partly marching in from elsewhere. Every reporting interval:

1. **L2 crowd forecast.** The users the network holds above its usual count (the cells'
   connected users, minus their level in the first ``warmup`` intervals) update
   :class:`~twinnet.engines.crowd.CrowdForecast` — the calendar's ramps, scaled and shifted to
   the arrivals. The twin holds a crowd model per calendar event: users on the event's disc,
   as many present as the forecast says (the twin's users beyond the forecast send nothing).
2. **L2 load correction** (:func:`~twinnet.loop.living.learn_load_factor`): the twin loaded
   with the present crowd learns per-user load factors from the counters.
3. **Decision for the next interval**, on the twin loaded with the forecast:

``noop``
    nothing changes;
``rule``
    the operator's standing procedure: when a macro cell's measured PRB utilisation reaches
    ``congested``, one more drone flies to the calendar venue (its centre, then a ring around
    it) at the middle altitude; the newest drone lands when every cell is below
    ``release``;
``macro``
    the macro layer alone: the greedy capacity plan (:func:`~twinnet.rrm.capacity.
    greedy_capacity_plan`) over the offsets, tilts and powers of the cells the twin shows
    above the design level, planned from the day's starting configuration;
``solver``
    the RRM engine: three plans, each checked on the twin — macro only (as ``macro``), drones
    (the placement MILP of :mod:`twinnet.rrm.drone` on the forecast crowd: demand points from
    the twin's crowd, candidate sites a grid over the venue × the fleet's altitudes, capacity
    ``min(radio, backhaul)``, at most as many drones as the fleet holds on station by rotation
    and the energy budget allows; the served share of the crowd's demand raised step by step
    until the twin shows every cell below the design level), and drones plus the macro plan on
    top. A plan that meets the design level at the least cost wins (a drone costs more than a
    retuned cell), else the one leaving the least offered load above it. The configuration in
    force is kept while it holds; a lighter plan replaces it only when the twin shows it below
    ``target − land_margin`` (drones do not land and take off again every interval);
``llm``
    as ``solver``; the language model chooses among the plans (the solver's first), with the
    crowd forecast and the twin's fidelity in its context report. Its choice stands when the
    twin shows it about as good as the solver's (at most ``choice_tolerance`` more load above
    the design level); otherwise, or when the model fails, the solver's plan is enacted and
    the overruled choice recorded.

Drones are placed by name (``D1``, ``D2``, …): a plan's drones are matched to those in the air
(a drone moves rather than lands and another takes off), new ones take the drone carrier
least used nearby; each drone's cell gets the fleet's range-extension offset. The emulator
caps each drone cell at its backhaul.

Everything is measured on the emulator: blocked user-minutes (present users out of service for
half the interval or served less than ``blocked_below`` of what they asked), per-interval
peak PRB utilisation, the p5 UE throughput (TS 28.552), the served share, and the drones'
energy — station power (hover + payload) while on station, cruise power in transit from and
back to the pad, and a relief flight out and back each time a drone's usable battery runs out
(:class:`~twinnet.scenario.Drones`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.actions import (
    ActionPlan,
    DeployDrone,
    SetCellActive,
    SetCellOffset,
    SetElectricalTilt,
    SetTxPower,
    describe_action,
)
from twinnet.emulator.events import crowd_positions
from twinnet.engines.crowd import CrowdForecast
from twinnet.errors import InputError
from twinnet.llm.engine import DecisionEngine, Outlook
from twinnet.loop.living import LivingNetwork, learn_load_factor, usecase_report
from twinnet.network.users import UserSet
from twinnet.radio.a2g import A2GLinkBudget
from twinnet.rrm.capacity import candidate_options, greedy_capacity_plan
from twinnet.rrm.drone import DronePlacementProblem, candidate_grid, solve_placement_milp
from twinnet.scenario import Drones, Scenario
from twinnet.store.context import ContextStore
from twinnet.twin.fidelity import FidelityMonitor, rsrp_error

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend

__all__ = ["STADIUM_POLICIES", "StadiumLoop", "run_stadium"]

STADIUM_POLICIES = ("noop", "rule", "macro", "solver", "llm")

#: what a plan costs beside its effect: a drone on station against a retuned cell
DRONE_COST, MACRO_COST = 10.0, 1.0


@dataclass
class _Plan:
    """A candidate configuration for the next interval and what the twin says of it."""

    name: str
    drones: list[tuple[float, float, float]]  # (x, y, altitude) of each drone on station
    macro: list[Any]                            # macro actions (absolute settings)
    actions: list[Any]                          # the directives from the current configuration
    excess: float = math.inf                    # offered load above the design level
    peak: float = 1.0

    @property
    def cost(self) -> float:
        return DRONE_COST * len(self.drones) + MACRO_COST * len(self.macro)

    def describe(self) -> str:
        d = f"{len(self.drones)} drone(s)" if self.drones else "no drones"
        m = f", {len(self.macro)} macro change(s)" if self.macro else ""
        return f"{self.name}: {d}{m}"


def _macro_diff(have: Any, want: Any) -> list[Any]:
    """Offset, tilt and power directives that take the cells of ``want`` from their settings
    in ``have`` to those in ``want`` (cells ``have`` lacks are skipped)."""
    acts: list[Any] = []
    names = have.cell_names
    for c, name in enumerate(want.cell_names):
        if name not in names:
            continue
        k = names.index(name)
        if abs(have.cell_cio_db[k] - want.cell_cio_db[c]) > 1e-6:
            acts.append(SetCellOffset(cell=name, offset_db=float(want.cell_cio_db[c])))
        if abs(have.cell_elec_tilt_deg[k] - want.cell_elec_tilt_deg[c]) > 1e-6:
            acts.append(SetElectricalTilt(cell=name, tilt_deg=float(want.cell_elec_tilt_deg[c])))
        if abs(have.cell_tx_power_dbm[k] - want.cell_tx_power_dbm[c]) > 1e-6:
            acts.append(SetTxPower(cell=name, tx_power_dbm=float(want.cell_tx_power_dbm[c])))
    return acts


class StadiumLoop:
    """A crowd event with drone base stations on the emulated living network (module
    docstring)."""

    def __init__(self, scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                 backend: ChatBackend | None = None, target: float = 0.8,
                 congested: float = 0.9, release: float = 0.6, land_margin: float = 0.15,
                 warmup: int = 3, blocked_below: float = 0.5,
                 alphas: tuple[float, ...] = (0.2, 0.35, 0.5, 0.65, 0.8, 1.0, 1.3, 1.7),
                 energy_budget_kwh: float | None = None, max_macro_change_db: float = 6.0,
                 choice_tolerance: float = 0.05,
                 llm_timeout_s: float = 30.0,
                 progress: Callable[[int, int], None] | None = None):
        if policy not in STADIUM_POLICIES:
            raise InputError("policy", policy, f"one of {list(STADIUM_POLICIES)}")
        if not 0.0 < target < congested <= 1.0:
            raise InputError("target", target, f"in (0, congested = {congested:g})")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise InputError("warmup", warmup, "an integer of at least 1")
        if energy_budget_kwh is not None and not energy_budget_kwh > 0:
            raise InputError("energy_budget_kwh", energy_budget_kwh, "a positive energy [kWh]")
        if not alphas or any(not 0.0 < a <= 3.0 for a in alphas):
            raise InputError("alphas", alphas, "served shares in (0, 3] (above 1: the "
                             "forecast demand scaled up)")
        live = LivingNetwork.open(scenario, store, "a crowd event runs in time")
        self.sc, self.emu, self.twin, self.sync = live.sc, live.emu, live.twin, live.sync
        if self.sc.drones is None:
            raise InputError("scenario.drones", None, "a [drones] table (the fleet)")
        if not self.sc.calendar:
            raise InputError("scenario.calendar", [], "at least one calendar event")
        self.fleet: Drones = self.sc.drones
        self.report_s = live.report_s
        self.store, self.policy, self.backend = store, policy, backend
        self.target, self.congested, self.release = target, congested, release
        self.land_margin, self.warmup = land_margin, warmup
        self.blocked_below = blocked_below
        self.alphas = tuple(sorted(alphas))
        self.energy_budget_kwh = energy_budget_kwh
        self.max_macro_change_db = max_macro_change_db
        self.choice_tolerance = choice_tolerance
        self._design = target - 0.03
        self.progress = progress
        self.monitor = FidelityMonitor(store)
        self.engine = DecisionEngine(backend if policy == "llm" else None, store,
                                     llm_budget_s=llm_timeout_s)
        self.forecast = CrowdForecast(self.sc.calendar)
        net = self.twin.network
        self._base_net = net.copy()
        self.n_background = self.twin.users.n
        self.crowd_users = self._crowd_model()
        self.load_factor = np.ones(self.twin.users.n)
        self._present = np.zeros(self.twin.users.n, dtype=bool)
        self._present[: self.n_background] = True
        cars = [c.name for c in self.sc.carriers]
        self.drone_carriers = list(self.fleet.carriers) or [cars[0]]
        #: drone name → {carrier, x, y, alt, up, station_s}
        self.drones: dict[str, dict[str, Any]] = {}
        self.energy_j = 0.0
        self.reliefs = 0
        self.rule_drones: list[str] = []
        self._cap_cache: tuple[int, float] | None = None
        self._baseline: list[float] = []
        self.rows: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        self.directives = 0
        self.timing = {"simulate": 0.0, "forecast": 0.0, "decide": 0.0, "milp": 0.0}

    # ------------------------------------------------------------------ the twin's crowd
    def _crowd_model(self) -> list[np.ndarray]:
        """Users on each calendar event's disc (twice the expected crowd), none present: the
        forecast decides how many of them send."""
        out = []
        sc = self.sc
        for k, e in enumerate(sc.calendar):
            m = 2 * e.expected_users
            x, y = crowd_positions(e, np.random.default_rng([sc.seed, 57, k]), users=m)
            rate = sc.demand.per_user_mbps if e.per_user_mbps is None else e.per_user_mbps
            users = UserSet(x, y, np.full(m, sc.users.outdoor_height_m),
                            np.zeros(m, dtype=bool), np.zeros(m), np.zeros(m, dtype=bool),
                            np.zeros(m), np.full(m, rate))
            out.append(self.twin.add_users(users))
        return out

    def _load(self, t_s: float) -> list[float]:
        """Load the twin for simulation time ``t_s``: the background at its diurnal level, the
        forecast crowd present; returns the forecast users per calendar event."""
        tw = self.twin
        hour = (self.emu.start + pd.Timedelta(seconds=t_s)).hour
        n = [o.users for o in self.forecast.predict(t_s)]
        pres = self._present
        pres[self.n_background:] = False
        for idx, v in zip(self.crowd_users, n, strict=True):
            pres[idx[: min(len(idx), round(v))]] = True
        tw.demand_multiplier = pres * self.load_factor * tw.demand_scale(hour)
        return n

    # ------------------------------------------------------------------ measurement
    def _measure(self, tel: Any) -> dict[str, Any]:
        kp = tel.kpis.set_index("cell_id")
        rec = self.emu.recorded
        util = kp["prb_util_dl"].reindex(rec.cell_names).fillna(0.0)
        act = rec.cell_active
        assert self.emu.sim is not None
        u = self.emu.sim.last_users
        pres = u["present"] > 0
        out = u["out"] > 0.5 * u["present"]
        starved = (u["offered"] > 0) & (u["bits"] < self.blocked_below * u["offered"])
        k = self.emu.last_kpis
        drone = rec.is_drone_site()[rec.cell_site]
        return {"blocked_users": int((pres & (out | starved)).sum()),
                "peak_prb_utilization": float(util[act].max()),
                "congested_cells": int(((util >= self.congested) & act).sum()),
                "p5_ue_throughput_mbps": k.get("p5_ue_throughput_mbps", 0.0),
                "served_ratio": k.get("served_ratio", 1.0),
                "connected_users": float(kp["users_connected"].sum()),
                "drones_up": int((act & drone).sum()),
                "drone_mbps": float(kp["thr_dl_mbps"].reindex(
                    [c for c, d in zip(rec.cell_names, drone, strict=True) if d]).sum())}

    def _fly(self, interval_s: float) -> None:
        """Energy of the drones on station over an interval, with their reliefs."""
        f = self.fleet
        e_s = f.endurance_s()
        for d in self.drones.values():
            if not d["up"]:
                continue
            self.energy_j += f.station_power_w * interval_s
            d["station_s"] += interval_s
            while d["station_s"] >= e_s:  # a relief flies out, the tired drone flies back
                d["station_s"] -= e_s
                self.reliefs += 1
                self.energy_j += 2.0 * f.cruise_power_w * f.transit_s(d["x"], d["y"])

    # ------------------------------------------------------------------ plans
    def _drone_actions(self, want: list[tuple[float, float, float]]) -> list[Any]:
        """Directives that put drones at ``want`` from the drones as they are: drones in the
        air are matched to the wanted positions nearest first and move; the other positions
        get a landed drone or a new name (on the drone carrier least used nearby); drones not
        matched land."""
        f = self.fleet
        up = {n: d for n, d in self.drones.items() if d["up"]}
        pairs = sorted((math.hypot(d["x"] - x, d["y"] - y), i, n)
                       for i, (x, y, _) in enumerate(want) for n, d in up.items())
        match: dict[int, str] = {}
        for _, i, n in pairs:
            if i not in match and n not in match.values():
                match[i] = n
        acts: list[Any] = []
        placed = [(want[i][0], want[i][1], up[n]["carrier"]) for i, n in match.items()]
        down = [n for n, d in self.drones.items() if not d["up"]]
        fresh = 0
        for i, (x, y, h) in enumerate(want):
            if i in match:
                d = up[match[i]]
                if math.hypot(d["x"] - x, d["y"] - y) > 5.0 or abs(d["alt"] - h) > 1.0:
                    acts.append(DeployDrone(cell=match[i], x_m=x, y_m=y, altitude_m=h,
                                            tx_power_dbm=f.tx_power_dbm, carrier=d["carrier"]))
                continue
            car = self._carrier_for(x, y, placed)
            pick = [n for n in down if self.drones[n]["carrier"] == car]
            if pick:
                name = pick[0]
                down.remove(name)
            else:
                fresh += 1
                name = f"D{len(self.drones) + fresh}"
            dep = DeployDrone(cell=name, x_m=x, y_m=y, altitude_m=h,
                              tx_power_dbm=f.tx_power_dbm, carrier=car)
            acts += [dep, SetCellOffset(cell=dep.cell_name(), offset_db=f.offset_db)]
            placed.append((x, y, car))
        for n, d in up.items():
            if n not in match.values():
                acts.append(SetCellActive(cell=self._cell(n, d["carrier"]), active=False))
        return acts

    def _carrier_for(self, x: float, y: float, placed: list[tuple[float, float, str]]) -> str:
        """The drone carrier whose nearest drone in the plan is farthest away."""
        def nearest(car: str) -> float:
            return min((math.hypot(px - x, py - y) for px, py, c in placed if c == car),
                       default=math.inf)
        return max(self.drone_carriers,
                   key=lambda c: (nearest(c), -self.drone_carriers.index(c)))

    @staticmethod
    def _cell(name: str, carrier: str) -> str:
        return DeployDrone(cell=name, x_m=0, y_m=0, altitude_m=100, carrier=carrier).cell_name()

    def _macro_actions(self, settings: list[Any], net: Any) -> list[Any]:
        """Directives that take every macro cell of ``net`` to the day's starting
        configuration with ``settings`` (absolute macro actions) on top."""
        want = self._base_net.copy()
        if settings:
            ActionPlan(actions=list(settings)).apply(want)
        return _macro_diff(net, want)

    def _kept_macro(self) -> list[Any]:
        """The macro settings in force, as absolute actions on the day's starting
        configuration."""
        return _macro_diff(self._base_net, self.twin.network)

    def _score(self, plan: _Plan) -> _Plan:
        fork = self.twin.copy()
        if plan.actions:
            ActionPlan(actions=list(plan.actions)).apply(fork.network)
        r = fork.evaluate_load()
        plan.excess = r.excess(self._design)
        plan.peak = r.peak_prb_utilization
        return plan

    def _directives(self, drones: list[tuple[float, float, float]], macro: list[Any]
                    ) -> list[Any]:
        """What takes the network from its configuration now to ``drones`` in the air and
        the day's starting macro configuration with ``macro`` on top."""
        return self._drone_actions(drones) + self._macro_actions(macro, self.twin.network)

    def _make(self, name: str, drones: list[tuple[float, float, float]], macro: list[Any]
              ) -> _Plan:
        return self._score(_Plan(name, drones, macro, self._directives(drones, macro)))

    def _max_drones(self, t_s: float) -> int:
        """Drones the fleet can hold on station (rotation) within the energy budget."""
        f = self.fleet
        venues = self.sc.calendar
        reach = max(math.hypot(e.x_m - f.base_x_m, e.y_m - f.base_y_m) + e.radius_m
                    for e in venues)
        n = f.stations(reach)
        if self.energy_budget_kwh is not None:
            end = max(e.end_s for e in venues) - self.forecast.shift_s_
            left_s = max(end - t_s, self.report_s)
            transit = reach / f.speed_mps
            per = (f.station_power_w * left_s
                   + f.cruise_power_w * transit * (2.0 + 2.0 * left_s / f.endurance_s()))
            spare = self.energy_budget_kwh * 3.6e6 - self.energy_j
            n = min(n, max(int(spare // per), 0))
        return n

    def _placement(self, share: float, max_drones: int
                   ) -> tuple[list[tuple[float, float, float]], dict[str, Any]]:
        """The placement MILP for ``share`` of the forecast crowd's demand."""
        f = self.fleet
        tw = self.twin
        ue = tw.users
        crowd = np.concatenate(self.crowd_users)
        crowd = crowd[self._present[crowd]]
        if not crowd.size or max_drones < 1:
            return [], {"status": "no crowd" if not crowd.size else "no drone available"}
        mult = np.asarray(tw.demand_multiplier, dtype=float)[crowd]
        # a share above 1 plans for more than the forecast (the twin may show the drones
        # carry less than the link budget says)
        mbps = ue.demand_mbps[crowd] * mult * max(share, 1.0)
        g = f.grid_m  # demand points: the crowd binned on the site grid
        key = np.round(ue.x_m[crowd] / g).astype(np.int64) * 100003 + np.round(
            ue.y_m[crowd] / g).astype(np.int64)
        _, inv = np.unique(key, return_inverse=True)
        pts = np.column_stack([np.bincount(inv, weights=ue.x_m[crowd] * mbps),
                               np.bincount(inv, weights=ue.y_m[crowd] * mbps)])
        w = np.bincount(inv, weights=mbps)
        keep = w > 0
        xy = pts[keep] / w[keep, None]
        w = w[keep]
        lo, hi = xy.min(axis=0) - f.grid_m, xy.max(axis=0) + f.grid_m
        grid = candidate_grid((float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])),
                              1.5 * f.grid_m)
        car = next(c for c in self.sc.carriers if c.name == self.drone_carriers[0])
        link = A2GLinkBudget(fc_ghz=car.fc_ghz, bandwidth_mhz=car.bandwidth_mhz,
                             tx_power_dbm=f.tx_power_dbm)
        cap = min(f.backhaul_mbps, self._drone_capacity(xy, w))
        prob = DronePlacementProblem.from_link_budget(
            xy, w, grid, altitudes_m=f.altitudes_m, link=link, backhaul_mbps=cap,
            hover_power_w=f.hover_power_w, payload_power_w=f.payload_power_w,
            target_fraction=min(share, 1.0), max_drones=max_drones)
        # a drone serves the crowd around it, not the whole disc its link budget reaches
        # (macro cells win the users farther out); among sites that serve as much, the one
        # nearest the demand it covers costs least
        radius = np.minimum(prob.coverage_radius_m,
                            1.5 * f.grid_m + 0.5 * np.asarray(prob.site_altitude_m))
        d = prob.horizontal_distance_m
        near = d <= radius[:, None]
        mean_d = (np.where(near, d, 0.0) * w).sum(axis=1) / np.maximum(
            (near * w).sum(axis=1), 1e-9)
        prob = dataclasses.replace(prob, coverage_radius_m=radius,
                                   cost=1.0 + 0.2 * mean_d / np.maximum(radius, 1.0))
        t0 = time.perf_counter()
        sol = solve_placement_milp(prob, time_limit_s=5.0)
        self.timing["milp"] += time.perf_counter() - t0
        info = {"status": sol.status, "share": share, "demand_mbps": round(float(w.sum()), 1),
                "drone_capacity_mbps": round(cap, 1),
                "drones": sol.n_drones, "load_mbps": [round(float(v), 1) for v in sol.load_mbps],
                "capacity_mbps": [round(float(v), 1) for v in sol.capacity_mbps]}
        if not sol.feasible:
            return [], info
        return [(float(x), float(y), float(h)) for (x, y), h in zip(
            sol.positions_xy_m, sol.altitudes_m, strict=True)], info

    def _drone_capacity(self, xy: np.ndarray, w: np.ndarray) -> float:
        """What one drone cell carries at full load on the twin [Mbit/s]: a probe drone over
        the crowd's centre at the middle altitude, its throughput over its PRB utilisation.
        The link budget's capacity assumes a drone alone with users spread evenly; on the
        twin the drone also draws users from around and indoors, and neighbours on its
        carrier interfere — the placement MILP plans with this capacity instead (once per
        decision)."""
        if self._cap_cache is not None and self._cap_cache[0] == len(self.rows):
            return self._cap_cache[1]
        f = self.fleet
        cx, cy = (xy * w[:, None]).sum(axis=0) / w.sum()
        probe = DeployDrone(cell="PROBE", x_m=float(cx), y_m=float(cy),
                            altitude_m=float(np.median(f.altitudes_m)),
                            tx_power_dbm=f.tx_power_dbm, carrier=self.drone_carriers[0])
        fork = self.twin.copy()
        ActionPlan(actions=[probe, SetCellOffset(cell=probe.cell_name(),
                                                 offset_db=f.offset_db)]).apply(fork.network)
        ev = fork.evaluate(uplink=False)
        c = fork.network.cell_names.index(probe.cell_name())
        u = float(ev.load.prb_utilization[c])
        cap = float(ev.load.cell_throughput_mbps[c]) / max(u, 1e-3) if u > 0 else f.backhaul_mbps
        self._cap_cache = (len(self.rows), cap)
        return cap

    def _macro_plan(self, drones: list[tuple[float, float, float]]) -> list[Any]:
        """The greedy macro plan (offsets, tilts, powers of the hot cells and their
        neighbours) on the twin with ``drones`` in the air, from the day's starting macro
        configuration."""
        fork = self.twin.copy()
        ActionPlan(actions=self._directives(drones, [])).apply(fork.network)
        r = fork.evaluate_load()
        u = r.offered_load if r.offered_load is not None else r.prb_utilization
        act = fork.network.cell_active
        names = fork.network.cell_names
        hot = [names[c] for c in np.argsort(-u) if act[c] and u[c] > self._design
               and not fork.network.is_drone_site()[fork.network.cell_site[c]]]
        if not hot:
            return []
        opts = [o for o in candidate_options(fork, self._design, congested=hot[:3], hops=1)
                if o.group.split(":", 1)[0] in ("offset", "tilt", "power")
                and self._within(o.actions)]
        res = greedy_capacity_plan(fork, self._design, options=opts)
        return list(res.plan.actions)

    def _within(self, actions: Any) -> bool:
        base = self._base_net
        for a in actions:
            if a.cell not in base.cell_names:
                return False
            c = base.cell_names.index(a.cell)
            if isinstance(a, SetTxPower) and abs(
                    a.tx_power_dbm - base.cell_tx_power_dbm[c]) > self.max_macro_change_db:
                return False
            if isinstance(a, SetCellOffset) and abs(a.offset_db) > self.max_macro_change_db:
                return False
        return True

    def _plans(self, t_s: float) -> tuple[list[_Plan], dict[str, Any]]:
        """The candidate plans (module docstring) for the forecast at ``t_s``."""
        plans = [self._make("macro only", [], self._macro_plan([]))]
        info: dict[str, Any] = {}
        if self.policy == "macro":
            return plans, info
        cap = self._max_drones(t_s)
        info["max_drones"] = cap
        best: _Plan | None = None
        for share in self.alphas:
            want, info["milp"] = self._placement(share, cap)
            info.setdefault("scan", []).append((share, len(want)))
            if not want:
                if info["milp"].get("status") in ("infeasible", "no crowd",
                                                  "no drone available"):
                    break
                continue
            p = self._make("drones", want, [])
            if best is None or p.excess < best.excess - 1e-6:
                best = p
            if p.excess <= 1e-6:
                break
        if best is not None:
            plans.append(best)
            if best.excess > 1e-6:
                plans.append(self._make("drones + macro", best.drones,
                                        self._macro_plan(best.drones)))
        return plans, info

    @staticmethod
    def _best(plans: list[_Plan]) -> _Plan:
        ok = [p for p in plans if p.excess <= 1e-6]
        if ok:
            return min(ok, key=lambda p: (p.cost, p.peak))
        return min(plans, key=lambda p: (round(p.excess, 2), p.cost))

    # ------------------------------------------------------------------ decisions
    def _apply(self, actions: list[Any], ts: pd.Timestamp, source: str, why: str,
               detail: dict[str, Any]) -> None:
        plan = ActionPlan(actions=actions, rationale=why)
        self.sync.v2p(self.emu, plan, ts=ts, reason=why)
        self.store.record_decision("stadium", plan.model_dump(), detail, "applied", source,
                                   ts=ts)
        self.directives += len(actions)
        self._track(actions)

    def _track(self, actions: list[Any]) -> None:
        """The fleet's state and transit energy after directives."""
        f = self.fleet
        for a in actions:
            if isinstance(a, DeployDrone):
                d = self.drones.get(a.cell)
                if d is None or not d["up"]:  # takes off from the pad
                    self.energy_j += f.cruise_power_w * f.transit_s(a.x_m, a.y_m)
                    self.drones[a.cell] = {"carrier": a.carrier, "x": a.x_m, "y": a.y_m,
                                           "alt": a.altitude_m, "up": True, "station_s": 0.0}
                else:  # moves
                    self.energy_j += f.cruise_power_w * math.hypot(
                        a.x_m - d["x"], a.y_m - d["y"]) / f.speed_mps
                    d.update(x=a.x_m, y=a.y_m, alt=a.altitude_m)
            elif isinstance(a, SetCellActive) and not a.active:
                name = a.cell.split("/", 1)[0]
                d = self.drones.get(name)
                if d is not None and d["up"]:  # flies back to the pad
                    self.energy_j += f.cruise_power_w * f.transit_s(d["x"], d["y"])
                    d["up"], d["station_s"] = False, 0.0

    def _current(self) -> _Plan:
        """The configuration in force, scored on the twin as loaded."""
        return self._score(_Plan("keep", [(d["x"], d["y"], d["alt"]) for d in
                                          self.drones.values() if d["up"]],
                                 self._kept_macro(), []))

    def _decide(self, ts: pd.Timestamp, t_s: float, util: pd.Series) -> dict[str, Any] | None:
        if self.policy == "rule":
            return self._rule(ts, util)
        crowd = self._load(t_s)
        now = self._current()
        changed = bool(now.drones) or bool(self._macro_actions([], self.twin.network))
        if now.excess <= 1e-6:
            if not changed:
                return None
            # the configuration holds: a lighter one (everything back, or one drone fewer)
            # replaces it only with margin to spare
            light = [self._make("stand down", [], [])]
            for j in range(len(now.drones)):
                light.append(self._make("one drone fewer", now.drones[:j] + now.drones[j + 1:],
                                        self._kept_macro()))
            ok = [p for p in light if p.peak <= self.target - self.land_margin]
            if not ok:
                return None
            best = min(ok, key=lambda p: (p.cost, p.peak))
            return self._enact(ts, light, best, crowd, now, "rrm")
        plans, info = self._plans(t_s)
        choice = self._best(plans)
        source = "rrm"
        extra: dict[str, Any] = {}
        if self.policy == "llm" and self.backend is not None and len(plans) > 1:
            # the solver's plan first, then the others; the model's choice stands only if the
            # twin shows it about as good as the solver's (its load above the design level at
            # most ``choice_tolerance`` more)
            plans = [choice] + [p for p in plans if p is not choice]
            k, extra = self._choose(ts, plans)
            if k is not None and plans[k].excess <= choice.excess + self.choice_tolerance:
                choice, source = plans[k], "llm+rrm"
            elif k is not None:
                extra["model_overruled"] = (
                    f"{plans[k].describe()} leaves {plans[k].excess:.2f} of load above the "
                    f"design level on the twin against {choice.excess:.2f}")
        if choice.excess >= now.excess - 1e-3 and not choice.cost < now.cost:
            return {"ts": str(ts), "kind": "none", "why": "no plan does better on the twin",
                    "twin_excess": round(now.excess, 3), "plans": [p.describe() for p in plans]}
        return self._enact(ts, plans, choice, crowd, now, source, {**info, **extra})

    def _enact(self, ts: pd.Timestamp, plans: list[_Plan], choice: _Plan, crowd: list[float],
               now: _Plan, source: str, info: dict[str, Any] | None = None
               ) -> dict[str, Any] | None:
        if not choice.actions:
            return None
        why = (f"{self.policy}: {choice.describe()} for a forecast crowd of "
               f"{sum(crowd):,.0f} (twin peak {now.peak:.2f} -> {choice.peak:.2f})")
        detail = {"policy": self.policy, "plan": choice.name, "crowd_forecast": crowd,
                  "twin_excess": [now.excess, choice.excess], **(info or {})}
        self._apply(list(choice.actions), ts, source, why, detail)
        return {"ts": str(ts), "kind": "act", "source": source, "plan": choice.name,
                "drones": len(choice.drones), "macro_changes": len(choice.macro),
                "crowd_forecast": round(sum(crowd)), "twin_peak": round(now.peak, 3),
                "twin_peak_after": round(choice.peak, 3),
                "candidates": [p.describe() for p in plans],
                "actions": [describe_action(a) for a in choice.actions],
                **{k: v for k, v in (info or {}).items() if k in (
                    "model_choice", "model_error", "model_overruled")}}

    def _rule(self, ts: pd.Timestamp, util: pd.Series) -> dict[str, Any] | None:
        rec = self.emu.recorded
        macro = ~rec.is_drone_site()[rec.cell_site] & rec.cell_active
        u = util.to_numpy()
        f = self.fleet
        if (u[macro] >= self.congested).any() and len(self.rule_drones) < self._max_drones(
                (len(self.rows) + 0.5) * self.report_s):
            e = self.sc.calendar[0]
            k = len(self.rule_drones)
            if k == 0:
                x, y = e.x_m, e.y_m
            else:  # a ring around the venue's centre
                a = 2.0 * math.pi * (k - 1) / 6.0
                r = 0.6 * e.radius_m
                x, y = e.x_m + r * math.cos(a), e.y_m + r * math.sin(a)
            h = float(np.median(f.altitudes_m))
            want = [(d["x"], d["y"], d["alt"]) for d in self.drones.values() if d["up"]]
            acts = self._drone_actions([*want, (x, y, h)])
            new = [a.cell for a in acts if isinstance(a, DeployDrone)]
            self.rule_drones += new
            self._apply(acts, ts, "rule", f"rule: a macro cell at PRB utilisation >= "
                        f"{self.congested:g}: one more drone", {"policy": "rule"})
            return {"ts": str(ts), "kind": "rule", "drones": len(self.rule_drones),
                    "actions": [describe_action(a) for a in acts]}
        if self.rule_drones and (u[rec.cell_active] < self.release).all():
            name = self.rule_drones.pop()
            acts = [SetCellActive(cell=self._cell(name, self.drones[name]["carrier"]),
                                  active=False)]
            self._apply(acts, ts, "rule", f"rule: every cell below {self.release:g}: "
                        "a drone lands", {"policy": "rule"})
            return {"ts": str(ts), "kind": "rule", "drones": len(self.rule_drones),
                    "actions": [describe_action(a) for a in acts]}
        return None

    def _choose(self, ts: pd.Timestamp, plans: list[_Plan]) -> tuple[int | None, dict[str, Any]]:
        """The model picks a plan (a letter, validated; ``None`` when it fails), with the
        crowd forecast in its context report."""
        notes = tuple(o.describe() for o in self.forecast.predict(
            (len(self.rows) + 0.5) * self.report_s))
        outlook = Outlook(horizon_min=int(self.report_s / 60), fidelity=self.monitor.latest(),
                          notes=notes)
        lines = [f"{p.describe()} (twin: peak PRB utilisation {p.peak:.2f}, load above target "
                 f"{p.excess:.2f}, cost {p.cost:g})" for p in plans]
        return self.engine.choose(self.twin, self.target, outlook, lines,
                                  f"Plans for the next {outlook.horizon_min} min, each checked "
                                  "on the twin with the crowd forecast:", ts)

    # ------------------------------------------------------------------ run
    def run(self, intervals: int | None = None) -> dict[str, Any]:
        n = intervals if intervals is not None else self._intervals()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError("intervals", n, "at least 1")
        t_all = time.perf_counter()
        for i in range(n):
            ts = self.emu.clock
            t0 = time.perf_counter()
            tel = self.emu.step()
            self.timing["simulate"] += time.perf_counter() - t0
            self._fly(self.report_s)
            err = rsrp_error(self.twin, tel.reports)
            self.sync.p2v(tel, update_demand=False)
            self.monitor.record(ts, "L1", "rsrp_rmse_db", err["rmse_db"], int(err["n"]))
            row: dict[str, Any] = {"interval": i, "ts": str(ts), **self._measure(tel)}
            row["energy_kwh"] = self.energy_j / 3.6e6
            t_mid = (i + 0.5) * self.report_s
            t0 = time.perf_counter()
            if i < self.warmup:
                self._baseline.append(row["connected_users"])
            else:
                excess = row["connected_users"] - float(np.mean(self._baseline))
                self.forecast.observe(t_mid, excess)
                row["crowd_measured"] = excess
            row["crowd_forecast"] = sum(o.users for o in self.forecast.predict(t_mid))
            self.timing["forecast"] += time.perf_counter() - t0
            kp = tel.kpis.set_index("cell_id")
            util = kp["prb_util_dl"].reindex(self.emu.recorded.cell_names).fillna(0.0)
            if i + 1 >= self.warmup:
                self._load(t_mid)
                m = util.reindex(self.twin.network.cell_names).fillna(0.0).to_numpy()
                self.load_factor, mae = learn_load_factor(self.twin, m, self.load_factor)
                self.monitor.record(ts, "L2", "prb_util_mae", mae,
                                    int(self.twin.network.cell_active.sum()))
                row["twin_prb_util_mae"] = mae
            self.rows.append(row)
            if self.policy != "noop" and i + 1 >= self.warmup and i + 1 < n:
                t0 = time.perf_counter()
                d = self._decide(self.emu.clock, (i + 1.5) * self.report_s, util)
                self.timing["decide"] += time.perf_counter() - t0
                if d is not None:
                    self.decisions.append(d)
            if self.progress is not None:
                self.progress(i + 1, n)
        return self.report(time.perf_counter() - t_all)

    def _intervals(self) -> int:
        """Until half an hour after the last calendar event ends, from the start."""
        end = max(e.end_s for e in self.sc.calendar) + 1800.0
        return max(1, math.ceil(end / self.report_s))

    def report(self, wall_s: float) -> dict[str, Any]:
        df = pd.DataFrame(self.rows)
        m = self.report_s / 60.0
        keys = ("peak_prb_utilization", "p5_ue_throughput_mbps", "served_ratio")
        return usecase_report(self, keys, {
                "blocked_user_minutes": float(df["blocked_users"].sum() * m),
                "peak_prb_utilization": float(df["peak_prb_utilization"].max()),
                "mean_peak_prb_utilization": float(df["peak_prb_utilization"].mean()),
                "congested_cell_minutes": float(df["congested_cells"].sum() * m),
                "p5_throughput_mbps": float(df["p5_ue_throughput_mbps"].mean()),
                "p5_throughput_mbps_worst_interval": float(df["p5_ue_throughput_mbps"].min()),
                "served_ratio": float(df["served_ratio"].mean()),
                "drone_energy_kwh": self.energy_j / 3.6e6,
                "drone_minutes": float(df["drones_up"].sum() * m),
                "max_drones_up": int(df["drones_up"].max()),
                "drone_reliefs": self.reliefs,
                "directives": self.directives,
                "plans": sum(d["kind"] in ("act", "rule") for d in self.decisions),
                "crowd": {"scale": round(self.forecast.scale_, 3),
                          "shift_min": round(-self.forecast.shift_s_ / 60.0, 1),
                          "calendar_users": [e.expected_users for e in self.sc.calendar]},
        }, self.engine.stats.to_dict(), wall_s)


def run_stadium(scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                backend: ChatBackend | None = None, intervals: int | None = None,
                progress: Callable[[int, int], None] | None = None,
                **kwargs: Any) -> dict[str, Any]:
    """Run :class:`StadiumLoop` (default: until half an hour after the calendar's last event)
    and return its JSON report: ``baseline`` / ``after``, ``plan`` (the decisions),
    ``usecase`` (``blocked_user_minutes``, ``peak_prb_utilization``, ``p5_throughput_mbps``,
    ``drone_energy_kwh``, …), ``timeline`` and ``timings_s``."""
    return StadiumLoop(scenario, store, policy, backend, progress=progress,
                       **kwargs).run(intervals)
