"""Network slices on the living network: PRBs a cell dedicates to a slice carry its users'
frames on time under a full-buffer crowd, and XR satisfaction follows its definition."""

from __future__ import annotations

import numpy as np
import pytest

from twinnet.actions import ActionPlan, ReservePRBs
from twinnet.emulator import NetworkEmulator
from twinnet.errors import InputError
from twinnet.policy.kpis import on_time_satisfied
from twinnet.scenario import Scenario


def test_on_time_satisfaction_by_hand():
    # user 0: 1000 frames, 10 late (99.0 % on time: satisfied); user 1: 1000 frames, 11 late;
    # user 2: no frames; user 3: 5 frames completed but 40 past their budget (starved)
    sat = on_time_satisfied([1000, 1000, 0, 5], [10, 11, 0, 40])
    assert sat.tolist() == [True, False, False, False]
    assert on_time_satisfied([100], [5], on_time=0.95).tolist() == [True]
    with pytest.raises(InputError, match="late"):
        on_time_satisfied([1, 2], [0])


def _factory(slice_xr: bool) -> Scenario:
    return Scenario.model_validate({
        "name": "slice_test", "seed": 3,
        "layout": {"type": "hex", "n_sites": 1, "isd_m": 60.0, "bs_height_m": 3.0,
                   "sectors": 1, "azimuths_deg": [0.0]},
        "antenna": {"model": "omni"},
        "carriers": [{"name": "n79", "fc_ghz": 4.7, "bandwidth_mhz": 40, "scs_khz": 30,
                      "tx_power_dbm": 30.0}],
        "propagation": {"scenario": "InH-Office-Open"},
        "users": {"count": 40},
        "demand": {"per_user_mbps": 1.0, "diurnal": "flat"},
        "simulation": {"step_s": 0.1, "report_s": 4.0, "reports_per_interval": 0},
        "groups": [
            {"name": "xr", "fraction": 0.1, "slice": "xr" if slice_xr else None,
             "traffic": {"model": "xr", "xr_mbps": [6.0, 6.0], "fps": 60.0}},
            {"name": "bulk", "fraction": 0.9, "traffic": {"model": "full_buffer"}}],
        "truth": {"demand": "peak"},
    })


def _xr_frames(emu: NetworkEmulator) -> tuple[float, float]:
    assert emu.sim is not None
    u = emu.sim.last_users
    xr = emu.sim.groups[0].users
    sat = on_time_satisfied(u["packets"][xr], u["late"][xr])
    return float(sat.mean()), float(u["late"][xr].sum() / max(u["packets"][xr].sum(), 1))


def test_dedicated_prbs_carry_a_slice_on_time_and_others_pay_for_it():
    free, sliced = NetworkEmulator(_factory(False)), NetworkEmulator(_factory(True))
    cell = sliced.recorded.cell_names[0]
    sliced.apply(ActionPlan(actions=[ReservePRBs(cell=cell, slice_id="xr", n_prb=80)]))
    a, b = free.step(), sliced.step()
    sat_free, late_free = _xr_frames(free)
    sat_sliced, late_sliced = _xr_frames(sliced)
    # 4 XR users at 6 Mbit/s among 36 full-buffer users: proportional fair gives each about
    # a fortieth of the cell, far from a frame every 16.7 ms within 10 ms
    assert late_free > 0.5 and sat_free == 0.0
    assert late_sliced < 0.01 and sat_sliced == 1.0
    # the bulk users get what is left: less than without the slice
    bulk = free.sim.groups[1].users
    assert sliced.sim.last_users["bits"][bulk].sum() < 0.9 * free.sim.last_users["bits"][
        bulk].sum()
    # a reservation for a slice nobody is in leaves its PRBs empty: the bulk users lose them
    other = NetworkEmulator(_factory(False))
    other.apply(ActionPlan(actions=[ReservePRBs(cell=cell, slice_id="xr", n_prb=80)]))
    other.step()
    assert other.sim.last_users["bits"][bulk].sum() < free.sim.last_users["bits"][bulk].sum()
    assert _xr_frames(other)[0] == 0.0  # nor do the XR users, outside the slice
    del a, b


def test_slice_services_come_from_the_groups_traffic():
    from twinnet.loop.slicing import slice_services
    from twinnet.scenario import load_scenario

    s = slice_services(load_scenario("xr_factory"))
    assert set(s) == {"xr", "iiot"}
    assert s["xr"].direction == "dl" and s["xr"].budget_s == pytest.approx(0.010)
    assert s["xr"].packet_bits == pytest.approx(10e6 / 60)  # the largest frame
    assert s["iiot"].direction == "ul" and s["iiot"].packet_bits == 1600
    assert s["iiot"].budget_s == pytest.approx(0.020)


