"""Proactive capacity: forecasts and drift reach the decision; the day loop acts ahead of
the load and undoes after it; the UE-throughput KPI follows the cell load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinnet.actions import SetElectricalTilt, SetTxPower
from twinnet.emulator import NetworkEmulator
from twinnet.errors import InputError
from twinnet.llm.engine import DecisionEngine, Outlook
from twinnet.loop.proactive import CapacityDayLoop
from twinnet.rrm.capacity import Option
from twinnet.scenario import Scenario, load_scenario
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin


def _at(start: str) -> Scenario:
    d = load_scenario("milan_day").model_dump()
    d["simulation"]["start"] = start
    return Scenario.model_validate(d)


def test_forecast_and_drift_reach_the_context_report():
    twin = DigitalTwin.from_scenario("milan_day")
    base = twin.evaluate(uplink=False)
    eng = DecisionEngine(None, None)
    cell = twin.network.cell_names[0]
    plain, _ = eng.context(twin, base, 0.8)
    out = Outlook(forecast={cell: 1.6}, horizon_min=60,
                  fidelity={"L2": {"forecast_nrmse": 1.2, "threshold": 0.5, "drift": True}})
    rich, _ = eng.context(twin, base, 0.8, None, out)
    assert "forecast in 60 min" not in plain and "retrain" not in plain
    assert f"L2 forecast {cell}: load +60 % forecast in 60 min" in rich
    assert "L2 twin forecast_nrmse 1.2" in rich and "retrain" in rich


def test_ue_throughput_falls_with_the_load():
    # the same network at 04:00 (quiet) and 12:00 (busy): TS 28.552 UE throughput, volume
    # over the time with data buffered, drops where cells fill up; the demand-limited mean
    # rate per user does not say so
    quiet = NetworkEmulator(_at("2013-11-20T04:00:00"))
    busy = NetworkEmulator(_at("2013-11-20T12:00:00"))
    quiet.step()
    busy.step()
    q, b = quiet.last_kpis, busy.last_kpis
    assert b["peak_prb_utilization"] > q["peak_prb_utilization"] + 0.3
    assert b["p5_ue_throughput_mbps"] < 0.8 * q["p5_ue_throughput_mbps"]
    assert q["p5_ue_throughput_mbps"] > q["p5_throughput_mbps"]


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    store = ContextStore(tmp_path_factory.mktemp("pro") / "p.duckdb")
    return CapacityDayLoop(_at("2013-11-20T10:00:00"), store, "reactive", history_days=2)


def test_history_is_the_days_before_and_follows_the_demand(loop):
    h = loop.history
    start = loop.emu.clock
    assert h.index.max() < start and h.index.min() == start - pd.Timedelta(days=2)
    assert len(h) == 2 * 96 and list(h.columns) == loop.areas.areas_
    # the network's traffic at night is well below the afternoon's, as in the Milan series
    total = h.sum(axis=1)
    night = total[total.index.hour.isin([3, 4])].mean()
    day = total[total.index.hour.isin([13, 14])].mean()
    assert night < 0.7 * day


def test_plans_stay_within_the_limits_of_the_day(loop):
    c = loop.twin.network.cell_names[0]
    p0 = float(loop._base_net.cell_tx_power_dbm[0])
    t0 = float(loop._base_net.cell_elec_tilt_deg[0])
    assert loop._within_limits(Option("p", "p", (SetTxPower(cell=c, tx_power_dbm=p0 - 6),)))
    assert not loop._within_limits(Option("p", "p", (SetTxPower(cell=c, tx_power_dbm=p0 - 9),)))
    assert not loop._within_limits(Option("t", "t", (SetElectricalTilt(cell=c,
                                                                       tilt_deg=t0 + 6),)))


def test_acts_on_load_then_undoes_when_it_has_gone(loop):
    tel = loop.emu.step()
    loop.sync.p2v(tel, update_demand=False)
    kp = tel.kpis.set_index("cell_id")
    observed = loop.areas.area_demand(loop.twin, kp["thr_dl_mbps"])
    heavy = observed * 3.0
    ts = loop.emu.clock
    d = loop._solve(ts, heavy)
    assert d is not None and d["kind"] == "act" and d["actions"]
    assert loop.in_force and loop.directives == len(loop.in_force[0].plan.actions)
    # the plan was applied to the network and to the twin
    changed = loop.in_force[0].cells
    names = loop.emu.recorded.cell_names
    diff = [n for n in changed
            if loop.emu.recorded.cell_active[names.index(n)] != loop._base_net.cell_active[
                names.index(n)]
            or loop.emu.recorded.cell_tx_power_dbm[names.index(n)]
            != loop._base_net.cell_tx_power_dbm[names.index(n)]
            or loop.emu.recorded.cell_elec_tilt_deg[names.index(n)]
            != loop._base_net.cell_elec_tilt_deg[names.index(n)]
            or loop.emu.recorded.cell_cio_db[names.index(n)]
            != loop._base_net.cell_cio_db[names.index(n)]]
    assert diff
    # with a tenth of the traffic the twin holds without the plan: it is undone
    u = loop._solve(ts, observed * 0.1)
    assert u is not None and u["kind"] == "undo"
    assert not loop.in_force
    rec, base = loop.emu.recorded, loop._base_net
    assert np.array_equal(rec.cell_active, base.cell_active)
    assert np.allclose(rec.cell_tx_power_dbm, base.cell_tx_power_dbm)
    assert np.allclose(rec.cell_elec_tilt_deg, base.cell_elec_tilt_deg)
    assert np.allclose(rec.cell_cio_db, base.cell_cio_db)


def test_bad_settings_name_the_field(tmp_path):
    with ContextStore(tmp_path / "s.duckdb") as store:
        with pytest.raises(InputError, match="policy"):
            CapacityDayLoop("milan_day", store, "magic")
        with pytest.raises(InputError, match="horizon"):
            CapacityDayLoop("milan_day", store, "solver", horizon=0)
        with pytest.raises(InputError, match="simulation"):
            CapacityDayLoop("hotspot", store, "solver")
        # no history before the demand series starts (it would wrap round to the future)
        with pytest.raises(InputError, match=r"simulation\.start"):
            CapacityDayLoop(_at("2013-11-02T05:00:00"), store, "reactive")
        short = CapacityDayLoop(_at("2013-11-05T05:00:00"), store, "reactive")
        assert short.history.index.min() >= pd.Timestamp("2013-11-01")


def test_a_directive_on_the_living_network_keeps_its_link_gains_exact():
    # users move (the simulation updates their links in place) and each user has its own
    # candidate sites: after a tilt directive the incremental gain update must equal a full
    # recompute (it once reused columns cached for other candidate sets, and crashed)
    emu = NetworkEmulator(load_scenario("milan_day"))
    tw = emu.twin
    assert tw.candidate_sites().shape[0] > 1
    for _ in range(3):
        emu.step()
    c = emu.recorded.cell_names[0]
    emu.apply(SetElectricalTilt(cell=c, tilt_deg=12.0))
    gain, slot = tw.link_gains()
    fresh = tw.copy()
    fresh._gain_cache, fresh._column_cache, fresh._last_gain_state = {}, {}, None
    g2, s2 = fresh._compute_gains(None)
    assert np.array_equal(slot, s2)
    assert np.allclose(gain, g2, rtol=1e-5)
    emu.step()  # and the network runs on


def test_cli_runs_the_day_loop_and_names_a_bad_policy(tmp_path):
    import json
    import subprocess
    import sys

    def twinnet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "twinnet.cli", *args],
                              capture_output=True, text=True, timeout=600)

    p = twinnet("run", "milan_day", "--policy", "reactive", "--intervals", "6", "--json",
                "--llm", "none", "--out", str(tmp_path / "run"))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    u = r["usecase"]
    assert r["verified_on"] == "emulator" and r["policy"] == "reactive" and r["intervals"] == 6
    for k in ("congested_cell_minutes", "p5_throughput_mbps", "directives", "plans", "undos",
              "small_cell_hours", "served_ratio"):
        assert k in u
    assert len(r["timeline"]) == 6
    bad = twinnet("run", "milan_day", "--policy", "magic", "--llm", "none",
                  "--out", str(tmp_path / "bad"))
    assert bad.returncode != 0 and "reactive" in bad.stderr


def test_fidelity_latest_is_what_the_drift_insight_reads():
    from twinnet.llm.context import twin_insights
    from twinnet.twin.fidelity import FidelityMonitor

    m = FidelityMonitor(window=3)
    for t, v in enumerate((0.1, 0.9, 0.9, 0.9)):
        m.record(pd.Timestamp("2013-11-20") + pd.Timedelta(minutes=15 * t), "L2",
                 "forecast_nrmse", v, 10)
    m.record(pd.Timestamp("2013-11-20 01:00"), "L1", "rsrp_rmse_db", 3.0, 100)
    last = m.latest()
    assert last["L2"] == {"forecast_nrmse": 0.9, "threshold": 0.5, "drift": True}
    assert last["L1"]["drift"] is False
    twin = DigitalTwin.from_scenario("milan_day")
    drift = [i for i in twin_insights(twin, fidelity=last) if i.kind == "drift"]
    assert [i.layer for i in drift] == ["L2"]
