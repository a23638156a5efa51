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
