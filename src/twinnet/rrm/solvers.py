"""Run a Pyomo model on a MILP/LP solver and report what happened.

One small helper shared by the RRM problems (LINKs §III-A: "we utilize … Gurobi and Pyomo as the
solvers"). HiGHS (``appsi_highs``, through ``highspy``) is the default because it is installed
with TwinNet and needs no licence; any Pyomo solver name can be given instead — by argument,
or for the whole process through the ``TWINNET_SOLVER`` environment variable (e.g.
``TWINNET_SOLVER=gurobi``).

The solver runs on one thread unless told otherwise (TwinNet shares its machine). Time limit
and relative MIP gap are translated to each solver's own option names (table
:data:`_OPTION_NAMES`); a solver not in the table gets only Pyomo's generic ``timelimit``.

Failures are :class:`SolverError` (a :class:`~twinnet.errors.TwinNetError`) naming the solver:
unknown or unavailable solver, or a crash inside the solver. An infeasible model or a time
limit reached without an incumbent is *not* an error: it is reported in :class:`SolveInfo`
(``status`` ``"infeasible"`` / ``"no_solution"``) so that callers such as the reflexion loop
can react to it.

References
----------
* S. Jiang, B. Lin, Y. Wu and Y. Gao, "LINKs: Large Language Model Integrated Management for
  6G Empowered Digital Twin NetworKs" (LINKs).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from twinnet.errors import InputError, TwinNetError

__all__ = [
    "DEFAULT_SOLVER",
    "SOLVER_ENV_VAR",
    "SolveInfo",
    "SolverError",
    "default_solver",
    "require_solver",
    "solve",
    "solver_available",
    "solver_family",
]

#: Solver used when neither the caller nor ``TWINNET_SOLVER`` names one.
DEFAULT_SOLVER = "appsi_highs"
#: Environment variable that overrides :data:`DEFAULT_SOLVER` for the whole process.
SOLVER_ENV_VAR = "TWINNET_SOLVER"

#: Option names per solver family: (time limit [s], relative MIP gap, threads). ``None`` where the
#: solver has no such option (or takes it through Pyomo's ``timelimit`` keyword instead).
_OPTION_NAMES: dict[str, tuple[str | None, str | None, str | None]] = {
    "highs": (None, "mip_rel_gap", "threads"),  # time limit through ``timelimit=``
    "gurobi": ("TimeLimit", "MIPGap", "Threads"),
    "cplex": ("timelimit", "mipgap", "threads"),
    "cbc": ("sec", "ratio", "threads"),
    "glpk": ("tmlim", "mipgap", None),
    "scip": ("limits/time", "limits/gap", None),
    "xpress": ("maxtime", "miprelstop", "threads"),
}

#: Pyomo termination conditions (legacy enum values) that come with a usable solution.
_OK_WITH_SOLUTION = {"optimal", "globallyOptimal", "locallyOptimal", "feasible"}
_LIMITS = {"maxTimeLimit", "maxIterations", "maxEvaluations", "userInterrupt",
           "resourceInterrupt"}
_INFEASIBLE = {"infeasible", "infeasibleOrUnbounded", "unbounded", "invalidProblem"}


class SolverError(TwinNetError):
    """The solver named ``solver`` is unavailable or failed (``reason`` says how)."""

    def __init__(self, solver: str, reason: str):
        self.solver = solver
        self.reason = reason
        super().__init__(f"solver {solver!r}: {reason}")


@dataclass(frozen=True)
class SolveInfo:
    """What one solver run produced.

    ``status`` is one of ``"optimal"``, ``"feasible"`` (a limit was hit with an incumbent — see
    ``mip_gap``), ``"infeasible"`` (proven; also infeasible-or-unbounded), ``"no_solution"`` (a
    limit was hit before any incumbent). ``objective`` is the incumbent's objective and ``bound``
    the solver's best bound (dual bound for MILPs), both in the model's own sense; ``mip_gap``
    is ``|objective − bound| / max(|objective|, 1e-10)`` (0 for a proven optimum, ``None`` when
    either is missing). ``termination`` is Pyomo's raw termination condition.
    """

    solver: str
    status: str
    termination: str
    objective: float | None
    bound: float | None
    mip_gap: float | None
    wall_time_s: float
    time_limit_s: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def has_solution(self) -> bool:
        """True when a solution was loaded into the model (``optimal`` or ``feasible``)."""
        return self.status in ("optimal", "feasible")

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy (for evidence files)."""
        return {
            "solver": self.solver, "status": self.status, "termination": self.termination,
            "objective": self.objective, "bound": self.bound, "mip_gap": self.mip_gap,
            "wall_time_s": self.wall_time_s, "time_limit_s": self.time_limit_s,
            "options": {k: (v if isinstance(v, int | float | str | bool) else repr(v))
                        for k, v in self.options.items()},
        }


