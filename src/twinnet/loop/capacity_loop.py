"""The capacity loop without an LLM: observe → calibrate → detect → optimise → verify →
apply → measure (the congested-cell study of Wang et al. on the emulated network).

It is :func:`twinnet.loop.orchestrator.run_closed_loop` with no language model: congested cells
are those whose *measured* PRB utilisation exceeds the target; those at or above
``congestion`` get the full option set (tilt, power, nearby small cells), the other hot cells a
relief option (power −3 dB); the RRM capacity engine (:mod:`twinnet.rrm.capacity`) finds the
cheapest plan it can prove on the twin — every cheaper combination of the candidates is
evaluated (``proof_budget`` bounds how many) — and the greedy heuristic runs on the same
candidates for comparison; the plan is verified, applied (V2P), measured, and rolled back if it
disappoints.

References
----------
* Y. Wang, K. Gao, Z. Shao, J. Woo and S.-W. Jeon, "LLM-Assisted Network Management Using
  Digital Twins" (Wang et al.).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twinnet.emulator import GroundTruth
from twinnet.loop.orchestrator import CAPACITY_TRUTH, run_closed_loop
from twinnet.policy.constraints import Constraints
from twinnet.scenario import Scenario
from twinnet.store.context import ContextStore

__all__ = ["CAPACITY_TRUTH", "run_capacity_loop"]


def run_capacity_loop(scenario: str | Scenario, store: ContextStore,
                      constraints: Constraints | None = None, observe: int = 3,
                      truth: GroundTruth | None = None, design_margin: float = 0.03,
                      proof_budget: int = 20000, congestion: float = 0.8,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the loop once (solver only) and return the JSON-ready report."""
    return run_closed_loop(scenario, store, None, constraints, observe, truth, proof_budget,
                           congestion, progress=progress, design_margin=design_margin)
