"""The reflexion loop of LINKs (paper §III-A) as a generic, evidence-keeping driver.

"By incorporating the reflexion stage, the previous solution will be evaluated against the
constraints one by one, guiding LINKs to tune the parameters until all constraints are
satisfied." The loop here does exactly that, deterministically:

1. ``attempt(params)`` builds the problem from the current parameters, solves it and checks
   every constraint, returning an :class:`Attempt` (status, named violations, solution);
2. if nothing is violated, stop: success;
3. otherwise take the violated constraints in the order the checker reported them and, for the
   first one that some :class:`Adjustment` answers and can still move (its parameter is not yet
   at its limit), apply that adjustment — one parameter change per iteration, so every change
   is attributable — and go to 1;
4. when no adjustment can answer any violated constraint (all at their limits, or none
   registered), stop with an :class:`InfeasibilityReport` naming the binding constraints and
   every adjustment tried (returned in the result, or raised as :class:`ReflexionError`).

Every iteration (parameters, status, violations, summary, adjustment applied) is recorded in
:class:`ReflexionResult` and ``to_dict()`` makes it JSON evidence.

Adjustments are data: a name, the parameter they change, the constraint names they answer, a
``propose(current) -> next | None`` rule and the limit they respect. Factories cover LINKs'
knobs — :func:`relax_beta` (SINR threshold β, in dB steps down to a floor),
:func:`add_resource_blocks` (up to a maximum), :func:`change_load_threshold` (τ, passed through),
:func:`widen_candidate_set` (generic hook) — and :meth:`Adjustment.stepwise` builds any numeric
one, so other RRM problems can reuse the loop with their own ``attempt`` and constraint names.
:func:`minmax_delay_reflexion` wires the loop to :mod:`twinnet.rrm.minmax_delay`.

References
----------
* S. Jiang, B. Lin, Y. Wu and Y. Gao, "LINKs: Large Language Model Integrated Management for
  6G Empowered Digital Twin NetworKs" (LINKs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twinnet.errors import InputError, TwinNetError
from twinnet.rrm.minmax_delay import (
    IoTUplinkProblem,
    Method,
    PowerMode,
    Violation,
    solve_minmax_delay,
)

__all__ = [
    "Adjustment",
    "AdjustmentRecord",
    "Attempt",
    "InfeasibilityReport",
    "ReflexionError",
    "ReflexionIteration",
    "ReflexionResult",
    "add_resource_blocks",
    "change_load_threshold",
    "minmax_delay_reflexion",
    "relax_beta",
    "run_reflexion",
    "widen_candidate_set",
]


def _jsonable(x: Any) -> Any:
    """Best-effort conversion of parameters/summaries to JSON-friendly values."""
    if isinstance(x, bool | str) or x is None:
        return x
    if isinstance(x, int | float):
        return x if not (isinstance(x, float) and not math.isfinite(x)) else None
    if hasattr(x, "tolist"):
        return _jsonable(x.tolist())
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item"):
        return _jsonable(x.item())
    return repr(x)


# --------------------------------------------------------------------------- adjustments
@dataclass(frozen=True)
class Adjustment:
    """One knob the loop may turn.

    ``parameter``: key in the parameter dict it changes. ``constraints``: names of the
    constraints it answers (as reported in violations' ``constraint``). ``propose``: current
    value → next value, or ``None`` when the limit is reached. ``limit``: the bound it respects
    (reported). ``description``: one line for the evidence.
    """

    name: str
    parameter: str
    constraints: tuple[str, ...]
    propose: Callable[[Any], Any]
    limit: Any = None
    description: str = ""

    def answers(self, constraint: str) -> bool:
        return constraint in self.constraints

    def next_value(self, params: Mapping[str, Any]) -> Any:
        """Next value of the parameter, or ``None`` at the limit / when the parameter is absent."""
        if self.parameter not in params:
            return None
        return self.propose(params[self.parameter])

    @classmethod
    def stepwise(cls, name: str, parameter: str, constraints: Sequence[str], step: float,
                 limit: float, description: str = "", integer: bool = False) -> Adjustment:
        """Move a numeric parameter by ``|step|`` towards ``limit`` (clamped), then stop."""
        if not (step != 0 and math.isfinite(step)):
            raise InputError(f"{name}.step", step, "a non-zero finite step")
        if not math.isfinite(limit):
            raise InputError(f"{name}.limit", limit, "a finite limit")
        mag = abs(step)

        def propose(cur: Any) -> Any:
            c = float(cur)
            if abs(c - limit) <= 1e-12 * max(1.0, abs(limit)):
                return None
            nxt = min(c + mag, limit) if limit > c else max(c - mag, limit)
            return round(nxt) if integer else nxt

        return cls(name=name, parameter=parameter, constraints=tuple(constraints),
                   propose=propose, limit=limit, description=description)


def relax_beta(step_db: float = 1.0, floor_db: float = -6.0, parameter: str = "beta_db",
               constraints: Sequence[str] = ("sinr",)) -> Adjustment:
    """Lower the SINR threshold β (5) by ``step_db`` dB per iteration, not below ``floor_db``."""
    if not step_db > 0:
        raise InputError("step_db", step_db, "a positive step in dB")

    def propose(cur: Any) -> Any:
        c = float(cur)
        if c <= floor_db + 1e-12:
            return None
        return max(c - step_db, floor_db)

    return Adjustment(name="relax_beta", parameter=parameter, constraints=tuple(constraints),
                      propose=propose, limit=floor_db,
                      description=f"β −{step_db:g} dB per step, floor {floor_db:g} dB")


def add_resource_blocks(max_rbs: int, step: int = 1, parameter: str = "n_rbs",
                        constraints: Sequence[str] = ("oma", "deadline")) -> Adjustment:
    """Add ``step`` RBs per iteration, up to ``max_rbs`` (e.g. the carrier's RB count)."""
    if not (isinstance(step, int) and step >= 1):
        raise InputError("step", step, "an integer >= 1")
    if not (isinstance(max_rbs, int) and max_rbs >= 1):
        raise InputError("max_rbs", max_rbs, "an integer >= 1")
    adj = Adjustment.stepwise("add_resource_blocks", parameter, constraints, step, max_rbs,
                              f"+{step} RB per step, at most {max_rbs} RBs", integer=True)
    return adj


def change_load_threshold(step: float = 0.05, limit: float = 1.0, parameter: str = "tau",
                          constraints: Sequence[str] = ("load",)) -> Adjustment:
    """Move the load threshold τ (paper §II-A: above τ devices fall back to Zigbee) by ``step``
    towards ``limit``. τ is passed through to the problem's checker unchanged."""
    return Adjustment.stepwise("change_load_threshold", parameter, constraints, step, limit,
                               f"τ by {step:g} per step towards {limit:g}")


def widen_candidate_set(widen: Callable[[Any], Any], parameter: str = "candidates",
                        constraints: Sequence[str] = ("coverage",), limit: Any = None,
                        name: str = "widen_candidate_set", description: str = ""
                        ) -> Adjustment:
    """Generic hook: ``widen(current)`` returns a larger candidate set (cells, RBs, relays…),
    or ``None`` when it cannot grow further (``limit`` is only reported)."""
    return Adjustment(name=name, parameter=parameter, constraints=tuple(constraints),
                      propose=widen, limit=limit,
                      description=description or "widen the candidate set")


# --------------------------------------------------------------------------- records
@dataclass
class Attempt:
    """What one solve-and-check produced: ``violations`` are objects with ``constraint`` and
    ``message`` attributes (e.g. :class:`~twinnet.rrm.minmax_delay.Violation`)."""

    status: str
    violations: Sequence[Any]
    solution: Any = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AdjustmentRecord:
    """One parameter change made by the loop."""

    iteration: int
    adjustment: str
    parameter: str
    old: Any
    new: Any
    constraint: str
    limit: Any

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "adjustment": self.adjustment,
                "parameter": self.parameter, "old": _jsonable(self.old),
                "new": _jsonable(self.new), "constraint": self.constraint,
                "limit": _jsonable(self.limit)}


@dataclass
class ReflexionIteration:
    """Evidence for one iteration: the parameters used, the outcome, the change made after."""

    index: int
    params: dict[str, Any]
    status: str
    violations: list[dict[str, Any]]
    summary: dict[str, Any]
    adjustment: AdjustmentRecord | None = None

    @property
    def violated(self) -> list[str]:
        """Violated constraint names, in report order, without repeats."""
        return list(dict.fromkeys(v["constraint"] for v in self.violations))

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "params": _jsonable(self.params), "status": self.status,
                "violated": self.violated, "violations": _jsonable(self.violations),
                "summary": _jsonable(self.summary),
                "adjustment": self.adjustment.to_dict() if self.adjustment else None}


