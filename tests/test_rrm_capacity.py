"""Capacity engine: cheapest verified plan for a PRB-utilisation target, against brute force."""

from __future__ import annotations

import itertools

import pytest

from twinnet.rrm.capacity import (
    _meets,
    _plan,
    candidate_options,
    greedy_capacity_plan,
    solve_capacity,
)
from twinnet.twin import DigitalTwin
from twinnet.twin.whatif import what_if


@pytest.fixture(scope="module")
def twin():
    return DigitalTwin.from_scenario("hotspot")


@pytest.fixture(scope="module")
def small_options(twin):
    opts = candidate_options(twin, 0.5)
    keep = {"S0/1 tilt +4°", "S0/1 tilt +8°", "S0/1 power −3 dB", "switch on SC1/1",
            "switch on SC1/1 with +6 dB range extension", "switch on SC2/1", "switch on SC3/1"}
    return [o for o in opts if o.name in keep]


def test_candidates_surround_the_congested_cell(twin):
    opts = candidate_options(twin, 0.5)
    groups = {o.group for o in opts}
    assert {"tilt:S0/1", "power:S0/1", "cell:SC1/1", "cell:SC4/1"} <= groups
    assert all(o.cost > 0 for o in opts)


@pytest.mark.slow
def test_engine_equals_brute_force_on_a_small_candidate_set(twin, small_options):
    target = 0.7
    res = solve_capacity(twin, target, small_options)
    # brute force: every combination (one option per group), evaluated on the twin
    groups = sorted({o.group for o in small_options})
    by = [[o for o in small_options if o.group == g] for g in groups]
    base = twin.evaluate(uplink=False)
    best = None
    for pick in itertools.product(*[[None, *os] for os in by]):
        chosen = [o for o in pick if o is not None]
        if not chosen:
            continue
        r = what_if(twin, _plan(chosen, "bf"), None, base)
        if _meets(r.kpis, target, None):
            cost = sum(o.cost for o in chosen)
            best = cost if best is None else min(best, cost)
    assert best is not None and res.feasible and res.proved
    assert res.cost == pytest.approx(best)
    assert res.predicted_kpis["peak_prb_utilization"] <= target
    # the twin was not changed by the search
    assert twin.evaluate(uplink=False).kpis["peak_prb_utilization"] == pytest.approx(
        base.kpis["peak_prb_utilization"])
    g = greedy_capacity_plan(twin, target, small_options)
    assert not g.feasible or g.cost >= res.cost


def test_target_already_met_needs_nothing(twin):
    r = solve_capacity(twin, 0.99)
    assert r.feasible and r.cost == 0.0 and r.plan.actions == []


def test_cheapest_combinations_equal_sorting_the_whole_product():
    """The lazy best-first walk gives exactly the cheapest combinations of the sorted product
    (ties in product order), and the DP counts every combination under the bound."""
    import itertools

    import numpy as np

    from twinnet.actions import SetTxPower
    from twinnet.rrm.capacity import Option, cheapest_combinations, count_cheaper

    rng = np.random.default_rng(5)
    for _ in range(40):
        sizes = rng.integers(1, 4, size=rng.integers(1, 6))
        opts: list[Option] = []
        by_group = []
        for g, n in enumerate(sizes):
            ix = []
            for _k in range(n):
                # an option's cost is its number of actions (SetTxPower costs 1 each)
                acts = tuple(SetTxPower(cell=f"C{g}", tx_power_dbm=40.0)
                             for _ in range(int(rng.integers(1, 12))))
                opts.append(Option(f"g{g}", f"o{len(opts)}", acts))
                ix.append(len(opts) - 1)
            by_group.append(ix)
        bound = float(rng.integers(3, 30))
        full = []
        for pick in itertools.product(*[[None, *g] for g in by_group]):
            chosen = [i for i in pick if i is not None]
            cost = sum(opts[i].cost for i in chosen)
            if chosen and cost < bound - 1e-9:
                full.append((cost, chosen))
        full.sort(key=lambda t: t[0])
        limit = int(rng.integers(1, 50))
        assert list(cheapest_combinations(opts, by_group, bound, limit)) == full[:limit]
        assert count_cheaper(opts, by_group, bound) == len(full)