def default_solver() -> str:
    """The solver name used when none is given: ``$TWINNET_SOLVER`` or ``appsi_highs``."""
    name = os.environ.get(SOLVER_ENV_VAR, "").strip()
    return name or DEFAULT_SOLVER


@contextmanager
def _quiet_pyomo() -> Iterator[None]:
    """Silence Pyomo's warning + traceback when a solver name cannot be created."""
    loggers = [logging.getLogger(n)
               for n in ("pyomo.opt", "pyomo.solvers", "pyomo.common", "pyomo.core")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, levels, strict=True):
            lg.setLevel(lvl)


def _make_solver(name: str) -> Any:
    import pyomo.environ as pyo

    with _quiet_pyomo():
        try:
            opt = pyo.SolverFactory(name)
        except Exception as exc:  # pragma: no cover - Pyomo raises for malformed names
            raise SolverError(name, f"cannot be created by Pyomo ({exc})") from exc
        if opt is None or type(opt).__name__ == "UnknownSolver":
            raise SolverError(name, "unknown to Pyomo (check the name, e.g. 'appsi_highs', "
                                    "'gurobi', 'cbc', 'glpk')")
        try:
            ok = bool(opt.available(exception_flag=False))
        except Exception as exc:
            raise SolverError(name, f"not available ({exc})") from exc
    if not ok:
        raise SolverError(name, "known to Pyomo but not available on this machine "
                                "(executable, Python package or licence missing)")
    return opt


def require_solver(name: str | None = None) -> str:
    """Resolve ``name`` (default :func:`default_solver`) and check it can run here.

    Returns the solver name; raises :class:`SolverError` naming it when Pyomo does not know it
    or it is not available (missing executable, package or licence).
    """
    resolved = default_solver() if name is None else name
    if not isinstance(resolved, str) or not resolved.strip():
        raise InputError("solver", name, "a Pyomo solver name such as 'appsi_highs'")
    _make_solver(resolved.strip())
    return resolved.strip()


def solver_available(name: str) -> bool:
    """True when Pyomo can create and run the solver ``name`` here."""
    try:
        _make_solver(name)
    except SolverError:
        return False
    return True


def solver_family(name: str) -> str | None:
    """The option-name family of a solver name (``"highs"``, ``"gurobi"``, …) or ``None``."""
    low = name.lower()
    for fam in _OPTION_NAMES:
        if fam in low:
            return fam
    return None


