"""Throughput of the TwinNet digital twin: user-cell links evaluated per second.

A *link* is one (user, cell) pair whose coupling gain the twin evaluates: path loss with LOS
state, spatially consistent shadow fading, O2I loss and the 38.901 sector antenna, followed by
serving-cell selection, the load-coupled SINR fixed point, throughput and KPIs.

Cases (each runs in a fresh child process so that its peak RSS is its own):

* ``dense-1k`` / ``dense-10k`` / ``dense-100k``: 19 sites × 3 sectors = 57 cells, every user
  evaluated against every cell (``max_sites_per_user=19``, no pruning); links = users × 57.
* ``city``: 1027 sites × 3 = 3081 cells, 1,000,000 users, each pruned to its 8 nearest sites
  (24 cells); links = users × 24. Memory stays linear in users.
* ``naive``: a per-link pure-Python reference (``math`` only: distance, LOS draw, UMa path loss,
  O2I loss, shadowing, antenna pattern, then full-buffer SINR per user) on 200 users × 57 cells,
  extrapolated to links/s. The speed-up column compares it with the twin's 1-thread snapshot
  (which additionally solves the load fixed point, so the ratio is conservative).

Timings, each the median of a few repetitions after one warm-up call (Numba JIT excluded):

* ``build``: ``DigitalTwin(...)`` (drop users, generate shadowing fields) plus the one-time
  nearest-K site search (``candidate_sites``); users are static, so it is not part of a snapshot.
* ``gain``: the link-gain kernel alone (``_gain_cache.clear(); link_gains()``).
* ``load``: ``evaluate(uplink=False)`` with cached gains (serving cell, SINR/load fixed point,
  throughput, tables, KPIs).
* ``snapshot``: ``evaluate(uplink=False)`` from a cleared gain cache (gain + load).

Each is measured with Numba limited to 1 thread ("per core") and with all threads. Targets:
≥ 20 M links/s per core for the dense snapshots; city snapshot < 5 s (all threads). PASS/FAIL
is printed but never fails the script.

Run::

    python benchmarks/twin_throughput.py            # all cases, ~2-3 min on 2 cores
    python benchmarks/twin_throughput.py --quick    # dense 1k and 10k + naive only
    python benchmarks/twin_throughput.py --no-city --json /tmp/out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "twin_throughput.json"
RESULT_MARKER = "@@TWIN_THROUGHPUT_RESULT@@ "

#: Offered traffic per cell [Mbps] (spread evenly over users): a 20 MHz / 30 kHz carrier carries
#: roughly 25 Mbps at these SINRs, so PRB utilisation stays moderate (~0.4) whatever the user
#: count.
CELL_DEMAND_MBPS = 9.0
DENSE_SITES = 19  # 57 cells
CITY_SITES = 1027  # hexagon with 18 rings → 3081 cells
CITY_USERS = 1_000_000
CITY_K_SITES = 8  # 24 cells per user
NAIVE_USERS = 200

TARGET_DENSE_LINKS_PER_S_PER_CORE = 20e6
TARGET_CITY_SNAPSHOT_S = 5.0


# --------------------------------------------------------------------------- helpers
def _scenario_dict(n_sites: int, n_users: int, seed: int = 1) -> dict[str, Any]:
    per_user = CELL_DEMAND_MBPS * 3 * n_sites / n_users
    return {
        "name": f"bench-{n_sites}x{n_users}",
        "seed": seed,
        "layout": {"type": "hex", "n_sites": n_sites, "isd_m": 500, "bs_height_m": 25},
        "users": {"count": n_users, "distribution": "uniform"},
        "propagation": {"scenario": "UMa"},
        "link": {"interference": "load"},
        "demand": {"per_user_mbps": per_user, "diurnal": "flat"},
    }


def _rss_now_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return _rss_peak_bytes()


def _rss_peak_bytes() -> int:
    """Peak RSS of the whole process lifetime (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux ``clear_refs`` 5); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _hwm_bytes() -> int:
    """RSS high-water mark since the last :func:`_reset_peak_rss` (VmHWM), else ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _rss_peak_bytes()


def _median_time(fn: Callable[[], object], reps: int,
                 before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(reps):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --------------------------------------------------------------------------- twin cases
def run_twin_case(name: str, n_sites: int, n_users: int, k_sites: int, reps: int
                  ) -> dict[str, Any]:
    """Build and time one twin (runs inside a child process)."""
    import numba

    from twinnet.scenario import Scenario
    from twinnet.twin import DigitalTwin

    all_threads = int(numba.get_num_threads())  # NUMBA_NUM_THREADS, by default the CPU count
    # JIT warm-up on a tiny twin (loads Numba's on-disk cache or compiles) so that the RSS
    # baseline below already includes the compiled kernels.
    tiny = DigitalTwin(Scenario.from_dict(_scenario_dict(7, 64)), max_sites_per_user=7)
    tiny.evaluate(uplink=False)
    del tiny
    rss_base = _rss_now_bytes()
    hwm_ok = _reset_peak_rss()

    sc = Scenario.from_dict(_scenario_dict(n_sites, n_users))
    t0 = time.perf_counter()
    twin = DigitalTwin(sc, max_sites_per_user=k_sites)
    t1 = time.perf_counter()
    twin.candidate_sites()
    t2 = time.perf_counter()
    build_peak = _hwm_bytes()
    rss_built = _rss_now_bytes()
    _reset_peak_rss()
    # warm-up: faults pages in, fills the gain cache; keep only small results so that old
    # arrays do not inflate the snapshot-phase peak RSS
    kpis = twin.evaluate(uplink=False).kpis
    gain, slot = twin.link_gains()
    links = int(gain.shape[0]) * int(gain.shape[1])
    cells_per_user = int(gain.shape[1])
    gain_nbytes, slot_nbytes = int(gain.nbytes), int(slot.nbytes)
    del gain, slot

    def clear() -> None:
        twin._gain_cache.clear()

    def snapshot() -> None:
        twin.evaluate(uplink=False)

    # Thread counts are interleaved rep by rep so that background load on the machine affects
    # the 1-thread and all-thread numbers alike.
    thread_counts = sorted({1, all_threads})
    samples: dict[int, dict[str, list[float]]] = {
        t: {"gain": [], "load": [], "snapshot": []} for t in thread_counts
    }
    for _ in range(reps):
        for threads in thread_counts:
            numba.set_num_threads(threads)
            smp = samples[threads]
            smp["gain"].append(_median_time(twin.link_gains, 1, before=clear))
            smp["load"].append(_median_time(snapshot, 1))  # gains cached by link_gains()
            smp["snapshot"].append(_median_time(snapshot, 1, before=clear))
    numba.set_num_threads(all_threads)
    timings: dict[str, dict[str, float]] = {}
    for threads, smp in samples.items():
        gain_s, load_s, snap_s = (statistics.median(smp[k]) for k in ("gain", "load", "snapshot"))
        timings[str(threads)] = {
            "gain_s": gain_s, "load_s": load_s, "snapshot_s": snap_s,
            "snapshot_min_s": min(smp["snapshot"]),
            "gain_links_per_s": links / gain_s, "snapshot_links_per_s": links / snap_s,
        }
    snap_peak = _hwm_bytes()
    rss_peak = _rss_peak_bytes()
    return {
        "case": name, "kind": "twin", "n_sites": n_sites, "n_cells": twin.network.n_cells,
        "n_users": n_users, "cells_per_user": cells_per_user, "links": links,
        "pruned": bool(twin.candidate_sites().shape[0] > 1),
        "max_sites_per_user": k_sites, "reps": reps, "threads_all": all_threads,
        "threading_layer": numba.threading_layer(),
        "construct_s": t1 - t0, "knn_s": t2 - t1, "build_s": t2 - t0,
        "timings": timings,
        "gain_matrix_bytes": gain_nbytes, "slot_matrix_bytes": slot_nbytes,
        "gain_bytes_per_user": gain_nbytes / n_users,
        "slot_bytes_per_user": slot_nbytes / n_users,
        # RSS: baseline after imports + JIT; "built" = resident after construction; peaks are
        # high-water marks of the construction and snapshot phases (VmHWM, reset per phase);
        # rss_peak_bytes is ru_maxrss over the child's whole life (includes imports/JIT).
        "rss_phase_peaks_exact": hwm_ok,
        "rss_baseline_bytes": rss_base, "rss_built_bytes": rss_built,
        "rss_build_peak_bytes": build_peak, "rss_snapshot_peak_bytes": snap_peak,
        "rss_peak_bytes": rss_peak,
        "rss_state_bytes_per_user": (rss_built - rss_base) / n_users,
        "rss_snapshot_delta_bytes": snap_peak - rss_base,
        "rss_snapshot_delta_bytes_per_user": (snap_peak - rss_base) / n_users,
        "kpis": {k: kpis[k] for k in ("mean_prb_utilization", "peak_prb_utilization",
                                      "outage_ratio", "median_sinr_db", "load_iterations",
                                      "load_converged")},
    }


# --------------------------------------------------------------------------- naive reference
def _naive_snapshot(ue: list[tuple[float, float, float, bool, float, bool]],
                    cells: list[tuple[int, float, float, float, float, float, float]],
                    fc_ghz: float, noise_mw: float, rng: random.Random
                    ) -> tuple[list[float], list[float]]:
    """Per-link pure-Python link budget and full-buffer SINR; returns per-user SINR [dB] and
    serving coupling loss [dB]. ``ue``: (x, y, h, indoor, d2d_in, high_loss); ``cells``:
    (site, x, y, h, bearing_deg, etilt_deg, tx_dbm). UMa, h_E = 1 m; the LOS draw and the
    shadow fading are i.i.d. per (user, site), shared by the site's co-located sectors."""
    lg_f = math.log10(fc_ghz)
    sinr_db: list[float] = []
    cl_db: list[float] = []
    for xu, yu, hu, indoor, d_in, high in ue:
        rx: list[float] = []
        best_cl = math.inf
        z_o2i = rng.gauss(0.0, 1.0)  # random part of the building's penetration loss
        draws: dict[int, tuple[float, float]] = {}  # site -> (LOS uniform, SF normal)
        for site, xs, ys, hs, bearing, etilt, tx_dbm in cells:
            if site not in draws:
                draws[site] = (rng.random(), rng.gauss(0.0, 1.0))
            u_los, z_sf = draws[site]
            dx, dy = xu - xs, yu - ys
            d2d = max(math.hypot(dx, dy), 1.0)
            dh = hu - hs
            d3d = math.sqrt(d2d * d2d + dh * dh)
            d_out = max(d2d - d_in, 0.0) if indoor else d2d
            # LOS probability and draw (Table 7.4.2-1, UMa)
            if d_out <= 18.0:
                p_los = 1.0
            else:
                c = ((hu - 13.0) / 10.0) ** 1.5 if hu > 13.0 else 0.0
                p_los = (18.0 / d_out + math.exp(-d_out / 63.0) * (1.0 - 18.0 / d_out)) * (
                    1.0 + c * 1.25 * (d_out / 100.0) ** 3 * math.exp(-d_out / 150.0))
            los = u_los < p_los
            # path loss (Table 7.4.1-1, UMa)
            dbp = 4.0 * (hs - 1.0) * (hu - 1.0) * fc_ghz * 1e9 / 3.0e8
            lg_d = math.log10(d3d)
            if d2d <= dbp:
                pl = 28.0 + 22.0 * lg_d + 20.0 * lg_f
            else:
                pl = (28.0 + 40.0 * lg_d + 20.0 * lg_f
                      - 9.0 * math.log10(dbp * dbp + (hs - hu) ** 2))
            if not los:
                pl = max(pl, 13.54 + 39.08 * lg_d + 20.0 * lg_f - 0.6 * (hu - 1.5))
            # O2I penetration (Table 7.4.3-2) and shadow fading
            if indoor:
                l_glass, l_irr, l_con = 2.0 + 0.2 * fc_ghz, 23.0 + 0.3 * fc_ghz, 5.0 + 4.0 * fc_ghz
                if high:
                    tw = 5.0 - 10.0 * math.log10(0.7 * 10 ** (-l_irr / 10)
                                                 + 0.3 * 10 ** (-l_con / 10))
                    sig_p = 6.5
                else:
                    tw = 5.0 - 10.0 * math.log10(0.3 * 10 ** (-l_glass / 10)
                                                 + 0.7 * 10 ** (-l_con / 10))
                    sig_p = 4.4
                pl += tw + 0.5 * d_in + sig_p * z_o2i + 7.0 * z_sf
            else:
                pl += (4.0 if los else 6.0) * z_sf
            # antenna (Table 7.3-1 element + 10-element vertical array, no mechanical tilt)
            theta = math.degrees(math.atan2(d2d, dh))
            phi = (math.degrees(math.atan2(dy, dx)) - bearing + 180.0) % 360.0 - 180.0
            a_v = -min(12.0 * ((theta - 90.0) / 65.0) ** 2, 30.0)
            a_h = -min(12.0 * (phi / 65.0) ** 2, 30.0)
            half = math.pi * 0.5 * (math.cos(math.radians(theta))
                                    - math.cos(math.radians(90.0 + etilt)))
            den = 10 * math.sin(half) ** 2
            af = 10.0 if den < 1e-12 else math.sin(10 * half) ** 2 / den
            g_ant = 8.0 - min(-(a_v + a_h), 30.0) + 10.0 * math.log10(max(af, 1e-30))
            cl = pl - g_ant
            best_cl = min(best_cl, cl)
            rx.append(10.0 ** ((tx_dbm - cl) / 10.0))
        total = sum(rx)
        s = max(rx)
        sinr_db.append(10.0 * math.log10(s / (total - s + noise_mw)))
        cl_db.append(best_cl)
    return sinr_db, cl_db


