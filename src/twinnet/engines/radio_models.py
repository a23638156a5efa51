"""L1 AI engine: calibrating the TR 38.901 path-loss model against measured RSRP.

The physics reference is the UMa NLOS path loss of TR 38.901 Table 7.4.1-1 (``PL = max(PL_LOS,
PL'_NLOS)``; NLOS rather than the LOS-probability mix of §7.4.2 because planning tools use it
for coverage and the mix is no closer on this data) with the sector antenna of §7.3 (element
pattern of Table 7.3-1, 65° HPBW, 30 dB front-back, 8 dBi, on a 10-element vertical array with the
electrical tilt of Table 7.8-1 steering and the mechanical tilt of §7.1 rotation: 18 dBi peak).
Learned engines fit the *residual* ``measured - 38.901`` with a :class:`ResidualCorrector`:
ridge regression (``linear``, the classic K-factor fit) or ridge followed by boosted trees on its
residual (``gbm``), optionally with neighbour evidence, the mean residual of *other* cells'
measurements in squares of 5/15/50 m around the bin (``gbm_spatial``, the default engine: best in
by-cell 4-fold CV). The boosted engines also see :data:`SERVING_AREA_FEATURES`, cues of the
serving-cell selection bias of the data (a cell's rows are only the bins it serves): the bin's
distance relative to its cell's served area (median / 90th percentile / rank; known from the
geodata of the area to predict, never its RSRP) and the margin of the best competing sector's
crude link budget. Uncertainty: a second model of |residual| fitted on out-of-fold residuals
(folds by cell), scaled so that the out-of-fold z-scores have unit variance.

Every engine is a :class:`DriveTestEngine`, a :class:`~twinnet.engines.base.LayerEngine` of
layer L1: ``fit(frame, map_frames=…)``, ``fit_store(store, geodata=…)`` (the measured RSRP from
the store's reports, the engineering data and geodata from a frame), ``predict(frame)`` →
:class:`~twinnet.engines.base.Prediction` of RSRP with its std, registry and file round trips.

Huawei column conventions (2019 Huawei Cup data): ``Height`` is the antenna height above the
ground at the site; when it is below ``Cell Building Height`` (e.g. 0 m on a 21 m roof, a data
error) the roof height is used instead. The UE is 1.5 m above the bin's terrain. ``Azimuth`` is
clockwise from north; positions are planar metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from twinnet.datasets.huawei import HUAWEI_COLUMNS, validate_measurements
from twinnet.engines.base import LayerEngine, Pickled, Prediction, reject_context
from twinnet.errors import InputError
from twinnet.radio.antenna import antenna_gain_dbi, wrap_angle_deg
from twinnet.radio.constants import SPEED_OF_LIGHT_M_S
from twinnet.radio.pathloss import pathloss_uma_nlos_db

if TYPE_CHECKING:
    from twinnet.store.context import ContextStore

FloatArray = NDArray[np.float64]

__all__ = [
    "DEFAULT_MODEL", "PHYSICS_FEATURES", "SERVING_AREA_FEATURES",
    "DriveTestEngine", "GradientBoostedCorrection", "LinearCorrection", "ResidualCorrector",
    "TerrainMap", "Uncalibrated38901",
    "default_models", "evaluate_files", "evaluate_frames", "few_shot_curve", "grouped_cv",
    "grouped_few_shot", "huawei_features", "shrunk_offsets",
]

UE_HEIGHT_M = 1.5
MIN_D2D_M = 10.0  # lower end of the UMa validity range, Table 7.4.1-1
SIGMA_SF_UMA_NLOS_DB = 6.0  # shadow-fading sigma of UMa NLOS, Table 7.4.1-1
#: Feature columns of :func:`huawei_features` used by the learned engines.
PHYSICS_FEATURES = (
    "log10_d3d_m", "d2d_m", "azimuth_offset_deg", "vertical_offset_deg", "antenna_gain_db",
    "frequency_mhz", "clutter", "building_height_m", "cell_building_height_m", "antenna_height_m",
    "total_tilt_deg", "terrain_diff_m", "h_eff_m", "pathloss_38901_db", "rs_power_dbm",
    "knife_edge_db", "excess_height_m", "obstructed_frac", "building_frac", "other_site_ratio",
    "other_sector_offset_deg",
)
#: Serving-area features of :func:`huawei_features` added by the boosted engines: the bin's
#: place within its cell's served area (known from geodata alone) and the margin of the best
#: competing sector's crude link budget over the serving one's.
SERVING_AREA_FEATURES = (
    "d_rel_median", "d_rel_p90", "d_rank", "log10_d_dev", "azimuth_rel_p90",
    "competitor_margin_db", "n_competitors_6db",
)
DEFAULT_MODEL = "gbm_spatial"


_SHOT_SIZES = (1, 3, 10, 30, 100)


def _offset_prior(resid: FloatArray, cells: NDArray[Any], seed: int = 0) -> float:
    """The pseudo-count ``k`` of the few-shot offset ``mean(r) · n / (n + k)``, fitted on
    out-of-fold residuals grouped by cell: in every cell with enough rows, the mean of ``n``
    random rows (n = 1, 3, 10, 30, 100) predicts the mean of the cell's other rows; ``k``
    minimises the squared error over all draws. Measured rather than assumed, so the spatial
    correlation of a cell's residuals (n neighbouring bins are worth fewer than n independent
    ones) is in it."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"r": np.asarray(resid, dtype=float), "c": cells})
    m_n, n_n, target = [], [], []
    for _, g in df.groupby("c"):
        r = g["r"].to_numpy()
        for n in _SHOT_SIZES:
            if 2 * n > r.size:
                break
            for _ in range(3):
                idx = rng.permutation(r.size)
                m_n.append(r[idx[:n]].mean())
                n_n.append(n)
                target.append(r[idx[n:]].mean())
    if not m_n:
        return 10.0
    m, size, t = np.array(m_n), np.array(n_n, dtype=float), np.array(target)
    grid = np.logspace(-1, 4, 101)
    err = [float(np.sum((t - m * size / (size + k)) ** 2)) for k in grid]
    return float(grid[int(np.argmin(err))])


