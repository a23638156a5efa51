"""Radio resource management (RRM) on real solvers: LINKs' optimisation problems (Pyomo + HiGHS).

* :mod:`twinnet.rrm.solvers` — run a Pyomo model on HiGHS (default) or any configured solver.
* :mod:`twinnet.rrm.minmax_delay` — min-max IoT uplink delay over power and RBs (paper (3)–(7)).
* :mod:`twinnet.rrm.reflexion` — the reflexion loop (LINKs §III-A): check constraints, adjust
  parameters, re-solve.
"""

from __future__ import annotations

from twinnet.rrm.minmax_delay import (
    CONSTRAINTS,
    IoTUplinkProblem,
    MinMaxDelayResult,
    Violation,
    brute_force_minmax,
    channel_gains,
    check_allocation,
    diagnose_infeasibility,
    evaluate_allocation,
    free_space_kappa,
    greedy_allocation,
    minimize_power,
    random_allocation,
    solve_minmax_delay,
    thermal_noise_w,
    uma_channel_gains,
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
    "channel_gains",
    "check_allocation",
    "default_solver",
    "diagnose_infeasibility",
    "evaluate_allocation",
    "free_space_kappa",
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
    "thermal_noise_w",
    "uma_channel_gains",
    "widen_candidate_set",
]
