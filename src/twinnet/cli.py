"""The ``twinnet`` command line."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twinnet.errors import InputError, TwinNetError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="TwinNet — LLM-driven digital twins of wireless networks.",
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed}/{task.total}"), TimeElapsedColumn(), console=err, transient=True)


def _default_run_dir(stem: str) -> Path:
    return Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False, default=float) + "\n")


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="built-in scenario name or path to a .toml")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="run folder")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print KPIs as JSON on stdout")] = False,
    hour: Annotated[int | None, typer.Option(min=0, max=23, help="hour of the diurnal "
                                             "profile (default: peak demand)")] = None,
    day: Annotated[bool, typer.Option("--day", help="also evaluate all 24 hours")] = False,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    store_path: Annotated[Path | None, typer.Option(
        "--store", help="context store: sync the twin from it (topology, L1 engine, latest "
        "demand) and record the evaluation; an empty store receives the topology")] = None,
    loop: Annotated[bool, typer.Option(
        "--loop/--no-loop", help="run the capacity loop on the emulated network: observe, "
        "calibrate, detect congestion, optimise (RRM), verify on the twin, apply, measure; "
        "--no-loop only evaluates the twin")] = True,
    target: Annotated[float, typer.Option(min=0.05, max=1.0, help="the loop's peak PRB "
                                          "utilisation target")] = 0.5,
    llm: Annotated[str, typer.Option(help="language model: embedded (llama.cpp in-process, "
                                     "default), openai (a server, see --llm-url) or none "
                                     "(solver only)")] = "embedded",
    llm_url: Annotated[str | None, typer.Option(
        "--llm-url", help="OpenAI-compatible server base URL (vLLM, Ollama, llama.cpp "
        "server, hosted API), e.g. http://127.0.0.1:8080/v1; implies --llm openai")] = None,
    llm_model: Annotated[str | None, typer.Option(
        "--llm-model", help="model id on the server, or a GGUF path for --llm embedded")] = None,
    llm_timeout: Annotated[float, typer.Option("--llm-timeout", min=0.1, help="seconds per "
                                               "server request")] = 60.0,
    llm_mode: Annotated[str, typer.Option(
        "--llm-mode", help="choose: the model chooses among the solver's verified plans "
        "(default); propose: the model proposes actions, the solver refines them")] = "choose",
    llm_budget: Annotated[float, typer.Option(
        "--llm-budget", min=0.1, help="seconds the model may take per decision, every call "
        "and retry included; then the solver's plan")] = 30.0,
    policy: Annotated[str | None, typer.Option(
        help="policy of a use case (self-healing, energy saving: noop, rule, solver or llm; "
        "proactive capacity: also reactive; stadium: also macro; radar: noop, rule (static "
        "exclusion zone), solver, llm) (default: llm, or solver "
        "with --llm none)")] = None,
    intervals: Annotated[int | None, typer.Option(
        min=1, help="self-healing: reporting intervals to run (default: until two intervals "
        "after the last fault ends)")] = None,
) -> None:
    """Run a scenario: the closed loop on its emulated network (the RRM engine finds verified
    plans, the LLM chooses or proposes, the twin verifies; baseline, plan, measured outcome)
    and the twin's evaluation in a run folder (tables, KPIs, maps, report)."""
    from twinnet.report import write_run_folder
    from twinnet.scenario import load_scenario
    from twinnet.twin import DigitalTwin

    sc0 = load_scenario(scenario)  # fails fast (and cleanly) on a bad scenario
    from twinnet.llm.engine import DECISION_MODES

    if llm_mode not in DECISION_MODES:
        raise typer.BadParameter(f"{llm_mode!r} is not one of {list(DECISION_MODES)}",
                                 param_hint="--llm-mode")
    folder = out_dir or _default_run_dir(sc0.name)
    rep = None
    job = sc0.job if loop else "none"
    heal = job in _USECASES
    if policy is not None and not heal:
        raise typer.BadParameter("only for a use-case scenario (usecase = "
                                 + " / ".join(f'"{u}"' for u in _USECASES) + ")",
                                 param_hint="--policy")
    if heal:
        pol = policy or ("solver" if llm == "none" else "llm")
        allowed = _policies(job)
        if pol not in allowed:
            raise typer.BadParameter(f"{pol!r} is not one of {list(allowed)}",
                                     param_hint="--policy")
        backend, note = _make_llm(llm, llm_url, llm_model, llm_timeout) if pol == "llm" \
            else (None, None)
        folder.mkdir(parents=True, exist_ok=True)
        rep = _run_usecase(job, sc0 if seed is None else sc0.with_updates(seed=seed),
                           store_path if store_path is not None else folder / "twinnet.duckdb",
                           pol, backend, intervals, llm_timeout)
        if note:
            rep["llm"]["errors"].insert(0, note)
    elif loop:
        backend, note = _make_llm(llm, llm_url, llm_model, llm_timeout)
        folder.mkdir(parents=True, exist_ok=True)
        rep = _run_loop(sc0 if seed is None else sc0.with_updates(seed=seed),
                        store_path if store_path is not None else folder / "twinnet.duckdb",
                        target, backend, llm_mode, llm_budget)
        if note:
            rep["llm"]["errors"].insert(0, note)
            rep.setdefault("decision", {}).setdefault("messages", []).insert(0, note)

    with _progress() as prog:
        task = prog.add_task("loading scenario", total=5 if day else 4)
        sc = load_scenario(scenario)
        if seed is not None:
            sc = sc.with_updates(seed=seed)
        prog.update(task, advance=1, description="building twin")
        twin = DigitalTwin(sc)
        store = None
        if store_path is not None and not loop:
            from twinnet.store import ContextStore
            from twinnet.twin.sync import restore_twin

            store = ContextStore(store_path)
            restore_twin(store, twin, sc, hour)
        prog.update(task, advance=1, description="evaluating")
        ev = twin.evaluate(hour=hour)
        if store is not None:
            store.log_event("twin_evaluation", f"twinnet run {sc.name}", layer="L3",
                            payload=ev.kpis)
            store.close()
        prog.update(task, advance=1, description="diurnal sweep" if day else "writing report")
        day_df = None
        if day:
            day_df = twin.evaluate_day()
            prog.update(task, advance=1, description="writing report")
        files = write_run_folder(twin, ev, folder, day_df)
        if rep is not None:
            rep["run_folder"] = str(folder)
            (folder / "loop.json").write_text(json.dumps(rep, indent=2, default=float) + "\n")
        prog.update(task, advance=1)
    if as_json:
        _print_json({**rep, "twin": ev.kpis} if rep is not None else ev.kpis)
        return
    if rep is not None:
        {"selfheal": _print_selfheal, "energy": _print_energy,
         "proactive": _print_proactive, "stadium": _print_stadium,
         "radar": _print_radar, "slicing": _print_slicing}.get(job, _print_loop)(
            rep, scenario)
    table = Table(title=f"TwinNet — {sc.name}" + (": the twin of the recorded network, before "
                                                  "any plan" if rep is not None else ""))
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for k, v in ev.kpis.items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    out.print(table)
    out.print(f"run folder: [bold]{folder}[/bold]  (report: {files['report']})")


