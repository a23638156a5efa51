"""Operations use cases on the living network: no-op, rule, solver only and LLM-assisted.

Runs each use-case scenario under each policy on the same seeds (the scenario's seed and its
truth's seed both set to each seed: other users, other hidden tilt / EIRP errors, other loss
areas) and scores it on the emulated network, the truth. For ``selfheal``:

* detected — injected cell faults found (of all), and the mean detection delay;
* diagnosis — share of the detected faults whose root cause is named right;
* recovered — mean ``recovered_fraction`` of the outages (users the fault took out of service
  that have service again, measured on forks of the emulator);
* false alarms per cell-day; out-of-service user-hours over the monitored intervals;
  directives issued.

For ``night_energy`` (one day): energy against a fork of the emulator that keeps every cell on
(EARTH model), the share of offered traffic served and the mean p5 throughput of both, the
intervals where a QoS limit broke, cell-hours asleep and directives.

For ``milan_day`` (one day of real Milan demand; policies also ``reactive``: the solver on the
traffic just measured, where ``solver`` and ``llm`` act on the L2 forecast): congested
cell-minutes (PRB utilisation ≥ 0.9), the mean and worst p5 UE throughput, the served share,
directives, plans made before any cell was congested, plans undone, small-cell hours.

For ``stadium`` (a crowd event with drone base stations; policies also ``macro``: the macro
layer alone): blocked user-minutes, the intervals' peak PRB utilisation (worst and mean), the
mean p5 UE throughput, the served share, the drones' energy, drone-minutes, directives.

For ``radar`` (an hour of a ship's radar sharing the band; rule = a static exclusion zone):
the share of the radar's I/N samples above the protection criterion, the throughput lost
against an unprotected fork, directives, the learnt rotation's error.

For ``xr_factory`` (5 minutes of a factory hall; rule = static slices): the XR users
satisfied, sensor reports past their deadline, the throughput lost by the users outside slices
against an unsliced fork, directives. For ``iov`` (5 minutes of a motorway): the V2X messages
within their budget, handover failures, and the same cost.

Prints a table per use case and writes JSON (``benchmarks/results/usecases.json``).

Run::

    python benchmarks/usecases.py                        # ~50 min on 2 cores (2 seeds)
    python benchmarks/usecases.py --seeds 11 --policies rule,solver --usecases selfheal
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from twinnet.loop.energy import run_energy
from twinnet.loop.proactive import PROACTIVE_POLICIES, run_proactive
from twinnet.loop.radar import RADAR_POLICIES, run_radar
from twinnet.loop.selfheal import POLICIES, run_selfheal
from twinnet.loop.slicing import SLICING_POLICIES, run_slicing
from twinnet.loop.stadium import STADIUM_POLICIES, run_stadium
from twinnet.scenario import load_scenario
from twinnet.store import ContextStore

RESULTS = Path(__file__).parent / "results"
USECASES = ("selfheal", "night_energy", "milan_day", "stadium", "radar", "xr_factory", "iov")
ALL_POLICIES = tuple(dict.fromkeys(PROACTIVE_POLICIES + STADIUM_POLICIES + RADAR_POLICIES
                                   + SLICING_POLICIES))


def _backend(kind: str) -> Any:
    if kind == "none":
        return None
    from twinnet.llm.backends import make_backend

    return make_backend("embedded")


def selfheal_row(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One policy's scores over its runs (one per seed)."""
    ev = [e for r in reports for e in r["events"]]
    found = [e for e in ev if e["detected_s"] is not None]
    outages = [e["recovered_fraction"] for e in ev
               if e["type"] == "cell_outage" and e["recovered_fraction"] is not None]
    days = sum(r["cell_days_monitored"] for r in reports)
    return {
        "faults": len(ev), "detected": len(found),
        "mean_delay_min": float(np.mean([e["delay_s"] for e in found]) / 60) if found else None,
        "diagnosis_accuracy": float(np.mean([bool(e["diagnosis_correct"]) for e in found]))
        if found else None,
        "recovered_fraction": float(np.mean(outages)) if outages else None,
        "false_alarms_per_cell_day": sum(r["false_alarms"] for r in reports) / days
        if days else None,
        "out_of_service_user_hours": float(np.mean([r["out_of_service_user_hours"]
                                                    for r in reports])),
        "directives": float(np.mean([len(r["plan"]) for r in reports])),
        "llm_explanations": sum(e.get("explained_by") == "llm" for e in found),
        "wall_s": float(np.mean([r["timings_s"]["total"] for r in reports])),
    }


