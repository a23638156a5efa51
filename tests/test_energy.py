"""Energy saving: the EARTH power model, the energy–QoS Pareto front and the day loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinnet.errors import InputError
from twinnet.loop.energy import EnergyLoop
from twinnet.policy.energy import EARTH, cell_power_w
from twinnet.rrm.energy import EnergyPoint, capacity_cells, energy_front, pareto_front, pick
from twinnet.scenario import load_scenario
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin


def test_earth_macro_site_matches_the_papers_figures():
    m = EARTH["macro"]
    # Auer et al. 2011: 6 TRX × (130 W + 4.7 × P_out), P_max 20 W, sleep 75 W
    assert m.site_power_w(1.0) == pytest.approx(6 * (130.0 + 4.7 * 20.0))   # 1,344 W
    assert m.site_power_w(0.5) == pytest.approx(6 * (130.0 + 4.7 * 10.0))
    assert m.site_power_w(0.0) == pytest.approx(450.0)
    assert EARTH["pico"].site_power_w(1.0) == pytest.approx(2 * (6.8 + 4.0 * 0.13))
    # one cell = 2 TRX sharing its transmit power: 46 dBm = 39.8 W → 19.9 W per chain
    p = cell_power_w([46.0, 46.0, 46.0], [1.0, 0.0, 1.0], [True, True, False])
    per_chain = 10 ** 1.6 / 2
    assert p[0] == pytest.approx(2 * (130.0 + 4.7 * per_chain))
    assert p[1] == pytest.approx(2 * 130.0)          # on and idle
    assert p[2] == pytest.approx(2 * 75.0)           # asleep
    with pytest.raises(InputError, match="bs_type"):
        cell_power_w([46.0], [0.5], [True], bs_type="tower")
    with pytest.raises(InputError, match="load"):
        m.site_power_w(1.5)


_pt = st.builds(EnergyPoint, st.just([]), st.floats(0, 1e4), st.floats(0, 10),
                st.floats(0, 1), st.floats(0, 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(_pt, min_size=1, max_size=25))
def test_pareto_front_is_non_dominated_and_complete(points):
    front = pareto_front(points)
    assert front

    def dom(a: EnergyPoint, b: EnergyPoint) -> bool:
        va = (a.power_w, -a.p5_throughput_mbps, a.outage_ratio, a.peak_prb_utilization)
        vb = (b.power_w, -b.p5_throughput_mbps, b.outage_ratio, b.peak_prb_utilization)
        return all(x <= y for x, y in zip(va, vb, strict=True)) and va != vb

    for p in front:      # nothing in the front is dominated …
        assert not any(dom(q, p) for q in points)
    for p in points:     # … and everything left out is
        if not any(p is f for f in front):
            assert any(dom(q, p) for q in points)


@pytest.fixture(scope="module")
def night() -> object:
    sc = load_scenario("night_energy")
    sim = {**sc.simulation.model_dump(), "report_s": 300.0, "start": "2013-11-05T01:00:00"}
    return sc.with_updates(users={**sc.users.model_dump(), "count": 800}, simulation=sim)


def test_front_on_the_twin_and_the_policys_point(night):
    tw = DigitalTwin(night)
    cand = capacity_cells(tw)
    assert len(cand) == 21 and all(tw.network.carriers[tw.network.cell_carrier[c]].name == "n78"
                                   for c in cand)
    points, front, facts = energy_front(tw, [3, 4])
    assert facts["evaluated"] == 22 and points[0].sleep == []
    powers = [p.power_w for p in points]
    assert powers[-1] < powers[0]             # sleeping saves power
    ref = points[0]
    chosen = pick(front, ref, p5_fraction=0.9, outage_margin=0.005, max_prb_utilization=0.8)
    assert chosen.power_w <= ref.power_w
    assert chosen.p5_throughput_mbps >= 0.9 * ref.p5_throughput_mbps - 1e-12
    assert chosen.peak_prb_utilization <= max(0.8, ref.peak_prb_utilization) + 1e-12
    # a busy network (four times the demand, the evening peak) leaves less to sleep
    tw.demand_multiplier = np.full(tw.users.n, 4.0)
    pts, fr, _ = energy_front(tw, [20])
    busy = pick(fr, pts[0])
    assert len(busy.sleep) < len(chosen.sleep)
    assert busy.peak_prb_utilization <= max(0.8, pts[0].peak_prb_utilization) + 1e-12


def test_night_loop_saves_energy_and_holds_qos_on_the_emulator(night):
    with ContextStore(":memory:") as store:
        rep = EnergyLoop(night, store, "solver").run(12)
    u = rep["usecase"]
    assert rep["verified_on"] == "emulator"
    assert u["energy_kwh"] < u["energy_kwh_reference"]
    assert u["energy_saved_fraction"] > 0.05
    assert u["qos_violations"] <= 1                      # the first interval after a switch
    assert u["directives"] > 0 and u["pareto_front"]
    assert np.isclose(u["served_ratio"], u["served_ratio_reference"], atol=0.01)
    with ContextStore(":memory:") as store:
        noop = EnergyLoop(night, store, "noop").run(4)
    assert noop["usecase"]["energy_kwh"] == pytest.approx(noop["usecase"]["energy_kwh_reference"])


def test_a_single_layer_network_has_nothing_to_sleep():
    with ContextStore(":memory:") as store, pytest.raises(InputError, match="capacity"):
        EnergyLoop("hotspot_live", store)


def test_a_woken_cell_is_boosted_for_one_period_then_restored(night):
    """The wake procedure: connected users moved to the coverage layer hand back only past the
    A3 margin, so a woken cell's offset is raised for one period."""
    import pandas as pd

    from twinnet.actions import ActionPlan, SetCellActive

    with ContextStore(":memory:") as store:
        loop = EnergyLoop(night, store, "rule", wake_boost_db=4.0)
        net = loop.twin.network
        c = loop.candidates[0]
        name = net.cell_names[c]
        base = float(net.cell_cio_db[c])
        loop.sync.v2p(loop.emu, ActionPlan(actions=[SetCellActive(cell=name, active=False)]))

        def kpis(cov: float, cap: float) -> pd.DataFrame:
            util = [cap if k in loop.candidates else cov for k in range(net.n_cells)]
            return pd.DataFrame({"cell_id": loop.twin.network.cell_names, "prb_util_dl": util})

        ts = loop.emu.clock
        loop._decide(ts, kpis(cov=0.9, cap=0.0))      # the coverage cell is busy: wake
        assert loop.twin.network.cell_active[c] and loop.emu.recorded.cell_active[c]
        assert loop.emu.recorded.cell_cio_db[c] == pytest.approx(base + 4.0)
        loop._decide(ts, kpis(cov=0.6, cap=0.2))      # neither sleep nor wake: restore
        assert loop.emu.recorded.cell_active[c]
        assert loop.emu.recorded.cell_cio_db[c] == pytest.approx(base)
        assert loop.twin.network.cell_cio_db[c] == pytest.approx(base)
