"""L3 policy: operator policy clauses, rate limits that fail closed, the KPI list, the rule
baseline, and every action's inverse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinnet.actions import (
    ActionPlan,
    AddCarrier,
    AllocateIoTUplink,
    BlankPRBs,
    DeployDrone,
    IoTGrant,
    RemoveCarrier,
    ReservePRBs,
    SetCellActive,
    SetCellOffset,
    SetElectricalTilt,
    SetNeighbourOffset,
    SetTxPower,
)
from twinnet.llm.guardrails import RateLimiter, screen_actions
from twinnet.network import build_network
from twinnet.policy.baseline import rule_plan
from twinnet.policy.constraints import Constraints
from twinnet.policy.kpis import HEADLINE_KPIS, KPIS, kpi_subset, network_kpis
from twinnet.policy.operator import Policy
from twinnet.scenario import Scenario, load_scenario
from twinnet.store import ContextStore


@pytest.fixture(scope="module")
def network():
    return build_network(load_scenario("hotspot"))


NOW = pd.Timestamp("2013-11-04 12:00")


@pytest.mark.parametrize(("action", "clause"), [
    (SetElectricalTilt(cell="S0/1", tilt_deg=18.0), "tilt_deg"),
    (SetTxPower(cell="S0/1", tx_power_dbm=48.0), "macro_power_dbm"),
    (SetCellActive(cell="S0/1", active=False), "allow_switch_off"),
    (SetCellOffset(cell="S0/1", offset_db=-8.0), "max_offset_db"),
    (DeployDrone(cell="D1", x_m=0.0, y_m=0.0, altitude_m=200.0), "drone_altitude_m"),
    (DeployDrone(cell="D1", x_m=0.0, y_m=0.0, altitude_m=100.0, tx_power_dbm=36.0),
     "drone_max_power_dbm"),
    (BlankPRBs(cell="S0/1", start_prb=0, end_prb=9), "allowed_types"),
])
def test_each_policy_clause_is_named(network, action, clause):
    v = Policy().check(action, network)
    assert v is not None and v.clause == clause
    # the same action is fine once the clause allows it
    relaxed = {"tilt_deg": {"tilt_deg": (0.0, 20.0)},
               "macro_power_dbm": {"macro_power_dbm": (37.0, 49.0)},
               "allow_switch_off": {"allow_switch_off": True},
               "max_offset_db": {"max_offset_db": 10.0},
               "drone_altitude_m": {"drone_altitude_m": (30.0, 250.0)},
               "drone_max_power_dbm": {"drone_max_power_dbm": 40.0},
               "allowed_types": {"allowed_types": ("blank_prbs",)}}[clause]
    assert Policy(**relaxed).check(action, network) is None


def test_switching_on_an_inactive_cell_and_drone_count(network):
    pol = Policy()
    assert pol.check(SetCellActive(cell="SC1/1", active=True), network) is None
    drone = DeployDrone(cell="D3", x_m=0.0, y_m=0.0, altitude_m=100.0)
    assert pol.check(drone, network, drones_in_plan=1) is None
    assert pol.check(drone, network, drones_in_plan=2).clause == "max_drones"


def _store_with(tmp_path, plan, status="applied", ts=NOW - pd.Timedelta(minutes=20)):
    store = ContextStore(tmp_path / "s.duckdb")
    store.record_decision("plan", plan, {}, status, "test", ts=ts)
    return store


def test_rate_limit_counts_recent_directives_per_cell(tmp_path, network):
    plan = ActionPlan(actions=[SetTxPower(cell="S0/1", tx_power_dbm=40.0)]).model_dump()
    store = _store_with(tmp_path, plan)
    store.record_decision("plan", plan, {}, "applied", "test", ts=NOW - pd.Timedelta(minutes=5))
    # an old one and a rejected one do not count
    store.record_decision("plan", plan, {}, "applied", "test", ts=NOW - pd.Timedelta(hours=3))
    store.record_decision("plan", plan, {}, "rejected", "test", ts=NOW)
    rate = RateLimiter(store, per_cell_per_hour=2)
    assert rate.recent(NOW) == {"S0/1": 2} and rate.unreadable == []
    s = screen_actions([{"type": "set_tx_power", "cell": "S0/1", "tx_power_dbm": 41.0},
                        {"type": "set_tx_power", "cell": "S1/1", "tx_power_dbm": 41.0}],
                       network, rate=rate, now=NOW)
    assert [a.cell for a in s.actions] == ["S1/1"]
    assert "rate limit" in s.rejections[0].reason and s.rejections[0].value == "S0/1"


@pytest.mark.parametrize("stored", [
    {"actions": [{"type": "warp_drive", "cell": "S0/1"}]},   # not an action of the catalogue
    {"actions": [{"type": "set_tx_power", "cell": "S0/1", "tx_power_dbm": 99.0}]},  # bounds
    "not a plan at all",
])
def test_rate_limit_fails_closed_on_an_unreadable_stored_directive(tmp_path, network, stored):
    store = _store_with(tmp_path, stored)
    rate = RateLimiter(store, per_cell_per_hour=2)
    assert rate.recent(NOW) == {}
    assert len(rate.unreadable) == 1
    s = screen_actions([{"type": "set_tx_power", "cell": "S1/1", "tx_power_dbm": 41.0},
                        {"type": "set_cell_active", "cell": "SC1/1", "active": True}],
                       network, rate=rate, now=NOW)
    assert s.actions == []
    assert len(s.rejections) == 2
    assert all("cannot be read" in r.reason for r in s.rejections)
    # an unreadable directive older than an hour no longer blocks anything
    store2 = _store_with(tmp_path / "old", stored, ts=NOW - pd.Timedelta(hours=2))
    ok = screen_actions([{"type": "set_tx_power", "cell": "S1/1", "tx_power_dbm": 41.0}],
                        network, rate=RateLimiter(store2), now=NOW)
    assert len(ok.actions) == 1


def test_one_kpi_list():
    k = network_kpis(np.array([1.0, 2.0, 0.5]), np.ones(3), np.array([False, False, True]),
                     np.array([0.2, 0.9]), np.array([True, True]), np.array([3.0, 10.0, -5.0]))
    assert set(k) <= set(KPIS)  # every key an evaluation reports is described
    assert set(HEADLINE_KPIS) - {"hottest_cell"} <= set(k)
    sub = kpi_subset({**k, "hottest_cell": "A"})
    assert list(sub) == list(HEADLINE_KPIS)
    assert KPIS["peak_prb_utilization"].better == "lower"
    assert KPIS["p5_throughput_mbps"].better == "higher"


def test_constraints_reject_bad_values():
    with pytest.raises(ValueError, match="peak_prb_utilization"):
        Constraints(peak_prb_utilization=1.5)
    with pytest.raises(ValueError, match="unknown"):
        Constraints(unknown=1)  # type: ignore[call-arg]


def test_rule_baseline_downtilts_hot_cells_and_lights_nearby_small_cells(network):
    plan = rule_plan(network, {"S0/1": 0.95, "S2/3": 0.6, "S4/1": 0.3}, target=0.5,
                     tilt_step=4.0, radius_m=250.0)
    tilts = {a.cell: a.tilt_deg for a in plan.actions if isinstance(a, SetElectricalTilt)}
    i = network.cell_names.index("S0/1")
    assert tilts["S0/1"] == pytest.approx(network.cell_elec_tilt_deg[i] + 4.0)
    assert "S4/1" not in tilts  # below the target
    on = [a.cell for a in plan.actions if isinstance(a, SetCellActive)]
    def site_xy(cell: str) -> np.ndarray:
        s = network.cell_site[network.cell_names.index(cell)]
        return np.array([network.site_x_m[s], network.site_y_m[s]])

    # exactly the inactive cells within 250 m of a hot cell's site are switched on, once each
    near = {network.cell_names[k] for k in np.flatnonzero(~network.cell_active)
            if min(np.hypot(*(site_xy(network.cell_names[k]) - site_xy(h))) for h in tilts)
            <= 250.0}
    assert near and sorted(on) == sorted(near)


def _multi_carrier_network():
    sc = Scenario.from_dict({
        "name": "mc", "layout": {"type": "hex", "n_sites": 1},
        "carriers": [{"name": "n78", "fc_ghz": 3.5, "bandwidth_mhz": 20, "scs_khz": 30},
                     {"name": "n1", "fc_ghz": 2.1, "bandwidth_mhz": 10, "scs_khz": 15,
                      "active": False}],
        "users": {"count": 10}})
    return build_network(sc)


def test_every_action_is_undone_by_its_inverse(network):
    net = network.copy()
    net.iot_uplink["S1/1"] = {"dev0": (10.0, (0, 1))}
    net.cell_pair_cio_db[(1, 2)] = 3.0  # S0/2 → S0/3: removed by the plan, back after
    plan = ActionPlan(actions=[
        SetTxPower(cell="S0/1", tx_power_dbm=40.0),
        SetElectricalTilt(cell="S0/1", tilt_deg=12.0),
        SetCellOffset(cell="S2/3", offset_db=-3.0),
        SetNeighbourOffset(cell="S0/1", neighbour="S1/2", offset_db=-4.0),
        SetNeighbourOffset(cell="S0/2", neighbour="S0/3", offset_db=None),
        SetCellActive(cell="SC2/1", active=True),
        ReservePRBs(cell="S3/1", slice_id="urllc", n_prb=10),
        BlankPRBs(cell="S3/2", start_prb=0, end_prb=4),
        AllocateIoTUplink(cell="S1/1", grants=(IoTGrant(device="dev1", tx_power_dbm=20.0,
                                                        resource_blocks=(2, 3)),)),
        DeployDrone(cell="D1", x_m=50.0, y_m=20.0, altitude_m=100.0),
    ])
    before = net.copy()
    plan.apply(net)
    assert net.n_cells == before.n_cells + 1
    plan.inverse(before).apply(net)
    n = before.n_cells
    for attr in ("cell_tx_power_dbm", "cell_elec_tilt_deg", "cell_cio_db", "cell_active"):
        np.testing.assert_array_equal(getattr(net, attr)[:n], getattr(before, attr), attr)
    assert not net.cell_active[n]  # a new drone cannot be undeployed: it lands
    for attr in ("cell_prb_reserved", "cell_prb_blanked"):
        after = getattr(net, attr)
        assert after is not None and not after[:n].any(), attr
    assert net.iot_uplink == before.iot_uplink
    assert net.cell_pair_cio_db == before.cell_pair_cio_db == {(1, 2): 3.0}
    # a moved drone flies back to where it was
    moved = net.copy()
    base = moved.copy()
    again = ActionPlan(actions=[DeployDrone(cell="D1", x_m=-80.0, y_m=0.0, altitude_m=60.0)])
    again.apply(moved)
    s = moved.site_names.index("D1")
    assert moved.site_x_m[s] == -80.0
    again.inverse(base).apply(moved)
    assert (moved.site_x_m[s], moved.site_y_m[s], moved.site_height_m[s]) == (
        base.site_x_m[s], base.site_y_m[s], base.site_height_m[s])


def test_carrier_actions_are_undone():
    net = _multi_carrier_network()
    before = net.copy()
    plan = ActionPlan(actions=[AddCarrier(cell="S0/1", carrier="n1", offset_db=-2.0),
                               RemoveCarrier(cell="S0/2", carrier="n78")])
    plan.apply(net)
    assert net.cell_active.sum() == before.cell_active.sum()  # one on, one off
    plan.inverse(before).apply(net)
    np.testing.assert_array_equal(net.cell_active, before.cell_active)
    np.testing.assert_array_equal(net.cell_cio_db, before.cell_cio_db)
