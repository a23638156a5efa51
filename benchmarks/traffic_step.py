"""Per-step cost of the traffic layer of the living network: sessions, queues, scheduler.

Each case spreads its users evenly over five groups (FTP 3, XR, video, V2X, full buffer) with
random serving cells and cell rates, and times one clock step of 1 s — arrivals of every group,
``Queues.demand_bits``, ``ProportionalFair.schedule`` and ``Queues.serve`` with the busy rates —
as the median over the measured steps (after a warm-up that compiles the kernels). Prints a
table and writes JSON.

Run::

    python benchmarks/traffic_step.py                        # 3,000 and 1,000,000 users
    python benchmarks/traffic_step.py --users 3000 --steps 500 --json /tmp/traffic.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from twinnet.scenario import Traffic
from twinnet.traffic import ProportionalFair, Queues, make_traffic

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("ftp3", "xr", "video", "v2x", "full_buffer")


def run_case(n_users: int, n_cells: int, steps: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    groups = np.array_split(rng.permutation(n_users), len(MODELS))
    sources = [make_traffic(Traffic(model=m), np.sort(g), np.full(g.size, 1.0), rng)
               for m, g in zip(MODELS, groups, strict=True)]
    queues = Queues(n_users)
    queues.set_full_buffer(sources[-1].users)
    pf = ProportionalFair(n_users)
    cell = rng.integers(0, n_cells, n_users).astype(np.int32)
    rate = rng.uniform(1e6, 3e8, n_users)
    scale = np.full(n_users, 0.8)
    dt = 1.0
    times = []
    late = 0
    for k in range(steps + 3):
        t0 = time.perf_counter()
        arrivals = [s.arrivals(k * dt, dt, scale) for s in sources]
        t1 = time.perf_counter()
        demand = queues.demand_bits(arrivals)
        t2 = time.perf_counter()
        sch = pf.schedule(cell, n_cells, rate, demand, dt)
        t3 = time.perf_counter()
        stats = queues.serve(arrivals, sch.served_bits, dt, sch.busy_rate_bps)
        t4 = time.perf_counter()
        if k >= 3:
            times.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3))
            late += int(stats.packets_late.sum())
    med = np.median(np.array(times), axis=0) * 1e3
    return {"n_users": n_users, "n_cells": n_cells, "steps": steps,
            "arrivals_ms": med[0], "demand_ms": med[1], "schedule_ms": med[2],
            "serve_ms": med[3], "step_ms": float(med.sum()), "packets_late": late,
            "newton_iterations_last_step": pf.iterations}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=str, default="3000,1000000",
                    help="comma-separated user counts")
    ap.add_argument("--steps", type=int, default=0,
                    help="measured steps per case (default: 2000 for <= 10^4 users, else 10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, default=RESULTS / "traffic_step.json")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'users':>9} {'cells':>6} {'arrivals':>9} {'demand':>8} {'schedule':>9} "
          f"{'serve':>8} {'step [ms]':>10}")
    for n in (int(x) for x in args.users.split(",")):
        cells = 25 if n <= 10_000 else max(25, n // 200)
        steps = args.steps or (2000 if n <= 10_000 else 10)
        r = run_case(n, cells, steps, args.seed)
        rows.append(r)
        print(f"{n:>9} {cells:>6} {r['arrivals_ms']:>9.3f} {r['demand_ms']:>8.3f} "
              f"{r['schedule_ms']:>9.3f} {r['serve_ms']:>8.3f} {r['step_ms']:>10.3f}")
    out = {"results": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
