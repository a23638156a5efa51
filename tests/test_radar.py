"""Radar spectrum sharing: a blanking schedule removes exactly the PRBs it names, when it says,
and restores them; the tracker learns the rotation and the passes from the bursts; the static
zone's radius follows the link budget; dynamic blanking protects the radar at a fraction of the
static zone's cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinnet.actions import ActionPlan, BlankPRBs, ScheduleBlanking
from twinnet.emulator import NetworkEmulator
from twinnet.emulator.events import radar_coupling_db
from twinnet.engines.radar import RadarSpec, RadarTracker
from twinnet.errors import InputError
from twinnet.llm.engine import proposal_schema, radar_bands
from twinnet.llm.guardrails import screen_actions
from twinnet.loop.radar import RadarLoop, protection_distance_m
from twinnet.radio.a2g import free_space_pathloss_db
from twinnet.scenario import Radar, Scenario, load_scenario
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin


def _scenario(users: int = 300) -> Scenario:
    d = load_scenario("radar").model_dump()
    d["users"]["count"] = users
    return Scenario.model_validate(d)


def test_a_schedule_blanks_exactly_its_prbs_in_its_window_and_is_undone():
    twin = DigitalTwin(_scenario())
    net = twin.network
    n0 = net.cell_n_prb_available.copy()
    a = ScheduleBlanking(cell="S0/1", start_prb=27, end_prb=53, period_s=2.0, phase_deg=0.0,
                         from_deg=-9.0, to_deg=9.0)
    before = net.copy()
    a.apply(net)
    b = net.cell_blanking[0]
    # the beam is at 360 t / 2 s: within ±9° for t within ±0.05 s of each whole rotation
    t = np.array([0.0, 0.04, 0.06, 1.0, 1.96, 2.0, 2.049, 2.051])
    assert b.blanked(t).tolist() == [True, True, False, False, True, True, True, False]
    assert b.overlap(12, 38) == 12 and b.overlap(60, 80) == 0
    # capacity: 27 PRBs for 18/360 of the time, the other cells untouched
    avail = net.cell_n_prb_available
    assert avail[0] == pytest.approx(n0[0] - 27 * 18 / 360)
    assert np.array_equal(avail[1:], n0[1:])
    for inv in a.inverse(before):
        inv.apply(net)
    assert not net.cell_blanking and np.array_equal(net.cell_n_prb_available, n0)
    with pytest.raises(ValueError, match="wide"):
        ScheduleBlanking(cell="S0/1", start_prb=0, end_prb=9, period_s=2.0, phase_deg=0.0,
                         from_deg=0.0, to_deg=120.0)
    # a static blanking must go before a schedule replaces it
    BlankPRBs(cell="S0/1", start_prb=27, end_prb=53).apply(net)
    with pytest.raises(InputError, match="static"):
        a.apply(net)


def _truth_schedule(emu: NetworkEmulator, r: Radar, guard_deg: float) -> ActionPlan:
    """Blanking windows from the truth itself (the radar's real phase and position)."""
    net = emu.recorded
    x, y = r.position(0.0)
    az, _ = radar_coupling_db(net, r, x, y)
    acts = []
    for c, name in enumerate(net.cell_names):
        car = net.carriers[net.cell_carrier[c]]
        lo, hi = r.band_prbs(car.fc_ghz, car.bandwidth_mhz, car.n_prb)
        h = r.beamwidth_deg / 2 + guard_deg
        acts.append(ScheduleBlanking(cell=name, start_prb=lo, end_prb=hi,
                                     period_s=r.rotation_s, phase_deg=r.phase_deg,
                                     from_deg=float(az[c]) - h, to_deg=float(az[c]) + h))
    return ActionPlan(actions=acts)


def _reading(tel) -> dict:
    return next(r["payload"] for r in tel.truth.to_dict("records")
                if r["message"].startswith("radar I/N"))


def test_blanking_the_beam_as_it_points_removes_the_violations():
    d = _scenario().model_dump()
    d["events"][0]["track"] = [{"t_s": 0.0, "x_m": 0.0, "y_m": -10000.0}]  # at anchor
    sc = Scenario.model_validate(d)
    r = sc.events[0]
    free, prot = NetworkEmulator(sc), NetworkEmulator(sc)
    prot.apply(_truth_schedule(prot, r, guard_deg=0.5))
    a, b = _reading(free.step()), _reading(prot.step())
    assert a["violations"] > 0.005 * a["samples"]   # the main beam over the cells
    assert b["violations"] == 0 and b["i_n_db"] < r.protection_i_n_db


def test_tracker_learns_rotation_and_passes_from_bursts():
    sc = _scenario()
    r = sc.events[0]
    emu = NetworkEmulator(sc)
    tr = RadarTracker(RadarSpec.of(r))
    for _ in range(2):
        tel = emu.step()
        tr.observe(tel.bursts, emu.recorded)
    assert len(tr.passes) == emu.recorded.n_cells
    assert tr.period_s == pytest.approx(r.rotation_s, abs=2e-3)
    # the next pass of every cell, predicted a minute ahead, within 4 sigma of the truth
    t = 150.0
    x, y = r.position(t)
    az, coupling = radar_coupling_db(emu.recorded, r, x, y)
    for c, name in enumerate(emu.recorded.cell_names):
        per, t_k, sigma = tr.next_pass(name, t)
        beam = r.beam_deg(t_k)
        err_deg = abs((beam - az[c] + 180.0) % 360.0 - 180.0)
        assert err_deg / 360.0 * per <= 4 * sigma + 0.004, name
    # the coupling from the bursts' power (reciprocity) within the bursts' 1 dB noise
    assert tr.passes["S0/1"].coupling_db == pytest.approx(coupling[0], abs=1.5)
    fix = tr.track[-1]
    assert math.hypot(fix["x_m"] - x, fix["y_m"] - y) < 3000.0  # 10 km out, 1 km of sites


def test_static_zone_radius_by_hand():
    spec = RadarSpec.of(load_scenario("radar").events[0])
    d = protection_distance_m(spec, 43.0, 0.25, bs_gain_dbi=8.0, clutter_loss_db=30.0)
    budget = 43.0 + 10 * math.log10(0.25) + 8.0 + spec.gain_dbi - 30.0 - spec.noise_dbm + 6.0
    assert float(free_space_pathloss_db(d, spec.fc_ghz)) == pytest.approx(budget, abs=0.01)
    # 20 log10 distance: 6 dB more budget, twice as far
    d2 = protection_distance_m(spec, 49.0, 0.25, bs_gain_dbi=8.0, clutter_loss_db=30.0)
    assert d2 / d == pytest.approx(10 ** (6 / 20), rel=1e-3)


@pytest.fixture(scope="module")
def runs():
    return {p: RadarLoop(_scenario(600), ContextStore(":memory:"), p).run(6)
            for p in ("noop", "rule", "solver")}


def test_dynamic_blanking_protects_at_a_fraction_of_the_static_cost(runs):
    u = {p: r["usecase"] for p, r in runs.items()}
    assert u["noop"]["protection_violation_fraction"] > 0.01
    assert u["noop"]["throughput_loss_fraction"] == pytest.approx(0.0, abs=1e-9)
    assert u["rule"]["protection_violation_fraction"] <= 0.01
    assert u["solver"]["protection_violation_fraction"] <= 0.01
    assert u["rule"]["throughput_loss_fraction"] > 0.1
    assert u["solver"]["throughput_loss_fraction"] < 0.5 * u["rule"]["throughput_loss_fraction"]
    plans = [d["plan"] for d in runs["solver"]["plan"]]
    assert plans[0] == "static zone" and plans[1].startswith("dynamic")


def test_blanking_is_offered_and_bounded_only_with_a_radar():
    twin = DigitalTwin(_scenario())
    bands = radar_bands(twin.scenario, twin.network)
    assert bands is not None and bands["S0/1"][0] > 0
    from twinnet.policy import CAPACITY_TYPES, Policy

    assert "blank_prbs" not in CAPACITY_TYPES  # the engine adds it where a radar is
    schema = proposal_schema(twin.network, (*CAPACITY_TYPES, "blank_prbs"), blanking=bands)
    items = [i for i in schema["properties"]["actions"]["items"]["anyOf"]
             if i["properties"]["type"]["const"] == "blank_prbs"]
    lo, hi = bands["S0/1"]
    assert items and items[0]["properties"]["start_prb"] == {"const": lo}
    ok = {"type": "blank_prbs", "cell": "S0/1", "start_prb": lo, "end_prb": hi}
    bad = {"type": "blank_prbs", "cell": "S0/2", "start_prb": 0, "end_prb": 105}
    pol = Policy(allowed_types=(*Policy().allowed_types, "blank_prbs"))
    s = screen_actions([ok, bad], twin.network, pol, bands=bands)
    assert [a.cell for a in s.actions] == ["S0/1"]
    assert s.rejections[0].field == "start_prb" and "radar" in s.rejections[0].reason
    assert radar_bands(DigitalTwin(load_scenario("hotspot")).scenario,
                       DigitalTwin(load_scenario("hotspot")).network) is None