def run_naive_case(n_users: int, reps: int) -> dict[str, Any]:
    """Time the pure-Python reference on the geometry of a real twin (child process)."""
    import numpy as np

    from twinnet.scenario import Scenario
    from twinnet.twin import DigitalTwin

    twin = DigitalTwin(Scenario.from_dict(_scenario_dict(DENSE_SITES, n_users)),
                       max_sites_per_user=DENSE_SITES)
    u, net = twin.users, twin.network
    ue = [(float(u.x_m[i]), float(u.y_m[i]), float(u.height_m[i]), bool(u.indoor[i]),
           float(u.d2d_in_m[i]), bool(u.o2i_high[i])) for i in range(u.n)]
    cells = [(int(net.cell_site[c]),
              float(net.site_x_m[net.cell_site[c]]), float(net.site_y_m[net.cell_site[c]]),
              float(net.site_height_m[net.cell_site[c]]), float(net.cell_bearing_deg[c]),
              float(net.cell_elec_tilt_deg[c]), float(net.cell_tx_power_dbm[c]))
             for c in range(net.n_cells)]
    fc = float(net.carriers[0].fc_ghz)
    noise_mw = float(10.0 ** (twin.noise_per_carrier_dbm()[0] / 10.0))
    rng = random.Random(1)
    out: tuple[list[float], list[float]] = ([], [])

    def go() -> None:
        nonlocal out
        out = _naive_snapshot(ue, cells, fc, noise_mw, rng)

    t = _median_time(go, reps)
    links = u.n * net.n_cells
    twin_cl = twin.evaluate(uplink=False).users["coupling_loss_db"].to_numpy()
    return {
        "case": "naive", "kind": "naive", "n_cells": net.n_cells, "n_users": u.n,
        "cells_per_user": net.n_cells, "links": links, "reps": reps,
        "snapshot_s": t, "links_per_s": links / t,
        "sanity": {
            "naive_median_serving_coupling_loss_db": float(np.median(out[1])),
            "twin_median_serving_coupling_loss_db": float(np.median(twin_cl)),
            "naive_median_full_buffer_sinr_db": float(np.median(out[0])),
        },
    }