def shrunk_offsets(resid: FloatArray, cells: NDArray[Any], k: float) -> dict[Any, float]:
    """Per-cell offset [dB] from a cell's first measured residuals, shrunk toward 0 (the
    prior): ``mean(r_c) · n_c / (n_c + k)`` — the posterior mean of a normal offset seen
    through ``n_c`` residuals, ``k`` being the ratio of the within-cell to the between-cell
    variance (:func:`_offset_prior` measures it)."""
    df = pd.DataFrame({"r": np.asarray(resid, dtype=float), "c": cells})
    return {c: float(g["r"].mean() * len(g) / (len(g) + k)) for c, g in df.groupby("c")}


class TerrainMap:
    """Surface raster (terrain altitude + building height) from the bins of measurement frames,
    used to sample the cell→bin path profile (a rough stand-in for a ray tracer).

    ``points`` holds one row per raster square: ``ix``, ``iy`` (index = round(x / resolution)),
    ``surface_m``, ``building_m``."""

    def __init__(self, points: pd.DataFrame, resolution_m: float = 5.0):
        self.points = points
        self.resolution_m = resolution_m
        ix, iy = points["ix"].to_numpy(), points["iy"].to_numpy()
        self.origin = (int(ix.min()), int(iy.min()))
        shape = (int(ix.max()) - self.origin[0] + 1, int(iy.max()) - self.origin[1] + 1)
        self.surface_m = np.full(shape, np.nan)
        self.building_m = np.full(shape, np.nan)
        self.surface_m[ix - self.origin[0], iy - self.origin[1]] = points["surface_m"]
        self.building_m[ix - self.origin[0], iy - self.origin[1]] = points["building_m"]

    @classmethod
    def from_frames(cls, *frames: pd.DataFrame, resolution_m: float = 5.0) -> TerrainMap:
        """Build from Huawei frames (``X``, ``Y``, ``Altitude``, ``Building Height``) and/or the
        ``points`` of other maps."""
        parts = []
        for f in frames:
            if "ix" in f.columns:
                parts.append(f[["ix", "iy", "surface_m", "building_m"]])
                continue
            parts.append(pd.DataFrame({
                "ix": np.round(f["X"].to_numpy(float) / resolution_m).astype(np.int64),
                "iy": np.round(f["Y"].to_numpy(float) / resolution_m).astype(np.int64),
                "surface_m": (f["Altitude"] + f["Building Height"]).to_numpy(float),
                "building_m": f["Building Height"].to_numpy(float)}))
        pts = pd.concat(parts).groupby(["ix", "iy"], as_index=False).mean()
        return cls(pts, resolution_m)

    def profile_features(
        self, src_xyz: FloatArray, dst_xyz: FloatArray, frequency_mhz: FloatArray, n: int = 32
    ) -> dict[str, FloatArray]:
        """Path-profile features of each ``src → dst`` ray (absolute heights, m): the largest
        height of the surface above the ray (``excess_height_m``), the knife-edge diffraction loss
        of that edge (ITU-R P.526 ``J(v)``), and the fractions of the ``n`` samples that are
        obstructed or on buildings (NaN where the map has no sample)."""
        out: dict[str, list[FloatArray]] = {k: [] for k in (
            "excess_height_m", "knife_edge_db", "obstructed_frac", "building_frac")}
        t = (np.arange(n) + 0.5) / n
        for s in range(0, len(src_xyz), 20000):  # chunks bound the (rows × n) temporaries
            a, b = src_xyz[s:s + 20000], dst_xyz[s:s + 20000]
            p = a[:, None, :] + (b - a)[:, None, :] * t[None, :, None]
            ix = np.round(p[..., 0] / self.resolution_m).astype(np.int64) - self.origin[0]
            iy = np.round(p[..., 1] / self.resolution_m).astype(np.int64) - self.origin[1]
            ok = (ix >= 0) & (iy >= 0) & (ix < self.surface_m.shape[0]) & (
                iy < self.surface_m.shape[1])
            surf, bld = np.full(ix.shape, np.nan), np.full(ix.shape, np.nan)
            surf[ok], bld[ok] = self.surface_m[ix[ok], iy[ok]], self.building_m[ix[ok], iy[ok]]
            known = np.isfinite(surf)
            excess = np.where(known, surf - p[..., 2], -np.inf)
            d_m = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])[:, None]
            lam_m = SPEED_OF_LIGHT_M_S / (frequency_mhz[s:s + 20000, None] * 1e6)
            d1, d2 = np.maximum(d_m * t, 1.0), np.maximum(d_m * (1 - t), 1.0)
            v = excess * np.sqrt(2.0 * (d1 + d2) / (lam_m * d1 * d2))
            any_known = known.any(axis=1)
            vmax = np.where(any_known, v.max(axis=1), np.nan)
            vv = np.nan_to_num(vmax, nan=-10.0)
            out["knife_edge_db"].append(np.where(
                vv > -0.78, 6.9 + 20 * np.log10(np.sqrt((vv - 0.1) ** 2 + 1) + vv - 0.1), 0.0))
            out["excess_height_m"].append(np.where(any_known, excess.max(axis=1), np.nan))
            n_known = np.maximum(known.sum(axis=1), 1)
            frac = np.where(any_known, 1.0, np.nan)
            out["obstructed_frac"].append(frac * (excess > 0).sum(axis=1) / n_known)
            out["building_frac"].append(frac * (np.nan_to_num(bld) > 0).sum(axis=1) / n_known)
        return {k: np.concatenate(v) for k, v in out.items()}


def _link_score_db(d2d_m: FloatArray, azimuth_offset_deg: FloatArray) -> FloatArray:
    """Crude link budget of a sector [dB]: horizontal pattern (Table 7.3-1) - 35 log10 d."""
    return (-np.minimum(12.0 * (azimuth_offset_deg / 65.0) ** 2, 30.0)
            - 35.0 * np.log10(np.maximum(d2d_m, MIN_D2D_M)))


