"""Capacity and load balancing: the cheapest set of actions that brings every cell's PRB
utilisation to a target, on the twin's load model (the congested-cell study of Wang et al.).

Candidate actions come in *groups* of mutually exclusive options (one tilt change per
congested cell, one power change per congested cell, each candidate small cell off / on /
on with range extension). The engine

1. measures each option alone on the twin (what-if) — its effect ``Δ[o, c]`` on every cell;
2. solves the MILP ``min Σ cost_o x_o`` s.t. ``u_c + Σ_o Δ[o, c] x_o ≤ target − margin`` for
   every cell, at most one option per group (Pyomo, HiGHS by default);
3. verifies the MILP's plan on the twin (effects are not additive: cells interfere); a plan that
   fails gets a no-good cut and the MILP is solved again (a reflexion on the linear model); when
   the linear model finds nothing, the greedy heuristic's verified plan is the incumbent;
4. prunes the incumbent — drops options, or swaps them for cheaper ones of the same group,
   while the twin still verifies the plan;
5. *proves* the result within the candidate set: every option combination cheaper than the
   verified plan is evaluated on the twin; if one of them meets the target it replaces the
   plan. With the whole cheaper set checked (``proved = True``), no cheaper combination of
   these candidates meets the target on the twin.

:func:`greedy_capacity_plan` is the heuristic baseline (best peak reduction per unit cost).

References
----------
* Y. Wang, K. Gao, Z. Shao, J. Woo and S.-W. Jeon, "LLM-Assisted Network Management Using
  Digital Twins" (Wang et al.).
"""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from twinnet.actions import (
    ActionPlan,
    AddCarrier,
    SetCellActive,
    SetCellOffset,
    SetElectricalTilt,
    SetTxPower,
)
from twinnet.errors import InputError
from twinnet.twin.whatif import what_if, what_if_load

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin

__all__ = ["CapacityResult", "Option", "candidate_options", "greedy_capacity_plan",
           "neighbour_cells", "search_space", "solve_capacity"]


@dataclass(frozen=True)
class Option:
    """One choice in a group of mutually exclusive candidate actions."""

    group: str
    name: str
    actions: tuple[Any, ...]

    @property
    def cost(self) -> float:
        return float(sum(a.cost() for a in self.actions))


@dataclass
class CapacityResult:
    plan: ActionPlan
    feasible: bool
    proved: bool
    predicted_kpis: dict[str, Any]
    cost: float
    options: list[str]
    milp_iterations: int
    cuts: int
    combinations_checked: int
    solve_time_s: float
    method: str
    history: list[dict[str, Any]] = field(default_factory=list)
    #: plans the candidate options can form, and those cheaper than the plan found
    search_space: int = 0
    cheaper_combinations: int = 0
    #: neighbours of the plan that also meet the target (``alternatives`` of the solve)
    runners_up: list[ActionPlan] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.model_dump()["actions"], "rationale": self.plan.rationale,
                "feasible": self.feasible, "proved": self.proved, "cost": self.cost,
                "options": self.options, "milp_iterations": self.milp_iterations,
                "cuts": self.cuts, "combinations_checked": self.combinations_checked,
                "cheaper_combinations": self.cheaper_combinations,
                "search_space": self.search_space,
                "solve_time_s": round(self.solve_time_s, 3), "method": self.method,
                "predicted_peak_prb_utilization":
                    self.predicted_kpis.get("peak_prb_utilization")}


def neighbour_cells(twin: DigitalTwin, cells: list[int], top: int = 3,
                    within_db: float = 6.0) -> dict[int, list[int]]:
    """The active cells each of ``cells`` would shed load to: for every user it serves, the
    strongest other cell (RSRP + offset, as cell selection ranks them), counted over users
    within ``within_db`` of their serving cell's level; the ``top`` most frequent, most
    frequent first. Read off the twin's link gains, so it follows antennas, clutter and
    offsets rather than distance."""
    net = twin.network
    gain, slot_cell = twin.link_gains()
    sc = np.broadcast_to(slot_cell, gain.shape)
    ok = sc >= 0
    idx = np.where(ok, sc, 0)
    level_cell = np.where(net.cell_active, net.cell_tx_power_dbm + net.cell_cio_db, -np.inf)
    srv = twin.serving_cells()
    out: dict[int, list[int]] = {}
    for c in cells:
        rows = np.flatnonzero(srv == c)
        if rows.size == 0:
            out[c] = []
            continue
        lv = np.where(ok[rows], 10.0 * np.log10(np.maximum(gain[rows], 1e-30))
                      + level_cell[idx[rows]], -np.inf)
        mine = idx[rows] == c
        own = np.max(np.where(mine, lv, -np.inf), axis=1)
        other = np.where(mine, -np.inf, lv)
        best = np.argmax(other, axis=1)
        r = np.arange(rows.size)
        close = np.isfinite(other[r, best]) & (own - other[r, best] <= within_db)
        counts = np.bincount(idx[rows][r, best][close], minlength=net.n_cells)
        counts[c] = 0
        order = [int(k) for k in np.argsort(-counts, kind="stable")[:top] if counts[k] > 0]
        out[c] = order
    return out


