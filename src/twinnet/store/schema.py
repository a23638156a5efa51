"""Tables of the context store and the validation rules of the tables that take telemetry.

One DuckDB file holds one deployment: its topology (sites, carriers, cells, antennas), the
telemetry it reported (cell KPI counters, UE measurement reports), what happened (events, the
P2V/V2P sync log), what was decided (decisions with their evidence), how well the twin tracked
the network (fidelity series) and the AI engines it trained (model registry).

Every telemetry row is either accepted into its table or kept in ``quarantine`` with the reason;
``ingests`` records each file by content hash so that re-ingesting it adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COUNTER_COLUMNS", "CQI_COLUMNS", "DDL", "INGEST_TABLES", "SCHEMA_VERSION", "FieldSpec",
           "TableSpec"]

SCHEMA_VERSION = 2

#: Counters of a time-stepped network per cell and reporting interval (an OSS's performance
#: counters), added to ``cell_kpis`` in schema version 2: (column, SQL type, kind, lo, hi).
CQI_COLUMNS = tuple(f"cqi_{i:02d}" for i in range(16))
COUNTER_COLUMNS: tuple[tuple[str, str, str, float, float], ...] = (
    ("users_connected", "DOUBLE", "float", 0.0, 1e7),
    ("volume_dl_mbit", "DOUBLE", "float", 0.0, 1e12),
    ("volume_ul_mbit", "DOUBLE", "float", 0.0, 1e12),
    ("ho_attempts", "BIGINT", "int", 0, 1e12),
    ("ho_successes", "BIGINT", "int", 0, 1e12),
    ("ho_failures", "BIGINT", "int", 0, 1e12),
    ("ping_pong", "BIGINT", "int", 0, 1e12),
    ("too_early", "BIGINT", "int", 0, 1e12),
    ("too_late", "BIGINT", "int", 0, 1e12),
    ("wrong_cell", "BIGINT", "int", 0, 1e12),
    ("rlf", "BIGINT", "int", 0, 1e12),
    ("drops", "BIGINT", "int", 0, 1e12),
    ("reestablishments", "BIGINT", "int", 0, 1e12),
    ("packets_dl", "BIGINT", "int", 0, 1e15),
    ("packets_late", "BIGINT", "int", 0, 1e15),
    ("cqi_mean", "DOUBLE", "float", 0.0, 15.0),
    *((c, "BIGINT", "int", 0, 1e15) for c in CQI_COLUMNS),
)

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sites (
        site_id VARCHAR PRIMARY KEY, x_m DOUBLE, y_m DOUBLE, height_m DOUBLE,
        lat DOUBLE, lon DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS carriers (
        carrier_id VARCHAR PRIMARY KEY, fc_ghz DOUBLE, bandwidth_mhz DOUBLE, scs_khz INTEGER,
        n_prb INTEGER)""",
    """CREATE TABLE IF NOT EXISTS cells (
        cell_id VARCHAR PRIMARY KEY, site_id VARCHAR, sector INTEGER, carrier_id VARCHAR,
        azimuth_deg DOUBLE, mechanical_tilt_deg DOUBLE, electrical_tilt_deg DOUBLE,
        tx_power_dbm DOUBLE, cio_db DOUBLE, active BOOLEAN, updated_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS antennas (
        cell_id VARCHAR PRIMARY KEY, model VARCHAR, hpbw_h_deg DOUBLE, hpbw_v_deg DOUBLE,
        n_vertical INTEGER, element_gain_dbi DOUBLE, front_to_back_db DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS cell_kpis (
        row_key VARCHAR PRIMARY KEY, ts TIMESTAMP, time_of_day_min INTEGER,
        cell_id VARCHAR NOT NULL, interval_s INTEGER,
        prb_util_dl DOUBLE, prb_util_ul DOUBLE, thr_dl_mbps DOUBLE, thr_ul_mbps DOUBLE,
        thr_dl_max_mbps DOUBLE, thr_ul_max_mbps DOUBLE, users_dl DOUBLE, users_ul DOUBLE,
        users_max_dl DOUBLE, users_max_ul DOUBLE, users_max DOUBLE, unusual BOOLEAN,
        source VARCHAR, ingest_id VARCHAR)""",
    *(f"ALTER TABLE cell_kpis ADD COLUMN IF NOT EXISTS {name} {sql}"
      for name, sql, *_ in COUNTER_COLUMNS),
    """CREATE TABLE IF NOT EXISTS ue_reports (
        row_key VARCHAR PRIMARY KEY, ts TIMESTAMP NOT NULL, ue_id VARCHAR NOT NULL,
        x_m DOUBLE, y_m DOUBLE, cell_id VARCHAR NOT NULL, serving BOOLEAN,
        rsrp_dbm DOUBLE, rsrq_db DOUBLE, sinr_db DOUBLE, source VARCHAR, ingest_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS events (
        event_id VARCHAR PRIMARY KEY, ts TIMESTAMP, kind VARCHAR, layer VARCHAR,
        cell_id VARCHAR, severity VARCHAR, message VARCHAR, payload JSON)""",
    """CREATE TABLE IF NOT EXISTS decisions (
        decision_id VARCHAR PRIMARY KEY, ts TIMESTAMP, kind VARCHAR, status VARCHAR,
        plan JSON, evidence JSON, source VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS llm_calls (
        call_id VARCHAR PRIMARY KEY, ts TIMESTAMP, purpose VARCHAR, backend VARCHAR,
        model VARCHAR, messages JSON, response VARCHAR, prompt_tokens INTEGER,
        completion_tokens INTEGER, latency_s DOUBLE, outcome VARCHAR, detail JSON)""",
    """CREATE TABLE IF NOT EXISTS sync_log (
        sync_id VARCHAR PRIMARY KEY, ts TIMESTAMP, direction VARCHAR, summary JSON)""",
    """CREATE TABLE IF NOT EXISTS fidelity (
        ts TIMESTAMP, layer VARCHAR, metric VARCHAR, value DOUBLE, n INTEGER,
        threshold DOUBLE, drift BOOLEAN, PRIMARY KEY (ts, layer, metric))""",
    """CREATE TABLE IF NOT EXISTS models (
        model_id VARCHAR PRIMARY KEY, layer VARCHAR, name VARCHAR, version INTEGER,
        created_at TIMESTAMP, active BOOLEAN, metrics JSON, params JSON, artifact BLOB)""",
    """CREATE TABLE IF NOT EXISTS ingests (
        ingest_id VARCHAR PRIMARY KEY, sha256 VARCHAR, path VARCHAR, table_name VARCHAR,
        profile VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
        rows_seen BIGINT, rows_accepted BIGINT, rows_quarantined BIGINT)""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        ingest_id VARCHAR, row_number BIGINT, table_name VARCHAR, field VARCHAR,
        reason VARCHAR, raw JSON, PRIMARY KEY (ingest_id, row_number))""",
)