def _make_llm(kind: str, url: str | None, model: str | None, timeout_s: float
              ) -> tuple[Any, str | None]:
    """The backend for ``--llm`` (``None`` for none); a backend that cannot be created leaves
    the loop solver-only, with the reason."""
    from twinnet.llm.backends import LLMError, make_backend

    k = "openai" if url is not None and kind == "embedded" else kind
    try:
        if k == "embedded":
            return make_backend("embedded", model_path=model), None
        return make_backend(k, url=url, model=model, timeout_s=timeout_s), None
    except LLMError as exc:
        msg = f"LLM backend unavailable ({exc}): the loop runs solver-only"
        err.print(f"[yellow]{msg}[/yellow]")
        return None, msg


def _run_loop(scenario: Any, store_path: Path | None, target: float, backend: Any,
              llm_mode: str = "choose", llm_budget: float = 30.0) -> dict[str, Any]:
    from twinnet.llm.engine import DecisionEngine
    from twinnet.loop.orchestrator import run_closed_loop
    from twinnet.policy.constraints import Constraints
    from twinnet.store import ContextStore

    with ContextStore(store_path if store_path is not None else ":memory:") as store, \
            _progress() as prog:
        task = prog.add_task("closed loop", total=None)
        engine = DecisionEngine(backend, store, mode=llm_mode, llm_budget_s=llm_budget)
        return run_closed_loop(scenario, store, backend,
                               Constraints(peak_prb_utilization=target), engine=engine,
                               progress=lambda m: prog.update(task, description=m))


def _run_usecase(job: str, scenario: Any, store_path: Path, policy: str, backend: Any,
                 intervals: int | None, llm_timeout: float) -> dict[str, Any]:
    from twinnet.loop.energy import run_energy
    from twinnet.loop.proactive import run_proactive
    from twinnet.loop.radar import run_radar
    from twinnet.loop.selfheal import run_selfheal
    from twinnet.loop.slicing import run_slicing
    from twinnet.loop.stadium import run_stadium
    from twinnet.store import ContextStore

    run = {"selfheal": run_selfheal, "energy": run_energy, "proactive": run_proactive,
           "stadium": run_stadium, "radar": run_radar, "slicing": run_slicing}[job]
    what = _USECASES[job]
    with ContextStore(store_path) as store, _progress() as prog:
        task = prog.add_task(f"{what} ({policy})", total=None)
        return run(scenario, store, policy, backend, intervals,
                   progress=lambda d, n: prog.update(task, completed=d, total=n),
                   llm_timeout_s=llm_timeout)


#: the use cases ``twinnet run`` runs over time, and what they are called
_USECASES = {"selfheal": "self-healing", "energy": "energy saving",
             "proactive": "proactive capacity", "stadium": "stadium surge with drones",
             "radar": "radar spectrum sharing", "slicing": "network slices"}


def _policies(job: str) -> tuple[str, ...]:
    from twinnet.loop.proactive import PROACTIVE_POLICIES
    from twinnet.loop.radar import RADAR_POLICIES
    from twinnet.loop.selfheal import POLICIES
    from twinnet.loop.slicing import SLICING_POLICIES
    from twinnet.loop.stadium import STADIUM_POLICIES

    return {"proactive": PROACTIVE_POLICIES, "stadium": STADIUM_POLICIES,
            "radar": RADAR_POLICIES, "slicing": SLICING_POLICIES}.get(job, POLICIES)


def _print_slicing(rep: dict[str, Any], scenario: str) -> None:
    u = rep["usecase"]
    t = Table(title=f"network slices — {scenario}, policy {rep['policy']} (measured on the "
                    "emulated network against no slicing)")
    t.add_column("measure")
    t.add_column("policy", justify="right")
    t.add_column("no slicing", justify="right")
    if "xr_satisfied_ratio" in u:
        t.add_row("XR users satisfied (99 % of frames on time)",
                  f"{u['xr_satisfied_ratio']:.3f}", f"{u['xr_satisfied_ratio_no_slicing']:.3f}")
    if "sensor_deadline_misses" in u:
        t.add_row("sensor reports past their deadline", str(u["sensor_deadline_misses"]),
                  str(u["sensor_deadline_misses_no_slicing"]))
    if "v2x_reliability" in u:
        t.add_row("V2X messages within their budget", f"{u['v2x_reliability']:.4f}",
                  f"{u['v2x_reliability_no_slicing']:.4f}")
    t.add_row("handover failures", str(u["handover_failures"]),
              str(u["handover_failures_no_slicing"]))
    t.add_row("throughput of the users outside slices [Mbit/s]",
              f"{u['background_throughput_mbps']:.0f}",
              f"({100 * u['background_throughput_loss_fraction']:.1f} % lost)")
    t.add_row("directives (actions sent)", str(u["directives"]), "0")
    out.print(t)
    for m in rep.get("llm", {}).get("errors", [])[:5]:
        out.print(f"  · {m}")


def _print_radar(rep: dict[str, Any], scenario: str) -> None:
    u = rep["usecase"]
    t = Table(title=f"radar spectrum sharing — {scenario}, policy {rep['policy']} (measured on "
                    "the emulated network)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row(f"radar I/N samples above {u['protection_i_n_db']:g} dB",
              f"{100 * u['protection_violation_fraction']:.3f} %")
    t.add_row("worst I/N [dB]", f"{u['worst_i_n_db']:+.1f}")
    t.add_row("throughput lost against no protection",
              f"{100 * u['throughput_loss_fraction']:.2f} %")
    t.add_row("directives (actions sent)", str(u["directives"]))
    r = u["radar"]
    if r["period_s"] is not None:
        t.add_row("learnt rotation [s] (error)",
                  f"{r['period_s']:.4f} ({1000 * r['period_error_s']:.2f} ms)")
    if r["position_error_m"] is not None:
        t.add_row("learnt position: error at the end [m]", f"{r['position_error_m']:.0f}")
    out.print(t)
    for m in rep.get("llm", {}).get("errors", [])[:5]:
        out.print(f"  · {m}")


