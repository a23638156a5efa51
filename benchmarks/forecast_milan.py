"""Traffic-load forecasting on the Milan data: NRMSE (LINKs eq. 9) of every forecaster.

The 25 Milan squares (10-minute internet activity, 2013-11-01 … 2013-11-30) are forecast with
rolling origins over the last 8 days (default test window 2013-11-23 00:00 … 2013-11-30 23:50
CET, every 10-minute step an origin, models refitted daily on the data before each day).
Horizon h is the h-th step ahead (h = 1, 10, 30, 60 → 10 min, 100 min, 5 h, 10 h).  Unavailable
models (foundation models without local weights) are listed with the reason, and so are the
refits that kept default parameters for some series (``fit_warnings``: a failed Holt-Winters or
ARIMA fit, a non-stationary ARIMA estimate).  The scores are printed, never asserted
(``tests/test_forecast.py`` asserts the default-beats-baselines claim).

Run::

    python benchmarks/forecast_milan.py                 # all models, ~1.5-3 min on 2 cores
    python benchmarks/forecast_milan.py --stride 6 --models gbm,persistence,seasonal_naive
    python benchmarks/forecast_milan.py --json /tmp/forecast.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from twinnet.datasets import shared_data_dir
from twinnet.engines.forecast import BASELINES, DEFAULT_MODEL, HORIZONS, evaluate_csv

MILAN_CSV = "milan_internet_10min_25cells_2013-11-01_to_2013-11-30.csv"
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "forecast_milan.json"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", default=None, help="CSV file (default: the shared Milan series)")
    ap.add_argument("--time-col", default="timestamp_local_cet")
    ap.add_argument("--test-start", default="2013-11-23T00:00:00+01:00")
    ap.add_argument("--test-end", default="2013-11-30T23:50:00+01:00")
    ap.add_argument("--horizons", default=",".join(map(str, HORIZONS)))
    ap.add_argument("--models", default=None, help="comma-separated names (default: all)")
    ap.add_argument("--stride", type=int, default=1, help="origin stride in steps")
    ap.add_argument("--refit-every", type=int, default=None, help="steps (default: a day)")
    ap.add_argument("--json", default=str(DEFAULT_JSON), help="where to write the results")
    args = ap.parse_args(argv)

    csv = Path(args.csv) if args.csv else shared_data_dir("milan") / MILAN_CSV
    models = args.models.split(",") if args.models else None
    t0 = time.perf_counter()
    res = evaluate_csv(
        csv,
        args.time_col,
        args.test_start,
        args.test_end,
        args.horizons,
        models=models,
        origin_stride=args.stride,
        refit_every=args.refit_every,
    )
    res["total_runtime_s"] = round(time.perf_counter() - t0, 1)
    res["host"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }

    hs = list(next(iter(res["models"].values())).keys()) if res["models"] else []
    w = res["window"]
    print(
        f"NRMSE, {w['n_series']} series, origins {w['first_origin']} … {w['last_origin']} "
        f"(n={w['n_origins']}, stride {w['origin_stride']}, refit every {w['refit_every']})"
    )
    print(f"{'model':26s}" + "".join(f"{'h=' + h:>9s}" for h in hs) + f"{'time [s]':>10s}")
    for name, sc in res["models"].items():
        mark = " *" if name == DEFAULT_MODEL else ""
        print(
            f"{name + mark:26s}"
            + "".join(f"{sc[h]:9.4f}" for h in hs)
            + f"{res['runtime_s'][name]:10.1f}"
        )
    for name, reason in res["unavailable"].items():
        print(f"{name:26s}  unavailable: {reason}")
    for name, warned in res.get("fit_warnings", {}).items():
        for w in dict.fromkeys(warned):
            print(f"{name:26s}  fit warning: {w}")
    if "default_beats_baselines" in res:
        print(
            f"default ({DEFAULT_MODEL}) beats {', '.join(BASELINES)} at each horizon: "
            f"{res['default_beats_baselines']}"
        )
    print(f"total {res['total_runtime_s']} s")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2))
        print(f"wrote {out}")
    return res


if __name__ == "__main__":
    main()