@dataclass
class InfeasibilityReport:
    """Why the loop stopped without satisfying every constraint.

    ``binding_constraints``: the constraints still violated at the end (report order).
    ``exhausted``: for each of them, the adjustments that answer it and sit at their limits;
    ``unanswered``: violated constraints no adjustment answers. ``adjustments_tried``: every
    change made, in order. ``reason``: ``"limits"`` or ``"iterations"`` (``max_iterations``).
    """

    reason: str
    binding_constraints: list[str]
    violations: list[dict[str, Any]]
    exhausted: dict[str, list[dict[str, Any]]]
    unanswered: list[str]
    adjustments_tried: list[AdjustmentRecord]
    final_params: dict[str, Any]
    iterations: int

    @property
    def message(self) -> str:
        lines = [f"reflexion stopped after {self.iterations} iteration(s) ({self.reason}); "
                 f"binding constraint(s): {', '.join(self.binding_constraints) or 'none'}"]
        for c, adjs in self.exhausted.items():
            for a in adjs:
                lines.append(f"  - {c}: {a['adjustment']} at its limit ({a['parameter']} = "
                             f"{a['value']!r}, limit {a['limit']!r})")
        for c in self.unanswered:
            lines.append(f"  - {c}: no adjustment answers this constraint")
        for v in self.violations[:10]:
            lines.append(f"  * [{v['constraint']}] {v['message']}")
        if len(self.violations) > 10:
            lines.append(f"  * … {len(self.violations) - 10} more violation(s)")
        tried = ", ".join(f"{r.parameter}: {r.old!r}→{r.new!r}" for r in self.adjustments_tried)
        lines.append(f"  adjustments tried: {tried or 'none'}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "binding_constraints": self.binding_constraints,
                "violations": _jsonable(self.violations), "exhausted": _jsonable(self.exhausted),
                "unanswered": self.unanswered,
                "adjustments_tried": [r.to_dict() for r in self.adjustments_tried],
                "final_params": _jsonable(self.final_params), "iterations": self.iterations,
                "message": self.message}