def candidate_options(twin: DigitalTwin, target: float, radius_m: float = 250.0,
                      hour: int | None = None, congested: list[str] | None = None,
                      tilt_steps: tuple[float, ...] = (2.0, 4.0, 8.0),
                      power_steps: tuple[float, ...] = (3.0, 6.0),
                      relief_power_step: float = 3.0, hops: int = 0,
                      offset_steps: tuple[float, ...] = (3.0, 6.0)) -> list[Option]:
    """Candidate options around the cells above ``target`` on the twin.

    ``hops = 0`` (local): cells in ``congested`` (all cells above the target when ``None``) get
    the full set: downtilt by each of ``tilt_steps`` and power reduction by each of
    ``power_steps``. Other cells above the target get one *relief* option, power
    −``relief_power_step`` dB (they are hot only because of their congested neighbour's
    spill-over). Every inactive cell (candidate small cell) within ``radius_m`` of a congested
    cell's site can be switched on, or on with +6 dB range extension. The set is small enough
    to be enumerated in cost order, which is what makes :func:`solve_capacity`'s result
    provably the cheapest within it.

    ``hops ≥ 1`` (wide, for when the local set has no plan): *every* cell above the target
    gets the full set plus negative offsets (−``offset_steps`` dB: its edge users go to a
    neighbour); its neighbours (:func:`neighbour_cells`) get positive offsets and 2° of
    uptilt to take them; each further hop's neighbours get the smallest positive offset, so
    load can move across several cells; every reserve carrier of a hot cell's sector can be
    lit (``add_carrier``), and candidate small cells near any hot cell switched on."""
    if isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= 3:
        raise InputError("hops", hops, "an integer from 0 to 3")
    ev = twin.evaluate(hour=hour, uplink=False)
    util = np.asarray(ev.load.prb_utilization)
    net = twin.network
    names = net.cell_names
    hot = [int(c) for c in np.flatnonzero(util > target) if net.cell_active[c]]
    full: set[int]
    if congested is None:
        full = set(hot)
    else:
        unknown = [n for n in congested if n not in names]
        if unknown:
            raise InputError("congested", unknown[0], "a cell of the network")
        full = {names.index(n) for n in congested}
    if hops:
        full |= set(hot)
    opts: list[Option] = []
    seen_sc: set[int] = set()
    for c in sorted(full | set(hot)):
        n = names[c]
        p0 = float(net.cell_tx_power_dbm[c])
        if c not in full:
            opts.append(Option(f"power:{n}", f"{n} power −{relief_power_step:g} dB",
                               (SetTxPower(cell=n, tx_power_dbm=max(p0 - relief_power_step,
                                                                    0.0)),)))
            continue
        t0 = float(net.cell_elec_tilt_deg[c])
        for d in tilt_steps:
            if t0 + d <= 20.0:
                opts.append(Option(f"tilt:{n}", f"{n} tilt +{d:g}°",
                                   (SetElectricalTilt(cell=n, tilt_deg=t0 + d),)))
        for d in power_steps:
            opts.append(Option(f"power:{n}", f"{n} power −{d:g} dB",
                               (SetTxPower(cell=n, tx_power_dbm=max(p0 - d, 0.0)),)))
        sx, sy = net.site_x_m[net.cell_site[c]], net.site_y_m[net.cell_site[c]]
        for k in np.flatnonzero(~net.cell_active):
            s = net.cell_site[k]
            if k in seen_sc or np.hypot(net.site_x_m[s] - sx, net.site_y_m[s] - sy) > radius_m:
                continue
            seen_sc.add(int(k))
            m = names[k]
            on = SetCellActive(cell=m, active=True)
            opts.append(Option(f"cell:{m}", f"switch on {m}", (on,)))
            opts.append(Option(f"cell:{m}", f"switch on {m} with +6 dB range extension",
                               (on, SetCellOffset(cell=m, offset_db=6.0))))
    if hops:
        opts += _wide_options(twin, sorted(full), hops, offset_steps, seen_sc)
    return opts


