r"""Per-user queues of one direction, with per-packet delays of periodic flows.

Each user has a backlog of bits. What the scheduler serves in a step leaves the queue; what
arrives joins it. Full-buffer users hold infinitely many bits. For periodic packet flows
(video segments, XR frames, IoT reports, V2X messages; see :mod:`twinnet.traffic.sessions`) the
queue also times every packet — how long it waited until its last bit left, and whether that
exceeded its delay budget — without storing packets.

**Service model.** Within a step ``[0, dt)`` a user with data is served first-come first-served
at a constant rate ``R`` — the rate it gets while it has data (``Schedule.busy_rate_bps`` of
:mod:`twinnet.traffic.scheduler`; by default ``served_bits / dt``, exact for a user that stays
backlogged all step). The bits that leave the queue in the step are the scheduler's
``served_bits``; which packets they complete follows from FIFO order.

**Packet completions (fluid FIFO, Lindley's recursion).** Packet ``k`` of a periodic flow (size
``S``, spacing ``T``) arrives at ``t_k = φ + kT`` and completes at ``c_k = max(c_{k-1}, t_k) +
S/R`` (D. V. Lindley, "The theory of queues with a single server", 1952), where the backlog
``B0`` present at the step start is cleared at ``c_{-1} = B0/R``. Unrolled::

    c_k = max(B0/R + (k+1)S/R,  max_{j<=k} t_j + (k-j+1)S/R)
        = max(φ + kT + S/R,  φ + (k+1)S/R,  B0/R + (k+1)S/R)

because ``t_j + (k-j+1)S/R`` is linear in ``j`` (slope ``T - S/R``), so its maximum is at ``j = k``
or ``j = 0``. With ``σ = S/R``, ``δ = σ - T`` and ``β = max(0, B0/R - φ)`` the delay is

    d_k = c_k - t_k = σ + max(0, β + kδ),

a clipped linear function of ``k``: the sum of the delays of ``m`` packets and the number above a
budget ``b`` have closed forms (arithmetic series up to the clip point ``k < β/|δ|`` when
``δ < 0``; a linear inequality in ``k`` for the budget). Packets left over from earlier steps
(``n0`` of them, the oldest ``A = -age`` seconds before the step start with ``h`` bits left,
the others ``T`` apart) complete at ``(h + jS)/R``: their delays ``h/R - A + j(S/R - T)`` are
linear in ``j`` too.

**Leftovers and budget misses.** Packets not completed by the step's served bits stay queued:
the queue keeps how many (``pending_packets``), the age of the oldest (``head_age_s``) and the
size of the pending ones, and counts their delay when they complete. A packet misses its budget
once: when it completes later than the budget, or, while still queued, at the first step end at
which it is older than the budget (so a starved user's misses show while it starves); since
queued packets are ordered by age, those already counted are a prefix of the queue.

Assumption: the packets queued at a step start are ``T`` apart and of one size. This holds for
a periodic flow except when a session pauses (:mod:`twinnet.traffic.sessions` scales video and
XR by sessions) or its packet size changes while old packets still wait; then the older
packets' delays are those of evenly spaced packets behind the oldest one.

Shapes: every per-user array is ``[U]`` (all users of the network). Bits, seconds, bit/s.
``tests/test_queues.py`` checks the closed forms against an event-by-event FIFO simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from twinnet.errors import InputError

__all__ = ["Arrivals", "Queues", "ServiceStats"]

#: relative tolerance [in packets] when deciding whether the served bits complete a packet
_PACKET_TOL = 1e-9


@dataclass
class Arrivals:
    """What arrives in one step ``[t_s, t_s + dt_s)`` at the users of one traffic source.

    ``bits[i]`` arrive at user ``users[i]``. Periodic packet flows (video segments, XR frames,
    IoT reports, V2X messages) also give ``period_s`` (packet spacing), ``phase_s[i]`` (offset of
    the step's first arrival from ``t_s``, in ``[0, period_s)``; ``inf`` for a user without a
    session this step), ``packet_bits[i]`` (so ``bits[i] / packet_bits[i]`` packets arrive) and
    ``budget_s`` (their delay budget, or ``None``). Zeroing a user's ``bits`` removes its
    packets.
    """

    users: NDArray[np.int64]
    bits: NDArray[np.float64]
    period_s: float | None = None
    phase_s: NDArray[np.float64] | None = None
    packet_bits: NDArray[np.float64] | None = None
    budget_s: float | None = None

    def __post_init__(self) -> None:
        n = self.users.shape[0]
        if self.bits.shape != (n,):
            raise InputError("Arrivals.bits", self.bits.shape, f"shape ({n},), one per user")
        if self.period_s is None:
            return
        if not self.period_s > 0:
            raise InputError("Arrivals.period_s", self.period_s, "a positive packet spacing [s]")
        for name, arr in (("phase_s", self.phase_s), ("packet_bits", self.packet_bits)):
            if arr is None or arr.shape != (n,):
                raise InputError(f"Arrivals.{name}", None if arr is None else arr.shape,
                                 f"shape ({n},), one per user, for a periodic flow")

    @property
    def periodic(self) -> bool:
        """Whether these are packets of a periodic flow (timed per packet by the queues)."""
        return self.period_s is not None

    @property
    def packets(self) -> NDArray[np.int64]:
        """Packets arriving per user ``[n]`` (periodic flows; zeros otherwise)."""
        if self.packet_bits is None:
            return np.zeros(self.users.shape[0], dtype=np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(self.packet_bits > 0, self.bits / self.packet_bits, 0.0)
        return np.rint(k).astype(np.int64)


@dataclass
class ServiceStats:
    """What one step delivered, per user ``[U]``.

    ``delivered_bits`` left the queue; ``packets_delivered`` periodic-flow packets completed,
    with ``delay_sum_s`` the sum of their delays; ``packets_late`` packets that missed their
    delay budget (counted once each, see the module docstring). Non-periodic traffic has no
    packets.
    """

    delivered_bits: NDArray[np.float64]
    packets_delivered: NDArray[np.int64]
    packets_late: NDArray[np.int64]
    delay_sum_s: NDArray[np.float64]

    @property
    def mean_delay_s(self) -> NDArray[np.float64]:
        """Mean delay of the packets completed this step [s] (NaN where none completed)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.packets_delivered > 0,
                            self.delay_sum_s / self.packets_delivered, np.nan)


