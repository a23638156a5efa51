"""The closed loop on a schedule: observe every interval, learn, decide every few intervals."""

from __future__ import annotations

from twinnet.emulator import GroundTruth
from twinnet.loop.orchestrator import ClosedLoop
from twinnet.store import ContextStore


def test_scheduled_loop_observes_learns_and_acts(tmp_path):
    store = ContextStore(tmp_path / "s.duckdb")
    # a strongly wrong twin (20 dB area losses, 3° tilt errors): the fidelity monitor flags L1
    truth = GroundTruth(seed=2, demand="peak", n_areas=6, area_loss_db=(15.0, 25.0),
                        tilt_error_std_deg=3.0)
    loop = ClosedLoop("hotspot", store, None, truth=truth, proof_budget=200,
                      reports_per_interval=200)
    reports = loop.run(intervals=5, every=4, observe_first=3)
    assert len(reports) == 1  # one decision at the third interval
    rep = reports[0]
    assert rep["baseline"]["peak_prb_utilization"] >= 0.9 and "S0/1" in rep["congested_cells"]
    assert rep["plan_source"].startswith("rrm") and "rrm" in rep  # decided, solver only
    # learn: drift flagged on L1 from the measurement reports, retrained by rule (no model)
    assert loop.management and loop.management[0]["retrained"] == ["L1"]
    assert loop.management[0]["decided_by"] == "rule"
    assert len(store.models()) >= 1
    fid = store.fidelity()
    assert (fid.layer == "L1").sum() == 5 and fid.drift.any()
    d = store.decisions()
    assert len(d) == 1 and d.status.iloc[0] in {"applied", "rolled_back", "infeasible"}