def _solver_options(name: str, time_limit_s: float | None, mip_gap: float | None,
                    threads: int | None) -> dict[str, Any]:
    fam = solver_family(name)
    if fam is None:
        return {}
    t_key, g_key, th_key = _OPTION_NAMES[fam]
    out: dict[str, Any] = {}
    if time_limit_s is not None and t_key is not None:
        out[t_key] = math.ceil(time_limit_s) if fam == "glpk" else float(time_limit_s)
    if mip_gap is not None and g_key is not None:
        out[g_key] = float(mip_gap)
    if threads is not None and th_key is not None:
        out[th_key] = int(threads)
    return out


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def solve(model: Any, solver: str | None = None, time_limit_s: float | None = None,
          mip_gap: float | None = None, *, threads: int | None = 1, warmstart: bool = False,
          options: Mapping[str, Any] | None = None) -> SolveInfo:
    """Solve the Pyomo ``model`` in place and return a :class:`SolveInfo`.

    ``solver``: any Pyomo solver name; default :func:`default_solver` (``appsi_highs`` unless
    ``$TWINNET_SOLVER`` says otherwise). ``time_limit_s``: wall-clock limit; when reached with an
    incumbent the status is ``"feasible"`` and the gap is reported. ``mip_gap``: relative MIP gap
    at which the solver may stop (solver default when ``None``). ``threads``: solver threads (1
    by default; ``None`` leaves the solver's default). ``warmstart``: pass the variables' current
    values as a MIP start (ignored by solvers that do not take one). ``options``: extra
    solver-specific options, passed through unchanged (they win over the translated ones).

    The solution, when there is one, is loaded into the model's variables.

    Raises :class:`SolverError` when the solver is unknown/unavailable or crashes, and
    :class:`~twinnet.errors.InputError` for a negative time limit or gap.
    """
    if time_limit_s is not None and not (time_limit_s > 0):
        raise InputError("time_limit_s", time_limit_s, "a positive number of seconds or None")
    if mip_gap is not None and not (mip_gap >= 0):
        raise InputError("mip_gap", mip_gap, "a relative gap >= 0 or None")
    name = solver if solver is not None else default_solver()
    if not isinstance(name, str) or not name.strip():
        raise InputError("solver", name, "a Pyomo solver name such as 'appsi_highs'")
    name = name.strip()
    opt = _make_solver(name)
    opts = _solver_options(name, time_limit_s, mip_gap, threads)
    if options:
        opts.update(options)
    kwargs: dict[str, Any] = {"load_solutions": False}
    if opts:
        kwargs["options"] = dict(opts)
    if time_limit_s is not None:
        kwargs["timelimit"] = float(time_limit_s)
    if warmstart:
        kwargs["warmstart"] = True

    t0 = time.perf_counter()
    try:
        try:
            results = opt.solve(model, **kwargs)
        except (TypeError, ValueError) as exc:
            if "warmstart" not in kwargs or "warmstart" not in str(exc).lower():
                raise
            kwargs.pop("warmstart")  # solver does not take a MIP start: solve without one
            results = opt.solve(model, **kwargs)
    except SolverError:
        raise
    except Exception as exc:
        raise SolverError(name, f"failed while solving ({type(exc).__name__}: {exc})") from exc
    wall = time.perf_counter() - t0

    term = str(getattr(results.solver.termination_condition, "value",
                       results.solver.termination_condition))
    n_sol = len(results.solution) if getattr(results, "solution", None) is not None else 0
    if term in _OK_WITH_SOLUTION and n_sol > 0:
        status = "optimal" if term in ("optimal", "globallyOptimal") else "feasible"
    elif term in _LIMITS or term in ("other", "noSolution", "unknown"):
        status = "feasible" if n_sol > 0 else "no_solution"
    elif term in _INFEASIBLE:
        status = "infeasible"
    else:
        raise SolverError(name, f"terminated with {term!r} "
                                f"({getattr(results.solver, 'message', '') or 'no message'})")

    objective = bound = gap = None
    if status in ("optimal", "feasible"):
        try:
            with _quiet_pyomo():  # Pyomo warns when loading an incumbent found at a limit
                model.solutions.load_from(results)
        except Exception as exc:
            raise SolverError(name, f"returned a solution that could not be loaded ({exc})") \
                from exc
        import pyomo.environ as pyo

        objs = list(model.component_data_objects(pyo.Objective, active=True))
        if objs:
            objective = _num(pyo.value(objs[0]))
            maximize = objs[0].sense == pyo.maximize
            raw = results.problem.upper_bound if maximize else results.problem.lower_bound
            bound = _num(raw)
            if status == "optimal" and bound is None:
                bound = objective
        if objective is not None and bound is not None:
            gap = abs(objective - bound) / max(abs(objective), 1e-10)
    return SolveInfo(solver=name, status=status, termination=term, objective=objective,
                     bound=bound, mip_gap=gap, wall_time_s=wall, time_limit_s=time_limit_s,
                     options=dict(opts))