class ReflexionError(TwinNetError):
    """The reflexion loop could not satisfy every constraint within its limits."""

    def __init__(self, report: InfeasibilityReport, result: ReflexionResult | None = None):
        self.report = report
        self.result = result
        super().__init__(report.message)


@dataclass
class ReflexionResult:
    """Outcome of :func:`run_reflexion`: the last solution and every iteration as evidence."""

    success: bool
    params: dict[str, Any]
    solution: Any
    iterations: list[ReflexionIteration]
    adjustments: list[AdjustmentRecord]
    report: InfeasibilityReport | None = None

    @property
    def n_iterations(self) -> int:
        return len(self.iterations)

    def to_dict(self) -> dict[str, Any]:
        sol = self.solution
        sol_d = sol.to_dict() if hasattr(sol, "to_dict") else _jsonable(sol)
        return {"success": self.success, "params": _jsonable(self.params),
                "n_iterations": self.n_iterations,
                "iterations": [it.to_dict() for it in self.iterations],
                "adjustments": [r.to_dict() for r in self.adjustments],
                "report": self.report.to_dict() if self.report else None, "solution": sol_d}


def _violation_dict(v: Any) -> dict[str, Any]:
    if hasattr(v, "to_dict"):
        d = dict(v.to_dict())
    else:
        d = {"constraint": str(getattr(v, "constraint", v)),
             "message": str(getattr(v, "message", v))}
    d.setdefault("constraint", str(getattr(v, "constraint", "unknown")))
    d.setdefault("message", str(getattr(v, "message", "")))
    return d


