"""LINKs stage 2: retrieving the planned sensor data over 6G or Zigbee (paper §II, §III-A/B).

Stage 1 (data planning) resolves a query to the sensors whose data is needed. This module
turns that plan into radio resource management and a retrieval latency:

1. **Parameter Convertor** (:func:`convert_plan`, paper Fig. 3): sensor rows (id, type,
   position) → :class:`Device` objects with the data size ``D_i = samples in the window ×
   payload bytes × 8`` (``aggregation="raw"``: ``floor(window / sampling period)`` samples, at
   least one; ``"mean"``, ``"max"``, ``"min"``, ``"sum"``, ``"last"``: the sensor reduces its
   window to one sample before sending).
2. **Traffic-load predictor** (:func:`predict_cell_load`, §III-B): the L2 forecaster's
   next-interval prediction of each cell's traffic, divided by the peak of that cell's history
   and clipped to [0, 1]. Only data before the forecast origin is read (``at``).
3. **Routing per cell** (§II-A): a cell whose predicted load is below τ sends its devices over
   the 6G uplink; at or above τ they fall back to Zigbee multi-hop routing
   (:class:`ZigbeeModel`). A cell below τ also falls back to Zigbee when the reflexion loop
   cannot make its 6G problem feasible (e.g. fewer idle RBs than devices under OMA); the
   infeasibility report is kept in ``RetrievalResult.solver``.
4. **6G RRM** (§II-B, §III-A): per cell, OPT (3)–(7) of :mod:`twinnet.rrm.minmax_delay` solved
   exactly (``method``) inside the reflexion loop of :mod:`twinnet.rrm.reflexion`: "add RBs"
   is capped at the cell's idle RBs (it never pre-empts conventional UEs, so it is at its limit
   from the start), and β is relaxed by 1 dB per step down to β − 6 dB when a device reaches β
   on no RB (``sinr``) or too few RBs are admissible for every device to get its own under OMA
   (``oma`` / ``served``: a lower β admits more RBs).

Models and numbers (documented defaults):

* **Load → RBs.** Each cell has a carrier of ``n_rbs`` RBs of ``bandwidth_hz`` (default 50 ×
  180 kHz = 9 MHz, i.e. a 10 MHz NR carrier at 15 kHz SCS, 52 PRBs, rounded). The predicted
  load is read as the fraction of RBs held by conventional cellular UEs, so the IoT retrieval
  gets ``floor(n_rbs × (1 − load))`` idle RBs (the first ones of the carrier). No idle RB → the
  cell falls back to Zigbee.
* **Channel.** ``uma_channel_gains`` (TR 38.901 UMa at ``fc_ghz`` = 6 GHz: LOS probability, path
  loss, log-normal shadowing, Rayleigh block fading per RB) from the device–BS 2-D distance,
  BS 25 m, device 1.5 m. Each device's gains come from its own generator seeded by
  ``(rng, crc32(sensor_id))`` over all the carrier's RBs, so a device sees the same channel
  whatever other devices are retrieved with it and whatever τ is.
* **Noise / interference.** N0 = −174 dBm/Hz + 10 log10(B) + 5 dB BS noise figure per RB;
  inter-cell interference from other cells' CC UEs as a rise over thermal of
  ``interference_rise_db`` (default 3 dB, i.e. I_j = N0 on every RB).
* **Device radio.** p_max = 0.2 W (23 dBm), β = 0 dB, several RBs per device allowed (OMA).
* **Zigbee.** See :class:`ZigbeeModel`: 250 kb/s nominal, 100 kb/s effective per hop, 40 m
  per hop, 10 ms per hop, store-and-forward; the coordinator sits at the cell site.

The retrieval latency is the largest delay over all devices of both groups (the min-max
objective of (3) extended over the Zigbee devices). Baselines for Fig. 6:
:func:`baseline_retrieve_everything` (stage-1 ablation: every sensor of the area, same
optimiser) and :func:`baseline_random_rb` (random RB allocation at p_max instead of the
optimiser, on the same problem the optimiser solved).
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from twinnet.errors import InputError
from twinnet.radio.channel import uma_channel_gains
from twinnet.radio.noise import thermal_noise_w
from twinnet.rrm.minmax_delay import IoTUplinkProblem, Method, MinMaxDelayResult, random_allocation
from twinnet.rrm.reflexion import (
    ReflexionResult,
    add_resource_blocks,
    minmax_delay_reflexion,
    relax_beta,
)

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_BANDWIDTH_HZ",
    "DEFAULT_BETA_DB",
    "DEFAULT_N_RBS",
    "DEFAULT_P_MAX_W",
    "Device",
    "RetrievalPlanInput",
    "RetrievalResult",
    "ZigbeeMesh",
    "ZigbeeModel",
    "assign_cells",
    "baseline_random_rb",
    "baseline_retrieve_everything",
    "build_cell_problem",
    "compare_allocations",
    "convert_plan",
    "hex_cells",
    "idle_rbs",
    "milan_cell_loads",
    "milan_cell_series",
    "plan_retrieval",
    "predict_cell_load",
    "sweep_tau",
]

#: Carrier RBs per cell (10 MHz NR at 15 kHz SCS has 52 PRBs; rounded to 50).
DEFAULT_N_RBS = 50
#: Bandwidth of one RB: 12 subcarriers × 15 kHz.
DEFAULT_BANDWIDTH_HZ = 180e3
#: IoT device maximum transmit power (23 dBm).
DEFAULT_P_MAX_W = 0.2
#: SINR threshold β of (5).
DEFAULT_BETA_DB = 0.0
#: Aggregations that reduce a sensor's window to one sample.
AGGREGATIONS: tuple[str, ...] = ("raw", "mean", "max", "min", "sum", "last")

Allocation = Literal["opt", "random"]


# --------------------------------------------------------------------------- plan → devices
@dataclass
class Device:
    """One sensor to read: position in metres (scenario plane), data size D_i in bits, and the
    serving cell (``None``: the nearest cell site)."""

    sensor_id: str
    sensor_type: str
    x_m: float
    y_m: float
    data_bits: float
    cell: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"sensor_id": self.sensor_id, "sensor_type": self.sensor_type, "x_m": self.x_m,
                "y_m": self.y_m, "data_bits": self.data_bits, "cell": self.cell}


@dataclass
class RetrievalPlanInput:
    """What stage 1 produces, already resolved to sensors."""

    devices: list[Device]


def convert_plan(sensors: pd.DataFrame, window_s: float, sampling_period_s: Mapping[str, float],
                 payload_bytes: Mapping[str, float], aggregation: str = "raw") -> list[Device]:
    """The Parameter Convertor (LINKs Fig. 3): sensor rows → devices with D_i in bits.

    ``sensors``: columns ``sensor_id``, ``type`` (or ``sensor_type``), ``x_m``, ``y_m`` and
    optionally ``cell``. ``sampling_period_s`` / ``payload_bytes``: per sensor type (e.g. from
    the sensor cards' ``sampling_period_s`` and ``payload_bytes_per_sample``). ``aggregation``
    ``"raw"``: ``max(1, floor(window_s / period))`` samples per sensor; any other of
    :data:`AGGREGATIONS`: one sample. ``D_i = samples × payload × 8``.
    """
    if not isinstance(sensors, pd.DataFrame):
        raise InputError("sensors", type(sensors).__name__, "a pandas DataFrame")
    type_col = "type" if "type" in sensors.columns else "sensor_type"
    missing = [c for c in ("sensor_id", type_col, "x_m", "y_m") if c not in sensors.columns]
    if missing:
        raise InputError("sensors", list(map(str, sensors.columns)),
                         "columns sensor_id, type (or sensor_type), x_m, y_m")
    if not (math.isfinite(window_s) and window_s > 0):
        raise InputError("window_s", window_s, "a positive time window in s")
    if aggregation not in AGGREGATIONS:
        raise InputError("aggregation", aggregation, f"one of {list(AGGREGATIONS)}")
    out: list[Device] = []
    for row in sensors.itertuples(index=False):
        rec = row._asdict()
        stype = str(rec[type_col])
        if stype not in sampling_period_s:
            raise InputError("sampling_period_s", stype, "a sampling period for every type")
        if stype not in payload_bytes:
            raise InputError("payload_bytes", stype, "a payload size for every type")
        period = float(sampling_period_s[stype])
        payload = float(payload_bytes[stype])
        if not (period > 0 and math.isfinite(period)):
            raise InputError(f"sampling_period_s[{stype}]", period, "a positive period in s")
        if not (payload >= 0 and math.isfinite(payload)):
            raise InputError(f"payload_bytes[{stype}]", payload, "a payload >= 0 bytes")
        samples = max(1, math.floor(window_s / period + 1e-9)) if aggregation == "raw" else 1
        cell = rec.get("cell")
        out.append(Device(sensor_id=str(rec["sensor_id"]), sensor_type=stype,
                          x_m=float(rec["x_m"]), y_m=float(rec["y_m"]),
                          data_bits=float(samples * payload * 8.0),
                          cell=None if cell is None or pd.isna(cell) else int(cell)))
    return out


# --------------------------------------------------------------------------- Zigbee fallback
@dataclass
class ZigbeeModel:
    """Fallback path: Zigbee (IEEE 802.15.4, 2.4 GHz O-QPSK) multi-hop to a coordinator.

    * ``nominal_rate_bps`` = 250 kb/s PHY rate (documentation only);
    * ``rate_bps`` = 100 kb/s effective per hop: unslotted CSMA-CA backoff, ACK turnaround,
      PHY/MAC/NWK/APS headers (≈ 80 B of application payload in a 127 B frame) leave ≈ 40 % of
      the PHY rate to the application on one hop;
    * ``hop_distance_m`` = 40 m per hop (outdoor 0 dBm radios among street furniture: 30–50 m);
      ``hops = max(1, ceil(distance / hop_distance_m))``;
    * ``per_hop_delay_s`` = 10 ms per hop (queueing, backoff, forwarding on the router).

    Store-and-forward, one device at a time on an otherwise idle route:
    ``latency_s = hops × (D_i / rate_bps + per_hop_delay_s)``. Contention between devices of
    the same network is not modelled (an optimistic bound for the fallback).
    """

    rate_bps: float = 100e3
    hop_distance_m: float = 40.0
    per_hop_delay_s: float = 0.010
    nominal_rate_bps: float = 250e3

    def __post_init__(self) -> None:
        if not (self.rate_bps > 0 and math.isfinite(self.rate_bps)):
            raise InputError("rate_bps", self.rate_bps, "a positive rate in b/s")
        if not (self.hop_distance_m > 0 and math.isfinite(self.hop_distance_m)):
            raise InputError("hop_distance_m", self.hop_distance_m, "a positive distance in m")
        if not (self.per_hop_delay_s >= 0 and math.isfinite(self.per_hop_delay_s)):
            raise InputError("per_hop_delay_s", self.per_hop_delay_s, "a delay >= 0 s")

    def hops(self, distance_m: float) -> int:
        """Hops to cover ``distance_m`` (at least one)."""
        return max(1, math.ceil(distance_m / self.hop_distance_m - 1e-9))

    def latency_s(self, device: Device, gateway: tuple[float, float]) -> float:
        """Delay of ``device``'s D_i bits to the coordinator at ``gateway`` (x, y) in m."""
        d = math.hypot(device.x_m - gateway[0], device.y_m - gateway[1])
        return self.hops(d) * (device.data_bits / self.rate_bps + self.per_hop_delay_s)

    def to_dict(self) -> dict[str, float]:
        return {"rate_bps": self.rate_bps, "hop_distance_m": self.hop_distance_m,
                "per_hop_delay_s": self.per_hop_delay_s,
                "nominal_rate_bps": self.nominal_rate_bps}


@dataclass
class ZigbeeMesh:
    """Zigbee as a network: the cell's Zigbee sensors are routers of a mesh rooted at the
    coordinator (at the cell site), the data of all of them crosses it at once.

    * **links**: every pair of nodes at most ``range_m`` apart; the effective rate of a link
      falls with its length, ``rate_bps / (1 + 3 (d / range_m)²)`` (a quarter of the
      short-range rate at the edge of the range: retransmissions as the packet error rate
      grows);
    * **routes**: each sensor's shortest-delay path to the coordinator (Dijkstra; a hop costs
      ``per_hop_delay_s`` plus the mean sensor's data over the link's rate);
    * **congestion**: a link carries the data of every sensor routed over it and serves it at
      its rate; a sensor's latency is the sum over its hops of the hop delay plus the time its
      link needs for all the data it carries, ``Σ_l (per_hop_delay_s + B_l / r_l)`` — no hop
      carries more than its rate allows, and a hop shared by ``k`` sensors takes ``k`` times
      as long as for one;
    * a sensor with no path (no neighbour within range leading to the coordinator) is
      unreachable: its latency is infinite.
    """

    rate_bps: float = 100e3
    range_m: float = 60.0
    per_hop_delay_s: float = 0.010

    def __post_init__(self) -> None:
        for name, v in (("rate_bps", self.rate_bps), ("range_m", self.range_m)):
            if not (v > 0 and math.isfinite(v)):
                raise InputError(name, v, "a positive, finite value")
        if not (self.per_hop_delay_s >= 0 and math.isfinite(self.per_hop_delay_s)):
            raise InputError("per_hop_delay_s", self.per_hop_delay_s, "a delay >= 0 s")

    def link_rate_bps(self, d_m: float) -> float:
        """Effective rate of a link ``d_m`` long (0 beyond the range)."""
        if d_m > self.range_m:
            return 0.0
        return self.rate_bps / (1.0 + 3.0 * (d_m / self.range_m) ** 2)

    def routes(self, xy: Sequence[tuple[float, float]], bits: Sequence[float],
               coordinator: tuple[float, float]) -> list[dict[str, Any]]:
        """Per sensor (``xy`` positions, ``bits`` each): ``path`` (node indices, sensors
        ``0..n-1``, coordinator ``n``), ``hops``, ``latency_s`` and ``bottleneck_bits`` (the
        most data any hop of its path carries)."""
        import heapq

        pts = [*list(xy), coordinator]
        n = len(pts) - 1
        if len(bits) != n:
            raise InputError("bits", len(bits), f"one data size per sensor ({n})")
        ref = float(np.mean(bits)) if n else 0.0
        rate = {}
        for a in range(n + 1):
            for b in range(a + 1, n + 1):
                r = self.link_rate_bps(math.dist(pts[a], pts[b]))
                if r > 0:
                    rate[(a, b)] = rate[(b, a)] = r
        nbrs: dict[int, list[int]] = {k: [] for k in range(n + 1)}
        for a, b in rate:
            nbrs[a].append(b)
        # shortest-delay tree towards the coordinator (Dijkstra from it)
        dist = {n: 0.0}
        nxt: dict[int, int] = {}
        heap = [(0.0, n)]
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist.get(u, math.inf):
                continue
            for v in nbrs[u]:
                w = d + self.per_hop_delay_s + ref / rate[(v, u)]
                if w < dist.get(v, math.inf) - 1e-15:
                    dist[v], nxt[v] = w, u
                    heapq.heappush(heap, (w, v))
        paths: list[list[int] | None] = []
        load: dict[tuple[int, int], float] = {}
        for i in range(n):
            if i not in dist:
                paths.append(None)
                continue
            path = [i]
            while path[-1] != n:
                path.append(nxt[path[-1]])
            paths.append(path)
            for a, b in itertools.pairwise(path):
                load[(a, b)] = load.get((a, b), 0.0) + float(bits[i])
        out: list[dict[str, Any]] = []
        for route in paths:
            if route is None:
                out.append({"path": None, "hops": None, "latency_s": math.inf,
                            "bottleneck_bits": None})
                continue
            hops = list(itertools.pairwise(route))
            out.append({"path": route, "hops": len(hops),
                        "latency_s": sum(self.per_hop_delay_s + load[h] / rate[h]
                                         for h in hops),
                        "bottleneck_bits": max(load[h] for h in hops)})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"model": "mesh", "rate_bps": self.rate_bps, "range_m": self.range_m,
                "per_hop_delay_s": self.per_hop_delay_s}


