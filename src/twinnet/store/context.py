"""``ContextStore``: the deployment's context database (one DuckDB file).

>>> store = ContextStore(":memory:")                 # or a path; default: $TWINNET_STORE
>>> store.query("SELECT count(*) AS n FROM cells").n[0]
0

Queries return pandas DataFrames (:meth:`query`) or Arrow tables (:meth:`arrow`). Writes
from TwinNet itself (emulator telemetry, twin decisions) go through the same validation as
file ingestion: a bad row is quarantined with its reason, never silently stored or dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from twinnet.errors import InputError
from twinnet.store.ingest import IngestReport, ingest_file
from twinnet.store.schema import DDL, INGEST_TABLES, SCHEMA_VERSION
from twinnet.store.validate import validate_batch

if TYPE_CHECKING:
    import pyarrow as pa

    from twinnet.network.topology import Network
    from twinnet.scenario import Scenario

__all__ = ["ContextStore", "default_store_path"]


def default_store_path() -> Path:
    """``$TWINNET_STORE`` if set, else ``runs/twinnet.duckdb`` under the working directory."""
    env = os.environ.get("TWINNET_STORE")
    return Path(env) if env else Path("runs") / "twinnet.duckdb"


def _now() -> pd.Timestamp:
    return pd.Timestamp.now("UTC").tz_convert(None)


def _json(obj: Any) -> str:
    return json.dumps(obj, default=lambda o: o.item() if isinstance(o, np.generic) else str(o),
                      allow_nan=False)


class ContextStore:
    """The context database of one deployment.

    Parameters
    ----------
    path:
        DuckDB file (created with its folder if missing), ``":memory:"`` for a throw-away
        store, or ``None`` for :func:`default_store_path`.
    read_only:
        open an existing file without write access (several readers may share it).
    """

    def __init__(self, path: str | Path | None = None, read_only: bool = False):
        target = default_store_path() if path is None else path
        self.path = str(target)
        if self.path != ":memory:":
            p = Path(self.path)
            if read_only and not p.exists():
                raise InputError("store", self.path, "an existing store file")
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise InputError("store", self.path, f"a DuckDB file that can be opened ({exc})") \
                from exc
        self._in_tx = False
        if not read_only:
            for ddl in DDL:
                self.con.execute(ddl)
            # the DDL brings an older file up to date (new columns are added): say so
            self.con.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) "
                             "DO UPDATE SET value = excluded.value", [str(SCHEMA_VERSION)])

    # ------------------------------------------------------------------ basics
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> ContextStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ContextStore({self.path!r})"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All writes inside commit together or not at all (re-entrant)."""
        if self._in_tx:
            yield self.con
            return
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")
        finally:
            self._in_tx = False

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run a query and return a pandas DataFrame."""
        return self.con.execute(sql, params or []).df()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a query and return an Arrow table."""
        res: Any = self.con.sql(sql, params=list(params) if params else None)
        for name in ("to_arrow_table", "arrow"):  # across DuckDB versions
            if hasattr(res, name):
                return getattr(res, name)()
        raise RuntimeError("this DuckDB has no Arrow export")

    def count(self, table: str) -> int:
        if table not in self.tables():
            raise InputError("table", table, f"one of {self.tables()}")
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]

    def tables(self) -> list[str]:
        return sorted(self.query("SELECT table_name FROM information_schema.tables "
                                 "WHERE table_schema = 'main'").table_name)

    def _insert_frame(self, con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> int:
        if not len(df):
            return 0
        name = f"_frame_{uuid.uuid4().hex[:8]}"
        con.register(name, df)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name} ON CONFLICT DO NOTHING")
        finally:
            con.unregister(name)
        return len(df)

    # ------------------------------------------------------------------ topology
    def known_cells(self) -> set[str]:
        return set(self.query("SELECT cell_id FROM cells").cell_id)

    def _register_cells(self, con: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> None:
        df = pd.DataFrame({"cell_id": list(ids), "active": True, "updated_at": _now()})
        self._insert_frame(con, "cells", df)

    def register_cells(self, ids: Iterable[str]) -> None:
        """Add bare cells (id only) — for telemetry from networks without a topology file."""
        with self.transaction() as con:
            self._register_cells(con, ids)

    def write_topology(self, network: Network, scenario: Scenario | None = None) -> int:
        """Store (insert or replace) sites, carriers, cells and antennas of ``network``."""
        n = network
        ts = _now()
        sites = pd.DataFrame({"site_id": n.site_names, "x_m": n.site_x_m, "y_m": n.site_y_m,
                              "height_m": n.site_height_m})
        carriers = pd.DataFrame({
            "carrier_id": [c.name for c in n.carriers], "fc_ghz": [c.fc_ghz for c in n.carriers],
            "bandwidth_mhz": [c.bandwidth_mhz for c in n.carriers],
            "scs_khz": [c.scs_khz for c in n.carriers], "n_prb": [c.n_prb for c in n.carriers]})
        cells = pd.DataFrame({
            "cell_id": n.cell_names, "site_id": [n.site_names[s] for s in n.cell_site],
            "sector": n.cell_sector.astype(int),
            "carrier_id": [n.carriers[k].name for k in n.cell_carrier],
            "azimuth_deg": n.cell_bearing_deg, "mechanical_tilt_deg": n.cell_mech_tilt_deg,
            "electrical_tilt_deg": n.cell_elec_tilt_deg, "tx_power_dbm": n.cell_tx_power_dbm,
            "cio_db": n.cell_cio_db, "active": n.cell_active.astype(bool), "updated_at": ts})
        with self.transaction() as con:
            for table, df, key in (("sites", sites, "site_id"), ("carriers", carriers,
                                   "carrier_id"), ("cells", cells, "cell_id")):
                con.register("_topo", df)
                con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _topo)")
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _topo")
                con.unregister("_topo")
            if scenario is not None:
                a = scenario.antenna
                ant = pd.DataFrame({"cell_id": n.cell_names, "model": a.model,
                                    "hpbw_h_deg": a.hpbw_h_deg, "hpbw_v_deg": a.hpbw_v_deg,
                                    "n_vertical": a.n_vertical,
                                    "element_gain_dbi": a.element_gain_dbi,
                                    "front_to_back_db": a.a_max_db})
                con.register("_topo", ant)
                con.execute("DELETE FROM antennas WHERE cell_id IN (SELECT cell_id FROM _topo)")
                con.execute("INSERT INTO antennas BY NAME SELECT * FROM _topo")
                con.unregister("_topo")
        return len(cells)

    def cells(self) -> pd.DataFrame:
        return self.query("SELECT * FROM cells ORDER BY cell_id")

    def update_cell(self, cell_id: str, **values: Any) -> None:
        allowed = {"azimuth_deg", "mechanical_tilt_deg", "electrical_tilt_deg", "tx_power_dbm",
                   "cio_db", "active"}
        bad = set(values) - allowed
        if bad:
            raise InputError("cell parameter", sorted(bad)[0], f"one of {sorted(allowed)}")
        if cell_id not in self.known_cells():
            raise InputError("cell_id", cell_id, "a cell of the stored topology")
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as con:
            con.execute(f"UPDATE cells SET {sets}, updated_at = ? WHERE cell_id = ?",
                        [*values.values(), _now(), cell_id])

    # ------------------------------------------------------------------ telemetry
    def ingest(self, path: str | Path, table: str | None = None, profile: str | None = None,
               **kwargs: Any) -> IngestReport:
        """Ingest a CSV / Parquet / JSON-lines file (:func:`twinnet.store.ingest.ingest_file`)."""
        return ingest_file(self, path, table=table, profile=profile, **kwargs)

    def append(self, table: str, df: pd.DataFrame, source: str) -> dict[str, int]:
        """Validate and store rows produced in-process (emulator telemetry, twin predictions).

        Returns ``{"accepted", "quarantined"}``; rejected rows go to ``quarantine`` with a
        batch id of ``source``. Rows are keyed by ``source`` and their natural key (time, cell
        [, UE]): appending the same rows again adds nothing.
        """
        if table not in INGEST_TABLES:
            raise InputError("table", table, f"one of {sorted(INGEST_TABLES)}")
        spec = INGEST_TABLES[table]
        raw = df.reset_index(drop=True)
        res = validate_batch(spec, raw, self.known_cells())
        acc = res.accepted
        key = pd.Series(f"{table}|{source}", index=acc.index, dtype=object)
        for c in spec.natural_key:
            key = key + "|" + acc[c].astype(str)
        acc["row_key"] = key
        acc["source"] = source
        batch = f"{source}:{uuid.uuid4().hex[:12]}"
        q = pd.DataFrame({
            "ingest_id": batch, "row_number": res.rejected_index + 1, "table_name": table,
            "field": res.rejected_field, "reason": res.rejected_reason,
            "raw": [_json(r) for r in raw.iloc[res.rejected_index].to_dict("records")]})
        with self.transaction() as con:
            self._insert_frame(con, table, acc)
            self._insert_frame(con, "quarantine", q)
        return {"accepted": len(acc), "quarantined": len(q)}

    def cell_kpis(self, start: Any = None, end: Any = None,
                  cells: Sequence[str] | None = None, source: str | None = None) -> pd.DataFrame:
        """Cell KPI rows in ``[start, end)`` ordered by time and cell."""
        return self._series("cell_kpis", start, end, cells, source)

    def ue_reports(self, start: Any = None, end: Any = None,
                   cells: Sequence[str] | None = None, source: str | None = None
                   ) -> pd.DataFrame:
        """UE measurement reports in ``[start, end)``."""
        return self._series("ue_reports", start, end, cells, source)

    def _series(self, table: str, start: Any, end: Any, cells: Sequence[str] | None,
                source: str | None) -> pd.DataFrame:
        where, params = [], []
        if start is not None:
            where.append("ts >= ?")
            params.append(pd.Timestamp(start))
        if end is not None:
            where.append("ts < ?")
            params.append(pd.Timestamp(end))
        if cells is not None:
            where.append("list_contains(?, cell_id)")
            params.append(list(cells))
        if source is not None:
            where.append("source = ?")
            params.append(source)
        sql = f"SELECT * FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
        return self.query(sql + " ORDER BY ts, cell_id, row_key", params)  # a total order

    def quarantine(self, ingest_id: str | None = None) -> pd.DataFrame:
        if ingest_id is None:
            return self.query("SELECT * FROM quarantine ORDER BY ingest_id, row_number")
        return self.query("SELECT * FROM quarantine WHERE ingest_id = ? ORDER BY row_number",
                          [ingest_id])

    def last_time(self, table: str = "cell_kpis") -> pd.Timestamp | None:
        v = self.con.execute(f"SELECT max(ts) FROM {table}").fetchone()
        return None if v is None or v[0] is None else pd.Timestamp(v[0])

    # ------------------------------------------------------------------ events and decisions
    def log_event(self, kind: str, message: str, *, layer: str | None = None,
                  cell_id: str | None = None, severity: str = "info",
                  payload: dict[str, Any] | None = None, ts: Any = None) -> str:
        eid = uuid.uuid4().hex
        with self.transaction() as con:
            con.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [eid, pd.Timestamp(ts) if ts is not None else _now(), kind, layer,
                         cell_id, severity, message, _json(payload or {})])
        return eid

    def events(self, kind: str | None = None) -> pd.DataFrame:
        if kind is None:
            return self.query("SELECT * FROM events ORDER BY ts")
        return self.query("SELECT * FROM events WHERE kind = ? ORDER BY ts", [kind])

    def record_decision(self, kind: str, plan: Any, evidence: dict[str, Any], status: str,
                        source: str, ts: Any = None) -> str:
        did = uuid.uuid4().hex
        with self.transaction() as con:
            con.execute("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [did, pd.Timestamp(ts) if ts is not None else _now(), kind, status,
                         _json(plan), _json(evidence), source])
        return did

    def update_decision(self, decision_id: str, status: str,
                        evidence: dict[str, Any] | None = None) -> None:
        with self.transaction() as con:
            if evidence is None:
                con.execute("UPDATE decisions SET status = ? WHERE decision_id = ?",
                            [status, decision_id])
            else:
                con.execute("UPDATE decisions SET status = ?, evidence = ? WHERE decision_id = ?",
                            [status, _json(evidence), decision_id])

    def decisions(self) -> pd.DataFrame:
        return self.query("SELECT * FROM decisions ORDER BY ts")

    def log_llm_call(self, purpose: str, backend: str, model: str,
                     messages: list[dict[str, str]], response: str | None,
                     prompt_tokens: int = 0, completion_tokens: int = 0,
                     latency_s: float = 0.0, outcome: str = "ok",
                     detail: dict[str, Any] | None = None, ts: Any = None) -> str:
        """Audit one LLM call: the full prompt, the raw response, tokens, latency and what became
        of it (``ok``, ``invalid``, ``rejected``, ``error: …``)."""
        cid = uuid.uuid4().hex
        with self.transaction() as con:
            con.execute("INSERT INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [cid, pd.Timestamp(ts) if ts is not None else _now(), purpose, backend,
                         model, _json(messages), response, int(prompt_tokens),
                         int(completion_tokens), float(latency_s), outcome,
                         _json(detail or {})])
        return cid

    def llm_calls(self) -> pd.DataFrame:
        return self.query("SELECT * FROM llm_calls ORDER BY ts")

    def log_sync(self, direction: str, summary: dict[str, Any], ts: Any = None) -> str:
        if direction not in ("P2V", "V2P"):
            raise InputError("direction", direction, "'P2V' or 'V2P'")
        sid = uuid.uuid4().hex
        with self.transaction() as con:
            con.execute("INSERT INTO sync_log VALUES (?, ?, ?, ?)",
                        [sid, pd.Timestamp(ts) if ts is not None else _now(), direction,
                         _json(summary)])
        return sid

    def sync_log(self) -> pd.DataFrame:
        return self.query("SELECT * FROM sync_log ORDER BY ts")

    # ------------------------------------------------------------------ fidelity
    def record_fidelity(self, ts: Any, layer: str, metric: str, value: float, n: int,
                        threshold: float | None = None, drift: bool = False) -> None:
        with self.transaction() as con:
            con.execute("INSERT INTO fidelity VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
                        "SET value = excluded.value, n = excluded.n, threshold = "
                        "excluded.threshold, drift = excluded.drift",
                        [pd.Timestamp(ts), layer, metric, float(value), int(n), threshold,
                         bool(drift)])

    def fidelity(self, layer: str | None = None) -> pd.DataFrame:
        if layer is None:
            return self.query("SELECT * FROM fidelity ORDER BY ts, layer, metric")
        return self.query("SELECT * FROM fidelity WHERE layer = ? ORDER BY ts, metric", [layer])

    # ------------------------------------------------------------------ model registry
    def register_model(self, layer: str, name: str, estimator: Any,
                       metrics: dict[str, Any] | None = None,
                       params: dict[str, Any] | None = None, activate: bool = True) -> str:
        """Store a fitted engine (pickled) as the next version of ``(layer, name)``."""
        blob = pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
        with self.transaction() as con:
            v = con.execute("SELECT coalesce(max(version), 0) + 1 FROM models WHERE layer = ? "
                            "AND name = ?", [layer, name]).fetchone()[0]  # type: ignore[index]
            mid = f"{layer}/{name}/v{v}"
            if activate:
                con.execute("UPDATE models SET active = false WHERE layer = ?", [layer])
            con.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [mid, layer, name, v, _now(), activate, _json(metrics or {}),
                         _json(params or {}), blob])
        return mid

    def load_model(self, layer: str, name: str | None = None, version: int | None = None
                   ) -> Any:
        """The active model of a layer, or a given name/version."""
        sql = "SELECT artifact FROM models WHERE layer = ?"
        params: list[Any] = [layer]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        elif name is None:
            sql += " AND active"
        row = self.con.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()
        if row is None:
            raise InputError("model", f"{layer}/{name or 'active'}", "a registered model")
        return pickle.loads(row[0])

    def models(self) -> pd.DataFrame:
        return self.query("SELECT model_id, layer, name, version, created_at, active, metrics, "
                          "params FROM models ORDER BY layer, name, version")
