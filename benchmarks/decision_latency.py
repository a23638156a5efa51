"""Decision latency per loop iteration on this CPU, and where it goes (LLM, solver, twin).

The hotspot network is observed and the twin calibrated once; then the decision step of the
closed loop runs ``--iterations`` times on that state in three cases:

* ``choose`` (the default engine): the RRM engine finds the cheapest plan (with its proof) and
  a few verified alternatives, the embedded model chooses one in one short call;
* ``propose`` (the engine before): context report → LLM proposal → guardrails → conflict
  resolution → RRM refinement → twin verification, with reflexion and fallback;
* ``solver-only``: no model.

Median and p95 of the wall time per decision, the median share spent in the LLM, the solver
and the twin, and the plan each case applies (cost, predicted peak). Prints a table and writes
JSON. Run::

    python benchmarks/decision_latency.py                  # 5 iterations each, ~4 min here
    python benchmarks/decision_latency.py --iterations 10 --proof-budget 20000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from twinnet.llm.engine import DecisionEngine
from twinnet.loop.orchestrator import ClosedLoop
from twinnet.store import ContextStore

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--proof-budget", type=int, default=20000)
    ap.add_argument("--json", type=Path, default=RESULTS / "decision_latency.json")
    args = ap.parse_args(argv)
    from twinnet.llm.backends import make_backend

    backend = make_backend("embedded")
    store = ContextStore(":memory:")
    loop = ClosedLoop("hotspot", store, proof_budget=args.proof_budget)
    loop.start(observe=3)
    out: dict[str, Any] = {"cpu": platform.processor() or platform.machine(),
                           "cpus": os.cpu_count(), "model": backend.model, "cases": {}}
    print(f"decision latency on hotspot ({os.cpu_count()} CPUs, {backend.model})")
    print(f"{'case':12s} {'median s':>9s} {'p95 s':>7s} {'LLM':>6s} {'solver':>7s} "
          f"{'twin':>6s} {'calls':>6s} {'cost':>5s} {'peak':>5s} {'source'}")
    cases = (("choose", backend, "choose"), ("propose", backend, "propose"),
             ("solver-only", None, "choose"))
    for case, be, mode in cases:
        rows = []
        for _ in range(args.iterations):
            eng = DecisionEngine(be, store, proof_budget=args.proof_budget, mode=mode)
            t0 = time.perf_counter()
            d = eng.decide(loop.twin, loop.cons, congested=["S0/1"])
            total = time.perf_counter() - t0
            peak = (float(d.verification.predicted["peak_prb_utilization"])
                    if d.verification is not None else None)
            rows.append({"total_s": total, **{f"{k}_s": v for k, v in d.timing.items()},
                         "calls": eng.stats.calls, "source": d.source,
                         "cost": d.plan.cost(), "predicted_peak": peak,
                         "prompt_tokens": eng.stats.prompt_tokens,
                         "completion_tokens": eng.stats.completion_tokens})
        tot = np.array([r["total_s"] for r in rows])
        share = {k: float(np.median([r[f"{k}_s"] / r["total_s"] for r in rows]))
                 for k in ("llm", "solver", "twin")}
        res = {"median_s": float(np.median(tot)), "p95_s": float(np.percentile(tot, 95)),
               "share": share, "iterations": rows}
        out["cases"][case] = res
        costs = sorted({r["cost"] for r in rows})
        peaks = [r["predicted_peak"] for r in rows if r["predicted_peak"] is not None]
        print(f"{case:12s} {res['median_s']:9.1f} {res['p95_s']:7.1f} "
              f"{share['llm']:6.0%} {share['solver']:7.0%} {share['twin']:6.0%} "
              f"{np.median([r['calls'] for r in rows]):6.0f} "
              f"{'/'.join(f'{c:g}' for c in costs):>5s} "
              f"{(max(peaks) if peaks else float('nan')):5.2f} "
              f"{sorted({r['source'] for r in rows})}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json}")
    return out


if __name__ == "__main__":
    main()
