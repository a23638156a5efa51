"""Self-healing: the residual detector, the diagnosis, cell outage compensation and the loop."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from twinnet.cli import app
from twinnet.engines.faults import Detection, ResidualDetector, diagnose
from twinnet.errors import InputError
from twinnet.loop.selfheal import SelfHealingLoop, _unsupported_numbers
from twinnet.rrm.compensation import compensation_options, solve_compensation
from twinnet.scenario import load_scenario
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin
from twinnet.twin.fidelity import predict_reports


def _small(events: list[dict[str, Any]], users: int = 1500) -> Any:
    """The selfheal network, fewer users, 5-minute reports (warm-up + baseline = 8)."""
    sc = load_scenario("selfheal")
    sim = {**sc.simulation.model_dump(), "report_s": 300.0, "reports_per_interval": 500}
    return sc.with_updates(users={**sc.users.model_dump(), "count": users}, simulation=sim,
                           events=events)


# ------------------------------------------------------------------ detector
def _frame(cells: list[str], rng: np.random.Generator, shift: dict[str, float] | None = None,
           silent: str | None = None) -> pd.DataFrame:
    f = pd.DataFrame({"n": 40, "rsrp_resid_db": rng.normal(0.0, 0.3, len(cells)),
                      "rsrp_se_db": 0.3, "sinr_db": 5.0 + rng.normal(0, 0.3, len(cells)),
                      "prb_util": 0.5, "prb_resid": 0.0, "connected": 20.0},
                     index=pd.Index(cells, name="cell_id"))
    for c, v in (shift or {}).items():
        f.loc[c, "rsrp_resid_db"] += v
    if silent is not None:
        f.loc[silent, ["n", "connected"]] = 0
        f.loc[silent, ["rsrp_resid_db", "sinr_db"]] = np.nan
    return f


def test_residual_detector_flags_a_shifted_cell_and_a_silent_one_not_a_quiet_interval():
    rng = np.random.default_rng(0)
    cells = [f"C{i}" for i in range(12)]
    det = ResidualDetector()
    with pytest.raises(InputError, match="baseline"):
        det.fit()
    for _ in range(4):
        det.learn(_frame(cells, rng))
    det.fit()
    ts = pd.Timestamp("2024-01-01")
    quiet = [d for _ in range(30) for d in det.update(_frame(cells, rng), ts)]
    assert quiet == []
    found = det.update(_frame(cells, rng, {"C3": -6.0}, silent="C7"), ts, alarms=["C9"])
    assert {(d.cell, d.reason.split(":")[0].split(" ")[0]) for d in found} == {
        ("C3", "residual"), ("C7", "silent"), ("C9", "cell-down")}
    # a smaller steady shift builds up in the CUSUM: found in the second interval
    assert det.update(_frame(cells, rng, {"C5": -2.2}), ts) == []
    assert [d.cell for d in det.update(_frame(cells, rng, {"C5": -2.2}), ts)] == ["C5"]
    with pytest.raises(InputError, match="detect_on"):
        ResidualDetector(detect_on=("rsrp", "volume"))


# ------------------------------------------------------------------ diagnosis
@pytest.fixture(scope="module")
def twin() -> DigitalTwin:
    return DigitalTwin(_small([], users=1200))


def _reports(twin: DigitalTwin, truth: DigitalTwin, cell: str, seed: int = 1) -> pd.DataFrame:
    """Measurement rows of ``cell`` as the faulty truth gives them (1 dB noise)."""
    rng = np.random.default_rng(seed)
    c = twin.network.cell_names.index(cell)
    rsrp = truth.link_rsrp_dbm()
    slots = truth.slot_cells()
    users = np.flatnonzero(((slots == c) & np.isfinite(rsrp) & (rsrp > -125)).any(axis=1))
    users = rng.choice(users, size=min(60, users.size), replace=False)
    df = pd.DataFrame({"ue_id": [f"ue{u}" for u in users], "cell_id": cell,
                       "x_m": twin.users.x_m[users], "y_m": twin.users.y_m[users]})
    df["rsrp_dbm"] = predict_reports(truth, df) + rng.normal(0.0, 1.0, len(df))
    return df


@pytest.mark.parametrize("fault,expect", [("tilt", 6.0), ("power", 6.0)])
def test_diagnosis_names_the_injected_fault_and_estimates_it(twin, fault, expect):
    truth = twin.copy()
    c = twin.network.cell_names.index("S3/2")
    if fault == "tilt":
        truth.network.cell_elec_tilt_deg[c] += expect
    else:
        truth.network.cell_tx_power_dbm[c] -= expect
    rep = _reports(twin, truth, "S3/2")
    d = diagnose(twin, Detection("S3/2", pd.Timestamp(0), "residual", {"z_rsrp": -9.0}), rep)
    assert d.cause == fault
    est = d.estimate["delta_deg" if fault == "tilt" else "loss_db"]
    assert est == pytest.approx(expect, abs=1.5)
    alarm = diagnose(twin, Detection("S3/2", pd.Timestamp(0), "cell-down alarm", {}), rep)
    assert alarm.cause == "outage"
    with pytest.raises(InputError, match="cell"):
        diagnose(twin, Detection("nope", pd.Timestamp(0), "residual", {}), rep)


# ------------------------------------------------------------------ compensation
def test_compensation_local_search_matches_brute_force(twin):
    opts = compensation_options(twin, ["S0/1"], neighbours=2, tilt_steps=(2.0, 6.0))
    assert len({o.group for o in opts}) == 2
    exact = solve_compensation(twin, ["S0/1"], opts, exhaustive_limit=10_000)
    local = solve_compensation(twin, ["S0/1"], opts, exhaustive_limit=0)
    assert exact.method == "exhaustive" and local.method == "local search"
    assert exact.recovered_users > 0
    assert (local.out_after, local.plan.cost()) == (exact.out_after, exact.plan.cost())
    assert local.evaluations <= exact.evaluations
    with pytest.raises(InputError, match="failed"):
        compensation_options(twin, ["S9/9"])


# ------------------------------------------------------------------ the loop
def test_selfheal_run_detects_diagnoses_compensates_and_reverts(tmp_path):
    # a scenario file written elsewhere: other cells, other times than the built-in one
    text = (files("twinnet") / "scenarios" / "selfheal.toml").read_text()
    text = text[:text.index("[[events]]")].replace("count = 3000", "count = 1500").replace(
        "report_s = 900.0", "report_s = 300.0").replace("reports_per_interval = 600",
                                                        "reports_per_interval = 500")
    text += """
