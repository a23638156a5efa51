"""What-if analysis: forks, incremental link gains, batch evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from twinnet.actions import (
    ActionPlan,
    SetCellActive,
    SetCellOffset,
    SetElectricalTilt,
    SetTxPower,
    action_schema,
    parse_action,
)
from twinnet.errors import InputError
from twinnet.twin import DigitalTwin
from twinnet.twin.whatif import what_if, what_if_batch


@pytest.fixture(scope="module")
def twin():
    t = DigitalTwin.from_scenario("hotspot")
    t.evaluate()
    return t


def test_what_if_does_not_touch_the_twin_and_matches_applying(twin):
    before = twin.network.copy()
    base = twin.evaluate()
    plan = ActionPlan(actions=[SetElectricalTilt(cell="S0/1", tilt_deg=12.0),
                               SetCellOffset(cell="S0/2", offset_db=3.0)], rationale="test")
    r = what_if(twin, plan, baseline=base)
    assert np.array_equal(twin.network.cell_elec_tilt_deg, before.cell_elec_tilt_deg)
    assert np.array_equal(twin.network.cell_cio_db, before.cell_cio_db)
    # the same plan applied to an independent fresh twin gives the same KPIs
    fresh = DigitalTwin.from_scenario("hotspot")
    plan.apply(fresh.network)
    k = fresh.evaluate(uplink=False).kpis
    assert r.kpis["peak_prb_utilization"] == pytest.approx(k["peak_prb_utilization"], abs=1e-12)
    assert r.delta["peak_prb_utilization"] == pytest.approx(
        k["peak_prb_utilization"] - base.kpis["peak_prb_utilization"])
    assert r.cell_utilization.index[0] == "S0/1"


def test_incremental_gains_equal_full_recompute(twin):
    fork = twin.copy()
    fork.network.cell_elec_tilt_deg[[0, 7]] = [11.0, 4.0]
    fork.network.cell_bearing_deg[3] += 15.0
    g_inc, s_inc = fork.link_gains()
    full = DigitalTwin.from_scenario("hotspot")
    full.network.cell_elec_tilt_deg[[0, 7]] = [11.0, 4.0]
    full.network.cell_bearing_deg[3] += 15.0
    g_full, s_full = full.link_gains()
    assert np.array_equal(s_inc, s_full)
    assert np.array_equal(g_inc, g_full)


def _applied(twin, plan):
    """A fork of ``twin`` with ``plan`` applied, evaluated (per-user tables included)."""
    fork = twin.copy()
    plan.apply(fork.network)
    return fork.evaluate(uplink=False)


def test_batch_and_physics_direction(twin):
    names = twin.network.cell_names
    base = twin.evaluate(uplink=False)
    u0 = base.cells.set_index("name")["prb_utilization"]
    srv0 = base.users["serving_cell"].to_numpy()
    hot = names.index("S0/1")
    plans = [ActionPlan(actions=[SetTxPower(cell="S0/1", tx_power_dbm=p)]) for p in (43, 40, 37)]
    plans.append(ActionPlan(actions=[SetCellActive(cell="S0/2", active=False)]))
    plans.append(ActionPlan(actions=[SetElectricalTilt(cell="S0/1", tilt_deg=16.0)]))
    plans.append(ActionPlan(actions=[SetCellActive(cell="SC1/1", active=True)]))
    res = what_if_batch(twin, plans)
    assert res[0].delta["peak_prb_utilization"] == pytest.approx(0.0, abs=1e-12)
    assert [r.plan.cost() for r in res[:4]] == [1.0, 1.0, 1.0, 20.0]
    for r, plan in zip(res, plans, strict=True):  # the batch agrees with applying each plan
        assert r.cell_utilization.to_dict() == pytest.approx(
            _applied(twin, plan).cells.set_index("name")["prb_utilization"].to_dict(),
            abs=1e-12)

    # switching a cell off pushes its users to the cells around it: their load rises
    off = res[3]
    assert off.cell_utilization["S0/2"] == 0.0
    for c in ("S0/1", "S0/3"):
        assert off.cell_utilization[c] > u0[c]

    # 6 dB less power on the congested cell. The serving cell is the strongest RSRP, which
    # does not depend on load: users can only leave S0/1, and only its edge users do (to the
    # neighbours, whose load rises). The crowd at its centre stays: their signal is 6 dB
    # weaker while the neighbours that interfere with them are busier, so their SINR falls by
    # about 6 dB (a little less where a far cell hears less of S0/1 and idles) and they need
    # more PRBs — in an interference-limited crowd S0/1 gets busier, not idler
    low = _applied(twin, plans[2])
    srv1 = low.users["serving_cell"].to_numpy()
    assert np.all(srv1[srv1 == hot] == srv0[srv1 == hot])  # nobody joins S0/1
    moved = (srv0 == hot) & (srv1 != hot)
    assert 0 < moved.sum() < 0.2 * (srv0 == hot).sum()
    gainers = {names[c] for c in np.unique(srv1[moved])}
    u2 = res[2].cell_utilization
    assert all(u2[c] > u0[c] for c in gainers)
    others = [c for c in names if c != "S0/1"]
    assert sum(u2[c] for c in others) > sum(u0[c] for c in others)
    stay = (srv0 == hot) & (srv1 == hot)
    dsinr = low.users["sinr_db"].to_numpy()[stay] - base.users["sinr_db"].to_numpy()[stay]
    assert np.all(dsinr < -5.5) and np.median(dsinr) < -6.0
    assert u2["S0/1"] > u0["S0/1"]

    # 8° more downtilt on S0/1 pulls its footprint in: its edge users go to the neighbours
    # (whose load rises), the ones that stay are nearer the boresight — S0/1 gets idler
    tilt = _applied(twin, plans[4])
    srv_t = tilt.users["serving_cell"].to_numpy()
    left = (srv0 == hot) & (srv_t != hot)
    assert left.sum() > 0.1 * (srv0 == hot).sum()
    u_t = res[4].cell_utilization
    assert u_t["S0/1"] < u0["S0/1"] - 0.03
    took = {names[c] for c in np.unique(srv_t[left])}
    assert max(u_t[c] - u0[c] for c in took) > 0.05

    # a small cell switched on near the crowd: users only move to it (association does not
    # depend on load), every macro cell keeps a subset of its users, and S0/1 is offloaded
    sc = _applied(twin, plans[5])
    srv_s = sc.users["serving_cell"].to_numpy()
    new = names.index("SC1/1")
    assert np.all((srv_s == srv0) | (srv_s == new))
    assert (srv0[srv_s == new] == hot).mean() > 0.5  # most of its users came from S0/1
    u_s = res[5].cell_utilization
    assert u_s["SC1/1"] > 0.0 and u_s["S0/1"] < u0["S0/1"] - 0.05


def test_actions_are_bounded_and_exported_as_schema(twin):
    with pytest.raises(InputError, match="tx_power_dbm"):
        parse_action({"type": "set_tx_power", "cell": "S0/1", "tx_power_dbm": 90})
    with pytest.raises(InputError, match="type"):
        parse_action({"type": "format_disk", "cell": "S0/1"})
    a = parse_action({"type": "set_cell_offset", "cell": "S0/1", "offset_db": -6})
    assert isinstance(a, SetCellOffset) and a.touched_cells() == ["S0/1"]
    with pytest.raises(InputError, match="cell"):
        what_if(twin, ActionPlan(actions=[SetTxPower(cell="nope", tx_power_dbm=40.0)]))
    schema = action_schema()
    assert set(schema["$defs"]) >= {"SetTxPower", "SetElectricalTilt", "SetCellOffset",
                                    "SetCellActive"}


def test_prb_reservation_and_blanking_take_capacity_away(twin):
    from twinnet.actions import BlankPRBs, ReservePRBs

    base = what_if(twin, ActionPlan(actions=[SetTxPower(cell="S0/2", tx_power_dbm=43.0)]))
    u0 = base.cell_utilization["S0/2"]
    half = what_if(twin, ActionPlan(actions=[ReservePRBs(cell="S0/2", slice_id="urllc",
                                                         n_prb=25)]))
    # 51 PRBs, 25 reserved: the same traffic on 26 PRBs (SINR barely moves: only this cell's
    # load, hence its interference, rises)
    assert half.cell_utilization["S0/2"] == pytest.approx(u0 * 51 / 26, rel=0.05)
    blank = what_if(twin, ActionPlan(actions=[BlankPRBs(cell="S0/2", start_prb=10,
                                                        end_prb=34)]))
    assert blank.cell_utilization["S0/2"] == pytest.approx(half.cell_utilization["S0/2"],
                                                           rel=1e-9)
    assert twin.network.cell_prb_reserved is None  # the twin itself untouched
    with pytest.raises(InputError, match="n_prb"):
        what_if(twin, ActionPlan(actions=[ReservePRBs(cell="S0/2", n_prb=51)]))
    with pytest.raises(InputError, match="end_prb"):
        parse_action({"type": "blank_prbs", "cell": "S0/2", "start_prb": 10, "end_prb": 3})
    # the inverse plan restores the PRBs
    plan = ActionPlan(actions=[ReservePRBs(cell="S0/2", n_prb=20),
                               BlankPRBs(cell="S0/2", start_prb=0, end_prb=9)])
    net = twin.network.copy()
    before = twin.network.copy()
    plan.apply(net)
    assert net.cell_n_prb_available[1] == 51 - 30
    plan.inverse(before).apply(net)
    assert net.cell_n_prb_available[1] == 51


def test_lean_and_early_rejecting_load_agree_with_the_full_evaluation(twin):
    """``what_if_load`` gives the full evaluation's peak and outage; warm-started it reaches the
    same fixed point; with limits it rejects only plans whose full evaluation breaks them
    (the bounds are sound) and leaves the others' numbers unchanged."""
    from twinnet.rrm.capacity import candidate_options
    from twinnet.twin.whatif import what_if_load

    base = twin.evaluate(uplink=False)
    rho0 = base.cells["prb_utilization"].to_numpy(dtype=float)
    opts = candidate_options(twin, 0.5, congested=["S0/1"])
    rng = np.random.default_rng(7)
    limit, n_rejected, n_kept = 0.62, 0, 0
    for _ in range(25):
        pick = rng.choice(len(opts), size=int(rng.integers(1, 4)), replace=False)
        acts, cells = [], set()
        for i in pick:
            for a in opts[int(i)].actions:
                if not set(a.touched_cells()) & cells:
                    acts.append(a)
                    cells |= set(a.touched_cells())
        plan = ActionPlan(actions=acts, rationale="random combination")
        full = what_if(twin, plan, baseline=base).kpis
        lean = what_if_load(twin, plan)
        assert lean.peak_prb_utilization == pytest.approx(full["peak_prb_utilization"],
                                                          abs=1e-9)
        assert lean.outage_ratio == pytest.approx(full["outage_ratio"], abs=1e-12)
        warm = what_if_load(twin, plan, rho0=rho0)
        assert warm.peak_prb_utilization == pytest.approx(full["peak_prb_utilization"],
                                                          abs=2e-3)
        early = what_if_load(twin, plan, reject_above=limit,
                             reject_outage_above=base.kpis["outage_ratio"] + 0.005)
        if early.rejected:
            n_rejected += 1
            breaks = (full["peak_prb_utilization"] > limit
                      or full["outage_ratio"] > base.kpis["outage_ratio"] + 0.005)
            assert breaks, plan
            assert early.iterations <= lean.iterations
            assert early.peak_prb_utilization <= full["peak_prb_utilization"] + 1e-9
        else:
            n_kept += 1
            assert early.peak_prb_utilization == pytest.approx(full["peak_prb_utilization"],
                                                               abs=1e-9)
    assert n_rejected > 0 and n_kept > 0  # both branches were exercised
    with pytest.raises(ValueError):
        what_if_load(twin, ActionPlan(actions=[], rationale=""), rho0=rho0, reject_above=0.5)


