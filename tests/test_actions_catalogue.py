"""The rest of the action catalogue: carriers, drone base stations, IoT uplink grants."""

from __future__ import annotations

import numpy as np
import pytest

from twinnet.actions import (
    ActionPlan,
    AddCarrier,
    AllocateIoTUplink,
    DeployDrone,
    IoTGrant,
    RemoveCarrier,
    SetCellOffset,
    action_schema,
    parse_action,
)
from twinnet.emulator import GroundTruth, NetworkEmulator
from twinnet.errors import InputError
from twinnet.radio.a2g import a2g_pathloss_db
from twinnet.scenario import Scenario, load_scenario
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin
from twinnet.twin.sync import TwinSync


@pytest.fixture(scope="module")
def hotspot():
    return DigitalTwin.from_scenario("hotspot")


@pytest.fixture(scope="module")
def two_carriers():
    data = load_scenario("hotspot").model_dump()
    data["name"] = "two-carriers"
    data["small_cells"] = []
    data["users"]["count"] = 1500
    data["carriers"] = [data["carriers"][0],
                        {**data["carriers"][0], "name": "n78b", "fc_ghz": 3.7,
                         "bandwidth_mhz": 40, "active": False}]
    return DigitalTwin(Scenario.model_validate(data))


def test_catalogue_schema_names_every_action():
    text = str(action_schema())
    for t in ("set_tx_power", "set_electrical_tilt", "set_cell_offset", "set_cell_active",
              "reserve_prbs", "blank_prbs", "add_carrier", "remove_carrier", "deploy_drone",
              "allocate_iot_uplink", "schedule_blanking", "set_handover_params"):
        assert t in text, t


def test_add_carrier_splits_the_load_and_remove_takes_it_back(two_carriers):
    t = two_carriers
    names = t.network.cell_names
    assert "S0/1@n78b" in names and not t.network.cell_active[names.index("S0/1@n78b")]
    base = t.evaluate(uplink=False)
    hot = names[int(np.argmax(base.load.prb_utilization))]
    # 40 MHz at the same power: 3 dB less RSRP per resource element, 0.5 dB more path loss;
    # a +6 dB offset moves the sector's users onto the new carrier
    add = AddCarrier(cell=hot, carrier="n78b", offset_db=6.0)
    assert add.touched_cells() == [hot.split("@")[0] + "@n78b"]
    r = t.what_if(ActionPlan(actions=[add]))
    u = r.cell_utilization
    assert u[hot] < 0.8 * base.load.prb_utilization[names.index(hot)]
    assert u[add.target_cell()] > 0.05  # the new carrier carries the sector's users
    # removing it again is the inverse
    net = t.network.copy()
    ActionPlan(actions=[add]).apply(net)
    ActionPlan(actions=[add]).inverse(t.network).apply(net)
    assert np.array_equal(net.cell_active, t.network.cell_active)
    assert np.array_equal(net.cell_cio_db, t.network.cell_cio_db)
    net2 = t.network.copy()
    ActionPlan(actions=[add, RemoveCarrier(cell=hot, carrier="n78b")]).apply(net2)
    assert np.array_equal(net2.cell_active, t.network.cell_active)
    with pytest.raises(InputError, match="carrier"):
        ActionPlan(actions=[AddCarrier(cell=hot, carrier="n41")]).apply(t.network.copy())


def test_drone_links_follow_the_air_to_ground_model(hotspot):
    t = hotspot
    d = DeployDrone(cell="D1", x_m=70.0, y_m=40.0, altitude_m=100.0, tx_power_dbm=33.0)
    fork = t.copy()
    ActionPlan(actions=[d]).apply(fork.network)
    assert fork.network.n_cells == t.network.n_cells + 1
    assert fork.network.cell_names[-1] == "D1/1" == d.cell_name()
    gain, slot = fork.link_gains()
    k = int(np.flatnonzero(np.broadcast_to(slot, gain.shape)[0] == fork.network.n_cells - 1)[0])
    ue = fork.users
    out = np.flatnonzero(~ue.indoor)[:50]
    r = np.hypot(ue.x_m[out] - 70.0, ue.y_m[out] - 40.0)
    expected = a2g_pathloss_db(r, 100.0 - ue.height_m[out], 3.5)  # Al-Hourani, urban
    got = -10.0 * np.log10(gain[out, k].astype(np.float64))
    assert np.allclose(got, expected, atol=1e-3)
    # hand check of one link: FSPL + eta_LoS P + eta_NLoS (1 - P)
    i = 0
    h = 100.0 - ue.height_m[out[i]]
    theta = np.degrees(np.arctan2(h, r[i]))
    p = 1.0 / (1.0 + 9.61 * np.exp(-0.16 * (theta - 9.61)))
    fspl = 20 * np.log10(4 * np.pi * np.hypot(r[i], h) * 3.5e9 / 299_792_458.0)
    assert got[i] == pytest.approx(fspl + 1.0 * p + 20.0 * (1 - p), abs=0.02)