# --------------------------------------------------------------------------- geometry
def hex_cells(n: int = 7, isd_m: float = 500.0) -> dict[int, tuple[float, float]]:
    """Cell sites of a hexagonal layout: cell 0 at the origin, then the first ring (up to 7)."""
    if not (isinstance(n, int) and 1 <= n <= 7):
        raise InputError("n", n, "an integer in [1, 7] (centre and first ring)")
    sites = {0: (0.0, 0.0)}
    for k in range(1, n):
        a = math.radians(30.0 + 60.0 * (k - 1))
        sites[k] = (isd_m * math.cos(a), isd_m * math.sin(a))
    return sites


def assign_cells(devices: Sequence[Device], bs_xy: Mapping[int, tuple[float, float]]
                 ) -> dict[int, list[int]]:
    """Device indices per cell: ``Device.cell`` when set, else the nearest site."""
    if not bs_xy:
        raise InputError("bs_xy", bs_xy, "at least one cell site")
    ids = list(bs_xy)
    xy = np.array([bs_xy[c] for c in ids], dtype=float)
    out: dict[int, list[int]] = {}
    for i, dev in enumerate(devices):
        if dev.cell is not None:
            if dev.cell not in bs_xy:
                raise InputError(f"devices[{i}].cell", dev.cell, f"one of the cells {ids}")
            c = dev.cell
        else:
            c = ids[int(np.argmin(np.hypot(xy[:, 0] - dev.x_m, xy[:, 1] - dev.y_m)))]
        out.setdefault(c, []).append(i)
    return out


