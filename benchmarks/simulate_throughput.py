"""How much faster than real time the network in time runs (``twinnet.twin.simulate``).

Cases (1 s steps, 15-minute reporting intervals):

* ``hotspot``: the hotspot network (7 sites, 21 macro cells + 4 candidate small cells, UMa at
  3.5 GHz), 3,000 moving users: 60 % pedestrians downloading FTP 3 files, 20 % cars on a road
  grid downloading FTP 3 files, 20 % pedestrians with full-buffer traffic; 24 simulated hours
  (``--hours``). Baseline in the same run: the same simulation recomputing every user's link
  gains at every step (the naive per-step full recompute), timed over ``--naive-steps`` steps.
* ``city``: 1,027 sites × 3 = 3,081 cells, 1,000,000 users (each pruned to its 8 nearest sites),
  all walking with FTP 3 traffic; ``--city-steps`` steps after the build; peak memory (RSS)
  reported.

Each case runs in its own process. Prints a table and writes
``benchmarks/results/simulate_throughput.json``. Targets: hotspot ≥ 150× real time on 2
cores, city ≥ 1× real time.

    python benchmarks/simulate_throughput.py                  # ~10 min on 2 cores
    python benchmarks/simulate_throughput.py --hours 1 --no-city --json /tmp/out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from twinnet.scenario import Scenario, load_scenario
from twinnet.twin import DigitalTwin
from twinnet.twin.simulate import NetworkSimulation

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_HOTSPOT_SPEEDUP = 150.0
TARGET_CITY_SPEEDUP = 1.0

GROUPS = [
    {"name": "walkers_ftp", "fraction": 0.6, "mobility": {"model": "random_waypoint"},
     "traffic": {"model": "ftp3"}},
    {"name": "cars_ftp", "fraction": 0.2, "mobility": {"model": "vehicles"},
     "traffic": {"model": "ftp3"}},
    {"name": "walkers_full_buffer", "fraction": 0.2, "mobility": {"model": "random_waypoint"},
     "traffic": {"model": "full_buffer"}},
]


def _rss_peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def hotspot_scenario() -> Scenario:
    base = load_scenario("hotspot").model_dump()
    base.update(name="hotspot-moving", groups=GROUPS,
                simulation={"step_s": 1.0, "report_s": 900.0, "start": "2013-11-04T00:00:00"})
    return Scenario.from_dict(base)


def city_scenario() -> Scenario:
    n_sites, n_users = 1027, 1_000_000
    return Scenario.from_dict({
        "name": "city-moving", "seed": 1,
        "layout": {"type": "hex", "n_sites": n_sites, "isd_m": 500, "bs_height_m": 25},
        "users": {"count": n_users, "distribution": "uniform"},
        "demand": {"per_user_mbps": 9.0 * 3 * n_sites / n_users, "diurnal": "flat"},
        "groups": [{"name": "walkers", "fraction": 1.0,
                    "mobility": {"model": "random_waypoint"}, "traffic": {"model": "ftp3"}}],
        "simulation": {"step_s": 1.0, "report_s": 60.0},
    })


class NaiveSimulation(NetworkSimulation):
    """The baseline: every user's link gains recomputed at every step."""

    def _follow_users(self) -> None:
        self._refresh_links()


