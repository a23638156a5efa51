"""Radar spectrum sharing (LLM-DTNet §IV-B3) on the living network.

:class:`RadarLoop` runs the emulated living network while a rotating radar (a ``radar`` event:
moving along a track, its beam turning every ``rotation_s``) shares a band with the cells; the
cells' emissions in its band must keep its I/N at or below the protection criterion. Every
reporting interval the L1 engine (:class:`~twinnet.engines.radar.RadarTracker`) takes the
interference bursts the cells sensed and the policy decides for the next interval:

``noop``
    no protection;
``rule``
    a static exclusion zone: from the start, every cell whose site is within the protection
    distance of the radar's declared operating area (its track) blanks the PRBs in the radar's
    band, always. The distance is where a cell at full power and load, its antenna's peak
    element gain towards the horizon, would reach the criterion in the radar's main lobe over
    free space and the radar's clutter loss;
``solver``
    dynamic blanking: the static zone until the tracker has seen the radar; then each cell
    whose main-lobe I/N (from its bursts' power by reciprocity, at full load) would exceed the
    criterion minus ``margin_db`` blanks the PRBs in the band only while the beam is predicted
    to point at it — a window of the beam's dwell on the cell plus ``guard_sigma`` standard
    deviations of the pass time's prediction (:meth:`RadarTracker.next_pass`); if the cells'
    side-lobe emissions together would exceed it, the strongest contributors blank always;
``llm``
    as ``solver``; the language model chooses among dynamic blanking with the guard as set,
    with twice the guard, and the static zone, with the radar's learnt rotation and track in
    its context report (the solver's plan when the model fails).

Measured on the emulator: ``protection_violation_fraction`` (the share of the radar's I/N
samples — two per beamwidth of the rotation — above the criterion while it operates) and
``throughput_loss_fraction`` (downlink volume against a fork of the emulator that never
protects the radar: the same users, the same random streams).
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.actions import ActionPlan, BlankPRBs, ScheduleBlanking
from twinnet.engines.radar import RadarSpec, RadarTracker
from twinnet.errors import InputError
from twinnet.llm.engine import DecisionEngine, Outlook
from twinnet.loop.living import LivingNetwork, usecase_report
from twinnet.radio.a2g import free_space_pathloss_db
from twinnet.scenario import Radar, Scenario
from twinnet.store.context import ContextStore

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend
    from twinnet.network.topology import Network

__all__ = ["RADAR_POLICIES", "RadarLoop", "protection_distance_m", "run_radar"]

RADAR_POLICIES = ("noop", "rule", "solver", "llm")


def protection_distance_m(spec: RadarSpec, tx_power_dbm: float, inband_fraction: float,
                          bs_gain_dbi: float = 8.0, clutter_loss_db: float = 0.0) -> float:
    """Distance [m] at which a cell at full load (``inband_fraction`` of its power in the
    radar's band, ``bs_gain_dbi`` towards the radar) reaches the protection criterion in the
    radar's main lobe over free space plus ``clutter_loss_db``: the static zone's radius."""
    budget = (tx_power_dbm + 10.0 * math.log10(max(inband_fraction, 1e-9)) + bs_gain_dbi
              + spec.gain_dbi - clutter_loss_db - spec.noise_dbm - spec.protection_i_n_db)
    lo, hi = 1.0, 1e7
    for _ in range(100):  # free-space loss grows with distance: bisection
        mid = math.sqrt(lo * hi)
        if float(free_space_pathloss_db(mid, spec.fc_ghz)) < budget:
            lo = mid
        else:
            hi = mid
    return lo


def _segment_distance(px: float, py: float, pts: list[tuple[float, float]]) -> float:
    """Distance from a point to a polyline."""
    if len(pts) == 1:
        return math.hypot(px - pts[0][0], py - pts[0][1])
    best = math.inf
    for (ax, ay), (bx, by) in itertools.pairwise(pts):
        dx, dy = bx - ax, by - ay
        t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy)
                                                  / (dx * dx + dy * dy)))
        best = min(best, math.hypot(px - ax - t * dx, py - ay - t * dy))
    return best


class RadarLoop:
    """Spectrum sharing with a rotating radar on the emulated living network (module
    docstring)."""

    def __init__(self, scenario: str | Scenario, store: ContextStore, policy: str = "solver",
                 backend: ChatBackend | None = None, guard_sigma: float = 4.0,
                 margin_db: float = 3.0, llm_timeout_s: float = 30.0,
                 progress: Callable[[int, int], None] | None = None):
        if policy not in RADAR_POLICIES:
            raise InputError("policy", policy, f"one of {list(RADAR_POLICIES)}")
        if not guard_sigma >= 0:
            raise InputError("guard_sigma", guard_sigma, "≥ 0 standard deviations")
        live = LivingNetwork.open(scenario, store, "a radar turns in time")
        self.sc, self.emu, self.twin, self.sync = live.sc, live.emu, live.twin, live.sync
        radars = [e for e in self.sc.events if isinstance(e, Radar)]
        if not radars:
            raise InputError("scenario.events", [e.type for e in self.sc.events],
                             "a radar event")
        self.radar = radars[0]
        self.spec = RadarSpec.of(self.radar)
        self.report_s = live.report_s
        self.store, self.policy, self.backend = store, policy, backend
        self.guard_sigma, self.margin_db = guard_sigma, margin_db
        self.progress = progress
        self.tracker = RadarTracker(self.spec, window_s=max(60.0, self.report_s))
        self.engine = DecisionEngine(backend if policy == "llm" else None, store,
                                     llm_budget_s=llm_timeout_s)
        #: the unprotected network: same users, same random streams, no directive ever
        self.ref = copy.deepcopy(self.emu)
        self.rows: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        self.directives = 0
        self.timing = {"simulate": 0.0, "track": 0.0, "decide": 0.0}

    # ------------------------------------------------------------------ plans
    def _band(self, net: Network, c: int) -> tuple[int, int]:
        car = net.carriers[net.cell_carrier[c]]
        return self.spec.band_prbs(car.fc_ghz, car.bandwidth_mhz, car.n_prb)

    def static_zone(self) -> list[str]:
        """Cells within the protection distance of the radar's declared operating area."""
        net = self.twin.network
        track = [(p.x_m, p.y_m) for p in self.radar.track]
        out = []
        for c, name in enumerate(net.cell_names):
            lo, hi = self._band(net, c)
            if hi < lo:
                continue
            frac = (hi - lo + 1) / net.carriers[net.cell_carrier[c]].n_prb
            d_p = protection_distance_m(self.spec, float(net.cell_tx_power_dbm[c]), frac,
                                        clutter_loss_db=self.radar.clutter_loss_db)
            s = net.cell_site[c]
            if _segment_distance(float(net.site_x_m[s]), float(net.site_y_m[s]), track) <= d_p:
                out.append(name)
        return out

    def _static(self, cells: list[str]) -> dict[str, Any]:
        """Actions: ``cells`` blank the band always; every other cell drops its blanking."""
        net = self.twin.network
        acts: list[Any] = []
        for c, name in enumerate(net.cell_names):
            lo, hi = self._band(net, c)
            b = net.cell_blanking.get(c)
            if name in cells and hi >= lo:
                if b is None or b.period_s > 0 or (b.start_prb, b.end_prb) != (lo, hi):
                    if b is not None and b.period_s > 0:
                        acts.append(self._unschedule(name))
                    acts.append(BlankPRBs(cell=name, start_prb=lo, end_prb=hi))
            elif b is not None:
                acts.append(self._unschedule(name) if b.period_s > 0
                            else BlankPRBs(cell=name, start_prb=b.start_prb,
                                           end_prb=b.start_prb - 1))
        return {"name": "static zone", "actions": acts, "cells": len(cells),
                "blanked_share": self._share(cells, [])}

    @staticmethod
    def _unschedule(name: str) -> ScheduleBlanking:
        return ScheduleBlanking(cell=name, start_prb=0, end_prb=-1, period_s=1.0,
                                phase_deg=0.0, from_deg=0.0, to_deg=0.0)

    def _share(self, static: list[str], windows: list[tuple[str, float]]) -> float:
        """Mean share of the cells' PRBs blanked (static cells all the time, scheduled ones
        for their window's share)."""
        net = self.twin.network
        tot = 0.0
        for c, name in enumerate(net.cell_names):
            lo, hi = self._band(net, c)
            frac = max(hi - lo + 1, 0) / net.carriers[net.cell_carrier[c]].n_prb
            if name in static:
                tot += frac
            tot += sum(frac * d for n, d in windows if n == name)
        return tot / max(net.n_cells, 1)

    def _dynamic(self, t_next: float, guard_sigma: float) -> dict[str, Any] | None:
        """Windows for the cells whose main-lobe I/N would exceed the criterion, static
        blanking of side-lobe contributors if needed; ``None`` before the radar is seen."""
        tr = self.tracker
        net = self.twin.network
        if not tr.passes:
            return None
        crit = self.spec.protection_i_n_db - self.margin_db
        main = tr.main_lobe_i_n_db(net)
        side = {c: v - (self.spec.gain_dbi - self.spec.sidelobe_dbi) for c, v in main.items()}
        static: list[str] = []
        while side and 10.0 * math.log10(sum(10.0 ** (v / 10.0) for c, v in side.items()
                                             if c not in static) + 1e-30) > crit:
            static.append(max((c for c in side if c not in static), key=lambda c: side[c]))
            if len(static) == len(side):
                break
        acts: list[Any] = []
        windows: list[tuple[str, float]] = []
        at_risk = sorted((c for c, v in main.items() if v > crit and c not in static),
                         key=lambda c: -main[c])
        rot = tr.period_s or self.radar.rotation_s
        dwell = self.spec.beamwidth_deg / 720.0 * rot  # half the beam's time on a cell
        for c, name in enumerate(net.cell_names):
            b = net.cell_blanking.get(c)
            lo, hi = self._band(net, c)
            if name in static:
                if b is not None and b.period_s > 0:
                    acts.append(self._unschedule(name))
                if b is None or b.period_s > 0:
                    acts.append(BlankPRBs(cell=name, start_prb=lo, end_prb=hi))
                continue
            if b is not None and b.period_s == 0:  # the static zone goes
                acts.append(BlankPRBs(cell=name, start_prb=b.start_prb,
                                      end_prb=b.start_prb - 1))
            if name not in at_risk:
                if b is not None and b.period_s > 0:
                    acts.append(self._unschedule(name))
                continue
            nxt = tr.next_pass(name, t_next)
            assert nxt is not None
            per, t_k, sigma = nxt
            half = 360.0 * (dwell + guard_sigma * sigma + 0.002) / per
            phase = (-360.0 * t_k / per) % 360.0
            acts.append(ScheduleBlanking(cell=name, start_prb=lo, end_prb=hi, period_s=per,
                                         phase_deg=phase, from_deg=-half, to_deg=half))
            windows.append((name, 2.0 * half / 360.0))
        return {"name": f"dynamic blanking (guard {guard_sigma:g} sigma)", "actions": acts,
                "cells": len(at_risk), "static_cells": len(static),
                "blanked_share": self._share(static, windows),
                "worst_main_i_n_db": round(max(main.values()), 1) if main else None}

    def _notes(self) -> tuple[str, ...]:
        tr = self.tracker
        if not tr.passes:
            return ("radar: not sensed yet",)
        fix = tr.track[-1] if tr.track else None
        v = tr.speed_mps()
        main = tr.main_lobe_i_n_db(self.twin.network)
        crit = self.spec.protection_i_n_db
        out = [f"radar: rotation {tr.period_s:.3f} s, sensed by {len(tr.passes)} cells; "
               f"{sum(x > crit for x in main.values())} would exceed I/N {crit:g} dB in its "
               f"main beam (worst {max(main.values()):+.0f} dB)"]
        if fix is not None:
            out.append(f"radar track: at ({fix['x_m']:.0f}, {fix['y_m']:.0f}) m"
                       + (f", moving {v:.1f} m/s" if v is not None else "")
                       + f"; fit error {fix['rms_deg']:.2f} deg")
        return tuple(out)

    def _decide(self, ts: pd.Timestamp, t_next: float, first: bool) -> dict[str, Any] | None:
        if self.policy == "rule":
            return self._enact(ts, self._static(self.static_zone()), "rule") if first else None
        dyn = self._dynamic(t_next, self.guard_sigma)
        if dyn is None:  # not seen yet: the static zone protects meanwhile
            return self._enact(ts, self._static(self.static_zone()), "rrm") if first else None
        plans = [dyn]
        source = "rrm"
        extra: dict[str, Any] = {}
        if self.policy == "llm" and self.backend is not None:
            wide = self._dynamic(t_next, 2.0 * self.guard_sigma)
            assert wide is not None
            plans += [wide, self._static(self.static_zone())]
            outlook = Outlook(horizon_min=max(1, int(self.report_s / 60)), notes=self._notes())
            lines = [f"{p['name']}: {p['cells']} cells, {100 * p['blanked_share']:.2f} % of "
                     "PRBs blanked" for p in plans]
            k, extra = self.engine.choose(self.twin, 0.8, outlook, lines,
                                          "Ways to protect the radar for the next interval:",
                                          ts)
            if k is not None:
                dyn, source = plans[k], "llm+rrm"
        return self._enact(ts, dyn, source, extra)

    def _enact(self, ts: pd.Timestamp, plan: dict[str, Any], source: str,
               extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
        acts = plan["actions"]
        if not acts:
            return None
        why = f"{self.policy}: {plan['name']}, {plan['cells']} cells"
        ap = ActionPlan(actions=acts, rationale=why)
        self.sync.v2p(self.emu, ap, ts=ts, reason=why)
        self.store.record_decision("radar", ap.model_dump(), {"policy": self.policy,
                                                             **{k: v for k, v in plan.items()
                                                                if k != "actions"}},
                                   "applied", source, ts=ts)
        self.directives += len(acts)
        return {"ts": str(ts), "kind": "act", "source": source, "plan": plan["name"],
                "cells": plan["cells"], "blanked_share": round(plan["blanked_share"], 5),
                "actions": len(acts), **(extra or {})}

    # ------------------------------------------------------------------ run
    @staticmethod
    def _radar_reading(tel: Any) -> tuple[int, int, float]:
        if tel.truth is None:
            return 0, 0, -math.inf
        for r in tel.truth.to_dict("records"):
            p = r.get("payload") or {}
            if isinstance(p, dict) and p.get("type") == "radar_i_n":
                return int(p["samples"]), int(p["violations"]), float(p["i_n_db"])
        return 0, 0, -math.inf

    def run(self, intervals: int | None = None) -> dict[str, Any]:
        end = self.radar.end_s
        n = intervals if intervals is not None else (
            math.ceil(end / self.report_s) if math.isfinite(end) else
            math.ceil(max(p.t_s for p in self.radar.track) / self.report_s))
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError("intervals", n, "at least 1")
        t_all = time.perf_counter()
        if self.policy != "noop":
            d = self._decide(self.emu.clock, 0.0, first=True)
            if d is not None:
                self.decisions.append(d)
        for i in range(n):
            ts = self.emu.clock
            t0 = time.perf_counter()
            tel = self.emu.step()
            ref = self.ref.step()
            self.timing["simulate"] += time.perf_counter() - t0
            self.sync.p2v(tel, update_demand=False)
            samples, viol, worst = self._radar_reading(tel)
            t0 = time.perf_counter()
            self.tracker.observe(tel.bursts, self.twin.network)
            self.timing["track"] += time.perf_counter() - t0
            fix = self.tracker.track[-1] if self.tracker.track else None
            truth_xy = self.radar.position((i + 1) * self.report_s)
            row = {"interval": i, "ts": str(ts), "samples": samples, "violations": viol,
                   "worst_i_n_db": worst,
                   "volume_mbit": float(tel.kpis["volume_dl_mbit"].sum()),
                   "volume_mbit_reference": float(ref.kpis["volume_dl_mbit"].sum()),
                   "bursts": 0 if tel.bursts is None else len(tel.bursts),
                   "period_s": self.tracker.period_s,
                   "position_error_m": None if fix is None else float(np.hypot(
                       fix["x_m"] - truth_xy[0], fix["y_m"] - truth_xy[1]))}
            self.rows.append(row)
            if self.policy != "noop" and i + 1 < n:
                t0 = time.perf_counter()
                d = self._decide(self.emu.clock, (i + 1) * self.report_s, first=False)
                self.timing["decide"] += time.perf_counter() - t0
                if d is not None:
                    self.decisions.append(d)
            if self.progress is not None:
                self.progress(i + 1, n)
        return self.report(time.perf_counter() - t_all)

    def report(self, wall_s: float) -> dict[str, Any]:
        df = pd.DataFrame(self.rows)
        samples = int(df["samples"].sum())
        vol, ref = float(df["volume_mbit"].sum()), float(df["volume_mbit_reference"].sum())
        per = self.tracker.period_s
        last = self.rows[-1]
        keys = ("violations", "samples", "volume_mbit")
        return usecase_report(self, keys, {
                "protection_violation_fraction": float(df["violations"].sum()) / max(samples, 1),
                "throughput_loss_fraction": 1.0 - vol / ref if ref > 0 else 0.0,
                "worst_i_n_db": float(df["worst_i_n_db"].max()),
                "protection_i_n_db": self.spec.protection_i_n_db,
                "directives": self.directives,
                "radar": {"period_s": per, "period_error_s": None if per is None
                          else abs(per - self.radar.rotation_s),
                          "cells_sensing": len(self.tracker.passes),
                          "position_error_m": last["position_error_m"],
                          "speed_mps": self.tracker.speed_mps()},
        }, self.engine.stats.to_dict(), wall_s)


def run_radar(scenario: str | Scenario, store: ContextStore, policy: str = "solver",
              backend: ChatBackend | None = None, intervals: int | None = None,
              progress: Callable[[int, int], None] | None = None,
              **kwargs: Any) -> dict[str, Any]:
    """Run :class:`RadarLoop` (default: while the radar operates) and return its JSON report:
    ``usecase`` (``protection_violation_fraction``, ``throughput_loss_fraction``, what the
    tracker learnt), ``plan``, ``timeline`` and ``timings_s``."""
    return RadarLoop(scenario, store, policy, backend, progress=progress,
                     **kwargs).run(intervals)
