"""Anomaly detectors on real cell KPIs: the twin's residual detector against simple baselines.

Runs :func:`twinnet.engines.kpi_anomaly.evaluate_mlmatt` (ML-MATT LTE cell KPIs, label
``Unusual``, folds by cell: test cells never seen in training) and
:func:`~twinnet.engines.kpi_anomaly.evaluate_sutd` (SUTD 5G walk test, label ``lab_anom``, leave
one walk file out). Detectors: the residual detector (each KPI predicted from the row's context
and the other KPIs, standardised residuals combined), a time-of-day z-score (SUTD: global), an
isolation forest on the residual detector's features; references: the all-positive detector
(the F1 floor) and, on SUTD, the corridor-tag rule (the label's near-twin). Every threshold is
chosen on the training folds only (F1-maximising on out-of-fold training scores). Prints a table
and writes JSON.

Run::

    python benchmarks/kpi_detectors.py                   # ~2 min on 2 cores
    python benchmarks/kpi_detectors.py --data ../shared/data --folds 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from twinnet.datasets import shared_data_dir
from twinnet.engines.kpi_anomaly import evaluate_mlmatt, evaluate_sutd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "runs" / "benchmarks" / "kpi_detectors.json"


def _table(results: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Real-KPI anomaly detectors (threshold chosen on training folds only)")
    for col in ("data set", "detector"):
        table.add_column(col)
    for col in ("P", "R", "F1", "F1 pooled", "ROC-AUC", "flagged"):
        table.add_column(col, justify="right")
    for ds, res in results.items():
        floor = res["detectors"]["all positive"]["mean"]["f1"]
        for name, row in res["detectors"].items():
            m, pooled = row["mean"], row["pooled"]
            auc = f"{m['roc_auc']:.3f}" if "roc_auc" in m else "–"
            f1 = f"{m['f1']:.3f}"
            if name not in ("all positive", "corridor tag (reference)") and m["f1"] > floor:
                f1 = f"[bold]{f1}[/bold]"
            table.add_row(ds, name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f1,
                          f"{pooled['f1']:.3f}", auc, f"{m['flag_rate']:.2f}")
        table.add_section()
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None,
                    help="shared data folder holding kpi/ (default: twinnet.datasets."
                         "shared_data_dir(), i.e. $TWINNET_DATA or ../shared/data)")
    ap.add_argument("--folds", type=int, default=5, help="ML-MATT cell folds (default 5)")
    ap.add_argument("--cv", type=int, default=3,
                    help="inner folds for the out-of-fold training scores (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args()
    data = args.data if args.data is not None else shared_data_dir()
    t0 = time.perf_counter()
    results = {
        "ML-MATT": evaluate_mlmatt(data, folds=args.folds, seed=args.seed, cv=args.cv),
        "SUTD": evaluate_sutd(data, seed=args.seed, cv=args.cv),
    }
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    console.print(_table(results))
    for ds, res in results.items():
        console.print(f"{ds}: {res['split']}, {res['n_rows']} rows ({res['label']} "
                      f"{res['positive_rate']:.1%} positive), {res['n_dropped']} rows with "
                      f"non-numeric/missing KPIs dropped, {res['wall_s']:.0f} s")
    console.print("P / R / F1 / ROC-AUC / flagged: mean over test folds; F1 pooled: all test "
                  "folds together; bold F1: above the all-positive floor")
    out = {"data": str(data), "folds": args.folds, "cv": args.cv, "seed": args.seed,
           "results": results, "wall_s": round(time.perf_counter() - t0, 1)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    console.print(f"wrote {args.json} ({out['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