def test_solver_sizes_a_slice_by_hand():
    import pandas as pd

    from twinnet.loop.slicing import SliceLoop
    from twinnet.store import ContextStore

    lp = SliceLoop("xr_factory", ContextStore(":memory:"), "solver")
    net = lp.twin.network
    names = net.cell_names
    kpis = pd.DataFrame({"cell_id": names, "users_slice_xr": [2.4] + [0.0] * (len(names) - 1),
                         "users_slice_iiot": [0.0] * len(names)})
    reports = pd.DataFrame({"cell_id": [names[0]] * 4, "serving": True,
                            "sinr_db": [10.0, 10.0, 10.0, 10.0]})
    want = lp._sized(kpis, reports, margin=1.0)
    se = float(lp.twin.link(10.0))
    # 3 users (2.4 rounded up), a 166.7 kbit frame each within 10 ms
    need = 3 * (10e6 / 60) / (0.010 * se * net.cell_prb_hz[0] * (1 - lp.sc.link.overhead))
    assert want[(names[0], "xr")] == min(int(np.ceil(need)), int(0.7 * net.cell_n_prb[0]))
    assert want[(names[1], "xr")] == 0 and want[(names[0], "iiot")] == 0
    acts = lp._actions(want)
    assert [(a.cell, a.slice_id, a.direction) for a in acts] == [(names[0], "xr", "dl")]


def test_sized_xr_slices_satisfy_more_xr_users_than_none():
    from twinnet.loop.slicing import run_slicing
    from twinnet.store import ContextStore

    noop = run_slicing("xr_factory", ContextStore(":memory:"), "noop", intervals=6)
    solver = run_slicing("xr_factory", ContextStore(":memory:"), "solver", intervals=6)
    u0, u1 = noop["usecase"], solver["usecase"]
    assert u1["xr_satisfied_ratio"] > u0["xr_satisfied_ratio"] + 0.25
    assert u1["xr_satisfied_ratio_no_slicing"] == pytest.approx(u0["xr_satisfied_ratio"])
    assert u1["background_throughput_loss_fraction"] > 0.0  # the others pay for it
    assert u0["background_throughput_loss_fraction"] == pytest.approx(0.0, abs=1e-9)


def _v2x_reliability(emu: NetworkEmulator) -> float:
    u = emu.sim.last_users
    v = emu.sim.groups[0].users  # the v2x group
    return 1.0 - float(u["late"][v].sum()) / max(float(u["packets"][v].sum()), 1.0)


def test_v2x_reliability_falls_when_the_slice_is_removed():
    from twinnet.scenario import load_scenario

    emu = NetworkEmulator(load_scenario("iov"))
    cells = emu.recorded.cell_names
    emu.apply(ActionPlan(actions=[ReservePRBs(cell=c, slice_id="v2x", n_prb=15,
                                              direction="dl") for c in cells]))
    emu.step()
    emu.step()
    with_slice = _v2x_reliability(emu)
    emu.apply(ActionPlan(actions=[ReservePRBs(cell=c, slice_id="v2x", n_prb=0)
                                  for c in cells]))
    emu.step()
    emu.step()
    without = _v2x_reliability(emu)
    assert with_slice > 0.95
    assert without < with_slice - 0.1


def test_road_vehicles_drive_their_lanes_both_ways_and_come_back_in():
    from twinnet.network.mobility import RoadCorridor

    rng = np.random.default_rng(0)
    users = np.arange(6)
    x, y = np.zeros(6), np.zeros(6)
    road = [(0.0, 0.0), (1000.0, 0.0)]
    m = RoadCorridor(users, x, y, road, (20.0, 20.0), rng)
    assert np.allclose(np.abs(y), 3.5)          # on a lane either side of the axis
    x0 = x.copy()
    m.advance(x, y, 0.0, 10.0)                  # 200 m on
    moved = (x - x0 + 1000.0) % 1000.0
    east = np.arange(6) % 2 == 0
    assert np.allclose(moved[east], 200.0) and np.allclose(moved[~east], 800.0)
    assert np.allclose(y[east], -3.5) and np.allclose(y[~east], 3.5)
    assert m.max_speed_mps == 20.0
    with pytest.raises(InputError, match="road"):
        RoadCorridor(users, x, y, [(0.0, 0.0)], (20.0, 20.0), rng)


def test_vehicle_cells_get_handover_settings_from_their_mobility_counters():
    import pandas as pd

    from twinnet.actions import SetHandoverParams
    from twinnet.loop.slicing import SliceLoop
    from twinnet.store import ContextStore

    lp = SliceLoop("iov", ContextStore(":memory:"), "solver", ping_pong_above=0.1)
    names = lp.twin.network.cell_names
    n = len(names)
    zero = [0.0] * n
    kpis = pd.DataFrame({"cell_id": names, "users_slice_v2x": [5.0, 5.0, 0.0, *zero[3:]],
                         "ho_attempts": [100.0] * n, "ping_pong": [30.0, 0.0, 30.0, *zero[3:]],
                         "too_late": [0.0, 5.0, 0.0, *zero[3:]], "rlf": zero})
    acts = lp._mobility(kpis)
    by = {a.cell: a for a in acts}
    assert set(by) == {names[0], names[1]}  # names[2] ping-pongs but holds no vehicle
    base = lp.sc.simulation.handover
    assert isinstance(by[names[0]], SetHandoverParams)
    assert by[names[0]].hysteresis_db == base.hysteresis_db + 1.0
    assert by[names[0]].time_to_trigger_ms == 256  # the next TS 38.331 value after 160
    assert by[names[1]].time_to_trigger_ms == 128  # too late: shorter
    for a in acts:
        a.apply(lp.twin.network)
    again = {a.cell: a for a in lp._mobility(kpis)}
    assert again[names[0]].hysteresis_db == base.hysteresis_db + 2.0  # up to the cap
    assert again[names[0]].time_to_trigger_ms == 320
