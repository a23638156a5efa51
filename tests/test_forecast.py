"""L2 traffic-load forecasting: metric, baselines, causality, validation and the Milan claim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinnet.engines.forecast import (
    BASELINES,
    DEFAULT_MODEL,
    MODELS,
    ForecasterUnavailable,
    evaluate_csv,
    evaluate_frame,
    forecast_band,
    forecast_series,
    make_forecaster,
    nrmse,
    rolling_forecasts,
)
from twinnet.engines.forecasters import ChronosAdapter, TimesFMAdapter, causal_fill
from twinnet.errors import InputError

P = 24  # hourly synthetic data: 24 steps per day
FOUNDATION = ("timesfm", "chronos")
#: the ConvLSTM needs series that fill a grid: it has its own tests (tests/test_deep_forecast.py)
GRID_ONLY = ("convlstm",)
MILAN_CSV = "milan_internet_10min_25cells_2013-11-01_to_2013-11-30.csv"

#: small settings so that every model runs in well under a second on the synthetic data
FAST = {"gbm": {"max_iter": 20, "train_stride": 2}, "holt_winters": {"fit_days": 5},
        "mlp": {"hidden": (32,), "train_stride": 2},
        "lstm": {"window": 12, "hidden": 8, "epochs": 4, "train_stride": 2}}


def _fast(name: str, period: int = P):
    if name == "selected":  # members at their fast settings
        sel = make_forecaster("selected", period=period, validation_days=2.0, origin_stride=3)
        sel._make = lambda n: _fast(n, period)  # type: ignore[method-assign]
        return sel
    if name == "ensemble":
        gbm = make_forecaster("gbm", period=period, **FAST["gbm"])
        return make_forecaster(
            "ensemble", period=period, members=[gbm, make_forecaster("holt_winters", period=period)]
        )
    return make_forecaster(name, period=period, **FAST.get(name, {}))


def _synthetic(n_days: int = 12, n_series: int = 3, noise: float = 0.1, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_days * P)
    day = 1.0 + 0.6 * np.sin(2 * np.pi * t / P)
    week = 1.0 + 0.2 * ((t // P) % 7 >= 5)
    scale = np.array([50.0, 100.0, 200.0][:n_series])
    return (day * week)[:, None] * scale * (1 + noise * rng.standard_normal((t.size, n_series)))


def _frame(y: np.ndarray, start: str = "2024-01-01T00:00:00+01:00") -> pd.DataFrame:
    times = pd.date_range(pd.Timestamp(start), periods=y.shape[0], freq="1h")
    df = pd.DataFrame(y, columns=[f"cell_{i}" for i in range(y.shape[1])])
    df.insert(0, "time", [t.isoformat() for t in times])
    df["label"] = "x"  # non-numeric: ignored
    return df


# ---------------------------------------------------------------------------------- metric


def test_nrmse_matches_hand_computed_value():
    pred = np.array([[1.0, 2.0], [3.0, 5.0]])
    true = np.array([[2.0, 2.0], [4.0, 4.0]])
    # errors -1, 0, -1, 1 → RMSE = sqrt(3/4); mean(true) = 3
    assert nrmse(pred, true) == pytest.approx(np.sqrt(0.75) / 3.0, rel=1e-12)


def test_nrmse_skips_missing_targets_and_validates():
    assert nrmse([1.0, 2.0, 100.0], [2.0, 2.0, np.nan]) == pytest.approx(np.sqrt(0.5) / 2.0)
    with pytest.raises(InputError, match="y_pred"):
        nrmse([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="y_true"):
        nrmse([1.0], [np.nan])


# ------------------------------------------------------------------------------- baselines


def test_persistence_and_seasonal_naive_are_exact():
    y = _synthetic(noise=0.0, n_days=21)
    steps = np.array([1, 5, 24, 30, 50])
    origins = np.array([15 * P + 3, 18 * P])
    per = make_forecaster("persistence", period=P).fit(y[: 15 * P])
    out = per.forecast_at(y, origins, steps)
    assert out.shape == (2, steps.size, 3)
    np.testing.assert_array_equal(out, np.repeat(y[origins - 1][:, None], steps.size, axis=1))
    # the synthetic series repeats every week exactly: weekly seasonal naive is perfect
    weekly = make_forecaster("seasonal_naive_weekly", period=P).fit(y[: 15 * P])
    truth = y[origins[:, None] + steps - 1]
    np.testing.assert_allclose(weekly.forecast_at(y, origins, steps), truth)
    # daily seasonal naive: the value one day (two days for h > 24) earlier
    daily = make_forecaster("seasonal_naive", period=P).fit(y[: 15 * P])
    got = daily.forecast_at(y, origins, steps)
    lag = P * np.ceil(steps / P).astype(int)
    np.testing.assert_array_equal(got, y[origins[:, None] + steps - 1 - lag])


def test_seasonal_naive_is_perfect_on_a_purely_daily_series():
    t = np.arange(10 * P)
    y = 10 + np.sin(2 * np.pi * t / P) + np.cos(4 * np.pi * t / P)
    df = pd.DataFrame({"time": pd.date_range("2024-03-04", periods=t.size, freq="1h"), "a": y})
    res = evaluate_frame(
        df,
        "time",
        "2024-03-08T00:00:00",
        "2024-03-13T23:00:00",
        horizons=[1, 7, 24],
        models=["seasonal_naive", "persistence"],
    )
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in res["models"]["seasonal_naive"].values())
    assert res["models"]["persistence"]["1"] > 0.01


def test_forecast_and_predict_shapes():
    y = _synthetic()
    m = make_forecaster("level_adjusted_seasonal", period=P).fit(y)
    assert m.predict(5).shape == (5, 3)
    m1 = make_forecaster("holt_winters", period=P).fit(y[:, 0])
    assert m1.predict(30).shape == (30,)
    assert m1.forecast(y[:200, 0], 3).shape == (3,)
    assert np.all(np.isfinite(m.predict(5)))


@pytest.mark.parametrize("n", [2, 30, 2 * P + 5])
def test_short_histories_still_give_finite_forecasts(n):
    y = _synthetic(n_days=3)[:n]
    for name in MODELS:
        if name not in FOUNDATION + GRID_ONLY:
            out = _fast(name).fit(y).predict(7)
            assert out.shape == (7, 3) and np.all(np.isfinite(out)), name


def test_every_model_forecasts_sensibly_on_synthetic_data():
    y = _synthetic(n_days=14)
    clean = _synthetic(n_days=14, noise=0.0)  # the signal without its 10 % noise
    df = _frame(y)
    names = [n for n in MODELS if n not in FOUNDATION + GRID_ONLY]
    res = evaluate_frame(
        df,
        "time",
        df["time"][11 * P],
        df["time"][13 * P],
        horizons=(1, 6),
        models=[_fast(n) for n in names],
        origin_stride=4,
    )
    assert set(res["models"]) == set(names)
    sc = res["models"]
    origins = np.arange(11 * P, 13 * P + 1, 4)
    for h in ("1", "6"):
        t = origins + int(h) - 1
        t = t[t < y.shape[0]]
        floor = nrmse(clean[t], y[t])  # the error of a forecast that knew the signal exactly
        for name in names:
            # nothing beats the noise (doing so would mean reading the targets); every model
            # of the season stays within 3x of it, and the daily swing defeats persistence
            assert sc[name][h] > 0.9 * floor, (name, h, sc[name][h], floor)
            if name != "persistence":
                assert sc[name][h] < 3.0 * floor, (name, h, sc[name][h], floor)
                assert sc[name]["6"] < sc["persistence"]["6"], name
    json.dumps(res)  # JSON-serialisable for the CLI


def test_fit_reads_a_time_indexed_frame_like_its_array():
    y = _synthetic(n_days=10)
    idx = pd.date_range("2024-01-03 05:00", periods=y.shape[0], freq="1h")  # a Wednesday
    frame = pd.DataFrame(y, index=idx)
    by_frame = _fast("gbm").fit(frame)
    assert by_frame.phase0_ == 2 * P + 5  # steps since Monday 00:00
    by_array = _fast("gbm").fit(y, phase0=2 * P + 5)
    # equal up to rounding (a frame's values reach numpy in column-major order)
    np.testing.assert_allclose(by_frame.predict(7), by_array.predict(7), rtol=1e-12)
    np.testing.assert_allclose(by_frame.forecast(frame, 3), by_array.forecast(y, 3), rtol=1e-12)
    one = make_forecaster("seasonal_naive", period=P).fit(frame[0])  # a Series
    assert one.predict(4).shape == (4,)
    with pytest.raises(InputError) as exc:  # hourly data, a model of 10-minute steps
        make_forecaster("seasonal_naive").fit(frame)
    assert exc.value.field == "period" and exc.value.value == 144


# ------------------------------------------------------------------------ failed fits


def test_failed_statistical_fits_are_recorded_per_series():
    """Holt-Winters and ARIMA keep default parameters for a series they cannot fit; that is
    recorded per series (``fit_status_``) and as warnings, never silent."""
    t = np.arange(12 * P)
    rng = np.random.default_rng(0)
    noise = 1 + 0.05 * rng.standard_normal(t.size)
    seasonal = 100 * (1 + 0.5 * np.sin(2 * np.pi * t / P)) * noise
    growing = np.exp(0.03 * t)  # deseasonalised it still grows: no stationary AR fits it
    overflow = seasonal.copy()
    overflow[-30] = 1e200  # the estimator's arithmetic overflows
    y = np.c_[seasonal, growing, overflow]

    arima = make_forecaster("sarima", period=P).fit(y)
    assert arima.fit_status_[0] == "fitted"
    assert arima.fit_status_[1] == "estimated AR part not stationary"
    assert arima.fit_status_[2].startswith("statsmodels fit failed (MissingDataError")
    assert np.all(arima.ar_[1:] == 0.0) and np.all(arima.ma_[1:] == 0.0)  # profile only
    assert np.any(arima.ar_[0] != 0.0)
    assert [w.split(": ")[1] for w in arima.fit_warnings_] == [
        "profile only (no ARMA term) for series 1",
        "profile only (no ARMA term) for series 2",
    ]

    short = y[: 3 * P // 2]  # a day and a half: under the two days either model needs
    hw = make_forecaster("holt_winters", period=P).fit(short)
    assert hw.fit_status_ == [f"{3 * P // 2} steps to fit on, fewer than two days ({2 * P})"] * 3
    np.testing.assert_array_equal(hw.alpha_, [0.3] * 3)
    assert hw.fit_warnings_ == [
        "holt_winters: default alpha=0.3, gamma=0.1 kept for series 0, 1, 2: "
        f"{3 * P // 2} steps to fit on, fewer than two days ({2 * P})"
    ]
    short_arima = make_forecaster("sarima", period=P).fit(short)
    assert all("fewer than" in s for s in short_arima.fit_status_)
    assert np.all(np.isfinite(hw.predict(5)))

    fine = make_forecaster("holt_winters", period=P).fit(seasonal)
    assert fine.fit_status_ == ["fitted"] and fine.fit_warnings_ == []


def test_evaluation_reports_fits_that_kept_defaults():
    y = _synthetic(n_days=10)
    y[:, 1] = np.exp(0.03 * np.arange(y.shape[0]))
    df = _frame(y)
    res = evaluate_frame(
        df, "time", df["time"][8 * P], df["time"][9 * P], horizons=[1],
        models=["sarima", "persistence"],
    )
    warned = res["fit_warnings"]
    assert set(warned) == {"sarima"}
    assert warned["sarima"] and all("series cell_1: estimated AR part not stationary" in w
                                    for w in warned["sarima"])
    assert warned["sarima"][0].startswith(f"fit on {8 * P} steps: sarima: ")
    clean = evaluate_frame(
        df, "time", df["time"][8 * P], df["time"][9 * P], horizons=[1], models=["persistence"]
    )
    assert "fit_warnings" not in clean


# ------------------------------------------------------------------------------ causality


@pytest.mark.parametrize("name", [n for n in MODELS if n not in FOUNDATION + GRID_ONLY])
def test_no_look_ahead(name):
    """Changing data at and after an origin never changes the forecasts made at that origin."""
    y = _synthetic(n_days=11, seed=1)
    origins = np.array([8 * P, 8 * P + 5, 9 * P + 2, 10 * P])
    steps = np.array([1, 3, P, 30])
    rng = np.random.default_rng(7)
    base = rolling_forecasts(_fast(name), y, origins, steps, refit_every=P)
    for k, o in enumerate(origins):
        z = y.copy()
        z[o:] = rng.uniform(0, 1000, size=z[o:].shape)  # wild values after the origin
        z[o + 2] = np.nan
        got = rolling_forecasts(_fast(name), z, origins, steps, refit_every=P)
        np.testing.assert_allclose(
            got[: k + 1],
            base[: k + 1],
            rtol=1e-12,
            atol=1e-9,
            err_msg=f"{name}: origin {o} saw the future",
        )
    # the direct path: forecast_at with the full array reads nothing at or after the origin
    m = _fast(name).fit(y[: 8 * P])
    z = y.copy()
    z[9 * P :] *= 3.0
    np.testing.assert_allclose(m.forecast_at(z, [9 * P], steps), m.forecast_at(y, [9 * P], steps))


def test_causal_fill_uses_only_the_past():
    y = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [5.0, 4.0]])
    np.testing.assert_array_equal(causal_fill(y), [[0, 1], [2, 1], [2, 1], [5, 4]])


def test_missing_values_and_gaps_are_handled(tmp_path):
    y = _synthetic(n_days=10)
    y[100:110, 0] = np.nan  # missing inputs and targets
    df = _frame(y).drop(index=[150, 151])  # two missing rows: reindexed onto the grid
    path = tmp_path / "load.csv"
    df.to_csv(path, index=False)
    res = evaluate_csv(
        path,
        "time",
        df["time"][3 * P],
        df["time"][9 * P],
        horizons="1,5",
        models=["persistence", "seasonal_naive", "level_adjusted_seasonal"],
    )
    assert all(np.isfinite(v) for sc in res["models"].values() for v in sc.values())
    assert res["window"]["n_series"] == 3 and res["window"]["period"] == P
    assert res["default"] == DEFAULT_MODEL


# ------------------------------------------------------------------------------ validation


def test_input_validation_names_the_field(tmp_path):
    df = _frame(_synthetic(n_days=8))
    ok = {"test_start": df["time"][4 * P], "test_end": df["time"][6 * P]}
    run = {"horizons": (1,), "models": ["persistence"]}

    def field_of(**kw):
        args = {"df": df, "time_col": "time", **ok, **run, **kw}
        with pytest.raises(InputError) as exc:
            evaluate_frame(**args)
        return exc.value.field, exc.value.value

    assert field_of(time_col="when") == ("time_col", "when")
    bad = df.copy()
    bad.loc[5, "time"] = "not a time"
    assert field_of(df=bad) == ("time_col", "not a time")
    assert field_of(df=df[["time", "label"]])[0] == "df"
    assert field_of(test_start="2023-01-01T00:00:00+01:00")[0] == "test_start"
    assert field_of(test_start="yesterday")[0] == "test_start"
    assert field_of(test_end="2030-01-01T00:00:00+01:00")[0] == "test_end"
    assert field_of(test_end=df["time"][3 * P])[0] == "test_end"  # before test_start
    assert field_of(horizons=(1, 0)) == ("horizons", 0)
    assert field_of(horizons=(-5,)) == ("horizons", -5)
    assert field_of(horizons="1,x")[0] == "horizons"
    assert field_of(origin_stride=0)[0] == "origin_stride"
    assert field_of(models=["prophet"]) == ("model", "prophet")
    with pytest.raises(InputError) as exc:
        evaluate_csv(tmp_path / "missing.csv", "time", ok["test_start"], ok["test_end"])
    assert exc.value.field == "csv"
    with pytest.raises(InputError, match="horizon"):
        forecast_series(np.ones(100), 0)


# ----------------------------------------------------------------------- foundation models


@pytest.mark.parametrize("cls", [TimesFMAdapter, ChronosAdapter])
def test_foundation_adapters_report_unavailable(cls, monkeypatch, tmp_path):
    monkeypatch.delenv(cls.env_var, raising=False)
    y = _synthetic()
    with pytest.raises(ForecasterUnavailable) as exc:
        cls(period=P).fit(y)
    assert cls.env_var in exc.value.reason and exc.value.name == cls.name
    monkeypatch.setenv(cls.env_var, str(tmp_path / "nowhere"))
    assert "does not exist" in (cls(period=P).unavailable_reason() or "")
    # an existing folder without a loadable model is still reported, never replaced
    with pytest.raises(ForecasterUnavailable):
        cls(period=P, weights_path=str(tmp_path)).fit(y)


def test_evaluation_lists_unavailable_models(monkeypatch):
    for cls in (TimesFMAdapter, ChronosAdapter):
        monkeypatch.delenv(cls.env_var, raising=False)
    df = _frame(_synthetic(n_days=8))
    res = evaluate_frame(
        df,
        "time",
        df["time"][5 * P],
        df["time"][6 * P],
        horizons=[1],
        models=["persistence", "timesfm", "chronos"],
    )
    assert set(res["models"]) == {"persistence"}
    assert set(res["unavailable"]) == {"timesfm", "chronos"}
    assert all("TWINNET_" in r for r in res["unavailable"].values())
    with pytest.raises(ForecasterUnavailable):
        forecast_series(np.ones(10 * P), 3, model="timesfm", period=P)


# ------------------------------------------------------------------------- twin helpers


def test_forecast_series_and_band():
    y = _synthetic(n_days=10)
    idx = pd.date_range("2024-01-01", periods=y.shape[0], freq="1h")
    s = pd.Series(y[:, 1], index=idx, name="cell")
    out = forecast_series(s, 12, model="level_adjusted_seasonal")
    assert isinstance(out, pd.Series) and len(out) == 12 and out.name == "cell"
    assert out.index[0] == idx[-1] + pd.Timedelta(hours=1)
    arr = forecast_series(y, 6, model="holt_winters", period=P)
    assert isinstance(arr, np.ndarray) and arr.shape == (6, 3)
    point, lo, hi = forecast_band(y[:, 0], 6, model="level_adjusted_seasonal", period=P)
    assert point.shape == lo.shape == hi.shape == (6,)
    assert np.all(lo <= point) and np.all(point <= hi)


# --------------------------------------------------------------------------- Milan claim


def test_horizon_selection_picks_what_validates_best():
    """On a series a one-week seasonal naive forecasts exactly (a fixed weekly pattern), the
    selection gives it all the weight at every step; the choice is made on the held-out
    days before the end of the history; too short a history falls back, and says so."""
    from twinnet.engines.forecasters import HorizonSelected

    t = np.arange(5 * 7 * P)
    rng = np.random.default_rng(3)
    week = rng.uniform(50, 150, 7 * P)
    y = np.column_stack([week[t % (7 * P)], 2 * week[t % (7 * P)]])
    sel = HorizonSelected(period=P, members=["persistence", "seasonal_naive",
                                             "seasonal_naive_weekly"], validation_days=3.0)
    sel.fit(y, steps=[1, 6, 24])
    assert all(w == {"seasonal_naive_weekly": 1.0} for w in sel.choice_.values())
    assert sel.validation_nrmse_["seasonal_naive_weekly"] == pytest.approx([0.0, 0.0, 0.0])
    fc = sel.forecast_at(y, [len(y) - 30], [1, 6, 24])[0]
    np.testing.assert_allclose(fc, y[len(y) - 30 + np.array([0, 5, 23])])
    assert sel.weights_for(12) == sel.choice_[6]  # an unvalidated step takes the one below
    short = HorizonSelected(period=P, members=["persistence"], fallback="seasonal_naive")
    short.fit(y[: 3 * P], steps=[1, 6])
    assert short.choice_ == {1: {"seasonal_naive": 1.0}, 6: {"seasonal_naive": 1.0}}
    assert any("too few" in w for w in short.fit_warnings_)
    with pytest.raises(InputError, match="members"):
        HorizonSelected(period=P, members=["nope"]).fit(y)


def test_default_beats_baselines_on_milan(milan_dir):
    """The twin's default model beats persistence, seasonal naive (day and week) and the
    level-adjusted seasonal forecast at every LINKs horizon on the 25 Milan squares
    (reduced: two test days, every 3rd origin, one refit)."""
    res = evaluate_csv(
        milan_dir / MILAN_CSV,
        "timestamp_local_cet",
        "2013-11-28T00:00:00+01:00",
        "2013-11-29T23:50:00+01:00",
        horizons=(1, 10, 30, 60),
        models=[DEFAULT_MODEL, *BASELINES],
        origin_stride=3,
        refit_every=288,
    )
    sc = res["models"]
    assert res["window"]["n_series"] == 25 and res["window"]["period"] == 144
    for h in ("1", "10", "30", "60"):
        best_baseline = min(sc[b][h] for b in BASELINES)
        assert sc[DEFAULT_MODEL][h] < best_baseline, (h, sc)
    assert all(res["default_beats_baselines"].values())


def test_milan_benchmark_script_runs(tmp_path, milan_dir):
    out = tmp_path / "forecast.json"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "forecast_milan.py"
    p = subprocess.run(
        [
            sys.executable,
            str(script),
            "--csv",
            str(milan_dir / MILAN_CSV),
            "--stride",
            "72",
            "--models",
            "persistence,seasonal_naive,timesfm",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "TWINNET_TIMESFM_PATH"},
    )
    assert p.returncode == 0, p.stderr[-2000:]
    data = json.loads(out.read_text())
    assert set(data["models"]) == {"persistence", "seasonal_naive"}
    assert "timesfm" in data["unavailable"] and "persistence" in p.stdout