def _print_stadium(rep: dict[str, Any], scenario: str) -> None:
    u = rep["usecase"]
    t = Table(title=f"stadium surge — {scenario}, policy {rep['policy']} (measured on the "
                    "emulated network)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("blocked user-minutes", f"{u['blocked_user_minutes']:,.0f}")
    t.add_row("congested cell-minutes (PRB ≥ 0.9)", f"{u['congested_cell_minutes']:,.0f}")
    t.add_row("peak / mean of the intervals' peak PRB utilisation",
              f"{u['peak_prb_utilization']:.2f} / {u['mean_peak_prb_utilization']:.2f}")
    t.add_row("mean p5 UE throughput [Mbit/s]", f"{u['p5_throughput_mbps']:.2f}")
    t.add_row("served share of traffic", f"{u['served_ratio']:.3f}")
    t.add_row("drones: most in the air / drone-minutes / reliefs",
              f"{u['max_drones_up']} / {u['drone_minutes']:.0f} / {u['drone_reliefs']}")
    t.add_row("drone energy [kWh]", f"{u['drone_energy_kwh']:.2f}")
    t.add_row("directives (actions sent) / plans", f"{u['directives']} / {u['plans']}")
    c = u["crowd"]
    t.add_row("crowd against the calendar (L2)", f"x{c['scale']:.2f}, {c['shift_min']:+.0f} min")
    out.print(t)
    for m in rep.get("llm", {}).get("errors", [])[:5]:
        out.print(f"  · {m}")


def _print_energy(rep: dict[str, Any], scenario: str) -> None:
    u = rep["usecase"]
    t = Table(title=f"energy saving — {scenario}, policy {rep['policy']} (measured on the "
                    "emulated network against all cells on)")
    t.add_column("measure")
    t.add_column("policy", justify="right")
    t.add_column("all cells on", justify="right")
    t.add_row("energy [kWh]", f"{u['energy_kwh']:.1f}", f"{u['energy_kwh_reference']:.1f}")
    t.add_row("served share of traffic", f"{u['served_ratio']:.3f}",
              f"{u['served_ratio_reference']:.3f}")
    t.add_row("mean p5 throughput [Mbit/s]", f"{u['mean_p5_throughput_mbps']:.3f}",
              f"{u['mean_p5_throughput_mbps_reference']:.3f}")
    t.add_row("mean outage", f"{u['mean_outage_ratio']:.4f}",
              f"{u['mean_outage_ratio_reference']:.4f}")
    out.print(t)
    out.print(f"energy saved: [bold]{100 * u['energy_saved_fraction']:.1f} %[/bold] over "
              f"{rep['intervals']} intervals; {u['cell_hours_asleep']:.0f} cell-hours asleep, "
              f"{u['directives']} directives; intervals with a QoS limit broken: "
              f"{u['qos_violations']}")
    for m in rep.get("llm", {}).get("errors", []):
        out.print(f"  · {m}")


def _print_proactive(rep: dict[str, Any], scenario: str) -> None:
    u = rep["usecase"]
    t = Table(title=f"proactive capacity — {scenario}, policy {rep['policy']} (measured on the "
                    "emulated network)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row(f"congested cell-minutes (PRB ≥ {u['congestion_threshold']:g})",
              f"{u['congested_cell_minutes']:.0f}")
    t.add_row("mean p5 UE throughput [Mbit/s]", f"{u['p5_throughput_mbps']:.2f}")
    t.add_row("worst interval's p5 UE throughput [Mbit/s]",
              f"{u['p5_throughput_mbps_worst_interval']:.2f}")
    t.add_row("served share of traffic", f"{u['served_ratio']:.3f}")
    t.add_row("directives (actions sent)", str(u["directives"]))
    t.add_row("plans / before congestion / undone",
              f"{u['plans']} / {u['plans_before_congestion']} / {u['undos']}")
    t.add_row("small-cell hours on", f"{u['small_cell_hours']:.1f}")
    f = u["forecast"] or {}
    if f.get("mean_nrmse") is not None:
        t.add_row(f"L2 forecast NRMSE ({f['model']})", f"{f['mean_nrmse']:.3f}")
    out.print(t)
    for m in rep.get("llm", {}).get("errors", [])[:5]:
        out.print(f"  · {m}")


def _print_selfheal(rep: dict[str, Any], scenario: str) -> None:
    t = Table(title=f"self-healing — {scenario}, policy {rep['policy']} (measured on the "
                    "emulated network)")
    for c in ("fault", "cell", "start", "detected", "delay", "diagnosis", "recovered",
              "reverted"):
        t.add_column(c, justify="left" if c in ("fault", "cell", "diagnosis") else "right")

    def hm(s: Any) -> str:
        return "—" if s is None else f"{s / 3600:.2f} h"

    for e in rep["events"]:
        ok = e.get("diagnosis_correct")
        diag = "—" if e["diagnosis"] is None else (
            f"[green]{e['diagnosis']}[/green]" if ok else f"[red]{e['diagnosis']}[/red]")
        rf = e.get("recovered_fraction")
        t.add_row(e["type"], e["cell"], hm(e["start_s"]), hm(e["detected_s"]),
                  "missed" if e["detected_s"] is None else f"{e['delay_s'] / 60:.0f} min",
                  diag, "—" if rf is None else f"{rf:.2f}", hm(e.get("reverted_s")))
    out.print(t)
    for e in rep["events"]:
        if e.get("explanation"):
            out.print(f"  {e['explanation']}  [dim]({e.get('explained_by')})[/dim]")
    out.print(f"false alarms: {rep['false_alarms']} in {rep['cell_days_monitored']:.1f} "
              f"cell-days; users out of service: {rep['out_of_service_user_hours']:.0f} "
              f"user-hours; {len(rep['plan'])} directives")
    for m in rep.get("llm", {}).get("errors", []):
        out.print(f"  · {m}")


def _print_loop(rep: dict[str, Any], scenario: str) -> None:
    t = Table(title=f"capacity loop — {scenario} (measured on the emulated network)")
    for c in ("KPI", "before", "after (measured)", "predicted by the twin"):
        t.add_column(c, justify="left" if c == "KPI" else "right")
    for k in ("peak_prb_utilization", "mean_prb_utilization", "jain_fairness",
              "p5_throughput_mbps", "outage_ratio", "hottest_cell"):
        vals = [rep.get(x, {}).get(k) for x in ("baseline", "after", "predicted")]
        t.add_row(k, *["—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
                       for v in vals])
    out.print(t)
    rrm = rep.get("rrm", {})
    out.print(f"plan ({rrm.get('method')}, cost {rrm.get('cost')}, heuristic cost "
              f"{rep.get('heuristic', {}).get('cost')}): " + "; ".join(rrm.get("options", [])))
    if rrm.get("search_space"):
        proof = ("[green]proved cheapest[/green]" if rrm.get("proved") else
                 "[yellow]not proved[/yellow] (proof budget reached)")
        out.print(f"{proof} among {rrm['search_space']:,} candidate plans: "
                  f"{rrm.get('combinations_checked', 0):,} of "
                  f"{rrm.get('cheaper_combinations', 0):,} "
                  f"cheaper plans evaluated on the twin in {rrm.get('solve_time_s', 0):.1f} s")
    if rep.get("rolled_back"):
        out.print("[yellow]rolled back[/yellow]: " + "; ".join(rep.get("notes", [])))
    llm = rep.get("llm")
    if llm:
        d = rep.get("decision", {})
        out.print(f"LLM: {llm['backend']} {llm.get('model', '')} — {llm['calls']} calls, "
                  f"{llm['valid_proposals']} valid proposals, {llm['accepted_proposals']} "
                  f"accepted, {llm['fallbacks']} fallbacks, {llm['rejected_actions']} actions "
                  f"rejected by the guardrails, {llm['conflicts']} conflicts; plan source: "
                  f"[bold]{rep.get('plan_source', '—')}[/bold]")
        alts = d.get("alternatives", [])
        if alts:
            out.print(f"verified plans offered to the model ({len(alts)}):")
            for a in alts:
                pk = a["predicted"].get("peak_prb_utilization")
                out.print(f"  {a['id']}: {a['label']}, cost {a['cost']:g}, predicted peak "
                          f"{pk:.3f} — {a['why']}")
        for p in d.get("proposals", []):
            if p.get("task") == "choose" and p.get("choice"):
                why = p.get("reason") or (f"(reason discarded: {p.get('why_discarded')})"
                                          if p.get("discarded_reason") else "")
                out.print(f"  the model chose {p['choice']}: {why}")
        for o in d.get("origin", []):
            a = o["action"]
            params = ", ".join(f"{k}={v}" for k, v in a.items() if k not in ("type", "cell"))
            out.print(f"  {a['type']} {a['cell']} ({params}): {o['origin']}")
        for m in d.get("messages", []):
            out.print(f"  · {m}")


@app.command("ask")
def ask(
    question: Annotated[str, typer.Argument(help="a question about the network, e.g. 'why is "
                                            "S0/1 congested and what would fix it?'")],
    scenario: Annotated[str, typer.Option(help="built-in scenario or .toml")] = "hotspot",
    store_path: Annotated[Path | None, typer.Option(
        "--store", help="context store: the twin is brought up to date from it, and the call "
        "is audited there")] = None,
    llm: Annotated[str, typer.Option(help="embedded, openai or none")] = "embedded",
    llm_url: Annotated[str | None, typer.Option("--llm-url", help="OpenAI-compatible base "
                                                "URL (implies --llm openai)")] = None,
    llm_model: Annotated[str | None, typer.Option(
        "--llm-model", help="model id on the server, or a GGUF path for --llm embedded")] = None,
    llm_timeout: Annotated[float, typer.Option("--llm-timeout", min=0.1)] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the answer as JSON")] = False,
) -> None:
    """Answer a natural-language question about the network from the twin, with the evidence
    used (insights, knowledge passages, what-if of any suggested action)."""
    from twinnet.llm.ask import answer_question
    from twinnet.scenario import load_scenario
    from twinnet.store import ContextStore
    from twinnet.twin import DigitalTwin

    sc = load_scenario(scenario)
    twin = DigitalTwin(sc)
    backend, note = _make_llm(llm, llm_url, llm_model, llm_timeout)
    store = None
    if store_path is not None:
        from twinnet.twin.sync import restore_twin

        store = ContextStore(store_path)
        restore_twin(store, twin, sc)
    try:
        rep = answer_question(twin, question, backend, store=store)
    finally:
        if store is not None:
            store.close()
    if note:
        rep.setdefault("notes", []).append(note)
    if as_json:
        _print_json(rep)
        return
    out.print(f"[bold]Q:[/bold] {question}")
    out.print(f"[bold]A:[/bold] {rep['answer']}")
    if rep.get("cells"):
        out.print("cells: " + ", ".join(rep["cells"]))
    for s_ in rep.get("suggested_actions", []):
        a = s_["action"]
        out.print(f"  suggested {a['type']} {a['cell']}: predicted peak PRB utilisation "
                  f"{s_['predicted_peak_prb_utilization']:.3f} "
                  f"(Δ {s_['delta'].get('peak_prb_utilization', 0):+.3f})")
    ev = rep["evidence"]
    out.print("evidence — insights: " + "; ".join(i["message"] for i in ev["insights"][:4]))
    out.print("evidence — knowledge: " + ", ".join(p["doc_id"] for p in ev["passages"]))
    llm_s = rep.get("llm", {})
    out.print(f"model: {llm_s.get('backend')} ({rep.get('latency_s', 0):.1f} s)")


@app.command("calibrate3gpp")
def calibrate3gpp(
    scenario: Annotated[str, typer.Option(help="uma or umi")] = "uma",
    fc_ghz: Annotated[float, typer.Option("--fc-ghz", help="6 or 30")] = 6.0,
    drops: Annotated[int, typer.Option(min=1, help="independent drops (570 UEs each)")] = 50,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for the CDF plot")] = None,
) -> None:
    """Reproduce the TR 38.901 §7.8.1 large-scale calibration and compare with 3GPP results."""
    from twinnet.report import plot_calibration_cdf
    from twinnet.validation.calibration_38901 import (
        compare_with_reference,
        reference_results,
        run_calibration,
    )

    with _progress() as prog:
        task = prog.add_task(f"calibration {scenario} {fc_ghz:g} GHz", total=drops)
        res = run_calibration(scenario, fc_ghz, drops, seed,
                              progress=lambda i, n: prog.update(task, completed=i))
    folder = out_dir or _default_run_dir(f"calibrate3gpp-{scenario.lower()}-{fc_ghz:g}ghz")
    folder.mkdir(parents=True, exist_ok=True)
    ref_case = None
    with contextlib.suppress(FileNotFoundError):
        ref_case = reference_results()["cases"].get(f"{scenario.lower()}_{int(fc_ghz)}ghz")
    plot = folder / "calibration_cdf.png"
    plot_calibration_cdf(res, plot, ref_case)
    res.pop("_samples")
    cmp = compare_with_reference(res)
    res["comparison"] = cmp
    res["plot"] = str(plot)
    (folder / "calibration.json").write_text(json.dumps(res, indent=2) + "\n")
    if as_json:
        _print_json(res)
        return
    table = Table(title=f"TR 38.901 calibration — {scenario.upper()} {fc_ghz:g} GHz "
                  f"({res['n_ues']} UEs)")
    table.add_column("percentile")
    for m in ("coupling_loss_db", "wideband_sir_db", "geometry_sinr_db"):
        table.add_column(m, justify="right")
    for p in ("p5", "p10", "p25", "p50", "p75", "p90", "p95"):
        table.add_row(p, *[f"{res[m][p]:.2f}" for m in ("coupling_loss_db", "wideband_sir_db",
                                                         "geometry_sinr_db")])
    out.print(table)
    if cmp:
        for m, c in cmp.items():
            out.print(f"{m}: within 3GPP spread at every percentile: {c['within_spread']}; "
                      f"max |offset from companies' mean| = {c['max_abs_offset_from_mean_db']} dB")
    out.print(f"CDF plot: [bold]{plot}[/bold]")


StoreOpt = Annotated[Path | None, typer.Option(
    "--store", help="context store file (default: $TWINNET_STORE or runs/twinnet.duckdb)")]


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV / Parquet / JSON-lines files")],
    store_path: StoreOpt = None,
    table: Annotated[str | None, typer.Option(help="cell_kpis or ue_reports (default: "
                                              "detected from the columns)")] = None,
    profile: Annotated[str | None, typer.Option(help="native or mlmatt (default: "
                                                "detected)")] = None,
    register_cells: Annotated[bool, typer.Option(
        "--register-cells", help="add unknown cells to the topology instead of "
        "quarantining their rows")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="rows per transaction")] = 5000,
    as_json: Annotated[bool, typer.Option("--json", help="print the reports as JSON")] = False,
) -> None:
    """Ingest telemetry files into the context store (bad rows go to quarantine)."""
    from twinnet.store import ContextStore

    reports = []
    with ContextStore(store_path) as store, _progress() as prog:
        for f in files:
            task = prog.add_task(f"ingesting {f.name}", total=None)
            rep = store.ingest(f, table=table, profile=profile, batch_size=batch_size,
                               register_unknown_cells=register_cells,
                               on_batch=lambda done, _t, task=task: prog.update(
                                   task, completed=done))
            prog.remove_task(task)
            reasons = store.query(
                "SELECT field, reason, count(*) AS n FROM quarantine WHERE ingest_id = ? "
                "GROUP BY ALL ORDER BY n DESC LIMIT 5", [rep.ingest_id])
            d = rep.to_dict()
            d["top_reasons"] = reasons.to_dict("records")
            reports.append(d)
        path = store.path
    if as_json:
        _print_json({"store": path, "files": reports})
        return
    t = Table(title=f"ingest → {path}")
    for c in ("file", "rows", "accepted", "quarantined", "duplicates"):
        t.add_column(c, justify="left" if c == "file" else "right", overflow="fold")
    for d in reports:
        t.add_row(Path(d["path"]).name, str(d["rows_seen"]), str(d["rows_accepted"]),
                  str(d["rows_quarantined"]), str(d["rows_duplicate"]))
    out.print(t)
    for d in reports:
        out.print(f"{Path(d['path']).name}: {d['status']} → {d['table']} "
                  f"(profile {d['profile']})", highlight=False)
        for r in d["top_reasons"]:
            out.print(f"  {Path(d['path']).name}: {r['n']} × {r['field']}: {r['reason']}")