@njit(cache=True)
def _count_above(c0: float, slope: float, lo: int, hi: int, thr: float) -> int:
    """How many integers ``j`` in ``[lo, hi)`` have ``c0 + j·slope > thr``."""
    if hi <= lo:
        return 0
    if slope == 0.0:
        return hi - lo if c0 > thr else 0
    x = (thr - c0) / slope
    if slope > 0.0:  # j > x
        if not x < hi:
            return 0
        if x < lo:
            return hi - lo
        return hi - max(lo, math.floor(x) + 1)
    if not x > lo:  # j < x
        return 0
    if x > hi:
        return hi - lo
    return min(hi, math.ceil(x)) - lo


@njit(cache=True)
def _sum_clipped(c0: float, slope: float, m: int) -> float:
    """``sum_{k<m} max(0, c0 + k·slope)`` for ``c0 >= 0``."""
    if m <= 0:
        return 0.0
    p = m if slope >= 0.0 else _count_above(c0, slope, 0, m, 0.0)
    return p * c0 + slope * p * (p - 1) / 2.0


@njit(cache=True)
def _serve(periodic, full, served, rate, has_rate, dt, arrived, n_new, phase, size_new, period,
           budget, backlog, pending, head_age, missed_pending, pkt_bits,
           out_delivered, out_packets, out_missed, out_delay):
    """One step of every user's queue: the bits of all users, and the packets of periodic-flow
    users by the closed forms of the module docstring. Updates the queue state in place, writes
    the ``out_*`` arrays and resets the step's arrivals (``arrived``, ``n_new``, ``phase``)."""
    for u in range(served.size):
        total = backlog[u] + arrived[u]
        q = min(max(served[u], 0.0), total)
        out_delivered[u] = q
        out_packets[u] = 0
        out_missed[u] = 0
        out_delay[u] = 0.0
        arrived[u] = 0.0
        if full[u]:
            backlog[u] = np.inf
            continue
        if not periodic[u]:
            backlog[u] = max(total - q, 0.0)
            continue

        n = n_new[u]
        phi = phase[u]
        T = period[u]
        b = budget[u]
        n0 = pending[u]
        s0 = pkt_bits[u]
        s = size_new[u] if n > 0 else s0
        b0 = backlog[u] if n0 > 0 else 0.0
        a_head = -head_age[u]
        nm = missed_pending[u]
        total = b0 + n * s
        q = min(q, total)
        r = max(rate[u], q / dt) if has_rate else q / dt
        n_new[u] = 0
        phase[u] = np.inf

        m_old = 0
        m_new = 0
        delay = 0.0
        miss = 0
        h = 0.0
        if n0 > 0:
            h = min(max(b0 - (n0 - 1) * s0, 0.0), s0)
        if q > 0.0:
            if n0 > 0 and q >= h - _PACKET_TOL * s0:
                m_old = min(n0, math.floor((q - h) / s0 + _PACKET_TOL) + 1)
            if m_old == n0 and n > 0:
                m_new = min(n, max(0, math.floor((q - b0) / s + _PACKET_TOL)))
            if m_old > 0:  # leftovers: delay h/R - A + j(S0/R - T)
                d0 = h / r - a_head
                slope0 = s0 / r - T
                delay += m_old * d0 + slope0 * m_old * (m_old - 1) / 2.0
                miss += _count_above(d0, slope0, min(nm, m_old), m_old, b)
            if m_new > 0:  # new packets: delay σ + max(0, β + kδ)
                sigma = s / r
                slope = sigma - T
                beta = max(0.0, b0 / r - phi)
                delay += m_new * sigma + _sum_clipped(beta, slope, m_new)
                thr = b - sigma
                miss += m_new if thr < 0.0 else _count_above(beta, slope, 0, m_new, thr)

        # what stays queued, and which of it is already older than the budget at the step end
        over = 0
        if m_old < n0:
            left = n0 - m_old + n
            over += _count_above(dt - a_head, -T, m_old, n0, b)
            over += _count_above(dt - phi, -T, 0, n, b) if n > 0 else 0
            head_age[u] = head_age[u] + dt - m_old * T
        else:
            left = n - m_new
            if left > 0:
                over += _count_above(dt - phi, -T, m_new, n, b)
                head_age[u] = dt - (phi + m_new * T)
                pkt_bits[u] = s
            else:
                head_age[u] = 0.0
                if n > 0:
                    pkt_bits[u] = s
        counted = max(0, nm - m_old)
        miss += max(0, over - counted)
        missed_pending[u] = max(over, counted)
        pending[u] = left
        backlog[u] = max(total - q, 0.0) if left > 0 else 0.0

        out_delivered[u] = q
        out_packets[u] = m_old + m_new
        out_missed[u] = miss
        out_delay[u] = delay