def _competitor_features(df: pd.DataFrame, sectors: pd.DataFrame, own_score: FloatArray
                         ) -> tuple[FloatArray, FloatArray]:
    """Best other sector's :func:`_link_score_db` minus the serving one's, and the number of
    other sectors within 6 dB of the serving one."""
    x, y = df["X"].to_numpy(float), df["Y"].to_numpy(float)
    own = df[["Cell X", "Cell Y", "Azimuth"]].to_numpy(float)
    best, n6 = np.full(len(df), -np.inf), np.zeros(len(df))
    for sx, sy, az in sectors[["Cell X", "Cell Y", "Azimuth"]].drop_duplicates().to_numpy(float):
        dx, dy = x - sx, y - sy
        off = wrap_angle_deg(np.degrees(np.arctan2(dx, dy)) - az)
        score = _link_score_db(np.hypot(dx, dy), off)
        score = np.where(np.all(own == (sx, sy, az), axis=1), -np.inf, score)
        best, n6 = np.maximum(best, score), n6 + (score > own_score - 6.0)
    return np.where(np.isfinite(best), best - own_score, -60.0), n6


def _area_points(df: pd.DataFrame) -> pd.DataFrame:
    """Served bins of each cell (geodata only): ``cell``, ``d2d_m``, ``abs_az_deg``."""
    dx, dy = (df["X"] - df["Cell X"]).to_numpy(float), (df["Y"] - df["Cell Y"]).to_numpy(float)
    az = wrap_angle_deg(np.degrees(np.arctan2(dx, dy)) - df["Azimuth"].to_numpy(float))
    return pd.DataFrame({"cell": df["Cell Index"].to_numpy(), "d2d_m": np.hypot(dx, dy),
                         "abs_az_deg": np.abs(az)})


def _area_features(df: pd.DataFrame, area: pd.DataFrame) -> dict[str, FloatArray]:
    """Place of each bin within its cell's served area (``area``: :func:`_area_points` of the
    served bins; cells of ``df`` missing there use ``df``'s own rows): distance over the cell's
    median / 90th-percentile served distance, distance rank (0-1), log10 distance minus the
    cell's mean, |azimuth offset| over the cell's 90th percentile."""
    q = _area_points(df)
    area = pd.concat([area, q[~q["cell"].isin(area["cell"])]])
    d = np.maximum(q["d2d_m"].to_numpy(), MIN_D2D_M)
    out = {k: np.full(len(q), np.nan) for k in (
        "d_rel_median", "d_rel_p90", "d_rank", "log10_d_dev", "azimuth_rel_p90")}
    cells = q["cell"].to_numpy()
    for cell, grp in area.groupby("cell"):
        m = cells == cell
        if not m.any():
            continue
        ds = np.sort(np.maximum(grp["d2d_m"].to_numpy(float), MIN_D2D_M))
        out["d_rel_median"][m] = d[m] / np.median(ds)
        out["d_rel_p90"][m] = d[m] / np.quantile(ds, 0.9)
        out["d_rank"][m] = np.searchsorted(ds, d[m], side="right") / len(ds)
        out["log10_d_dev"][m] = np.log10(d[m]) - np.mean(np.log10(ds))
        out["azimuth_rel_p90"][m] = q["abs_az_deg"].to_numpy()[m] / max(
            float(np.quantile(grp["abs_az_deg"], 0.9)), 5.0)
    return out


def _serving_area_features(df: pd.DataFrame, sectors: pd.DataFrame, bearing_deg: FloatArray
                           ) -> tuple[FloatArray, FloatArray]:
    """Cues of the serving-area selection: log10(distance to the nearest *other* site / distance
    to the serving site), and the bin's smallest azimuth offset from the serving site's other
    sectors (``sectors``: rows of ``Cell X``, ``Cell Y``, ``Azimuth``)."""
    sites = sectors[["Cell X", "Cell Y"]].drop_duplicates().to_numpy(float)
    cell_xy, bin_xy = df[["Cell X", "Cell Y"]].to_numpy(float), df[["X", "Y"]].to_numpy(float)
    d, j = cKDTree(sites).query(bin_xy, k=[1, 2])  # k=2 may be inf when there is one site
    d_other = np.where(np.all(sites[np.minimum(j[:, 0], len(sites) - 1)] == cell_xy, axis=1),
                       d[:, 1], d[:, 0])
    d_own = np.maximum(np.hypot(*(bin_xy - cell_xy).T), MIN_D2D_M)
    ratio = np.log10(np.clip(d_other, MIN_D2D_M, 1e5) / d_own)
    q = pd.DataFrame({"row": np.arange(len(df)), "Cell X": cell_xy[:, 0], "Cell Y": cell_xy[:, 1],
                      "b": bearing_deg, "own": df["Azimuth"].to_numpy(float)})
    m = q.merge(sectors[["Cell X", "Cell Y", "Azimuth"]].drop_duplicates(), on=["Cell X", "Cell Y"])
    m = m[m["Azimuth"] != m["own"]]
    off = pd.Series(np.abs(wrap_angle_deg(m["b"].to_numpy() - m["Azimuth"].to_numpy())),
                    index=m["row"].to_numpy()).groupby(level=0).min()
    return ratio, off.reindex(np.arange(len(df))).fillna(180.0).to_numpy()


