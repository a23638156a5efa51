"""Session traffic of a user group: what arrives in each user's queue step by step.

One :class:`TrafficSource` per user group generates, for each clock step ``[t_s, t_s + dt_s)``,
the bits that arrive at its users' queues (:class:`Arrivals`). The models are those of
:class:`twinnet.scenario.Traffic`:

* ``demand`` — a constant bit rate equal to each user's configured demand (fluid: ``bits =
  demand · scale · dt``);
* ``full_buffer`` — always backlogged (3GPP full-buffer traffic); no arrivals, the queue holds
  infinitely many bits (:meth:`twinnet.traffic.queues.Queues.set_full_buffer`);
* ``ftp3`` — FTP model 3 of 3GPP TR 36.814 "Further advancements for E-UTRA physical layer
  aspects" (Annex A.2.1.3.1) and TR 36.889 "Study on Licensed-Assisted Access to Unlicensed
  Spectrum": files of a fixed size arriving as a Poisson process per user. A step draws a
  Poisson count with mean ``rate · scale · dt``, which is exact for every step length (the
  counts of a Poisson process in disjoint intervals are independent Poisson variables);
* ``video`` — segmented streaming as in ISO/IEC 23009-1 "Dynamic adaptive streaming over HTTP
  (DASH)": one segment of ``video_mbps · segment_s`` bits every ``segment_s``;
* ``xr`` — 3GPP TR 38.838 "Study on XR (Extended Reality) evaluations for NR": ``fps`` frames per
  second, each of ``rate / fps`` bits with the user's rate drawn uniformly from ``xr_mbps``, each
  due within the delay budget. TR 38.838 also draws frame sizes from a truncated Gaussian and
  adds arrival jitter; this model uses the mean frame size and no jitter, which keeps every
  packet flow periodic so that :mod:`twinnet.traffic.queues` computes per-packet delays in
  closed form;
* ``iot`` — uplink reports of ``payload_bytes`` every ``period_s`` (the periodic "mobile
  autonomous reporting" of 3GPP TR 45.820 "Cellular system support for ultra-low complexity and
  low throughput Internet of Things (CIoT)");
* ``v2x`` — messages of ``payload_bytes`` at ``rate_hz`` (the periodic basic safety messages of
  3GPP TS 22.186 "Enhancement of 3GPP support for V2X scenarios; Stage 1"), with a delay budget.

Periodic flows (video, XR, IoT, V2X) are strictly periodic per user with a random phase drawn
once: packet ``m`` of user ``u`` arrives at ``o_u + m · T``. The step reports how many packets
arrive, the first one's offset from ``t_s`` and their size, so that the queues can time every
packet without storing it.

The demand ``scale`` (the scenario's diurnal profile at the clock's hour; 1 = as configured)
multiplies the arrival rate of ``demand``, ``ftp3``, ``video`` and ``xr`` traffic; IoT and V2X
machines report regardless of the hour and ignore it. A periodic flow cannot send a fraction of
a frame, so for video and XR the scale acts on sessions: each user holds a uniform number
``a_u`` drawn once and has a session while ``a_u < scale`` — a fraction ``scale`` of the users
is active, always the same ones at the same level, and each active session keeps its full frame
rate and size (its delay budget keeps its meaning). A scale above 1 enlarges the packets of
all users by that factor. Either way the mean offered bit rate is ``scale`` times the configured
one.

Shapes: ``users`` ``[n]`` (global user indices of the group), ``demand_mbps`` ``[n]``,
``scale`` a scalar, ``[n]`` (per group user) or ``[U]`` (over all users of the network, read at
``users``), every array of :class:`Arrivals` ``[n]``. Bits, seconds, bit/s. :class:`Arrivals`
and the queues that take them live in :mod:`twinnet.traffic.queues` (re-exported here).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError
from twinnet.scenario import Traffic
from twinnet.traffic.queues import Arrivals, Queues, ServiceStats

__all__ = [
    "Arrivals",
    "ConstantRate",
    "FtpModel3",
    "FullBuffer",
    "IotReports",
    "PeriodicFlow",
    "Queues",
    "ServiceStats",
    "TrafficSource",
    "V2xMessages",
    "VideoStreaming",
    "XrFrames",
    "make_traffic",
]


class TrafficSource(ABC):
    """The traffic of one user group: arrivals per step (see the module docstring)."""

    #: the :class:`twinnet.scenario.Traffic` model name
    model: str
    #: global indices of the group's users ``[n]``
    users: NDArray[np.int64]
    #: whether the traffic travels uplink (IoT) rather than downlink
    uplink: bool = False
    #: always backlogged (arrivals unused; see :meth:`Queues.set_full_buffer`)
    full_buffer: bool = False
    #: packet delay budget [s] (XR, V2X), else ``None``
    budget_s: float | None = None

    @abstractmethod
    def arrivals(self, t_s: float, dt_s: float, scale: ArrayLike = 1.0) -> Arrivals:
        """The arrivals in ``[t_s, t_s + dt_s)``; ``scale`` (scalar, ``[n]`` or ``[U]``)
        multiplies the arrival rate (the diurnal profile; 1 = as configured)."""

    @abstractmethod
    def offered_bps(self) -> NDArray[np.float64]:
        """Mean offered bit rate per user at scale 1 ``[n]`` [bit/s] (``inf`` for full buffer)."""

    def _scale(self, scale: ArrayLike) -> NDArray[np.float64]:
        """The scale at each of the group's users ``[n]``, from a scalar, one factor per group
        user (``[n]``, in the order of ``users``) or one per user of the network (``[U]``)."""
        s = np.asarray(scale, dtype=np.float64)
        n = self.users.shape[0]
        if s.ndim == 0:
            out = np.full(n, float(s))
        elif s.shape == (n,):
            out = s
        elif s.ndim == 1 and (n == 0 or s.shape[0] > int(self.users.max())):
            out = s[self.users]
        else:
            raise InputError("scale", s.shape, f"a scalar, one factor per group user ([{n}]) or "
                             "one per user of the network ([U] with U > "
                             f"{int(self.users.max()) if n else 0})")
        if n and not (out.min() >= 0 and out.max() < np.inf):
            raise InputError("scale", float(out.min()), "finite, non-negative factors")
        return out


def _check_step(t_s: float, dt_s: float) -> None:
    if not np.isfinite(t_s):
        raise InputError("t_s", t_s, "a finite time [s]")
    if not (dt_s > 0 and np.isfinite(dt_s)):
        raise InputError("dt_s", dt_s, "a positive, finite step [s]")


class ConstantRate(TrafficSource):
    """``demand``: a fluid constant bit rate ``rate_bps`` per user, scaled by ``scale``."""

    model = "demand"

    def __init__(self, users: NDArray[np.int64], rate_bps: NDArray[np.float64]):
        self.users = users
        self.rate_bps = rate_bps

    def arrivals(self, t_s: float, dt_s: float, scale: ArrayLike = 1.0) -> Arrivals:
        _check_step(t_s, dt_s)
        return Arrivals(self.users, self.rate_bps * self._scale(scale) * dt_s)

    def offered_bps(self) -> NDArray[np.float64]:
        return self.rate_bps.copy()


class FullBuffer(TrafficSource):
    """``full_buffer``: always data to send; the queues hold it (nothing arrives)."""

    model = "full_buffer"
    full_buffer = True

    def __init__(self, users: NDArray[np.int64]):
        self.users = users

    def arrivals(self, t_s: float, dt_s: float, scale: ArrayLike = 1.0) -> Arrivals:
        _check_step(t_s, dt_s)
        return Arrivals(self.users, np.zeros(self.users.shape[0]))

    def offered_bps(self) -> NDArray[np.float64]:
        return np.full(self.users.shape[0], np.inf)


class FtpModel3(TrafficSource):
    """``ftp3``: files of ``file_bits`` arriving as a Poisson process of ``rate_per_s`` per user
    (times ``scale``); a step draws the Poisson count of its interval."""

    model = "ftp3"

    def __init__(self, users: NDArray[np.int64], rate_per_s: NDArray[np.float64],
                 file_bits: float, rng: np.random.Generator):
        self.users = users
        self.rate_per_s = rate_per_s
        self.file_bits = file_bits
        self._rng = rng

    def arrivals(self, t_s: float, dt_s: float, scale: ArrayLike = 1.0) -> Arrivals:
        _check_step(t_s, dt_s)
        files = self._rng.poisson(self.rate_per_s * self._scale(scale) * dt_s)
        return Arrivals(self.users, np.multiply(files, self.file_bits, dtype=np.float64))

    def offered_bps(self) -> NDArray[np.float64]:
        return self.rate_per_s * self.file_bits


class PeriodicFlow(TrafficSource):
    """A periodic packet flow per user: packets of ``packet_bits[i]`` every ``period_s``, user
    ``i``'s at ``offset_s[i] + m · period_s`` (``offset_s`` in ``[0, period_s)``).

    With ``scaled``, user ``i`` has a session while ``activity[i] < scale`` and packets grow by
    ``max(1, scale)`` (see the module docstring); otherwise ``scale`` is ignored.
    """

    def __init__(self, model: str, users: NDArray[np.int64], period_s: float,
                 packet_bits: NDArray[np.float64], offset_s: NDArray[np.float64], *,
                 scaled: bool, activity: NDArray[np.float64] | None = None,
                 budget_s: float | None = None, uplink: bool = False):
        self.model = model
        self.users = users
        self.period_s = float(period_s)
        self.packet_bits = packet_bits
        self.offset_s = offset_s
        self.scaled = scaled
        self.activity = activity if activity is not None else np.zeros(users.shape[0])
        self.budget_s = budget_s
        self.uplink = uplink

    def arrivals(self, t_s: float, dt_s: float, scale: ArrayLike = 1.0) -> Arrivals:
        _check_step(t_s, dt_s)
        period = self.period_s
        # packets m with t_s <= o + m T < t_s + dt: m in [ceil((t_s - o)/T), ceil((t_s + dt - o)/T))
        first = np.ceil((t_s - self.offset_s) / period)
        count = np.ceil((t_s + dt_s - self.offset_s) / period) - first
        phase = np.clip(self.offset_s + first * period - t_s, 0.0, np.nextafter(period, 0.0))
        size = self.packet_bits
        if self.scaled:
            s = self._scale(scale)
            off = self.activity >= s
            count[off] = 0.0
            phase[off] = np.inf
            size = size * np.maximum(s, 1.0)
        return Arrivals(self.users, count * size, period_s=period, phase_s=phase,
                        packet_bits=size, budget_s=self.budget_s)

    def offered_bps(self) -> NDArray[np.float64]:
        return self.packet_bits / self.period_s


class VideoStreaming(PeriodicFlow):
    """``video``: one segment per ``segment_s`` per user."""


class XrFrames(PeriodicFlow):
    """``xr``: frames at ``fps`` with a per-user bit rate, each due within the budget."""


class IotReports(PeriodicFlow):
    """``iot``: one uplink report per ``period_s``."""


class V2xMessages(PeriodicFlow):
    """``v2x``: messages at ``rate_hz`` with a delay budget."""


_PERIODIC: dict[str, type[PeriodicFlow]] = {
    "video": VideoStreaming, "xr": XrFrames, "iot": IotReports, "v2x": V2xMessages}


def make_traffic(cfg: Traffic, users: NDArray[np.int64], demand_mbps: NDArray[np.float64],
                 rng: np.random.Generator) -> TrafficSource:
    """The traffic source of one user group.

    ``users`` ``[n]`` are the group's global user indices, ``demand_mbps`` ``[n]`` each user's
    configured demand [Mbit/s] (the ``demand`` model's rate; FTP 3's default arrival rate is
    demand / file size). ``rng`` draws the per-user phases, session levels and XR rates now; FTP 3
    keeps a generator spawned from it for its arrivals, so the same seed gives the same traffic.
    """
    users = np.asarray(users)
    if users.ndim != 1 or not np.issubdtype(users.dtype, np.integer):
        raise InputError("users", users.shape, "a 1-D array of global user indices")
    users = users.astype(np.int64, copy=False)
    if users.size and users.min() < 0:
        raise InputError("users", int(users.min()), "non-negative user indices")
    demand = np.asarray(demand_mbps, dtype=np.float64)
    if demand.shape != users.shape:
        raise InputError("demand_mbps", demand.shape, f"one demand per user, shape {users.shape}")
    if users.size and not (np.isfinite(demand).all() and demand.min() >= 0):
        bad = demand[~(np.isfinite(demand) & (demand >= 0))][0]
        raise InputError("demand_mbps", float(bad), "finite, non-negative demands [Mbit/s]")
    n = int(users.shape[0])

    if cfg.model == "demand":
        return ConstantRate(users, demand * 1e6)
    if cfg.model == "full_buffer":
        return FullBuffer(users)
    if cfg.model == "ftp3":
        file_bits = cfg.file_size_mbit * 1e6
        if cfg.arrivals_per_s is not None:
            rate = np.full(n, cfg.arrivals_per_s)
        else:
            rate = demand / cfg.file_size_mbit
        return FtpModel3(users, rate, file_bits, rng.spawn(1)[0])

    if cfg.model == "video":
        period = cfg.segment_s
        size = np.full(n, cfg.video_mbps * 1e6 * cfg.segment_s)
    elif cfg.model == "xr":
        period = 1.0 / cfg.fps
        lo, hi = cfg.xr_mbps
        if not 0 < lo <= hi:
            raise InputError("traffic.xr_mbps", cfg.xr_mbps, "0 < min <= max [Mbit/s]")
        size = rng.uniform(lo, hi, size=n) * 1e6 / cfg.fps
    elif cfg.model == "iot":
        period = cfg.period_s
        size = np.full(n, cfg.payload_bytes * 8.0)
    else:  # v2x
        period = 1.0 / cfg.rate_hz
        size = np.full(n, cfg.payload_bytes * 8.0)
    offset = rng.uniform(0.0, period, size=n)
    scaled = cfg.model in ("video", "xr")
    activity = rng.uniform(0.0, 1.0, size=n) if scaled else None
    return _PERIODIC[cfg.model](cfg.model, users, period, size, offset, scaled=scaled,
                                activity=activity, budget_s=cfg.budget_s, uplink=cfg.uplink)