def run_hotspot(hours: float, naive_steps: int) -> dict[str, Any]:
    sc = hotspot_scenario()
    t0 = time.perf_counter()
    sim = NetworkSimulation(DigitalTwin(sc))
    build_s = time.perf_counter() - t0
    sim.run(60.0)  # compile and warm up
    res = sim.run(hours * 3600.0)
    naive = NaiveSimulation(DigitalTwin(sc))
    naive.run(10.0)
    t0 = time.perf_counter()
    for _ in range(naive_steps):
        naive.step()
    naive_step_s = (time.perf_counter() - t0) / naive_steps
    step_s = res.wall_s / res.steps
    ho = res.handover_summary()
    return {
        "case": "hotspot", "cells": sim.twin.network.n_cells, "users": sim.n_users,
        "simulated_h": hours, "steps": res.steps, "build_s": round(build_s, 2),
        "wall_s": round(res.wall_s, 1), "step_ms": round(1e3 * step_s, 3),
        "speedup": round(res.speedup(), 1), "naive_step_ms": round(1e3 * naive_step_s, 3),
        "naive_speedup": round(1.0 / naive_step_s, 1),
        "ratio_vs_naive": round(naive_step_s / step_s, 2),
        "handovers_per_user_hour": round(ho["ho_attempts"] / sim.n_users / hours, 2),
        "ping_pong_ratio": ho["ping_pong_ratio"], "rlf": ho["rlf"],
        "peak_prb_util_dl": float(res.network["peak_prb_util_dl"].max()),
        "target_speedup": TARGET_HOTSPOT_SPEEDUP,
        "meets_target": bool(res.speedup() >= TARGET_HOTSPOT_SPEEDUP),
        "peak_rss_mb": round(_rss_peak_bytes() / 2**20, 1),
    }


def run_city(steps: int) -> dict[str, Any]:
    sc = city_scenario()
    t0 = time.perf_counter()
    twin = DigitalTwin(sc, max_sites_per_user=8)
    sim = NetworkSimulation(twin)
    build_s = time.perf_counter() - t0
    sim.run(5.0)  # compile and warm up
    res = sim.run(float(steps))
    step_s = res.wall_s / res.steps
    return {
        "case": "city", "cells": sim.twin.network.n_cells, "users": sim.n_users,
        "links_per_user": int(sim._gain_lin.shape[1]), "steps": res.steps,
        "build_s": round(build_s, 1), "wall_s": round(res.wall_s, 1),
        "step_ms": round(1e3 * step_s, 1), "speedup": round(res.speedup(), 2),
        "target_speedup": TARGET_CITY_SPEEDUP,
        "meets_target": bool(res.speedup() >= TARGET_CITY_SPEEDUP),
        "peak_rss_mb": round(_rss_peak_bytes() / 2**20, 1),
        "peak_rss_bytes_per_user": round(_rss_peak_bytes() / sim.n_users, 1),
    }


def _child(kind: str, arg: dict[str, Any], q: Any) -> None:
    try:
        q.put(run_hotspot(**arg) if kind == "hotspot" else run_city(**arg))
    except Exception as exc:  # reported in the table, not hidden
        q.put({"case": kind, "error": f"{type(exc).__name__}: {exc}"})


def in_child(kind: str, **arg: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(kind, arg, q))
    p.start()
    out: dict[str, Any] = q.get()
    p.join()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours (hotspot)")
    ap.add_argument("--naive-steps", type=int, default=300)
    ap.add_argument("--city-steps", type=int, default=60)
    ap.add_argument("--no-city", action="store_true")
    ap.add_argument("--json", type=Path, default=RESULTS / "simulate_throughput.json")
    args = ap.parse_args(argv)
    results = [in_child("hotspot", hours=args.hours, naive_steps=args.naive_steps)]
    if not args.no_city:
        results.append(in_child("city", steps=args.city_steps))
    print(f"{'case':8} {'cells':>6} {'users':>9} {'steps':>7} {'step [ms]':>10} "
          f"{'× real time':>12} {'× naive':>8} {'peak RSS':>10}")
    for r in results:
        if "error" in r:
            print(f"{r['case']:8} error: {r['error']}")
            continue
        print(f"{r['case']:8} {r['cells']:>6} {r['users']:>9,} {r['steps']:>7} "
              f"{r['step_ms']:>10} {r['speedup']:>12} {r.get('ratio_vs_naive', '—')!s:>8} "
              f"{r['peak_rss_mb']:>8} MB")
    env = {"python": platform.python_version(), "machine": platform.machine(),
           "cpus": os.cpu_count()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"results": results, "environment": env}, indent=2,
                                    default=float))
    print(f"wrote {args.json}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
