"""Run folders: Parquet tables, KPI JSON, PNG maps and a short Markdown report (snapshots and
simulations in time)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Wedge

from twinnet.twin import DigitalTwin, Evaluation

__all__ = ["plot_calibration_cdf", "plot_kpis_over_time", "plot_serving_snapshot",
           "write_run_folder", "write_simulation_folder"]


def _sites(ax: Any, twin: DigitalTwin) -> None:
    net = twin.network
    ax.scatter(net.site_x_m, net.site_y_m, marker="^", s=60, c="k", zorder=5)
    r = (net.isd_m or 400.0) * 0.18
    for c in range(net.n_cells):
        s = net.cell_site[c]
        a = math.radians(net.cell_bearing_deg[c])
        ax.plot([net.site_x_m[s], net.site_x_m[s] + r * math.cos(a)],
                [net.site_y_m[s], net.site_y_m[s] + r * math.sin(a)], "k-", lw=1, zorder=5)


def _finish(fig: Any, ax: Any, title: str, path: Path) -> None:
    ax.set_title(title)
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_serving_map(twin: DigitalTwin, ev: Evaluation, path: Path) -> None:
    u = ev.users
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab20")
    colours = cmap((u["serving_cell"].to_numpy() % 20) / 19.0)
    ax.scatter(u["x_m"], u["y_m"], s=4, c=colours)
    _sites(ax, twin)
    _finish(fig, ax, "Serving cell per user", path)


def plot_sinr_map(twin: DigitalTwin, ev: Evaluation, path: Path) -> None:
    u = ev.users
    fig, ax = plt.subplots(figsize=(7.6, 6))
    s = np.clip(u["sinr_db"].to_numpy(), -10, 30)
    sc = ax.scatter(u["x_m"], u["y_m"], s=5, c=s, cmap="viridis", vmin=-10, vmax=30)
    fig.colorbar(sc, ax=ax, label="downlink SINR [dB]")
    _sites(ax, twin)
    _finish(fig, ax, "Downlink SINR per user", path)


def plot_prb_map(twin: DigitalTwin, ev: Evaluation, path: Path) -> None:
    net = twin.network
    fig, ax = plt.subplots(figsize=(7.6, 6))
    r = (net.isd_m or 400.0) * 0.55
    cmap = plt.get_cmap("RdYlGn_r")
    util = ev.cells["prb_utilization"].to_numpy()
    for c in range(net.n_cells):
        s = net.cell_site[c]
        az = net.cell_bearing_deg[c]
        width = 120.0 if not net.omni else 360.0
        ax.add_patch(Wedge((net.site_x_m[s], net.site_y_m[s]), r, az - width / 2,
                           az + width / 2, facecolor=cmap(util[c]), edgecolor="k", lw=0.5,
                           alpha=0.85))
        ax.text(net.site_x_m[s] + 0.55 * r * math.cos(math.radians(az)),
                net.site_y_m[s] + 0.55 * r * math.sin(math.radians(az)), f"{util[c]:.2f}",
                ha="center", va="center", fontsize=7)
    ax.scatter(ev.users["x_m"], ev.users["y_m"], s=1, c="k", alpha=0.3)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=ax, label="PRB utilisation")
    pad = r * 1.1
    ax.set_xlim(net.site_x_m.min() - pad, net.site_x_m.max() + pad)
    ax.set_ylim(net.site_y_m.min() - pad, net.site_y_m.max() + pad)
    _finish(fig, ax, "PRB utilisation per cell", path)


def plot_day(day: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(day["hour"], day["peak_prb_utilization"], "o-", label="peak PRB utilisation")
    ax.plot(day["hour"], day["mean_prb_utilization"], "s-", label="mean PRB utilisation")
    ax.plot(day["hour"], day["demand_scale"], "--", c="grey", label="demand scale")
    ax.set_xlabel("hour of day")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Diurnal load")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_run_folder(twin: DigitalTwin, ev: Evaluation, out: Path,
                     day: pd.DataFrame | None = None) -> dict[str, str]:
    """Write the run folder and return a map of artefact name → path."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "users": out / "users.parquet", "cells": out / "cells.parquet",
        "kpis": out / "kpis.json", "serving_map": out / "serving_cell.png",
        "sinr_map": out / "sinr.png", "prb_map": out / "prb_utilization.png",
        "report": out / "report.md", "scenario": out / "scenario.json",
    }
    ev.users.to_parquet(files["users"], index=False)
    ev.cells.to_parquet(files["cells"], index=False)
    files["kpis"].write_text(json.dumps(ev.kpis, indent=2) + "\n", encoding="utf-8")
    files["scenario"].write_text(twin.scenario.model_dump_json(indent=2) + "\n",
                                 encoding="utf-8")
    plot_serving_map(twin, ev, files["serving_map"])
    plot_sinr_map(twin, ev, files["sinr_map"])
    plot_prb_map(twin, ev, files["prb_map"])
    if day is not None:
        files["day"] = out / "day.parquet"
        files["day_plot"] = out / "diurnal_load.png"
        day.to_parquet(files["day"], index=False)
        plot_day(day, files["day_plot"])
    k = ev.kpis
    cells = ev.cells.sort_values("prb_utilization", ascending=False).head(5)
    lines = [
        f"# TwinNet run — {twin.scenario.name}", "",
        twin.scenario.description.strip(), "",
        f"{twin.network.n_sites} sites, {twin.network.n_cells} cells, {twin.users.n} users, "
        f"propagation {twin.scenario.propagation.scenario}, link model {twin.scenario.link.model}, "
        f"interference {twin.scenario.link.interference}.", "",
        "## Network KPIs", "", "| KPI | value |", "|---|---|",
    ]
    for key in ("mean_throughput_mbps", "p5_throughput_mbps", "peak_prb_utilization",
                "mean_prb_utilization", "jain_fairness", "outage_ratio", "served_ratio",
                "median_sinr_db", "hottest_cell"):
        v = k[key]
        lines.append(f"| {key} | {v:.3f} |" if isinstance(v, float) else f"| {key} | {v} |")
    lines += ["", "## Most loaded cells", "", "| cell | users | PRB utilisation | offered load |"
              " served Mbps | unserved Mbps |", "|---|---|---|---|---|---|"]
    for _, r in cells.iterrows():
        lines.append(f"| {r['name']} | {r['users']} | {r['prb_utilization']:.2f} | "
                     f"{r['offered_load']:.2f} | {r['throughput_mbps']:.1f} | "
                     f"{r['unserved_mbps']:.1f} |")
    lines += ["", "![PRB utilisation](prb_utilization.png)", "", "![SINR](sinr.png)", "",
              "![Serving cell](serving_cell.png)", ""]
    if day is not None:
        lines += ["![Diurnal load](diurnal_load.png)", ""]
    files["report"].write_text("\n".join(lines), encoding="utf-8")
    return {name: str(p) for name, p in files.items()}