def test_drone_what_if_offloads_the_crowd_and_moves(hotspot):
    t = hotspot
    n0 = t.network.n_cells
    base = t.evaluate(uplink=False)
    u0 = base.load.prb_utilization[t.network.cell_names.index("S0/1")]
    # low and quiet, with a +6 dB offset: the drone takes part of the crowd off S0/1
    d = DeployDrone(cell="D1", x_m=70.0, y_m=40.0, altitude_m=20.0, tx_power_dbm=30.0)
    r = t.what_if(ActionPlan(actions=[d, SetCellOffset(cell="D1/1", offset_db=6.0)]))
    assert t.network.n_cells == n0  # the twin itself is unchanged
    assert r.cell_utilization["D1/1"] > 0.3
    assert r.cell_utilization["S0/1"] < u0 - 0.03
    # high and loud, co-channel: its interference costs the macro cell more than it takes
    loud = DeployDrone(cell="D1", x_m=70.0, y_m=40.0, altitude_m=80.0, tx_power_dbm=40.0)
    assert t.what_if(ActionPlan(actions=[loud])).cell_utilization["S0/1"] > u0
    # deploying under the same name again moves it: no new cell
    net = t.network.copy()
    d.apply(net)
    DeployDrone(cell="D1", x_m=500.0, y_m=500.0, altitude_m=120.0).apply(net)
    assert net.n_cells == n0 + 1 and net.site_x_m[-1] == 500.0
    with pytest.raises(InputError, match="altitude_m"):
        parse_action({"type": "deploy_drone", "cell": "D2", "x_m": 0, "y_m": 0,
                      "altitude_m": 900})
    with pytest.raises(InputError, match="drone site"):
        DeployDrone(cell="S0", x_m=0.0, y_m=0.0, altitude_m=50.0).apply(t.network.copy())


def test_drone_deployment_reaches_the_network_and_the_store(tmp_path):
    store = ContextStore(tmp_path / "s.duckdb")
    emu = NetworkEmulator("hotspot", truth=GroundTruth(seed=3, demand="peak", n_areas=2),
                          interval_s=900, reports_per_interval=100)
    twin = DigitalTwin.from_scenario("hotspot")
    sync = TwinSync(store, twin, source="emu")
    sync.publish_topology(emu.recorded)
    sync.p2v(emu.step(), update_demand=False)
    before = twin.network.copy()
    plan = ActionPlan(actions=[DeployDrone(cell="D1", x_m=70.0, y_m=40.0, altitude_m=60.0,
                                           tx_power_dbm=40.0)])
    s = sync.v2p(emu, plan)
    assert any(c["cell"] == "D1/1" and c["parameter"] == "created" for c in s.parameter_changes)
    assert "D1/1" in store.known_cells() and "D1/1" in twin.network.cell_names
    tel = emu.step()
    util = tel.kpis.set_index("cell_id")["prb_util_dl"]
    assert util["D1/1"] > 0.0
    assert sync.ingest(tel).accepted["cell_kpis"] == len(tel.kpis)  # the new cell is known
    # rollback lands the drone
    sync.v2p(emu, plan.inverse(before))
    assert not twin.network.cell_active[twin.network.cell_names.index("D1/1")]
    assert emu.step().kpis.set_index("cell_id")["prb_util_dl"]["D1/1"] == 0.0


def test_iot_uplink_grants_are_exclusive_and_bounded(hotspot):
    g = AllocateIoTUplink(cell="S0/1", grants=(
        IoTGrant(device="t1", tx_power_dbm=20.0, resource_blocks=(0, 1)),
        IoTGrant(device="t2", tx_power_dbm=23.0, resource_blocks=(2,))))
    net = hotspot.network.copy()
    g.apply(net)
    assert net.iot_uplink["S0/1"]["t1"] == (20.0, (0, 1))
    assert "S0/1" not in hotspot.network.iot_uplink  # copies do not share grants
    ActionPlan(actions=[g]).inverse(hotspot.network).apply(net)
    assert "S0/1" not in net.iot_uplink
    with pytest.raises(InputError, match="granted to 't1' and 't2'"):
        parse_action({"type": "allocate_iot_uplink", "cell": "S0/1", "grants": [
            {"device": "t1", "tx_power_dbm": 20, "resource_blocks": [4]},
            {"device": "t2", "tx_power_dbm": 20, "resource_blocks": [4]}]})
    with pytest.raises(InputError, match="tx_power_dbm"):
        parse_action({"type": "allocate_iot_uplink", "cell": "S0/1", "grants": [
            {"device": "t1", "tx_power_dbm": 30, "resource_blocks": [4]}]})
    big = AllocateIoTUplink(cell="S0/1", grants=(
        IoTGrant(device="t1", tx_power_dbm=0.0, resource_blocks=(400,)),))
    with pytest.raises(InputError, match="resource_blocks"):
        big.apply(hotspot.network.copy())