def _wide_options(twin: DigitalTwin, hot: list[int], hops: int,
                  offset_steps: tuple[float, ...], seen_sc: set[int]) -> list[Option]:
    """Offsets that push load out of the hot cells and pull it into their neighbours, hop by
    hop, and the reserve carriers of the hot sectors (:func:`candidate_options`, ``hops``)."""
    net = twin.network
    names = net.cell_names
    opts: list[Option] = []

    def offset(c: int, d: float) -> Option:
        n = names[c]
        v = float(np.clip(net.cell_cio_db[c] + d, -24.0, 24.0))
        return Option(f"offset:{n}", f"{n} offset {v:+g} dB", (SetCellOffset(cell=n, offset_db=v),))

    for c in hot:
        opts += [offset(c, -d) for d in offset_steps]
        sector = (net.cell_site == net.cell_site[c]) & (net.cell_sector == net.cell_sector[c])
        for j in np.flatnonzero(sector & ~net.cell_active):
            if int(j) in seen_sc or "@" not in names[j]:
                continue
            seen_sc.add(int(j))
            carrier = names[j].split("@", 1)[1]
            opts.append(Option(f"carrier:{names[j]}", f"light {carrier} on {names[c]}'s sector",
                               (AddCarrier(cell=names[c], carrier=carrier),)))
    taken = set(hot)
    frontier = list(hot)
    for hop in range(1, hops + 1):
        nxt: list[int] = []
        for c, ks in neighbour_cells(twin, frontier).items():
            for k in ks:
                if k in taken or not net.cell_active[k]:
                    continue
                taken.add(k)
                nxt.append(k)
                steps = offset_steps if hop == 1 else offset_steps[:1]
                opts += [offset(k, d) for d in steps]
                t0 = float(net.cell_elec_tilt_deg[k])
                if hop == 1 and t0 - 2.0 >= 0.0:
                    n = names[k]
                    opts.append(Option(f"tilt:{n}", f"{n} tilt −2° (towards {names[c]})",
                                       (SetElectricalTilt(cell=n, tilt_deg=t0 - 2.0),)))
        frontier = nxt
    return opts


def search_space(options: list[Option]) -> int:
    """Number of plans the options can form (one option or none per group)."""
    sizes = Counter(o.group for o in options)
    return math.prod(v + 1 for v in sizes.values())


def _plan(opts: list[Option], rationale: str) -> ActionPlan:
    return ActionPlan(actions=[a for o in opts for a in o.actions], rationale=rationale)


def _meets(kpis: dict[str, Any], target: float, max_outage: float | None) -> bool:
    ok = float(kpis["peak_prb_utilization"]) <= target
    if max_outage is not None:
        ok &= float(kpis.get("outage_ratio", 0.0)) <= max_outage
    return bool(ok)


class _Checker:
    """Scores plans of ``opts`` on the twin for the search: :meth:`meets` stops each load
    iteration as soon as a plan provably breaks the limits (exact, see
    :func:`~twinnet.traffic.load.solve_load`) and remembers every verdict; :meth:`load`
    warm-starts from the baseline when the value itself is needed."""

    def __init__(self, twin: DigitalTwin, opts: list[Option], hour: int | None, target: float,
                 max_outage: float | None, u0: np.ndarray):
        self.twin, self.opts, self.hour = twin, opts, hour
        self.target, self.max_outage, self.u0 = target, max_outage, u0
        self.evaluations = 0
        self._seen: dict[frozenset[int], bool] = {}

    def meets(self, chosen: list[int], rationale: str = "search") -> bool:
        key = frozenset(chosen)
        hit = self._seen.get(key)
        if hit is None:
            self.evaluations += 1
            r = what_if_load(self.twin, _plan([self.opts[i] for i in chosen], rationale),
                             self.hour, reject_above=self.target,
                             reject_outage_above=self.max_outage)
            hit = not r.rejected and _meets(r.kpis, self.target, self.max_outage)
            self._seen[key] = hit
        return hit

    def load(self, chosen: list[Option]) -> Any:
        self.evaluations += 1
        return what_if_load(self.twin, _plan(chosen, "search"), self.hour, rho0=self.u0)