def plot_calibration_cdf(result: dict[str, Any], path: Path,
                         reference: dict[str, Any] | None = None) -> None:
    """CDFs of coupling loss, wideband SIR and geometry with the companies' spread (if any)."""
    samples = result["_samples"]
    metrics = [("coupling_loss_db", "coupling loss [dB]"),
               ("wideband_sir_db", "wideband SIR [dB]"),
               ("geometry_sinr_db", "geometry SINR [dB]")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (key, label) in zip(axes, metrics, strict=True):
        x = np.sort(samples[key])
        ax.plot(x, np.arange(1, x.size + 1) / x.size, lw=2, label="TwinNet")
        if reference and key in reference:
            ref = reference[key]
            ps = sorted(int(p[1:]) for p in ref["min"])
            lo = [ref["min"][f"p{p}"] for p in ps]
            hi = [ref["max"][f"p{p}"] for p in ps]
            yy = np.array(ps) / 100.0
            ax.fill_betweenx(yy, lo, hi, color="orange", alpha=0.35,
                             label="3GPP companies (min–max)")
            if "mean" in ref:
                ax.plot([ref["mean"][f"p{p}"] for p in ps], yy, "k--", lw=1,
                        label="3GPP companies (mean)")
        ax.set_xlabel(label)
        ax.set_ylabel("CDF")
        ax.grid(alpha=0.3)
        ax.legend(loc="center right", fontsize=8)
    names = {"uma": "UMa", "umi": "UMi-Street Canyon"}
    label = names.get(result["scenario"], result["scenario"])
    fig.suptitle(f"TR 38.901 calibration — {label} "
                 f"{result['fc_ghz']:g} GHz ({result['n_ues']} UEs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------- the network in time
def _radar_readings(events: pd.DataFrame) -> pd.Series:
    """Rows that are a radar's per-interval I/N reading (many, one per reporting interval)
    rather than an event's start or end."""
    return events["message"].astype(str).str.startswith("radar I/N")


def plot_kpis_over_time(result: Any, path: Path, title: str = "",
                        events: pd.DataFrame | None = None) -> None:
    """Network KPIs per reporting interval: PRB utilisation (peak and mean over cells), carried
    traffic, and mobility events (handovers, ping-pongs, radio link failures); the truth
    events' starts and ends marked as vertical lines."""
    net = result.network
    t0 = pd.to_datetime(net["ts"]).iloc[0]
    start = (pd.to_datetime(net["ts"]) - t0).dt.total_seconds().to_numpy() / 3600
    span = float(start[1] - start[0]) if len(start) > 1 else result.simulated_s / 3600
    t = np.append(start, start[-1] + span)  # interval edges: counters are held over each

    def held(col: str) -> Any:
        v = net[col].to_numpy(dtype=float)
        return np.append(v, v[-1])

    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    ax = axes[0]
    ax.step(t, held("peak_prb_util_dl"), where="post", label="peak cell")
    ax.step(t, held("mean_prb_util_dl"), where="post", label="mean over cells")
    ax.set_ylabel("DL PRB utilisation")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right")
    axes[1].step(t, held("thr_dl_mbps"), where="post", color="tab:green")
    axes[1].set_ylabel("carried DL traffic [Mbit/s]")
    ax = axes[2]
    for col, lab in (("ho_attempts", "handovers"), ("ping_pong", "ping-pongs"),
                     ("rlf", "radio link failures"), ("drops", "drops")):
        ax.step(t, held(col), where="post", label=lab)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylabel("events per interval")
    ax.set_xlabel("time [h]")
    ax.legend(loc="center right", fontsize=8)
    if events is not None and len(events):
        truth = events[(events["kind"] == "truth") & ~_radar_readings(events)]
        for _, r in truth.iterrows():
            x = (pd.Timestamp(r["ts"]) - t0).total_seconds() / 3600
            for a in axes:
                a.axvline(x, color="0.4", ls="--", lw=0.8)
            axes[0].annotate(str(r["message"]), (x, 1.0), rotation=90, fontsize=7,
                             va="top", ha="right", color="0.3")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_serving_snapshot(twin: DigitalTwin, snap: dict[str, Any], path: Path) -> None:
    """Users coloured by serving cell at one instant (grey: out of service); inactive cells
    drawn as hollow markers."""
    fig, ax = plt.subplots(figsize=(7, 6))
    pres = snap["present"]
    srv = snap["serving"]
    ok = pres & (srv >= 0)
    cmap = plt.get_cmap("tab20")
    ax.scatter(snap["x_m"][ok], snap["y_m"][ok], s=3, c=cmap((srv[ok] % 20) / 19.0))
    out = pres & (srv < 0)
    if out.any():
        ax.scatter(snap["x_m"][out], snap["y_m"][out], s=6, c="0.5", marker="x",
                   label="out of service")
        ax.legend(loc="upper right")
    _sites(ax, twin)
    _finish(fig, ax, f"Serving cell per user, {snap['label']}", path)


def write_simulation_folder(sim: Any, result: Any, out: Path, scenario: str,
                            events: pd.DataFrame | None = None) -> dict[str, Any]:
    """Write a simulation's time series and pictures: ``cells.parquet`` (counters per cell and
    interval), ``groups.parquet``, ``network.parquet``, ``kpis_over_time.png`` (events marked),
    serving-map snapshots, ``events.parquet`` (alarms and truth, when given), ``summary.json``
    and ``report.md``; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    extra = []
    if events is not None:
        ev = events.copy()
        ev["payload"] = ev["payload"].map(lambda p: None if p is None else json.dumps(
            p, default=str))
        ev.to_parquet(out / "events.parquet")
        extra.append("events.parquet")
    result.cells.to_parquet(out / "cells.parquet")
    result.groups.to_parquet(out / "groups.parquet")
    result.network.to_parquet(out / "network.parquet")
    plot_kpis_over_time(result, out / "kpis_over_time.png", f"{scenario}: the network in time",
                        events=events)
    maps = []
    for i, snap in enumerate(result.snapshots):
        name = f"serving_t{i}.png"
        plot_serving_snapshot(sim.twin, snap, out / name)
        maps.append(name)
    summary = {"scenario": scenario, **result.to_dict(), "files": sorted(
        ["cells.parquet", "groups.parquet", "network.parquet", "kpis_over_time.png", *maps,
         *extra])}
    if events is not None:
        summary["events"] = [
            {"ts": str(r["ts"]), "kind": r["kind"],
             "cell_id": None if pd.isna(r["cell_id"]) else str(r["cell_id"]),
             "message": r["message"]}
            for r in events[~_radar_readings(events)].to_dict("records")]
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    ho = summary["handovers"]
    lines = [f"# {scenario}: {result.simulated_s / 3600:g} h at "
             f"{sim.config.step_s:g} s steps", "",
             f"{result.steps} steps in {result.wall_s:.1f} s ({result.speedup():.0f}× real "
             "time).", "", "## Handovers", "", "| counter | value |", "|---|---|"]
    for k, v in ho.items():
        lines.append(f"| {k} | {v if not isinstance(v, float) else round(v, 4)} |")
    lines += ["", "## Per group (mean over intervals)", "",
              "| group | users (mean present) | DL throughput per present user [Mbit/s] | "
              "out of service | late packets |", "|---|---|---|---|---|"]
    for name, g in result.groups.groupby("group", sort=False):
        late = g["packets_late"].sum() / g["packets"].sum() if g["packets"].sum() else None
        w = g["users"].to_numpy(dtype=float)  # weighted by the users present (crowds come, go)
        tot = w.sum()
        thr = float((g["thr_per_user_mbps"] * w).sum() / tot) if tot > 0 else 0.0
        oos = float((g["out_of_service"] * w).sum() / tot) if tot > 0 else 0.0
        lines.append(f"| {name} | {g['users'].mean():.0f} | {thr:.3f} | {100 * oos:.2f} % | "
                     f"{'—' if late is None else f'{100 * late:.2f} %'} |")
    lines += ["", "![KPIs over time](kpis_over_time.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    return summary
