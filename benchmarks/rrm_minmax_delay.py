"""LINKs' min-max IoT uplink delay (paper (3)–(7)): exact solve time and gap vs baselines.

For N = 5, 10, 20, 50, 100, 200 IoT devices and several random seeds each, solve OPT exactly
(:func:`twinnet.rrm.solve_minmax_delay`, HiGHS, 1 thread) and compare its largest delay with the
greedy heuristic and the random RB allocation (both from ``twinnet.rrm``).

Setting (single cell, uplink OMA; the paper's §IV uses 38.901 UMa at 6 GHz — here the gains
follow the paper's own eq. (1) with UMa-like constants):

* BS at the origin; devices uniform over the annulus 20–300 m;
* eq. (1) ``g = κ d^-α |h|² ζ``: κ = free-space gain at 1 m for 6 GHz (−48.0 dB), α = 3.5,
  Rayleigh |h|² ~ Exp(1) independent per device and RB, log-normal shadowing ζ (σ = 6 dB, the
  38.901 UMa NLOS value) per device;
* M = 2N RBs of 180 kHz (12 × 15 kHz subcarriers). M scales with N because under OMA every
  device needs an RB of its own: a fixed 100-RB (20 MHz) carrier cannot serve N = 200;
* p_max = 0.2 W (23 dBm); N0 = −174 dBm/Hz + 10 log10(180 kHz) + 5 dB noise figure
  (−116.4 dBm per RB); external interference I_j ~ U[0, 3] · N0 per RB (inter-cell CC-UE
  interference, up to +6 dB);
* β = 0 dB; D_i ~ U[0.1, 1] Mbit; several RBs per device allowed.

Instances in which some device reaches β on no RB (the problem would be infeasible: reported
without a solver call by ``solve_minmax_delay``) are redrawn; the number of redraws is
recorded.

Methods: ``bisection`` (the default exact method: bisection on 1/T with knapsack-feasibility
MILPs) with a time limit per instance (60 s) and a relative gap of 1e-4; the single max-z
``milp`` for N ≤ ``--milp-max-n`` (same limits; its gap stalls for N ≥ 50, which is why
bisection is the default); ``greedy`` (best remaining RB to the device with the largest current
delay); ``random`` (seeded). Delays are compared at p_max (stage 1; the stage-2 power
minimisation keeps them ≤ T*). ``gap`` is the relative gap on 1/T (T_incumbent / T_bound − 1).

Run::

    python benchmarks/rrm_minmax_delay.py            # N up to 200, 3 seeds (≈ 5–15 min)
    python benchmarks/rrm_minmax_delay.py --quick    # N up to 20, 2 seeds (≈ 10 s)
    python benchmarks/rrm_minmax_delay.py --sizes 5 50 --seeds 5 --json /tmp/out.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from twinnet.radio.noise import thermal_noise_w
from twinnet.rrm import (
    IoTUplinkProblem,
    diagnose_infeasibility,
    greedy_allocation,
    random_allocation,
    solve_minmax_delay,
)

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "rrm_minmax_delay.json"
SIZES = (5, 10, 20, 50, 100, 200)
QUICK_SIZES = (5, 10, 20)
RB_BANDWIDTH_HZ = 180e3
CELL_RADIUS_M = 300.0
MIN_DISTANCE_M = 20.0
ALPHA = 3.5
SHADOWING_DB = 6.0
P_MAX_W = 0.2
BETA_DB = 0.0
DATA_BITS = (1e5, 1e6)
INTERFERENCE_OVER_NOISE = 3.0  # I_j ~ U[0, 3]·N0


def make_instance(n: int, seed: int) -> tuple[IoTUplinkProblem, int]:
    """The benchmark instance for ``n`` devices and ``seed`` (redrawn until feasible)."""
    m = 2 * n
    n0 = thermal_noise_w(RB_BANDWIDTH_HZ)
    for redraw in range(1000):
        rng = np.random.default_rng([seed, n, redraw])
        u = rng.uniform((MIN_DISTANCE_M / CELL_RADIUS_M) ** 2, 1.0, n)
        dist = CELL_RADIUS_M * np.sqrt(u)  # uniform over the annulus
        prob = IoTUplinkProblem.from_distances(
            dist, rng.uniform(*DATA_BITS, n), m, rb_bandwidth_hz=RB_BANDWIDTH_HZ,
            p_max_w=P_MAX_W, beta_db=BETA_DB, noise_w=n0,
            interference_w=rng.uniform(0.0, INTERFERENCE_OVER_NOISE, m) * n0, alpha=ALPHA,
            shadowing_std_db=SHADOWING_DB, rng=rng)
        if not diagnose_infeasibility(prob):
            return prob, redraw
    raise RuntimeError(f"no feasible instance for N={n}, seed={seed}")


def _ms(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else 1e3 * x


def run_instance(n: int, seed: int, time_limit_s: float, gap: float, with_milp: bool
                 ) -> dict[str, Any]:
    prob, redraws = make_instance(n, seed)
    rec: dict[str, Any] = {"n_devices": n, "n_rbs": prob.n_rbs, "seed": seed,
                           "redraws": redraws,
                           "admissible_fraction": float(prob.admissible.mean())}
    exact = solve_minmax_delay(prob, method="bisection", time_limit_s=time_limit_s,
                               mip_gap=gap)
    assert exact.check(prob) == [], exact.check(prob)
    rec["bisection"] = {"status": exact.status, "solve_time_s": exact.solve_time_s,
                        "gap": exact.mip_gap, "max_delay_ms": _ms(exact.max_delay_pmax_s),
                        "lower_bound_ms": _ms(exact.lower_bound_s),
                        "solver_calls": len(exact.trace),
                        "total_power_w": exact.total_power_w,
                        "max_delay_after_power_ms": _ms(exact.max_delay_s)}
    if with_milp:
        milp = solve_minmax_delay(prob, method="milp", time_limit_s=time_limit_s, mip_gap=gap,
                                  power_mode="max")
        rec["milp"] = {"status": milp.status, "solve_time_s": milp.solve_time_s,
                       "gap": milp.mip_gap, "max_delay_ms": _ms(milp.max_delay_pmax_s),
                       "lower_bound_ms": _ms(milp.lower_bound_s)}
    greedy = greedy_allocation(prob)
    rnd = random_allocation(prob, rng=seed)
    for name, res in (("greedy", greedy), ("random", rnd)):
        rec[name] = {"status": res.status, "solve_time_s": res.solve_time_s,
                     "max_delay_ms": _ms(res.max_delay_pmax_s),
                     "total_power_w": res.total_power_w}
        # a baseline can never beat the exact optimum (up to the reported gap)
        assert res.max_delay_pmax_s >= exact.max_delay_pmax_s / (1.0 + (exact.mip_gap or 0.0)) \
            * (1 - 1e-9)
    return rec


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for n in sorted({r["n_devices"] for r in records}):
        rs = [r for r in records if r["n_devices"] == n]
        ex = [r["bisection"] for r in rs]
        row: dict[str, Any] = {
            "n_devices": n, "n_rbs": rs[0]["n_rbs"], "seeds": len(rs),
            "bisection_time_s_median": _med([e["solve_time_s"] for e in ex]),
            "bisection_time_s_max": max(e["solve_time_s"] for e in ex),
            "bisection_gap_max": max(e["gap"] for e in ex),
            "bisection_optimal": sum(e["status"] == "optimal" for e in ex),
            "exact_max_delay_ms_mean": statistics.fmean(e["max_delay_ms"] for e in ex),
            "greedy_max_delay_ms_mean": statistics.fmean(r["greedy"]["max_delay_ms"] for r in rs),
            "random_max_delay_ms_mean": statistics.fmean(
                r["random"]["max_delay_ms"] for r in rs if r["random"]["max_delay_ms"]
                is not None) if any(r["random"]["max_delay_ms"] for r in rs) else None,
            "random_unserved": sum(r["random"]["max_delay_ms"] is None for r in rs),
            "greedy_over_exact_mean": statistics.fmean(
                r["greedy"]["max_delay_ms"] / r["bisection"]["max_delay_ms"] for r in rs),
            "exact_power_w_mean": statistics.fmean(e["total_power_w"] for e in ex),
            "greedy_power_w_mean": statistics.fmean(r["greedy"]["total_power_w"] for r in rs),
        }
        rnd_ratios = [r["random"]["max_delay_ms"] / r["bisection"]["max_delay_ms"] for r in rs
                      if r["random"]["max_delay_ms"] is not None]
        row["random_over_exact_mean"] = statistics.fmean(rnd_ratios) if rnd_ratios else None
        ml = [r["milp"] for r in rs if "milp" in r]
        if ml:
            row["milp_time_s_median"] = _med([m["solve_time_s"] for m in ml])
            row["milp_time_s_max"] = max(m["solve_time_s"] for m in ml)
            row["milp_gap_max"] = max(m["gap"] for m in ml)
            row["milp_optimal"] = sum(m["status"] == "optimal" for m in ml)
        rows.append(row)
    return rows


def _f(x: Any, fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (f"{'N':>4} {'M':>4} {'seeds':>5} | {'exact t med/max [s]':>19} {'gap max':>8} "
            f"{'opt':>4} | {'MILP t med/max [s]':>18} {'gap max':>8} {'opt':>4} | {'T* exact':>9} "
            f"{'greedy':>9} {'random':>9} [ms] | {'gr/ex':>5} {'rd/ex':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        milp_n = r["seeds"] if "milp_optimal" in r else "-"
        print(f"{r['n_devices']:>4} {r['n_rbs']:>4} {r['seeds']:>5} | "
              f"{_f(r['bisection_time_s_median'], '.2f'):>9}/"
              f"{_f(r['bisection_time_s_max'], '.2f'):<9} "
              f"{_f(r['bisection_gap_max'], '.1e'):>8} "
              f"{r['bisection_optimal']:>2}/{r['seeds']:<1} | "
              f"{_f(r.get('milp_time_s_median'), '.2f'):>8}/"
              f"{_f(r.get('milp_time_s_max'), '.2f'):<9} "
              f"{_f(r.get('milp_gap_max'), '.1e'):>8} "
              f"{_f(r.get('milp_optimal'), 'd'):>2}/{milp_n:<1} | "
              f"{_f(r['exact_max_delay_ms_mean'], '.1f'):>9} "
              f"{_f(r['greedy_max_delay_ms_mean'], '.1f'):>9} "
              f"{_f(r['random_max_delay_ms_mean'], '.1f'):>9}      | "
              f"{_f(r['greedy_over_exact_mean'], '.2f'):>5} "
              f"{_f(r['random_over_exact_mean'], '.2f'):>5}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N up to 20, 2 seeds (smoke run)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--seeds", type=int, default=None, help="seeds per size (default 3)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="per solve [s]")
    ap.add_argument("--gap", type=float, default=1e-4, help="relative optimality gap")
    ap.add_argument("--milp-max-n", type=int, default=50,
                    help="also run the single max-z MILP up to this N (0: never)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args(argv)
    sizes = tuple(args.sizes) if args.sizes else (QUICK_SIZES if args.quick else SIZES)
    if args.quick:
        sizes = tuple(n for n in sizes if n <= 20)
    n_seeds = args.seeds if args.seeds is not None else (2 if args.quick else 3)

    records = []
    t_all = time.perf_counter()
    for n in sizes:
        for seed in range(n_seeds):
            rec = run_instance(n, seed, args.time_limit, args.gap, n <= args.milp_max_n)
            records.append(rec)
            ex = rec["bisection"]
            print(f"  N={n:<4} seed={seed} exact {ex['status']:<8} {ex['solve_time_s']:7.2f} s "
                  f"gap {ex['gap']:.1e}  T*={ex['max_delay_ms']:.1f} ms  greedy "
                  f"{rec['greedy']['max_delay_ms']:.1f} ms", flush=True)
    rows = summarise(records)
    print()
    print_table(rows)
    out = {
        "benchmark": "rrm_minmax_delay",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": {"python": sys.version.split()[0], "machine": platform.machine(),
                     "system": platform.system()},
        "setting": {"rb_bandwidth_hz": RB_BANDWIDTH_HZ, "n_rbs": "2N",
                    "cell_radius_m": CELL_RADIUS_M, "min_distance_m": MIN_DISTANCE_M,
                    "alpha": ALPHA, "kappa": "free space at 1 m, 6 GHz",
                    "shadowing_std_db": SHADOWING_DB, "rayleigh": True, "p_max_w": P_MAX_W,
                    "beta_db": BETA_DB, "data_bits": DATA_BITS,
                    "interference_over_noise_max": INTERFERENCE_OVER_NOISE,
                    "noise": "-174 dBm/Hz + 10log10(B) + 5 dB", "solver": "appsi_highs",
                    "threads": 1, "time_limit_s": args.time_limit, "mip_gap": args.gap,
                    "milp_max_n": args.milp_max_n},
        "summary": rows,
        "results": records,
        "wall_time_s": time.perf_counter() - t_all,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1, allow_nan=False))
    print(f"\nwrote {args.json}  ({out['wall_time_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
