"""Cell outage compensation: the neighbours of a failed cell cover its hole.

When a cell fails its users fall back on the neighbours' edges, and in a coverage-limited
network some of them lose service (SINR below the link's minimum). The neighbours can reach
further: less downtilt, more power (the classic COC levers, 3GPP TS 32.541 §4.2). Reaching
further also adds interference and load, so the choice is a search on the twin, which models
the failed cell as off:

* candidates — each of the failed cell's ``neighbours`` (the cells its users would fall back
  on, :func:`~twinnet.rrm.capacity.neighbour_cells`, read with the cell still on) may uptilt by
  each of ``tilt_steps``, raise its power by ``power_step`` (within the 49 dBm limit), or both;
  one option per neighbour;
* objective — fewest users out of service on the twin, then the cheapest plan, subject to the
  peak PRB utilisation of the active cells staying ≤ ``max_prb_utilization`` (or the
  uncompensated state's peak, if that is already higher);
* search — exhaustive when the plans number at most ``exhaustive_limit``; otherwise best-first
  local search (add, swap or drop one option, the move that serves most users wins) from the
  empty plan, every move scored on the twin. The local search is exact on the brute-force test
  instances and reports how many plans it scored.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twinnet.actions import ActionPlan, SetElectricalTilt, SetTxPower
from twinnet.errors import InputError
from twinnet.rrm.capacity import Option, neighbour_cells, search_space
from twinnet.twin.whatif import what_if_load

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin

__all__ = ["CompensationResult", "compensation_options", "solve_compensation"]

_MAX_POWER_DBM = 49.0


@dataclass
class CompensationResult:
    """The compensation plan found and what the twin predicts for it."""

    plan: ActionPlan
    options: list[str]
    out_before: int            # users out of service with the failed cells off, no plan
    out_after: int             # ... with the plan
    peak_before: float
    peak_after: float
    evaluations: int
    method: str
    solve_time_s: float
    runners_up: list[tuple[list[str], int, float]] = field(default_factory=list)
    #: the actions of every candidate option, by name (to rebuild a runner-up's plan)
    option_actions: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def recovered_users(self) -> int:
        return self.out_before - self.out_after

    def to_dict(self) -> dict[str, Any]:
        return {"options": self.options, "out_before": self.out_before,
                "out_after": self.out_after, "recovered_users": self.recovered_users,
                "peak_prb_utilization_before": self.peak_before,
                "peak_prb_utilization_after": self.peak_after,
                "evaluations": self.evaluations, "method": self.method,
                "solve_time_s": round(self.solve_time_s, 3), "cost": self.plan.cost(),
                "runners_up": [{"options": o, "out_after": n, "peak_prb_utilization": p}
                               for o, n, p in self.runners_up]}


def compensation_options(twin: DigitalTwin, failed: list[str], neighbours: int = 6,
                         tilt_steps: tuple[float, ...] = (2.0, 4.0, 6.0),
                         power_step: float = 3.0) -> list[Option]:
    """Candidate options for the neighbours of the ``failed`` cells (see the module
    docstring). The neighbours are read with the failed cells on (the twin's fork)."""
    net = twin.network
    names = net.cell_names
    unknown = [c for c in failed if c not in names]
    if unknown:
        raise InputError("failed", unknown[0], "a cell of the network")
    if neighbours < 1:
        raise InputError("neighbours", neighbours, "at least 1")
    on = twin.copy()
    idx = [names.index(c) for c in failed]
    on.network.cell_active[idx] = True
    nb = neighbour_cells(on, idx, top=neighbours, within_db=20.0)
    order: list[int] = []
    for c in idx:
        for k in nb.get(c, []):
            if k not in order and k not in idx and net.cell_active[k]:
                order.append(k)
    opts: list[Option] = []
    for k in order[:neighbours]:
        n = names[k]
        t0 = float(net.cell_elec_tilt_deg[k])
        p0 = float(net.cell_tx_power_dbm[k])
        up = [d for d in tilt_steps if t0 - d >= 0.0]
        for d in up:
            opts.append(Option(f"cover:{n}", f"{n} uptilt {d:g}°",
                               (SetElectricalTilt(cell=n, tilt_deg=t0 - d),)))
        if p0 + power_step <= _MAX_POWER_DBM:
            boost = SetTxPower(cell=n, tx_power_dbm=p0 + power_step)
            opts.append(Option(f"cover:{n}", f"{n} power +{power_step:g} dB", (boost,)))
            if up:
                d = up[len(up) // 2]
                opts.append(Option(f"cover:{n}", f"{n} uptilt {d:g}° and power "
                                                 f"+{power_step:g} dB",
                                   (SetElectricalTilt(cell=n, tilt_deg=t0 - d), boost)))
    return opts


def solve_compensation(twin: DigitalTwin, failed: list[str], options: list[Option] | None = None,
                       max_prb_utilization: float = 0.95, hour: int | None = None,
                       exhaustive_limit: int = 64, max_evaluations: int = 400,
                       runners_up: int = 2) -> CompensationResult:
    """The plan that serves most users with ``failed`` off (see the module docstring). The
    twin is not changed; the failed cells are switched off on a fork if they are not yet."""
    if not 0.0 < max_prb_utilization <= 1.0:
        raise InputError("max_prb_utilization", max_prb_utilization, "in (0, 1]")
    t0 = time.perf_counter()
    opts = options if options is not None else compensation_options(twin, failed)
    fork = twin.copy()
    names = fork.network.cell_names
    for c in failed:
        if c not in names:
            raise InputError("failed", c, "a cell of the network")
        fork.network.cell_active[names.index(c)] = False
    n_users = fork.users.n
    seen: dict[frozenset[int], tuple[int, float]] = {}

    def score(chosen: frozenset[int]) -> tuple[int, float]:
        hit = seen.get(chosen)
        if hit is None:
            plan = ActionPlan(actions=[a for i in sorted(chosen) for a in opts[i].actions])
            r = what_if_load(fork, plan, hour)
            hit = (round(r.outage_ratio * n_users), float(r.peak_prb_utilization))
            seen[chosen] = hit
        return hit

    out0, peak0 = score(frozenset())
    limit = max(max_prb_utilization, peak0)
    groups = sorted({o.group for o in opts})
    by_group = {g: [i for i, o in enumerate(opts) if o.group == g] for g in groups}

    def cost(chosen: frozenset[int]) -> float:
        return sum(opts[i].cost for i in chosen)

    def key(chosen: frozenset[int]) -> tuple[int, float, float]:
        out, peak = score(chosen)
        return (out if peak <= limit + 1e-9 else n_users + 1, cost(chosen), peak)

    if search_space(opts) <= exhaustive_limit:
        method = "exhaustive"
        for combo in itertools.product(*[[None, *by_group[g]] for g in groups]):
            score(frozenset(i for i in combo if i is not None))
    else:
        method = "local search"
        cur: frozenset[int] = frozenset()
        while len(seen) < max_evaluations:
            used = {opts[i].group: i for i in cur}
            moves = [cur - {i} for i in cur]
            for g in groups:
                for j in by_group[g]:
                    if used.get(g) == j:
                        continue
                    moves.append((cur - {used[g]} if g in used else cur) | {j})
            best = min(moves, key=key, default=cur)
            if key(best) >= key(cur):
                break
            cur = best
    ranked = sorted(seen, key=key)
    top = ranked[0]
    if key(top) >= key(frozenset()):
        top = frozenset()
    out1, peak1 = score(top)
    chosen = sorted(top)
    plan = ActionPlan(actions=[a for i in chosen for a in opts[i].actions],
                      rationale=f"cell outage compensation for {', '.join(failed)}: "
                                + ("; ".join(opts[i].name for i in chosen) or "nothing helps"))
    alts = [([opts[i].name for i in sorted(c)], *score(c)) for c in ranked[1:]
            if c and key(c)[0] < out0][:runners_up]
    return CompensationResult(plan, [opts[i].name for i in chosen], out0, out1, peak0, peak1,
                              len(seen), method, time.perf_counter() - t0, alts,
                              {o.name: o.actions for o in opts})
