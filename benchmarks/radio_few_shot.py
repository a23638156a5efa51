"""L1 engines on cells they were not trained on, as a new cell's first measurements arrive.

By-cell 4-fold cross-validation on the real Huawei Cup 2019 drive test (48 cells,
``../shared/data/radio/huawei_cup2019_rsrp``): every engine is fitted on three folds of cells
and scored on the fourth; in each test cell, ``n`` of its measurements (n = 0, 10, 100, drawn
at random from a pool kept out of scoring) give the cell an offset, shrunk toward the prior the
engine measured on its own out-of-fold residuals (``DriveTestEngine.adapt``); all other rows of
the cell are scored, the same rows for every n. Prints a table and writes JSON.

Run::

    python benchmarks/radio_few_shot.py                  # ~4 min on 2 cores
    python benchmarks/radio_few_shot.py --shots 0,1,10,100 --json /tmp/few_shot.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from twinnet.datasets.huawei import load_cluster
from twinnet.engines.radio_models import grouped_few_shot

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shots", default="0,10,100")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--json", type=Path, default=RESULTS / "radio_few_shot.json")
    args = ap.parse_args()
    shots = [int(x) for x in args.shots.split(",")]
    t0 = time.perf_counter()
    res = grouped_few_shot(load_cluster(), args.folds, shots,
                           progress=lambda i, n: print(f"fold {i}/{n} done", flush=True))
    res["wall_s"] = time.perf_counter() - t0
    head = "".join(f"{f'{n} shots':>12}" for n in res["shots"])
    print(f"{'engine':<22}{head}")
    for name, m in res["models"].items():
        print(f"{name:<22}" + "".join(f"{v:>12.2f}" for v in m["mean_rmse_db"]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    print(f"wrote {args.json} ({res['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
