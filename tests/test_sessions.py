"""Session traffic: each model's offered load equals its configuration, FTP 3 is Poisson, the
diurnal scale acts as documented, and periodic flows do not depend on the step length."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinnet.errors import InputError
from twinnet.scenario import Traffic
from twinnet.traffic.sessions import Arrivals, make_traffic


def _run(src, t_end, dt, scale=1.0):
    """Total bits per group user over [0, t_end) and the per-step arrivals."""
    total = np.zeros(src.users.size)
    steps = []
    for k in range(round(t_end / dt)):
        a = src.arrivals(k * dt, dt, scale)
        total += a.bits
        steps.append(a)
    return total, steps


def test_ftp3_mean_load_is_rate_times_file_size_and_counts_are_poisson():
    rng = np.random.default_rng(11)
    users = np.arange(3, 203)  # a group that does not start at user 0
    demand = rng.uniform(0.5, 4.0, users.size)  # Mbit/s
    cfg = Traffic(model="ftp3", file_size_mbit=2.0)
    src = make_traffic(cfg, users, demand, rng)
    t_end, dt = 2000.0, 1.0
    total, _ = _run(src, t_end, dt)
    # default arrival rate = demand / file size: offered load = demand
    files = total / 2e6
    lam = demand / 2.0 * t_end  # expected files per user
    z = (files - lam) / np.sqrt(lam)
    assert np.abs(z).max() < 5
    assert total.sum() / t_end == pytest.approx(demand.sum() * 1e6, rel=4 / math.sqrt(lam.sum()))
    # per-step counts of one user with λ dt = 1: Poisson(1) frequencies
    cfg1 = Traffic(model="ftp3", file_size_mbit=1.0, arrivals_per_s=1.0)
    one = make_traffic(cfg1, np.arange(500), np.zeros(500), np.random.default_rng(3))
    counts = np.concatenate([one.arrivals(k * 1.0, 1.0).bits / 1e6 for k in range(40)])
    assert np.all(counts == np.round(counts))
    n = counts.size
    for k in range(4):
        p = math.exp(-1.0) / math.factorial(k)
        freq = np.mean(counts == k)
        assert abs(freq - p) < 5 * math.sqrt(p * (1 - p) / n), (k, freq, p)
    assert counts.var() == pytest.approx(counts.mean(), rel=0.05)  # dispersion index 1


def test_ftp3_is_exact_for_any_step_length():
    cfg = Traffic(model="ftp3", file_size_mbit=1.0, arrivals_per_s=0.3)
    users = np.arange(2000)
    coarse = make_traffic(cfg, users, np.zeros(2000), np.random.default_rng(5))
    c = coarse.arrivals(0.0, 10.0).bits / 1e6  # one 10 s step: Poisson(3)
    assert c.mean() == pytest.approx(3.0, abs=5 * math.sqrt(3 / 2000))
    assert c.var() == pytest.approx(3.0, rel=0.15)
    assert np.mean(c == 0) == pytest.approx(math.exp(-3), abs=0.015)


@pytest.mark.parametrize("dt", [0.1, 1.0, 7.0])
def test_periodic_flows_carry_their_configured_bit_rate(dt):
    rng = np.random.default_rng(2)
    users = np.arange(10, 60)
    t_end = 420.0  # a multiple of every period below
    zero = np.zeros(users.size)
    cases = {
        "video": (Traffic(model="video", video_mbps=4.0, segment_s=3.0), 4e6),
        "iot": (Traffic(model="iot", payload_bytes=200, period_s=60.0), 200 * 8 / 60.0),
        "v2x": (Traffic(model="v2x", payload_bytes=300, rate_hz=10.0), 300 * 8 * 10.0),
    }
    for name, (cfg, bps) in cases.items():
        src = make_traffic(cfg, users, zero, rng)
        total, steps = _run(src, t_end, dt)
        # a whole number of periods: every user got exactly t_end / period packets
        np.testing.assert_allclose(total / t_end, bps, rtol=1e-12, err_msg=name)
        assert src.uplink == (name == "iot")
        assert all(a.periodic for a in steps)
    xr = make_traffic(Traffic(model="xr", fps=60.0, xr_mbps=(30.0, 45.0)), users, zero, rng)
    total, steps = _run(xr, t_end, dt)
    rate = total / t_end / 1e6
    assert rate.min() >= 30.0 and rate.max() <= 45.0
    assert rate.std() > 2.0  # drawn per user
    assert steps[0].budget_s == pytest.approx(0.010)
    # frames of one user: rate / fps bits each, at 60 per second
    np.testing.assert_allclose(steps[0].packet_bits * 60.0 / 1e6, rate, rtol=1e-12)


def test_demand_is_a_constant_bit_rate_and_full_buffer_sends_nothing():
    users = np.array([4, 1, 7])
    demand = np.array([1.0, 2.5, 0.0])
    cbr = make_traffic(Traffic(model="demand"), users, demand, np.random.default_rng(0))
    np.testing.assert_allclose(cbr.arrivals(5.0, 0.5).bits, demand * 1e6 * 0.5)
    assert cbr.arrivals(5.0, 0.5).period_s is None
    fb = make_traffic(Traffic(model="full_buffer"), users, demand, np.random.default_rng(0))
    assert fb.full_buffer and not cbr.full_buffer
    assert not fb.arrivals(0.0, 1.0).bits.any()


def test_scale_multiplies_arrival_rates_and_spares_machine_traffic():
    rng = np.random.default_rng(8)
    n = 4000
    users = np.arange(n)
    demand = np.full(n, 2.0)
    per_user = np.linspace(0.0, 1.5, n)  # a [U] scale
    cbr = make_traffic(Traffic(model="demand"), users, demand, rng)
    np.testing.assert_allclose(cbr.arrivals(0.0, 1.0, per_user).bits, 2e6 * per_user)
    # a group's scale given per group user or over all users of the network
    part = make_traffic(Traffic(model="demand"), np.array([30, 10, 20]), np.full(3, 2.0), rng)
    network_wide = np.arange(40) / 40.0
    np.testing.assert_allclose(part.arrivals(0.0, 1.0, network_wide).bits,
                               2e6 * np.array([0.75, 0.25, 0.5]))
    np.testing.assert_allclose(part.arrivals(0.0, 1.0, network_wide[[30, 10, 20]]).bits,
                               2e6 * np.array([0.75, 0.25, 0.5]))

    video = make_traffic(Traffic(model="video", video_mbps=2.0, segment_s=1.0), users,
                         demand, rng)
    for s in (0.3, 1.0, 2.0):
        bits, _ = _run(video, 20.0, 1.0, scale=s)
        assert bits.mean() / 20.0 == pytest.approx(2e6 * s, rel=0.05)
        active = bits > 0
        # sessions: a fraction min(1, s) of the users has full-size segments
        assert active.mean() == pytest.approx(min(1.0, s), abs=0.03)
        assert np.all(bits[active] == pytest.approx(2e6 * 20.0 * max(1.0, s)))
    # the same users stay active as the scale rises
    low, _ = _run(video, 4.0, 1.0, scale=0.2)
    high, _ = _run(video, 4.0, 1.0, scale=0.6)
    assert np.all(high[low > 0] > 0)

    ftp = make_traffic(Traffic(model="ftp3", file_size_mbit=1.0, arrivals_per_s=2.0), users,
                       demand, rng)
    bits, _ = _run(ftp, 10.0, 1.0, scale=0.25)
    assert bits.sum() / 1e6 / 10.0 / n == pytest.approx(0.5, rel=0.05)

    for cfg in (Traffic(model="iot", period_s=1.0), Traffic(model="v2x")):
        src = make_traffic(cfg, users, demand, rng)
        np.testing.assert_array_equal(src.arrivals(3.0, 1.0, 0.1).bits,
                                      src.arrivals(3.0, 1.0, 1.0).bits)


def test_periodic_arrivals_do_not_depend_on_the_step_length():
    cfg = Traffic(model="v2x", rate_hz=7.0, payload_bytes=100)
    users = np.arange(30)
    src = make_traffic(cfg, users, np.zeros(30), np.random.default_rng(4))

    def times(dt, t_end):
        out = [[] for _ in users]
        for k in range(round(t_end / dt)):
            a = src.arrivals(k * dt, dt)
            assert np.all((a.phase_s >= 0) & (a.phase_s < 1 / 7.0))
            for i in range(users.size):
                out[i] += [k * dt + a.phase_s[i] + j / 7.0 for j in range(a.packets[i])]
        return out

    fine, coarse = times(0.1, 6.0), times(3.0, 6.0)
    for f, c in zip(fine, coarse, strict=True):
        assert len(f) == len(c) == 42
        np.testing.assert_allclose(f, c, atol=1e-9)
        np.testing.assert_allclose(np.diff(f), 1 / 7.0, atol=1e-9)


def test_same_seed_same_traffic():
    cfg = Traffic(model="ftp3")
    users = np.arange(100)
    demand = np.full(100, 3.0)
    a = make_traffic(cfg, users, demand, np.random.default_rng(9))
    b = make_traffic(cfg, users, demand, np.random.default_rng(9))
    for k in range(5):
        np.testing.assert_array_equal(a.arrivals(k, 1.0).bits, b.arrivals(k, 1.0).bits)


def test_bad_input_names_the_field():
    rng = np.random.default_rng(0)
    users = np.arange(5)
    with pytest.raises(InputError, match="demand_mbps"):
        make_traffic(Traffic(), users, np.ones(4), rng)
    with pytest.raises(InputError, match=r"demand_mbps = -1\.0"):
        make_traffic(Traffic(), users, np.array([1.0, -1.0, 1, 1, 1]), rng)
    src = make_traffic(Traffic(), users + 10, np.ones(5), rng)
    with pytest.raises(InputError, match="scale"):
        src.arrivals(0.0, 1.0, np.ones(12))  # [U] must cover user 14
    with pytest.raises(InputError, match="dt_s"):
        src.arrivals(0.0, 0.0)
    with pytest.raises(InputError, match=r"Arrivals\.bits"):
        Arrivals(users, np.ones(3))