def idle_rbs(n_rbs: int, load: float) -> int:
    """RBs left to the IoT retrieval when CC UEs hold the fraction ``load`` of ``n_rbs``."""
    return math.floor(n_rbs * (1.0 - min(max(load, 0.0), 1.0)) + 1e-9)


def build_cell_problem(devices: Sequence[Device], bs: tuple[float, float], *, n_rbs: int,
                       p_max_w: float = DEFAULT_P_MAX_W, beta_db: float = DEFAULT_BETA_DB,
                       bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ, fc_ghz: float = 6.0,
                       interference_rise_db: float = 3.0, rng: int = 0) -> IoTUplinkProblem:
    """OPT (3)–(7) for the ``devices`` of one cell over ``n_rbs`` RBs (38.901 UMa gains drawn
    per device from ``(rng, crc32(sensor_id))``, see the module docstring)."""
    if not devices:
        raise InputError("devices", [], "at least one device")
    rows = []
    for dev in devices:
        d = max(math.hypot(dev.x_m - bs[0], dev.y_m - bs[1]), 1.0)
        gen = np.random.default_rng([int(rng), zlib.crc32(dev.sensor_id.encode())])
        rows.append(uma_channel_gains(np.array([d]), int(n_rbs), fc_ghz=fc_ghz, rng=gen)[0])
    n0 = thermal_noise_w(bandwidth_hz)
    interference = n0 * (10.0 ** (interference_rise_db / 10.0) - 1.0)
    return IoTUplinkProblem(data_bits=np.array([d.data_bits for d in devices], dtype=float),
                            gains=np.vstack(rows), rb_bandwidth_hz=bandwidth_hz,
                            noise_w=np.full(int(n_rbs), n0), p_max_w=np.asarray(p_max_w),
                            beta_db=beta_db, interference_w=np.full(int(n_rbs), interference))