def energy_row(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One policy's energy-saving scores over its runs (one per seed)."""
    u = [r["usecase"] for r in reports]
    e, e0 = sum(x["energy_kwh"] for x in u), sum(x["energy_kwh_reference"] for x in u)
    return {
        "energy_kwh": e / len(u), "energy_kwh_reference": e0 / len(u),
        "energy_saved_fraction": (e0 - e) / e0 if e0 else 0.0,
        "served_ratio": float(np.mean([x["served_ratio"] for x in u])),
        "served_ratio_reference": float(np.mean([x["served_ratio_reference"] for x in u])),
        "mean_p5_throughput_mbps": float(np.mean([x["mean_p5_throughput_mbps"] for x in u])),
        "mean_p5_throughput_mbps_reference": float(np.mean(
            [x["mean_p5_throughput_mbps_reference"] for x in u])),
        "qos_violations": sum(x["qos_violations"] for x in u),
        "intervals": sum(r["intervals"] for r in reports),
        "cell_hours_asleep": float(np.mean([x["cell_hours_asleep"] for x in u])),
        "directives": float(np.mean([x["directives"] for x in u])),
        "wall_s": float(np.mean([r["timings_s"]["total"] for r in reports])),
    }


def _energy_table(rows: dict[str, dict[str, Any]], n_seeds: int) -> Table:
    t = Table(title=f"night_energy — {n_seeds} seeds × 24 h, scored on the emulated network "
                    "against a fork with every cell on")
    for c in ("policy", "energy saved", "served (all on)", "p5 Mbit/s (all on)",
              "QoS breaks / intervals", "cell-h asleep", "directives"):
        t.add_column(c, justify="left" if c == "policy" else "right")
    for p, r in rows.items():
        t.add_row(p, f"{100 * r['energy_saved_fraction']:.1f} %",
                  f"{r['served_ratio']:.3f} ({r['served_ratio_reference']:.3f})",
                  f"{r['mean_p5_throughput_mbps']:.3f} "
                  f"({r['mean_p5_throughput_mbps_reference']:.3f})",
                  f"{r['qos_violations']}/{r['intervals']}", f"{r['cell_hours_asleep']:.0f}",
                  f"{r['directives']:.0f}")
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="11,12", help="comma-separated seeds")
    ap.add_argument("--policies", default=",".join(ALL_POLICIES),
                    help="comma-separated (reactive: milan_day only; macro: stadium only)")
    ap.add_argument("--llm", default="embedded", choices=["embedded", "none"],
                    help="model for the llm policy (none: the llm policy runs as solver)")
    ap.add_argument("--usecases", default=",".join(USECASES))
    ap.add_argument("--out", type=Path, default=RESULTS / "usecases.json")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",") if s]
    policies = [p for p in a.policies.split(",") if p]
    bad = [p for p in policies if p not in ALL_POLICIES]
    if bad:
        raise SystemExit(f"--policies: {bad[0]!r} is not one of {list(ALL_POLICIES)}")
    con = Console()
    cases = [c for c in a.usecases.split(",") if c]
    backend = _backend(a.llm) if "llm" in policies else None
    t0 = time.perf_counter()
    result: dict[str, Any] = {}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    if a.out.exists():  # a run of some use cases keeps the others' results
        result = {k: v for k, v in json.loads(a.out.read_text()).items() if k in USECASES}
    own = {"milan_day": PROACTIVE_POLICIES, "stadium": STADIUM_POLICIES,
           "radar": RADAR_POLICIES, "xr_factory": SLICING_POLICIES, "iov": SLICING_POLICIES}
    for case, fn in (("selfheal", _selfheal), ("night_energy", _energy),
                     ("milan_day", _proactive), ("stadium", _stadium), ("radar", _radar),
                     ("xr_factory", _slicing),
                     ("iov", lambda *a: _slicing(*a, name="iov"))):
        if case in cases:  # written after each use case: a long run keeps what it finished
            pol = [p for p in policies if p in own.get(case, POLICIES)]
            result[case] = fn(con, seeds, pol, backend)
            result["wall_s"] = time.perf_counter() - t0
            a.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    con.print(f"wrote {a.out}")


def _runs(con: Console, name: str, run: Any, seeds: list[int], policies: list[str],
          backend: Any, line: Any) -> dict[str, list[dict[str, Any]]]:
    """Every policy on every seed (the scenario's and its truth's seed both set to it)."""
    base = load_scenario(name)
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
    for seed in seeds:
        sc = base.with_updates(seed=seed, truth={**base.truth.model_dump(), "seed": seed})
        for p in policies:
            with ContextStore(":memory:") as store:
                rep = run(sc, store, p, backend if p == "llm" else None)
            rep.pop("timeline", None)
            runs[p].append(rep)
            con.print(f"seed {seed} {p}: {line(rep)}, {rep['timings_s']['total']:.0f} s")
    return runs