@dataclass(frozen=True)
class FieldSpec:
    """One column of a telemetry table: its kind and its admissible range.

    ``required``: the file must carry the column. A column the file carries must be filled
    in every row (an empty value quarantines the row). ``kind`` is ``float``, ``int``,
    ``bool``, ``str``, ``timestamp`` or ``time_of_day``.
    """

    name: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    required: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str
    fields: tuple[FieldSpec, ...]
    #: fields that must name a known cell of the topology
    cell_fields: tuple[str, ...] = ()
    #: natural key: when all present, duplicates of these values are one row
    natural_key: tuple[str, ...] = ()

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


#: Bounds: PRB utilisation is a fraction; RSRP -156…-31 dBm, RSRQ -43…20 dB and SINR -23…40 dB
#: are the reporting ranges of TS 38.133 §10.1.6/10.1.11/10.1.16 (SS-RSRP/RSRQ/SINR).
INGEST_TABLES: dict[str, TableSpec] = {
    "cell_kpis": TableSpec(
        "cell_kpis",
        (
            FieldSpec("ts", "timestamp", required=False),
            FieldSpec("time_of_day_min", "time_of_day", 0, 1439, required=False),
            FieldSpec("cell_id", "str"),
            FieldSpec("interval_s", "int", 1, 86400, required=False),
            FieldSpec("prb_util_dl", "float", 0.0, 1.0),
            FieldSpec("prb_util_ul", "float", 0.0, 1.0, required=False),
            FieldSpec("thr_dl_mbps", "float", 0.0, 1e5, required=False),
            FieldSpec("thr_ul_mbps", "float", 0.0, 1e5, required=False),
            FieldSpec("thr_dl_max_mbps", "float", 0.0, 1e5, required=False),
            FieldSpec("thr_ul_max_mbps", "float", 0.0, 1e5, required=False),
            FieldSpec("users_dl", "float", 0.0, 1e5, required=False),
            FieldSpec("users_ul", "float", 0.0, 1e5, required=False),
            FieldSpec("users_max_dl", "float", 0.0, 1e5, required=False),
            FieldSpec("users_max_ul", "float", 0.0, 1e5, required=False),
            FieldSpec("users_max", "float", 0.0, 1e5, required=False),
            FieldSpec("unusual", "bool", required=False),
            *(FieldSpec(name, kind, lo, hi, required=False)
              for name, _, kind, lo, hi in COUNTER_COLUMNS),
        ),
        cell_fields=("cell_id",),
        natural_key=("ts", "cell_id"),
    ),
    "ue_reports": TableSpec(
        "ue_reports",
        (
            FieldSpec("ts", "timestamp"),
            FieldSpec("ue_id", "str"),
            FieldSpec("x_m", "float", -1e6, 1e6, required=False),
            FieldSpec("y_m", "float", -1e6, 1e6, required=False),
            FieldSpec("cell_id", "str"),
            FieldSpec("serving", "bool", required=False),
            FieldSpec("rsrp_dbm", "float", -156.0, -31.0),
            FieldSpec("rsrq_db", "float", -43.0, 20.0, required=False),
            FieldSpec("sinr_db", "float", -23.0, 40.0, required=False),
        ),
        cell_fields=("cell_id",),
        natural_key=("ts", "ue_id", "cell_id"),
    ),
}