def cheapest_combinations(opts: list[Option], by_group: list[list[int]], bound: float,
                          limit: int) -> Iterator[tuple[float, list[int]]]:
    """Non-empty combinations of at most one option per group costing less than ``bound``,
    cheapest first, at most ``limit`` of them — without listing the whole product.

    The order is that of sorting the full product (``itertools.product`` of ``[None, *group]``
    per group, first group the slowest digit) by cost, ties kept in product order. A best-first
    walk over each group's options sorted by (cost, position): every step to a successor adds
    cost or, at equal cost, moves later in the product, so popping by (cost, rank in the
    product) yields exactly that order."""
    radix = [len(g) + 1 for g in by_group]
    weight = [1] * len(radix)
    for j in range(len(radix) - 2, -1, -1):
        weight[j] = weight[j + 1] * radix[j + 1]
    def by_cost(g: list[int]) -> list[int]:
        return sorted(range(len(g)), key=lambda p: (opts[g[p]].cost, p))

    order = [by_cost(g) for g in by_group]

    def key(state: tuple[int, ...]) -> tuple[float, int]:
        cost = 0.0
        rank = 0
        for j, k in enumerate(state):
            if k:
                pos = order[j][k - 1]
                cost += opts[by_group[j][pos]].cost
                rank += (pos + 1) * weight[j]
        return cost, rank

    start = (0,) * len(by_group)
    heap: list[tuple[float, int, tuple[int, ...]]] = [(0.0, 0, start)]
    seen = {start}
    emitted = 0
    while heap and emitted < limit:
        cost, _rank, state = heapq.heappop(heap)
        if cost >= bound - 1e-9:
            break
        if any(state):
            emitted += 1
            yield cost, [by_group[j][order[j][k - 1]] for j, k in enumerate(state) if k]
        for j, k in enumerate(state):
            if k + 1 < radix[j]:
                nxt = (*state[:j], k + 1, *state[j + 1:])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (*key(nxt), nxt))


def count_cheaper(opts: list[Option], by_group: list[list[int]], bound: float) -> int:
    """How many non-empty combinations (at most one option per group) cost less than
    ``bound`` — a dynamic programme over the groups on the distinct partial costs."""
    counts: dict[float, int] = {0.0: 1}
    for g in by_group:
        nxt: dict[float, int] = {}
        for c, n in counts.items():
            for add in (0.0, *(opts[i].cost for i in g)):
                t = round(c + add, 9)
                if t < bound - 1e-9:
                    nxt[t] = nxt.get(t, 0) + n
        counts = nxt
    return sum(counts.values()) - 1  # the empty combination


