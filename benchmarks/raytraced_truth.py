"""How far calibration takes a statistical twin toward a ray-traced world.

Runs ``twinnet sync`` (the emulated network with a ray-traced truth and the 38.901 twin side by
side, the L1/L2 engines fitted after the warm-up) on a city scenario and reports the twin's
RSRP error on the measurement reports and its PRB-utilisation error, uncalibrated (before) and
calibrated (after). Draws the best-server RSRP on the streets: ray-traced truth, the
uncalibrated twin and the calibrated twin (the L1 engine fitted in the run), side by side.

Needs the ``rt`` extra. Run::

    python benchmarks/raytraced_truth.py                       # munich, ~2 min on 2 cores
    python benchmarks/raytraced_truth.py --scene etoile        # the same network on another city
    python benchmarks/raytraced_truth.py --figure docs/img/munich_coverage.png
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from twinnet.emulator.raytrace import RayTracedTwin
from twinnet.loop.sync_loop import run_sync_loop
from twinnet.network.scene import scenario_geometry
from twinnet.network.users import UserSet
from twinnet.scenario import Scenario, load_scenario
from twinnet.store.context import ContextStore
from twinnet.twin.twin import DigitalTwin

RESULTS = Path(__file__).parent / "results"


def _street_grid(sc: Scenario, twin: DigitalTwin) -> tuple[UserSet, Any]:
    """Outdoor users on every street cell of the scene's grid around the users, and their
    flat cell indices."""
    geo = scenario_geometry(sc)
    ue = twin.users
    x, y = geo.centres(np.arange(geo.street.size))
    keep = (geo.street.ravel() & (x >= ue.x_m.min()) & (x <= ue.x_m.max())
            & (y >= ue.y_m.min()) & (y <= ue.y_m.max()))
    n = int(keep.sum())
    z = np.zeros(n)
    return UserSet(x[keep], y[keep], np.full(n, 1.5), np.zeros(n, dtype=bool), z,
                   np.zeros(n, dtype=bool), z, np.full(n, 0.01)), np.flatnonzero(keep)


def _best_rsrp(twin: DigitalTwin) -> Any:
    return twin.link_rsrp_dbm().max(axis=1)


def figure(sc: Scenario, store: ContextStore, path: Path) -> dict[str, Any]:
    """Best-server RSRP on the streets: truth, uncalibrated twin, calibrated twin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = DigitalTwin(sc)
    grid, flat = _street_grid(sc, base)
    truth = RayTracedTwin(sc, sc.truth, users=grid)
    model = DigitalTwin(sc, users=grid)
    r_truth = _best_rsrp(truth)
    r_model = _best_rsrp(model)
    l1 = store.load_model("L1")
    cal = DigitalTwin(sc, users=grid)
    l1.attach(cal)
    r_cal = _best_rsrp(cal)
    geo = scenario_geometry(sc)
    ny, nx = geo.shape
    extent = (geo.x0 - geo.cell_m / 2, geo.x0 + (nx - 0.5) * geo.cell_m,
              geo.y0 - geo.cell_m / 2, geo.y0 + (ny - 0.5) * geo.cell_m)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.6), sharex=True, sharey=True,
                             constrained_layout=True)
    covered = r_truth > -140
    titles = [f"ray-traced truth ({sc.truth.scene})",
              "twin, 38.901 UMa (uncalibrated)", "twin + L1 engine (calibrated)"]
    net = base.network
    for ax, r, title in zip(axes, (r_truth, r_model, r_cal), titles, strict=True):
        ax.imshow(np.where(geo.building, 1.0, np.nan), origin="lower", extent=extent,
                  cmap="Greys", vmin=0, vmax=2.5, interpolation="nearest")
        img = np.full(geo.shape, np.nan)
        img.ravel()[flat] = np.clip(r, -140, -50)
        sca = ax.imshow(img, origin="lower", extent=extent, cmap="viridis", vmin=-140, vmax=-50,
                        interpolation="nearest")
        ax.scatter(net.site_x_m, net.site_y_m, marker="^", s=60, c="red", edgecolors="white")
        if r is not r_truth:
            err = r[covered] - r_truth[covered]
            title += f"\nerror vs truth: mean {err.mean():+.1f} dB, RMSE " \
                     f"{np.sqrt(np.mean(err ** 2)):.1f} dB"
        else:
            title += f"\n{covered.mean():.0%} of street points above −140 dBm"
        ax.set_title(title, fontsize=10)
        ax.set_xlim(grid.x_m.min() - 20, grid.x_m.max() + 20)
        ax.set_ylim(grid.y_m.min() - 20, grid.y_m.max() + 20)
        ax.set_aspect("equal")
        ax.set_xlabel("x [m]")
    axes[0].set_ylabel("y [m]")
    fig.colorbar(sca, ax=axes, label="best-server RSRP [dBm] (street level, 1.5 m)",
                 shrink=0.85)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

    def rmse(r: Any) -> float:
        return float(np.sqrt(np.mean((r[covered] - r_truth[covered]) ** 2)))

    return {"street_points": int(grid.n), "covered_fraction": float(covered.mean()),
            "street_rsrp_rmse_db": {"before": rmse(r_model), "after": rmse(r_cal)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="munich")
    ap.add_argument("--scene", help="another Sionna RT scene name or Mitsuba XML path")
    ap.add_argument("--intervals", type=int, default=72)
    ap.add_argument("--warmup", type=int, default=48)
    ap.add_argument("--figure", type=Path, help="PNG of the coverage maps")
    ap.add_argument("--json", type=Path, default=RESULTS / "raytraced_truth.json")
    args = ap.parse_args()
    sc = load_scenario(args.scenario)
    if args.scene:
        sc = sc.with_updates(truth=sc.truth.model_copy(update={"scene": args.scene}),
                             name=f"{sc.name}@{args.scene}")
    with tempfile.TemporaryDirectory() as tmp:
        store = ContextStore(Path(tmp) / "store.duckdb")
        t0 = time.perf_counter()
        res = run_sync_loop(sc, store, intervals=args.intervals, warmup=args.warmup)
        summary = res.summary()
        out: dict[str, Any] = {
            "scenario": sc.name, "scene": sc.truth.scene, "truth": summary["truth"],
            "intervals": args.intervals, "warmup": args.warmup,
            "rsrp_rmse_db": summary["rsrp_rmse_db"], "rsrp_bias_db": summary["rsrp_bias_db"],
            "prb_util_mae": summary["prb_util_mae"], "sync_s": time.perf_counter() - t0}
        if args.figure:
            out["figure"] = str(args.figure)
            out.update(figure(sc, store, args.figure))
        store.close()
    print(f"{'metric':<34}{'before':>10}{'after':>10}")
    rows = [("RSRP RMSE on reports [dB]", out["rsrp_rmse_db"]),
            ("RSRP bias on reports [dB]", out["rsrp_bias_db"]),
            ("PRB utilisation MAE", out["prb_util_mae"])]
    if "street_rsrp_rmse_db" in out:
        rows.append(("best-server RSRP RMSE, streets [dB]", out["street_rsrp_rmse_db"]))
    for name, v in rows:
        print(f"{name:<34}{v['before']:>10.3f}{v['after']:>10.3f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
