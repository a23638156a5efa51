"""Emulator → telemetry → store → twin sync → directive → emulator, with the layer engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinnet.actions import ActionPlan, SetCellActive, SetElectricalTilt
from twinnet.emulator import GroundTruth, NetworkEmulator
from twinnet.engines.radio_calibration import RadioCalibration
from twinnet.engines.traffic_forecast import TrafficForecast
from twinnet.errors import InputError
from twinnet.loop.sync_loop import run_sync_loop
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin
from twinnet.twin.fidelity import (
    DEFAULT_THRESHOLDS,
    FidelityMonitor,
    predict_reports,
    rsrp_error,
)
from twinnet.twin.sync import TwinSync


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory):
    """Two days of hourly intervals: one to learn from, one with the engines attached; a
    cell is switched off (V2P) during the second day."""
    db = tmp_path_factory.mktemp("loop") / "store.duckdb"
    store = ContextStore(db)
    plan = ActionPlan(actions=[SetCellActive(cell="S2/1", active=False)], rationale="test")
    res = run_sync_loop("hotspot", store, intervals=36, warmup=24, interval_s=3600,
                        directives={30: plan}, reports_per_interval=250)
    yield res, store
    store.close()


@pytest.mark.slow
def test_errors_shrink_after_engines_are_fitted(loop_run):
    res, _ = loop_run
    s = res.summary()
    truth = GroundTruth()  # what the loop's emulator hid (its default)
    # L1: the hidden losses and tilt/EIRP errors put the raw 38.901 twin past the fidelity
    # threshold; the engine brings it within it and towards the floor no model can pass,
    # the reports' own noise (Gaussian measurement noise + 1 dB quantisation)
    limit = DEFAULT_THRESHOLDS[("L1", "rsrp_rmse_db")]
    floor = float(np.hypot(truth.measurement_noise_db, np.sqrt(1.0 / 12.0)))
    assert s["rsrp_rmse_db"]["before"] > limit > s["rsrp_rmse_db"]["after"]
    assert 0.9 * floor < s["rsrp_rmse_db"]["after"] < 2.5 * floor
    # the systematic part of the raw error is what the engine removes
    assert abs(s["rsrp_bias_db"]["after"]) < 0.1 * abs(s["rsrp_bias_db"]["before"])
    # L2 (+ L1): per-cell PRB utilisation predicted for the next hour, within the threshold
    limit = DEFAULT_THRESHOLDS[("L2", "prb_util_mae")]
    assert s["prb_util_mae"]["after"] < min(s["prb_util_mae"]["before"], limit)
    assert s["forecast_nrmse"]["after"] < DEFAULT_THRESHOLDS[("L2", "forecast_nrmse")]
    assert {m.split("/")[0] for m in s["models"]} == {"L1", "L2"}


@pytest.mark.slow
def test_store_holds_the_whole_loop(loop_run):
    res, store = loop_run
    n = len(res.intervals)
    assert store.count("cell_kpis") == 25 * n  # candidate small cells report zero load
    assert store.count("ue_reports") > 100 * n
    assert store.count("quarantine") == 0
    log = store.sync_log()
    assert (log.direction == "P2V").sum() == n + 1  # + the topology
    v2p = log[log.direction == "V2P"]
    assert len(v2p) == 1 and "S2/1" in v2p.summary.iloc[0]
    # the directive reached the stored topology and the network's counters
    assert not bool(store.cells().set_index("cell_id").loc["S2/1", "active"])
    k = store.cell_kpis(cells=["S2/1"])
    assert (k.prb_util_dl.iloc[:30] > 0).all() and (k.prb_util_dl.iloc[30:] == 0).all()
    # and the twin followed: right after the directive it stays within the fidelity threshold
    after = res.intervals.set_index("interval").loc[30:, "prb_util_mae"]
    assert after.mean() < DEFAULT_THRESHOLDS[("L2", "prb_util_mae")]
    fid = store.fidelity()
    assert set(fid.layer) == {"L1", "L2"} and len(fid) >= 2 * n
    # the raw twin was flagged for retraining before the engines were fitted
    rec = store.events("retrain_recommended")
    assert "L1" in set(rec.layer)
    # the active engines come back from the registry through the engine protocol, fitted on
    # the loop's reports and area demand up to their last fit
    l1 = RadioCalibration.from_registry(store)
    assert 0 < l1.n_reports_ <= min(l1.max_reports, store.count("ue_reports"))
    assert l1.metrics()["rmse_before_db"] > l1.metrics()["oof_rmse_db"]
    l2 = TrafficForecast.from_registry(store)
    assert l2.metrics()["history"] >= res.warmup
    active = store.models().query("active").model_id
    assert sorted(active) == sorted({m.split("/")[0]: m for m in res.models}.values())
    # a second run into the same store keeps its telemetry apart (its own source)
    again = run_sync_loop("hotspot", store, intervals=3, calibrate=False,
                          reports_per_interval=20)
    assert store.count("cell_kpis") == 25 * (n + len(again.intervals))


def test_emulator_hides_truth_and_obeys_directives():
    truth = GroundTruth(seed=3, tilt_error_std_deg=3.0, n_areas=0, gain_error_std_db=0.0)
    emu = NetworkEmulator("hotspot", truth=truth, reports_per_interval=200)
    twin = DigitalTwin.from_scenario("hotspot")
    # recorded configuration = the twin's; the emulated tilts differ by the hidden error
    assert np.array_equal(emu.recorded.cell_elec_tilt_deg, twin.network.cell_elec_tilt_deg)
    assert np.abs(emu.twin.network.cell_elec_tilt_deg - twin.network.cell_elec_tilt_deg).max() > 1
    t0 = emu.step()
    assert list(t0.kpis.columns[:4]) == ["ts", "cell_id", "interval_s", "prb_util_dl"]
    rep = t0.reports
    assert (rep.rsrp_dbm == rep.rsrp_dbm.round()).all()          # 1 dB quantisation
    assert rep.rsrp_dbm.between(-156, -31).all()
    assert (rep.groupby("ue_id").serving.sum() == 1).all()      # one serving cell per UE
    # twin error comes from the hidden tilt error only (no areas, no EIRP error)
    err = rsrp_error(twin, rep)
    assert 0.5 < err["rmse_db"] < 10.0
    # V2P: a directive moves the emulated network; the hidden error stays on top
    emu.apply(SetElectricalTilt(cell="S0/1", tilt_deg=12.0))
    assert emu.recorded.cell_elec_tilt_deg[0] == 12.0
    assert emu.twin.network.cell_elec_tilt_deg[0] == pytest.approx(12.0 + emu.tilt_error_deg[0])
    with pytest.raises(InputError, match="cell"):
        emu.apply(SetElectricalTilt(cell="nope", tilt_deg=5.0))
    # a second step's clock moved on by one interval
    assert emu.step().ts - t0.ts == pd.Timedelta(seconds=600)


def test_v2p_with_unknown_cell_changes_nothing(tmp_path):
    emu = NetworkEmulator("hotspot", reports_per_interval=50)
    with ContextStore(tmp_path / "s.duckdb") as store:
        twin = DigitalTwin.from_scenario("hotspot")
        sync = TwinSync(store, twin)
        sync.publish_topology(emu.recorded, twin.scenario)
        before = emu.recorded.cell_tx_power_dbm.copy()
        plan = ActionPlan(actions=[SetElectricalTilt(cell="S0/1", tilt_deg=4.0),
                                   SetElectricalTilt(cell="S99/1", tilt_deg=4.0)])
        with pytest.raises(InputError, match="S99/1"):
            sync.v2p(emu, plan)
        assert np.array_equal(emu.recorded.cell_tx_power_dbm, before)
        assert emu.recorded.cell_elec_tilt_deg[0] == twin.network.cell_elec_tilt_deg[0]
        assert (store.sync_log().direction == "V2P").sum() == 0


def test_predict_reports_matches_link_rsrp():
    twin = DigitalTwin.from_scenario("hotspot")
    rsrp = twin.link_rsrp_dbm()
    cells = twin.slot_cells()
    names = twin.network.cell_names
    rep = pd.DataFrame({"ue_id": ["ue5", "ue7", "ue99999", "ue7"],
                        "cell_id": [names[cells[5, 0]], names[cells[7, 3]], "S0/1", "zz"],
                        "rsrp_dbm": [-80.0, -90.0, -90.0, -90.0]})
    pred = predict_reports(twin, rep)
    assert pred[0] == rsrp[5, 0] and pred[1] == rsrp[7, 3]
    assert np.isnan(pred[2]) and np.isnan(pred[3])


def test_fidelity_monitor_flags_drift_once_and_resets(tmp_path):
    with ContextStore(tmp_path / "s.duckdb") as store:
        mon = FidelityMonitor(store, thresholds={("L1", "rsrp_rmse_db"): 6.0}, window=2,
                              reference_points=2, drift_ratio=2.0)
        ts = pd.date_range("2024-01-01", periods=8, freq="h")
        vals = [2.0, 2.0, 2.1, 2.0, 4.5, 4.6, 4.8, 9.0]
        flags = [mon.record(t, "L1", "rsrp_rmse_db", v, 100).drift for t, v in zip(ts, vals,
                                                                                   strict=True)]
        assert flags == [False, False, False, False, False, True, True, True]
        assert len(mon.recommendations) == 1                    # one recommendation per drift
        assert mon.recommendations[0]["engine"] == "radio_calibration"
        assert len(store.events("retrain_recommended")) == 1
        mon.retrained("L1")
        assert not mon.record(ts[-1] + pd.Timedelta("1h"), "L1", "rsrp_rmse_db", 3.0, 1).drift
        assert len(store.fidelity("L1")) == 9