# --------------------------------------------------------------------------- result
@dataclass
class RetrievalResult:
    """Outcome of :func:`plan_retrieval`.

    ``latency_s``: the retrieval latency, the largest delay over all devices (0 with none).
    ``per_device``: one dict per device (input order): ``sensor_id``, ``cell``, ``path``
    (``"6g"`` / ``"zigbee"``), ``delay_s``, and ``power_w`` / ``rbs`` for 6G or ``hops`` for
    Zigbee. ``cells_6g`` / ``cells_zigbee``: the routing. ``solver``: per-cell solver evidence
    (method, status, gap, solve time, reflexion adjustments or infeasibility report) and the
    parameters. ``problems``: the final 6G problem of each 6G cell (not serialised).
    """

    latency_s: float
    per_device: list[dict[str, Any]]
    cells_6g: list[int]
    cells_zigbee: list[int]
    solver: dict[str, Any]
    tau: float | None = None
    problems: dict[int, IoTUplinkProblem] = field(default_factory=dict, repr=False)

    def latency_of(self, path: str) -> float:
        """Largest delay over the devices on ``path`` (0 when none)."""
        return max((d["delay_s"] for d in self.per_device if d["path"] == path), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"tau": self.tau, "latency_s": self.latency_s,
                "latency_6g_s": self.latency_of("6g"),
                "latency_zigbee_s": self.latency_of("zigbee"),
                "cells_6g": list(self.cells_6g), "cells_zigbee": list(self.cells_zigbee),
                "per_device": [dict(d) for d in self.per_device], "solver": self.solver}


