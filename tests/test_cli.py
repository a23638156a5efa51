"""End-to-end runs of the ``twinnet`` command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def twinnet(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twinnet.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.mark.slow
@pytest.mark.usefixtures("embedded_model")
def test_run_hotspot_is_the_capacity_loop(tmp_path):
    """The README's main job: congestion measured on the emulated network, a plan from the
    RRM engine verified on the twin, applied, and measured again."""
    out = tmp_path / "run"
    p = twinnet("run", "hotspot", "--json", "--out", str(out))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["verified_on"] == "emulator"
    for side in ("baseline", "after"):
        assert {"peak_prb_utilization", "jain_fairness"} <= set(r[side])
    assert r["baseline"]["peak_prb_utilization"] >= 0.9
    assert r["after"]["peak_prb_utilization"] <= 0.5
    assert r["plan"] and all("type" in a and "cell" in a for a in r["plan"])
    assert r["twin"]["peak_prb_utilization"] >= 0.9  # the uncalibrated twin's view, for the map
    assert json.loads((out / "loop.json").read_text())["plan"] == r["plan"]
    # the engine's plan is provably the cheapest of its candidates on the twin: every cheaper
    # combination was evaluated; the heuristic's costs at least as much
    rrm = r["rrm"]
    assert rrm["proved"] and rrm["combinations_checked"] == rrm["cheaper_combinations"] > 0
    assert rrm["cost"] <= r["heuristic"]["cost"]
    # the embedded model took part: its calls, and where each action of the plan came from
    llm = r["llm"]
    assert llm["backend"] == "embedded" and llm["calls"] >= 1
    assert {"calls", "valid_proposals", "accepted_proposals", "fallbacks"} <= set(llm)
    assert r["plan_source"] in ("llm+rrm", "rrm-fallback")
    assert len(r["decision"]["origin"]) == len(r["plan"])
    assert (out / "twinnet.duckdb").exists()  # prompts, responses and decisions, for audit


def test_run_completes_when_the_llm_server_is_unreachable(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = twinnet("run", "hotspot", "--json", "--out", str(tmp_path / "run"), "--llm-url",
                f"http://127.0.0.1:{port}/v1", "--llm-model", "m", "--llm-timeout", "0.5")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["llm"]["backend"] == "openai" and r["llm"]["fallbacks"] == 1
    assert any("unreachable" in e for e in r["llm"]["errors"])
    assert r["plan_source"] == "rrm-fallback"
    assert r["after"]["peak_prb_utilization"] <= 0.5


@pytest.mark.usefixtures("embedded_model")
def test_ask_answers_with_evidence(tmp_path):
    from twinnet.actions import ActionPlan, parse_action
    from twinnet.llm.guardrails import screen_actions
    from twinnet.policy.operator import Policy
    from twinnet.store import ContextStore
    from twinnet.twin import DigitalTwin

    store = tmp_path / "s.duckdb"  # empty: the call is audited there, the twin is unchanged
    p = twinnet("ask", "why is S0/1 congested and what would fix it?", "--store", str(store),
                "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["answer"] and r["llm"]["backend"] == "embedded" and r["llm"]["calls"] == 1
    # the evidence, whatever the model says: the twin's congestion insight and the passages
    ev = r["evidence"]
    assert any(i["subject"] == "S0/1" and i["kind"] == "congestion" for i in ev["insights"])
    assert ev["passages"] and all("#" in x["doc_id"] for x in ev["passages"])
    # the answer is the model's only when it names nothing the evidence does not hold
    assert r["answer_source"].startswith(("model", "evidence"))
    if r["answer_source"].startswith("model"):
        facts = " ".join(ev["facts"])
        assert all(c in facts for c in re.findall(r"\bS\d+/\d\b", r["answer"]))
    # the model's own reply, from the audit trail: each action it suggested is either among
    # the suggested actions (guardrails passed, lowers the predicted peak) or rejected
    with ContextStore(store, read_only=True) as s:
        calls = s.llm_calls()
    assert calls.purpose.tolist() == ["ask"] and calls.outcome.tolist() == ["ok"]
    proposed = json.loads(calls.response.iloc[0])["actions"]
    twin = DigitalTwin.from_scenario("hotspot")
    passed = screen_actions(proposed, twin.network, Policy()).actions
    from_model = [a["action"] for a in r["suggested_actions"] if a["source"].startswith("model")]
    rejected = [a["action"] for a in ev["rejected_actions"] if "action" in a]
    for a in passed:
        assert a.model_dump() in from_model + rejected
    # every suggestion is verified: applying it to a fresh twin gives its predicted effect,
    # and it lowers the peak
    base = twin.evaluate(uplink=False).kpis["peak_prb_utilization"]
    assert r["suggested_actions"]  # the hotspot has verified options (switch on a small cell)
    for a in r["suggested_actions"]:
        fork = twin.copy()
        ActionPlan(actions=[parse_action(a["action"])]).apply(fork.network)
        peak = fork.evaluate(uplink=False).kpis["peak_prb_utilization"]
        assert a["predicted_peak_prb_utilization"] == pytest.approx(peak, abs=1e-4)
        assert peak < base - 0.009
    p2 = twinnet("ask", "  ", "--llm", "none")
    assert p2.returncode != 0 and "question" in (p2.stderr + p2.stdout)


def test_run_hotspot_json_and_run_folder(tmp_path):
    out = tmp_path / "run"
    p = twinnet("run", "hotspot", "--no-loop", "--json", "--out", str(out))
    assert p.returncode == 0, p.stderr
    k = json.loads(p.stdout)
    assert k["peak_prb_utilization"] >= 0.9
    assert k["mean_prb_utilization"] < 0.6
    for name in ("users.parquet", "cells.parquet", "kpis.json", "serving_cell.png", "sinr.png",
                 "prb_utilization.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    cells = pd.read_parquet(out / "cells.parquet")
    assert cells["prb_utilization"].max() == pytest.approx(k["peak_prb_utilization"])
    assert json.loads((out / "kpis.json").read_text()) == k
    assert (out / "serving_cell.png").read_bytes()[:4] == b"\x89PNG"


def test_run_day_sweep_writes_diurnal_plot(tmp_path):
    p = twinnet("run", "hotspot", "--no-loop", "--day", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    day = pd.read_parquet(tmp_path / "day.parquet")
    assert len(day) == 24 and (tmp_path / "diurnal_load.png").exists()
    assert "run folder" in p.stdout


def test_calibrate3gpp_json(tmp_path):
    p = twinnet("calibrate3gpp", "--scenario", "umi", "--fc-ghz", "30", "--drops", "2",
                "--json", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["scenario"] == "umi" and r["fc_ghz"] == 30.0 and r["n_ues"] == 2 * 570
    for m in ("coupling_loss_db", "wideband_sir_db", "geometry_sinr_db"):
        assert list(r[m]) == [f"p{q}" for q in range(5, 100, 5)]
        vals = list(r[m].values())
        assert vals == sorted(vals)
    assert (tmp_path / "calibration_cdf.png").exists()


def test_errors_are_clean(tmp_path):
    p = twinnet("run", "no-such-scenario")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "no-such-scenario" in p.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[[carriers]]\nbandwidth_mhz = 33\n")
    p = twinnet("run", str(bad))
    assert p.returncode == 2 and "carriers.0" in p.stderr and "33" in p.stderr
    p = twinnet("calibrate3gpp", "--scenario", "rma", "--json")
    assert p.returncode == 2 and "scenario" in p.stderr
    out = tmp_path / "never"
    p = twinnet("run", "hotspot", "--llm-mode", "dictate", "--out", str(out))
    assert p.returncode == 2 and "--llm-mode" in p.stderr and "dictate" in p.stderr
    assert "Traceback" not in p.stderr and not out.exists()  # refused before any work
    p = twinnet("run", "hotspot", "--llm-budget", "0")
    assert p.returncode == 2 and "--llm-budget" in p.stderr


def test_validate_and_list():
    p = twinnet("scenarios")
    assert p.returncode == 0 and "hotspot" in p.stdout


def test_ingest_and_fidelity_commands(tmp_path):
    data = tmp_path / "kpis.csv"
    data.write_text("ts,cell_id,prb_util_dl\n2024-01-01T00:00:00,A,0.5\n"
                    "2024-01-01T00:15:00,A,#¡VALOR!\n2024-01-01T00:30:00,A,0.4\n",
                    encoding="utf-8")
    store = tmp_path / "s.duckdb"
    p = twinnet("ingest", str(data), "--store", str(store), "--register-cells", "--json")
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)["files"][0]
    assert (rep["rows_accepted"], rep["rows_quarantined"]) == (2, 1)
    assert "#¡VALOR!" in rep["top_reasons"][0]["reason"]
    p = twinnet("ingest", str(data), "--store", str(store), "--register-cells")
    assert p.returncode == 0 and "already ingested" in p.stdout
    p = twinnet("ingest", str(tmp_path / "nope.csv"), "--store", str(store))
    assert p.returncode == 2 and "path" in p.stderr and "Traceback" not in p.stderr
    p = twinnet("fidelity", "--store", str(store), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["metrics"] == []


@pytest.mark.slow
def test_sync_then_fidelity_then_run_from_store(tmp_path):
    store = tmp_path / "s.duckdb"
    p = twinnet("sync", "hotspot", "--store", str(store), "--intervals", "8", "--warmup", "5",
                "--forecast-model", "persistence", "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["rsrp_rmse_db"]["after"] < s["rsrp_rmse_db"]["before"]
    assert s["models"][:2] == ["L1/radio_calibration/v1", "L2/traffic_persistence/v1"]
    p = twinnet("fidelity", "--store", str(store), "--json")
    f = json.loads(p.stdout)
    assert {(m["layer"], m["metric"]) for m in f["metrics"]} >= {("L1", "rsrp_rmse_db"),
                                                                  ("L2", "prb_util_mae")}
    assert any(r["layer"] == "L1" for r in f["recommendations"])
    # a fresh twin picks up the stored L1 engine and the last interval's demand
    p = twinnet("run", "hotspot", "--no-loop", "--store", str(store), "--json", "--out",
                str(tmp_path / "r"))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["peak_prb_utilization"] < 0.9  # night-time Milan demand


def test_forecast_evaluate_command(milan_dir):
    csv = milan_dir / "milan_internet_10min_25cells_2013-11-01_to_2013-11-30.csv"
    p = twinnet("forecast", "evaluate", "--csv", str(csv), "--time-col", "timestamp_local_cet",
                "--test-start", "2013-11-28T00:00:00+01:00", "--test-end",
                "2013-11-28T11:50:00+01:00", "--horizons", "1,10", "--models",
                "persistence,seasonal_naive,level_adjusted_seasonal,chronos",
                "--origin-stride", "6", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert set(r["models"]) == {"persistence", "seasonal_naive", "level_adjusted_seasonal"}
    assert set(r["models"]["persistence"]) == {"1", "10"}
    assert "chronos" in r["unavailable"]
    p = twinnet("forecast", "evaluate", "--csv", str(csv), "--time-col", "nope",
                "--test-start", "2013-11-28", "--test-end", "2013-11-29")
    assert p.returncode == 2 and "time_col" in p.stderr


def test_radio_evaluate_command(tmp_path):
    from twinnet.datasets.huawei import load_cluster, split_by_cell

    train, test = split_by_cell(load_cluster(), 0.25, 0)
    train.groupby("Cell Index").head(300).to_csv(tmp_path / "train.csv", index=False)
    test.groupby("Cell Index").head(200).to_csv(tmp_path / "test.csv", index=False)
    p = twinnet("radio", "evaluate", "--train", str(tmp_path / "train.csv"), "--test",
                str(tmp_path / "test.csv"), "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert "uncalibrated_38901" in r["models"] and r["default"] in r["models"]
    assert r["models"][r["default"]]["rmse_db"] < r["models"]["uncalibrated_38901"]["rmse_db"]
    assert {m["n"] for m in r["models"].values()} == {len(test.groupby("Cell Index").head(200))}
    bad = tmp_path / "bad.csv"
    test.drop(columns="Azimuth").head(50).to_csv(bad, index=False)
    p = twinnet("radio", "evaluate", "--train", str(tmp_path / "train.csv"), "--test", str(bad))
    assert p.returncode == 2 and "Azimuth" in p.stderr
