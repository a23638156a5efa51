"""L1 AI engine: calibration of TR 38.901 UMa against the measured Huawei Cup 2019 RSRP.

Real data only (``../shared/data/radio/huawei_cup2019_rsrp``); models are fitted once per module
on a row subsample (1500 rows per train cell, 400 per test cell) of a fixed by-cell split
(36 train / 12 unseen test cells, seed 0) to stay fast.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from twinnet.datasets.huawei import HUAWEI_COLUMNS, load_cluster, split_by_cell
from twinnet.engines.base import Prediction
from twinnet.engines.radio_models import (
    DEFAULT_MODEL,
    DriveTestEngine,
    GradientBoostedCorrection,
    LinearCorrection,
    ResidualCorrector,
    Uncalibrated38901,
    default_models,
    evaluate_files,
    huawei_features,
)
from twinnet.errors import InputError

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def huawei_df() -> pd.DataFrame:
    return load_cluster()


def _subsample(df: pd.DataFrame, per_cell: int, seed: int) -> pd.DataFrame:
    shuffled = df.sample(frac=1.0, random_state=seed)
    return shuffled.groupby("Cell Index").head(per_cell).reset_index(drop=True)


@pytest.fixture(scope="module")
def split(huawei_df):
    train, test = split_by_cell(huawei_df, test_fraction=0.25, seed=0)
    return _subsample(train, 1500, 1), _subsample(test, 400, 2)


@pytest.fixture(scope="module")
def fitted(split):
    train, test = split
    y = test["RSRP"].to_numpy()
    out = {}
    for name, model in default_models(n_threads=1).items():
        # as evaluate_frames: the test area's geodata (not its RSRP) extends the terrain map
        model.fit(train, map_frames=[test.drop(columns="RSRP")])
        pred = model.predict(test)
        out[name] = (model, pred, y)
    return out


LEARNED = ("linear", "gbm", "gbm_spatial")


def _rmse(mean, y):
    return float(np.sqrt(np.mean((mean - y) ** 2)))


def test_split_by_cell_is_disjoint_and_reproducible(huawei_df):
    train, test = split_by_cell(huawei_df, test_fraction=0.25, seed=0)
    tr_cells, te_cells = set(train["Cell Index"]), set(test["Cell Index"])
    assert not tr_cells & te_cells
    assert len(te_cells) == 12 and len(tr_cells) == 36
    assert len(train) + len(test) == len(huawei_df)
    again = split_by_cell(huawei_df, test_fraction=0.25, seed=0)[1]
    assert set(again["Cell Index"]) == te_cells
    assert set(split_by_cell(huawei_df, 0.25, seed=1)[1]["Cell Index"]) != te_cells
    with pytest.raises(InputError):
        split_by_cell(huawei_df, test_fraction=1.0)


def test_reference_prediction_matches_hand_computed_38901():
    # Site at (0, 0), 30 m antenna, boresight north; the bin 500 m north on flat terrain.
    h_bs, h_ut, d2d, fc_ghz, rs_power = 30.0, 1.5, 500.0, 2.585, 10.0
    below_deg = math.degrees(math.atan2(h_bs - h_ut, d2d))  # 3.262°: tilt steered at the bin
    row = {"Cell Index": 1, "Cell X": 0.0, "Cell Y": 0.0, "Height": h_bs, "Azimuth": 0.0,
           "Electrical Downtilt": below_deg, "Mechanical Downtilt": 0.0,
           "Frequency Band": 2585.0, "RS Power": rs_power, "Cell Altitude": 500.0,
           "Cell Building Height": 0.0, "Cell Clutter Index": 5, "X": 0.0, "Y": d2d,
           "Altitude": 500.0, "Building Height": 0.0, "Clutter Index": 5, "RSRP": -100.0}
    df = pd.DataFrame([row])
    # TR 38.901 Table 7.4.1-1, UMa: d'BP = 4 (hBS-1)(hUT-1) fc/c = 499.77 m < d2D -> PL2 (LOS).
    d3d = math.hypot(d2d, h_bs - h_ut)  # 500.81 m
    dbp = 4 * (h_bs - 1) * (h_ut - 1) * fc_ghz * 1e9 / 3e8
    assert dbp == pytest.approx(499.77, abs=0.01)
    pl_los = (28.0 + 40 * math.log10(d3d) + 20 * math.log10(fc_ghz)
              - 9 * math.log10(dbp**2 + (h_bs - h_ut) ** 2))  # 95.64 dB
    pl_nlos_prime = 13.54 + 39.08 * math.log10(d3d) + 20 * math.log10(fc_ghz)  # 127.29 dB
    pl = max(pl_los, pl_nlos_prime)
    assert pl == pytest.approx(127.29, abs=0.01)
    # Table 7.3-1 element (8 dBi, A_V = -12 (dtheta/65)^2, on boresight A_H = 0) + a 10-element
    # array steered at the bin: +10 dB.
    gain = 8.0 - 12.0 * (below_deg / 65.0) ** 2 + 10.0
    expected = rs_power + gain - pl  # -99.32 dBm
    assert expected == pytest.approx(-99.32, abs=0.01)
    feats = huawei_features(df)
    assert feats["pathloss_38901_db"].iloc[0] == pytest.approx(pl, abs=1e-9)
    assert feats["antenna_gain_db"].iloc[0] == pytest.approx(gain, abs=1e-6)
    assert Uncalibrated38901().fit(df).predict(df).mean[0] == pytest.approx(expected, abs=1e-6)
    assert feats["azimuth_offset_deg"].iloc[0] == pytest.approx(0.0)
    assert feats["vertical_offset_deg"].iloc[0] == pytest.approx(0.0, abs=1e-12)


def test_engines_rank_on_unseen_cells(fitted):
    """Each step of the engine ladder must earn its place on cells it never saw, measured
    against the steps below it in this same split: any correction beats the raw 38.901
    reference, the boosted trees beat the linear K-factor fit, and the neighbour evidence
    beats the boosted trees without it (the reason it is the default)."""
    rmse = {name: _rmse(p.mean, y) for name, (_, p, y) in fitted.items()}
    assert rmse["linear"] < rmse["uncalibrated_38901"]
    assert rmse["gbm"] < rmse["linear"]
    assert rmse["gbm_spatial"] < rmse["gbm"]
    assert DEFAULT_MODEL == "gbm_spatial"
    # the systematic error is what calibration removes: each learned engine keeps under a
    # quarter of the reference's bias (the rest of its error is spread, not offset)
    bias = {name: float(np.mean(p.mean - y)) for name, (_, p, y) in fitted.items()}
    for name in LEARNED:
        assert abs(bias[name]) < abs(bias["uncalibrated_38901"]) / 4, (name, bias)


def test_interval_coverage_on_unseen_cells(fitted):
    """The learned engines' predicted std is calibrated on out-of-fold errors, so on unseen
    cells their central intervals hold close to the nominal share of the bins and the RMS
    of the std matches the RMSE; the reference's fixed 6 dB shadow-fading sigma does not."""
    cover = {}
    for name, (model, pred, y) in fitted.items():
        assert isinstance(model, DriveTestEngine) and isinstance(pred, Prediction)
        assert pred.std is not None and np.all(pred.std > 0)
        cover[name] = {c: float(np.mean((y >= pred.interval(c)[0]) & (y <= pred.interval(c)[1])))
                       for c in (0.8, 0.95)}
        if name in LEARNED:
            assert abs(cover[name][0.8] - 0.8) < 0.06, (name, cover[name])
            assert abs(cover[name][0.95] - 0.95) < 0.04, (name, cover[name])
            ratio = float(np.sqrt(np.mean(pred.std ** 2))) / _rmse(pred.mean, y)
            assert 0.8 < ratio < 1.25, (name, ratio)
    assert all(cover["uncalibrated_38901"][0.8] < cover[n][0.8] - 0.2 for n in LEARNED)


