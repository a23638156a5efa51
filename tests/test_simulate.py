"""The network in time: the simulation core, the emulator's truth events, the CLI.

Real components throughout (the twin's 38.901 chain, the mobility, traffic, scheduler and
handover models, DuckDB); small networks so each test runs in seconds."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from twinnet.emulator import NetworkEmulator
from twinnet.scenario import Scenario
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin
from twinnet.twin.simulate import NetworkSimulation
from twinnet.twin.sync import TwinSync


def _scenario(**extra: object) -> Scenario:
    base: dict[str, object] = {
        "name": "small", "seed": 3,
        "layout": {"type": "hex", "n_sites": 7, "isd_m": 300.0, "bs_height_m": 25.0},
        "carriers": [{"name": "n78", "fc_ghz": 3.5, "bandwidth_mhz": 20, "scs_khz": 30,
                      "tx_power_dbm": 43.0}],
        "users": {"count": 700, "indoor_fraction": 0.5},
        "demand": {"per_user_mbps": 0.3, "diurnal": "flat"},
        "simulation": {"step_s": 1.0, "report_s": 60.0},
        "truth": {"demand": "peak", "n_areas": 0, "tilt_error_std_deg": 0.0,
                  "gain_error_std_db": 0.0, "measurement_noise_db": 0.0, "kpi_noise": 0.0},
    }
    base.update(extra)
    return Scenario.from_dict(base)


def test_static_users_at_constant_demand_load_the_cells_like_the_snapshot_twin():
    """Static users with the configured constant demand: the scheduler's PRB utilisation per
    cell (a time average) converges to the snapshot twin's load-coupled fixed point."""
    sc = _scenario()
    twin = DigitalTwin(sc)
    snap = twin.evaluate().cells.set_index("name")["prb_utilization"]
    res = NetworkSimulation(twin).run(180.0)
    last = res.cells[res.cells.interval == res.cells.interval.max()].set_index("cell_id")
    assert snap.max() < 0.9  # no saturated cell: the two models should agree
    np.testing.assert_allclose(last["prb_util_dl"].reindex(snap.index), snap, atol=0.03,
                               rtol=0.10)
    # nobody moves: after the initial access, no handover and no radio link failure
    assert res.cells[["ho_attempts", "rlf"]].to_numpy().sum() == 0
    # the served traffic is the offered one (no saturated cell)
    assert res.cells["thr_dl_mbps"].groupby(res.cells.interval).sum().iloc[-1] == pytest.approx(
        float(twin.evaluate().cells["throughput_mbps"].sum()), rel=0.05)


def test_simulating_does_not_change_the_twin():
    sc = _scenario(groups=[{"name": "walkers", "fraction": 1.0,
                            "mobility": {"model": "random_waypoint"}}])
    twin = DigitalTwin(sc)
    x0, gain0 = twin.users.x_m.copy(), twin.link_gains()[0].copy()
    res = twin.simulate(120.0)
    assert res.steps == 120
    np.testing.assert_array_equal(twin.users.x_m, x0)
    np.testing.assert_array_equal(twin.link_gains()[0], gain0)


def test_moving_users_hand_over_and_static_ones_do_not():
    sc = _scenario(groups=[{"name": "cars", "fraction": 0.5,
                            "mobility": {"model": "vehicles", "speed_mps": [12.0, 15.0]}},
                           {"name": "home", "fraction": 0.5}])
    sim = NetworkSimulation(DigitalTwin(sc))
    res = sim.run(600.0)
    ho = res.handover_summary()
    assert ho["ho_attempts"] > 20
    assert ho["ho_success_ratio"] > 0.9
    # handovers are made by the cars: the static group's users keep their cell
    static = sim.groups[1].users
    assert np.all(sim.handover.serving[static] >= 0)