# --------------------------------------------------------------------------- the loop
def run_reflexion(params: Mapping[str, Any], attempt: Callable[[dict[str, Any]], Attempt],
                  adjustments: Sequence[Adjustment], *, max_iterations: int = 30,
                  raise_on_failure: bool = False) -> ReflexionResult:
    """Solve → check → adjust → re-solve until every constraint holds (LINKs §III-A).

    ``params``: the initial tunable parameters (e.g. ``{"beta_db": 10, "n_rbs": 6}``).
    ``attempt(params)``: build, solve and check; must return an :class:`Attempt`. An empty
    ``violations`` list means success. ``adjustments``: the knobs, tried in list order for the
    first violated constraint that one of them can still answer. ``max_iterations``: solves at
    most. On failure the result carries an :class:`InfeasibilityReport`
    (``raise_on_failure=True`` raises :class:`ReflexionError` instead).
    """
    if not (isinstance(max_iterations, int) and max_iterations >= 1):
        raise InputError("max_iterations", max_iterations, "an integer >= 1")
    names = [a.name for a in adjustments]
    if len(set(names)) != len(names):
        raise InputError("adjustments", names, "adjustments with distinct names")
    cur = dict(params)
    iterations: list[ReflexionIteration] = []
    tried: list[AdjustmentRecord] = []
    att: Attempt | None = None
    for k in range(max_iterations):
        att = attempt(dict(cur))
        vios = [_violation_dict(v) for v in att.violations]
        it = ReflexionIteration(index=k, params=dict(cur), status=att.status, violations=vios,
                                summary=dict(att.summary))
        iterations.append(it)
        if not vios:
            return ReflexionResult(True, dict(cur), att.solution, iterations, tried)
        chosen: tuple[str, Adjustment, Any] | None = None
        for c in it.violated:
            for adj in adjustments:
                if not adj.answers(c):
                    continue
                nxt = adj.next_value(cur)
                if nxt is not None:
                    chosen = (c, adj, nxt)
                    break
            if chosen is not None:
                break
        if chosen is None:
            report = _report("limits", it, adjustments, tried, cur, len(iterations))
            return _fail(report, cur, att, iterations, tried, raise_on_failure)
        c, adj, nxt = chosen
        rec = AdjustmentRecord(iteration=k, adjustment=adj.name, parameter=adj.parameter,
                               old=cur[adj.parameter], new=nxt, constraint=c, limit=adj.limit)
        it.adjustment = rec
        tried.append(rec)
        cur[adj.parameter] = nxt
    assert att is not None
    last = iterations[-1]
    # the last change was made but not evaluated: report the parameters that were evaluated
    report = _report("iterations", last, adjustments, tried, last.params, len(iterations))
    return _fail(report, last.params, att, iterations, tried, raise_on_failure)


def _report(reason: str, it: ReflexionIteration, adjustments: Sequence[Adjustment],
            tried: list[AdjustmentRecord], params: Mapping[str, Any], n_it: int
            ) -> InfeasibilityReport:
    exhausted: dict[str, list[dict[str, Any]]] = {}
    unanswered: list[str] = []
    for c in it.violated:
        answering = [a for a in adjustments if a.answers(c)]
        if not answering:
            unanswered.append(c)
            continue
        exhausted[c] = [{"adjustment": a.name, "parameter": a.parameter,
                         "value": _jsonable(params.get(a.parameter)),
                         "limit": _jsonable(a.limit),
                         "at_limit": a.next_value(params) is None} for a in answering]
    return InfeasibilityReport(reason=reason, binding_constraints=it.violated,
                               violations=it.violations, exhausted=exhausted,
                               unanswered=unanswered, adjustments_tried=list(tried),
                               final_params=dict(params), iterations=n_it)


def _fail(report: InfeasibilityReport, params: Mapping[str, Any], att: Attempt,
          iterations: list[ReflexionIteration], tried: list[AdjustmentRecord],
          raise_on_failure: bool) -> ReflexionResult:
    res = ReflexionResult(False, dict(params), att.solution, iterations, tried, report)
    if raise_on_failure:
        raise ReflexionError(report, res)
    return res


