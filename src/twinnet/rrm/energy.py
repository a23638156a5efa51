"""Energy saving: which capacity cells may sleep, as an energy–QoS Pareto front.

A network built for the busy hour carries the night's traffic on a fraction of its cells. The
coverage layer (the carrier with the lowest frequency; all of a single-carrier network's cells
but those candidates below) always stays on; the other carriers' cells — capacity layers — may
sleep, their users falling back to the coverage layer.

:func:`energy_front` scores sleep sets on the twin: the capacity cells are ordered from the
least to the most loaded and the *k* least loaded sleep, for every *k* (the order in which an
operator would switch them off; a sleeping cell saves the same EARTH ``P_0 − P_sleep`` whatever
its load, so the least loaded cells cost the least service per watt). Each set is evaluated at
every hour in ``hours`` (e.g. now and the next hour, so a plan holds through the ramp of the
morning) and keeps its worst p5 throughput, outage and peak PRB utilisation, and the energy
(:func:`~twinnet.policy.energy.cell_power_w`) at the first hour. :func:`pareto_front` keeps the
non-dominated points (less power, more p5 throughput, less outage, more headroom: a lower
peak PRB utilisation); :func:`pick` is the
operator policy: the least power whose QoS stays within the limits.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from twinnet.errors import InputError
from twinnet.policy.energy import cell_power_w

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin

__all__ = ["EnergyPoint", "capacity_cells", "compliant", "energy_front", "pareto_front", "pick"]


@dataclass
class EnergyPoint:
    """One sleep set and what the twin predicts for it."""

    sleep: list[str]
    power_w: float
    p5_throughput_mbps: float
    outage_ratio: float
    peak_prb_utilization: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def capacity_cells(twin: DigitalTwin) -> list[int]:
    """Cells that may sleep: active cells not on the coverage carrier (lowest frequency)."""
    net = twin.network
    fc = np.array([c.fc_ghz for c in net.carriers])
    coverage = int(np.argmin(fc))
    if len(fc) == 1:
        return []
    return [int(c) for c in np.flatnonzero(net.cell_active & (net.cell_carrier != coverage))]


def _point(twin: DigitalTwin, off: list[int], hours: list[int | None],
           bs_type: str) -> EnergyPoint:
    fork = twin.copy()
    fork.network.cell_active[off] = False
    net = fork.network
    p5, out, peak, power = np.inf, 0.0, 0.0, 0.0
    for k, h in enumerate(hours):
        ld = fork.evaluate_load(hour=h)
        if k == 0:
            power = float(cell_power_w(net.cell_tx_power_dbm, ld.prb_utilization,
                                       net.cell_active, bs_type).sum())
        p5 = min(p5, ld.p5_throughput_mbps if ld.p5_throughput_mbps is not None else 0.0)
        out = max(out, ld.outage_ratio)
        peak = max(peak, ld.peak_prb_utilization)
    return EnergyPoint([net.cell_names[c] for c in off], power, float(p5), out, peak)


def energy_front(twin: DigitalTwin, hours: list[int | None] | None = None,
                 candidates: list[int] | None = None, bs_type: str = "macro"
                 ) -> tuple[list[EnergyPoint], list[EnergyPoint], dict[str, Any]]:
    """All scored sleep sets, their Pareto front and the solve's facts (module docstring)."""
    t0 = time.perf_counter()
    hrs: list[int | None] = list(hours) if hours else [None]
    cand = capacity_cells(twin) if candidates is None else list(candidates)
    net = twin.network
    bad = [c for c in cand if not 0 <= c < net.n_cells]
    if bad:
        raise InputError("candidates", bad[0], f"a cell index below {net.n_cells}")
    util = np.asarray(twin.evaluate_load(hour=hrs[0]).prb_utilization)
    order = sorted(cand, key=lambda c: (util[c], c))
    points = [_point(twin, order[:k], hrs, bs_type) for k in range(len(order) + 1)]
    front = pareto_front(points)
    return points, front, {"candidates": len(order), "evaluated": len(points),
                           "front_size": len(front), "solve_time_s": time.perf_counter() - t0}


def _dominates(a: EnergyPoint, b: EnergyPoint) -> bool:
    ge = (a.power_w <= b.power_w and a.p5_throughput_mbps >= b.p5_throughput_mbps
          and a.outage_ratio <= b.outage_ratio
          and a.peak_prb_utilization <= b.peak_prb_utilization)
    gt = (a.power_w < b.power_w or a.p5_throughput_mbps > b.p5_throughput_mbps
          or a.outage_ratio < b.outage_ratio
          or a.peak_prb_utilization < b.peak_prb_utilization)
    return ge and gt


def pareto_front(points: list[EnergyPoint]) -> list[EnergyPoint]:
    """The points no other point dominates (less or equal power, at least the p5 throughput,
    at most the outage and the peak PRB utilisation — the headroom left — strictly better in
    one), by increasing power."""
    front = [p for p in points if not any(_dominates(q, p) for q in points if q is not p)]
    return sorted(front, key=lambda p: (p.power_w, -p.p5_throughput_mbps))


def compliant(front: list[EnergyPoint], reference: EnergyPoint, p5_fraction: float = 0.9,
              outage_margin: float = 0.005, max_prb_utilization: float = 0.8
              ) -> list[EnergyPoint]:
    """The points the operator's QoS limits allow: p5 throughput at least ``p5_fraction`` of
    ``reference``'s (all cells on), outage at most ``outage_margin`` above it, peak PRB
    utilisation ≤ ``max_prb_utilization`` (or the reference's, if higher)."""
    if not 0.0 < p5_fraction <= 1.0:
        raise InputError("p5_fraction", p5_fraction, "in (0, 1]")
    peak = max(max_prb_utilization, reference.peak_prb_utilization)
    return [p for p in front
            if p.p5_throughput_mbps >= p5_fraction * reference.p5_throughput_mbps - 1e-12
            and p.outage_ratio <= reference.outage_ratio + outage_margin
            and p.peak_prb_utilization <= peak + 1e-12]


def pick(front: list[EnergyPoint], reference: EnergyPoint, p5_fraction: float = 0.9,
         outage_margin: float = 0.005, max_prb_utilization: float = 0.8) -> EnergyPoint:
    """The operator policy: the least power among the :func:`compliant` points;
    ``reference`` itself when no point qualifies."""
    ok = compliant(front, reference, p5_fraction, outage_margin, max_prb_utilization)
    return min(ok, key=lambda p: p.power_w) if ok else reference
