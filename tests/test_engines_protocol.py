"""The layer-engine protocol, for every engine class: fit on a frame, fit from a real DuckDB
store, predict with an uncertainty, register / load through the model registry (and save /
load through a file) with identical predictions, and a clear error before fitting.

Data: an emulated hotspot network reporting into a store (L1 radio calibration), a subsample of
the real Huawei Cup 2019 drive test (the drive-test engines; the store holds its measured RSRP,
the engineering data and geodata come as a frame) and a synthetic hourly traffic series (L2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from twinnet.datasets.huawei import load_cluster, split_by_cell
from twinnet.emulator import NetworkEmulator
from twinnet.engines.base import LayerEngine, Prediction
from twinnet.engines.radio_calibration import RadioCalibration
from twinnet.engines.radio_models import (
    GradientBoostedCorrection,
    LinearCorrection,
    Uncalibrated38901,
)
from twinnet.engines.traffic_forecast import TrafficForecast
from twinnet.errors import InputError
from twinnet.store import ContextStore
from twinnet.twin import DigitalTwin
from twinnet.twin.fidelity import predict_reports
from twinnet.twin.sync import TwinSync, restore_twin

P = 24  # hourly traffic
ORIGIN_M = (400_000.0, 3_385_000.0)  # the drive test's local frame in the store (metres)


# ----------------------------------------------------------------------------- data sets


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    """Five intervals of an emulated hotspot network in a store; the fifth is held out."""
    store = ContextStore(tmp_path_factory.mktemp("l1") / "store.duckdb")
    emu = NetworkEmulator("hotspot", reports_per_interval=300)
    twin = DigitalTwin.from_scenario("hotspot")
    sync = TwinSync(store, twin, source="emulator:test")
    sync.publish_topology(emu.recorded, twin.scenario)
    tels = [emu.step() for _ in range(5)]
    for tel in tels[:4]:
        sync.ingest(tel)
    yield {"store": store, "twin": twin, "source": sync.source, "held_out": tels[4].reports}
    store.close()


@pytest.fixture(scope="module")
def drive_test(tmp_path_factory):
    """A small by-cell split of the real drive test; the store holds the training RSRP."""
    train, test = split_by_cell(load_cluster(), test_fraction=0.25, seed=0)
    train = train.sample(frac=1.0, random_state=1).groupby("Cell Index").head(60)
    test = test.sample(frac=1.0, random_state=2).groupby("Cell Index").head(30)
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    store = ContextStore(tmp_path_factory.mktemp("drive") / "store.duckdb")
    store.register_cells(train["Cell Index"].astype(str).unique())
    reports = pd.DataFrame({
        "ts": pd.Timestamp("2019-06-01"), "ue_id": [f"bin{i}" for i in range(len(train))],
        "x_m": train["X"] - ORIGIN_M[0], "y_m": train["Y"] - ORIGIN_M[1],
        "cell_id": train["Cell Index"].astype(str), "rsrp_dbm": train["RSRP"]})
    assert store.append("ue_reports", reports, "drive_test") == {"accepted": len(train),
                                                                  "quarantined": 0}
    yield {"store": store, "train": train, "test": test}
    store.close()


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    """Twelve days of hourly traffic of four cells (daily swing, 10 % noise), in a store."""
    rng = np.random.default_rng(3)
    t = np.arange(12 * P)
    y = ((1 + 0.6 * np.sin(2 * np.pi * t / P))[:, None] * np.array([40.0, 80.0, 120.0, 60.0])
         * (1 + 0.1 * rng.standard_normal((t.size, 4))))
    frame = pd.DataFrame(y, index=pd.date_range("2024-03-04", periods=t.size, freq="1h"),
                         columns=["A", "B", "C", "D"])
    store = ContextStore(tmp_path_factory.mktemp("l2") / "store.duckdb")
    store.register_cells(frame.columns)
    rows = frame.stack().rename("thr_dl_mbps").rename_axis(["ts", "cell_id"]).reset_index()
    rows["prb_util_dl"] = 0.5
    assert store.append("cell_kpis", rows, "counters")["accepted"] == frame.size
    yield {"store": store, "frame": frame}
    store.close()


# ------------------------------------------------------------------------- engine cases


@dataclass
class Case:
    """How one engine class is fitted and queried."""

    make: Callable[[], LayerEngine]
    data: str  # fixture name
    frame: Callable[[dict[str, Any]], pd.DataFrame]
    fit_context: Callable[[dict[str, Any]], dict[str, Any]]
    store_context: Callable[[dict[str, Any]], dict[str, Any]]
    query: Callable[[dict[str, Any]], pd.DataFrame]
    query_context: Callable[[dict[str, Any]], dict[str, Any]] = field(
        default=lambda d: {})


def _drive(make: Callable[[], LayerEngine]) -> Case:
    return Case(
        make, "drive_test", lambda d: d["train"],
        lambda d: {"map_frames": [d["test"].drop(columns="RSRP")]},
        lambda d: {"source": "drive_test", "geodata": d["train"].drop(columns="RSRP"),
                   "origin_m": ORIGIN_M, "map_frames": [d["test"].drop(columns="RSRP")]},
        lambda d: d["test"])


CASES = {
    "radio_calibration": Case(
        lambda: RadioCalibration(corrector_params={"max_iter": 60}), "emulated",
        lambda d: d["store"].ue_reports(source=d["source"]),
        lambda d: {"twin": d["twin"]},
        lambda d: {"source": d["source"], "twin": d["twin"]},
        lambda d: d["held_out"], lambda d: {"twin": d["twin"]}),
    "uncalibrated_38901": _drive(Uncalibrated38901),
    "linear": _drive(LinearCorrection),
    "gbm": _drive(lambda: GradientBoostedCorrection(spatial=False, max_iter=40)),
    "gbm_spatial": _drive(lambda: GradientBoostedCorrection(spatial=True, max_iter=40)),
    "traffic_forecast": Case(
        lambda: TrafficForecast(), "traffic",
        lambda d: d["frame"].iloc[:-P], lambda d: {},
        lambda d: {"source": "counters", "end": d["frame"].index[-P]},
        lambda d: d["frame"].iloc[:-P], lambda d: {"horizon": 6}),
}
PARAMS = [pytest.param(name, marks=[pytest.mark.shared_data] if c.data == "drive_test" else [])
          for name, c in CASES.items()]


@pytest.fixture(params=PARAMS)
def case(request):
    c = CASES[request.param]
    return c, request.getfixturevalue(c.data)


def _values(pred: Prediction[Any], attr: str) -> np.ndarray:
    v = getattr(pred, attr)
    return np.asarray(v.to_numpy() if isinstance(v, pd.DataFrame) else v, dtype=float)


def _same(a: Prediction[Any], b: Prediction[Any], rtol: float = 0.0) -> None:
    for attr in ("mean", "std"):
        np.testing.assert_allclose(_values(a, attr), _values(b, attr), rtol=rtol, atol=0.0)


# ------------------------------------------------------------------------- the protocol


def test_every_engine_refuses_to_predict_before_fit(case):
    c, d = case
    eng = c.make()
    assert not eng.is_fitted()
    for call in (lambda: eng.predict(c.query(d), **c.query_context(d)), eng.metrics,
                 lambda: eng.register(d["store"])):
        with pytest.raises(InputError, match="call fit") as exc:
            call()
        assert exc.value.field == eng.name and exc.value.value == "not fitted"
    assert d["store"].models().empty


def test_every_engine_fits_on_a_frame_and_on_the_store_alike(case):
    c, d = case
    on_frame = c.make().fit(c.frame(d), **c.fit_context(d))
    on_store = c.make().fit_store(d["store"], **c.store_context(d))
    assert on_frame.is_fitted() and on_store.is_fitted()
    # the store hands the values back in another memory order: equal up to rounding
    _same(on_frame.predict(c.query(d), **c.query_context(d)),
          on_store.predict(c.query(d), **c.query_context(d)), rtol=1e-9)
    for key, value in on_frame.metrics().items():
        other = on_store.metrics()[key]
        assert other == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value)


def test_every_engine_predicts_a_mean_with_an_uncertainty(case):
    c, d = case
    eng = c.make().fit(c.frame(d), **c.fit_context(d))
    pred = eng.predict(c.query(d), **c.query_context(d))
    mean, std = _values(pred, "mean"), _values(pred, "std")
    assert mean.shape == std.shape and mean.shape[0] > 0
    known = np.isfinite(mean)
    assert known.mean() > 0.9 and np.all(np.isfinite(std[known])) and np.all(std[known] > 0)
    lo, hi = pred.interval(0.8)
    lo, hi = np.asarray(lo, dtype=float)[known], np.asarray(hi, dtype=float)[known]
    assert np.all(lo <= mean[known]) and np.all(mean[known] <= hi) and np.all(lo < hi)
    with pytest.raises(InputError) as exc:  # a context the engine does not take
        eng.predict(c.query(d), **c.query_context(d), horizn=3)
    assert exc.value.field == "horizn"


def test_every_engine_round_trips_through_the_registry_and_a_file(case, tmp_path):
    c, d = case
    store = ContextStore(tmp_path / "registry.duckdb")  # a registry of its own
    eng = c.make().fit(c.frame(d), **c.fit_context(d))
    want = eng.predict(c.query(d), **c.query_context(d))
    first = eng.register(store)
    assert first == f"{eng.layer}/{eng.name}/v1"
    assert eng.register(store) == f"{eng.layer}/{eng.name}/v2"
    back = type(eng).from_registry(store)  # the layer's active engine: v2
    assert type(back) is type(eng) and back is not eng
    _same(back.predict(c.query(d), **c.query_context(d)), want)
    v1 = LayerEngine.from_registry(store, eng.layer, eng.name, version=1)
    _same(v1.predict(c.query(d), **c.query_context(d)), want)
    row = store.models().set_index("model_id").loc[first]
    assert json.loads(row.params) == json.loads(json.dumps(eng.get_params(), default=str))
    assert json.loads(row.metrics) == eng.metrics()
    eng.save(tmp_path / "engine.pkl")
    _same(type(eng).load(tmp_path / "engine.pkl").predict(c.query(d), **c.query_context(d)),
          want)
    store.close()


def test_the_registry_names_the_engine_it_does_not_hold(traffic, tmp_path):
    with ContextStore(tmp_path / "s.duckdb") as store:
        TrafficForecast("persistence").fit(traffic["frame"]).register(store)
        with pytest.raises(InputError, match="RadioCalibration") as exc:
            RadioCalibration.from_registry(store, "L2")
        assert exc.value.value == "L2/active"
        with pytest.raises(InputError, match="registered model"):
            RadioCalibration.from_registry(store)  # nothing registered for L1
        with pytest.raises(InputError) as exc:
            LayerEngine.from_registry(store)  # the base class has no layer of its own
        assert exc.value.field == "layer"


# ----------------------------------------------------------------------------- Prediction


def test_prediction_interval_from_std_or_stored_quantiles():
    pred = Prediction(np.array([10.0, 20.0]), np.array([2.0, 4.0]))
    lo, hi = pred.interval(0.8)
    z80 = 1.2815515655446004  # standard-normal 90th percentile
    np.testing.assert_allclose(lo, [10 - 2 * z80, 20 - 4 * z80])
    np.testing.assert_allclose(hi, [10 + 2 * z80, 20 + 4 * z80])
    band = Prediction(np.array([10.0]), None, {0.1: np.array([7.0]), 0.9: np.array([15.0])})
    assert band.interval(0.8) == (np.array([7.0]), np.array([15.0]))  # asymmetric, as stored
    with pytest.raises(InputError) as exc:  # no such quantiles and no std to fall back on
        band.interval(0.5)
    assert exc.value.field == "coverage" and exc.value.value == 0.5
    with pytest.raises(InputError, match="coverage"):
        pred.interval(1.0)


# ------------------------------------------------------------------------------ L1 details


def test_radio_calibration_predicts_what_the_attached_twin_computes(emulated):
    d = emulated
    eng = RadioCalibration(corrector_params={"max_iter": 60}).fit_store(
        d["store"], source=d["source"], twin=d["twin"])
    rep = d["held_out"].copy()
    rep.loc[rep.index[0], "ue_id"] = "ue99999"  # no such user in the twin
    pred = eng.predict(rep, twin=d["twin"])
    assert np.isnan(pred.mean[0]) and np.isnan(pred.std[0])
    twin = DigitalTwin.from_scenario("hotspot")
    eng.attach(twin)
    np.testing.assert_allclose(predict_reports(twin, rep)[1:], pred.mean[1:], atol=1e-6)
    # on the held-out interval the corrected twin is closer to the measurements than the raw
    # one, and its 80 % intervals hold close to 80 % of them
    y = rep["rsrp_dbm"].to_numpy()[1:]
    raw = predict_reports(DigitalTwin.from_scenario("hotspot"), rep)[1:]
    mean = pred.mean[1:]
    assert np.sqrt(np.mean((mean - y) ** 2)) < 0.5 * np.sqrt(np.mean((raw - y) ** 2))
    lo, hi = pred.interval(0.8)
    assert abs(float(np.mean((y >= lo[1:]) & (y <= hi[1:]))) - 0.8) < 0.1
    with pytest.raises(InputError, match="twin"):
        eng.predict(rep)
    with pytest.raises(InputError) as exc:
        eng.fit(rep.drop(columns="rsrp_dbm"), twin=d["twin"])
    assert exc.value.field == "rsrp_dbm"


def test_restore_twin_takes_only_a_link_adjustment_from_the_registry(emulated, drive_test,
                                                                     tmp_path):
    d = emulated
    with ContextStore(tmp_path / "s.duckdb") as store:
        store.write_topology(d["twin"].network)
        # a drive-test engine is an L1 engine too, but not a correction of the twin's links
        drive = Uncalibrated38901().fit(drive_test["train"])
        drive.register(store)
        twin = DigitalTwin.from_scenario("hotspot")
        out = restore_twin(store, twin)
        assert twin.link_adjustment is None and "l1_engine" not in out
        assert out["l1_engine_skipped"]["model"] == ["L1/uncalibrated_38901/v1"]
        assert "Uncalibrated38901" in out["l1_engine_skipped"]["reason"]
        eng = RadioCalibration(corrector_params={"max_iter": 60}).fit_store(
            d["store"], source=d["source"], twin=d["twin"])
        mid = eng.register(store)
        twin = DigitalTwin.from_scenario("hotspot")
        out = restore_twin(store, twin)
        assert out["l1_engine"] == [mid] and isinstance(twin.link_adjustment, RadioCalibration)
        np.testing.assert_allclose(predict_reports(twin, d["held_out"]),
                                   eng.predict(d["held_out"], twin=d["twin"]).mean, atol=1e-6)


# ------------------------------------------------------------------------------ L2 details


def test_traffic_band_holds_its_coverage_out_of_sample(traffic):
    """Fitted at successive days, the forecast's 80 % band over the next six hours holds
    about 80 % of what then happened (the band comes from held-out errors of the history)."""
    frame = traffic["frame"]
    inside = []
    for end in range(6 * P, 12 * P - 6, 5):
        eng = TrafficForecast("level_adjusted_seasonal").fit(frame.iloc[:end])
        pred = eng.predict(frame.iloc[:end], horizon=6)
        lo, hi = pred.interval(0.8)
        truth = frame.iloc[end:end + 6].to_numpy()
        assert list(pred.mean.index) == list(frame.index[end:end + 6])
        inside.append((truth >= lo.to_numpy()) & (truth <= hi.to_numpy()))
    assert abs(float(np.mean(inside)) - 0.8) < 0.08


def test_traffic_forecast_reports_what_its_fit_could_not_do(traffic):
    frame = traffic["frame"]
    eng = TrafficForecast("holt_winters").fit(frame.iloc[:30])  # 30 h: under two days
    warned = eng.metrics()["fit_warnings"]
    assert any(w.startswith("holt_winters: default alpha=0.3, gamma=0.1 kept for series "
                            "A, B, C, D: 30 steps") for w in warned)
    tiny = TrafficForecast("persistence").fit(frame.iloc[:3])
    assert any("too few to hold" in w for w in tiny.metrics()["fit_warnings"])
    pred = tiny.predict(frame.iloc[:3], horizon=2)
    assert pred.std is not None and pred.std.isna().all().all()
    assert np.isfinite(pred.mean.to_numpy()).all()
    with pytest.raises(InputError) as exc:
        TrafficForecast(kpi="nope").fit_store(traffic["store"])
    assert exc.value.field == "kpi"
    with pytest.raises(InputError) as exc:
        TrafficForecast().fit(frame.to_numpy())
    assert exc.value.field == "traffic"


def test_residual_kriging_follows_measurements_and_falls_back_far_from_them():
    """Regression kriging of what the smooth correction leaves: at measured positions it
    restores most of the measured residual, halfway between two measurements it blends them,
    far from any measurement it adds nothing; the length comes from held-out users."""
    from twinnet.engines.radio_calibration import ResidualKriging

    rng = np.random.default_rng(0)
    n_users = 400
    ux, uy = rng.uniform(0, 1000, n_users), rng.uniform(0, 1000, n_users)
    # a residual field correlated over ~30 m: smooth bumps
    cx, cy = rng.uniform(0, 1000, 60), rng.uniform(0, 1000, 60)
    amp = rng.normal(0, 8, 60)

    def field(x, y):
        d2 = (x[:, None] - cx) ** 2 + (y[:, None] - cy) ** 2
        return (amp * np.exp(-d2 / (2 * 60.0 ** 2))).sum(axis=1)

    reps = 5  # each user reports five times, with 1 dB of noise
    user = np.repeat(np.arange(n_users), reps)
    x, y = ux[user], uy[user]
    res = field(x, y) + rng.normal(0, 1, x.size)
    cell = np.zeros(x.size, dtype=np.int64)
    kr = ResidualKriging().fit(cell, x, y, res, user)
    assert kr.length_m in (5.0, 15.0, 40.0)
    at = kr.predict(np.zeros(n_users, dtype=np.int64), ux, uy)
    truth = field(ux, uy)
    assert np.sqrt(np.mean((at - truth) ** 2)) < 0.35 * np.std(truth)
    far = kr.predict(np.zeros(3, dtype=np.int64), np.array([5000.0, -3000.0, 1e5]),
                     np.array([5000.0, 0.0, 0.0]))
    np.testing.assert_array_equal(far, 0.0)
    other_cell = kr.predict(np.ones(n_users, dtype=np.int64), ux, uy)
    np.testing.assert_array_equal(other_cell, 0.0)  # residuals are per cell
