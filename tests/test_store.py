"""Context store: ingestion with validation and quarantine, idempotency, crash consistency."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinnet.datasets import mlmatt
from twinnet.errors import InputError
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin


@pytest.fixture(scope="module")
def mlmatt_file() -> Path:
    return mlmatt.path("train")


@pytest.fixture(scope="module")
def mlmatt_truth(mlmatt_file: Path) -> tuple[int, int]:
    """Rows of the real file with every field filled (good) and with a gap (bad), counted
    independently of the store with pandas."""
    raw = pd.read_csv(mlmatt_file, dtype=str, keep_default_na=False)
    blank = (raw.apply(lambda c: c.str.strip()) == "").any(axis=1)
    return int((~blank).sum()), int(blank.sum())


def test_mlmatt_ingest_quarantines_bad_rows_and_is_idempotent(tmp_path, mlmatt_file,
                                                              mlmatt_truth):
    good, bad = mlmatt_truth
    assert bad > 0  # the real file carries the broken Excel rows
    with ContextStore(tmp_path / "s.duckdb") as store:
        rep = store.ingest(mlmatt_file, register_unknown_cells=True)
        assert rep.profile == "mlmatt" and rep.status == "complete"
        assert rep.rows_seen == good + bad
        assert rep.rows_accepted == good == store.count("cell_kpis")
        assert rep.rows_quarantined == bad == store.count("quarantine")
        q = store.quarantine(rep.ingest_id)
        assert set(q.reason) == {"missing value"}
        assert set(q.field) <= {"users_max_dl", "users_max_ul", "users_max"}
        # the raw row is kept verbatim, with its 1-based data row number
        raw = pd.read_csv(mlmatt_file, dtype=str, keep_default_na=False)
        first = q.iloc[0]
        assert json.loads(first.raw)["CellName"] == raw.CellName.iloc[first.row_number - 1]
        # units: percent → fraction; no-date rows keep their time of day
        kp = store.query("SELECT min(prb_util_dl) lo, max(prb_util_dl) hi, "
                         "count(ts) n_ts, min(time_of_day_min) t0, max(time_of_day_min) t1 "
                         "FROM cell_kpis").iloc[0]
        assert kp.lo >= 0.0 and kp.hi <= 1.0 and kp.n_ts == 0
        assert kp.t0 == 0 and kp.t1 == 23 * 60 + 45
        assert len(store.known_cells()) == 33
        # second ingest of the same file adds nothing
        again = store.ingest(mlmatt_file, register_unknown_cells=True)
        assert again.status == "already ingested"
        assert store.count("cell_kpis") == good and store.count("quarantine") == bad
    # and the file survives re-opening
    with ContextStore(tmp_path / "s.duckdb", read_only=True) as store:
        assert store.count("cell_kpis") == good


def _write_bad_kpis(path: Path) -> None:
    rows = [
        "ts,cell_id,prb_util_dl,thr_dl_mbps,users_max",
        "2024-01-01T00:00:00Z,C1,0.5,10,3",            # good
        "2024-01-01T00:15:00Z,C1,0.6,#¡VALOR!,3",      # Excel error string
        "2024-01-01T00:15:00Z,C9,0.6,12,3",            # unknown cell
        "2024-01-01T00:30:00Z,C2,1.7,12,3",            # out of range (fraction > 1)
        "not a time,C2,0.2,12,3",                      # unparsable timestamp
        "2024-01-01T00:45:00Z,C2,nan,12,3",            # NaN
        "2024-01-01T01:00:00Z,C2,0.3,inf,3",           # not finite
        "2024-01-01T01:15:00Z,C2,0.3,11,",             # missing
        "2024-01-01T01:30:00+01:00,C2,0.4,9,4",        # good (time zone → UTC)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_every_bad_row_gets_its_reason(tmp_path):
    f = tmp_path / "kpis.csv"
    _write_bad_kpis(f)
    with ContextStore(tmp_path / "s.duckdb") as store:
        store.register_cells(["C1", "C2"])
        rep = store.ingest(f, table="cell_kpis")
        assert (rep.rows_accepted, rep.rows_quarantined) == (2, 7)
        q = store.quarantine(rep.ingest_id).set_index("row_number")
        assert q.loc[2, "field"] == "thr_dl_mbps" and "unparsable" in q.loc[2, "reason"]
        assert "#¡VALOR!" in q.loc[2, "reason"]
        assert q.loc[3, "reason"] == "unknown cell 'C9'"
        assert q.loc[4, "field"] == "prb_util_dl" and q.loc[4, "reason"].startswith(
            "out of range [0, 1]")
        assert q.loc[5, "field"] == "ts" and "unparsable timestamp" in q.loc[5, "reason"]
        assert q.loc[6, "reason"] == "missing value"
        assert q.loc[7, "reason"] == "not finite"
        assert q.loc[8, "field"] == "users_max"
        ok = store.cell_kpis()
        assert list(ok.cell_id) == ["C1", "C2"]
        assert ok.ts.iloc[1] == pd.Timestamp("2024-01-01 00:30:00")  # 01:30+01:00 in UTC


def test_parquet_and_jsonl_ue_reports_and_natural_key_dedup(tmp_path):
    df = pd.DataFrame({
        "ts": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:00", "2024-01-01 00:10"]),
        "ue_id": ["u1", "u2", "u1"], "cell_id": ["C1", "C1", "C1"],
        "rsrp_dbm": [-90.0, -170.0, -95.0], "x_m": [0.0, 1.0, 2.0], "y_m": [0.0, 0.0, 0.0]})
    pq_file = tmp_path / "mr.parquet"
    df.to_parquet(pq_file)
    jl = tmp_path / "mr.jsonl"
    df.assign(ts=df.ts.astype(str)).to_json(jl, orient="records", lines=True)
    with ContextStore(tmp_path / "s.duckdb") as store:
        store.register_cells(["C1"])
        a = store.ingest(pq_file)
        assert a.table == "ue_reports" and (a.rows_accepted, a.rows_quarantined) == (2, 1)
        assert "out of range [-156, -31]" in store.quarantine(a.ingest_id).reason.iloc[0]
        # the same reports from another file (another format): same natural key, no new rows
        b = store.ingest(jl)
        assert b.status == "complete" and b.rows_accepted == 0 and b.rows_duplicate == 2
        assert store.count("ue_reports") == 2


def test_bad_input_errors_name_the_field_and_keep_stored_data(tmp_path, mlmatt_file):
    f = tmp_path / "kpis.csv"
    _write_bad_kpis(f)
    with ContextStore(tmp_path / "s.duckdb") as store:
        store.register_cells(["C1", "C2"])
        store.ingest(f)
        before = store.count("cell_kpis")
        nocol = tmp_path / "nocell.csv"
        nocol.write_text("ts,prb_util_dl\n2024-01-01,0.5\n")
        with pytest.raises(InputError, match="cell_id"):
            store.ingest(nocol)
        with pytest.raises(InputError, match="profile"):
            store.ingest(f, profile="nosuch")
        with pytest.raises(InputError, match="path"):
            store.ingest(tmp_path / "missing.csv")
        with pytest.raises(InputError, match="direction"):
            store.log_sync("sideways", {})
        with pytest.raises(InputError, match="cell_id"):
            store.update_cell("nosuch", tx_power_dbm=40.0)
        assert store.count("cell_kpis") == before


def test_topology_models_decisions_roundtrip(tmp_path):
    twin = DigitalTwin.from_scenario("hotspot")
    with ContextStore(tmp_path / "s.duckdb") as store:
        assert store.write_topology(twin.network, twin.scenario) == 25  # 21 + 4 candidates
        cells = store.cells()
        assert list(cells.cell_id) == sorted(twin.network.cell_names)
        row = cells.set_index("cell_id").loc["S0/1"]
        assert row.tx_power_dbm == twin.network.cell_tx_power_dbm[0]
        assert store.count("antennas") == 25
        assert int(cells.active.sum()) == 21
        mid1 = store.register_model("L1", "linear", {"coef": [1.0, 2.0]}, {"rmse_db": 9.0})
        mid2 = store.register_model("L1", "gbm", {"coef": [3.0]}, {"rmse_db": 6.0})
        assert (mid1, mid2) == ("L1/linear/v1", "L1/gbm/v1")
        assert store.load_model("L1") == {"coef": [3.0]}
        assert store.load_model("L1", "linear") == {"coef": [1.0, 2.0]}
        assert store.models().active.tolist() == [True, False]
        did = store.record_decision("plan", [{"type": "set_tx_power"}], {"why": "test"},
                                    "proposed", "unit-test")
        store.update_decision(did, "applied", {"measured": 0.5})
        d = store.decisions().iloc[0]
        assert d.status == "applied" and json.loads(d.evidence) == {"measured": 0.5}
        arrow = store.arrow("SELECT cell_id FROM cells")
        assert arrow.num_rows == 25


_CHILD = textwrap.dedent("""
    import sys
    from twinnet.store import ContextStore
    store = ContextStore(sys.argv[1])
    def tick(done, total):
        print(done, flush=True)
    store.ingest(sys.argv[2], register_unknown_cells=True, batch_size=int(sys.argv[3]),
                 on_batch=tick)
    print("finished", flush=True)