def test_neighbours_are_where_the_cells_users_would_go(twin):
    """``neighbour_cells`` reads the hand-over targets off the link gains: a positive offset on
    a cell's first neighbour takes users from it; the neighbours are other, active cells."""
    import numpy as np

    from twinnet.actions import ActionPlan, SetCellOffset
    from twinnet.rrm.capacity import neighbour_cells

    names = twin.network.cell_names
    c = names.index("S0/1")
    nb = neighbour_cells(twin, [c], top=3)[c]
    assert 1 <= len(nb) <= 3 and c not in nb and all(twin.network.cell_active[k] for k in nb)
    base = twin.evaluate(uplink=False).cells.set_index("name")["users"]
    plan = ActionPlan(actions=[SetCellOffset(cell=names[nb[0]], offset_db=6.0)])
    after = what_if(twin, plan, keep_evaluation=True).evaluation
    assert after is not None
    users = after.cells.set_index("name")["users"]
    assert users["S0/1"] < base["S0/1"] and users[names[nb[0]]] > base[names[nb[0]]]
    # a cell nobody camps on has no neighbours
    srv = twin.serving_cells()
    empty = [k for k in range(len(names)) if not np.any(srv == k)]
    if empty:
        assert neighbour_cells(twin, [empty[0]])[empty[0]] == []


def test_wide_candidates_reach_every_hot_cell_and_its_neighbours():
    from twinnet.errors import InputError
    from twinnet.rrm.capacity import neighbour_cells, search_space

    t = DigitalTwin.from_scenario("umi_mmwave")
    util = t.evaluate(uplink=False).cells.set_index("name")["prb_utilization"]
    hot = [n for n, u in util.items() if u > 0.47]
    assert len(hot) >= 2
    local = candidate_options(t, 0.47, congested=[hot[0]])
    wide = candidate_options(t, 0.47, congested=[hot[0]], hops=2)
    lg = {o.group for o in local}
    wg = {o.group for o in wide}
    assert lg <= wg and len(wide) > len(local)
    for n in hot:  # every hot cell gets the full set, negative offsets included
        assert {f"tilt:{n}", f"power:{n}", f"offset:{n}"} <= wg, n
        assert all(a.offset_db < 0 for o in wide if o.group == f"offset:{n}"
                   for a in o.actions)
    names = t.network.cell_names
    first = {names[k] for c in hot for k in neighbour_cells(t, [names.index(c)])[
        names.index(c)]} - set(hot)
    assert first and all(f"offset:{n}" in wg for n in first)  # pulled towards the hot cells
    pulls = [a.offset_db for o in wide if o.group.startswith("offset:")
             and o.group[7:] not in hot for a in o.actions]
    assert pulls and min(pulls) > 0
    # two hops: some cells beyond the first ring get offsets too
    assert {o.group[7:] for o in wide if o.group.startswith("offset:")} - set(hot) - first
    assert search_space(wide) > 2**63  # exact, no overflow: far beyond enumeration
    with pytest.raises(InputError, match="hops"):
        candidate_options(t, 0.47, hops=7)


def test_reserve_carriers_are_candidates_of_the_hot_sector():
    from twinnet.scenario import Scenario, load_scenario

    data = load_scenario("hotspot").model_dump()
    data["small_cells"] = []
    data["users"]["count"] = 1500
    data["carriers"] = [data["carriers"][0],
                        {**data["carriers"][0], "name": "n78b", "fc_ghz": 3.7,
                         "bandwidth_mhz": 40, "active": False}]
    t = DigitalTwin(Scenario.model_validate(data))
    util = t.evaluate(uplink=False).cells.set_index("name")["prb_utilization"]
    target = 0.9 * float(util.max())
    hot = [n for n, u in util.items() if u > target]
    opts = candidate_options(t, target, hops=1)

    def lit(options):
        out = set()
        for o in options:
            for a in o.actions:
                if a.type == "add_carrier":
                    out.add(a.target_cell())
                elif a.type == "set_cell_active" and a.active:
                    out.add(a.cell)
        return out

    # the reserve carrier of every hot sector can be lit in the wide set (near the congested
    # cell the local set already offers it)
    assert {n.split("@")[0] + "@n78b" for n in hot} <= lit(opts)
    assert lit(candidate_options(t, target)) <= lit(opts)


def test_greedy_keeps_the_outage_and_p5_limits(twin):
    base = twin.evaluate(uplink=False).kpis
    opts = candidate_options(twin, 0.3, hops=1)
    max_out = base["outage_ratio"] + 0.001
    min_p5 = 0.99 * base["p5_throughput_mbps"]
    g = greedy_capacity_plan(twin, 0.3, opts, max_outage=max_out, min_p5_mbps=min_p5)
    k = g.predicted_kpis
    assert k["outage_ratio"] <= max_out + 1e-12
    assert k["p5_throughput_mbps"] >= min_p5 - 1e-12