def huawei_features(df: pd.DataFrame, terrain: TerrainMap | None = None,
                    sectors: pd.DataFrame | None = None, area: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """Physics features of each Huawei row (see module docstring for the conventions).

    Geometry: ``h_eff_m`` = antenna height above the bin's ground (site altitude + antenna
    height - bin altitude); ``d3d`` uses ``h_eff - 1.5 m`` (§7.4.1); ``vertical_offset_deg`` is
    the bin's angle below the horizon minus the total (electrical + mechanical) downtilt. The
    38.901 prediction ``pred_38901_dbm = RS power + antenna gain - PL_UMa-NLOS`` clamps
    ``d2D >= 10 m`` and ``h_BS >= 2.5 m``. ``terrain`` defaults to a map of ``df`` itself;
    ``sectors`` (``Cell X``, ``Cell Y``, ``Azimuth`` of known cells) to the cells of ``df``;
    ``area`` (served bins of each cell, geodata only, as ``_area_points``) to ``df``'s rows.
    """
    f = {c: df[c].to_numpy(float) for c in HUAWEI_COLUMNS if c != "RSRP"}
    dx, dy = f["X"] - f["Cell X"], f["Y"] - f["Cell Y"]
    d2d = np.hypot(dx, dy)
    h_ant = np.maximum(f["Height"], f["Cell Building Height"])
    h_eff = f["Cell Altitude"] + h_ant - f["Altitude"]
    dh = h_eff - UE_HEIGHT_M
    d3d = np.sqrt(np.maximum(d2d, 1.0) ** 2 + dh**2)
    bearing = np.degrees(np.arctan2(dx, dy))  # clockwise from north, like Azimuth
    az_off = wrap_angle_deg(bearing - f["Azimuth"])
    below_deg = np.degrees(np.arctan2(dh, np.maximum(d2d, 1.0)))
    tilt = f["Electrical Downtilt"] + f["Mechanical Downtilt"]
    gain = antenna_gain_dbi(90.0 + below_deg, az_off, 0.0, f["Mechanical Downtilt"],
                            f["Electrical Downtilt"])
    d2c = np.maximum(d2d, MIN_D2D_M)
    h_bs = np.maximum(h_eff, UE_HEIGHT_M + 1.0)
    pl = pathloss_uma_nlos_db(d2c, np.sqrt(d2c**2 + (h_bs - UE_HEIGHT_M) ** 2),
                              f["Frequency Band"] / 1e3, h_bs, UE_HEIGHT_M)
    terrain = terrain if terrain is not None else TerrainMap.from_frames(df)
    src = np.c_[f["Cell X"], f["Cell Y"], f["Cell Altitude"] + h_ant]
    dst = np.c_[f["X"], f["Y"], f["Altitude"] + UE_HEIGHT_M]
    prof = terrain.profile_features(src, dst, f["Frequency Band"])
    sectors = df if sectors is None else sectors
    ratio, other_off = _serving_area_features(df, sectors, bearing)
    margin, n6 = _competitor_features(df, sectors, _link_score_db(d2d, az_off))
    area_f = _area_features(df, _area_points(df) if area is None else area)
    return pd.DataFrame({
        "x_m": f["X"], "y_m": f["Y"], "cell_id": df["Cell Index"].to_numpy(),
        "d2d_m": d2d, "d3d_m": d3d, "log10_d3d_m": np.log10(d3d), "azimuth_offset_deg": az_off,
        "vertical_offset_deg": below_deg - tilt, "antenna_gain_db": gain,
        "frequency_mhz": f["Frequency Band"], "clutter": f["Clutter Index"].astype(np.int64),
        "building_height_m": f["Building Height"],
        "cell_building_height_m": f["Cell Building Height"], "antenna_height_m": h_ant,
        "total_tilt_deg": tilt, "terrain_diff_m": f["Cell Altitude"] - f["Altitude"],
        "h_eff_m": h_eff, "pathloss_38901_db": pl, "rs_power_dbm": f["RS Power"],
        "pred_38901_dbm": f["RS Power"] + gain - pl, **prof,
        "other_site_ratio": ratio, "other_sector_offset_deg": other_off, **area_f,
        "competitor_margin_db": margin, "n_competitors_6db": n6})


def _grid_mean(train: pd.DataFrame, query: pd.DataFrame, size_m: float
               ) -> tuple[FloatArray, FloatArray]:
    """Mean and count of ``train.v`` in the ``size_m`` square of each query row, leaving out the
    rows of the query row's own group ``g`` (columns ``x``, ``y``, ``g``, ``v``)."""
    def keyed(f: pd.DataFrame) -> pd.DataFrame:
        return f.assign(gx=np.floor(f["x"] / size_m).astype(np.int64),
                        gy=np.floor(f["y"] / size_m).astype(np.int64))
    t, q = keyed(train.assign(n=1.0)), keyed(query[["x", "y", "g"]])
    tot = t.groupby(["gx", "gy"])[["v", "n"]].sum()
    own = t.groupby(["gx", "gy", "g"])[["v", "n"]].sum()
    a = q.merge(tot, how="left", left_on=["gx", "gy"], right_index=True).fillna({"v": 0, "n": 0})
    b = q.merge(own, how="left", left_on=["gx", "gy", "g"], right_index=True).fillna(
        {"v": 0, "n": 0})
    n = a["n"].to_numpy() - b["n"].to_numpy()
    s = a["v"].to_numpy() - b["v"].to_numpy()
    return np.where(n > 0, s / np.maximum(n, 1.0), np.nan), n


class _MeanModel:
    """Ridge on the features, then (``gbm``) boosted trees on the ridge residual with optional
    neighbour-residual features."""

    def __init__(self, owner: ResidualCorrector):
        self.o = owner
        self.ridge_: Pipeline | None = None
        self.gbm_: HistGradientBoostingRegressor | None = None
        self.nb_: pd.DataFrame | None = None

    def _ridge_pipeline(self) -> Pipeline:
        num = [c for c in self.o.features if c not in self.o.categorical]
        ct = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(self.o.categorical))])
        return make_pipeline(ct, Ridge(alpha=self.o.ridge_alpha))

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:
        d = X[list(self.o.features)].reset_index(drop=True)
        if self.nb_ is None:
            return d
        q = self.o._keys(X)
        for size in self.o.neighbour_sizes_m:
            m, n = _grid_mean(self.nb_, q, size)
            d[f"nb_resid_{size:g}m_db"], d[f"nb_log_count_{size:g}m"] = m, np.log1p(n)
        return d

    def fit(self, X: pd.DataFrame, r: FloatArray) -> _MeanModel:
        self.ridge_ = self._ridge_pipeline().fit(X[list(self.o.features)], r)
        if self.o.method == "gbm":
            r2 = r - self.ridge_.predict(X[list(self.o.features)])
            if self.o.xy_columns is not None and self.o.neighbour_sizes_m:
                self.nb_ = self.o._keys(X).assign(v=r2)
            self.gbm_ = self.o._hgb(self.o.max_iter).fit(self._design(X), r2)
        return self

    def predict(self, X: pd.DataFrame) -> FloatArray:
        assert self.ridge_ is not None, "fit first"
        p = self.ridge_.predict(X[list(self.o.features)])
        return p if self.gbm_ is None else p + self.gbm_.predict(self._design(X))