def solve_capacity(twin: DigitalTwin, target: float = 0.5, options: list[Option] | None = None,
                   margin: float = 0.02, max_outage: float | None = None,
                   hour: int | None = None, max_milp_iterations: int = 12,
                   max_proof_combinations: int = 3000, solver: str | None = None,
                   incumbent: CapacityResult | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   alternatives: int = 0, alternatives_budget: int = 200) -> CapacityResult:
    """Cheapest plan (within the candidate options) meeting the PRB-utilisation target.

    With ``alternatives`` > 0 the plan's neighbours (one option swapped for another of its
    group, or one option added; at most ``alternatives_budget`` of them, cheapest first) are
    checked and up to ``alternatives`` that also meet the target are kept (``runners_up``):
    the choices a decision can offer beside the cheapest."""
    import pyomo.environ as pyo

    from twinnet.rrm.solvers import solve

    if not 0.0 < target <= 1.0:
        raise InputError("target", target, "a PRB utilisation in (0, 1]")
    t0 = time.perf_counter()
    opts = options if options is not None else candidate_options(twin, target, hour=hour)
    base = twin.evaluate(hour=hour, uplink=False)
    u0 = np.asarray(base.load.prb_utilization, dtype=float)
    names = twin.network.cell_names
    history: list[dict[str, Any]] = []
    if _meets(base.kpis, target, max_outage):
        return CapacityResult(ActionPlan(rationale="target already met"), True, True,
                              base.kpis, 0.0, [], 0, 0, 0, time.perf_counter() - t0, "none")
    # 1. single-option effects on every cell
    check = _Checker(twin, opts, hour, target, max_outage, u0)
    effects = np.zeros((len(opts), len(names)))
    for i, o in enumerate(opts):
        effects[i] = check.load([o]).prb_utilization - u0
    groups = sorted({o.group for o in opts})
    # 2. MILP with no-good cuts
    m = pyo.ConcreteModel()
    m.O = pyo.RangeSet(0, len(opts) - 1)
    m.x = pyo.Var(m.O, within=pyo.Binary)
    m.cost = pyo.Objective(expr=sum(opts[i].cost * m.x[i] for i in m.O), sense=pyo.minimize)
    m.one = pyo.ConstraintList()
    for g in groups:
        m.one.add(sum(m.x[i] for i in m.O if opts[i].group == g) <= 1)
    m.util_limit = pyo.ConstraintList()
    linear_infeasible = False
    active = twin.network.cell_active
    for c in range(len(names)):
        # cells that are off now (candidates) are left to the twin's verification: their own
        # load when several of them share a crowd is far from additive
        if not active[c]:
            continue
        if np.any(effects[:, c] != 0.0):
            m.util_limit.add(u0[c] + sum(float(effects[i, c]) * m.x[i] for i in m.O
                                   if effects[i, c] != 0.0) <= target - margin)
        elif u0[c] > target - margin:  # no option moves this cell: the linear model has no plan
            linear_infeasible = True
    m.cuts = pyo.ConstraintList()
    best: list[int] | None = None  # the verified plan (option indices) so far
    iters = 0
    while not linear_infeasible and iters < max_milp_iterations:
        iters += 1
        info = solve(m, solver=solver)
        if not info.has_solution:
            history.append({"milp": iters, "status": info.status})
            break
        chosen = [i for i in m.O if pyo.value(m.x[i]) > 0.5]
        ok = check.meets(chosen, "milp")
        history.append({"milp": iters, "options": [opts[i].name for i in chosen],
                        "cost": sum(opts[i].cost for i in chosen), "verified": ok})
        if ok:
            best = chosen
            break
        m.cuts.add(sum(m.x[i] for i in chosen) <= len(chosen) - 1)
    method = "milp+twin"
    if best is None:  # the linear model missed: start from the greedy plan
        greedy = incumbent if incumbent is not None else greedy_capacity_plan(
            twin, target, opts, max_outage, hour)
        history.append({"greedy": greedy.options, "cost": greedy.cost,
                        "verified": greedy.feasible})
        if greedy.feasible:
            idx = {o.name: i for i, o in enumerate(opts)}
            best = [idx[n] for n in greedy.options]
            method = "greedy+twin"
    # 3. prune the incumbent: drop (most expensive first) or swap for a cheaper option of the
    #    same group while the twin still verifies it
    if best is not None:
        chosen = best
        improved = True
        while improved:
            improved = False
            for i in sorted(chosen, key=lambda j: -opts[j].cost):
                alts = [None] + [j for j in range(len(opts)) if opts[j].group == opts[i].group
                                 and opts[j].cost < opts[i].cost]
                for alt in alts:
                    trial = [j for j in chosen if j != i] + ([alt] if alt is not None else [])
                    if trial and check.meets(trial, "prune"):
                        history.append({"pruned": opts[i].name, "replaced_by": None if alt
                                        is None else opts[alt].name, "verified": True})
                        chosen, improved = trial, True
                        method += "+prune" if "+prune" not in method else ""
                        break
                if improved:
                    break
        best = chosen
    # 4. proof: every cheaper combination, cheapest first, evaluated on the twin
    bound = sum(opts[i].cost for i in best) if best is not None else np.inf
    by_group = [[i for i, o in enumerate(opts) if o.group == g] for g in groups]
    n_combos = count_cheaper(opts, by_group, bound)
    checked = 0
    for cost, chosen in cheapest_combinations(opts, by_group, bound, max_proof_combinations):
        checked += 1
        if progress is not None and checked % 50 == 0:
            progress(checked, min(n_combos, max_proof_combinations))
        if check.meets(chosen, "enumeration"):
            best = chosen
            method += "+enumeration"
            history.append({"enumeration": checked, "options": [opts[i].name for i in chosen],
                            "cost": cost, "verified": True})
            break
    found_cheaper = method.endswith("+enumeration")
    # proved: a cheaper verified plan found in cost order, or every cheaper one checked
    proved = found_cheaper or checked == n_combos
    elapsed = time.perf_counter() - t0
    if best is None:
        return CapacityResult(ActionPlan(rationale="no candidate combination meets the target"),
                              False, proved, base.kpis, 0.0, [], iters, len(m.cuts), checked,
                              elapsed, method, history, search_space(opts), n_combos)
    chosen = best
    runners_up: list[ActionPlan] = []
    if alternatives > 0:
        # the plan's neighbours: one option swapped within its group, or one option added
        cur = set(chosen)
        used = {opts[i].group for i in chosen}
        near: list[list[int]] = []
        for i in chosen:
            near += [[*(cur - {i}), j] for j, o in enumerate(opts)
                     if o.group == opts[i].group and j != i]
        near += [[*cur, j] for j, o in enumerate(opts) if o.group not in used]
        near.sort(key=lambda c: (sum(opts[i].cost for i in c), sorted(c)))
        for combo in near[:alternatives_budget]:
            if check.meets(combo, "alternative"):
                runners_up.append(_plan([opts[i] for i in combo], "a neighbour of the "
                                        "cheapest plan: " + "; ".join(opts[i].name
                                                                      for i in combo)))
                if len(runners_up) >= alternatives:
                    break
    names_o = [opts[i].name for i in chosen]
    plan = _plan([opts[i] for i in chosen],
                 f"cheapest verified plan for peak PRB utilisation ≤ {target:g}: "
                 + "; ".join(names_o))
    kpis = what_if(twin, plan, hour, base).kpis  # the full KPI set of the plan found
    return CapacityResult(plan, True, proved, kpis, plan.cost(), names_o, iters, len(m.cuts),
                          checked, elapsed, method, history, search_space(opts), n_combos,
                          runners_up)