@app.command()
def sync(
    scenario: Annotated[str, typer.Argument(help="built-in scenario name or path to a .toml")
                        ] = "hotspot",
    store_path: StoreOpt = None,
    intervals: Annotated[int, typer.Option(min=1, help="reporting intervals to run")] = 72,
    warmup: Annotated[int, typer.Option(min=2, help="intervals before the L1/L2 engines are "
                                        "fitted")] = 48,
    interval_s: Annotated[int, typer.Option("--interval-s", min=60,
                                            help="reporting interval [s]")] = 3600,
    calibrate: Annotated[bool, typer.Option(help="fit the layer engines after the warm-up")
                         ] = True,
    forecast_model: Annotated[str | None, typer.Option(help="L2 forecaster (default: the "
                                                       "evaluated default)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Run the emulated network and the twin side by side: telemetry → store → twin (P2V),
    layer engines fitted after the warm-up, fidelity per layer."""
    from twinnet.loop.sync_loop import run_sync_loop
    from twinnet.store import ContextStore

    with ContextStore(store_path) as store, _progress() as prog:
        task = prog.add_task(f"syncing {scenario}", total=intervals)
        res = run_sync_loop(scenario, store, intervals=intervals, warmup=warmup,
                            interval_s=interval_s, calibrate=calibrate,
                            forecast_model=forecast_model,
                            progress=lambda i, n: prog.update(task, completed=i))
        summ = res.summary()
        summ["store"] = store.path
        registry = store.models()
    if as_json:
        _print_json(summ)
        return
    t = Table(title=f"twin fidelity before / after the layer engines ({scenario})")
    t.add_column("metric")
    t.add_column(f"intervals < {warmup}", justify="right")
    t.add_column(f"intervals ≥ {warmup}", justify="right")
    for k, v in summ.items():
        if isinstance(v, dict) and "before" in v:
            t.add_row(k, *["—" if v[x] is None else f"{v[x]:.3f}" for x in ("before", "after")])
    out.print(t)
    for r in registry[registry.model_id.isin(summ["models"])].itertuples():
        _print_engine(str(r.model_id), bool(r.active), r.metrics)
    out.print(f"models: {', '.join(summ['models']) or 'none'}; store: [bold]{summ['store']}"
              "[/bold] (see `twinnet fidelity`)")


def _print_engine(model_id: str, active: bool, metrics: Any) -> None:
    """One line per registered layer engine: its id and what its fit measured (numbers
    rounded), then its fit warnings, if any, one per line."""
    try:
        m = json.loads(metrics) if isinstance(metrics, str) else dict(metrics or {})
    except (TypeError, ValueError):
        m = {"metrics": metrics}
    warned = m.pop("fit_warnings", None) or []
    shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in m.items())
    out.print(f"model {model_id}{' (active)' if active else ''}: {shown}", highlight=False)
    for w in warned:
        out.print(f"  [yellow]fit warning[/yellow]: {w}", highlight=False)


@app.command()
def fidelity(
    store_path: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Twin fidelity per layer from the store: error series summary, drift flags and the
    retraining recommendations."""
    from twinnet.store import ContextStore
    from twinnet.twin.fidelity import fidelity_summary

    with ContextStore(store_path, read_only=True) as store:
        summ = fidelity_summary(store)
    if as_json:
        _print_json(summ)
        return
    t = Table(title="twin fidelity")
    for c in ("layer", "metric", "intervals", "first", "last", "mean", "min", "max",
              "threshold", "drift"):
        t.add_column(c, justify="left" if c in ("layer", "metric") else "right")
    for r in summ["metrics"]:
        t.add_row(r["layer"], r["metric"], str(r["intervals"]), *[
            "—" if r[k] is None else f"{r[k]:.3g}" for k in ("first", "last", "mean", "min",
                                                            "max", "threshold")],
            str(r["drift_intervals"]))
    out.print(t)
    for rec in summ["recommendations"]:
        out.print(f"[yellow]retrain {rec['layer']}[/yellow] ({rec['ts']}): {rec['message']}")
    for m in summ["models"]:
        _print_engine(m["model_id"], m["active"], m["metrics"])


forecast_app = typer.Typer(no_args_is_help=True, help="L2 traffic forecasting engines.")
radio_app = typer.Typer(no_args_is_help=True, help="L1 radio calibration engines.")
links_app = typer.Typer(no_args_is_help=True, help="LINKs: data planning over the smart-city "
                        "Sensor Cards and retrieval over the 6G twin.")
app.add_typer(forecast_app, name="forecast")
app.add_typer(radio_app, name="radio")
app.add_typer(links_app, name="links")


def _nrmse_table(res: dict[str, Any], title: str) -> Table:
    hs = list(next(iter(res["models"].values())).keys()) if res["models"] else []
    t = Table(title=title)
    t.add_column("model")
    for h in hs:
        t.add_column(f"{h}-step", justify="right")
    for name, sc in res["models"].items():
        best = {h: res.get("best", {}).get(h) == name for h in hs}
        mark = " (default)" if name == res.get("default") else ""
        t.add_row(name + mark, *[f"[bold]{sc[h]:.4f}[/bold]" if best[h] else f"{sc[h]:.4f}"
                                 for h in hs])
    for name in res.get("unavailable", {}):
        t.add_row(f"{name} (unavailable)", *["—"] * len(hs))
    return t


@forecast_app.command("evaluate")
def forecast_evaluate(
    csv: Annotated[Path, typer.Option("--csv", help="table: a time column and one numeric "
                                      "column per series")],
    time_col: Annotated[str, typer.Option("--time-col", help="name of the time column")],
    test_start: Annotated[str, typer.Option("--test-start", help="first forecast origin "
                                            "(ISO 8601)")],
    test_end: Annotated[str, typer.Option("--test-end", help="last forecast origin")],
    horizons: Annotated[str, typer.Option(help="steps ahead, comma-separated")] = "1,10,30,60",
    models: Annotated[str | None, typer.Option(help="comma-separated model names (default: "
                                               "all but the deep baselines lstm, convlstm)")
                      ] = None,
    origin_stride: Annotated[int, typer.Option(min=1, help="use every n-th origin")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Rolling-origin NRMSE (LINKs eq. 9) of every forecaster at the given horizons; training
    uses only data before each origin."""
    from twinnet.engines.forecast import evaluate_csv

    names = [m.strip() for m in models.split(",")] if models else None
    with _progress() as prog:
        prog.add_task("evaluating forecasters (rolling origins)", total=None)
        res = evaluate_csv(csv, time_col, test_start, test_end, horizons, names, origin_stride)
    if as_json:
        _print_json(res)
        return
    out.print(_nrmse_table(res, f"NRMSE by horizon — {csv.name} "
                                f"({res['window']['n_series']} series, "
                                f"{res['window']['n_origins']} origins)"))
    for name, why in res.get("unavailable", {}).items():
        out.print(f"{name}: unavailable — {why}")
    for name, warned in res.get("fit_warnings", {}).items():
        for w in dict.fromkeys(warned):
            out.print(f"[yellow]{name}[/yellow]: {w}", highlight=False)


@radio_app.command("evaluate")
def radio_evaluate(
    train: Annotated[Path, typer.Option("--train", help="measurements to fit on (CSV, "
                                        "Huawei Cup 2019 columns)")],
    test: Annotated[Path, typer.Option("--test", help="measurements of other cells to score")],
    coverage: Annotated[float | None, typer.Option(
        min=0.01, max=0.99, help="also score each engine's central interval of this coverage "
        "(fraction of test rows inside it) and its mean predicted std")] = None,
    shots: Annotated[str | None, typer.Option(
        help="few-shot adaptation: comma-separated numbers of each test cell's measurements "
        "the engines see before scoring its other rows, e.g. 0,10,100")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Fit the L1 radio-calibration engines on one set of cells and score RSRP on another."""
    from twinnet.engines.radio_models import evaluate_files

    shot_list: list[int] | None = None
    if shots is not None:
        try:
            shot_list = [int(x) for x in shots.split(",") if x.strip()]
        except ValueError:
            raise InputError("--shots", shots, "comma-separated whole numbers, e.g. 0,10,100"
                             ) from None
        if not shot_list or min(shot_list) < 0:
            raise InputError("--shots", shots, "comma-separated whole numbers >= 0")
    with _progress() as prog:
        prog.add_task("fitting and scoring the radio engines", total=None)
        res = evaluate_files(train, test, coverage=coverage, shots=shot_list)
    if as_json:
        _print_json(res)
        return
    t = Table(title=f"RSRP on held-out cells — train {train.name}, test {test.name}")
    cols = ["model", "RMSE [dB]", "bias [dB]", "n"]
    if coverage is not None:
        cols += [f"in {coverage:.0%} interval", "mean std [dB]"]
    for c in cols:
        t.add_column(c, justify="left" if c == "model" else "right")
    for name, m in res["models"].items():
        mark = " (default)" if name == res["default"] else ""
        extra = [] if coverage is None else [f"{m['coverage']:.1%}", f"{m['mean_std_db']:.2f}"]
        t.add_row(name + mark, f"{m['rmse_db']:.2f}", f"{m['bias_db']:+.2f}", str(m["n"]),
                  *extra)
    out.print(t)
    if "few_shot" in res:
        fs = res["few_shot"]
        t2 = Table(title=f"RSRP RMSE [dB] on held-out cells after n of each cell's measurements "
                   f"({fs['n_scored']} rows of {fs['cells']} cells scored)")
        t2.add_column("model")
        for n in fs["shots"]:
            t2.add_column(f"n = {n}", justify="right")
        for name, m in fs["models"].items():
            t2.add_row(name, *(f"{v:.2f}" for v in m["rmse_db"]))
        out.print(t2)


@app.command()
def simulate(
    scenario: Annotated[str, typer.Argument(help="built-in scenario name or path to a .toml")],
    hours: Annotated[float, typer.Option(min=0.0, max=24 * 365, help="simulated time [h]")] = 1.0,
    step: Annotated[float | None, typer.Option(min=0.1, max=3600, help="clock step [s] "
                                               "(default: the scenario's)")] = None,
    report: Annotated[float | None, typer.Option(min=0.1, max=86400, help="reporting "
                                                 "interval of the counters [s]")] = None,
    twin_only: Annotated[bool, typer.Option(
        "--twin/--network", help="--network (default): the emulated network with its hidden "
        "truth and the scenario's [[events]]; --twin: the twin's own models alone")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="run folder")] = None,
    seed: Annotated[int | None, typer.Option(help="random stream (default: the scenario's "
                                             "seed; --twin only)")] = None,
    snapshots: Annotated[int, typer.Option(min=0, max=50, help="serving-map snapshots")] = 3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run a network in time — users move, sessions arrive, the scheduler shares PRBs, users
    hand over, events happen — and write per-cell counters, group KPIs, a KPI-over-time plot,
    handover statistics, events and serving-map snapshots to a run folder."""
    from twinnet.emulator import NetworkEmulator
    from twinnet.errors import InputError
    from twinnet.report import write_simulation_folder
    from twinnet.scenario import Simulation, load_scenario
    from twinnet.twin import DigitalTwin
    from twinnet.twin.simulate import NetworkSimulation

    sc = load_scenario(scenario)
    cfg = sc.simulation or Simulation()
    upd = {k: v for k, v in (("step_s", step), ("report_s", report)) if v is not None}
    if upd:
        data = {**cfg.model_dump(), **upd}
        if "step_s" in upd and "report_s" not in upd:
            data["report_s"] = max(upd["step_s"], round(cfg.report_s / upd["step_s"])
                                   * upd["step_s"])
        try:
            cfg = Simulation(**data)
        except ValueError as exc:
            raise InputError("--step/--report", upd, str(exc).splitlines()[-1]) from None
    duration = hours * 3600.0
    if duration < cfg.report_s:
        raise InputError("--hours", hours, f"at least one reporting interval "
                                           f"({cfg.report_s:g} s)")
    folder = out_dir or _default_run_dir(f"simulate-{sc.name}")
    emu = None
    if twin_only:
        sim = NetworkSimulation(DigitalTwin(sc), cfg, seed=seed)
    else:
        emu = NetworkEmulator(sc.model_copy(update={"simulation": cfg}))
        assert emu.sim is not None
        sim = emu.sim
    with _progress() as prog:
        task = prog.add_task(f"simulating {sc.name}", total=round(duration))

        def tick(done: float, _total: float) -> None:
            prog.update(task, completed=round(done))

        result = sim.run(duration, progress=tick, snapshots=snapshots)
    events = None
    if emu is not None:
        alarms, truth = emu.events.drain()
        events = pd.concat([alarms.assign(payload=None), truth], ignore_index=True)
    summary = write_simulation_folder(sim, result, folder, sc.name, events=events)
    summary["network"] = "twin" if twin_only else "emulated"
    summary["truth"] = None if twin_only else emu.truth_cfg.model  # type: ignore[union-attr]
    summary["run_folder"] = str(folder)
    if as_json:
        _print_json(summary)
        return
    ho = summary["handovers"]
    t = Table(title=f"{sc.name}: {hours:g} h at {cfg.step_s:g} s steps "
                    f"({summary['speedup']:.0f}× real time)")
    t.add_column("counter")
    t.add_column("value", justify="right")
    for k in ("peak_prb_utilization", "mean_prb_utilization", "mean_cell_throughput_mbps"):
        t.add_row(k, f"{summary[k]:.3f}")
    for k, v in ho.items():
        t.add_row(k, "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)))
    out.print(t)
    if events is not None and len(events):
        out.print(f"{len(events)} events and alarms (events.parquet)")
    out.print(f"run folder: {folder}")


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    from twinnet.scenario import builtin_scenarios, load_scenario

    table = Table(title="Built-in scenarios")
    table.add_column("name")
    table.add_column("description")
    for name in builtin_scenarios():
        table.add_row(name, " ".join(load_scenario(name).description.split()))
    out.print(table)


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="scenario .toml file")]) -> None:
    """Validate a scenario file and print a summary."""
    from twinnet.network import build_network
    from twinnet.scenario import load_scenario

    sc = load_scenario(path)
    net = build_network(sc)
    out.print(f"[green]valid[/green]: {sc.name} — {net.n_sites} sites, {net.n_cells} cells, "
              f"{sc.users.count} users, {sc.propagation.scenario}")


def main() -> None:
    """Console-script entry point: prints TwinNet errors without a traceback, exit code 2."""
    try:
        app()
    except TwinNetError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        sys.exit(2)



# --------------------------------------------------------------------------- LINKs
def _planner(llm: str, llm_url: str | None, llm_model: str | None, llm_timeout: float,
             mode: str, temperature: float, steps: int, store: Any = None,
             functions: Any = None, vocabulary: Path | None = None) -> tuple[Any, Any, Any]:
    from twinnet.links.cards import load_districts, load_sensor_cards
    from twinnet.links.planner import AgenticPlanner

    backend, note = _make_llm(llm, llm_url, llm_model, llm_timeout)
    cards = load_sensor_cards()
    planner = AgenticPlanner(backend, cards, load_districts(), store=store,
                             functions=functions, temperature=temperature, max_steps=steps,
                             mode=mode, vocabulary=vocabulary)
    return planner, backend, note


_MODE_HELP = ("vocabulary (default: the catalogue's vocabulary, the model only where it names "
              "nothing), retrieval+review, llm-choice or retrieval")
_VOCAB_HELP = "vocabulary TOML of the Sensor Cards (default: the one shipped for Milan)"


@links_app.command("eval")
def links_eval(
    queries: Annotated[Path, typer.Option(help="queries JSON (format of dev_queries.json)")],
    llm: Annotated[str, typer.Option(help="embedded, openai or none")] = "embedded",
    llm_url: Annotated[str | None, typer.Option("--llm-url")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model")] = None,
    llm_timeout: Annotated[float, typer.Option("--llm-timeout", min=0.1)] = 60.0,
    mode: Annotated[str, typer.Option(help=_MODE_HELP)] = "vocabulary",
    vocabulary: Annotated[Path | None, typer.Option(help=_VOCAB_HELP)] = None,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = 0.0,
    steps: Annotated[int, typer.Option(min=1, max=100, help="step limit")] = 15,
    naive: Annotated[bool, typer.Option("--naive/--no-naive", help="also score the zero-shot "
                                        "single-prompt baseline")] = True,
    ablation: Annotated[bool, typer.Option(help="also sweep temperature × step limit")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score the data planner on a query file: per-query F1 of the chosen sensor types."""
    from twinnet.links.cards import load_queries, load_sensor_cards
    from twinnet.links.evaluate import evaluate_planner
    from twinnet.links.planner import NaivePlanner

    qs = load_queries(queries)
    planner, backend, note = _planner(llm, llm_url, llm_model, llm_timeout, mode, temperature,
                                      steps, vocabulary=vocabulary)
    index = getattr(planner, "index", None)
    dense_off = getattr(index, "dense_reason", "n/a")
    info: dict[str, Any] = {"backend": getattr(backend, "name", "none"),
                            "model": getattr(backend, "model", ""), "mode": mode,
                            "temperature": temperature, "step_limit": steps,
                            "retrieval": "bm25+dense" if dense_off is None
                            else f"bm25 ({dense_off})"}
    if note:
        info["notes"] = [note]
    with _progress() as prog:
        task = prog.add_task("planning", total=None)
        rep = evaluate_planner(
            planner, qs, info=info,
            naive=NaivePlanner(backend, load_sensor_cards(), temperature) if naive else None,
            factory=(lambda t, n: _planner(llm, llm_url, llm_model, llm_timeout, mode, t,
                                           n, vocabulary=vocabulary)[0]) if ablation else None,
            progress=lambda what: prog.update(task, description=what))
    if as_json:
        _print_json(rep)
        return
    tab = Table(title=f"LINKs data planning — {queries.name} ({rep['backend']}, {mode})")
    for c in ("query", "F1", "precision", "recall", "selected"):
        tab.add_column(c)
    for qid, v in rep["per_query"].items():
        tab.add_row(qid, f"{v['f1']:.2f}", f"{v['precision']:.2f}", f"{v['recall']:.2f}",
                    ", ".join(v["selected"]))
    out.print(tab)
    out.print(f"mean F1 {rep['mean_f1']:.3f}" + (f"; naive baseline {rep['naive']['mean_f1']:.3f}"
                                                  if "naive" in rep else ""))
    if "shortlist" in rep:
        out.print("retrieval shortlist (" + rep["retrieval"] + "): " + ", ".join(
            f"{k} {v:.2f}" for k, v in rep["shortlist"].items()))
    for r in rep.get("ablation", []):
        out.print(f"  T={r['temperature']:g} steps={r['steps']}: mean F1 {r['mean_f1']:.3f}")


@links_app.command("plan")
@app.command("plan")
def links_plan(
    query: Annotated[str, typer.Argument(help="a question about the city")],
    llm: Annotated[str, typer.Option(help="embedded, openai or none")] = "embedded",
    llm_url: Annotated[str | None, typer.Option("--llm-url")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model")] = None,
    llm_timeout: Annotated[float, typer.Option("--llm-timeout", min=0.1)] = 60.0,
    mode: Annotated[str, typer.Option(help=_MODE_HELP)] = "vocabulary",
    vocabulary: Annotated[Path | None, typer.Option(help=_VOCAB_HELP)] = None,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = 0.0,
    steps: Annotated[int, typer.Option(min=1, max=100)] = 15,
    store_path: Annotated[Path | None, typer.Option(
        "--store", help="context store with the sensor registry (built there if empty)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Plan the data one question needs: sensor types, places, window, sensor ids."""
    from twinnet.links.data_api import DataAPI
    from twinnet.store import ContextStore

    with ContextStore(store_path if store_path is not None else ":memory:") as store:
        api = DataAPI(store)
        planner, _, note = _planner(llm, llm_url, llm_model, llm_timeout, mode, temperature,
                                    steps, store=store, functions=api.functions(),
                                    vocabulary=vocabulary)
        p = planner.plan(query)
    rep = p.to_dict()
    rep["code"] = p.code
    if note:
        rep["notes"] = [note]
    if as_json:
        _print_json(rep)
        return
    out.print(f"[bold]sensor types:[/bold] {', '.join(p.sensor_types)}")
    ev = next((t["vocabulary"] for t in p.trace if "vocabulary" in t), None)
    if ev is not None:  # why: the phrases and the drivers that gave each type
        why = [f"'{m['phrase']}' → {', '.join(m['types'])}" for m in ev["mentions"]]
        why += [f"drivers of {t}: {', '.join(ds)}" for t, ds in ev["drivers"].items()]
        out.print("why: " + "; ".join(why), highlight=False)
    out.print(f"places: {', '.join(x['name'] for x in p.places)}; window: "
              f"{p.time_window.get('label')} ({p.time_window.get('start')} → "
              f"{p.time_window.get('end')}); aggregation: {p.aggregation}")
    out.print(f"{len(p.sensor_ids)} sensors; {p.steps} steps")



@links_app.command("ask")
def links_ask(
    query: Annotated[str, typer.Argument(help="a question about the city")],
    llm: Annotated[str, typer.Option(help="embedded, openai or none")] = "embedded",
    llm_url: Annotated[str | None, typer.Option("--llm-url")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model")] = None,
    llm_timeout: Annotated[float, typer.Option("--llm-timeout", min=0.1)] = 60.0,
    tau: Annotated[float, typer.Option(min=0.0, max=1.01, help="load threshold: cells "
                                       "predicted below it upload over 6G, the rest over "
                                       "Zigbee")] = 0.7,
    per_type: Annotated[int, typer.Option("--per-type", min=1, max=200, help="sensors of each "
                                          "type retrieved per place")] = 8,
    store_path: Annotated[Path | None, typer.Option("--store")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Both LINKs stages end to end: the data plan, the retrieval schedule over the 6G twin and
    its latency, and the answer computed from the retrieved data."""
    from twinnet.links.ask import answer_query
    from twinnet.store import ContextStore

    backend, note = _make_llm(llm, llm_url, llm_model, llm_timeout)
    with ContextStore(store_path if store_path is not None else ":memory:") as store:
        rep = answer_query(query, store, backend, tau=tau, per_type=per_type)
    if note:
        rep["notes"] = [note]
    if as_json:
        _print_json(rep)
        return
    p = rep["plan"]
    out.print(f"[bold]plan:[/bold] {', '.join(p['sensor_types'])} — "
              f"{', '.join(x['name'] for x in p['places'])}, {p['time_window'].get('label')}")
    r = rep.get("retrieval")
    if r:
        out.print(f"[bold]retrieval:[/bold] {r['devices']} devices, {r['data_mbit']} Mbit; "
                  f"6G cells {r['cells_6g']}, Zigbee cells {r['cells_zigbee']} (τ {r['tau']}); "
                  f"latency {r['latency_s']:.3g} s")
    out.print(f"[bold]answer:[/bold] {rep['answer_text'] or 'no data'}")

if __name__ == "__main__":
    main()
