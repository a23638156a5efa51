"""The closed loop on a schedule: observe every interval, learn, decide every few intervals."""

from __future__ import annotations

import numpy as np

from twinnet.actions import ActionPlan, SetCellActive, SetCellOffset, SetElectricalTilt, SetTxPower
from twinnet.emulator import GroundTruth
from twinnet.loop.orchestrator import ClosedLoop
from twinnet.store import ContextStore

_PARAMS = ("cell_tx_power_dbm", "cell_elec_tilt_deg", "cell_mech_tilt_deg", "cell_active",
           "cell_cio_db")


def test_scheduled_loop_observes_learns_and_acts(tmp_path):
    store = ContextStore(tmp_path / "s.duckdb")
    # a strongly wrong twin (20 dB area losses, 3° tilt errors): the fidelity monitor flags L1
    truth = GroundTruth(seed=2, demand="peak", n_areas=6, area_loss_db=(15.0, 25.0),
                        tilt_error_std_deg=3.0)
    loop = ClosedLoop("hotspot", store, None, truth=truth, proof_budget=200,
                      reports_per_interval=200)
    topology = store.cells()
    configured = loop.emu.recorded.copy()
    reports = loop.run(intervals=5, every=4, observe_first=3)
    assert len(reports) == 1  # one decision at the third interval
    rep = reports[0]
    assert rep["baseline"]["peak_prb_utilization"] >= 0.9 and "S0/1" in rep["congested_cells"]
    assert rep["plan_source"].startswith("rrm") and "rrm" in rep  # decided, solver only
    # learn: drift flagged on L1 from the measurement reports, retrained by rule (no model)
    assert len(loop.management) == 1 and loop.management[0]["retrained"] == ["L1"]
    assert loop.management[0]["decided_by"] == "rule"
    assert len(store.models()) >= 1
    fid = store.fidelity()
    assert (fid.layer == "L1").sum() == 5 and fid.drift.any()

    # decide: at busy-hour demand behind 15-25 dB of extra loss, the calibrated twin sees S0/1
    # asked for more than twice its PRBs. Utilisation is capped at 1, so a plan helps the peak
    # only if it brings every cell below saturation, and even the strongest offload the
    # candidate actions allow (every small cell on with +6 dB range extension, S0/1 8° further
    # down and 6 dB quieter) leaves a cell saturated: no plan meets the target, none improves
    # the peak. The loop must leave the network alone — an action with no verified benefit
    # never reaches it — and record the decision as infeasible.
    twin = loop.twin  # as at the decision: nothing applied since, L1 trained once
    cells = twin.evaluate(uplink=False).cells.set_index("name")
    assert cells.loc["S0/1", "offered_load"] > 2.0
    small = [c for c, on in zip(twin.network.cell_names, twin.network.cell_active,
                                strict=True) if not on]
    strongest = [SetElectricalTilt(cell="S0/1",
                                   tilt_deg=float(cells.loc["S0/1", "electrical_tilt_deg"]) + 8),
                 SetTxPower(cell="S0/1", tx_power_dbm=float(cells.loc["S0/1", "tx_power_dbm"]) - 6)]
    for c in small:
        strongest += [SetCellActive(cell=c, active=True), SetCellOffset(cell=c, offset_db=6.0)]
    assert len(small) == 4
    assert twin.what_if(ActionPlan(actions=strongest)).kpis["peak_prb_utilization"] > 0.999

    d = store.decisions()
    assert len(d) == 1 and d.status.iloc[0] == "infeasible" and d.plan.iloc[0] == "[]"
    assert rep["plan"] == [] and rep["after"] == rep["baseline"]
    assert "no candidate plan" in rep["note"]
    # nothing reached the network: no V2P, the stored topology and the emulated network's
    # configuration are as they were before the loop started
    assert not (store.sync_log().direction == "V2P").any()
    assert store.cells().equals(topology)
    for a in _PARAMS:
        assert np.array_equal(getattr(loop.emu.recorded, a), getattr(configured, a)), a
        assert np.array_equal(getattr(twin.network, a), getattr(configured, a)), a