def test_predict_interval_and_features_without_rsrp(fitted, split):
    model = fitted["gbm"][0]
    test = split[1].head(50).drop(columns="RSRP")
    pred = model.predict(test)
    low, high = pred.interval(0.8)
    assert low.shape == pred.mean.shape == (50,)
    assert np.all(low < pred.mean) and np.all(pred.mean < high)
    wide_low, wide_high = pred.interval(0.95)
    assert np.all(wide_low < low) and np.all(high < wide_high)


def test_serving_area_features_do_not_depend_on_the_query_batch(fitted, split):
    # the served-area statistics come from the fit's map frames, so a part of a cell's bins
    # gets the same prediction as within the whole test frame
    model, pred, _ = fitted[DEFAULT_MODEL]
    test = split[1]
    part = test.iloc[::7]
    np.testing.assert_allclose(model.predict(part).mean, pred.mean[::7], atol=1e-9)
    feats = huawei_features(test)
    assert feats["d_rank"].between(0.0, 1.0).all() and np.isfinite(feats["d_rel_median"]).all()


def _write(df: pd.DataFrame, path) -> None:
    df.to_csv(path, index=False)


def test_evaluate_files_schema_and_nan_rows(split, tmp_path):
    train, test = (_subsample(f, 120, 3) for f in split)
    train.loc[0, "RSRP"] = np.nan
    train_csv, test_csv = tmp_path / "train.csv.gz", tmp_path / "test.csv"
    _write(train, train_csv)
    _write(test, test_csv)
    res = evaluate_files(train_csv, test_csv)
    assert set(res) == {"models", "default", "dropped_rows"}
    assert res["dropped_rows"] == {"train": 1, "test": 0}
    assert res["default"] == DEFAULT_MODEL
    assert set(res["models"]) == {"uncalibrated_38901", "linear", "gbm", "gbm_spatial"}
    for score in res["models"].values():
        assert set(score) == {"rmse_db", "bias_db", "n"}
        assert score["n"] == len(test)
        assert isinstance(score["rmse_db"], float) and score["rmse_db"] > 0
    assert res["models"]["uncalibrated_38901"]["rmse_db"] > res["models"]["linear"]["rmse_db"]