class Queues:
    """Per-user backlog (bits) of one direction; for periodic flows, per-packet delays.

    ``backlog_bits`` ``[U]`` (``inf`` for full-buffer users), and for periodic-flow users
    ``pending_packets`` ``[U]`` (queued packets, a partly sent one included) and ``head_age_s``
    ``[U]`` (age of the oldest queued packet at the end of the last step).
    """

    def __init__(self, n_users: int):
        if n_users < 0:
            raise InputError("n_users", n_users, "a non-negative number of users")
        self.n_users = int(n_users)
        self.backlog_bits = np.zeros(n_users)
        self.pending_packets = np.zeros(n_users, dtype=np.int64)
        self.head_age_s = np.zeros(n_users)
        self._full = np.zeros(n_users, dtype=bool)
        self._periodic = np.zeros(n_users, dtype=bool)
        self._period = np.ones(n_users)
        self._budget = np.full(n_users, np.inf)
        self._missed_pending = np.zeros(n_users, dtype=np.int64)
        self._pkt_bits = np.zeros(n_users)
        # this step's arrivals (reset by the kernel after use)
        self._arrived = np.zeros(n_users)
        self._n_new = np.zeros(n_users, dtype=np.int64)
        self._phase = np.full(n_users, np.inf)
        self._size_new = np.zeros(n_users)

    def set_full_buffer(self, users: NDArray[np.int64]) -> None:
        """Mark ``users`` as always backlogged (their backlog becomes ``inf``)."""
        users = np.asarray(users, dtype=np.int64)
        self._full[users] = True
        self.backlog_bits[users] = np.inf

    def demand_bits(self, arrivals: Sequence[Arrivals]) -> NDArray[np.float64]:
        """Backlog plus this step's arrivals ``[U]`` [bit] — what the scheduler may serve —
        without changing the queues."""
        out = self.backlog_bits.copy()
        for a in arrivals:
            out[a.users] += a.bits
        return out

    def _register(self, a: Arrivals) -> None:
        """Note ``a``'s users as periodic-flow users with its period and budget."""
        assert a.period_s is not None
        self._period[a.users] = a.period_s
        self._budget[a.users] = np.inf if a.budget_s is None else a.budget_s
        self._periodic[a.users] = True

    def serve(self, arrivals: Sequence[Arrivals], served_bits: NDArray[np.float64],
              dt_s: float, rate_bps: NDArray[np.float64] | None = None) -> ServiceStats:
        """Add the step's arrivals and remove ``served_bits`` ``[U]`` [bit] (at most the
        demand; more is cut); return what was delivered.

        ``rate_bps`` ``[U]`` [bit/s] is the rate each user is served at while it has data
        (``Schedule.busy_rate_bps``); it times the packets of periodic flows. Without it a user
        is served at ``served_bits / dt_s`` throughout the step.
        """
        n = self.n_users
        served = np.asarray(served_bits, dtype=np.float64)
        if served.shape != (n,):
            raise InputError("served_bits", served.shape, f"shape ({n},), one per user")
        if not (dt_s > 0 and np.isfinite(dt_s)):
            raise InputError("dt_s", dt_s, "a positive, finite step [s]")
        if rate_bps is None:
            rate = served  # not read: the kernel serves at served / dt
        else:
            rate = np.asarray(rate_bps, dtype=np.float64)
            if rate.shape != (n,):
                raise InputError("rate_bps", rate.shape, f"shape ({n},), one per user")

        for a in arrivals:
            self._arrived[a.users] += a.bits
            if a.period_s is not None:
                self._register(a)
                assert a.phase_s is not None and a.packet_bits is not None
                self._n_new[a.users] = a.packets
                self._phase[a.users] = a.phase_s
                self._size_new[a.users] = a.packet_bits
        delivered = np.empty(n)
        packets = np.empty(n, dtype=np.int64)
        missed = np.empty(n, dtype=np.int64)
        delay = np.empty(n)
        _serve(self._periodic, self._full, served, rate, rate_bps is not None, float(dt_s),
               self._arrived, self._n_new, self._phase, self._size_new, self._period,
               self._budget, self.backlog_bits, self.pending_packets, self.head_age_s,
               self._missed_pending, self._pkt_bits, delivered, packets, missed, delay)
        return ServiceStats(delivered, packets, missed, delay)