def test_an_outage_shows_in_the_counters_of_its_interval_and_not_before(tmp_path):
    sc = _scenario(events=[{"type": "cell_outage", "cell": "S0/1", "at_s": 120.0,
                            "duration_s": 120.0}])
    emu = NetworkEmulator(sc)
    store = ContextStore(tmp_path / "s.duckdb")
    sync = TwinSync(store, DigitalTwin(sc), source="emu")
    sync.publish_topology(emu.recorded, sc)
    rows = []
    for i in range(5):
        tel = emu.step()
        sync.ingest(tel)
        k = tel.kpis.set_index("cell_id").loc["S0/1"]
        rows.append((i, k["prb_util_dl"], k["users_connected"], k["rlf"],
                     len(tel.alarms) if tel.alarms is not None else 0))
    util = [r[1] for r in rows]
    assert util[0] > 0.05 and util[1] > 0.05          # before the outage
    assert util[2] == 0.0 and util[3] == 0.0          # during (intervals 2 and 3)
    assert util[4] > 0.05                             # back
    assert rows[2][3] > 0 and rows[0][3] == rows[1][3] == 0   # its users' links fail
    assert [r[4] for r in rows] == [0, 0, 1, 0, 1]    # alarm raised, then cleared
    alarms = store.events("alarm")
    assert list(alarms.severity) == ["critical", "cleared"]
    assert set(alarms.cell_id) == {"S0/1"}
    truth = store.events("truth")
    assert len(truth) == 2 and truth.ts.iloc[0] == emu.start + pd.Timedelta(seconds=120)


def test_a_crowd_arrives_and_loads_its_cells():
    sc = _scenario(events=[{"type": "crowd", "x_m": 50.0, "y_m": 30.0, "radius_m": 40.0,
                            "users": 200, "at_s": 60.0, "ramp_in_s": 60.0, "hold_s": 120.0,
                            "ramp_out_s": 60.0}])
    emu = NetworkEmulator(sc)
    assert emu.twin.users.n == 900
    tels = [emu.step() for _ in range(6)]
    conn = [float(t.kpis["users_connected"].sum()) for t in tels]
    assert conn[0] == pytest.approx(700, abs=5)
    assert conn[3] == pytest.approx(900, abs=5)       # all present during the hold
    assert conn[5] == pytest.approx(700, abs=5)       # gone again
    peak = [float(t.kpis["prb_util_dl"].max()) for t in tels]
    assert peak[3] > peak[0] + 0.1


def test_backhaul_cap_bounds_the_site_throughput():
    sc = _scenario(groups=[{"name": "fb", "fraction": 1.0,
                            "traffic": {"model": "full_buffer"}}],
                   events=[{"type": "backhaul_congestion", "site": "S0", "at_s": 60.0,
                            "capacity_mbps": 5.0}])
    emu = NetworkEmulator(sc)
    a, b = emu.step(), emu.step()
    site = [c for c in emu.recorded.cell_names if c.startswith("S0/")]
    before = float(a.kpis.set_index("cell_id").loc[site, "thr_dl_mbps"].sum())
    during = float(b.kpis.set_index("cell_id").loc[site, "thr_dl_mbps"].sum())
    assert before > 20.0
    assert during == pytest.approx(5.0, rel=0.01)


def test_store_gains_the_counter_columns(tmp_path):
    import duckdb

    f = tmp_path / "old.duckdb"
    con = duckdb.connect(str(f))
    con.execute("CREATE TABLE cell_kpis (row_key VARCHAR PRIMARY KEY, ts TIMESTAMP, "
                "time_of_day_min INTEGER, cell_id VARCHAR NOT NULL, interval_s INTEGER, "
                "prb_util_dl DOUBLE, source VARCHAR, ingest_id VARCHAR)")
    con.execute("INSERT INTO cell_kpis (row_key, cell_id, prb_util_dl) VALUES ('k', 'A', 0.5)")
    con.close()
    with ContextStore(f) as s:
        df = s.query("SELECT cell_id, prb_util_dl, ho_attempts, cqi_15 FROM cell_kpis")
        assert df.cell_id.tolist() == ["A"] and df.prb_util_dl.tolist() == [0.5]
        assert df.ho_attempts.isna().all()
        assert s.query("SELECT value FROM meta WHERE key = 'schema_version'").value[0] == "2"


