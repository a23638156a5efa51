"""The P2V / V2P loop between an emulated network and its twin, with the layer engines.

Each interval: the twin predicts the interval (PRB utilisation per cell, RSRP of every
link) → the network runs it and reports → the fidelity monitor scores the prediction per
layer → the telemetry goes through the store into the twin (P2V). After ``warmup``
intervals the L1 radio-calibration engine is fitted on the stored measurement reports
(``fit_store``) and the L2 traffic-forecast engine on the reference areas' demand, both
registered in the store's model registry (``register``); the L1 engine is attached to the twin
and the L2 engine's ``predict`` sets the twin's demand. A drift flag later retrains the flagged
layer. Directives scheduled for an interval are pushed to the network (V2P) before it
runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from twinnet.actions import ActionPlan
from twinnet.emulator import GroundTruth, NetworkEmulator
from twinnet.engines.forecast import make_forecaster
from twinnet.engines.radio_calibration import RadioCalibration
from twinnet.engines.traffic_forecast import DemandAreas, TrafficForecast
from twinnet.errors import InputError
from twinnet.scenario import Scenario, load_scenario
from twinnet.store.context import ContextStore
from twinnet.twin.fidelity import FidelityMonitor, prb_error, rsrp_error
from twinnet.twin.sync import TwinSync
from twinnet.twin.twin import DigitalTwin

__all__ = ["SyncLoopResult", "run_sync_loop"]


@dataclass
class SyncLoopResult:
    """Per-interval fidelity and the before/after summary of a sync loop."""

    intervals: pd.DataFrame
    warmup: int
    models: list[str] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    directives: list[dict[str, Any]] = field(default_factory=list)
    truth: str = "perturbed"

    def summary(self) -> dict[str, Any]:
        df = self.intervals
        before = df[df.interval < self.warmup]
        after = df[df.interval >= self.warmup]
        out: dict[str, Any] = {"intervals": len(df), "warmup": self.warmup,
                               "truth": self.truth}
        for col in ("rsrp_rmse_db", "rsrp_bias_db", "prb_util_mae", "prb_util_peak_error",
                    "forecast_nrmse"):
            if col in df:
                b, a = before[col].dropna(), after[col].dropna()
                out[col] = {"before": float(b.abs().mean()) if len(b) else None,
                            "after": float(a.abs().mean()) if len(a) else None}
        out["models"] = self.models
        out["retrain_recommendations"] = len(self.recommendations)
        out["directives"] = len(self.directives)
        return out


def run_sync_loop(
    scenario: str | Scenario,
    store: ContextStore,
    intervals: int = 96,
    warmup: int = 72,
    interval_s: int = 3600,
    truth: GroundTruth | None = None,
    calibrate: bool = True,
    forecast_model: str | None = None,
    directives: dict[int, ActionPlan] | None = None,
    reports_per_interval: int = 300,
    progress: Callable[[int, int], None] | None = None,
) -> SyncLoopResult:
    """Run the emulator and the twin side by side for ``intervals`` reporting intervals.

    ``calibrate=False`` runs the same loop without ever fitting the engines (a baseline).
    """
    if intervals < 1:
        raise InputError("intervals", intervals, "at least 1")
    if calibrate and not 2 <= warmup < intervals:
        raise InputError("warmup", warmup, f"between 2 and intervals - 1 = {intervals - 1}")
    if calibrate and forecast_model is not None:  # an unknown or unavailable model fails now,
        make_forecaster(forecast_model).check_available()  # not after the warm-up
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    emu = NetworkEmulator(sc, truth=truth, interval_s=interval_s,
                          reports_per_interval=reports_per_interval)
    twin = DigitalTwin(sc)
    sync = TwinSync(store, twin, source=f"emulator:{uuid.uuid4().hex[:8]}")
    sync.publish_topology(emu.recorded, sc)
    monitor = FidelityMonitor(store)
    result = SyncLoopResult(pd.DataFrame(), warmup, truth=emu.truth_cfg.model)
    l1: RadioCalibration | None = None
    l2: TrafficForecast | None = None
    rows = []
    plans = directives or {}
    handled = 0
    areas = DemandAreas(twin)
    area_rows: dict[pd.Timestamp, pd.Series] = {}

    def fit_l1() -> RadioCalibration:
        eng = RadioCalibration().fit_store(store, source=sync.source, twin=twin)
        eng.attach(twin)
        result.models.append(eng.register(store))
        monitor.retrained("L1")
        return eng

    def area_history() -> pd.DataFrame:
        return pd.DataFrame(area_rows).T.sort_index()

    def fit_l2() -> TrafficForecast:
        # the L2 series are the reference areas' demand (DemandAreas), computed as the
        # intervals arrive with the twin's configuration of each, so the engine is fitted on
        # that frame rather than on the stored per-cell counters
        eng = TrafficForecast(forecast_model).fit(area_history())
        result.models.append(eng.register(store))
        monitor.retrained("L2")
        return eng

    for i in range(intervals):
        ts = emu.clock
        if i in plans:
            s = sync.v2p(emu, plans[i], reason=f"scheduled directive at interval {i}")
            result.directives.append({"interval": i, "changes": s.parameter_changes})
        # the twin's belief about this interval
        forecast = None
        if l2 is not None:
            forecast = l2.predict(area_history(), horizon=1).mean.iloc[0]
            twin.demand_multiplier = areas.multiplier(twin, forecast, ts.hour)
        elif calibrate is False or l1 is None:
            twin.demand_multiplier = None  # the scenario's demand profile
        ev = twin.evaluate(hour=ts.hour, uplink=False)
        pred_util = pd.Series(ev.cells["prb_utilization"].to_numpy(), index=ev.cells["name"])
        tel = emu.step()
        r = rsrp_error(twin, tel.reports)
        p = prb_error(pred_util, tel.kpis)
        row: dict[str, Any] = {"interval": i, "ts": ts, "rsrp_rmse_db": r["rmse_db"],
                               "rsrp_bias_db": r["bias_db"], "prb_util_mae": p["mae"],
                               "prb_util_peak_error": p["peak_error"],
                               "reported_peak_util": float(tel.kpis.prb_util_dl.max())}
        monitor.record(ts, "L1", "rsrp_rmse_db", r["rmse_db"], int(r["n"]))
        monitor.record(ts, "L2", "prb_util_mae", p["mae"], int(p["n"]))
        observed = areas.area_demand(twin, tel.kpis.set_index("cell_id")["thr_dl_mbps"])
        area_rows[ts] = observed
        if forecast is not None:
            actual = observed.reindex(forecast.index)
            f_err = float(np.sqrt(np.mean((forecast - actual) ** 2)) / max(actual.mean(), 1e-9))
            row["forecast_nrmse"] = f_err
            monitor.record(ts, "L2", "forecast_nrmse", f_err, len(actual))
        rows.append(row)
        sync.p2v(tel, update_demand=False)
        if calibrate and i == warmup - 1:
            l1 = fit_l1()
            l2 = fit_l2()
            handled = len(monitor.recommendations)  # the first fit answers them all
            result.recommendations.extend(monitor.recommendations)
        elif calibrate and l1 is not None:
            for rec in monitor.recommendations[handled:]:
                handled += 1
                result.recommendations.append(rec)
                if rec["layer"] == "L1":
                    l1 = fit_l1()
                elif rec["layer"] == "L2":
                    l2 = fit_l2()
        if progress is not None:
            progress(i + 1, intervals)
    result.intervals = pd.DataFrame(rows)
    return result
