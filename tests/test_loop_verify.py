"""Verification, rollback and the capacity loop on the emulated network."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twinnet.actions import ActionPlan, SetCellActive, SetElectricalTilt, SetTxPower
from twinnet.emulator import GroundTruth, NetworkEmulator
from twinnet.loop.apply import apply_and_measure
from twinnet.loop.capacity_loop import run_capacity_loop
from twinnet.policy.constraints import Constraints
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin
from twinnet.twin.sync import TwinSync
from twinnet.twin.verify import Verification, verify_plan


@pytest.fixture(scope="module")
def twin():
    return DigitalTwin.from_scenario("hotspot")


def test_verification_names_each_failed_constraint(twin):
    base = twin.evaluate(uplink=False)
    # switching the congested cell off: its users crowd the neighbours, outage rises
    off = ActionPlan(actions=[SetCellActive(cell="S0/1", active=False)])
    v = verify_plan(twin, off, Constraints(peak_prb_utilization=0.5), base)
    assert not v.accepted
    assert any(s.startswith("peak PRB utilisation") for s in v.violations)
    # a no-op plan improves nothing
    same = ActionPlan(actions=[SetTxPower(cell="S0/1", tx_power_dbm=43.0)])
    v2 = verify_plan(twin, same, Constraints(peak_prb_utilization=0.99), base)
    assert not v2.accepted and any("no improvement" in s for s in v2.violations)
    # a real improvement under a loose target is accepted
    sc = ActionPlan(actions=[SetCellActive(cell="SC1/1", active=True),
                             SetCellActive(cell="SC2/1", active=True)])
    v3 = verify_plan(twin, sc, Constraints(peak_prb_utilization=0.95,
                                           max_p5_throughput_drop=1.0,
                                           max_outage_increase=1.0), base)
    assert v3.accepted and v3.objective_gain > 0


def test_inverse_plan_restores_every_parameter(twin):
    before = twin.network.copy()
    plan = ActionPlan(actions=[SetElectricalTilt(cell="S0/1", tilt_deg=14.0),
                               SetTxPower(cell="S0/1", tx_power_dbm=37.0),
                               SetCellActive(cell="SC1/1", active=True)])
    net = twin.network.copy()
    plan.apply(net)
    plan.inverse(before).apply(net)
    for a in ("cell_elec_tilt_deg", "cell_tx_power_dbm", "cell_active", "cell_cio_db"):
        assert np.array_equal(getattr(net, a), getattr(before, a)), a


def test_rollback_when_measured_is_worse_than_predicted(tmp_path):
    """A wrong prediction (a hand-made Verification: the fault we cannot provoke with a
    correct twin) must be caught by the measurement and undone."""
    emu = NetworkEmulator("hotspot", truth=GroundTruth(demand="peak", n_areas=0),
                          reports_per_interval=20)
    with ContextStore(tmp_path / "s.duckdb") as store:
        twin = DigitalTwin.from_scenario("hotspot")
        sync = TwinSync(store, twin)
        sync.publish_topology(emu.recorded, twin.scenario)
        before = emu.recorded.copy()
        plan = ActionPlan(actions=[SetElectricalTilt(cell="S0/1", tilt_deg=2.0)])
        wrong = Verification(True, [], {"peak_prb_utilization": 0.1}, 0.8)
        out = apply_and_measure(sync, emu, plan, wrong, Constraints())
        assert out.applied and out.rolled_back
        # rolled back because the network measured worse than predicted beyond the tolerance
        assert out.measured["peak_prb_utilization"] > 0.1 + Constraints().rollback_tolerance
        assert np.array_equal(emu.recorded.cell_elec_tilt_deg, before.cell_elec_tilt_deg)
        assert np.array_equal(twin.network.cell_elec_tilt_deg, before.cell_elec_tilt_deg)
        d = store.decisions().iloc[0]
        assert d.status == "rolled_back"
        ev = json.loads(d.evidence)
        assert ev["measured"]["peak_prb_utilization"] == out.measured["peak_prb_utilization"]
        assert (store.sync_log().direction == "V2P").sum() == 2  # the plan and its undo


@pytest.mark.slow
def test_capacity_loop_cuts_the_measured_peak(tmp_path):
    with ContextStore(tmp_path / "s.duckdb") as store:
        rep = run_capacity_loop("hotspot", store, proof_budget=20)
        assert rep["baseline"]["peak_prb_utilization"] >= 0.9
        assert rep["verified_on"] == "emulator" and not rep["rolled_back"]
        assert rep["after"]["peak_prb_utilization"] <= 0.5
        assert rep["after"]["jain_fairness"] > rep["baseline"]["jain_fairness"]
        assert rep["plan"] and rep["rrm"]["cost"] <= rep["heuristic"]["cost"]
        assert abs(rep["after"]["peak_prb_utilization"]
                   - rep["predicted"]["peak_prb_utilization"]) < 0.1
        assert store.decisions().status.tolist() == ["applied"]
        t = rep["timings_s"]  # the decision and every stage, timed
        assert {"decision", "llm", "solver", "twin", "observe", "learn", "apply",
                "total"} <= set(t)
        assert 0 < t["decision"] <= t["total"]
        assert t["llm"] + t["solver"] + t["twin"] <= t["decision"] + 1e-3