class ResidualCorrector(Pickled):
    """Generic residual engine: learns ``residual_db`` (measured - physics prediction) from the
    ``features`` columns of a DataFrame, for Huawei data or the twin's emulated measurements.

    ``method``: ``"linear"`` (ridge, one-hot ``categorical``) or ``"gbm"`` (ridge + sklearn
    ``HistGradientBoostingRegressor`` on its residual). With ``xy_columns`` (metres), ``gbm`` adds
    the mean ridge residual of training rows of *other* groups (``group_column``, e.g. cell id;
    other rows if None) in squares of ``neighbour_sizes_m``. ``predict_std`` comes from a model of
    |out-of-fold residual| (``n_std_folds`` folds by group), calibrated to unit z variance.
    ``n_threads`` caps OpenMP/BLAS threads during fit/predict.
    """

    def __init__(self, features: Sequence[str], categorical: Sequence[str] = (),
                 method: str = "gbm", xy_columns: tuple[str, str] | None = None,
                 group_column: str | None = None,
                 neighbour_sizes_m: Sequence[float] = (5.0, 15.0, 50.0), max_iter: int = 300,
                 learning_rate: float = 0.05, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 1000, ridge_alpha: float = 1.0, n_std_folds: int = 3,
                 random_state: int = 0, n_threads: int | None = 1):
        if method not in ("linear", "gbm"):
            raise InputError("method", method, "'linear' or 'gbm'")
        self.features = tuple(features)
        self.categorical = tuple(categorical)
        self.method = method
        self.xy_columns = xy_columns
        self.group_column = group_column
        self.neighbour_sizes_m = tuple(neighbour_sizes_m)
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.ridge_alpha = ridge_alpha
        self.n_std_folds = n_std_folds
        self.random_state = random_state
        self.n_threads = n_threads

    def _threads(self) -> Any:
        return nullcontext() if self.n_threads is None else threadpool_limits(self.n_threads)

    def _hgb(self, max_iter: int, min_leaf: int | None = None) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            max_iter=max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, l2_regularization=1.0, early_stopping=False,
            min_samples_leaf=min_leaf or self.min_samples_leaf, random_state=self.random_state,
            categorical_features=list(self.categorical) or None)

    def _groups(self, X: pd.DataFrame) -> NDArray[Any]:
        return X[self.group_column].to_numpy() if self.group_column else np.arange(len(X))

    def _keys(self, X: pd.DataFrame) -> pd.DataFrame:
        assert self.xy_columns is not None
        return pd.DataFrame({"x": X[self.xy_columns[0]].to_numpy(float),
                             "y": X[self.xy_columns[1]].to_numpy(float), "g": self._groups(X)})

    def fit(self, X: pd.DataFrame, residual_db: Any, offset_groups: Any = None
            ) -> ResidualCorrector:
        """Fit the mean model on all rows and the std model on out-of-fold residuals;
        ``offset_groups`` (default: the groups) groups those residuals for the few-shot
        prior ``offset_k_``."""
        needed = [*self.features, *(self.xy_columns or ()), *filter(None, [self.group_column])]
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise InputError(missing[0], None, "column missing from X")
        X = X.reset_index(drop=True)
        r = np.asarray(residual_db, dtype=np.float64)
        with self._threads():
            self.mean_model_ = _MeanModel(self).fit(X, r)
            oof = np.full(len(r), np.nan)
            groups = self._groups(X)
            n_folds = min(self.n_std_folds, len(np.unique(groups)))
            if n_folds >= 2:
                for tr, te in GroupKFold(n_folds).split(X, r, groups):
                    m = _MeanModel(self).fit(X.iloc[tr], r[tr])
                    oof[te] = r[te] - m.predict(X.iloc[te])
            else:  # one group: in-sample residuals
                oof = r - self.mean_model_.predict(X)
            self.std_model_ = self._hgb(100, max(200, len(r) // 50)).fit(
                X[list(self.features)], np.abs(oof))
            s = np.maximum(self.std_model_.predict(X[list(self.features)]), 0.5)
            self.std_scale_ = float(np.sqrt(np.mean((oof / s) ** 2)))
            self.oof_rmse_db_ = float(np.sqrt(np.mean(oof**2)))
            #: few-shot prior: pseudo-count of the per-group offset (:func:`_offset_prior`)
            self.offset_k_ = _offset_prior(
                oof, groups if offset_groups is None else np.asarray(offset_groups))
        return self

    def predict(self, X: pd.DataFrame) -> FloatArray:
        """Predicted residual [dB] for each row."""
        with self._threads():
            return self.mean_model_.predict(X.reset_index(drop=True))

    def predict_std(self, X: pd.DataFrame) -> FloatArray:
        """Predicted standard deviation [dB] of the residual around :meth:`predict`."""
        with self._threads():
            s = self.std_model_.predict(X[list(self.features)].reset_index(drop=True))
        return self.std_scale_ * np.maximum(s, 0.5)


class DriveTestEngine(LayerEngine):
    """L1 RSRP engine on drive-test bins with cell engineering data (the Huawei Cup 2019
    format, :mod:`twinnet.datasets.huawei`): the 38.901 prediction of each bin plus, in the
    learned subclasses, a :class:`ResidualCorrector` of its residual.

    ``fit(frame, map_frames=())``, ``fit_store(store, geodata=…, origin_m=…)``,
    ``predict(frame)`` → :class:`~twinnet.engines.base.Prediction` of RSRP [dBm] per row with
    its std [dB] (see :class:`~twinnet.engines.base.LayerEngine`). A subclass builds its
    corrector in :meth:`_corrector` (``None``: physics only).
    """

    layer = "L1"
    name = "drive_test"

    def _corrector(self) -> ResidualCorrector | None:
        return None

    def is_fitted(self) -> bool:
        return hasattr(self, "terrain_points_")

    def _features(self, df: pd.DataFrame) -> pd.DataFrame:
        df, _ = validate_measurements(df, "query", with_rsrp=False)
        # map and cell list: the training ones plus the query's own bins and cells
        terrain = TerrainMap.from_frames(df, self.terrain_points_)
        cells = df[["Cell X", "Cell Y", "Azimuth"]]
        return huawei_features(df, terrain, pd.concat([self.sectors_, cells]), self.area_points_)

    def fit(self, data: pd.DataFrame, map_frames: Sequence[pd.DataFrame] = (),
            **context: Any) -> Self:
        """Fit on a Huawei frame (validated; NaN rows dropped). ``map_frames``: further frames
        whose *geodata only* (bin terrain/building heights, cell positions, each cell's served
        bins; RSRP unused) extend the terrain map, cell list and served areas, e.g. the area to
        be predicted."""
        reject_context(self, context)
        df, _ = validate_measurements(data, "train")
        maps = [validate_measurements(m, "map", with_rsrp=False)[0] for m in map_frames]
        self.terrain_points_ = TerrainMap.from_frames(df, *maps).points  # small to pickle
        self.sectors_ = pd.concat([f[["Cell X", "Cell Y", "Azimuth"]] for f in [df, *maps]]
                                  ).drop_duplicates()
        self.area_points_ = pd.concat([_area_points(f) for f in [df, *maps]])
        corrector = self._corrector()
        feats = self._features(df)
        resid = df["RSRP"].to_numpy() - feats["pred_38901_dbm"].to_numpy()
        if corrector is not None:
            corrector.fit(feats, resid, offset_groups=df["Cell Index"].to_numpy())
            self.offset_prior_ = corrector.offset_k_
        else:
            self.offset_prior_ = _offset_prior(resid, df["Cell Index"].to_numpy())
        self.corrector_ = corrector
        #: per-cell offsets learned from a new cell's first measurements (:meth:`adapt`)
        self.cell_offsets_: dict[Any, float] = {}
        self.n_train_ = len(df)
        self.n_cells_ = int(df["Cell Index"].nunique())
        return self

    def training_data(self, store: ContextStore, *, source: str | None = None,
                      start: Any = None, end: Any = None, geodata: pd.DataFrame | None = None,
                      origin_m: tuple[float, float] = (0.0, 0.0)) -> pd.DataFrame:
        """Huawei frame of the stored drive test: the measured RSRP of the store's measurement
        reports (``ue_reports`` with positions ``x_m``, ``y_m``) on the bins of ``geodata``
        (Huawei columns without ``RSRP``: the cells' engineering data and the bins' geodata,
        which the store does not hold). A report matches the bin with its cell
        (``cell_id`` = the decimal ``Cell Index``) and position (``x_m + origin_m[0] = X``,
        ``y_m + origin_m[1] = Y``, to 0.1 m; the store keeps local metres); several reports of
        one bin are averaged. Rows keep the order of ``geodata``."""
        if geodata is None:
            raise InputError("geodata", None, "the drive-test bins' engineering and geodata "
                             "(Huawei columns without RSRP)")
        geo, _ = validate_measurements(geodata, "geodata", with_rsrp=False)
        rep = store.ue_reports(start, end, source=source)
        rep = rep[rep["x_m"].notna() & rep["y_m"].notna() & rep["rsrp_dbm"].notna()]
        if not len(rep):
            raise InputError("ue_reports", 0, "stored measurement reports with positions "
                             "(x_m, y_m)")
        keys = ["cell_id", "bin_x", "bin_y"]
        meas = pd.DataFrame({
            "cell_id": rep["cell_id"].astype(str).to_numpy(),
            "bin_x": np.round(rep["x_m"].to_numpy(float) + origin_m[0], 1),
            "bin_y": np.round(rep["y_m"].to_numpy(float) + origin_m[1], 1),
            "RSRP": rep["rsrp_dbm"].to_numpy(float)}).groupby(keys, as_index=False)["RSRP"].mean()
        bins = geo.assign(cell_id=geo["Cell Index"].astype(np.int64).astype(str),
                          bin_x=np.round(geo["X"].to_numpy(float), 1),
                          bin_y=np.round(geo["Y"].to_numpy(float), 1))
        out = bins.merge(meas, on=keys, how="inner").drop(columns=keys)
        if not len(out):
            raise InputError("geodata", len(geo), "bins matching stored reports (cell_id = "
                             "Cell Index, position + origin_m = X, Y)")
        return out

    def fit_store(self, store: ContextStore, *, source: str | None = None, start: Any = None,
                  end: Any = None, geodata: pd.DataFrame | None = None,
                  origin_m: tuple[float, float] = (0.0, 0.0), **context: Any) -> Self:
        """Fit on the stored drive test (:meth:`training_data`); ``context`` goes to
        :meth:`fit` (``map_frames``)."""
        data = self.training_data(store, source=source, start=start, end=end, geodata=geodata,
                                  origin_m=origin_m)
        return self.fit(data, **context)

    def _predict_features(self, feats: pd.DataFrame) -> Prediction[FloatArray]:
        """The prediction without per-cell offsets."""
        mean = feats["pred_38901_dbm"].to_numpy()
        if self.corrector_ is None:
            return Prediction(mean, np.full(len(mean), SIGMA_SF_UMA_NLOS_DB))
        return Prediction(mean + self.corrector_.predict(feats),
                          self.corrector_.predict_std(feats))

    def predict(self, data: pd.DataFrame, **context: Any) -> Prediction[FloatArray]:
        """Predicted RSRP [dBm] of each row and its std [dB] (the reference: the UMa NLOS
        shadow-fading sigma; the learned engines: the corrector's calibrated std), plus the
        offset :meth:`adapt` learned for the row's cell, if any."""
        reject_context(self, context)
        self.check_fitted()
        feats = self._features(data)
        pred = self._predict_features(feats)
        offsets = getattr(self, "cell_offsets_", {})
        if not offsets:
            return pred
        add = pd.Series(feats["cell_id"].to_numpy()).map(offsets).fillna(0.0).to_numpy()
        return Prediction(np.asarray(pred.mean) + add, pred.std)

    def adapt(self, data: pd.DataFrame) -> Self:
        """Few-shot adaptation to cells as their first measurements arrive: each cell in
        ``data`` (Huawei rows with RSRP) gets the offset :func:`shrunk_offsets` estimates from
        its residuals, shrunk toward the prior learned in :meth:`fit` (a cell with one
        measurement moves little, one with a hundred almost to its mean). Replaces earlier
        offsets of those cells; other cells keep theirs."""
        self.check_fitted()
        df, _ = validate_measurements(data, "adapt")
        feats = self._features(df)
        resid = df["RSRP"].to_numpy() - np.asarray(self._predict_features(feats).mean)
        self.cell_offsets_ = {**getattr(self, "cell_offsets_", {}),
                              **shrunk_offsets(resid, feats["cell_id"].to_numpy(),
                                               self.offset_prior_)}
        return self

    def _metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_train": self.n_train_, "n_cells": self.n_cells_}
        if self.corrector_ is not None:
            out["oof_rmse_db"] = self.corrector_.oof_rmse_db_
        return out


class Uncalibrated38901(DriveTestEngine):
    """Reference: RS power + 38.901 antenna gain - UMa NLOS path loss; nothing learned (``fit``
    only records the map); std = the 6 dB UMa NLOS shadow-fading sigma of Table 7.4.1-1."""

    name = "uncalibrated_38901"


class LinearCorrection(DriveTestEngine):
    """Ridge "K-factor" correction of the 38.901 residual on :data:`PHYSICS_FEATURES`."""

    name = "linear"

    def __init__(self, ridge_alpha: float = 1.0, n_threads: int | None = 1):
        self.ridge_alpha = ridge_alpha
        self.n_threads = n_threads

    def _corrector(self) -> ResidualCorrector:
        return ResidualCorrector(PHYSICS_FEATURES, ("clutter",), "linear",
                                 ridge_alpha=self.ridge_alpha, n_threads=self.n_threads)


class GradientBoostedCorrection(DriveTestEngine):
    """Ridge + gradient-boosted trees on the 38.901 residual; with ``spatial`` also the mean
    residual of other cells' bins around each bin (neighbour evidence)."""

    def __init__(self, spatial: bool = True, max_iter: int = 300, learning_rate: float = 0.05,
                 n_threads: int | None = 1):
        self.spatial = spatial
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.n_threads = n_threads
        self.name = "gbm_spatial" if spatial else "gbm"

    def _corrector(self) -> ResidualCorrector:
        return ResidualCorrector(
            PHYSICS_FEATURES + SERVING_AREA_FEATURES, ("clutter",), "gbm",
            xy_columns=("x_m", "y_m") if self.spatial else None, group_column="cell_id",
            max_iter=self.max_iter, learning_rate=self.learning_rate, n_threads=self.n_threads)


def default_models(n_threads: int | None = 1) -> dict[str, DriveTestEngine]:
    """Fresh instances of all engines, keyed by name (uncalibrated, linear, gbm, gbm_spatial)."""
    models: list[DriveTestEngine] = [Uncalibrated38901(), LinearCorrection(n_threads=n_threads),
                                 GradientBoostedCorrection(False, n_threads=n_threads),
                                 GradientBoostedCorrection(True, n_threads=n_threads)]
    return {m.name: m for m in models}


def _score(pred: Prediction[FloatArray], measured: FloatArray, coverage: float | None
           ) -> dict[str, Any]:
    e = np.asarray(pred.mean) - measured
    out: dict[str, Any] = {"rmse_db": float(np.sqrt(np.mean(e**2))), "bias_db": float(np.mean(e)),
                           "n": len(e)}
    if coverage is not None:
        lo, hi = pred.interval(coverage)
        out["coverage"] = float(np.mean((measured >= lo) & (measured <= hi)))
        out["mean_std_db"] = float(np.mean(np.asarray(pred.std)))
    return out


def evaluate_frames(train_df: pd.DataFrame, test_df: pd.DataFrame,
                    models: dict[str, DriveTestEngine] | None = None,
                    coverage: float | None = None, shots: Sequence[int] | None = None,
                    seed: int = 0) -> dict[str, Any]:
    """Fit every model on ``train_df`` (with ``test_df``'s geodata, not its RSRP, in the terrain
    map) and score it on ``test_df``: ``{"models": {name:
    {"rmse_db", "bias_db", "n"}}, "default": DEFAULT_MODEL}`` plus ``"dropped_rows": {"train",
    "test"}`` when rows with NaN were dropped. bias = mean(predicted - measured). With
    ``coverage`` (e.g. 0.8) each model also reports the fraction of test rows inside its central
    ``coverage`` interval (``"coverage"``) and its mean predicted std (``"mean_std_db"``). With
    ``shots`` the same fitted models also give the few-shot curve of :func:`few_shot_curve`
    under ``"few_shot"``."""
    if coverage is not None and not 0.0 < coverage < 1.0:
        raise InputError("coverage", coverage, "a fraction in (0, 1)")
    wanted = None if shots is None else _shot_list(shots)
    train, n_tr = validate_measurements(train_df, "train")
    test, n_te = validate_measurements(test_df, "test")
    split = None if wanted is None else _ShotSplit(test, wanted, seed)
    models = models if models is not None else default_models()
    geo = test.drop(columns="RSRP")  # the test area's map, never its labels
    measured = test["RSRP"].to_numpy()
    out: dict[str, Any] = {"models": {name: _score(m.fit(train, map_frames=[geo]).predict(test),
                                                   measured, coverage)
                                      for name, m in models.items()},
                           "default": DEFAULT_MODEL if DEFAULT_MODEL in models else
                           next(iter(models))}
    if split is not None:
        out["few_shot"] = {**split.summary(),
                           "models": {name: split.scores(m) for name, m in models.items()}}
    if n_tr or n_te:
        out["dropped_rows"] = {"train": n_tr, "test": n_te}
    return out


def evaluate_files(train_csv: Path, test_csv: Path, coverage: float | None = None,
                   shots: Sequence[int] | None = None) -> dict[str, Any]:
    """:func:`evaluate_frames` on two Huawei CSV files (``.csv`` or ``.csv.gz``)."""
    return evaluate_frames(pd.read_csv(train_csv), pd.read_csv(test_csv), coverage=coverage,
                           shots=shots)


class _ShotSplit:
    """The few-shot split of a test frame: in each cell ``max(shots)`` random rows form the
    adaptation pool (the first ``n`` of them are used for ``n`` shots); the other rows are
    scored, the same rows for every ``n``."""

    def __init__(self, test: pd.DataFrame, shots: list[int], seed: int):
        self.test, self.shots = test, shots
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(test))
        self.cells = test["Cell Index"].to_numpy()
        rank = pd.Series(np.arange(len(test))).groupby(self.cells[order]).cumcount().to_numpy()
        self.pool = np.zeros(len(test), dtype=bool)
        self.pool[order] = rank < shots[-1]
        self.pos = np.empty(len(test), dtype=np.int64)
        self.pos[order] = rank
        self.scored = ~self.pool
        self.measured = test["RSRP"].to_numpy()

    def summary(self) -> dict[str, Any]:
        return {"shots": self.shots, "n_scored": int(self.scored.sum()),
                "cells": int(pd.unique(self.cells[self.scored]).size)}

    def scores(self, m: DriveTestEngine) -> dict[str, Any]:
        """RMSE and bias of a fitted engine on the scored rows for each number of shots."""
        base = np.asarray(m._predict_features(m._features(self.test)).mean)
        cells, sc, y = self.cells, self.scored, self.measured
        rmse, bias = [], []
        for n in self.shots:
            use = self.pool & (self.pos < n)
            off = shrunk_offsets(y[use] - base[use], cells[use], m.offset_prior_)
            e = base[sc] + pd.Series(cells[sc]).map(off).fillna(0.0).to_numpy() - y[sc]
            rmse.append(float(np.sqrt(np.mean(e ** 2))))
            bias.append(float(np.mean(e)))
        return {"rmse_db": rmse, "bias_db": bias, "prior_pseudo_count": m.offset_prior_}