def greedy_capacity_plan(twin: DigitalTwin, target: float = 0.5,
                         options: list[Option] | None = None, max_outage: float | None = None,
                         hour: int | None = None, min_p5_mbps: float | None = None
                         ) -> CapacityResult:
    """Heuristic baseline: add the option with the largest peak reduction per unit cost until
    the target is met (one option per group). When no option lowers the peak, the step with
    the largest reduction of the offered load above the target, summed over cells
    (:meth:`LoadSummary.excess`), is taken instead — progress the peak alone does not show
    when several cells are equally hot or the hottest is saturated. A step that would take
    the outage above ``max_outage`` or the 5th-percentile throughput below ``min_p5_mbps`` is
    not taken.
    Candidates are scored on the load alone (warm started from the baseline); the plan's full
    KPIs come from one what-if at the end."""
    t0 = time.perf_counter()
    opts = options if options is not None else candidate_options(twin, target, hour=hour)
    base = twin.evaluate(hour=hour, uplink=False)
    u0 = np.asarray(base.load.prb_utilization, dtype=float)
    chosen: list[Option] = []
    kpis: dict[str, Any] = base.kpis
    excess = twin.evaluate_load(hour).excess(target)
    evals = 0
    while not _meets(kpis, target, max_outage):
        used = {o.group for o in chosen}
        # (option, score, kpis, excess): best by the peak, and best by the excess
        by_peak: tuple[Option | None, float, dict[str, Any], float] = (None, 0.0, kpis, excess)
        by_excess = by_peak
        for o in opts:
            if o.group in used:
                continue
            r = what_if_load(twin, _plan([*chosen, o], "greedy"), hour, rho0=u0)
            evals += 1
            if max_outage is not None and r.outage_ratio > max_outage:
                continue
            if min_p5_mbps is not None and (r.p5_throughput_mbps or 0.0) < min_p5_mbps:
                continue
            ex = r.excess(target)
            score = ((float(kpis["peak_prb_utilization"]) - r.peak_prb_utilization)
                     / max(o.cost, 1e-9))
            if score > by_peak[1]:
                by_peak = (o, score, r.kpis, ex)
            score = (excess - ex) / max(o.cost, 1e-9)
            if score > by_excess[1]:
                by_excess = (o, score, r.kpis, ex)
        best, _, best_kpis, best_excess = by_peak if by_peak[0] is not None else by_excess
        if best is None:
            break
        chosen.append(best)
        kpis, excess = best_kpis, best_excess
    plan = _plan(chosen, "greedy: best peak reduction per unit cost")
    if chosen:
        kpis = what_if(twin, plan, hour, base).kpis
    return CapacityResult(plan, _meets(kpis, target, max_outage), False, kpis, plan.cost(),
                          [o.name for o in chosen], 0, 0, evals, time.perf_counter() - t0,
                          "greedy")