def test_missing_column_names_the_column(split, tmp_path):
    train, test = split
    _write(train.head(20), tmp_path / "train.csv")
    _write(test.head(20).drop(columns="Azimuth"), tmp_path / "test.csv")
    with pytest.raises(InputError, match="Azimuth") as err:
        evaluate_files(tmp_path / "train.csv", tmp_path / "test.csv")
    assert err.value.field == "Azimuth"
    assert "Azimuth" in HUAWEI_COLUMNS


def test_residual_corrector_generic_and_persistence(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(size=n),
                      "kind": rng.integers(0, 3, n), "x_m": rng.uniform(0, 500, n),
                      "y_m": rng.uniform(0, 500, n), "cell": rng.integers(0, 10, n)})
    resid = 3.0 * X["a"] + 2.0 * (X["kind"] == 2) + rng.normal(0, 1.0, n)
    for method in ("linear", "gbm"):
        eng = ResidualCorrector(["a", "b", "kind"], ["kind"], method, xy_columns=("x_m", "y_m"),
                                group_column="cell", max_iter=60, min_samples_leaf=50)
        eng.fit(X, resid)
        assert _rmse(eng.predict(X), resid.to_numpy()) < 1.3
        assert 0.6 < float(np.mean(eng.predict_std(X))) < 1.6
        eng.save(tmp_path / f"{method}.pkl")
        back = ResidualCorrector.load(tmp_path / f"{method}.pkl")
        np.testing.assert_array_equal(back.predict(X), eng.predict(X))
    with pytest.raises(InputError, match="missing"):
        ResidualCorrector(["a", "nope"]).fit(X, resid)


def test_drive_test_engine_save_load_roundtrip(fitted, split, tmp_path):
    model = fitted[DEFAULT_MODEL][0]
    assert isinstance(model, GradientBoostedCorrection)
    model.save(tmp_path / "m.pkl")
    back = GradientBoostedCorrection.load(tmp_path / "m.pkl")
    test = split[1].head(100)
    np.testing.assert_array_equal(back.predict(test).mean, model.predict(test).mean)
    np.testing.assert_array_equal(back.predict(test).std, model.predict(test).std)
    with pytest.raises(InputError, match="LinearCorrection"):  # a file of another engine
        LinearCorrection.load(tmp_path / "m.pkl")


def _evaluate_args(split, tmp_path, per_cell: int, seed: int) -> tuple[list[str], pd.DataFrame]:
    """``twinnet radio evaluate … --json`` on a subsample of the split written to CSV files."""
    train, test = (_subsample(f, per_cell, seed) for f in split)
    _write(train, tmp_path / "train.csv")
    _write(test, tmp_path / "test.csv")
    return ["radio", "evaluate", "--train", str(tmp_path / "train.csv"), "--test",
            str(tmp_path / "test.csv"), "--json"], test