# --------------------------------------------------------------------------- orchestration
def case_specs(quick: bool, city: bool) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = [{"case": "naive", "n_users": NAIVE_USERS, "reps": 3}]
    dense = [(1_000, 15), (10_000, 7)] + ([] if quick else [(100_000, 5)])
    for n, reps in dense:
        specs.append({"case": f"dense-{n // 1000}k", "n_sites": DENSE_SITES, "n_users": n,
                      "k_sites": DENSE_SITES, "reps": reps})
    if city and not quick:
        specs.append({"case": "city", "n_sites": CITY_SITES, "n_users": CITY_USERS,
                      "k_sites": CITY_K_SITES, "reps": 3})
    return specs


def _child_main(spec: dict[str, Any]) -> None:
    if spec["case"] == "naive":
        res = run_naive_case(spec["n_users"], spec["reps"])
    else:
        res = run_twin_case(spec["case"], spec["n_sites"], spec["n_users"], spec["k_sites"],
                            spec["reps"])
    print(RESULT_MARKER + json.dumps(res), flush=True)


def run_in_child(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--_case", json.dumps(spec)],
        capture_output=True, text=True, check=False,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER):])
            return result
    return {"case": spec["case"], "kind": "error", "returncode": proc.returncode,
            "stderr_tail": proc.stderr[-2000:]}


