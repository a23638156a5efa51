"""An emulated physical network: the "real" network the twin mirrors, with a ground truth the
twin does not see.

The emulator is built from the same scenario as the twin (same sites, users and large-scale
fading), then departs from it the way a real network departs from its planning records:

* **extra losses in areas** (buildings, foliage) on every link of a user inside them;
* **antenna tilts** that differ from the recorded ones (installation and RET errors) and
  per-cell EIRP errors (feeder losses, antenna gain);
* **demand** that follows the real 10-minute Milan internet-activity series (Telecom Italia
  Big Data Challenge, 25 grid squares mapped onto a 5×5 partition of the network area) instead
  of the scenario's diurnal profile.

It reports like a real network — periodic cell KPI counters and UE measurement reports with
RSRP quantised to 1 dB (TS 38.133 §10.1.6 reporting range −156…−31 dBm) plus measurement noise,
RSRQ and SINR in 0.5 dB steps — and it takes V2P directives: the same actions the twin
understands (:mod:`twinnet.actions`), applied to the recorded configuration; the hidden tilt
error stays on top of whatever tilt is commanded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.actions import ActionPlan, _Action
from twinnet.datasets import milan
from twinnet.emulator.events import TruthEvents, crowd_positions
from twinnet.emulator.truth import AreaLoss, GroundTruth, LossArea, truth_model
from twinnet.errors import InputError
from twinnet.network.topology import Network
from twinnet.network.users import UserSet
from twinnet.scenario import Crowd, Scenario, Simulation, load_scenario
from twinnet.store.telemetry import Telemetry
from twinnet.twin.simulate import NetworkSimulation

__all__ = ["NetworkEmulator"]


class NetworkEmulator:
    """The emulated physical network (see the module docstring).

    >>> emu = NetworkEmulator("hotspot")            # doctest: +SKIP
    >>> tel = emu.step()                             # one 10-minute interval
    >>> tel.kpis.columns[:4].tolist()                # doctest: +SKIP
    ['ts', 'cell_id', 'interval_s', 'prb_util_dl']
    """

    def __init__(self, scenario: str | Scenario, truth: GroundTruth | None = None,
                 start: Any = None, interval_s: int | None = None,
                 reports_per_interval: int | None = None, milan_dir: str | Path | None = None):
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.scenario = sc
        cfg = sc.simulation
        if cfg is not None:  # a living network: the clock and reports of its [simulation]
            upd: dict[str, Any] = {}
            if interval_s is not None:
                upd["report_s"] = float(interval_s)
            if start is not None:
                upd["start"] = pd.Timestamp(start).isoformat()
            if upd:
                cfg = Simulation(**{**cfg.model_dump(), **upd})
            self.sim_cfg: Simulation | None = cfg
            interval_s = round(cfg.report_s)
            start = cfg.start
            if reports_per_interval is None:
                reports_per_interval = cfg.reports_per_interval
        else:
            self.sim_cfg = None
            interval_s = 600 if interval_s is None else interval_s
            if interval_s < 60 or interval_s % 60:
                raise InputError("interval_s", interval_s, "a whole number of minutes ≥ 60 s")
            start = milan.SERIES_T0 if start is None else start
        self.truth_cfg = truth if truth is not None else sc.truth
        self.interval_s = int(interval_s)
        self.reports_per_interval = 300 if reports_per_interval is None else int(
            reports_per_interval)
        self.clock = pd.Timestamp(start)
        self.start = self.clock
        self._rng = np.random.default_rng(self.truth_cfg.seed)
        self.twin = truth_model(sc, self.truth_cfg)  # the hidden truth, evaluated like a twin
        #: the configuration as the operator's records have it (what V2P commands change)
        self.recorded: Network = self.twin.network.copy()
        n = self.recorded.n_cells
        g = self.truth_cfg
        self.tilt_error_deg = np.clip(self._rng.normal(0.0, g.tilt_error_std_deg, n), -6.0, 6.0)
        self.gain_error_db = np.clip(self._rng.normal(0.0, g.gain_error_std_db, n), -6.0, 6.0)
        #: what the truth events do to each cell now (outages, tilt faults, PA losses)
        self.event_off = np.zeros(n, dtype=np.int64)
        self.event_tilt_deg = np.zeros(n)
        self.event_loss_db = np.zeros(n)
        self.sim: NetworkSimulation | None = None
        if g.areas is not None:
            self.areas = g.areas
        else:  # a ray-traced city has real buildings: no drawn loss areas
            self.areas = [] if g.model == "raytraced" else self._random_areas()
        self.area_loss = AreaLoss(self.areas)
        self.twin.link_adjustment = self.area_loss
        self.sync_truth()
        self._series: NDArray[np.float64] | None = None
        self._zone: NDArray[np.int64] | None = None
        if g.demand == "milan":
            s = milan.series(milan_dir)
            self._series = s.to_numpy()
            self._series_t0 = s.index[0]
            self._series_step_s = int((s.index[1] - s.index[0]).total_seconds())
            self._zone = self._user_zones()
            self._series_ref = float(s.mean(axis=1).max())
        if self.sim_cfg is not None:
            self._start_simulation(sc, self.sim_cfg)

    def _start_simulation(self, sc: Scenario, cfg: Simulation) -> None:
        """The truth in time: crowd users added (absent until their event), the events hook,
        and the simulation over the truth twin."""
        crowd_users: dict[int, NDArray[np.int64]] = {}
        extra = []
        base_n = self.twin.users.n
        for i, e in enumerate(sc.events):
            if isinstance(e, Crowd):
                x, y = crowd_positions(e, np.random.default_rng([self.truth_cfg.seed, 31, i]))
                m = e.users
                users = UserSet(x, y, np.full(m, sc.users.outdoor_height_m),
                                np.zeros(m, dtype=bool), np.zeros(m), np.zeros(m, dtype=bool),
                                np.zeros(m), np.full(m, sc.demand.per_user_mbps
                                                     if e.per_user_mbps is None
                                                     else e.per_user_mbps))
                crowd_users[i] = self.twin.add_users(users)
                extra.append((crowd_users[i], e.traffic))
        present = np.ones(self.twin.users.n, dtype=bool)
        present[base_n:] = False
        self.events = TruthEvents(self, list(sc.events), crowd_users)
        self.sim = NetworkSimulation(self.twin, cfg, seed=self.truth_cfg.seed, present=present,
                                     demand_scale=self._sim_demand, hooks=[self.events],
                                     extra_traffic=extra)

    def _sim_demand(self, t_s: float) -> NDArray[np.float64]:
        """Per-user scale of session arrivals at simulation time ``t_s`` (the truth's demand
        model; crowd users at their configured rate)."""
        n = self.twin.users.n
        base = self.demand_multiplier(self.start + pd.Timedelta(seconds=t_s))
        out = np.ones(n)
        out[: len(base)] = base[: n]
        return out

    def sim_time_s(self) -> float:
        """Seconds since the simulation's start (0 in snapshot mode)."""
        return 0.0 if self.sim is None else self.sim.t_s

    # ------------------------------------------------------------------ ground truth
    def _random_areas(self) -> list[LossArea]:
        g = self.truth_cfg
        ue = self.twin.users
        idx = self._rng.choice(ue.n, size=min(g.n_areas, ue.n), replace=False)
        return [LossArea(x_m=float(ue.x_m[i]), y_m=float(ue.y_m[i]),
                         radius_m=float(self._rng.uniform(*g.area_radius_m)),
                         loss_db=float(self._rng.uniform(*g.area_loss_db)),
                         kind=str(self._rng.choice(["building", "foliage"])))
                for i in idx]

    def sync_truth(self) -> None:
        """Rebuild the true network: the recorded configuration, the hidden errors, and what
        the truth events do now (outages, tilt faults, PA degradation)."""
        net = self.recorded.copy()
        n = len(self.event_off)
        net.cell_elec_tilt_deg = net.cell_elec_tilt_deg + self.tilt_error_deg
        net.cell_tx_power_dbm = net.cell_tx_power_dbm + self.gain_error_db
        if self.event_off.any() or self.event_tilt_deg.any() or self.event_loss_db.any():
            net.cell_elec_tilt_deg[:n] = net.cell_elec_tilt_deg[:n] + self.event_tilt_deg
            net.cell_tx_power_dbm[:n] = net.cell_tx_power_dbm[:n] - self.event_loss_db
            net.cell_active[:n] = net.cell_active[:n] & (self.event_off == 0)
        self.twin.network = net
        if getattr(self, "sim", None) is not None:
            assert self.sim is not None
            self.sim.set_network(net)
            d = self.scenario.drones
            if d is not None:  # a drone's cell carries at most its wireless backhaul
                cap = self.sim.site_cap_mbps
                drone = net.is_drone_site()
                cap[drone & ~np.isfinite(cap)] = d.backhaul_mbps

    def _user_zones(self) -> NDArray[np.int64]:
        """Zone 0…24 of each user: 5×5 partition of the users' bounding box, row-major from the
        south-west like the Milan grid (column ``k`` of the series = zone ``k``)."""
        ue = self.twin.users
        fx = (ue.x_m - ue.x_m.min()) / max(np.ptp(ue.x_m), 1e-9)
        fy = (ue.y_m - ue.y_m.min()) / max(np.ptp(ue.y_m), 1e-9)
        col = np.minimum((fx * 5).astype(np.int64), 4)
        row = np.minimum((fy * 5).astype(np.int64), 4)
        return row * 5 + col

    @property
    def demand_series_start(self) -> pd.Timestamp | None:
        """The first time of the real demand series the truth plays (``None`` without one).
        The series is played round: a time before it reads the series' end."""
        return pd.Timestamp(self._series_t0) if self._series is not None else None

    def demand_multiplier(self, ts: pd.Timestamp | None = None) -> NDArray[np.float64]:
        """Per-user demand relative to the scenario's configured (peak) demand at ``ts``."""
        t = self.clock if ts is None else pd.Timestamp(ts)
        if self.truth_cfg.demand == "peak":
            return np.ones(self.twin.users.n)
        if self._series is None or self._zone is None:
            return np.full(self.twin.users.n, self.twin.demand_scale(t.hour))
        k0 = int((t - self._series_t0).total_seconds() // self._series_step_s)
        n = max(1, self.interval_s // self._series_step_s)  # mean over the interval
        rows = np.arange(k0, k0 + n) % self._series.shape[0]
        return self._series[rows].mean(axis=0)[self._zone] / self._series_ref

    # ------------------------------------------------------------------ V2P
    def apply(self, directive: _Action | ActionPlan) -> None:
        """Apply a directive to the network (the hidden tilt error stays on top)."""
        plan = directive if isinstance(directive, ActionPlan) else ActionPlan(
            actions=[directive])
        trial = self.recorded.copy()
        plan.apply(trial)  # raises before anything changes if a cell is unknown
        extra = trial.n_cells - self.recorded.n_cells
        if extra > 0:  # new cells (drones): installed as commanded, no hidden error
            self.tilt_error_deg = np.append(self.tilt_error_deg, np.zeros(extra))
            self.gain_error_db = np.append(self.gain_error_db, np.zeros(extra))
        self.recorded = trial
        self.sync_truth()

    # ------------------------------------------------------------------ P2V
    def step(self) -> Telemetry:
        """Run one reporting interval and return its telemetry; the clock advances."""
        if self.sim is not None:
            return self._live_step()
        ts = self.clock
        twin = self.twin
        twin.demand_multiplier = self.demand_multiplier(ts)
        ev = twin.evaluate(hour=None, uplink=False)
        kpis = self._kpis(ts, ev)
        reports = self._reports(ts, ev)
        self.last_kpis = dict(ev.kpis)
        self.clock = ts + pd.Timedelta(seconds=self.interval_s)
        return Telemetry(ts, kpis, reports)

    def _live_step(self) -> Telemetry:
        """One reporting interval of the living network: the simulation's steps, its counters
        (PRB utilisation with the counters' noise), measurement reports at the interval's end,
        and the alarms and truth entries of the interval."""
        sim = self.sim
        assert sim is not None and self.sim_cfg is not None
        ts = self.clock
        for _ in range(self.sim_cfg.steps_per_report):
            sim.step()
        cells = sim.last_interval
        assert cells is not None
        net = sim.twin.network
        noise = self._rng.normal(0.0, self.truth_cfg.kpi_noise, len(cells))
        kpis = cells.drop(columns=["interval"]).assign(ts=ts)
        kpis["prb_util_dl"] = np.where(net.cell_active,
                                       np.clip(kpis["prb_util_dl"] + noise, 0.0, 1.0), 0.0)
        end = ts + pd.Timedelta(seconds=self.interval_s)
        reports = sim.measurement_reports(end, self.reports_per_interval, self._rng,
                                          self.truth_cfg.measurement_noise_db)
        alarms, truth = self.events.drain()
        self.last_kpis = dict(sim.last_kpis)
        self.clock = end
        return Telemetry(ts, kpis, reports, alarms=alarms, truth=truth,
                         bursts=self.events.drain_bursts())

    def _kpis(self, ts: pd.Timestamp, ev: Any) -> pd.DataFrame:
        c = ev.load
        net = self.twin.network
        noise = self._rng.normal(0.0, self.truth_cfg.kpi_noise, net.n_cells)
        util = np.clip(c.prb_utilization + noise, 0.0, 1.0)
        return pd.DataFrame({
            "ts": ts, "cell_id": net.cell_names, "interval_s": self.interval_s,
            "prb_util_dl": np.where(net.cell_active, util, 0.0),
            "thr_dl_mbps": c.cell_throughput_mbps,
            "users_dl": c.cell_users.astype(float),
        })

    def _reports(self, ts: pd.Timestamp, ev: Any) -> pd.DataFrame:
        """Serving cell and up to three neighbours for a sample of users."""
        twin = self.twin
        ue = twin.users
        n = min(self.reports_per_interval, ue.n)
        users = np.sort(self._rng.choice(ue.n, size=n, replace=False))
        srv = ev.users["serving_cell"].to_numpy()[users]
        keep = srv >= 0
        users, srv = users[keep], srv[keep]
        rsrp = twin.link_rsrp_dbm()[users]  # [n, K]
        cells = twin.slot_cells()[users]
        net = twin.network
        util = ev.load.prb_utilization
        noise_re_mw = 10.0 ** ((twin.noise_per_carrier_dbm()[net.cell_carrier] -
                                10.0 * np.log10(12.0 * net.cell_n_prb)) / 10.0)
        rsrp_mw = np.where(cells >= 0, 10.0 ** (rsrp / 10.0), 0.0)
        c = np.where(cells >= 0, cells, 0)
        act = np.where(cells >= 0, np.maximum(util[c], 1.0 / 6.0) * net.cell_active[c], 0.0)
        rssi_re = (rsrp_mw * act).sum(axis=1) + noise_re_mw[srv]   # per RE, all cells
        ssb_total = (rsrp_mw * net.cell_active[c]).sum(axis=1) + noise_re_mw[srv]
        # the serving cell first, then the strongest active neighbours
        rank = np.where(cells >= 0, rsrp, -np.inf)
        rank = np.where(cells == srv[:, None], np.inf, rank)
        order = np.argsort(-rank, axis=1)
        names = np.array(net.cell_names, dtype=object)
        ue_ids = np.array([f"ue{u}" for u in users], dtype=object)
        rows = []
        sigma = self.truth_cfg.measurement_noise_db
        for j in range(min(4, cells.shape[1])):
            k = order[:, j]
            r = np.arange(len(users))
            cell = cells[r, k]
            p = rsrp[r, k]
            ok = (cell >= 0) & net.cell_active[np.where(cell >= 0, cell, 0)]
            if j > 0:
                ok &= (cell != srv) & (p > -140.0)
            p_mw = rsrp_mw[r, k]
            rsrq = 10.0 * np.log10(np.maximum(p_mw / (12.0 * rssi_re), 1e-30))
            sinr = 10.0 * np.log10(np.maximum(p_mw / np.maximum(ssb_total - p_mw, 1e-30),
                                              1e-30))
            meas = p + self._rng.normal(0.0, sigma, len(p))
            rows.append(pd.DataFrame({
                "ts": ts, "ue_id": ue_ids[ok],
                "x_m": ue.x_m[users[ok]], "y_m": ue.y_m[users[ok]],
                "cell_id": names[cell[ok]],
                "serving": cell[ok] == srv[ok],
                "rsrp_dbm": np.clip(np.round(meas[ok]), -156.0, -31.0),
                "rsrq_db": np.clip(np.round(2.0 * (rsrq[ok] + self._rng.normal(0, 0.5, ok.sum())))
                                   / 2.0, -43.0, 20.0),
                "sinr_db": np.clip(np.round(2.0 * (sinr[ok] + self._rng.normal(0, 1.0, ok.sum())))
                                   / 2.0, -23.0, 40.0),
            }))
        return pd.concat(rows, ignore_index=True).sort_values(["ue_id", "cell_id"],
                                                              ignore_index=True)
