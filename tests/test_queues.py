"""Queues: the closed-form per-packet delays equal an event-by-event FIFO simulation; bits are
conserved; budget misses are counted once; an XR user too slow for its frames misses its budget
and a fast one does not."""

from __future__ import annotations

import numpy as np
import pytest

from twinnet.errors import InputError
from twinnet.scenario import Traffic
from twinnet.traffic.queues import Queues
from twinnet.traffic.scheduler import ProportionalFair
from twinnet.traffic.sessions import Arrivals, make_traffic


class FifoReference:
    """Event-by-event fluid FIFO of one user: packets ``[arrival, bits left, miss counted]``,
    served head first at a constant rate within each step."""

    def __init__(self):
        self.queue: list[list] = []

    def step(self, t0, dt, arrivals, size, rate, budget):
        end = t0 + dt
        t, i = t0, 0
        served, done, delay_sum, missed = 0.0, 0, 0.0, 0
        while True:
            nxt = arrivals[i] if i < len(arrivals) else np.inf
            if not self.queue or rate <= 0:
                if nxt >= end:
                    break
                t = nxt
                self.queue.append([nxt, size, False])
                i += 1
                continue
            head = self.queue[0]
            finish = t + head[1] / rate
            if nxt < min(finish, end):  # an arrival while the head is in service
                head[1] -= (nxt - t) * rate
                served += (nxt - t) * rate
                t = nxt
                self.queue.append([nxt, size, False])
                i += 1
            elif finish <= end:  # the head completes
                served += head[1]
                t = finish
                self.queue.pop(0)
                done += 1
                delay_sum += finish - head[0]
                missed += finish - head[0] > budget and not head[2]
            else:  # the step ends with the head in service
                head[1] -= (end - t) * rate
                served += (end - t) * rate
                break
        for p in self.queue:  # still queued and already older than the budget
            if end - p[0] > budget and not p[2]:
                p[2] = True
                missed += 1
        return served, done, delay_sum, missed