def test_radio_evaluate_command_scores_intervals(split, tmp_path):
    from twinnet.cli import app

    args, _ = _evaluate_args(split, tmp_path, 60, 4)
    res = CliRunner().invoke(app, [*args, "--coverage", "0.8"])
    assert res.exit_code == 0, res.output
    models = json.loads(res.stdout)["models"]
    for name, score in models.items():
        assert set(score) == {"rmse_db", "bias_db", "n", "coverage", "mean_std_db"}
        assert 0.0 <= score["coverage"] <= 1.0 and score["mean_std_db"] > 0, name
    assert models["uncalibrated_38901"]["mean_std_db"] == pytest.approx(6.0)
    # without the option the output is the plain score table
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["models"]["linear"]) == {"rmse_db", "bias_db", "n"}


def test_shrunk_offsets_by_hand():
    from twinnet.engines.radio_models import shrunk_offsets

    off = shrunk_offsets(np.array([2.0, 4.0, -6.0]), np.array(["a", "a", "b"]), k=2.0)
    assert off["a"] == pytest.approx(3.0 * 2 / 4)
    assert off["b"] == pytest.approx(-6.0 * 1 / 3)


def test_offset_prior_measures_the_variance_ratio():
    """Independent residuals around per-cell offsets of std tau, within-cell std sigma: the
    fitted pseudo-count is close to sigma² / tau² (the posterior-mean shrinkage)."""
    from twinnet.engines.radio_models import _offset_prior

    rng = np.random.default_rng(0)
    tau, sigma, cells, rows = 4.0, 8.0, 300, 300
    c = np.repeat(np.arange(cells), rows)
    r = rng.normal(0, tau, cells)[c] + rng.normal(0, sigma, c.size)
    k = _offset_prior(r, c)
    assert 0.6 * (sigma / tau) ** 2 < k < 1.6 * (sigma / tau) ** 2


def test_adapt_moves_a_new_cell_toward_its_first_measurements(fitted, split):
    """A test cell whose RSRP runs 12 dB above every engine's prediction: after 100 of its
    measurements the engine's prediction for the cell's other bins rises by most of it; other
    cells do not move; no measurement, no change."""
    _, test = split
    model = fitted["gbm_spatial"][0]
    cell = test["Cell Index"].iloc[0]
    rows = test[test["Cell Index"] == cell]
    first, rest = rows.iloc[:100].copy(), rows.iloc[100:]
    first["RSRP"] = np.asarray(model.predict(first).mean) + 12.0
    before_rest = np.asarray(model.predict(rest).mean)
    others = test[test["Cell Index"] != cell].iloc[:200]
    before_others = np.asarray(model.predict(others).mean)
    model.adapt(first)
    try:
        shift = np.asarray(model.predict(rest).mean) - before_rest
        np.testing.assert_allclose(shift, 12.0 * 100 / (100 + model.offset_prior_), rtol=1e-6)
        assert shift.mean() > 9.0
        np.testing.assert_allclose(np.asarray(model.predict(others).mean), before_others)
    finally:
        model.cell_offsets_ = {}


def test_radio_evaluate_command_few_shot(split, tmp_path):
    """``--shots``: RMSE per number of each held-out cell's measurements seen, every engine;
    the same rows are scored at every n; a bad list names the option."""
    from twinnet.cli import app

    args, test = _evaluate_args(split, tmp_path, 120, 5)
    res = CliRunner().invoke(app, [*args, "--shots", "0,20"])
    assert res.exit_code == 0, res.output
    fs = json.loads(res.stdout)["few_shot"]
    assert fs["shots"] == [0, 20] and fs["n_scored"] == len(test) - 20 * fs["cells"]
    for name, m in fs["models"].items():
        assert len(m["rmse_db"]) == 2 and m["prior_pseudo_count"] > 0, name
    # the uncalibrated model's large per-cell offsets are what a few measurements remove
    assert fs["models"]["uncalibrated_38901"]["rmse_db"][1] < \
        fs["models"]["uncalibrated_38901"]["rmse_db"][0] - 2.0
    bad = CliRunner().invoke(app, [*args, "--shots", "ten"])  # main() prints it, exit 2
    assert bad.exit_code != 0 and isinstance(bad.exception, InputError)
    assert "--shots" in str(bad.exception) and "ten" in str(bad.exception)
