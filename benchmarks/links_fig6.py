"""LINKs Fig. 6: retrieval latency versus the load threshold τ, against two baselines.

Scenario (LINKs §II, §IV):

* 7 hexagonal cells (centre + first ring), ISD 500 m, BS 25 m; TR 38.901 UMa at 6 GHz
  (:func:`twinnet.links.retrieval.build_cell_problem`); per cell a carrier of 50 RBs × 180 kHz,
  p_max = 0.2 W, β = 0 dB, 3 dB interference rise over thermal;
* the sensors of the area: 15 sensor types of the smart-city sensor cards
  (``shared/data/smartcity/sensor_cards.json``: sampling period and payload per sample), 8
  devices per type (``--quick``: 6 types × 3), placed uniformly within 250 m of a cell site;
* the plan of stage 1 for the query "What is the likelihood of electrical leakage in the city
  due to continuous rainfall?" (LINKs Table I, Q8): 5 of those types (``--quick``: 3) over one
  day of raw samples, turned into D_i by the Parameter Convertor;
* cell loads: the L2 forecaster (``gbm``) one 10-minute step ahead on the real Milan internet
  series (25 squares of the Telecom Italia grid, square k → cell k mod 7, summed), origin
  2013-11-28 18:00 CET, normalised by each cell's peak (:func:`predict_cell_load`);
* τ from 0 to 1: cells with predicted load < τ use the 6G uplink on their idle RBs, solved
  exactly with reflexion; the others (and 6G cells the reflexion cannot make feasible) fall back
  to Zigbee (100 kb/s effective per hop, 40 m hops, 10 ms per hop).

Curves: the optimised plan (``plan_retrieval``); "retrieve everything" (stage-1 ablation: all
sensors of the area, same optimiser); "random RB" (random RB allocation at p_max on the
problems the optimiser solved). The retrieval latency is the largest delay over all devices;
the table also gives the 6G part alone. A few small instances check optimiser == brute force.

Run::

    python benchmarks/links_fig6.py            # full: 7 cells, 21 τ values (≈ 10–20 s)
    python benchmarks/links_fig6.py --quick    # 3 cells, small plan, 5 τ values (≈ 5 s)
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinnet.datasets import shared_data_dir
from twinnet.links.retrieval import (
    Device,
    ZigbeeModel,
    build_cell_problem,
    compare_allocations,
    convert_plan,
    hex_cells,
    milan_cell_series,
    predict_cell_load,
    sweep_tau,
)
from twinnet.rrm.minmax_delay import brute_force_minmax, solve_minmax_delay

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_JSON = RESULTS / "links_fig6.json"
DEFAULT_PNG = RESULTS / "links_fig6.png"
ORIGIN = "2013-11-28T18:00:00+01:00"
WINDOW_S = 86400.0
ISD_M = 500.0
DROP_RADIUS_M = 250.0
PLANNED = ("leakage_current", "rain_gauge_precipitation", "radar_precipitation_intensity",
           "soil_moisture", "feeder_current")
OTHERS = ("air_temperature", "relative_humidity", "noise_level", "pm25_concentration",
          "traffic_flow", "parking_occupancy", "ev_charger_power", "substation_voltage",
          "public_transport_vehicle_location", "residential_smart_meter")


def sensor_cards() -> dict[str, dict[str, Any]]:
    path = shared_data_dir("smartcity") / "sensor_cards.json"
    return {c["id"]: c for c in json.loads(path.read_text())}


def area_sensors(types: tuple[str, ...], per_type: int, sites: dict[int, tuple[float, float]],
                 seed: int = 1) -> pd.DataFrame:
    """Sensor table of the area: ``per_type`` devices per type, uniform within
    ``DROP_RADIUS_M`` of a site (cells taken in turn)."""
    gen = np.random.default_rng(seed)
    rows = []
    cells = sorted(sites)
    k = 0
    for t in types:
        for n in range(per_type):
            c = cells[k % len(cells)]
            k += 1
            r = DROP_RADIUS_M * math.sqrt(gen.uniform(0.01, 1.0))
            a = gen.uniform(0, 2 * math.pi)
            rows.append({"sensor_id": f"{t}-{n:02d}", "type": t,
                         "x_m": sites[c][0] + r * math.cos(a),
                         "y_m": sites[c][1] + r * math.sin(a)})
    return pd.DataFrame(rows)


def milan_loads(cells: list[int], origin: str) -> tuple[dict[int, float], dict[int, float]]:
    """Predicted (gbm, one step) and actual peak-normalised loads per cell at ``origin``."""
    series = milan_cell_series(cells)  # naive local (CET) time, like ORIGIN's wall time
    ts = pd.Timestamp(origin)
    ts = ts.tz_localize(None) if ts.tz is not None else ts
    pred = predict_cell_load(series, horizon=1, model="gbm", at=ts)
    actual = {c: float(s[s.index == ts].iloc[0] / s[s.index < ts].max()) for c, s in
              series.items()}
    return pred, actual


def brute_force_checks(devices: list[Device], sites: dict[int, tuple[float, float]],
                       n_instances: int) -> list[dict[str, Any]]:
    """Optimiser (bisection and MILP) == brute force on small instances (3 devices, 4 RBs)."""
    out = []
    for k in range(n_instances):
        gen = np.random.default_rng(100 + k)
        pick = [devices[int(i)] for i in gen.choice(len(devices), size=3, replace=False)]
        prob = build_cell_problem(pick, sites[0], n_rbs=4, beta_db=-3.0, rng=k)
        bf = brute_force_minmax(prob)
        row: dict[str, Any] = {"instance": k, "devices": [d.sensor_id for d in pick],
                               "brute_force_s": bf.max_delay_pmax_s, "status": bf.status}
        for method in ("bisection", "milp"):
            res = solve_minmax_delay(prob, method=method)
            row[method + "_s"] = res.max_delay_pmax_s
        both = [row["bisection_s"], row["milp_s"]]
        row["equal"] = (bf.status == "infeasible" and all(not math.isfinite(v) for v in both)) \
            or all(math.isclose(v, bf.max_delay_pmax_s, rel_tol=1e-5) for v in both)
        out.append(row)
    return out


def plot(taus: list[float], curves: dict[str, list[float]], loads: dict[int, float],
         path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = {"optimised plan": "o-", "retrieve everything": "s--", "random RB": "^:"}
    for name, ys in curves.items():
        ax.step(taus, ys, styles.get(name, "-"), where="post", label=name)
    for v in loads.values():
        ax.axvline(v, color="0.85", lw=0.8, zorder=0)
    ax.set_yscale("log")
    ax.set_xlabel("load threshold τ (grey: predicted cell loads)")
    ax.set_ylabel("retrieval latency [s]")
    ax.set_title("LINKs Fig. 6: retrieval latency vs τ (Milan loads, UMa 6 GHz)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 cells, small plan, few τ")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    ap.add_argument("--png", type=Path, default=DEFAULT_PNG)
    ap.add_argument("--origin", default=ORIGIN, help="forecast origin (ISO-8601)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    n_cells = 3 if args.quick else 7
    sites = hex_cells(n_cells, ISD_M)
    planned_types = PLANNED[:3] if args.quick else PLANNED
    area_types = planned_types + (OTHERS[:3] if args.quick else OTHERS)
    per_type = 3 if args.quick else 8
    taus = [0.0, 0.2, 0.4, 0.6, 1.0] if args.quick else [round(0.05 * k, 2) for k in range(21)]

    cards = sensor_cards()
    period = {t: float(cards[t]["sampling_period_s"]) for t in area_types}
    payload = {t: float(cards[t]["payload_bytes_per_sample"]) for t in area_types}
    table = area_sensors(area_types, per_type, sites)
    everything = convert_plan(table, WINDOW_S, period, payload)
    planned = [d for d in everything if d.sensor_type in planned_types]

    loads, actual = milan_loads(sorted(sites), args.origin)
    kw: dict[str, Any] = {"cell_load": loads, "bs_xy": sites, "zigbee": ZigbeeModel()}
    t1 = time.perf_counter()
    runs = compare_allocations(planned, taus, **kw)
    t_plan = time.perf_counter() - t1
    full = sweep_tau(everything, taus, **kw)
    opt, rnd = runs["opt"], runs["random"]

    rows: list[dict[str, Any]] = []
    for k, tau in enumerate(taus):
        rows.append({"tau": tau, "cells_6g": opt[k].cells_6g,
                     "optimised_s": opt[k].latency_s, "optimised_6g_s": opt[k].latency_of("6g"),
                     "retrieve_everything_s": full[k].latency_s,
                     "everything_cells_6g": full[k].cells_6g,
                     "random_rb_s": rnd[k].latency_s, "random_rb_6g_s": rnd[k].latency_of("6g")})
    checks = brute_force_checks(planned, sites, 2 if args.quick else 5)

    print(f"cells {n_cells} (ISD {ISD_M:g} m); planned devices {len(planned)} of "
          f"{len(everything)} in the area; window {WINDOW_S / 3600:g} h")
    print("predicted loads (gbm, 1 step):",
          {c: round(v, 3) for c, v in loads.items()}, " actual:",
          {c: round(v, 3) for c, v in actual.items()})
    print(f"{'tau':>5} {'6G cells':<22} {'optimised':>10} {'(6G part)':>10} "
          f"{'everything':>11} {'random RB':>10} {'(6G part)':>10}")
    for r in rows:
        print(f"{r['tau']:>5.2f} {r['cells_6g']!s:<22} {r['optimised_s']:>10.3f} "
              f"{r['optimised_6g_s']:>10.3f} {r['retrieve_everything_s']:>11.3f} "
              f"{r['random_rb_s']:>10.3f} {r['random_rb_6g_s']:>10.3f}")
    print("optimiser == brute force:", [c["equal"] for c in checks])

    curves = {"optimised plan": [r["optimised_s"] for r in rows],
              "retrieve everything": [r["retrieve_everything_s"] for r in rows],
              "random RB": [r["random_rb_s"] for r in rows]}
    plot(taus, curves, loads, args.png)
    out = {
        "benchmark": "links_fig6", "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick, "python": platform.python_version(),
        "scenario": {"cells": n_cells, "isd_m": ISD_M, "drop_radius_m": DROP_RADIUS_M,
                     "window_s": WINDOW_S, "planned_types": list(planned_types),
                     "area_types": list(area_types), "devices_per_type": per_type,
                     "n_planned": len(planned), "n_area": len(everything),
                     "data_bits_planned": sum(d.data_bits for d in planned),
                     "data_bits_area": sum(d.data_bits for d in everything),
                     "origin": args.origin, "load_model": "gbm, horizon 1, / peak",
                     "params": opt[-1].solver["params"]},
        "predicted_load": {str(c): v for c, v in loads.items()},
        "actual_load": {str(c): v for c, v in actual.items()},
        "rows": rows, "brute_force_checks": checks,
        "cells_at_max_tau": {"optimised": opt[-1].solver["cells"],
                             "retrieve_everything": full[-1].solver["cells"]},
        "runtime_s": {"plan_and_random": round(t_plan, 2),
                      "total": round(time.perf_counter() - t0, 2)},
        "png": str(args.png),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {args.json} and {args.png} ({time.perf_counter() - t0:.1f} s)")
    return 0 if all(c["equal"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