# --------------------------------------------------------------------------- min-max delay
def minmax_delay_reflexion(pool: IoTUplinkProblem, *, n_rbs: int | None = None,
                           beta_db: float | None = None, tau: float | None = None,
                           predicted_load: float | None = None,
                           beta_step_db: float = 1.0, beta_floor_db: float | None = None,
                           rb_step: int = 1, tau_step: float = 0.05, tau_limit: float = 1.0,
                           adjustments: Sequence[Adjustment] | None = None,
                           solver: str | None = None, method: Method = "bisection",
                           time_limit_s: float | None = None, mip_gap: float = 1e-6,
                           power_mode: PowerMode = "per_rb", max_iterations: int = 30,
                           raise_on_failure: bool = False) -> ReflexionResult:
    """Reflexion on OPT (3)–(7): solve exactly, check (4), (5), (6), OMA, service, deadline and
    load, adjust, re-solve.

    ``pool``: the problem over every RB that may be used (its ``n_rbs`` is the maximum the loop
    may reach); the loop starts from its first ``n_rbs`` RBs (default: all) and from ``beta_db``
    (default ``pool.beta_db``). Default adjustments, in order: :func:`relax_beta` (answers
    ``sinr``; step ``beta_step_db``, floor ``beta_floor_db``, default β − 6 dB),
    :func:`add_resource_blocks` (answers ``oma`` and ``deadline``; ``rb_step`` up to
    ``pool.n_rbs``) and, when ``tau`` and ``predicted_load`` are given,
    :func:`change_load_threshold` (answers ``load``: the predicted traffic load must not exceed
    τ, else the devices would fall back to Zigbee, paper §II-A). ``adjustments`` replaces them.

    ``solver``, ``method``, ``time_limit_s``, ``mip_gap``, ``power_mode``: passed to
    :func:`~twinnet.rrm.minmax_delay.solve_minmax_delay` at every iteration (the time limit
    applies per solve). Parameters live in ``result.params`` (``beta_db``, ``n_rbs``, ``tau``);
    ``result.solution`` is the last :class:`~twinnet.rrm.minmax_delay.MinMaxDelayResult`.
    """
    b0 = pool.beta_db if beta_db is None else float(beta_db)
    m0 = pool.n_rbs if n_rbs is None else n_rbs
    if not (isinstance(m0, int) and 1 <= m0 <= pool.n_rbs):
        raise InputError("n_rbs", n_rbs, f"an integer in [1, {pool.n_rbs}]")
    if (tau is None) != (predicted_load is None):
        raise InputError("tau/predicted_load", (tau, predicted_load),
                         "both given (load check against τ) or both None")
    floor = b0 - 6.0 if beta_floor_db is None else float(beta_floor_db)
    params: dict[str, Any] = {"beta_db": b0, "n_rbs": m0}
    if tau is not None:
        params["tau"] = float(tau)
    adjs: list[Adjustment]
    if adjustments is None:
        adjs = [relax_beta(beta_step_db, floor), add_resource_blocks(pool.n_rbs, rb_step)]
        if tau is not None:
            adjs.append(change_load_threshold(tau_step, tau_limit))
    else:
        adjs = list(adjustments)

    def attempt(p: dict[str, Any]) -> Attempt:
        prob = pool.with_rbs(int(p["n_rbs"])).with_beta_db(float(p["beta_db"]))
        res = solve_minmax_delay(prob, solver, method=method, time_limit_s=time_limit_s,
                                 mip_gap=mip_gap, power_mode=power_mode)
        vios: list[Violation] = res.check(prob)
        if "tau" in p and predicted_load is not None and predicted_load > p["tau"]:
            vios.append(Violation("load", f"predicted traffic load {predicted_load:.3g} exceeds "
                                          f"τ = {p['tau']:.3g}: the devices would fall back to "
                                          f"Zigbee", value=float(predicted_load),
                                  limit=float(p["tau"])))
        summary = {"status": res.status, "max_delay_s": res.max_delay_s,
                   "lower_bound_s": res.lower_bound_s, "mip_gap": res.mip_gap,
                   "solve_time_s": res.solve_time_s, "total_power_w": res.total_power_w,
                   "rbs_used": int(res.assignment.sum()), "problem": prob.summary()}
        return Attempt(status=res.status, violations=vios, solution=res, summary=summary)

    return run_reflexion(params, attempt, adjs, max_iterations=max_iterations,
                         raise_on_failure=raise_on_failure)