# --------------------------------------------------------------------------- per-cell solve
@dataclass
class _Config:
    n_rbs: int
    p_max_w: float
    beta_db: float
    bandwidth_hz: float
    fc_ghz: float
    zigbee: ZigbeeModel | ZigbeeMesh
    method: Method
    rng: int
    interference_rise_db: float
    beta_floor_db: float
    time_limit_s: float | None
    bs_xy: dict[int, tuple[float, float]]


@dataclass
class _CellOutcome:
    cell: int
    members: list[int]
    load: float
    zigbee: list[dict[str, Any]]
    six_g: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    random_info: dict[str, Any] = field(default_factory=dict)
    problem: IoTUplinkProblem | None = None


def _config(n_rbs: int, p_max_w: float, beta_db: float, bandwidth_hz: float, fc_ghz: float,
            zigbee: ZigbeeModel | ZigbeeMesh | None, method: str, rng: int,
            interference_rise_db: float,
            beta_floor_db: float | None, time_limit_s: float | None,
            bs_xy: Mapping[int, tuple[float, float]] | None) -> _Config:
    if not (isinstance(n_rbs, int) and n_rbs >= 1):
        raise InputError("n_rbs", n_rbs, "an integer >= 1 (carrier RBs per cell)")
    if not (p_max_w > 0 and math.isfinite(p_max_w)):
        raise InputError("p_max_w", p_max_w, "a positive power in W")
    if not math.isfinite(beta_db):
        raise InputError("beta_db", beta_db, "a finite SINR threshold in dB")
    if not (bandwidth_hz > 0 and math.isfinite(bandwidth_hz)):
        raise InputError("bandwidth_hz", bandwidth_hz, "a positive RB bandwidth in Hz")
    if method not in ("bisection", "milp"):
        raise InputError("method", method, "'bisection' or 'milp'")
    meth: Method = "milp" if method == "milp" else "bisection"
    sites = dict(hex_cells() if bs_xy is None else bs_xy)
    floor = beta_db - 6.0 if beta_floor_db is None else float(beta_floor_db)
    return _Config(n_rbs=n_rbs, p_max_w=float(p_max_w), beta_db=float(beta_db),
                   bandwidth_hz=float(bandwidth_hz), fc_ghz=float(fc_ghz),
                   zigbee=zigbee or ZigbeeModel(), method=meth, rng=int(rng),
                   interference_rise_db=float(interference_rise_db), beta_floor_db=floor,
                   time_limit_s=time_limit_s, bs_xy=sites)


def _check_inputs(devices: Sequence[Device], cell_load: Mapping[int, float],
                  cells: Mapping[int, list[int]]) -> None:
    for i, dev in enumerate(devices):
        if not (math.isfinite(dev.data_bits) and dev.data_bits >= 0):
            raise InputError(f"devices[{i}].data_bits", dev.data_bits, "finite D_i >= 0 bits")
    for c in cells:
        if c not in cell_load:
            raise InputError("cell_load", sorted(cell_load), f"a predicted load for cell {c}")
        v = float(cell_load[c])
        if not (math.isfinite(v) and 0.0 <= v <= 1.0):
            raise InputError(f"cell_load[{c}]", v, "a load in [0, 1]")


def _zigbee_rows(devices: Sequence[Device], members: list[int], cell: int,
                 cfg: _Config) -> list[dict[str, Any]]:
    gw = cfg.bs_xy[cell]
    if isinstance(cfg.zigbee, ZigbeeMesh):  # the cell's Zigbee sensors as one mesh
        routes = cfg.zigbee.routes([(devices[i].x_m, devices[i].y_m) for i in members],
                                   [devices[i].data_bits for i in members], gw)
        return [{"sensor_id": devices[i].sensor_id, "cell": cell, "path": "zigbee",
                 "delay_s": r["latency_s"], "hops": r["hops"],
                 "data_bits": devices[i].data_bits}
                for i, r in zip(members, routes, strict=True)]
    rows = []
    for i in members:
        dev = devices[i]
        dist = math.hypot(dev.x_m - gw[0], dev.y_m - gw[1])
        rows.append({"sensor_id": dev.sensor_id, "cell": cell, "path": "zigbee",
                     "delay_s": cfg.zigbee.latency_s(dev, gw), "hops": cfg.zigbee.hops(dist),
                     "data_bits": dev.data_bits})
    return rows