def add_targets(results: list[dict[str, Any]]) -> None:
    naive = next((r for r in results if r["kind"] == "naive"), None)
    for r in results:
        if r["kind"] != "twin":
            continue
        per_core = r["timings"]["1"]["snapshot_links_per_s"]
        if naive is not None:
            r["speedup_vs_naive_1thread"] = per_core / naive["links_per_s"]
        if r["case"] == "city":
            snap = r["timings"][str(r["threads_all"])]["snapshot_s"]
            r["target"] = f"snapshot < {TARGET_CITY_SNAPSHOT_S:g} s"
            r["target_pass"] = snap < TARGET_CITY_SNAPSHOT_S
        else:
            r["target"] = f"≥ {TARGET_DENSE_LINKS_PER_S_PER_CORE / 1e6:g} M links/s/core"
            r["target_pass"] = per_core >= TARGET_DENSE_LINKS_PER_S_PER_CORE


def print_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    n_all = max((r.get("threads_all", 1) for r in results), default=1)
    table = Table(
        title="TwinNet twin throughput: links = users × cells evaluated per snapshot",
        caption=(f"times in s (median); 1T = 1 Numba thread, NT = {n_all} threads; Ml/s = "
                 "million links/s of the full snapshot (gain + SINR/load); × naive = Ml/s 1T / "
                 "naive; iters = load fixed-point iterations (! = not converged); targets: dense ≥ "
                 f"{TARGET_DENSE_LINKS_PER_S_PER_CORE / 1e6:g} Ml/s at 1T, city snap NT < "
                 f"{TARGET_CITY_SNAPSHOT_S:g} s; ΔRSS = peak RSS during the snapshots − RSS "
                 "after imports/JIT; RSS = ru_maxrss of the case's process"),
    )
    cols = ["case", "cells", "users", "cells/UE", "links", "build", "gain 1T", "load 1T",
            "iters", "snap 1T", "Ml/s 1T", "snap NT", "Ml/s NT", "× naive", "gain B/UE", "ΔRSS MiB",
            "RSS MiB", "target"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("case", "target") else "right")
    for r in results:
        if r["kind"] == "error":
            table.add_row(r["case"], *["—"] * (len(cols) - 2), "[red]ERROR[/red]")
            continue
        if r["kind"] == "naive":
            table.add_row(r["case"], str(r["n_cells"]), f"{r['n_users']:,}",
                          str(r["cells_per_user"]), f"{r['links']:,}", "—", "—", "—", "—",
                          f"{r['snapshot_s']:.4f}", f"{r['links_per_s'] / 1e6:.3f}", "—", "—",
                          "1", "—", "—", "—", "ref")
            continue
        t1 = r["timings"]["1"]
        tn = r["timings"][str(r["threads_all"])]
        ok = "[green]PASS[/green]" if r["target_pass"] else "[red]FAIL[/red]"
        speed = r.get("speedup_vs_naive_1thread")
        table.add_row(
            r["case"], f"{r['n_cells']:,}", f"{r['n_users']:,}", str(r["cells_per_user"]),
            f"{r['links']:,}", f"{r['build_s']:.2f}", f"{t1['gain_s']:.4f}",
            f"{t1['load_s']:.4f}",
            f"{r['kpis']['load_iterations']}" + ("" if r["kpis"]["load_converged"] else "!"),
            f"{t1['snapshot_s']:.4f}",
            f"{t1['snapshot_links_per_s'] / 1e6:.2f}", f"{tn['snapshot_s']:.4f}",
            f"{tn['snapshot_links_per_s'] / 1e6:.2f}",
            "—" if speed is None else f"{speed:,.0f}",
            f"{r['gain_bytes_per_user']:.0f}", f"{r['rss_snapshot_delta_bytes'] / 2**20:,.0f}",
            f"{r['rss_peak_bytes'] / 2**20:,.0f}", ok,
        )
    console.print(table)
    for r in results:
        if r["kind"] == "error":
            console.print(f"[red]{r['case']} failed (rc={r['returncode']}):[/red]\n"
                          f"{r['stderr_tail']}")
        elif r["kind"] == "twin":
            tn = r["timings"][str(r["threads_all"])]
            k = r["kpis"]
            console.print(
                f"{r['case']}: construct {r['construct_s']:.2f} s, kNN {r['knn_s']:.2f} s; "
                f"NT gain {tn['gain_s']:.3f} s ({tn['gain_links_per_s'] / 1e6:.1f} M links/s), "
                f"NT load {tn['load_s']:.3f} s; {k['load_iterations']} load iterations, "
                f"mean PRB util {k['mean_prb_utilization']:.2f}, "
                f"outage {k['outage_ratio']:.4f}; build peak "
                f"{(r['rss_build_peak_bytes'] - r['rss_baseline_bytes']) / 2**20:,.0f} MiB, "
                f"resident state {r['rss_state_bytes_per_user']:,.0f} B/user")
        elif r["kind"] == "naive":
            s = r["sanity"]
            console.print(
                f"naive: {r['links_per_s'] / 1e3:.0f} k links/s; median serving coupling loss "
                f"naive {s['naive_median_serving_coupling_loss_db']:.1f} dB vs twin "
                f"{s['twin_median_serving_coupling_loss_db']:.1f} dB (same users)")


