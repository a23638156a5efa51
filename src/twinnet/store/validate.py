"""Row validation for telemetry: every row is accepted or rejected with a reason.

Validation is vectorised over a batch (a pandas DataFrame whose columns are already the
store's field names, values still as they came from the file). For each row the *first*
failing field gives the reason: ``missing value``, ``unparsable`` (with the text),
``not finite``, ``out of range [lo, hi]`` or ``unknown cell``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.store.schema import FieldSpec, TableSpec

__all__ = ["BatchResult", "parse_time_of_day", "validate_batch"]

_TRUE = {"1", "true", "t", "yes", "y", "1.0"}
_FALSE = {"0", "false", "f", "no", "n", "0.0"}


@dataclass
class BatchResult:
    """Accepted rows (typed, store columns) and rejected rows with their reasons."""

    accepted: pd.DataFrame
    accepted_index: NDArray[np.int64]
    rejected_index: NDArray[np.int64]
    rejected_field: list[str]
    rejected_reason: list[str]


def _texty(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype)


def _is_missing(s: pd.Series) -> NDArray[np.bool_]:
    miss = np.array(s.isna().to_numpy(), dtype=bool)
    if _texty(s):
        txt = s.astype(str).str.strip()
        miss |= (txt == "").to_numpy() | txt.str.lower().isin(["nan", "none", "null"]).to_numpy()
    return np.asarray(miss, dtype=bool)


def parse_time_of_day(s: pd.Series) -> pd.Series:
    """``"H:MM"`` / ``"HH:MM:SS"`` → minutes since midnight (float, NaN when unparsable)."""
    parts = s.astype(str).str.strip().str.extract(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
    h = pd.to_numeric(parts[0], errors="coerce")
    m = pd.to_numeric(parts[1], errors="coerce")
    ok = (h < 24) & (m < 60)
    return (h * 60 + m).where(ok)


def _parse(spec: FieldSpec, s: pd.Series) -> tuple[pd.Series, NDArray[np.bool_]]:
    """Typed values and a mask of values that could not be parsed."""
    if spec.kind in ("float", "int", "time_of_day"):
        if spec.kind == "time_of_day":
            v = parse_time_of_day(s) if _texty(s) else pd.to_numeric(s, errors="coerce")
        else:
            v = pd.to_numeric(s, errors="coerce")
        return v.astype(float), v.isna().to_numpy()
    if spec.kind == "bool":
        if s.dtype == bool:
            return s, np.zeros(len(s), bool)
        txt = s.astype(str).str.strip().str.lower()
        v = pd.Series([True if t in _TRUE else False if t in _FALSE else None for t in txt],
                      index=s.index, dtype=object)
        return v, v.isna().to_numpy()
    if spec.kind == "timestamp":
        v = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
        v = v.dt.tz_convert(None)
        return v, v.isna().to_numpy()
    v = s.astype(str).str.strip()
    return v, np.zeros(len(s), bool)


def validate_batch(spec: TableSpec, raw: pd.DataFrame, known_cells: Iterable[str] | None
                   ) -> BatchResult:
    """Validate ``raw`` (columns named like ``spec``'s fields) row by row.

    ``known_cells``: the topology's cell ids; ``None`` skips the unknown-cell check.
    """
    n = len(raw)
    reason = np.full(n, "", dtype=object)
    field = np.full(n, "", dtype=object)
    bad = np.zeros(n, dtype=bool)
    out: dict[str, pd.Series] = {}

    def flag(mask: NDArray[np.bool_], name: str, why: str, values: Any = None) -> None:
        """Reject the rows of ``mask`` not yet rejected with reason ``why`` — a template
        formatted with the row's entry of ``values`` when given (for rejected rows only)."""
        new = mask & ~bad
        if new.any():
            if values is None:
                reason[new] = why
            else:
                for i in np.flatnonzero(new):
                    reason[i] = why.format(values[i])
            field[new] = name
            bad[new] = True

    for f in spec.fields:
        if f.name not in raw.columns:
            continue
        s = raw[f.name].reset_index(drop=True)
        miss = _is_missing(s)
        flag(miss, f.name, "missing value")  # a column the file carries must be filled
        v, unparsable = _parse(f, s)
        flag(unparsable & ~miss, f.name, f"unparsable {f.kind} {{!r}}", s.to_numpy())
        if f.kind in ("float", "int", "time_of_day"):
            arr = v.to_numpy(dtype=float)
            fin = np.isfinite(arr)
            flag(~fin & ~np.isnan(arr), f.name, "not finite")
            if f.kind == "int":
                flag(fin & (np.abs(arr - np.round(arr)) > 1e-9), f.name, "not an integer")
            if f.lo is not None or f.hi is not None:
                lo = -np.inf if f.lo is None else f.lo
                hi = np.inf if f.hi is None else f.hi
                with np.errstate(invalid="ignore"):
                    oor = fin & ((arr < lo) | (arr > hi))
                flag(oor, f.name, f"out of range [{f.lo:g}, {f.hi:g}]: {{:g}}", arr)
        out[f.name] = v

    if known_cells is not None:
        known = set(known_cells)
        for c in spec.cell_fields:
            if c in out:
                flag(~out[c].isin(known).to_numpy(), c, "unknown cell {!r}", out[c].to_numpy())

    ok = ~bad
    acc = pd.DataFrame({k: v[ok].reset_index(drop=True) for k, v in out.items()})
    for f in spec.fields:
        if f.kind in ("int", "time_of_day") and f.name in acc:
            acc[f.name] = acc[f.name].round().astype("Int64")
    idx = np.flatnonzero(bad)
    return BatchResult(acc, np.flatnonzero(ok), idx, [str(field[i]) for i in idx],
                       [str(reason[i]) for i in idx])