""")


def _ingest_killed(store_path: Path, data: Path, batch: int, kill_after: int) -> int:
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(store_path), str(data),
                             str(batch)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for seen, line in enumerate(proc.stdout, start=1):
        if line.strip() == "finished":
            break
        if seen == kill_after:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    return proc.returncode


@pytest.mark.slow
def test_kill_9_mid_ingest_leaves_store_consistent_and_resumable(tmp_path, mlmatt_file,
                                                                 mlmatt_truth):
    good, bad = mlmatt_truth
    db = tmp_path / "s.duckdb"
    rc = _ingest_killed(db, mlmatt_file, batch=400, kill_after=5)
    assert rc == -signal.SIGKILL
    with ContextStore(db) as store:
        ing = store.query("SELECT * FROM ingests").iloc[0]
        assert ing.status == "running"
        n_rows = store.count("cell_kpis") + store.count("quarantine")
        # whole batches only: every committed row is accepted or quarantined, none half-done
        assert n_rows == ing.rows_seen and n_rows % 400 == 0
        assert 5 * 400 <= n_rows < good + bad
        # resume: the same command completes the file without duplicating anything
        rep = store.ingest(mlmatt_file, register_unknown_cells=True)
        assert rep.status == "complete"
        assert store.count("cell_kpis") == good and store.count("quarantine") == bad
        assert store.query("SELECT count(DISTINCT row_key) n FROM cell_kpis").n[0] == good


def test_append_validates_in_process_rows(tmp_path):
    with ContextStore(":memory:") as store:
        store.register_cells(["A"])
        df = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01", "2024-01-01"]),
                           "cell_id": ["A", "B"], "prb_util_dl": [0.3, 0.2]})
        assert store.append("cell_kpis", df, "unit") == {"accepted": 1, "quarantined": 1}
        assert store.quarantine().reason.iloc[0] == "unknown cell 'B'"
        # same natural key again: nothing new
        store.append("cell_kpis", df.iloc[:1], "unit")
        assert store.count("cell_kpis") == 1
        assert np.isclose(store.cell_kpis().prb_util_dl.iloc[0], 0.3)
