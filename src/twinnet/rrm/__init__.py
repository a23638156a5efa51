"""Radio resource management (RRM) on real solvers (Pyomo + HiGHS): problem formulations,
exact solvers, baselines and the reflexion loop.

* :mod:`twinnet.rrm.solvers` — run a Pyomo model on HiGHS (default) or any configured solver.
* :mod:`twinnet.rrm.minmax_delay` — LINKs' min-max IoT uplink delay over power and resource
  blocks (problem (3)–(7) of the LINKs paper).
* :mod:`twinnet.rrm.reflexion` — the reflexion loop: check constraints, adjust parameters,
  re-solve.
* :mod:`twinnet.rrm.power_control` — Foschini–Miljanic and LP power control.
* :mod:`twinnet.rrm.drone` — drone base-station placement (MILP, greedy, brute force).
* :mod:`twinnet.rrm.capacity` — the capacity engine: the cheapest verified plan of tilts,
  powers and small cells meeting a PRB-utilisation target, with its proof.
"""

from __future__ import annotations

from twinnet.rrm.minmax_delay import (
    CONSTRAINTS,
    IoTUplinkProblem,
    MinMaxDelayResult,
    Violation,
    brute_force_minmax,
    check_allocation,
    diagnose_infeasibility,
    evaluate_allocation,
    greedy_allocation,
    minimize_power,
    random_allocation,
    solve_minmax_delay,
)
from twinnet.rrm.reflexion import (
    Adjustment,
    AdjustmentRecord,
    Attempt,
    InfeasibilityReport,
    ReflexionError,
    ReflexionIteration,
    ReflexionResult,
    add_resource_blocks,
    change_load_threshold,
    minmax_delay_reflexion,
    relax_beta,
    run_reflexion,
    widen_candidate_set,
)
from twinnet.rrm.solvers import (
    SolveInfo,
    SolverError,
    default_solver,
    require_solver,
    solve,
    solver_available,
)

__all__ = [
    "CONSTRAINTS",
    "Adjustment",
    "AdjustmentRecord",
    "Attempt",
    "InfeasibilityReport",
    "IoTUplinkProblem",
    "MinMaxDelayResult",
    "ReflexionError",
    "ReflexionIteration",
    "ReflexionResult",
    "SolveInfo",
    "SolverError",
    "Violation",
    "add_resource_blocks",
    "brute_force_minmax",
    "change_load_threshold",
    "check_allocation",
    "default_solver",
    "diagnose_infeasibility",
    "evaluate_allocation",
    "greedy_allocation",
    "minimize_power",
    "minmax_delay_reflexion",
    "random_allocation",
    "relax_beta",
    "require_solver",
    "run_reflexion",
    "solve",
    "solve_minmax_delay",
    "solver_available",
    "widen_candidate_set",
]