def environment() -> dict[str, Any]:
    import numba
    import numpy

    commit = None
    with contextlib.suppress(OSError):
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=False, cwd=Path(__file__).resolve().parent
                                ).stdout.strip() or None
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(),
        "processor": platform.processor(), "cpu_count": os.cpu_count(),
        "numba": numba.__version__, "numpy": numpy.__version__,
        "numba_threads": int(numba.get_num_threads()), "git_commit": commit,
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="dense 1k and 10k + naive only")
    ap.add_argument("--no-city", action="store_true", help="skip the city-scale case")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    ap.add_argument("--_case", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._case:
        _child_main(json.loads(args._case))
        return 0

    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    results = []
    for spec in case_specs(args.quick, not args.no_city):
        print(f"running {spec['case']} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results.append(run_in_child(spec))
        print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    add_targets(results)
    print_table(results)
    out = {
        "benchmark": "twin_throughput",
        "environment": {**environment(), "load_average_before": load_before},
        "targets": {"dense_links_per_s_per_core": TARGET_DENSE_LINKS_PER_S_PER_CORE,
                    "city_snapshot_s": TARGET_CITY_SNAPSHOT_S},
        "settings": {"quick": args.quick, "city": not args.no_city and not args.quick,
                     "cell_demand_mbps": CELL_DEMAND_MBPS},
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