def test_cached_gain_columns_equal_a_full_recompute():
    """Tilt settings revisited in other combinations (and many cells changed at once, once
    their columns are cached) give the gains a fresh twin computes from scratch."""
    twin = DigitalTwin.from_scenario("hotspot")
    twin.evaluate(uplink=False)
    names = twin.network.cell_names
    tilt = {n: float(twin.network.cell_elec_tilt_deg[names.index(n)]) for n in names}
    macro = [n for n in names if twin.network.cell_active[names.index(n)]][:10]
    singles = [ActionPlan(actions=[SetElectricalTilt(cell=n, tilt_deg=tilt[n] + 4.0)])
               for n in macro]
    every = ActionPlan(actions=[a for p in singles for a in p.actions])  # 10 cells > C/4
    pair = ActionPlan(actions=[*singles[0].actions, *singles[3].actions])
    for plan in [*singles, pair, every, singles[0], pair]:
        fork = twin.copy()
        plan.apply(fork.network)
        got, _ = fork.link_gains()
        fresh = DigitalTwin.from_scenario("hotspot")
        plan.apply(fresh.network)
        want, _ = fresh.link_gains()
        np.testing.assert_array_equal(got, want)
    assert len(twin._column_cache) >= len(macro)  # the forks filled the shared cache