[[events]]
type = "cell_outage"
cell = "S0/1"
at_s = 2700.0
duration_s = 1200.0

[[events]]
type = "pa_degradation"
cell = "S4/2"
loss_db = 6.0
at_s = 4500.0
duration_s = 1200.0
"""
    path = tmp_path / "faults.toml"
    path.write_text(text)
    r = CliRunner().invoke(app, ["run", str(path), "--llm", "none", "--json",
                                 "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout[r.stdout.index("{"):])
    assert rep["policy"] == "solver" and rep["verified_on"] == "emulator"
    ev = {e["type"]: e for e in rep["events"]}
    out, pa = ev["cell_outage"], ev["pa_degradation"]
    assert out["detected_s"] is not None and out["delay_s"] <= 2 * 300
    assert out["diagnosis"] == "outage" and out["actions"]
    m = out["compensation"]["measured"]
    assert m["outage_with_plan"] < m["outage_without_plan"]   # coverage raised, on the truth
    assert out["reverted_s"] is not None and out["reverted_s"] >= out["start_s"] + 1200
    assert pa["detected_s"] is not None and pa["delay_s"] <= 4 * 300
    assert pa["diagnosis"] == "power"
    assert rep["false_alarms"] <= 1
    assert {"baseline", "after", "plan", "truth", "timings_s"} <= set(rep)


def test_a_quiet_network_raises_no_alarm():
    with ContextStore(":memory:") as store:
        loop = SelfHealingLoop(_small([], users=900), store, "solver")
        rep = loop.run(20)
    assert rep["events"] == [] and rep["false_alarms"] == 0, rep["false_alarm_detail"]
    assert rep["plan"] == []


def test_bad_policy_and_a_network_without_time_are_refused():
    with ContextStore(":memory:") as store:
        with pytest.raises(InputError, match="policy"):
            SelfHealingLoop(_small([]), store, "magic")
        with pytest.raises(InputError, match="simulation"):
            SelfHealingLoop("hotspot", store)


def test_model_explanations_may_not_invent_numbers():
    ev = json.dumps({"cell": "S3/2", "estimate": {"delta_deg": 6.0}, "z": 4.83})
    assert _unsupported_numbers("S3/2 is tilted 6° down (z 4.8)", ev) == []
    assert _unsupported_numbers("a 45-degree tilt on S3/2", ev) == ["45"]