def _shot_list(shots: Sequence[int]) -> list[int]:
    wanted = sorted({int(n) for n in shots})
    if not wanted or wanted[0] < 0:
        raise InputError("shots", list(shots), "numbers of measurements >= 0")
    return wanted


def few_shot_curve(train_df: pd.DataFrame, test_df: pd.DataFrame,
                   shots: Sequence[int] = (0, 10, 100),
                   models: dict[str, DriveTestEngine] | None = None, seed: int = 0
                   ) -> dict[str, Any]:
    """RSRP RMSE on unseen cells against the number of each test cell's measurements the engine
    has seen (:meth:`DriveTestEngine.adapt`). Every model is fitted on ``train_df`` (with the
    test area's geodata in its map); in each test cell ``max(shots)`` random rows form the
    adaptation pool (the first ``n`` are used for ``n`` shots) and the cell's other rows are
    scored, the same rows for every ``n``. Cells with no row left to score are skipped.
    Returns ``{"shots": [...], "models": {name: {"rmse_db": [...], "bias_db": [...]}},
    "n_scored": N, "cells": C}``."""
    wanted = _shot_list(shots)
    train, _ = validate_measurements(train_df, "train")
    split = _ShotSplit(validate_measurements(test_df, "test")[0], wanted, seed)
    models = models if models is not None else default_models()
    geo = split.test.drop(columns="RSRP")
    return {**split.summary(),
            "models": {name: split.scores(m.fit(train, map_frames=[geo]))
                       for name, m in models.items()}}


