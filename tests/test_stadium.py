"""Stadium surge with drone base stations: the crowd forecast learns from arrivals, the fleet
stays within its backhaul, rotation and energy limits, drones are matched, moved and landed by
name, a marching crowd moves, and the loop on a small evening flies drones that cut the
blocked users."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinnet.actions import ActionPlan, DeployDrone, SetCellActive, SetCellOffset
from twinnet.emulator import NetworkEmulator
from twinnet.engines.crowd import CrowdForecast
from twinnet.errors import InputError
from twinnet.llm.engine import proposal_schema
from twinnet.loop.stadium import StadiumLoop
from twinnet.scenario import CalendarEvent, Drones, Scenario, load_scenario
from twinnet.store import ContextStore


def _small(**drones) -> Scenario:
    """The stadium evening, smaller: fewer users and a 30-minute crowd ramp from 17:15."""
    d = load_scenario("stadium").model_dump()
    d["users"]["count"] = 600
    d["calendar"][0].update(expected_users=900, at_s=900.0, ramp_in_s=1800.0, hold_s=3600.0,
                            ramp_out_s=900.0)
    crowd = d["events"][0]
    crowd.update(users=1200, at_s=900.0, ramp_in_s=1500.0, hold_s=3600.0, ramp_out_s=900.0,
                 per_user_mbps=0.08)
    d["events"] = [crowd]
    d["drones"].update(drones)
    return Scenario.model_validate(d)


def test_crowd_forecast_learns_scale_and_shift_from_arrivals():
    e = CalendarEvent(name="m", x_m=0, y_m=0, radius_m=100, expected_users=2000, at_s=3600,
                      ramp_in_s=3600, hold_s=3600, ramp_out_s=1800)
    f = CrowdForecast([e])
    # before anything is seen the forecast is the calendar
    assert f.predict(5400)[0].users == pytest.approx(1000.0)
    rng = np.random.default_rng(0)
    for t in np.arange(150.0, 5400.0, 300.0):  # 30 % more, 15 minutes early
        f.observe(t, 2600 * e.present_fraction(t + 900) + rng.normal(0, 20))
    assert f.scale_ == pytest.approx(1.3, abs=0.05)
    assert f.shift_s_ == 900.0
    assert f.predict(6000)[0].users == pytest.approx(2600 * e.present_fraction(6900), rel=0.05)
    with pytest.raises(InputError, match="excess_users"):
        f.observe(6000, float("nan"))


def test_fleet_stations_and_endurance_by_hand():
    d = Drones(fleet=6, battery_wh=250, reserve_fraction=0.2, hover_power_w=168.5,
               payload_power_w=60.0, speed_mps=15.0, swap_min=5.0)
    e = 3600 * 250 * 0.8 / 228.5  # s on station per battery
    assert d.endurance_s() == pytest.approx(e)
    turn = 2 * 600 / 15.0 + 300.0  # the relief's round trip to a station 600 m out, and a swap
    assert d.stations(600.0) == math.floor(6 * e / (e + turn))
    assert d.stations(600.0) < 6


def test_drone_cell_carries_at_most_its_backhaul():
    sc = _small(backhaul_mbps=4.0)
    emu = NetworkEmulator(sc)
    for _ in range(9):  # the crowd has arrived
        emu.step()
    dep = DeployDrone(cell="D1", x_m=200.0, y_m=110.0, altitude_m=80.0, carrier="uav1")
    emu.apply(ActionPlan(actions=[dep, SetCellOffset(cell=dep.cell_name(), offset_db=12.0)]))
    tel = emu.step()
    k = tel.kpis.set_index("cell_id")
    assert k.loc[dep.cell_name(), "users_connected"] > 50  # it serves the crowd ...
    assert k.loc[dep.cell_name(), "thr_dl_mbps"] <= 4.0 + 1e-6  # ... within its backhaul


def test_a_marching_crowd_moves_along_its_track():
    d = load_scenario("stadium").model_dump()
    d["users"]["count"] = 300
    march = d["events"][1]
    march.update(at_s=0.0, ramp_in_s=0.0, hold_s=3600.0, users=50,
                 track=[{"t_s": 0.0, "x_m": -500.0, "y_m": 0.0},
                        {"t_s": 600.0, "x_m": 100.0, "y_m": 0.0}])
    d["events"] = [march]
    emu = NetworkEmulator(Scenario.model_validate(d))
    sim = emu.sim
    users = emu.events.crowd_users[0]
    emu.step()  # 5 minutes: half way
    cx = float(np.mean(sim.x_m[users]))
    assert cx == pytest.approx(-200.0, abs=25.0)
    emu.step()
    emu.step()
    assert float(np.mean(sim.x_m[users])) == pytest.approx(100.0, abs=25.0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for pol in ("noop", "solver"):
        store = ContextStore(tmp_path_factory.mktemp(pol) / "s.duckdb")
        lp = StadiumLoop(_small(), store, pol)
        out[pol] = (lp, lp.run(14))
    return out


def test_solver_flies_drones_within_the_fleet_and_cuts_blocked_users(runs):
    noop, solver = runs["noop"][1], runs["solver"][1]
    lp = runs["solver"][0]
    u0, u1 = noop["usecase"], solver["usecase"]
    assert u0["max_drones_up"] == 0 and u0["drone_energy_kwh"] == 0.0
    assert u1["max_drones_up"] >= 1
    assert u1["blocked_user_minutes"] < u0["blocked_user_minutes"]

    def blocked_above_floor(rep):  # users blocked beyond the coverage holes before the crowd
        b = [r["blocked_users"] for r in rep["timeline"]]
        return sum(max(x - b[0], 0) for x in b)

    assert blocked_above_floor(noop) > 100
    assert blocked_above_floor(solver) < 0.3 * blocked_above_floor(noop)
    # never more drones on station than the fleet holds by rotation
    f = lp.fleet
    e = lp.sc.calendar[0]
    reach = math.hypot(e.x_m - f.base_x_m, e.y_m - f.base_y_m) + e.radius_m
    assert u1["max_drones_up"] <= f.stations(reach)
    # the drones' cells carried no more than their backhaul in any interval
    for r in solver["timeline"]:
        assert r["drone_mbps"] <= r["drones_up"] * f.backhaul_mbps + 1e-6
    # energy: at least the station power of the drone-minutes flown
    assert u1["drone_energy_kwh"] >= u1["drone_minutes"] * 60 * f.station_power_w / 3.6e6
    acts = [d for d in solver["plan"] if d["kind"] == "act"]
    assert acts and all(d["twin_peak_after"] <= d["twin_peak"] + 1e-9 for d in acts)


def test_energy_budget_keeps_drones_on_the_ground(tmp_path):
    lp = StadiumLoop(_small(), ContextStore(tmp_path / "s.duckdb"), "solver",
                     energy_budget_kwh=0.05)
    assert lp._max_drones(3000.0) == 0  # 50 Wh do not hold one drone for the match
    rep = lp.run(10)
    assert rep["usecase"]["max_drones_up"] == 0


def test_drones_are_matched_moved_and_landed_by_name(tmp_path):
    lp = StadiumLoop(_small(), ContextStore(tmp_path / "s.duckdb"), "solver")
    first = lp._drone_actions([(200.0, 110.0, 80.0), (260.0, 110.0, 80.0)])
    deps = [a for a in first if isinstance(a, DeployDrone)]
    assert [a.cell for a in deps] == ["D1", "D2"]
    assert deps[0].carrier != deps[1].carrier  # neighbours on different carriers
    lp._track(first)
    # one position only, near D1: D1 moves, D2 is not wanted and lands
    nxt = lp._drone_actions([(205.0, 120.0, 80.0)])
    moved = [a for a in nxt if isinstance(a, DeployDrone)]
    assert [(a.cell, a.x_m) for a in moved] == [("D1", 205.0)]
    landed = [a for a in nxt if isinstance(a, SetCellActive)]
    assert len(landed) == 1 and landed[0].cell == deps[1].cell_name() and not landed[0].active
    energy = lp.energy_j
    lp._track(nxt)
    assert lp.energy_j > energy and not lp.drones["D2"]["up"]
    # a second position again: the landed drone on the carrier free there takes off
    again = lp._drone_actions([(205.0, 120.0, 80.0), (100.0, 0.0, 50.0)])
    up = [a for a in again if isinstance(a, DeployDrone)]
    assert [(a.cell, a.carrier) for a in up] == [("D2", deps[1].carrier)]
    assert any(isinstance(a, SetCellOffset) and a.cell == deps[1].cell_name() for a in again)


def test_drones_are_in_the_proposal_schema_when_the_scenario_has_a_fleet():
    from twinnet.twin import DigitalTwin

    sc = load_scenario("stadium")
    twin = DigitalTwin(sc)
    schema = proposal_schema(twin.network, drones=sc.drones)
    items = schema["properties"]["actions"]["items"]["anyOf"]
    drone = [i for i in items if i["properties"]["type"]["const"] == "deploy_drone"]
    assert len(drone) == 1
    p = drone[0]["properties"]
    assert p["carrier"]["enum"] == ["uav1", "uav2", "uav3"]
    assert p["altitude_m"]["maximum"] <= 120 and len(p["cell"]["enum"]) == sc.drones.fleet
    plain = proposal_schema(twin.network)
    assert not [i for i in plain["properties"]["actions"]["items"]["anyOf"]
                if i["properties"]["type"]["const"] == "deploy_drone"]


def test_bad_stadium_inputs_are_named():
    with pytest.raises(InputError, match="policy"):
        StadiumLoop("stadium", ContextStore(":memory:"), "teleport")
    d = load_scenario("stadium").model_dump()
    d["drones"]["carriers"] = ["nope"]
    from twinnet.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"drones\.carriers"):
        Scenario.from_dict(d)
    d = load_scenario("stadium").model_dump()
    d["drones"] = None
    with pytest.raises(ScenarioError, match="drones"):
        Scenario.from_dict(d)