def test_simulate_command_writes_the_run_folder(tmp_path):
    sc = tmp_path / "small.toml"
    sc.write_text("""
name = "small"
seed = 3
[layout]
type = "hex"
n_sites = 7
isd_m = 300.0
[users]
count = 400
[demand]
per_user_mbps = 0.2
[simulation]
step_s = 1.0
report_s = 300.0
[[groups]]
name = "walkers"
fraction = 1.0
mobility = { model = "random_waypoint" }
traffic = { model = "ftp3" }
""")
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "twinnet.cli", "simulate", str(sc), "--hours",
                        "0.25", "--out", str(out), "--json", "--snapshots", "2"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(p.stdout)
    assert r["steps"] == 900 and r["intervals"] == 3
    for f in ("cells.parquet", "groups.parquet", "network.parquet", "kpis_over_time.png",
              "serving_t0.png", "serving_t1.png", "summary.json", "report.md"):
        assert (out / f).stat().st_size > 0, f
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells) == 3 * 21 and cells.prb_util_dl.between(0, 1).all()
    bad = subprocess.run([sys.executable, "-m", "twinnet.cli", "simulate", str(sc), "--hours",
                          "0.01"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "--hours" in bad.stderr


def test_reports_of_users_who_moved_are_predicted_where_they_were():
    """P2V from a living network: a report's RSRP is predicted at the reported position, which
    is what the twin gives once its user is moved there."""
    from twinnet.twin.fidelity import predict_reports

    twin = DigitalTwin(_scenario())
    names = twin.network.cell_names
    u = np.array([3, 40, 41, 500])
    x = twin.users.x_m[u] + np.array([0.0, 80.0, -120.0, 35.0])
    y = twin.users.y_m[u] + np.array([0.0, -60.0, 10.0, 90.0])
    rep = pd.DataFrame({"ue_id": [f"ue{i}" for i in u], "cell_id": [names[0], names[4],
                                                                  names[7], names[12]],
                        "x_m": x, "y_m": y})
    got = predict_reports(twin, rep)
    moved = twin.copy()
    xs, ys = twin.users.x_m.copy(), twin.users.y_m.copy()
    xs[u], ys[u] = x, y
    moved.move_users(xs, ys)
    expected = predict_reports(moved, rep.drop(columns=["x_m", "y_m"]))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    # the unmoved user's prediction is the twin's own
    assert got[0] == predict_reports(twin, rep.drop(columns=["x_m", "y_m"]))[0]
    assert abs(got[1] - predict_reports(twin, rep.drop(columns=["x_m", "y_m"]))[1]) > 0.1


def test_silent_faults_change_the_truth_without_an_alarm():
    """A tilt fault and a PA degradation act on the true network (its RSRP and load) but the
    network raises no alarm; the truth records both."""
    sc = _scenario(events=[
        {"type": "tilt_fault", "cell": "S0/1", "at_s": 60.0, "delta_deg": 8.0},
        {"type": "pa_degradation", "cell": "S1/2", "at_s": 60.0, "loss_db": 10.0}])
    emu = NetworkEmulator(sc)
    a = emu.step()
    i1 = emu.recorded.cell_names.index("S1/2")
    i0 = emu.recorded.cell_names.index("S0/1")
    p_before = emu.twin.network.cell_tx_power_dbm[i1]
    t_before = emu.twin.network.cell_elec_tilt_deg[i0]
    b = emu.step()
    assert emu.twin.network.cell_tx_power_dbm[i1] == pytest.approx(p_before - 10.0)
    assert emu.twin.network.cell_elec_tilt_deg[i0] == pytest.approx(t_before + 8.0)
    assert emu.recorded.cell_tx_power_dbm[i1] == pytest.approx(p_before)  # records unchanged
    assert len(a.alarms) == 0 and len(b.alarms) == 0
    assert sorted(b.truth.message) == ["pa_degradation starts", "tilt_fault starts"]
    # the weaker cell serves fewer users
    ka, kb = a.kpis.set_index("cell_id"), b.kpis.set_index("cell_id")
    assert kb.loc["S1/2", "users_connected"] < 0.8 * ka.loc["S1/2", "users_connected"]


def test_a_radar_sweeping_the_users_lowers_their_sinr_and_is_recorded():
    sc = _scenario(events=[{"type": "radar", "at_s": 60.0, "duration_s": 60.0,
                            "track": [{"t_s": 0.0, "x_m": 0.0, "y_m": 0.0}],
                            "rotation_s": 4.0, "beamwidth_deg": 3.0, "eirp_dbm": 90.0,
                            "fc_ghz": 3.5}])
    emu = NetworkEmulator(sc)
    a, b, c = emu.step(), emu.step(), emu.step()
    # users in the beam lose their link (their SINR falls below Qout for a whole step)
    rlf = [int(t.kpis["rlf"].sum()) for t in (a, b, c)]
    assert rlf[1] > 50 and rlf[0] < 5 and rlf[2] < 5
    msgs = list(b.truth.message)
    assert "radar starts" in msgs and any(m.startswith("radar I/N") for m in msgs)
    i_n = next(r for r in b.truth.to_dict("records") if r["message"].startswith("radar I/N"))
    assert i_n["payload"]["i_n_db"] > 0 and i_n["payload"]["violated"]
