"""Ingestion of telemetry files (CSV, Parquet, JSON lines) into the context store.

A file is read in batches; each batch is validated (:mod:`twinnet.store.validate`) and its
accepted rows, its quarantined rows and the ingest's progress are written in **one
transaction**. A process killed mid-file therefore leaves whole batches, never half of one;
running the same ingest again resumes it: rows are keyed (by their natural key — time and
cell — or else by file hash and row number) so nothing is stored twice, and a file whose
ingest completed is recognised by its SHA-256 and skipped.

*Profiles* map a file's columns onto the store's fields: ``native`` (columns already named
like the store's), ``mlmatt`` (the ML-MATT LTE cell-KPI export: percentages, ``HH:MM`` times
without a date, Excel error strings such as ``#¡VALOR!``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.datasets import mlmatt
from twinnet.errors import InputError
from twinnet.store.schema import INGEST_TABLES, TableSpec
from twinnet.store.validate import validate_batch

if TYPE_CHECKING:
    from twinnet.store.context import ContextStore

__all__ = ["PROFILES", "IngestReport", "Profile", "detect_profile", "ingest_file", "read_batches"]


@dataclass(frozen=True)
class Profile:
    """Column mapping ``source column → (store field, scale)`` and constant fields."""

    name: str
    table: str
    columns: dict[str, tuple[str, float]]
    constants: dict[str, Any]

    def apply(self, raw: pd.DataFrame) -> pd.DataFrame:
        if not self.columns:  # native: keep the store's own column names
            out = raw.copy()
        else:
            out = pd.DataFrame(index=raw.index)
            for src, (dst, scale) in self.columns.items():
                if src in raw.columns:
                    col = raw[src]
                    if scale != 1.0:
                        num = pd.to_numeric(col, errors="coerce")
                        # keep unparsable text so that the validator reports it verbatim
                        col = (num * scale).astype(object).where(num.notna(), col)
                    out[dst] = col
        for k, v in self.constants.items():
            if k not in out.columns:
                out[k] = v
        return out


PROFILES: dict[str, Profile] = {
    "native-cell_kpis": Profile("native", "cell_kpis", {}, {}),
    "native-ue_reports": Profile("native", "ue_reports", {}, {}),
    "mlmatt": Profile("mlmatt", "cell_kpis", dict(mlmatt.STORE_COLUMNS),
                      {"interval_s": mlmatt.INTERVAL_S}),
}


@dataclass
class IngestReport:
    ingest_id: str
    path: str
    table: str
    profile: str
    sha256: str
    status: str  # "complete" | "already ingested"
    rows_seen: int
    rows_accepted: int
    rows_quarantined: int
    rows_duplicate: int
    cells_registered: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _format(path: Path) -> str:
    name = path.name.lower()
    for suffix, fmt in ((".csv", "csv"), (".csv.gz", "csv"), (".parquet", "parquet"),
                        (".pq", "parquet"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
                        (".jsonl.gz", "jsonl"), (".json", "jsonl")):
        if name.endswith(suffix):
            return fmt
    raise InputError("path", str(path), "a .csv, .csv.gz, .parquet or .jsonl file")


def read_batches(path: Path, batch_size: int) -> Iterator[pd.DataFrame]:
    """Raw batches of a file with values as read (CSV: text, so nothing is coerced early)."""
    fmt = _format(path)
    if fmt == "csv":
        yield from pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=batch_size,
                               encoding_errors="replace", skipinitialspace=True)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        for b in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield b.to_pandas().astype(object)
    else:
        yield from pd.read_json(path, lines=True, chunksize=batch_size, dtype=False)


def _header(path: Path) -> list[str]:
    for b in read_batches(path, 5):
        return [str(c) for c in b.columns]
    return []


def detect_profile(path: Path, table: str | None) -> Profile:
    cols = set(_header(path))
    if {"CellName", "PRBUsageDL"} <= cols:
        return PROFILES["mlmatt"]
    t = table or ("ue_reports" if "rsrp_dbm" in cols else "cell_kpis")
    return PROFILES[f"native-{t}"]


def _row_keys(spec: TableSpec, acc: pd.DataFrame, fallback: list[str]) -> list[str]:
    keys = []
    nk = [c for c in spec.natural_key if c in acc.columns]
    have = (np.ones(len(acc), bool) if len(nk) == len(spec.natural_key) and nk
            else np.zeros(len(acc), bool))
    for c in nk:
        have &= acc[c].notna().to_numpy()
    cols = [acc[c].astype(str).to_numpy() for c in nk]
    for i in range(len(acc)):
        if have[i]:
            keys.append(spec.name + "|" + "|".join(str(col[i]) for col in cols))
        else:
            keys.append(fallback[i])
    return keys


def ingest_file(store: ContextStore, path: str | Path, table: str | None = None,
                profile: str | None = None, batch_size: int = 5000,
                register_unknown_cells: bool = False, source: str | None = None,
                on_batch: Callable[[int, int], None] | None = None) -> IngestReport:
    """Ingest one telemetry file; see the module docstring for the guarantees.

    ``on_batch(rows_done, rows_total_or_-1)`` is called after each committed batch.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("path", str(path), "an existing file")
    if batch_size < 1:
        raise InputError("batch_size", batch_size, "a positive number of rows")
    if profile is not None:
        key = profile if profile in PROFILES else f"{profile}-{table or 'cell_kpis'}"
        if key not in PROFILES:
            names = sorted({q.name for q in PROFILES.values()})
            raise InputError("profile", profile, f"one of {names}")
        prof = PROFILES[key]
    else:
        prof = detect_profile(p, table)
    if table is not None and table != prof.table:
        if table not in INGEST_TABLES:
            raise InputError("table", table, f"one of {sorted(INGEST_TABLES)}")
        raise InputError("table", table, f"{prof.table!r} for profile {prof.name!r}")
    spec = INGEST_TABLES[prof.table]
    header = prof.apply(pd.DataFrame(columns=_header(p))).columns
    missing = [f.name for f in spec.fields if f.required and f.name not in header]
    if spec.name == "cell_kpis" and "ts" not in header and "time_of_day_min" not in header:
        missing.append("ts")
    if missing:
        raise InputError("columns", sorted(set(header)),
                         f"the {prof.name} profile's columns for {', '.join(missing)}")

    sha = file_sha256(p)
    ingest_id = hashlib.sha1(f"{sha}|{spec.name}|{prof.name}".encode()).hexdigest()[:16]
    src = source or p.name
    prev = store.query("SELECT status FROM ingests WHERE ingest_id = ?", [ingest_id])
    if len(prev) and prev.status.iloc[0] == "complete":
        r = store.query("SELECT * FROM ingests WHERE ingest_id = ?", [ingest_id]).iloc[0]
        return IngestReport(ingest_id, str(p), spec.name, prof.name, sha, "already ingested",
                            int(r.rows_seen), 0, 0, 0, 0)
    now = pd.Timestamp.now("UTC").tz_convert(None)
    with store.transaction() as con:
        con.execute("INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, NULL, 'running', 0, 0, 0) "
                    "ON CONFLICT DO UPDATE SET status = 'running', path = excluded.path",
                    [ingest_id, sha, str(p), spec.name, prof.name, now])

    seen = registered = 0
    for raw in read_batches(p, batch_size):
        raw = raw.reset_index(drop=True)
        rows = np.arange(seen + 1, seen + 1 + len(raw))  # 1-based data row numbers
        mapped = prof.apply(raw)
        known = store.known_cells()
        if register_unknown_cells and spec.cell_fields:
            ids = mapped[spec.cell_fields[0]].astype(str).str.strip()
            new = sorted(set(ids[(ids != "") & ~ids.isin(known)]))
        else:
            new = []
        res = validate_batch(spec, mapped, known | set(new))
        acc = res.accepted
        acc["row_key"] = _row_keys(spec, acc, [f"{sha[:16]}:{r}" for r in rows[res.accepted_index]])
        acc["source"] = src
        acc["ingest_id"] = ingest_id
        q = pd.DataFrame({
            "ingest_id": ingest_id, "row_number": rows[res.rejected_index],
            "table_name": spec.name, "field": res.rejected_field, "reason": res.rejected_reason,
            "raw": [json.dumps(rec, default=str, ensure_ascii=False)
                    for rec in raw.iloc[res.rejected_index].to_dict("records")],
        })
        with store.transaction() as con:
            if new:
                used = set(acc[spec.cell_fields[0]]) if len(acc) else set()
                new = [c for c in new if c in used]
                store._register_cells(con, new)
                registered += len(new)
            store._insert_frame(con, spec.name, acc)
            store._insert_frame(con, "quarantine", q)
            seen += len(raw)
            con.execute("UPDATE ingests SET rows_seen = greatest(rows_seen, ?) "
                        "WHERE ingest_id = ?", [seen, ingest_id])
        if on_batch is not None:
            on_batch(seen, -1)

    with store.transaction() as con:
        n_acc = con.execute(f"SELECT count(*) FROM {spec.name} WHERE ingest_id = ?",
                            [ingest_id]).fetchone()[0]  # type: ignore[index]
        n_q = con.execute("SELECT count(*) FROM quarantine WHERE ingest_id = ?",
                          [ingest_id]).fetchone()[0]  # type: ignore[index]
        con.execute("UPDATE ingests SET status = 'complete', finished_at = ?, rows_seen = ?, "
                    "rows_accepted = ?, rows_quarantined = ? WHERE ingest_id = ?",
                    [pd.Timestamp.now("UTC").tz_convert(None), seen, n_acc, n_q, ingest_id])
    return IngestReport(ingest_id, str(p), spec.name, prof.name, sha, "complete", seen,
                        int(n_acc), int(n_q), seen - int(n_acc) - int(n_q), registered)