def grouped_few_shot(df: pd.DataFrame, n_splits: int = 4, shots: Sequence[int] = (0, 10, 100),
                     models: dict[str, DriveTestEngine] | None = None, seed: int = 0,
                     progress: Any = None) -> dict[str, Any]:
    """:func:`few_shot_curve` in by-cell K-fold CV (``GroupKFold`` on ``Cell Index``): per model
    the RMSE per number of shots in each fold and their mean over folds."""
    df, _ = validate_measurements(df)
    folds = list(GroupKFold(n_splits).split(df, groups=df["Cell Index"]))
    per: dict[str, list[list[float]]] = {}
    out_shots: list[int] = []
    for i, (tr, te) in enumerate(folds):
        fresh = default_models() if models is None else models
        res = few_shot_curve(df.iloc[tr], df.iloc[te], shots, fresh, seed)
        out_shots = res["shots"]
        for name, m in res["models"].items():
            per.setdefault(name, []).append(m["rmse_db"])
        if progress is not None:
            progress(i + 1, len(folds))
    return {"shots": out_shots, "folds": n_splits,
            "models": {n: {"fold_rmse_db": v, "mean_rmse_db": np.mean(v, axis=0).tolist()}
                       for n, v in per.items()}}


def grouped_cv(df: pd.DataFrame, n_splits: int = 4,
               models: dict[str, DriveTestEngine] | None = None) -> dict[str, dict[str, Any]]:
    """By-cell K-fold CV (``GroupKFold`` on ``Cell Index``): per model the fold RMSEs [dB] and
    their mean (``{"fold_rmse_db": [...], "mean_rmse_db": x}``)."""
    df, _ = validate_measurements(df)
    names = list(models if models is not None else default_models())
    res: dict[str, list[float]] = {n: [] for n in names}
    for tr, te in GroupKFold(n_splits).split(df, groups=df["Cell Index"]):
        fresh = default_models() if models is None else models
        scored = evaluate_frames(df.iloc[tr], df.iloc[te], fresh)["models"]
        for n in names:
            res[n].append(scored[n]["rmse_db"])
    return {n: {"fold_rmse_db": v, "mean_rmse_db": float(np.mean(v))} for n, v in res.items()}