def _device_rows(devices: Sequence[Device], out: _CellOutcome, res: MinMaxDelayResult
                 ) -> list[dict[str, Any]]:
    rows = []
    for k, i in enumerate(out.members):
        rows.append({"sensor_id": devices[i].sensor_id, "cell": out.cell, "path": "6g",
                     "delay_s": float(res.delay_s[k]),
                     "rbs": np.flatnonzero(res.assignment[k]).tolist(),
                     "power_w": float(res.power_w[k].sum()), "data_bits": devices[i].data_bits})
    return rows


def _solve_6g(devices: Sequence[Device], out: _CellOutcome, cfg: _Config,
              allocations: Sequence[Allocation]) -> None:
    """Fill ``out.six_g[allocation]`` (or leave it empty with the reason in ``out.info``)."""
    m_idle = idle_rbs(cfg.n_rbs, out.load)
    out.info.update({"load": out.load, "idle_rbs": m_idle, "n_devices": len(out.members)})
    if m_idle < 1:
        out.info.update({"status": "no_idle_rb", "fallback": "zigbee"})
        return
    devs = [devices[i] for i in out.members]
    pool = build_cell_problem(devs, cfg.bs_xy[out.cell], n_rbs=m_idle, p_max_w=cfg.p_max_w,
                              beta_db=cfg.beta_db, bandwidth_hz=cfg.bandwidth_hz,
                              fc_ghz=cfg.fc_ghz, interference_rise_db=cfg.interference_rise_db,
                              rng=cfg.rng)
    # "add RBs" first (capped at the idle share, so at its limit from the start), then β: a
    # lower threshold also answers a shortage of admissible RBs (OMA / unserved devices)
    adjs = [add_resource_blocks(m_idle),
            relax_beta(1.0, cfg.beta_floor_db, constraints=("sinr", "oma", "served"))]
    refl: ReflexionResult = minmax_delay_reflexion(pool, adjustments=adjs, method=cfg.method,
                                                   time_limit_s=cfg.time_limit_s,
                                                   max_iterations=12)
    opt: MinMaxDelayResult = refl.solution
    out.info.update({
        "method": cfg.method, "reflexion_success": refl.success,
        "reflexion_iterations": refl.n_iterations,
        "adjustments": [a.to_dict() for a in refl.adjustments],
        "beta_db": refl.params["beta_db"], "status": opt.status, "mip_gap": opt.mip_gap,
        "solve_time_s": opt.solve_time_s, "solver": opt.solver,
        "max_delay_s": opt.max_delay_s, "max_delay_pmax_s": opt.max_delay_pmax_s,
    })
    if not refl.success:
        out.info["fallback"] = "zigbee"
        out.info["infeasibility_report"] = refl.report.to_dict() if refl.report else None
        return
    out.problem = pool.with_rbs(int(refl.params["n_rbs"])).with_beta_db(
        float(refl.params["beta_db"]))
    if "opt" in allocations:
        out.six_g["opt"] = _device_rows(devices, out, opt)
    if "random" in allocations:
        rnd = random_allocation(out.problem, rng=np.random.default_rng([cfg.rng, out.cell, 7]),
                                power_mode="max")
        out.random_info = {"method": "random_rb", "power_mode": "max", "status": rnd.status,
                           "max_delay_s": rnd.max_delay_s}
        out.six_g["random"] = _device_rows(devices, out, rnd)


def _outcomes(devices: Sequence[Device], cell_load: Mapping[int, float], cfg: _Config,
              tau_max: float, allocations: Sequence[Allocation]) -> list[_CellOutcome]:
    cells = assign_cells(devices, cfg.bs_xy)
    _check_inputs(devices, cell_load, cells)
    outs = []
    for c in sorted(cells):
        o = _CellOutcome(cell=c, members=cells[c], load=float(cell_load[c]),
                         zigbee=_zigbee_rows(devices, cells[c], c, cfg))
        if o.load < tau_max:
            _solve_6g(devices, o, cfg, allocations)
        outs.append(o)
    return outs


def _assemble(devices: Sequence[Device], outs: list[_CellOutcome], tau: float, cfg: _Config,
              allocation: Allocation) -> RetrievalResult:
    by_id: dict[str, dict[str, Any]] = {}
    cells_6g: list[int] = []
    cells_zb: list[int] = []
    cell_info: dict[str, Any] = {}
    problems: dict[int, IoTUplinkProblem] = {}
    for o in outs:
        use_6g = o.load < tau and allocation in o.six_g
        rows = o.six_g[allocation] if use_6g else o.zigbee
        (cells_6g if use_6g else cells_zb).append(o.cell)
        reason = ("load < tau" if use_6g else
                  "load >= tau" if o.load >= tau else "6G infeasible: fallback")
        info: dict[str, Any] = {"path": "6g" if use_6g else "zigbee", "load": o.load,
                                "reason": reason}
        if o.load < tau:
            info.update(o.info)
            if allocation == "random" and o.random_info:
                info["optimiser"] = {k: info.pop(k) for k in ("status", "mip_gap", "solver",
                                                             "max_delay_s", "max_delay_pmax_s")
                                     if k in info}
                info.update(o.random_info)
        if use_6g and o.problem is not None:
            problems[o.cell] = o.problem
        info["latency_s"] = max((r["delay_s"] for r in rows), default=0.0)
        cell_info[str(o.cell)] = info
        for r in rows:
            by_id[r["sensor_id"]] = dict(r)
    per_device = [by_id[d.sensor_id] for d in devices]
    latency = max((r["delay_s"] for r in per_device), default=0.0)
    solver = {"allocation": "optimiser" if allocation == "opt" else "random_rb",
              "method": cfg.method if allocation == "opt" else "random",
              "params": {"n_rbs": cfg.n_rbs, "p_max_w": cfg.p_max_w, "beta_db": cfg.beta_db,
                         "beta_floor_db": cfg.beta_floor_db, "bandwidth_hz": cfg.bandwidth_hz,
                         "fc_ghz": cfg.fc_ghz, "interference_rise_db": cfg.interference_rise_db,
                         "rng": cfg.rng, "zigbee": cfg.zigbee.to_dict()},
              "cells": cell_info}
    return RetrievalResult(latency_s=float(latency), per_device=per_device, cells_6g=cells_6g,
                           cells_zigbee=cells_zb, solver=solver, tau=float(tau),
                           problems=problems)


