"""The network in time: users move, sessions arrive, the scheduler shares PRBs, users hand over.

:class:`NetworkSimulation` advances one network (a :class:`~twinnet.twin.twin.DigitalTwin`'s
radio model over its own copy of the users) in steps of ``dt`` on a clock. Per step:

1. hooks run (the emulator applies its truth events: outages, faults, crowds, radars);
2. every user group's mobility model moves its users (:mod:`twinnet.network.mobility`); link
   gains follow whenever the fastest group may have moved ``gain_refresh_m`` since the last
   refresh (the 38.901 chain with spatially consistent fading, so a user walking through a
   shadow or out of line of sight sees it);
3. per link slot ``[U, K]``: RSRP (TS 38.215, per resource element) and the SINR the user would
   have on that cell, with interference weighted by the other cells' PRB utilisation of the
   previous step (the load coupling of the snapshot twin, in time);
4. mobility management (:mod:`twinnet.traffic.handover`): A3 handovers with time-to-trigger,
   radio link failures and re-establishment, mobility-robustness counters;
5. sessions (:mod:`twinnet.traffic.sessions`) put bits into per-user queues, scaled by the
   demand profile at the clock's time;
6. the proportional-fair scheduler (:mod:`twinnet.traffic.scheduler`) shares each cell's
   PRB-time among its users with data, within the site's backhaul capacity; served bits leave
   the queues, and latency-sensitive packets are timed against their budget;
7. per cell, the counters an operator's OSS keeps accumulate over the reporting interval
   (PRB utilisation, active and connected users, volume and throughput, handover attempts,
   successes and failures, ping-pongs, too-early / too-late / wrong-cell, RLF, drops, CQI
   histogram, delay-budget misses).

Everything is vectorised over users; link gains are cached between refreshes (in dB), so a
step costs a few passes over ``[U, K]``.

>>> sim = NetworkSimulation(DigitalTwin.from_scenario("hotspot"))     # doctest: +SKIP
>>> result = sim.run(3600.0)                                            # doctest: +SKIP
>>> result.cells[["interval", "cell_id", "prb_util_dl", "ho_attempts"]]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.errors import InputError
from twinnet.network.mobility import MobilityModel, make_mobility
from twinnet.network.scene import scenario_geometry
from twinnet.policy.kpis import jain_fairness
from twinnet.radio.fast import slot_rsrp_sinr_kernel, threads_for
from twinnet.radio.link import cqi_from_sinr
from twinnet.radio.noise import thermal_noise_dbm
from twinnet.scenario import Simulation, Traffic, UserGroup
from twinnet.store.schema import CQI_COLUMNS
from twinnet.traffic.handover import HandoverControl, HandoverStep
from twinnet.traffic.queues import ServiceStats
from twinnet.traffic.scheduler import ProportionalFair, Schedule
from twinnet.traffic.sessions import Arrivals, Queues, TrafficSource, make_traffic

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin

__all__ = ["GroupState", "NetworkSimulation", "SimulationResult", "StepHook"]

#: counters summed over a reporting interval (per cell)
_SUMS = ("ho_attempts", "ho_successes", "ho_failures", "ping_pong", "too_early", "too_late",
         "wrong_cell", "rlf", "drops", "reestablishments", "packets_dl", "packets_late")


class StepHook(Protocol):
    """Called at the start of every step (the emulator's truth events)."""

    def before_step(self, sim: NetworkSimulation, t_s: float, dt_s: float) -> None: ...


@dataclass
class GroupState:
    """One user group in the simulation: its users and their mobility and traffic models."""

    group: UserGroup
    users: NDArray[np.int64]
    mobility: MobilityModel
    traffic: TrafficSource


@dataclass
class SimulationResult:
    """What a run measured: per-cell counters and per-group KPIs per reporting interval, the
    network KPIs over time, handover totals and serving-map snapshots."""

    cells: pd.DataFrame
    groups: pd.DataFrame
    network: pd.DataFrame
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    simulated_s: float = 0.0
    steps: int = 0

    def handover_summary(self) -> dict[str, Any]:
        """Totals over the run: attempts, success ratio, ping-pong, MRO and RLF counts."""
        c = self.cells
        tot: dict[str, Any] = {k: int(c[k].sum()) for k in _SUMS if k in c}
        att = tot.get("ho_attempts", 0)
        tot["ho_success_ratio"] = tot.get("ho_successes", 0) / att if att else None
        tot["ping_pong_ratio"] = tot.get("ping_pong", 0) / att if att else None
        return tot

    def speedup(self) -> float:
        """Simulated time over wall-clock time (× real time)."""
        return self.simulated_s / self.wall_s if self.wall_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        net = self.network
        return {
            "simulated_s": self.simulated_s, "steps": self.steps,
            "wall_s": round(self.wall_s, 3), "speedup": round(self.speedup(), 1),
            "intervals": int(net["interval"].nunique()) if len(net) else 0,
            "handovers": self.handover_summary(),
            "peak_prb_utilization": float(net["peak_prb_util_dl"].max()) if len(net) else 0.0,
            "mean_prb_utilization": float(net["mean_prb_util_dl"].mean()) if len(net) else 0.0,
            "mean_cell_throughput_mbps": float(self.cells["thr_dl_mbps"].mean())
            if len(self.cells) else 0.0,
            "packets_late_ratio": _ratio(self.cells, "packets_late", "packets_dl"),
        }


def _ratio(df: pd.DataFrame, num: str, den: str) -> float | None:
    d = float(df[den].sum()) if den in df else 0.0
    return float(df[num].sum()) / d if d > 0 else None


class NetworkSimulation:
    """One network in time (see the module docstring).

    Parameters
    ----------
    twin: the radio model (its network, users and fields); the simulation works on a fork with
        its own copy of the users, so ``twin`` itself never changes.
    config: clock, reporting and handover settings (default: the scenario's ``[simulation]``,
        else the defaults of :class:`~twinnet.scenario.Simulation`).
    seed: random stream of mobility, sessions and measurement sampling (default: the
        scenario's seed).
    groups: the user groups (default: the scenario's ``[[groups]]``); users are assigned to
        groups by a seeded permutation in the groups' proportions.
    present: which users are in the network at t = 0 (default: all); users that arrive later
        (a crowd) are marked present by a hook and attach then.
    demand_scale: per-user factor on session arrival rates at a time ``t_s`` (default: the
        scenario's diurnal profile at the clock's hour times the twin's demand multiplier).
    hooks: called at the start of every step.
    """

    def __init__(self, twin: DigitalTwin, config: Simulation | None = None, *,
                 seed: int | None = None, groups: Sequence[UserGroup] | None = None,
                 present: NDArray[np.bool_] | None = None,
                 demand_scale: Callable[[float], NDArray[np.float64]] | None = None,
                 hooks: Sequence[StepHook] = (),
                 extra_traffic: Sequence[tuple[NDArray[np.int64], Traffic]] = ()):
        sc = twin.scenario
        self.config = config or sc.simulation or Simulation()
        self.twin = twin.copy()
        self.twin._gain_cache = {}  # a simulation's many positions must not evict the parent's
        self.twin._column_cache = {}
        self.twin.users = twin.users.take(np.arange(twin.users.n))
        n = self.twin.users.n
        self.n_users = n
        self.seed = sc.seed if seed is None else int(seed)
        self.start = pd.Timestamp(self.config.start)
        self.t_s = 0.0
        self.step_count = 0
        self.x_m = self.twin.users.x_m.copy()
        self.y_m = self.twin.users.y_m.copy()
        self.present = np.ones(n, dtype=bool) if present is None else np.array(present,
                                                                                 dtype=bool)
        if self.present.shape != (n,):
            raise InputError("present", self.present.shape, f"one flag per user ({n})")
        self.hooks = list(hooks)
        self._demand_scale = demand_scale
        self.groups = self._build_groups(list(groups) if groups is not None
                                         else sc.user_groups, extra_traffic)
        self.group_of = np.full(n, -1, dtype=np.int64)
        #: each user's slice (``""``: none)
        self.slice_of = np.full(n, "", dtype=object)
        for k, g in enumerate(self.groups):
            self.group_of[g.users] = k
            if g.group.slice is not None:
                self.slice_of[g.users] = g.group.slice
        self._slices = sorted({str(g.group.slice) for g in self.groups if g.group.slice})
        self.max_speed_mps = max((g.mobility.max_speed_mps for g in self.groups), default=0.0)
        net = self.twin.network
        self.handover = HandoverControl(n, self.config.handover)
        self.pf_dl = ProportionalFair(n)
        self.pf_ul = ProportionalFair(n)
        self.pf_slice_dl = ProportionalFair(n)  # on the PRBs dedicated to slices
        self.pf_slice_ul = ProportionalFair(n)
        self.dl = Queues(n)
        self.ul = Queues(n)
        fb = [g.users for g in self.groups if g.traffic.full_buffer]
        if fb:
            self.dl.set_full_buffer(np.concatenate(fb))
        self.util_dl = np.zeros(net.n_cells)
        self.util_ul = np.zeros(net.n_cells)
        #: per-site backhaul capacity [Mbit/s] (inf: unconstrained); events change it
        self.site_cap_mbps = np.full(net.n_sites, np.inf)
        #: extra interference [mW] per user on top of the network's own (e.g. a radar)
        self.external_interference_mw = np.zeros(n)
        self._cand_moved_m = 0.0
        self._scratch: NDArray[np.float64] | None = None
        self.rsrp_dbm = np.empty((0, 0), dtype=np.float32)
        self.sinr_db = np.empty((0, 0), dtype=np.float32)
        self._refresh_links()
        self._radio_step()
        self.handover.attach(np.flatnonzero(self.present), self.rsrp_dbm, self._slot,
                             net.cell_cio_db, self.sinr_db)
        self._reset_interval()
        self._intervals: list[pd.DataFrame] = []
        self._group_rows: list[dict[str, Any]] = []
        self._network_rows: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.last_interval: pd.DataFrame | None = None
        self.last_kpis: dict[str, Any] = {}
        self.last_users: dict[str, NDArray[np.float64]] = {}
        self.last_step: HandoverStep | None = None

    # ------------------------------------------------------------------ set-up
    def _build_groups(self, groups: list[UserGroup],
                      extra: Sequence[tuple[NDArray[np.int64], Traffic]]) -> list[GroupState]:
        n_base = self.n_users - sum(len(u) for u, _ in extra)
        order = np.random.default_rng([self.seed, 13]).permutation(n_base)
        bounds = self._bounds()
        out: list[GroupState] = []
        cum = 0.0
        for k, g in enumerate(groups):
            lo = round(cum * n_base)
            cum += g.fraction
            hi = n_base if k == len(groups) - 1 else round(cum * n_base)
            users = np.sort(order[lo:hi]).astype(np.int64)
            out.append(self._group(g, users, bounds, k))
        for j, (users, traffic) in enumerate(extra):
            g = UserGroup(name=f"crowd{j}", fraction=1.0, traffic=traffic)
            out.append(self._group(g, np.asarray(users, dtype=np.int64), bounds, len(out)))
        return out

    def _group(self, g: UserGroup, users: NDArray[np.int64],
               bounds: tuple[float, float, float, float], k: int) -> GroupState:
        if g.mobility.model in ("vehicles", "road", "streets") and users.size:
            self._outdoors(users)
        ue = self.twin.users
        sc = self.twin.scenario
        streets = None
        if g.mobility.model == "streets" and sc.truth.scene:
            streets = scenario_geometry(sc)
        mob = make_mobility(g.mobility, users, self.x_m, self.y_m, ue.indoor, bounds,
                            np.random.default_rng([self.seed, 17, k]), sc.base_dir, streets)
        tra = make_traffic(g.traffic, users, ue.demand_mbps[users],
                           np.random.default_rng([self.seed, 19, k]))
        return GroupState(g, users, mob, tra)

    def _outdoors(self, users: NDArray[np.int64]) -> None:
        """Users in cars are outdoors at street level: no building-entry (O2I) loss."""
        ue = self.twin.users
        indoor = ue.indoor.copy()
        height, d2d_in, z = ue.height_m.copy(), ue.d2d_in_m.copy(), ue.o2i_z.copy()
        indoor[users] = False
        height[users] = self.twin.scenario.users.outdoor_height_m
        d2d_in[users] = 0.0
        z[users] = 0.0
        self.twin.users = replace(ue, indoor=indoor, height_m=height, d2d_in_m=d2d_in,
                                  o2i_z=z)

    def _bounds(self) -> tuple[float, float, float, float]:
        ue, net = self.twin.users, self.twin.network
        xs = np.concatenate([ue.x_m, net.site_x_m])
        ys = np.concatenate([ue.y_m, net.site_y_m])
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())

    # ------------------------------------------------------------------ radio
    def _refresh_links(self, move: bool = True) -> None:
        """Link gains of every user at its current position (cached, also in dB, until users
        move); ``move=False``: the users did not move, only the network changed."""
        if move:
            self.twin.move_users(self.x_m, self.y_m, candidates=self._cand_moved_m >= 100.0)
            if self._cand_moved_m >= 100.0:
                self._cand_moved_m = 0.0
        gain, slot = self.twin.link_gains()
        self._set_gains(np.array(gain, dtype=np.float32), slot)
        # the positions the gains hold for
        self._x_ref = self.twin.users.x_m.copy()
        self._y_ref = self.twin.users.y_m.copy()

    def _set_gains(self, gain: NDArray[np.float32], slot: NDArray[np.int32]) -> None:
        self._gain_lin = gain
        with np.errstate(divide="ignore"):
            self._gain_db = (10.0 * np.log10(gain)).astype(np.float32)
        self._slot = slot
        self._slot_full = np.broadcast_to(slot, gain.shape)
        if self.rsrp_dbm.shape != gain.shape:
            self.rsrp_dbm = np.empty(gain.shape, dtype=np.float32)
            self.sinr_db = np.empty(gain.shape, dtype=np.float32)

    def _follow_users(self) -> None:
        """Recompute the links of the users that moved ``gain_refresh_m`` since their links
        were last computed (a full refresh, with new candidate sites, every 100 m of the
        fastest user)."""
        if self._cand_moved_m >= 100.0 and self.twin.candidate_sites().shape[0] > 1:
            self._refresh_links()
            return
        moved = np.flatnonzero(np.hypot(self.x_m - self._x_ref, self.y_m - self._y_ref)
                               >= self.config.gain_refresh_m)
        if not moved.size:
            return
        ue = self.twin.users
        ue.x_m[moved] = self.x_m[moved]
        ue.y_m[moved] = self.y_m[moved]
        self.twin._positions = uuid.uuid4().hex  # its cached gains no longer hold,
        self.twin._last_gain_state = None  # nor do they as the base of an incremental update
        g = self.twin.link_gains_of(moved)
        self._gain_lin[moved] = g
        with np.errstate(divide="ignore"):
            self._gain_db[moved] = 10.0 * np.log10(g)
        self._x_ref[moved] = self.x_m[moved]
        self._y_ref[moved] = self.y_m[moved]

    def moved(self, distance_m: float) -> None:
        """Users were moved by someone else (a hook: a marching crowd) by up to
        ``distance_m``: their links follow."""
        self._cand_moved_m += distance_m
        self._follow_users()

    def set_network(self, network: Any) -> None:
        """Take a new network state (a directive, a fault, a drone); it acts from this step.
        Cells a directive creates start idle; link gains follow tilts and new sites."""
        old = self.twin.network
        grow = network.n_cells - old.n_cells
        self.twin.network = network
        if grow > 0:
            self.util_dl = np.concatenate([self.util_dl, np.zeros(grow)])
            self.util_ul = np.concatenate([self.util_ul, np.zeros(grow)])
            for k, v in self._acc.items():
                pad = np.zeros((grow, *v.shape[1:]))
                self._acc[k] = np.concatenate([v, pad])
        if network.n_sites > len(self.site_cap_mbps):
            self.site_cap_mbps = np.concatenate([self.site_cap_mbps, np.full(
                network.n_sites - len(self.site_cap_mbps), np.inf)])
        self._refresh_links(move=False)

    def _radio_step(self) -> None:
        """RSRP and SINR of every link slot under the current cell states and loads."""
        net = self.twin.network
        p_re = net.cell_re_power_dbm
        tx_mw = np.where(net.cell_active, 10.0 ** (net.cell_tx_power_dbm / 10.0), 0.0)
        noise_car = 10.0 ** (self.twin.noise_per_carrier_dbm() / 10.0)
        scratch = self._scratch
        if scratch is None or scratch.shape != (self.n_users, len(net.carriers)):
            scratch = self._scratch = np.empty((self.n_users, len(net.carriers)))
        with threads_for(self._gain_lin.size):
            slot_rsrp_sinr_kernel(self._gain_lin, self._gain_db, self._slot,
                                  net.cell_active.astype(np.uint8), p_re, tx_mw,
                                  self.util_dl, net.cell_carrier.astype(np.int64), noise_car,
                                  self.external_interference_mw, scratch, self.rsrp_dbm,
                                  self.sinr_db)

    def _serving_slot(self) -> NDArray[np.int64]:
        srv = self.handover.serving
        hit = self._slot_full == srv[:, None]
        k = hit.argmax(axis=1)
        return np.where((srv >= 0) & hit[np.arange(self.n_users), k], k, -1)

    def demand_scale(self, t_s: float) -> NDArray[np.float64]:
        """Per-user factor on session arrival rates at ``t_s`` (see the class docstring)."""
        if self._demand_scale is not None:
            return np.asarray(self._demand_scale(t_s), dtype=np.float64)
        hour = (self.start + pd.Timedelta(seconds=t_s)).hour
        s = np.full(self.n_users, self.twin.demand_scale(hour))
        if self.twin.demand_multiplier is not None and len(self.twin.demand_multiplier) == len(s):
            s = s * self.twin.demand_multiplier
        return s

    # ------------------------------------------------------------------ one step
    def step(self) -> None:
        """Advance the clock by one step (see the module docstring)."""
        dt = self.config.step_s
        t = self.t_s
        net = self.twin.network
        for h in self.hooks:
            h.before_step(self, t, dt)
        for g in self.groups:
            if g.mobility.max_speed_mps > 0:
                g.mobility.advance(self.x_m, self.y_m, t, dt)
        if self.max_speed_mps > 0:
            self._cand_moved_m += self.max_speed_mps * dt
            self._follow_users()
        self._radio_step()
        ho = self.handover.step(t, dt, self.rsrp_dbm, self._slot, net.cell_cio_db,
                                self.sinr_db, self.present,
                                net.pair_offsets() if net.cell_pair_cio_db else None,
                                net.cell_handover or None)
        self.last_step = ho
        srv = self.handover.serving
        k = self._serving_slot()
        rows = np.arange(self.n_users)
        served_ok = (k >= 0) & self.present
        sinr = np.where(served_ok, self.sinr_db[rows, np.where(k >= 0, k, 0)], -np.inf)
        cell = np.where(served_ok, srv, -1).astype(np.int32)
        c0 = np.where(cell >= 0, cell, 0)
        se = self.twin.link(np.where(np.isfinite(sinr), sinr, -100.0)).astype(np.float64)
        ovh = 1.0 - self.twin.scenario.link.overhead
        rate_dl = np.where(cell >= 0, se * net.cell_n_prb_available[c0] * net.cell_prb_hz[c0]
                           * ovh, 0.0)
        # sessions (users not in the network send nothing)
        scale = self.demand_scale(t)
        dl_arr: list[Arrivals] = []
        ul_arr: list[Arrivals] = []
        for g in self.groups:
            a = g.traffic.arrivals(t, dt, scale[g.users])
            a = _only_present(a, self.present)
            (ul_arr if g.traffic.uplink else dl_arr).append(a)
        site_cap = self.site_cap_mbps * 1e6 * dt
        cap = site_cap if np.isfinite(site_cap).any() else None
        demand = self.dl.demand_bits(dl_arr)
        demand = np.where(self.present, demand, 0.0)
        arrived = np.zeros(self.n_users)
        for a in dl_arr:
            arrived[a.users] += a.bits
        sched = self._sliced(self.pf_dl, self.pf_slice_dl, cell, rate_dl, demand, dt, cap)
        stats = self.dl.serve(dl_arr, sched.served_bits, dt, rate_bps=sched.busy_rate_bps)
        self.util_dl = np.where(net.cell_active, sched.cell_utilization, 0.0)
        ul_stats = None
        if ul_arr:
            rate_ul = self._uplink_rate(cell, k)
            ul_sched = self._sliced(self.pf_ul, self.pf_slice_ul, cell, rate_ul,
                                    self.ul.demand_bits(ul_arr), dt, None, "ul")
            ul_stats = self.ul.serve(ul_arr, ul_sched.served_bits, dt,
                                     rate_bps=ul_sched.busy_rate_bps)
            self.util_ul = np.where(net.cell_active, ul_sched.cell_utilization, 0.0)
        self._count(cell, sinr, sched.served_bits, demand, arrived, ho, stats, ul_stats,
                    sched.busy_rate_bps)
        self.t_s = t + dt
        self.step_count += 1
        if self.step_count % self.config.steps_per_report == 0:
            self._close_interval()

    def _sliced(self, pf: ProportionalFair, pf_slice: ProportionalFair,
                cell: NDArray[np.int32], rate: NDArray[np.float64],
                demand: NDArray[np.float64], dt: float,
                cap: NDArray[np.float64] | None, direction: str = "dl") -> Schedule:
        """One step's schedule with the cells' slice reservations in ``direction`` (TS 28.541
        dedicated PRBs): the users of a slice whose serving cell reserves PRBs for it are
        scheduled on those first (proportional fair among them, each (cell, slice) a pool of
        its own); what they still have to send competes with the other users for the shared
        PRBs. ``rate``: each user's rate on the shared PRBs. A cell's utilisation is the
        PRB-weighted mean of its pools. Without reservations: one proportional-fair schedule,
        as before."""
        net = self.twin.network
        site = net.cell_site if cap is not None else None
        pools = [(c, s, n) for c, sl in net.cell_prb_slices.items()
                 for s, (n, d) in sl.items() if d in ("both", direction) and n > 0]
        if not pools:
            return pf.schedule(cell, net.n_cells, rate, demand, dt, site_of_cell=site,
                               site_cap_bits=cap)
        index = {(c, s): k for k, (c, s, _) in enumerate(pools)}
        pool = np.array([index.get((int(c), str(s)), -1) if c >= 0 and s else -1
                         for c, s in zip(cell, self.slice_of, strict=True)], dtype=np.int32)
        mine = pool >= 0
        size = np.array([n for _, _, n in pools], dtype=np.float64)
        shared = np.asarray(net.cell_n_prb_available if direction == "dl"
                            else net.cell_n_prb_available_ul, dtype=np.float64)
        c0 = np.where(cell >= 0, cell, 0)
        per_prb = np.where(cell >= 0, rate / shared[c0], 0.0)
        first = pf_slice.schedule(pool, len(pools),
                                  np.where(mine, per_prb * size[np.maximum(pool, 0)], 0.0),
                                  demand, dt)
        rest = np.where(mine, np.maximum(demand - first.served_bits, 0.0), demand)
        second = pf.schedule(cell, net.n_cells, rate, rest, dt, site_of_cell=site,
                             site_cap_bits=cap)
        used = second.cell_utilization * shared
        total = shared.copy()
        for k, (c, _, n) in enumerate(pools):
            used[c] += first.cell_utilization[k] * n
            total[c] += n
        return Schedule(first.share + second.share, first.served_bits + second.served_bits,
                        used / np.maximum(total, 1e-9),
                        first.busy_rate_bps + second.busy_rate_bps)

    def _uplink_rate(self, cell: NDArray[np.int32], k: NDArray[np.int64]
                     ) -> NDArray[np.float64]:
        """Uplink rate [bit/s] with all the cell's PRBs (``k``: each user's serving slot):
        fractional power control (TS 38.213 §7.1.1) over the serving coupling loss, noise of
        the BS receiver plus a 3 dB interference margin."""
        net, r = self.twin.network, self.twin.scenario.radio
        rows = np.arange(self.n_users)
        ok = (cell >= 0) & (k >= 0)
        c0 = np.where(ok, cell, 0)
        cl_db = np.where(ok, -self._gain_db[rows, np.where(k >= 0, k, 0)], np.inf)
        n_prb = net.cell_n_prb_available_ul[c0]
        p_dbm = np.minimum(r.ue_max_power_dbm, r.ul_p0_dbm + 10.0 * np.log10(np.maximum(
            n_prb, 1)) + r.ul_alpha * np.where(ok, cl_db, 0.0))
        noise_dbm = thermal_noise_dbm(n_prb * net.cell_prb_hz[c0], r.bs_noise_figure_db)
        sinr_ul = np.where(ok, p_dbm - cl_db - noise_dbm - 3.0, -np.inf)
        se = self.twin.link(np.where(np.isfinite(sinr_ul), sinr_ul, -100.0)).astype(np.float64)
        ovh = 1.0 - self.twin.scenario.link.overhead
        return np.where(ok, se * n_prb * net.cell_prb_hz[c0] * ovh, 0.0)

    # ------------------------------------------------------------------ counters
    def _reset_interval(self) -> None:
        c = self.twin.network.n_cells
        self._acc: dict[str, NDArray[np.float64]] = {
            k: np.zeros(c) for k in ("util_dl", "util_ul", "active_dl", "connected", "bits_dl",
                                     "bits_ul", *_SUMS)}
        self._acc["active_max"] = np.zeros(c)
        self._acc["cqi"] = np.zeros((c, 16))
        self._acc_steps = 0
        self._slice_acc = {sl: np.zeros(c) for sl in self._slices}
        self._grp: dict[str, NDArray[np.float64]] = {
            k: np.zeros(len(self.groups)) for k in ("bits", "present", "late", "packets",
                                                    "out")}
        u = self.n_users
        self._usr: dict[str, NDArray[np.float64]] = {
            k: np.zeros(u) for k in ("bits", "offered", "present", "out", "busy_s", "packets",
                                     "late")}

    def _count(self, cell: NDArray[np.int32], sinr: NDArray[np.float64],
               served_bits: NDArray[np.float64], demand: NDArray[np.float64],
               arrived: NDArray[np.float64], ho: HandoverStep, stats: ServiceStats,
               ul_stats: ServiceStats | None, busy_rate: NDArray[np.float64]) -> None:
        c = self.twin.network.n_cells
        a = self._acc
        has = cell >= 0
        cs = np.where(has, cell, 0)

        def per_cell(mask: NDArray[np.bool_], w: Any = None, at: Any = None) -> Any:
            idx = cs if at is None else at
            weights = None if w is None else np.where(mask, w, 0.0)[mask]
            return np.bincount(idx[mask], weights=weights, minlength=c)

        a["util_dl"] += self.util_dl
        a["util_ul"] += self.util_ul
        active = has & (demand > 0)
        n_active = per_cell(active)
        a["active_dl"] += n_active
        a["active_max"] = np.maximum(a["active_max"], n_active)
        a["connected"] += per_cell(has)
        a["bits_dl"] += per_cell(has, served_bits)
        if ul_stats is not None:
            a["bits_ul"] += per_cell(has, ul_stats.delivered_bits)
        cqi = cqi_from_sinr(np.where(has, sinr, -100.0))
        a["cqi"] += np.bincount(cs[has] * 16 + cqi[has], minlength=c * 16).reshape(c, 16)
        src = np.where(ho.source >= 0, ho.source, 0)
        at_src = ho.source >= 0
        for name, mask in (("ho_attempts", ho.attempt), ("ho_successes", ho.success),
                           ("ho_failures", ho.failure), ("ping_pong", ho.ping_pong),
                           ("rlf", ho.rlf)):
            a[name] += per_cell(mask & at_src, at=src)
        # mobility-robustness events are charged to the cell whose settings caused them
        mro = np.where(ho.mro_cell >= 0, ho.mro_cell, 0)
        at_mro = ho.mro_cell >= 0
        for name, mask in (("too_early", ho.too_early), ("too_late", ho.too_late),
                           ("wrong_cell", ho.wrong_cell)):
            a[name] += per_cell(mask & at_mro, at=mro)
        dropped = (ho.rlf | ho.failure) & at_src & (demand > 0)
        a["drops"] += per_cell(dropped, at=src)
        a["reestablishments"] += per_cell(ho.reestablished & has)
        packets = stats.packets_delivered.astype(np.float64)
        late = stats.packets_late.astype(np.float64)
        a["packets_dl"] += per_cell(has, packets)
        a["packets_late"] += per_cell(has, late)
        g = self._grp
        gi = self.group_of
        ng = len(self.groups)
        g["bits"] += np.bincount(gi, weights=served_bits, minlength=ng)
        g["present"] += np.bincount(gi, weights=self.present.astype(float), minlength=ng)
        g["out"] += np.bincount(gi, weights=(self.present & ~has).astype(float), minlength=ng)
        g["packets"] += np.bincount(gi, weights=packets, minlength=ng)
        g["late"] += np.bincount(gi, weights=late, minlength=ng)
        usr = self._usr
        usr["bits"] += served_bits
        usr["offered"] += np.where(np.isfinite(demand), arrived, served_bits)
        usr["present"] += self.present
        usr["out"] += self.present & ~has
        usr["packets"] += packets
        usr["late"] += late
        if ul_stats is not None:  # uplink flows (IoT reports) count their packets too
            usr["packets"] += ul_stats.packets_delivered
            usr["late"] += ul_stats.packets_late
        # time with data in the buffer: the bits served at the rate the user gets while it has
        # data (the scheduler's busy rate), for the UE throughput of TS 28.552 §5.1.1.3
        usr["busy_s"] += np.where(busy_rate > 0, served_bits / np.maximum(busy_rate, 1e-9),
                                  0.0)
        for sl in self._slices:  # per-slice connected users (TS 28.552 per S-NSSAI)
            self._slice_acc[sl] += per_cell(has & (self.slice_of == sl))
        self._acc_steps += 1

    def _close_interval(self) -> None:
        a, n = self._acc, max(self._acc_steps, 1)
        net = self.twin.network
        interval = len(self._intervals)
        span = n * self.config.step_s
        ts = self.start + pd.Timedelta(seconds=self.t_s - span)
        cqi = a["cqi"]
        n_cqi = cqi.sum(axis=1)
        df = pd.DataFrame({
            "interval": interval, "ts": ts, "cell_id": net.cell_names,
            "interval_s": round(span),
            "prb_util_dl": a["util_dl"] / n, "prb_util_ul": a["util_ul"] / n,
            "thr_dl_mbps": a["bits_dl"] / span / 1e6, "thr_ul_mbps": a["bits_ul"] / span / 1e6,
            "users_dl": a["active_dl"] / n, "users_max_dl": a["active_max"],
            "users_connected": a["connected"] / n,
            "volume_dl_mbit": a["bits_dl"] / 1e6, "volume_ul_mbit": a["bits_ul"] / 1e6,
            **{k: a[k].astype(np.int64) for k in _SUMS},
            "cqi_mean": np.where(n_cqi > 0, (cqi * np.arange(16)).sum(axis=1)
                                 / np.maximum(n_cqi, 1), 0.0),
            **{col: cqi[:, i].astype(np.int64) for i, col in enumerate(CQI_COLUMNS)},
            **{f"users_slice_{sl}": v / n for sl, v in self._slice_acc.items()},
        })
        self._intervals.append(df)
        self.last_interval = df
        g = self._grp
        for k, gs in enumerate(self.groups):
            pres = g["present"][k] / n
            self._group_rows.append({
                "interval": interval, "ts": ts, "group": gs.group.name,
                "traffic": gs.traffic.__class__.__name__, "users": pres,
                "thr_per_user_mbps": g["bits"][k] / span / 1e6 / pres if pres > 0 else 0.0,
                "out_of_service": g["out"][k] / n / pres if pres > 0 else 0.0,
                "packets": int(g["packets"][k]), "packets_late": int(g["late"][k]),
            })
        act = net.cell_active
        util = df["prb_util_dl"].to_numpy()
        self._network_rows.append({
            "interval": interval, "ts": ts,
            "peak_prb_util_dl": float(util[act].max()) if act.any() else 0.0,
            "mean_prb_util_dl": float(util[act].mean()) if act.any() else 0.0,
            "thr_dl_mbps": float(df["thr_dl_mbps"].sum()),
            "users_present": float(g["present"].sum() / n),
            **{k: int(df[k].sum()) for k in _SUMS},
        })
        self.last_kpis = self._interval_kpis(df, span)
        #: per-user service of the interval: bits served, offered, steps present, steps out of
        #: service, seconds with data in the buffer
        self.last_users = {k: v.copy() for k, v in self._usr.items()}
        self._reset_interval()

    def _interval_kpis(self, cells: pd.DataFrame, span: float) -> dict[str, Any]:
        """The headline KPIs of the interval (the keys of
        :func:`twinnet.policy.kpis.network_kpis`), from the counters and per-user service."""
        usr = self._usr
        net = self.twin.network
        seen = usr["present"] > 0
        dt = self.config.step_s
        thr = np.where(seen, usr["bits"] / np.maximum(usr["present"] * dt, 1e-9) / 1e6, 0.0)[seen]
        util = cells["prb_util_dl"].to_numpy()[net.cell_active]
        offered = float(usr["offered"].sum())
        # UE throughput (TS 28.552 §5.1.1.3): volume over the time with data in the buffer —
        # what a user perceives while it downloads, whatever its demand
        sent = (usr["busy_s"] > 0) & seen
        upt = usr["bits"][sent] / usr["busy_s"][sent] / 1e6
        k: dict[str, Any] = {
            "mean_throughput_mbps": float(thr.mean()) if thr.size else 0.0,
            "p5_ue_throughput_mbps": float(np.percentile(upt, 5)) if upt.size else 0.0,
            "p5_throughput_mbps": float(np.percentile(thr, 5)) if thr.size else 0.0,
            "peak_prb_utilization": float(util.max()) if util.size else 0.0,
            "mean_prb_utilization": float(util.mean()) if util.size else 0.0,
            "jain_fairness": jain_fairness(util),
            "outage_ratio": float(usr["out"].sum() / max(usr["present"].sum(), 1.0)),
            "served_ratio": float(usr["bits"].sum() / offered) if offered > 0 else 1.0,
            "n_users": int(seen.sum()), "n_cells": int(util.size),
        }
        if util.size:
            names = np.asarray(net.cell_names)[net.cell_active]
            k["hottest_cell"] = str(names[int(np.argmax(util))])
        return k

    def snapshot(self, label: str = "") -> dict[str, Any]:
        """Positions and serving cells now (for a serving map)."""
        s = {"t_s": self.t_s, "label": label, "x_m": self.x_m.copy(), "y_m": self.y_m.copy(),
             "serving": self.handover.serving.copy(), "present": self.present.copy()}
        self.snapshots.append(s)
        return s

    # ------------------------------------------------------------------ runs
    def run(self, duration_s: float, progress: Callable[[float, float], None] | None = None,
            snapshots: int = 0) -> SimulationResult:
        """Advance ``duration_s`` (whole steps) and return the counters of every completed
        reporting interval; ``progress(done_s, total_s)`` is called every reporting interval;
        ``snapshots`` serving maps are kept at evenly spaced times (first and last included)."""
        if not duration_s > 0:
            raise InputError("duration_s", duration_s, "a positive duration [s]")
        steps = max(1, math.ceil(duration_s / self.config.step_s - 1e-9))
        marks = set(np.linspace(0, steps, snapshots).round().astype(int)) if snapshots else set()
        t0 = time.perf_counter()
        start_t = self.t_s
        for i in range(steps):
            if i in marks:
                self.snapshot(f"t={self.t_s:g} s")
            self.step()
            if progress is not None and self.step_count % self.config.steps_per_report == 0:
                progress(self.t_s - start_t, steps * self.config.step_s)
        if steps in marks:
            self.snapshot(f"t={self.t_s:g} s")
        wall = time.perf_counter() - t0
        return SimulationResult(
            cells=pd.concat(self._intervals, ignore_index=True) if self._intervals
            else pd.DataFrame(), groups=pd.DataFrame(self._group_rows),
            network=pd.DataFrame(self._network_rows), snapshots=list(self.snapshots),
            wall_s=wall, simulated_s=steps * self.config.step_s, steps=steps)

    # ------------------------------------------------------------------ reports
    def measurement_reports(self, ts: pd.Timestamp, n: int, rng: np.random.Generator,
                            noise_db: float = 1.0) -> pd.DataFrame:
        """UE measurement reports now: for ``n`` served users drawn at random, the serving cell
        and up to three strongest neighbours (RSRP quantised to 1 dB in TS 38.133's
        −156…−31 dBm range with ``noise_db`` of measurement noise; SINR in 0.5 dB steps)."""
        srv = self.handover.serving
        cand = np.flatnonzero((srv >= 0) & self.present)
        cols = ["ts", "ue_id", "x_m", "y_m", "cell_id", "serving", "rsrp_dbm", "sinr_db"]
        if not cand.size or n <= 0:
            return pd.DataFrame(columns=cols)
        users = np.sort(rng.choice(cand, size=min(n, cand.size), replace=False))
        rsrp = self.rsrp_dbm[users]
        cells = self._slot_full[users]
        s = srv[users]
        rank = np.where(cells == s[:, None], np.inf, rsrp)
        order = np.argsort(-rank, axis=1)[:, :4]
        r = np.arange(len(users))[:, None]
        cell = cells[r, order]
        p = rsrp[r, order]
        q = self.sinr_db[users][r, order]
        ok = (cell >= 0) & np.isfinite(p) & ((order == order[:, :1]) | (p > -140.0))
        names = np.array(self.twin.network.cell_names, dtype=object)
        uu = np.broadcast_to(users[:, None], cell.shape)[ok]
        meas = p[ok] + rng.normal(0.0, noise_db, int(ok.sum()))
        return pd.DataFrame({
            "ts": ts, "ue_id": [f"ue{u}" for u in uu], "x_m": self.x_m[uu], "y_m": self.y_m[uu],
            "cell_id": names[cell[ok]], "serving": cell[ok] == np.broadcast_to(
                s[:, None], cell.shape)[ok],
            "rsrp_dbm": np.clip(np.round(meas), -156.0, -31.0),
            "sinr_db": np.clip(np.round(2.0 * q[ok]) / 2.0, -23.0, 40.0),
        }).sort_values(["ue_id", "cell_id"], ignore_index=True)


def _only_present(a: Arrivals, present: NDArray[np.bool_]) -> Arrivals:
    """Arrivals of users not in the network are dropped."""
    keep = present[a.users]
    if keep.all():
        return a
    return replace(a, bits=np.where(keep, a.bits, 0.0))