def _periodic_step(t0, dt, offset, period):
    first, stop = np.ceil((t0 - offset) / period), np.ceil((t0 + dt - offset) / period)
    return [offset + m * period for m in np.arange(first, stop)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_delays_equal_an_event_by_event_fifo(seed):
    rng = np.random.default_rng(seed)
    checked = {"packets": 0, "missed": 0, "queued": 0}
    for _ in range(60):
        period = rng.uniform(0.003, 0.3)
        size = rng.uniform(1e3, 1e5)
        dt = float(rng.choice([0.1, 0.37, 1.0]))
        offset = rng.uniform(0, period)
        budget = float(rng.choice([np.inf, rng.uniform(0.002, 0.5)]))
        user = 2
        q = Queues(4)
        ref = FifoReference()
        for k in range(25):
            t0 = k * dt
            times = _periodic_step(t0, dt, offset, period)
            # starved, overloaded, near the packet rate, comfortably above it
            rate = float(rng.choice([0.0, 1.0, 1.0, 1.0]) * size / period
                         * rng.choice([rng.uniform(0.3, 0.95), rng.uniform(0.95, 1.05),
                                       rng.uniform(1.5, 4.0)]))
            served, done, delay_sum, missed = ref.step(t0, dt, times, size, rate, budget)
            arr = Arrivals(np.array([user]), np.array([len(times) * size]), period_s=period,
                           phase_s=np.array([times[0] - t0 if times else np.inf]),
                           packet_bits=np.array([size]),
                           budget_s=None if np.isinf(budget) else budget)
            sv = np.zeros(4)
            sv[user] = served
            rt = np.zeros(4)
            rt[user] = rate
            st = q.serve([arr], sv, dt, rt)
            assert st.packets_delivered[user] == done
            assert st.packets_late[user] == missed
            assert st.delay_sum_s[user] == pytest.approx(delay_sum, rel=1e-9, abs=1e-9)
            assert q.pending_packets[user] == len(ref.queue)
            assert q.backlog_bits[user] == pytest.approx(sum(p[1] for p in ref.queue),
                                                         rel=1e-9, abs=1e-6)
            checked["packets"] += done
            checked["missed"] += missed
            checked["queued"] += len(ref.queue)
    # the random cases exercise every branch: completions, misses, leftovers
    assert min(checked.values()) > 100, checked


def test_default_rate_is_exact_for_a_user_backlogged_all_step():
    """Without a busy rate the user is served at served_bits / dt: exact while it never empties."""
    period, size, dt, budget = 0.02, 1e4, 1.0, 0.3
    rate = 0.8 * size / period  # overloaded: the queue only grows
    q, ref = Queues(1), FifoReference()
    total_missed = 0
    for k in range(10):
        times = _periodic_step(k * dt, dt, 0.013, period)
        served, done, delay_sum, missed = ref.step(k * dt, dt, times, size, rate, budget)
        assert served == pytest.approx(rate * dt) or k == 0
        arr = Arrivals(np.array([0]), np.array([len(times) * size]), period_s=period,
                       phase_s=np.array([times[0] - k * dt]), packet_bits=np.array([size]),
                       budget_s=budget)
        st = q.serve([arr], np.array([served]), dt)
        if k > 0:  # the first step starts empty: served_bits / dt is not the service rate
            assert (st.packets_delivered[0], st.packets_late[0]) == (done, missed)
            assert st.delay_sum_s[0] == pytest.approx(delay_sum, rel=1e-9)
        total_missed += st.packets_late[0]
    assert total_missed > 0


def test_bits_are_conserved_and_full_buffer_never_empties():
    rng = np.random.default_rng(3)
    n = 50
    q = Queues(n)
    q.set_full_buffer(np.array([0, 1]))
    cbr = make_traffic(Traffic(model="demand"), np.arange(2, 20), np.full(18, 2.0), rng)
    xr = make_traffic(Traffic(model="xr"), np.arange(20, 50), np.zeros(30), rng)
    for k in range(20):
        arr = [cbr.arrivals(k * 0.5, 0.5), xr.arrivals(k * 0.5, 0.5)]
        before = q.backlog_bits.copy()
        demand = q.demand_bits(arr)
        np.testing.assert_array_equal(q.backlog_bits, before)  # demand_bits changes nothing
        served = demand * rng.uniform(0, 1.2, n)
        served[:2] = 5e6
        st = q.serve(arr, served, 0.5)
        np.testing.assert_allclose(st.delivered_bits, np.minimum(served, demand))
        fin = np.isfinite(demand)
        np.testing.assert_allclose(q.backlog_bits[fin], (demand - st.delivered_bits)[fin],
                                   atol=1e-6)
        assert np.isinf(q.backlog_bits[:2]).all()
        assert not st.packets_delivered[:20].any()  # non-periodic traffic has no packets
        # a whole number of XR frames delivered, pending ones kept
        assert np.all(q.pending_packets[20:] >= 0)
        np.testing.assert_array_equal(q.pending_packets[20:] == 0, q.backlog_bits[20:] == 0)


def test_zeroing_a_users_bits_removes_its_packets():
    src = make_traffic(Traffic(model="v2x"), np.arange(4), np.zeros(4), np.random.default_rng(1))
    a = src.arrivals(0.0, 1.0)
    assert np.all(a.packets == 10)
    keep = np.array([True, False, True, False])
    b = Arrivals(**{**a.__dict__, "bits": np.where(keep, a.bits, 0.0)})
    q = Queues(4)
    st = q.serve([b], np.full(4, 1e9), 1.0, np.full(4, 1e9))
    np.testing.assert_array_equal(st.packets_delivered, [10, 0, 10, 0])
    assert not q.pending_packets.any()


def test_a_starved_packet_misses_once_while_queued():
    q = Queues(1)
    period, size, budget = 0.1, 1e3, 0.3

    def arr(k):
        return Arrivals(np.array([0]), np.array([10 * size]), period_s=period,
                        phase_s=np.array([0.05]), packet_bits=np.array([size]), budget_s=budget)

    st = q.serve([arr(0)], np.zeros(1), 1.0)  # 10 packets, none served
    # ages at the step end: 0.95, 0.85, ..., 0.05 -> 7 already older than 0.3 s
    assert st.packets_late[0] == 7 and st.packets_delivered[0] == 0
    st = q.serve([arr(1)], np.zeros(1), 1.0)  # 10 more; the first 10 are now all late
    assert st.packets_late[0] == 3 + 7
    st = q.serve([], np.array([20 * size]), 1.0, np.array([1e9]))  # everything leaves
    assert st.packets_delivered[0] == 20 and st.packets_late[0] == 0  # counted already
    assert st.mean_delay_s[0] == pytest.approx(np.mean(
        [2.0 - 0.05 - 0.1 * j + (j + 1) * size / 1e9 for j in range(20)]))


@pytest.mark.parametrize(("factor", "misses"), [(0.8, True), (4.0, False)])
def test_xr_user_below_its_bit_rate_misses_the_budget_and_above_does_not(factor, misses):
    """One XR user shares a cell with a full-buffer user under proportional-fair scheduling;
    its cell rate is ``factor`` × its XR bit rate."""
    rng = np.random.default_rng(7)
    xr = make_traffic(Traffic(model="xr", fps=60.0, xr_mbps=(30.0, 30.0)), np.array([0]),
                      np.zeros(1), rng)
    q = Queues(2)
    q.set_full_buffer(np.array([1]))
    pf = ProportionalFair(2)
    rate = np.array([factor * 30e6, 100e6])
    dt = 1.0
    delivered = missed = 0
    for k in range(30):
        arr = [xr.arrivals(k * dt, dt)]
        sch = pf.schedule(np.zeros(2, dtype=np.int32), 1, rate, q.demand_bits(arr), dt)
        st = q.serve(arr, sch.served_bits, dt, sch.busy_rate_bps)
        if k >= 10:
            delivered += st.packets_delivered[0]
            missed += st.packets_late[0]
            if not misses:  # each frame of 0.5 Mbit at the busy rate
                assert st.mean_delay_s[0] == pytest.approx(0.5e6 / sch.busy_rate_bps[0])
    if misses:
        assert missed >= 0.99 * 20 * 60  # essentially every frame is late
    else:
        assert delivered == 20 * 60 and missed == 0


def test_bad_input_names_the_field():
    q = Queues(3)
    with pytest.raises(InputError, match="served_bits"):
        q.serve([], np.zeros(2), 1.0)
    with pytest.raises(InputError, match="dt_s"):
        q.serve([], np.zeros(3), -1.0)
    with pytest.raises(InputError, match="rate_bps"):
        q.serve([], np.zeros(3), 1.0, np.zeros(4))
