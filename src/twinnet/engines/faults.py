"""Self-healing, first half: fault detection from the twin's prediction residual, and diagnosis.

A calibrated twin predicts, for every interval, the RSRP of each link a measurement report
names and the PRB utilisation of each cell. What the network then reports differs from that by
noise and model error — and, when something breaks, by the fault's signature. The residual is a
better detector than per-KPI thresholds because it is *local*: a tilt fault or a failing power
amplifier changes the RSRP of the faulty cell's own links only (a link's RSRP does not depend
on the other cells), while load and interference move everywhere.

:class:`ResidualDetector`
    Per cell and interval: the median RSRP residual (measured − twin) of the reports naming the
    cell, the PRB-utilisation residual of its counters and the mean SINR its served users
    report. A quiet baseline (intervals after the twin's calibration) gives each cell's usual
    residual and the pooled spread; a cell is flagged when a standardised residual passes
    ``z_high`` once, when a two-sided CUSUM of it (Page 1954: allowance ``cusum_k``, decision
    interval ``cusum_h``) accumulates a persistent shift, when the network raises a cell-down
    alarm, or when the cell falls silent (no reports, no connected users) although it had them
    in the baseline. The thresholds are statistical, not fitted to any fault: with Gaussian
    residuals ``z_high = 4.5`` alone gives one false alarm in ~150,000 cell-intervals, and the
    CUSUM with k = 1, h = 4 runs thousands of intervals between false alarms while it finds a
    steady 2σ shift in about four intervals and a 3σ shift in two.
    By default only the RSRP residual detects (``detect_on``): in a living network the twin's
    per-cell load and SINR follow each area's own demand curve too loosely to be alarms (they
    still enter the evidence and the diagnosis).
:func:`diagnose`
    Root cause of a flagged cell, from the evidence, by asking the twin: the RSRP residual of
    the cell's reports is fitted by two one-parameter hypotheses — a power loss (the same dB on
    every link) and a tilt error (the twin re-evaluated with the cell's tilt changed by δ, δ
    searched on a grid) — and the better fit names ``power`` or ``tilt`` with its estimate;
    an alarm or a silent cell is an ``outage``; a normal RSRP with a PRB-utilisation residual
    is a ``load_surge``; a normal RSRP with a SINR drop is ``interference``.

References
----------
* 3GPP TS 32.541, "Self-Organizing Networks (SON); Self-healing concepts and requirements".
* M. Haider et al., LLM-DTNet (self-healing among the twin's use cases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.errors import InputError
from twinnet.twin.fidelity import predict_reports

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin

__all__ = ["CAUSES", "Detection", "Diagnosis", "ResidualDetector", "ThresholdDetector",
           "cell_residuals",
           "diagnose"]

#: the root causes :func:`diagnose` names
CAUSES = ("outage", "tilt", "power", "load_surge", "interference")

_MAD = 1.4826  # MAD → standard deviation of a Gaussian


def _robust_std(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    return float(_MAD * np.median(np.abs(x - np.median(x))))


def cell_residuals(twin: DigitalTwin, kpis: pd.DataFrame, reports: pd.DataFrame,
                   predicted_util: pd.Series | None = None) -> pd.DataFrame:
    """One interval's evidence per cell of the twin (index: cell name).

    Columns: ``n`` (report rows naming the cell with a twin prediction), ``rsrp_resid_db``
    (median of measured − predicted RSRP), ``rsrp_se_db`` (its standard error from the rows'
    spread), ``sinr_db`` (mean SINR of the rows where the cell serves), ``prb_util`` (the
    counters), ``prb_resid`` (counters − ``predicted_util``), ``connected`` (connected users of
    the counters, or users when that counter is absent)."""
    for col in ("cell_id", "rsrp_dbm", "ue_id"):
        if col not in reports:
            raise InputError(f"reports.{col}", None, "a measurement-report column")
    if "cell_id" not in kpis or "prb_util_dl" not in kpis:
        raise InputError("kpis", list(kpis.columns), "cell_id and prb_util_dl columns")
    names = twin.network.cell_names
    out = pd.DataFrame(index=pd.Index(names, name="cell_id"))
    if len(reports):
        pred = predict_reports(twin, reports)
        y = reports["rsrp_dbm"].to_numpy(dtype=float) - pred
        rows = pd.DataFrame({"cell_id": reports["cell_id"].to_numpy(), "y": y})
        rows = rows[np.isfinite(rows["y"])]
        g = rows.groupby("cell_id")["y"]
        out["n"] = g.size().reindex(names).fillna(0).astype(int)
        out["rsrp_resid_db"] = g.median().reindex(names)
        spread = g.agg(lambda v: _robust_std(v.to_numpy())).reindex(names)
        out["rsrp_se_db"] = 1.2533 * spread / np.sqrt(out["n"].clip(lower=1))
        if "sinr_db" in reports and "serving" in reports:
            srv = reports[reports["serving"].astype(bool)]
            out["sinr_db"] = srv.groupby("cell_id")["sinr_db"].mean().reindex(names)
        else:
            out["sinr_db"] = np.nan
    else:
        out["n"] = 0
        out["rsrp_resid_db"] = np.nan
        out["rsrp_se_db"] = np.nan
        out["sinr_db"] = np.nan
    k = kpis.drop_duplicates("cell_id", keep="last").set_index("cell_id")
    out["prb_util"] = k["prb_util_dl"].reindex(names).astype(float)
    users = "users_connected" if "users_connected" in k else "users_dl"
    out["connected"] = k[users].reindex(names).astype(float) if users in k else np.nan
    if predicted_util is not None:  # log ratio: a demand change scales every cell alike
        pred = predicted_util.reindex(names).astype(float)
        out["prb_resid"] = np.log((out["prb_util"] + 0.02) / (pred + 0.02))
    else:
        out["prb_resid"] = np.nan
    return out


@dataclass
class Detection:
    """A cell the detector flagged, with the evidence that flagged it."""

    cell: str
    ts: pd.Timestamp
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


class ResidualDetector:
    """Per-cell detector on the twin's prediction residual (see the module docstring).

    Parameters
    ----------
    z_high: one interval with a standardised residual beyond this flags the cell.
    z_low: below it a residual counts as normal (closing incidents, the diagnosis).
    cusum_k / cusum_h: the CUSUM's allowance and decision interval (in σ).
    min_rows: fewer report rows than this leave a cell's RSRP residual without a verdict.
    min_baseline: baseline intervals needed before :meth:`fit`.
    floor_db / floor_util / floor_sinr_db: lower bounds of the pooled spreads (a baseline
        quieter than the counters' and reports' quantisation would make every change an alarm).
    """

    def __init__(self, z_high: float = 4.5, z_low: float = 3.0, cusum_k: float = 1.0,
                 cusum_h: float = 4.0, min_rows: int = 8, min_baseline: int = 3,
                 floor_db: float = 0.5, floor_util: float = 0.03, floor_sinr_db: float = 0.75,
                 detect_on: tuple[str, ...] = ("rsrp",)):
        if not 0 < z_low <= z_high:
            raise InputError("z_low", z_low, f"in (0, z_high = {z_high}]")
        if cusum_k < 0 or cusum_h <= 0:
            raise InputError("cusum_h", cusum_h, "a positive decision interval (k ≥ 0)")
        bad = [k for k in detect_on if k not in ("rsrp", "prb", "sinr")]
        if bad or not detect_on:
            raise InputError("detect_on", detect_on, "a non-empty subset of rsrp, prb, sinr")
        self.detect_on = tuple(detect_on)
        self.z_high, self.z_low = z_high, z_low
        self.cusum_k, self.cusum_h = cusum_k, cusum_h
        self.min_rows, self.min_baseline = min_rows, min_baseline
        self.floor_db, self.floor_util, self.floor_sinr_db = floor_db, floor_util, floor_sinr_db
        self._baseline: list[pd.DataFrame] = []
        self.fitted = False
        self._cusum: dict[tuple[str, str], tuple[float, float]] = {}

    # ------------------------------------------------------------------ baseline
    def learn(self, frame: pd.DataFrame) -> None:
        """Add one quiet interval's :func:`cell_residuals` to the baseline."""
        self._baseline.append(frame.copy())

    def fit(self) -> ResidualDetector:
        """Each cell's usual residuals and the pooled spreads, from the baseline."""
        if len(self._baseline) < self.min_baseline:
            raise InputError("baseline intervals", len(self._baseline),
                             f"at least {self.min_baseline} quiet intervals")
        b = pd.concat(self._baseline, keys=range(len(self._baseline)), names=["k", "cell_id"])
        ok = b["n"] >= self.min_rows
        self.mu_rsrp = b["rsrp_resid_db"].where(ok).groupby("cell_id").median()
        self.mu_prb = b["prb_resid"].groupby("cell_id").median()
        self.mu_sinr = b["sinr_db"].where(ok).groupby("cell_id").mean()
        self.rows_usual = b["n"].groupby("cell_id").median()
        self.users_usual = b["connected"].groupby("cell_id").median()
        dev = (b["rsrp_resid_db"].where(ok) - self.mu_rsrp.reindex(
            b.index.get_level_values("cell_id")).to_numpy()).to_numpy(dtype=float)
        self.sd_rsrp = max(_robust_std(dev), self.floor_db)
        dp = b["prb_resid"] - self.mu_prb.reindex(b.index.get_level_values("cell_id")).to_numpy()
        dev_p = (dp - dp.groupby("k").transform("median")).to_numpy(dtype=float)
        sd_p = _robust_std(dev_p)
        self.sd_prb = max(sd_p if np.isfinite(sd_p) else 0.0, self.floor_util)
        ds = b["sinr_db"].where(ok) - self.mu_sinr.reindex(
            b.index.get_level_values("cell_id")).to_numpy()
        dev_s = (ds - ds.groupby("k").transform("median")).to_numpy(dtype=float)
        sd_s = _robust_std(dev_s)
        self.sd_sinr = max(sd_s if np.isfinite(sd_s) else 0.0, self.floor_sinr_db)
        self.fitted = True
        return self

    def rebaseline(self, cell: str, frame: pd.DataFrame) -> None:
        """Take ``cell``'s current residuals as its new usual level (after a correction the
        twin now models, e.g. a compensated tilt)."""
        if cell in frame.index and np.isfinite(frame.at[cell, "rsrp_resid_db"]):
            self.mu_rsrp[cell] = float(frame.at[cell, "rsrp_resid_db"])
        self._reset(cell)

    def _reset(self, cell: str) -> None:
        for k in self.detect_on:
            self._cusum.pop((cell, k), None)

    # ------------------------------------------------------------------ scoring
    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Standardised residuals per cell: ``z_rsrp``, ``z_prb``, ``z_sinr`` and ``silent``
        (no report rows and no connected users where the baseline had both)."""
        if not self.fitted:
            raise InputError("detector", "not fitted", "fit() on a quiet baseline first")
        f = frame
        mu = self.mu_rsrp.reindex(f.index)
        se = f["rsrp_se_db"].fillna(0.0)
        z_r = (f["rsrp_resid_db"] - mu) / np.sqrt(self.sd_rsrp ** 2 + se ** 2)
        z_r = z_r.where(f["n"] >= self.min_rows)
        # load and SINR move with demand everywhere: each cell against the network's median
        # change this interval (a fault or a surge is local)
        d_p = f["prb_resid"] - self.mu_prb.reindex(f.index)
        z_p = (d_p - d_p.median()) / self.sd_prb
        d_s = (f["sinr_db"] - self.mu_sinr.reindex(f.index)).where(f["n"] >= self.min_rows)
        z_s = (d_s - d_s.median()) / self.sd_sinr
        usual_rows = self.rows_usual.reindex(f.index).fillna(0)
        usual_users = self.users_usual.reindex(f.index).fillna(0)
        silent = (f["n"] == 0) & (usual_rows >= self.min_rows) & \
            (f["connected"].fillna(0) < 0.5) & (usual_users >= 1.0)
        return pd.DataFrame({"z_rsrp": z_r, "z_prb": z_p, "z_sinr": z_s, "silent": silent,
                             "n": f["n"], "rsrp_resid_db": f["rsrp_resid_db"],
                             "rsrp_shift_db": f["rsrp_resid_db"] - mu,
                             "prb_resid": f["prb_resid"], "sinr_db": f["sinr_db"]})

    def update(self, frame: pd.DataFrame, ts: pd.Timestamp,
               alarms: list[str] | None = None, ignore: set[str] | None = None
               ) -> list[Detection]:
        """Score one interval and return the cells flagged now (``ignore``: cells with an
        open incident, whose streaks are kept at zero)."""
        z = self.score(frame)
        ignore = ignore or set()
        found: list[Detection] = []
        down = set(alarms or [])
        for cell, row in z.iterrows():
            name = str(cell)
            if name in ignore:
                self._reset(name)
                continue
            ev = {k: (None if pd.isna(v) else (bool(v) if isinstance(v, bool | np.bool_)
                                               else float(v)))
                  for k, v in row.items()}
            if name in down:
                found.append(Detection(name, ts, "cell-down alarm", ev))
                self._reset(name)
                continue
            if bool(row["silent"]):
                found.append(Detection(name, ts, "silent: no reports and no connected users",
                                       ev))
                self._reset(name)
                continue
            zs = {k: float(row[f"z_{k}"]) for k in self.detect_on if pd.notna(row[f"z_{k}"])}
            top = max((abs(v) for v in zs.values()), default=0.0)
            if top >= self.z_high:
                found.append(Detection(name, ts, f"residual |z| = {top:.1f} ≥ {self.z_high:g}",
                                       ev))
                self._reset(name)
                continue
            hit = None
            for k, v in zs.items():  # two-sided CUSUM (a cell without a verdict keeps its sums)
                up, dn = self._cusum.get((name, k), (0.0, 0.0))
                up = max(0.0, up + v - self.cusum_k)
                dn = max(0.0, dn - v - self.cusum_k)
                self._cusum[(name, k)] = (up, dn)
                if max(up, dn) >= self.cusum_h:
                    hit = (k, max(up, dn))
            if hit is not None:
                found.append(Detection(name, ts, f"CUSUM of the {hit[0]} residual = "
                                                 f"{hit[1]:.1f} ≥ {self.cusum_h:g}", ev))
                self._reset(name)
        return found

    def normal(self, frame: pd.DataFrame, cell: str) -> bool:
        """Whether ``cell`` looks normal again (every standardised residual below ``z_low``,
        and not silent)."""
        z = self.score(frame.loc[[cell]]).iloc[0]
        if bool(z["silent"]):
            return False
        return all(abs(float(z[f"z_{k}"])) < self.z_low for k in self.detect_on
                   if pd.notna(z[f"z_{k}"]))


@dataclass
class Diagnosis:
    """Root cause of a flagged cell, with the evidence and the estimate behind it."""

    cell: str
    cause: str
    evidence: dict[str, Any]
    estimate: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "cause": self.cause, "estimate": self.estimate,
                "evidence": self.evidence}


def _tilt_curve(twin: DigitalTwin, cell: int, reports: pd.DataFrame, delta: float,
                base: np.ndarray) -> np.ndarray:
    fork = twin.copy()
    fork.network.cell_elec_tilt_deg[cell] += delta
    return predict_reports(fork, reports) - base


def diagnose(twin: DigitalTwin, detection: Detection, reports: pd.DataFrame,
             baseline_db: float = 0.0, z_limit: float = 3.0,
             tilt_grid: tuple[float, ...] = (-10, -8, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6,
                                             8, 10)) -> Diagnosis:
    """Name the root cause of ``detection`` (see the module docstring).

    ``reports``: the interval's measurement reports; ``baseline_db``: the cell's usual RSRP
    residual (:attr:`ResidualDetector.mu_rsrp`); ``z_limit``: a standardised residual below it
    counts as normal."""
    cell = detection.cell
    names = twin.network.cell_names
    if cell not in names:
        raise InputError("cell", cell, "a cell of the twin")
    ev = dict(detection.evidence)
    ev["reason"] = detection.reason
    if detection.reason == "cell-down alarm" or bool(ev.get("silent")):
        why = "the network raised a cell-down alarm" if detection.reason == "cell-down alarm" \
            else "the cell reports no users and no UE names it"
        return Diagnosis(cell, "outage", {**ev, "why": why})
    z_r = ev.get("z_rsrp")
    rsrp_abnormal = z_r is not None and abs(z_r) >= z_limit
    if rsrp_abnormal:
        c = names.index(cell)
        mine = reports[reports["cell_id"].astype(str) == cell]
        base = predict_reports(twin, mine)
        y = mine["rsrp_dbm"].to_numpy(dtype=float) - base - baseline_db
        ok = np.isfinite(y)
        y, rows = y[ok], mine[ok]
        base = base[ok]
        if y.size >= 3:
            sse_power = float(np.sum((y - y.mean()) ** 2))
            best = (np.inf, 0.0)
            for d in tilt_grid:
                g = _tilt_curve(twin, c, rows, float(d), base)
                good = np.isfinite(g)
                if good.sum() < max(3, int(0.8 * y.size)):
                    continue
                sse = float(np.sum((y[good] - g[good]) ** 2) * y.size / good.sum())
                if sse < best[0]:
                    best = (sse, float(d))
            fit = {"rows": int(y.size), "mean_shift_db": float(y.mean()),
                   "sse_power": sse_power, "sse_tilt": best[0], "tilt_delta_deg": best[1]}
            if best[0] < sse_power:
                return Diagnosis(cell, "tilt", {**ev, **fit, "why": (
                    f"the RSRP residual of {y.size} reports follows the twin's pattern for a "
                    f"tilt {best[1]:+g}° off the record better than a uniform power loss "
                    f"(SSE {best[0]:.0f} vs {sse_power:.0f} dB²)")},
                    {"delta_deg": best[1]})
            return Diagnosis(cell, "power", {**ev, **fit, "why": (
                f"the {y.size} reports' RSRP is {-y.mean():.1f} dB below the twin's on every "
                f"link alike (SSE {sse_power:.0f} dB² for a uniform loss vs {best[0]:.0f} for "
                "the best tilt)")}, {"loss_db": float(-y.mean())})
    z_p, z_s = ev.get("z_prb"), ev.get("z_sinr")
    if z_s is not None and z_s <= -z_limit and (z_p is None or abs(z_p) < abs(z_s)):
        return Diagnosis(cell, "interference", {**ev, "why": (
            f"served users report SINR {z_s:.1f} σ below usual while the cell's RSRP matches "
            "the twin")})
    if z_p is not None and z_p >= z_limit:
        return Diagnosis(cell, "load_surge", {**ev, "why": (
            f"PRB utilisation {z_p:.1f} σ above the twin's prediction while the cell's RSRP "
            "matches the twin")})
    if z_s is not None and z_s <= -z_limit:
        return Diagnosis(cell, "interference", {**ev, "why": (
            f"served users report SINR {z_s:.1f} σ below usual")})
    return Diagnosis(cell, "load_surge" if (z_p or 0.0) > 0 else "interference",
                     {**ev, "why": "no single residual stands out; weakest evidence"})


class ThresholdDetector:
    """The per-KPI baseline a network without a twin has: each cell's counters and reports
    against their own quiet level, no model of what they should be.

    Per cell and interval: the mean RSRP its served users report (its connected users are kept
    as evidence: they follow the day's demand too closely to be an alarm). A cell is flagged
    when the mean RSRP moves ``z_high`` robust standard deviations (pooled over the cells'
    baseline intervals) from the cell's baseline median, or on a cell-down alarm."""

    def __init__(self, z_high: float = 4.5, min_rows: int = 8, floor_db: float = 1.0,
                 floor_users: float = 1.0):
        self.z_high, self.min_rows = z_high, min_rows
        self.floor_db, self.floor_users = floor_db, floor_users
        self._rows: list[pd.DataFrame] = []
        self.fitted = False

    @staticmethod
    def features(kpis: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
        srv = reports[reports["serving"].astype(bool)] if "serving" in reports else reports
        g = srv.groupby("cell_id")["rsrp_dbm"]
        k = kpis.drop_duplicates("cell_id", keep="last").set_index("cell_id")
        users = "users_connected" if "users_connected" in k else "users_dl"
        return pd.DataFrame({"rsrp_dbm": g.mean(), "n": g.size(),
                             "users": k[users]}).rename_axis("cell_id")

    def learn(self, kpis: pd.DataFrame, reports: pd.DataFrame) -> None:
        self._rows.append(self.features(kpis, reports))

    def fit(self) -> ThresholdDetector:
        if len(self._rows) < 2:
            raise InputError("baseline intervals", len(self._rows), "at least 2")
        b = pd.concat(self._rows, keys=range(len(self._rows)), names=["k", "cell_id"])
        self.mu = b.groupby("cell_id")[["rsrp_dbm", "users"]].median()
        dev = b[["rsrp_dbm", "users"]] - self.mu.reindex(
            b.index.get_level_values("cell_id")).to_numpy()
        self.sd_db = max(_robust_std(dev["rsrp_dbm"].to_numpy(dtype=float)), self.floor_db)
        self.sd_users = max(_robust_std(dev["users"].to_numpy(dtype=float)), self.floor_users)
        self.fitted = True
        return self

    def update(self, kpis: pd.DataFrame, reports: pd.DataFrame, ts: pd.Timestamp,
               alarms: list[str] | None = None, ignore: set[str] | None = None
               ) -> list[Detection]:
        if not self.fitted:
            raise InputError("detector", "not fitted", "fit() on a quiet baseline first")
        f = self.features(kpis, reports).reindex(self.mu.index)
        z_r = ((f["rsrp_dbm"] - self.mu["rsrp_dbm"]) / self.sd_db).where(f["n"] >= self.min_rows)
        z_u = (f["users"] - self.mu["users"]) / self.sd_users
        out: list[Detection] = []
        down = set(alarms or [])
        for cell in self.mu.index:
            name = str(cell)
            if name in (ignore or set()):
                continue
            ev = {"z_rsrp_mean": None if pd.isna(z_r[cell]) else float(z_r[cell]),
                  "z_users": None if pd.isna(z_u[cell]) else float(z_u[cell])}
            if name in down:
                out.append(Detection(name, ts, "cell-down alarm", ev))
                continue
            top = abs(ev["z_rsrp_mean"] or 0.0)
            if top >= self.z_high:
                out.append(Detection(name, ts, f"mean RSRP |z| = {top:.1f} ≥ {self.z_high:g}",
                                     ev))
        return out