def _unique_ids(devices: Sequence[Device]) -> None:
    ids = [d.sensor_id for d in devices]
    if len(set(ids)) != len(ids):
        raise InputError("devices", "duplicate sensor_id", "unique sensor ids")


# --------------------------------------------------------------------------- public API
def compare_allocations(devices: Sequence[Device], taus: Sequence[float], *,
                        cell_load: Mapping[int, float],
                        allocations: Sequence[Allocation] = ("opt", "random"),
                        n_rbs: int = DEFAULT_N_RBS, p_max_w: float = DEFAULT_P_MAX_W,
                        beta_db: float = DEFAULT_BETA_DB,
                        bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ, fc_ghz: float = 6.0,
                        zigbee: ZigbeeModel | ZigbeeMesh | None = None, method: str = "bisection",
                        rng: int = 0, interference_rise_db: float = 3.0,
                        beta_floor_db: float | None = None, time_limit_s: float | None = 60.0,
                        bs_xy: Mapping[int, tuple[float, float]] | None = None
                        ) -> dict[str, list[RetrievalResult]]:
    """For each allocation (``"opt"``: the exact optimiser; ``"random"``: random RBs at p_max
    on the same final problem) the :class:`RetrievalResult` of every τ in ``taus``. Each cell's
    6G problem is built and solved once: loads, gains and idle RBs do not depend on τ, only
    the routing does."""
    allocs = list(dict.fromkeys(allocations))
    if not allocs or any(a not in ("opt", "random") for a in allocs):
        raise InputError("allocations", allocations, "a non-empty list of 'opt' / 'random'")
    ts = [float(t) for t in taus]
    if not ts or not all(math.isfinite(t) for t in ts):
        raise InputError("taus", taus, "at least one finite threshold")
    _unique_ids(devices)
    cfg = _config(n_rbs, p_max_w, beta_db, bandwidth_hz, fc_ghz, zigbee, method, rng,
                  interference_rise_db, beta_floor_db, time_limit_s, bs_xy)
    outs = _outcomes(devices, cell_load, cfg, max(ts), allocs)
    return {a: [_assemble(devices, outs, t, cfg, a) for t in ts] for a in allocs}


def sweep_tau(devices: Sequence[Device], taus: Sequence[float], *, cell_load: Mapping[int, float],
              allocation: Allocation = "opt", **kwargs: Any) -> list[RetrievalResult]:
    """:func:`plan_retrieval` for every τ in ``taus`` (each cell solved once, see
    :func:`compare_allocations`; ``kwargs`` as for :func:`plan_retrieval`)."""
    return compare_allocations(devices, taus, cell_load=cell_load, allocations=(allocation,),
                               **kwargs)[allocation]


def plan_retrieval(devices: Sequence[Device], *, tau: float, cell_load: Mapping[int, float],
                   n_rbs: int = DEFAULT_N_RBS, p_max_w: float = DEFAULT_P_MAX_W,
                   beta_db: float = DEFAULT_BETA_DB, bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ,
                   fc_ghz: float = 6.0, zigbee: ZigbeeModel | ZigbeeMesh | None = None,
                   method: str = "bisection", rng: int = 0, interference_rise_db: float = 3.0,
                   beta_floor_db: float | None = None, time_limit_s: float | None = 60.0,
                   bs_xy: Mapping[int, tuple[float, float]] | None = None) -> RetrievalResult:
    """Route and schedule the retrieval of ``devices`` (LINKs stage 2).

    Per cell (``bs_xy``: cell sites in m, default :func:`hex_cells` — 7 cells, ISD 500 m;
    devices go to ``Device.cell`` or the nearest site): predicted ``cell_load[c]`` (in [0, 1],
    e.g. from :func:`predict_cell_load`) ``< tau`` → 6G uplink on ``floor(n_rbs (1 − load))``
    idle RBs, OPT (3)–(7) solved exactly by ``method`` inside the reflexion loop (β relaxed by
    1 dB steps down to ``beta_floor_db``, default β − 6 dB, until every constraint holds);
    ``≥ tau`` → Zigbee (``zigbee``, default :class:`ZigbeeModel`). A cell whose reflexion fails
    falls back to Zigbee (its report is in ``solver["cells"]``). ``latency_s`` is the largest
    delay over all devices. ``time_limit_s``: per exact solve.
    """
    if not math.isfinite(tau):
        raise InputError("tau", tau, "a finite load threshold")
    return sweep_tau(devices, [tau], cell_load=cell_load, n_rbs=n_rbs, p_max_w=p_max_w,
                     beta_db=beta_db, bandwidth_hz=bandwidth_hz, fc_ghz=fc_ghz, zigbee=zigbee,
                     method=method, rng=rng, interference_rise_db=interference_rise_db,
                     beta_floor_db=beta_floor_db, time_limit_s=time_limit_s, bs_xy=bs_xy)[0]


