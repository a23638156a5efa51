"""The closed loop over the built-in scenarios: no-op vs rule baseline vs solver-only vs
LLM-assisted, on the emulated network's *measured* KPIs after the action.

For every scenario and policy a fresh emulated network (same hidden truth, busy-hour demand)
is observed for three intervals, the twin is calibrated, the policy acts once, and the next
interval is measured:

* ``noop``: nothing is changed;
* ``rule``: the SON-style rule of :func:`twinnet.policy.baseline.rule_plan`, applied unverified;
* ``solver``: the RRM capacity engine alone (cheapest plan it can prove on the twin, verified);
* ``llm``: the RRM engine finds verified plans, the embedded model chooses one
  (:class:`twinnet.llm.engine.DecisionEngine`, mode ``choose``; ``--llm-mode propose``: the
  model proposes, the RRM engine refines, the twin verifies).

Where no plan meets the target over the local candidates (the congested cells), the engine
searches the wide set (every hot cell, offsets that move load over two hops of neighbours,
reserve carriers) and, failing that too, applies the heuristic's best verified improvement.

Prints a table and writes JSON. Run::

    python benchmarks/llm_loop_eval.py                     # all scenarios, ~10 min here
    python benchmarks/llm_loop_eval.py --scenarios hotspot --policies noop,solver,llm
    python benchmarks/llm_loop_eval.py --llm-mode propose --policies llm
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from twinnet.llm.engine import DecisionEngine
from twinnet.loop.orchestrator import ClosedLoop
from twinnet.policy.baseline import rule_plan
from twinnet.policy.constraints import Constraints
from twinnet.policy.kpis import kpi_subset
from twinnet.store import ContextStore

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("hotspot", "milan", "rural", "umi_mmwave")
POLICIES = ("noop", "rule", "solver", "llm")


def run_one(scenario: str, policy: str, backend: Any, proof_budget: int,
            llm_mode: str = "choose") -> dict[str, Any]:
    store = ContextStore(":memory:")
    eng = DecisionEngine(backend if policy == "llm" else None, store,
                         proof_budget=proof_budget, mode=llm_mode)
    loop = ClosedLoop(scenario, store, engine=eng, proof_budget=proof_budget)
    loop.start(observe=3)
    t0 = time.perf_counter()
    base = kpi_subset(loop.emu.last_kpis)
    row: dict[str, Any] = {"scenario": scenario, "policy": policy,
                           "before_peak": base["peak_prb_utilization"]}
    if policy in ("solver", "llm"):
        rep = loop.decide_and_act()
        after = rep.get("after", base)
        row.update(cost=rep.get("plan_cost", 0.0), source=rep.get("plan_source",
                                                                           "none"),
                   proved=rep.get("rrm", {}).get("proved"),
                   rolled_back=rep.get("rolled_back", False),
                   llm=eng.stats.to_dict() if policy == "llm" else None)
    else:
        util = loop.last.kpis.set_index("cell_id")["prb_util_dl"].to_dict()
        plan = rule_plan(loop.twin.network, util) if policy == "rule" else None
        if plan is not None and plan.actions:
            loop.sync.v2p(loop.emu, plan, reason=plan.rationale)
        loop.emu.step()
        after = kpi_subset(loop.emu.last_kpis)
        row.update(cost=plan.cost() if plan is not None else 0.0, source=policy,
                   proved=None, rolled_back=False, llm=None)
    row.update({f"after_{k}": after.get(k) for k in ("peak_prb_utilization", "jain_fairness",
                                                     "p5_throughput_mbps", "outage_ratio")})
    row["decision_s"] = round(time.perf_counter() - t0, 2)
    return row


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--proof-budget", type=int, default=3000)
    ap.add_argument("--llm-mode", default="choose", choices=["choose", "propose"])
    ap.add_argument("--json", type=Path, default=RESULTS / "llm_loop_eval.json")
    args = ap.parse_args(argv)
    policies = args.policies.split(",")
    backend = None
    if "llm" in policies:
        from twinnet.llm.backends import make_backend

        backend = make_backend("embedded")
    rows = []
    for sc in args.scenarios.split(","):
        for pol in policies:
            r = run_one(sc, pol, backend, args.proof_budget, args.llm_mode)
            rows.append(r)
            print(f"{sc:11s} {pol:7s} peak {r['before_peak']:.3f} → "
                  f"{r['after_peak_prb_utilization']:.3f}  Jain {r['after_jain_fairness']:.3f} "
                  f" p5 {r['after_p5_throughput_mbps']:.4f}  outage "
                  f"{r['after_outage_ratio']:.4f}  cost {r['cost']:g}  ({r['source']}, "
                  f"{r['decision_s']:.1f} s)", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"constraints": Constraints().model_dump(), "rows": rows},
                                    indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