def _energy(con: Console, seeds: list[int], policies: list[str], backend: Any
            ) -> dict[str, Any]:
    runs = _runs(con, "night_energy", run_energy, seeds, policies, backend, lambda r: (
        f"{100 * r['usecase']['energy_saved_fraction']:.1f} % saved, "
        f"{r['usecase']['qos_violations']} QoS breaks"))
    rows = {p: energy_row(r) for p, r in runs.items()}
    con.print(_energy_table(rows, len(seeds)))
    return {"seeds": seeds, "rows": rows, "runs": runs}


def proactive_row(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One policy's proactive-capacity scores over its runs (one per seed)."""
    u = [r["usecase"] for r in reports]

    def mean(k: str) -> float:
        return float(np.mean([x[k] for x in u]))

    return {"congested_cell_minutes": mean("congested_cell_minutes"),
            "p5_throughput_mbps": mean("p5_throughput_mbps"),
            "p5_throughput_mbps_worst_interval": mean("p5_throughput_mbps_worst_interval"),
            "served_ratio": mean("served_ratio"), "directives": mean("directives"),
            "plans": mean("plans"), "plans_before_congestion": mean("plans_before_congestion"),
            "undos": mean("undos"), "small_cell_hours": mean("small_cell_hours"),
            "forecast_nrmse": (float(np.mean([x["forecast"]["mean_nrmse"] for x in u]))
                               if all(x["forecast"] and x["forecast"]["mean_nrmse"] is not None
                                      for x in u) else None),
            "wall_s": float(np.mean([r["timings_s"]["total"] for r in reports]))}


def _proactive(con: Console, seeds: list[int], policies: list[str], backend: Any
               ) -> dict[str, Any]:
    runs = _runs(con, "milan_day", run_proactive, seeds, policies, backend, lambda r: (
        f"{r['usecase']['congested_cell_minutes']:.0f} congested cell-min, p5 "
        f"{r['usecase']['p5_throughput_mbps']:.2f} Mbit/s, {r['usecase']['directives']} "
        "directives"))
    rows = {p: proactive_row(r) for p, r in runs.items()}
    t = Table(title=f"milan_day — {len(seeds)} seeds × 24 h of Milan demand, scored on the "
                    "emulated network")
    for c in ("policy", "congested cell-min", "p5 UE Mbit/s (worst)", "served",
              "directives", "plans (ahead) / undone", "small-cell h"):
        t.add_column(c, justify="left" if c == "policy" else "right")
    for p, r in rows.items():
        t.add_row(p, f"{r['congested_cell_minutes']:.0f}",
                  f"{r['p5_throughput_mbps']:.2f} ({r['p5_throughput_mbps_worst_interval']:.2f})",
                  f"{r['served_ratio']:.3f}", f"{r['directives']:.0f}",
                  f"{r['plans']:.0f} ({r['plans_before_congestion']:.0f}) / {r['undos']:.0f}",
                  f"{r['small_cell_hours']:.0f}")
    con.print(t)
    return {"seeds": seeds, "rows": rows, "runs": runs}


def stadium_row(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One policy's stadium scores over its runs (one per seed)."""
    u = [r["usecase"] for r in reports]
    keys = ("blocked_user_minutes", "peak_prb_utilization", "mean_peak_prb_utilization",
            "p5_throughput_mbps", "served_ratio", "drone_energy_kwh", "drone_minutes",
            "directives", "congested_cell_minutes")
    return {k: float(np.mean([x[k] for x in u])) for k in keys} | {
        "wall_s": float(np.mean([r["timings_s"]["total"] for r in reports]))}


def _stadium(con: Console, seeds: list[int], policies: list[str], backend: Any
             ) -> dict[str, Any]:
    runs = _runs(con, "stadium", run_stadium, seeds, policies, backend, lambda r: (
        f"{r['usecase']['blocked_user_minutes']:,.0f} blocked user-min, "
        f"{r['usecase']['drone_energy_kwh']:.2f} kWh"))
    rows = {p: stadium_row(r) for p, r in runs.items()}
    t = Table(title=f"stadium — {len(seeds)} seeds × an evening with a match, scored on the "
                    "emulated network")
    for c in ("policy", "blocked user-min", "peak PRB (mean)", "p5 UE Mbit/s", "served",
              "drone kWh", "drone-min", "directives"):
        t.add_column(c, justify="left" if c == "policy" else "right")
    for p, r in rows.items():
        t.add_row(p, f"{r['blocked_user_minutes']:,.0f}",
                  f"{r['peak_prb_utilization']:.2f} ({r['mean_peak_prb_utilization']:.2f})",
                  f"{r['p5_throughput_mbps']:.2f}", f"{r['served_ratio']:.3f}",
                  f"{r['drone_energy_kwh']:.2f}", f"{r['drone_minutes']:.0f}",
                  f"{r['directives']:.0f}")
    con.print(t)
    return {"seeds": seeds, "rows": rows, "runs": runs}


def _slicing(con: Console, seeds: list[int], policies: list[str], backend: Any,
             name: str = "xr_factory") -> dict[str, Any]:
    keys = {"xr_factory": ("xr_satisfied_ratio", "sensor_deadline_misses"),
            "iov": ("v2x_reliability", "handover_failures")}[name]
    runs = _runs(con, name, run_slicing, seeds, policies, backend, lambda r: ", ".join(
        f"{k} {r['usecase'][k]:.4g}" for k in keys))
    rows = {}
    for p, reps in runs.items():
        u = [r["usecase"] for r in reps]
        rows[p] = {k: float(np.mean([x[k] for x in u])) for k in (
            *keys, "background_throughput_mbps", "background_throughput_loss_fraction",
            "directives")}
    t = Table(title=f"{name} — {len(seeds)} seeds × 5 minutes, scored on the emulated network")
    for c in ("policy", *keys, "others' Mbit/s (lost)", "directives"):
        t.add_column(c, justify="left" if c == "policy" else "right")
    for p, r in rows.items():
        t.add_row(p, *(f"{r[k]:.4g}" for k in keys),
                  f"{r['background_throughput_mbps']:.0f} "
                  f"({100 * r['background_throughput_loss_fraction']:.1f} %)",
                  f"{r['directives']:.0f}")
    con.print(t)
    return {"seeds": seeds, "rows": rows, "runs": runs}


def _radar(con: Console, seeds: list[int], policies: list[str], backend: Any
           ) -> dict[str, Any]:
    runs = _runs(con, "radar", run_radar, seeds, policies, backend, lambda r: (
        f"{100 * r['usecase']['protection_violation_fraction']:.3f} % violations, "
        f"{100 * r['usecase']['throughput_loss_fraction']:.2f} % throughput lost"))
    rows = {}
    for p, reps in runs.items():
        u = [r["usecase"] for r in reps]
        rows[p] = {k: float(np.mean([x[k] for x in u])) for k in (
            "protection_violation_fraction", "throughput_loss_fraction", "worst_i_n_db",
            "directives")} | {"wall_s": float(np.mean([r["timings_s"]["total"] for r in reps]))}
    t = Table(title=f"radar — {len(seeds)} seeds × an hour of a ship's radar, scored on the "
                    "emulated network")
    for c in ("policy", "I/N above -6 dB", "throughput lost", "worst I/N dB", "directives"):
        t.add_column(c, justify="left" if c == "policy" else "right")
    for p, r in rows.items():
        t.add_row(p, f"{100 * r['protection_violation_fraction']:.3f} %",
                  f"{100 * r['throughput_loss_fraction']:.2f} %", f"{r['worst_i_n_db']:+.1f}",
                  f"{r['directives']:.0f}")
    con.print(t)
    return {"seeds": seeds, "rows": rows, "runs": runs}


def _selfheal(con: Console, seeds: list[int], policies: list[str], backend: Any
              ) -> dict[str, Any]:
    base = load_scenario("selfheal")
    runs = _runs(con, "selfheal", run_selfheal, seeds, policies, backend, lambda r: (
        f"{sum(e['detected_s'] is not None for e in r['events'])}/{len(r['events'])} "
        f"detected, {r['false_alarms']} false alarms"))
    rows = {p: selfheal_row(r) for p, r in runs.items()}
    t = Table(title=f"selfheal — {len(seeds)} seeds × {len(base.events)} faults, scored on "
                    "the emulated network")
    cols = ("policy", "detected", "delay [min]", "diagnosis", "recovered (outage)",
            "false alarms / cell-day", "out of service [user-h]", "directives")
    for c in cols:
        t.add_column(c, justify="left" if c == "policy" else "right")

    def f(v: Any, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    for p, r in rows.items():
        t.add_row(p, f"{r['detected']}/{r['faults']}", f(r["mean_delay_min"], ".0f"),
                  f(r["diagnosis_accuracy"], ".2f"), f(r["recovered_fraction"], ".2f"),
                  f(r["false_alarms_per_cell_day"], ".2f"),
                  f(r["out_of_service_user_hours"], ".0f"), f(r["directives"], ".1f"))
    con.print(t)
    return {"seeds": seeds, "rows": rows, "runs": runs}


if __name__ == "__main__":
    main()