def baseline_retrieve_everything(area_devices: Sequence[Device], *, tau: float,
                                 cell_load: Mapping[int, float], **kwargs: Any
                                 ) -> RetrievalResult:
    """Stage-1 ablation: retrieve every sensor of the area (not only the planned types) with
    the same optimiser and routing; ``kwargs`` as for :func:`plan_retrieval`."""
    res = plan_retrieval(area_devices, tau=tau, cell_load=cell_load, **kwargs)
    res.solver["baseline"] = "retrieve_everything"
    return res


def baseline_random_rb(devices: Sequence[Device], *, tau: float, cell_load: Mapping[int, float],
                       **kwargs: Any) -> RetrievalResult:
    """Random RB allocation at p_max instead of the optimiser
    (:func:`~twinnet.rrm.minmax_delay.random_allocation`: a random maximum matching gives every
    device one admissible RB, the other RBs go to random admissible devices), on the same
    problem (idle RBs, β after reflexion) the optimiser solves; same routing. ``kwargs`` as for
    :func:`plan_retrieval`."""
    res = sweep_tau(devices, [tau], cell_load=cell_load, allocation="random", **kwargs)[0]
    res.solver["baseline"] = "random_rb"
    return res


def milan_cell_series(cells: Sequence[int], data_dir: str | Path | None = None
                      ) -> dict[int, pd.Series]:
    """One traffic series per cell from the real Milan 10-min series: the 25 squares shared out
    among ``cells`` (square k to cell k mod n) and summed."""
    from twinnet.datasets.milan import series as milan_series

    df = milan_series(data_dir)
    cols = list(df.columns)
    return {c: df[[cols[k] for k in range(len(cols)) if k % len(cells) == i]].sum(axis=1)
            for i, c in enumerate(cells)}


def milan_cell_loads(cells: Sequence[int], origin: str | pd.Timestamp,
                     data_dir: str | Path | None = None) -> dict[int, float]:
    """Predicted next-interval load of each cell at ``origin`` (:func:`milan_cell_series`,
    gbm forecaster, :func:`predict_cell_load`)."""
    return predict_cell_load(milan_cell_series(cells, data_dir), horizon=1, model="gbm",
                             at=pd.Timestamp(origin))


def predict_cell_load(series_by_cell: Mapping[int, pd.Series], horizon: int = 1,
                      model: str = "gbm", *, at: str | pd.Timestamp | None = None
                      ) -> dict[int, float]:
    """The traffic-load predictor (LINKs §III-B): per cell, the L2 forecaster's prediction of
    the ``horizon``-th interval after the history, divided by the peak of that history and
    clipped to [0, 1].

    ``series_by_cell``: one traffic series per cell on a common regular grid (a
    ``DatetimeIndex`` gives the period and weekly phase; otherwise 144 steps a day). ``at``:
    forecast origin — only samples strictly before it are read (default: all, i.e. the
    forecast is for the intervals after the last sample). Missing values are forward-filled.
    """
    from twinnet.engines.forecast import forecast_series

    if not series_by_cell:
        raise InputError("series_by_cell", {}, "at least one cell's series")
    if not (isinstance(horizon, int) and horizon >= 1):
        raise InputError("horizon", horizon, "an integer >= 1")
    cells = list(series_by_cell)
    df = pd.concat({c: pd.Series(series_by_cell[c]) for c in cells}, axis=1)
    if at is not None:
        if not isinstance(df.index, pd.DatetimeIndex):
            raise InputError("at", at, "None (the series have no DatetimeIndex)")
        ts = pd.Timestamp(at)
        if df.index.tz is not None and ts.tz is None:
            ts = ts.tz_localize(df.index.tz)
        df = df[df.index < ts]
    df = df.astype(float).ffill().dropna()
    if len(df) < 2:
        raise InputError("series_by_cell", len(df), "at least 2 samples before the origin")
    fc = forecast_series(df if isinstance(df.index, pd.DatetimeIndex) else df.to_numpy(),
                         horizon, model)
    pred = np.asarray(fc, dtype=float).reshape(horizon, len(cells))[horizon - 1]
    peak = df.to_numpy().max(axis=0)
    out: dict[int, float] = {}
    for k, c in enumerate(cells):
        p = float(peak[k])
        v = float(pred[k]) / p if p > 0 else 0.0
        out[c] = float(min(max(v, 0.0), 1.0))
    return out
