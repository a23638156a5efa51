"""What-if throughput on the ``hotspot`` scenario: candidate plans evaluated per second.

Cases (one shared baseline; every plan evaluated on a fork of the twin, KPIs only):

* ``param``: random plans of 1–3 power / cell-offset / on-off actions — link gains reused;
* ``param-load``: the same plans through ``what_if_load`` (only the load: per-cell
  utilisation, peak, outage — what a plan search scores);
* ``param-warm``: ``what_if_load`` warm-started from the baseline's utilisation;
* ``param-reject``: ``what_if_load`` with the capacity search's test (peak ≤ 0.5, outage no
  worse): the load iteration stops as soon as a plan provably breaks it; its verdicts are
  checked against the full evaluation's;
* ``tilt-incremental``: random plans changing 1–2 cells' electrical tilt — only those cells'
  link-gain columns recomputed;
* ``tilt-search``: tilt plans drawn from a small candidate grid (3 cells × {+2, +4, +8}°), as
  in the capacity engine's search — forks share the gain cache, so each setting is computed once;
* ``tilt-full``: the same tilt plans with every link recomputed (cache dropped per plan);
* ``rebuild``: the naive way — a new twin built from the scenario for each plan.

Ratios are against ``tilt-full`` measured in the same run. Prints a table and writes JSON.

Run::

    python benchmarks/whatif_hotspot.py                 # ~20 s
    python benchmarks/whatif_hotspot.py --plans 50 --json /tmp/whatif.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from twinnet.actions import ActionPlan, SetCellActive, SetCellOffset, SetElectricalTilt, SetTxPower
from twinnet.twin import DigitalTwin
from twinnet.twin.whatif import what_if, what_if_load

RESULTS = Path(__file__).resolve().parent / "results"


def random_param_plan(names: list[str], rng: np.random.Generator) -> ActionPlan:
    acts: list[Any] = []
    for _ in range(int(rng.integers(1, 4))):
        c = str(rng.choice(names))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            acts.append(SetTxPower(cell=c, tx_power_dbm=float(rng.uniform(37.0, 46.0))))
        elif kind == 1:
            acts.append(SetCellOffset(cell=c, offset_db=float(rng.uniform(-6.0, 6.0))))
        else:
            acts.append(SetCellActive(cell=c, active=bool(rng.integers(0, 2))))
    return ActionPlan(actions=acts)


def random_tilt_plan(names: list[str], rng: np.random.Generator) -> ActionPlan:
    cells = rng.choice(names, size=int(rng.integers(1, 3)), replace=False)
    return ActionPlan(actions=[SetElectricalTilt(cell=str(c), tilt_deg=float(rng.uniform(2, 14)))
                               for c in cells])


def _rate(fn: Any, plans: list[ActionPlan]) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    peaks = [fn(p) for p in plans]
    dt = time.perf_counter() - t0
    return len(plans) / dt, peaks


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plans", type=int, default=200, help="plans per case")
    ap.add_argument("--rebuild-plans", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=RESULTS / "whatif_hotspot.json")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    twin = DigitalTwin.from_scenario("hotspot")
    base = twin.evaluate(uplink=False)
    names = twin.network.cell_names
    param = [random_param_plan(names, rng) for _ in range(args.plans)]
    tilt = [random_tilt_plan(names, rng) for _ in range(args.plans)]
    grid_cells = ["S0/1", "S2/3", "S4/1"]
    t0s = {c: float(twin.network.cell_elec_tilt_deg[names.index(c)]) for c in grid_cells}
    search = [ActionPlan(actions=[SetElectricalTilt(cell=c, tilt_deg=t0s[c] + float(
        rng.choice([2.0, 4.0, 8.0]))) for c in rng.choice(grid_cells, size=int(
            rng.integers(1, 3)), replace=False)]) for _ in range(args.plans)]
    # warm-up (JIT and caches)
    what_if(twin, param[0], baseline=base)
    what_if(twin, tilt[0], baseline=base)

    def inc(p: ActionPlan) -> float:
        return float(what_if(twin, p, baseline=base).kpis["peak_prb_utilization"])

    def full(p: ActionPlan) -> float:
        fork = twin.copy()
        fork._gain_cache = {}
        fork._last_gain_state = None  # no incremental path: every link recomputed
        p.apply(fork.network)
        return float(fork.evaluate(uplink=False).kpis["peak_prb_utilization"])

    def rebuild(p: ActionPlan) -> float:
        t = DigitalTwin(twin.scenario)
        p.apply(t.network)
        return float(t.evaluate(uplink=False).kpis["peak_prb_utilization"])

    r_param, pk_param = _rate(inc, param)
    rho0 = base.cells["prb_utilization"].to_numpy(dtype=float)
    max_out = float(base.kpis["outage_ratio"]) + 0.005
    out_full = [float(what_if(twin, p, baseline=base).kpis["outage_ratio"]) for p in param]
    r_load, pk_load = _rate(lambda p: what_if_load(twin, p).peak_prb_utilization, param)
    r_warm, pk_warm = _rate(lambda p: what_if_load(twin, p, rho0=rho0).peak_prb_utilization,
                            param)
    r_rej, verdicts = _rate(lambda p: not what_if_load(
        twin, p, reject_above=0.5, reject_outage_above=max_out).rejected, param)
    full_ok = [pk <= 0.5 and o <= max_out for pk, o in zip(pk_param, out_full, strict=True)]
    # a plan kept by early rejection is judged on its exact numbers: the verdicts agree when
    # every rejected plan breaks the test on the full evaluation
    assert all(ok or not v for v, ok in zip(verdicts, full_ok, strict=True))
    assert np.allclose(pk_load, pk_param) and np.allclose(pk_warm, pk_param, atol=2e-3)
    r_tilt, pk_inc = _rate(inc, tilt)
    r_search, _ = _rate(inc, search)
    r_full, pk_full = _rate(full, tilt)
    r_rebuild, pk_rb = _rate(rebuild, tilt[: args.rebuild_plans])
    assert np.allclose(pk_inc, pk_full) and np.allclose(pk_rb, pk_full[: len(pk_rb)])
    rows = [
        {"case": "param (gains reused)", "plans_per_s": r_param},
        {"case": "param-load (what_if_load)", "plans_per_s": r_load},
        {"case": "param-warm (warm-started load)", "plans_per_s": r_warm},
        {"case": "param-reject (early rejection)", "plans_per_s": r_rej,
         "rejected": int(sum(not v for v in verdicts))},
        {"case": "tilt-incremental", "plans_per_s": r_tilt},
        {"case": "tilt-search (shared gain cache)", "plans_per_s": r_search},
        {"case": "tilt-full (all links recomputed)", "plans_per_s": r_full},
        {"case": "rebuild twin per plan", "plans_per_s": r_rebuild},
    ]
    for r in rows:
        r["x_vs_full"] = r["plans_per_s"] / r_full
    print(f"what-if on hotspot ({len(names)} cells, {twin.users.n} users, "
          f"{args.plans} plans per case; identical KPIs across methods)")
    print(f"{'case':36s} {'plans/s':>10s} {'× full':>8s}")
    for r in rows:
        print(f"{r['case']:36s} {r['plans_per_s']:10.1f} {r['x_vs_full']:8.2f}")
    out = {"scenario": "hotspot", "cells": len(names), "users": twin.users.n,
           "plans": args.plans, "rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
