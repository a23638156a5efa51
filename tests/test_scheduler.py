"""Proportional-fair scheduler: convergence to the analytic proportional-fair shares (equal time
shares for full-buffer users, water-filled shares when some need less) for short and long steps,
capacity and demand never exceeded, backhaul caps, and the averages' time constant."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinnet.errors import InputError
from twinnet.traffic.scheduler import ProportionalFair


def _water_fill(need):
    """Equal-level water filling by hand: the smallest needs are met, the rest share equally."""
    order = np.sort(need)
    left, k = 1.0, need.size
    for x in order:
        if x * k <= left:
            left -= x
            k -= 1
        else:
            break
    level = left / k if k else np.inf
    return np.minimum(need, level)


@pytest.mark.parametrize("dt", [0.1, 1.0, 60.0, 3600.0])
@pytest.mark.parametrize("rates", [[50e6] * 4, [150e6, 40e6, 10e6, 2e6]])
def test_full_buffer_users_converge_to_equal_time_shares(dt, rates):
    rate = np.array(rates)
    pf = ProportionalFair(4, time_constant_s=1.0)
    pf.avg_rate_bps[:] = [80e6, 1e3, 5e6, 0.0]  # an unequal history
    cell = np.zeros(4, dtype=np.int32)
    for _ in range(round(max(20.0, 100 * 0.1 / dt))):
        sch = pf.schedule(cell, 1, rate, np.full(4, np.inf), dt)
    np.testing.assert_allclose(sch.share, 0.25, rtol=1e-6)
    assert sch.cell_utilization[0] == pytest.approx(1.0, abs=1e-12)
    # throughput proportional to the rate
    np.testing.assert_allclose(sch.served_bits / dt, rate / 4, rtol=1e-6)
    np.testing.assert_allclose(pf.avg_rate_bps, rate / 4, rtol=1e-4)


def test_short_steps_follow_the_metric_before_converging():
    """At dt << τ the share goes to the user whose history is lowest (the PF metric r/x̄)."""
    pf = ProportionalFair(2, time_constant_s=1.0)
    pf.avg_rate_bps[:] = [10e6, 1e6]
    rate = np.array([20e6, 20e6])
    sch = pf.schedule(np.zeros(2, dtype=np.int32), 1, rate, np.full(2, np.inf), 0.01)
    assert sch.share[1] > 0.75
    shares = [sch.share[1]]
    for _ in range(300):
        shares.append(pf.schedule(np.zeros(2, dtype=np.int32), 1, rate, np.full(2, np.inf),
                                  0.01).share[1])
    assert np.all(np.diff(shares) < 1e-12)  # monotone, no oscillation
    assert shares[-1] == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("dt", [1.0, 30.0])
def test_users_needing_less_get_the_water_filled_shares(dt):
    rate = np.array([100e6, 30e6, 80e6, 20e6, 60e6, 5e6])
    need = np.array([np.inf, np.inf, 0.05, 0.10, 0.30, 0.5])  # of the PRB-time
    demand = need * rate * dt
    pf = ProportionalFair(6)
    for _ in range(40):
        sch = pf.schedule(np.zeros(6, dtype=np.int32), 1, rate, demand, dt)
    expected = _water_fill(need)
    np.testing.assert_allclose(sch.share, expected, rtol=1e-6)
    assert expected[0] == pytest.approx(0.2125)  # (1 - 0.05 - 0.10) / 4: 0.30 is not met
    np.testing.assert_allclose(sch.served_bits[2:4], demand[2:4])  # needs met exactly
    assert sch.cell_utilization[0] == pytest.approx(1.0)
    # a user whose need is met is served at the rate of the share it could take
    assert np.all(sch.busy_rate_bps[2:4] > sch.served_bits[2:4] / dt)


def test_cells_that_carry_everything_serve_all_demand_at_full_rate():
    pf = ProportionalFair(3)
    rate = np.array([10e6, 20e6, 40e6])
    demand = np.array([1e6, 4e6, 2e6])  # shares 0.1 + 0.2 + 0.05
    sch = pf.schedule(np.zeros(3, dtype=np.int32), 1, rate, demand, 1.0)
    np.testing.assert_allclose(sch.served_bits, demand)
    assert sch.cell_utilization[0] == pytest.approx(0.35)
    np.testing.assert_allclose(sch.busy_rate_bps, rate)


def test_random_networks_never_exceed_capacity_or_demand():
    rng = np.random.default_rng(12)
    n, cells = 3000, 25
    pf = ProportionalFair(n)
    for _ in range(30):
        cell = rng.integers(-1, cells, n).astype(np.int32)
        rate = np.where(rng.random(n) < 0.05, 0.0, rng.lognormal(17, 1.5, n))
        kind = rng.random(n)
        demand = np.where(kind < 0.1, np.inf, np.where(kind < 0.2, 0.0,
                                                       rng.lognormal(13, 2, n)))
        dt = float(rng.choice([0.1, 1.0, 10.0]))
        sch = pf.schedule(cell, cells, rate, demand, dt)
        on = cell >= 0
        assert np.all(sch.share >= 0) and np.all(sch.served_bits >= 0)
        assert not sch.share[~on].any() and not sch.share[rate == 0].any()
        assert not sch.share[demand == 0].any()
        assert np.all(sch.served_bits <= demand)
        assert np.all(sch.served_bits <= sch.share * rate * dt * (1 + 1e-12))
        used = np.bincount(cell[on], weights=sch.share[on], minlength=cells)
        assert np.all(used <= 1 + 1e-12)
        np.testing.assert_allclose(sch.cell_utilization, used, atol=1e-12)
        # utilisation is 1 wherever a full-buffer user is scheduled
        fb = np.unique(cell[on & np.isinf(demand) & (rate > 0)])
        np.testing.assert_allclose(sch.cell_utilization[fb], 1.0, atol=1e-9)
        # a cell below full use carries all its users' data
        low = sch.cell_utilization < 1 - 1e-9
        served_all = np.isclose(sch.served_bits, demand) | (rate == 0) | (demand == 0)
        assert np.all(served_all[on & low[np.maximum(cell, 0)]])
        assert np.all(sch.busy_rate_bps <= rate)


def test_backhaul_caps_hold_and_scale_a_site_proportionally():
    rng = np.random.default_rng(4)
    n, cells = 600, 6
    site_of_cell = np.array([0, 0, 0, 1, 1, 2], dtype=np.int32)
    cell = rng.integers(0, cells, n).astype(np.int32)
    rate = rng.uniform(5e6, 100e6, n)
    demand = np.where(rng.random(n) < 0.3, np.inf, rng.uniform(0, 2e6, n))
    free = ProportionalFair(n).schedule(cell, cells, rate, demand, 1.0)
    per_site = np.bincount(site_of_cell[cell], weights=free.served_bits, minlength=3)
    cap = np.array([0.5 * per_site[0], np.inf, 2 * per_site[2]])
    sch = ProportionalFair(n).schedule(cell, cells, rate, demand, 1.0, site_of_cell, cap)
    got = np.bincount(site_of_cell[cell], weights=sch.served_bits, minlength=3)
    assert got[0] == pytest.approx(cap[0])
    np.testing.assert_allclose(got[1:], per_site[1:])
    in0 = site_of_cell[cell] == 0
    np.testing.assert_allclose(sch.served_bits[in0], 0.5 * free.served_bits[in0])
    np.testing.assert_allclose(sch.share[in0], 0.5 * free.share[in0])
    np.testing.assert_allclose(sch.cell_utilization[:3], 0.5 * free.cell_utilization[:3])


def test_average_follows_its_time_constant():
    pf = ProportionalFair(1, time_constant_s=2.0)
    for _ in range(300):
        pf.schedule(np.zeros(1, dtype=np.int32), 1, np.array([10e6]), np.array([4e5]), 0.1)
    assert pf.avg_rate_bps[0] == pytest.approx(4e6, rel=1e-6)  # 0.4 Mbit per 0.1 s
    for _ in range(30):  # 3 s without data
        pf.schedule(np.zeros(1, dtype=np.int32), 1, np.array([10e6]), np.zeros(1), 0.1)
    assert pf.avg_rate_bps[0] == pytest.approx(4e6 * math.exp(-3.0 / 2.0), rel=1e-6)


def test_bad_input_names_the_field():
    pf = ProportionalFair(3)
    ok = dict(n_cells=2, rate_bps=np.ones(3), demand_bits=np.ones(3), dt_s=1.0)
    with pytest.raises(InputError, match="serving_cell = 2"):
        pf.schedule(np.array([0, 2, 1], dtype=np.int32), **ok)
    with pytest.raises(InputError, match="rate_bps"):
        pf.schedule(np.zeros(3, dtype=np.int32), 2, np.array([1.0, -1.0, 1.0]), np.ones(3), 1.0)
    with pytest.raises(InputError, match="demand_bits"):
        pf.schedule(np.zeros(3, dtype=np.int32), 2, np.ones(3), np.ones(2), 1.0)
    with pytest.raises(InputError, match="time_constant_s"):
        ProportionalFair(3, time_constant_s=0.0)
    with pytest.raises(InputError, match="site_cap_bits"):
        pf.schedule(np.zeros(3, dtype=np.int32), 2, np.ones(3), np.ones(3), 1.0,
                    site_of_cell=np.zeros(2, dtype=np.int32))
