"""The KPI anomaly detectors: the residual idea on synthetic cells, honest thresholds, errors,
and one small evaluation on the real ML-MATT data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from twinnet.datasets import shared_data_dir
from twinnet.engines.kpi_anomaly import (
    IsolationForestDetector,
    ResidualDetector,
    TimeOfDayZScore,
    evaluate_mlmatt,
    evaluate_split,
    prepare_mlmatt,
    prepare_sutd,
)
from twinnet.errors import DataNotFoundError, InputError

KPIS = ("users", "thr", "prb")


def _cells(n: int, seed: int, anomalous: float = 0.0) -> pd.DataFrame:
    """Synthetic cell rows: users follow the day, throughput follows users, PRB usage follows
    throughput. A fraction ``anomalous`` of rows, at busy hours, carries the fault: PRB usage
    at its busy-hour level while users and throughput are at their night level."""
    rng = np.random.default_rng(seed)
    slot = rng.integers(0, 96, n)
    load = 1.0 + 0.8 * np.sin(2 * np.pi * (slot / 96 - 0.25))
    users = rng.poisson(2 + 6 * load).astype(float)
    thr = users * rng.lognormal(np.log(0.6), 0.2, n)
    prb = np.clip(5.0 * thr * rng.lognormal(0.0, 0.1, n), 0, 100)
    label = np.zeros(n, dtype=int)
    busy = np.flatnonzero(load > 1.4)
    bad = rng.choice(busy, round(anomalous * n), replace=False)
    label[bad] = 1
    users[bad] = rng.integers(1, 4, len(bad))
    thr[bad] = users[bad] * rng.lognormal(np.log(0.6), 0.2, len(bad))
    prb[bad] = np.clip(5.0 * 10 * 0.6 * rng.lognormal(0.0, 0.1, len(bad)), 0, 100)
    angle = 2 * np.pi * slot / 96
    return pd.DataFrame({"slot": slot, "tod_sin": np.sin(angle), "tod_cos": np.cos(angle),
                         "users": users, "thr": thr, "prb": prb, "label": label})


def _residual(**kw) -> ResidualDetector:
    return ResidualDetector(KPIS, context=("tod_sin", "tod_cos"), label="label",
                            log_columns=KPIS, **kw)


@pytest.fixture(scope="module")
def fitted() -> ResidualDetector:
    return _residual().fit(_cells(3000, seed=1, anomalous=0.05))


def test_residual_detector_finds_prb_high_while_users_and_throughput_low(fitted):
    test = _cells(2000, seed=2, anomalous=0.10)
    y = test["label"].to_numpy() == 1
    flagged = fitted.predict(test)
    recall = (flagged & y).sum() / y.sum()
    precision = (flagged & y).sum() / flagged.sum()
    assert recall >= 0.9 and precision >= 0.8, (recall, precision)
    # the residuals say which KPI is off, and which way: PRB usage far above its expectation
    res = fitted.residuals(test)
    assert (res.loc[y, "prb"] > 3).mean() > 0.9
    assert res.loc[y].abs().idxmax(axis=1).value_counts().idxmax() == "prb"


def test_the_twin_residual_beats_the_time_of_day_z_score_on_inconsistent_kpis():
    """Busy-hour PRB usage with night-level users: the per-slot z-score sees only a moderate
    drop of users; the residual sees PRB usage that the users cannot explain."""
    train, test = _cells(3000, seed=1, anomalous=0.05), _cells(2000, seed=2, anomalous=0.10)
    res = evaluate_split({"residual": _residual(),
                          "z": TimeOfDayZScore(KPIS, slot="slot", label="label",
                                               log_columns=KPIS)}, train, test, "label")
    assert res["residual"]["f1"] > 0.9
    assert res["residual"]["f1"] > res["z"]["f1"] + 0.08, (res["residual"]["f1"], res["z"]["f1"])


def test_a_quiet_frame_is_not_flagged(fitted):
    quiet = _cells(3000, seed=3)
    assert fitted.predict(quiet).mean() < 0.03
    # a quantile threshold needs no labels at all: 99th percentile of normal training scores
    unlabelled = _cells(3000, seed=1).drop(columns="label")
    det = ResidualDetector(KPIS, context=("tod_sin", "tod_cos"), log_columns=KPIS,
                           threshold=0.99).fit(unlabelled)
    assert det.predict(quiet).mean() < 0.03
    bad = _cells(2000, seed=2, anomalous=0.10)
    assert det.predict(bad)[bad["label"].to_numpy() == 1].mean() > 0.9


def test_the_threshold_is_fitted_on_training_rows_only():
    train = _cells(2000, seed=1, anomalous=0.05)
    folds = [_cells(800, seed=s, anomalous=a) for s, a in ((5, 0.0), (6, 0.3))]
    flipped = folds[1].assign(label=1 - folds[1]["label"])
    dets = {"residual": lambda: _residual(),
            "z": lambda: TimeOfDayZScore(KPIS, slot="slot", label="label", log_columns=KPIS),
            "iforest": lambda: IsolationForestDetector(KPIS, label="label", log_columns=KPIS)}
    for make in dets.values():
        runs = [evaluate_split({"d": make()}, train, test, "label")["d"]
                for test in (folds[0], folds[1], flipped)]
        assert runs[0]["threshold"] == runs[1]["threshold"] == runs[2]["threshold"]
        assert make().fit(train).threshold_ == runs[0]["threshold"]
        # the test fold's labels change the metrics, never the decisions
        assert np.array_equal(runs[1]["flagged"], runs[2]["flagged"])
        assert runs[1]["f1"] != runs[2]["f1"]


def test_bad_input_names_the_field(fitted):
    frame = _cells(200, seed=4)
    with pytest.raises(InputError) as e:
        fitted.score(frame.drop(columns="prb"))
    assert e.value.field == "prb"
    broken = frame.astype({"users": object})
    broken.loc[7, "users"] = "#¡VALOR!"
    with pytest.raises(InputError) as e:
        fitted.predict(broken)
    assert e.value.field == "users" and e.value.value == "#¡VALOR!"
    with pytest.raises(InputError) as e:
        _residual().fit(frame.drop(columns="label"))
    assert e.value.field == "label"
    with pytest.raises(InputError) as e:
        ResidualDetector(KPIS, threshold="f1")   # F1 needs labels
    assert e.value.field == "threshold"
    with pytest.raises(InputError) as e:
        _residual().score(frame)                  # not fitted
    assert e.value.field == "detector"
    with pytest.raises(InputError) as e:
        _residual().fit(frame.assign(thr=-frame["thr"]))
    assert e.value.field == "thr"
    with pytest.raises(InputError) as e:
        _residual().fit(frame.assign(label=2))
    assert e.value.field == "label"
    with pytest.raises(InputError) as e:
        prepare_sutd(pd.DataFrame({"scenario": ["a"], "Time": [0]}))
    assert e.value.field == "PCI"


def test_prepare_mlmatt_drops_excel_error_rows_and_reads_the_time_of_day():
    row = {"Time": "10:45", "CellName": "1ALTE", "PRBUsageUL": "11.6", "PRBUsageDL": "2.1",
           "meanThr_DL": "0.5", "meanThr_UL": "0.04", "maxThr_DL": "14.9", "maxThr_UL": "0.7",
           "meanUE_DL": "1.1", "meanUE_UL": "1.0", "maxUE_DL": "4", "maxUE_UL": "3",
           "maxUE_UL+DL": "7", "Unusual": "1"}
    raw = pd.DataFrame([row, {**row, "maxUE_DL": "#¡VALOR!"}, {**row, "maxUE_UL": ""},
                        {**row, "Time": "0:00", "Unusual": "0"}])
    frame, dropped = prepare_mlmatt(raw)
    assert dropped == 2 and len(frame) == 2
    assert frame["slot"].tolist() == [43, 0] and frame["Unusual"].tolist() == [1, 0]
    with pytest.raises(InputError) as e:
        prepare_mlmatt(raw.assign(Time="25:00"))
    assert e.value.field == "Time"
    with pytest.raises(InputError) as e:
        prepare_mlmatt(raw.drop(columns="meanUE_UL"))
    assert e.value.field == "meanUE_UL"


@pytest.mark.shared_data
def test_real_mlmatt_small_evaluation_is_well_formed():
    try:
        data = shared_data_dir("kpi/ml_matt_lte_cell_kpi")
    except DataNotFoundError as exc:
        pytest.skip(f"shared data set 'kpi' not available: {exc}")
    res = evaluate_mlmatt(data, folds=2, seed=0, cv=2)
    assert res["n_dropped"] == 89 and res["n_rows"] == 36904 - 89
    assert len(res["folds"]) == 2
    cells = [set(f["cells"]) for f in res["folds"]]
    assert not cells[0] & cells[1] and len(cells[0] | cells[1]) == 33
    dets = res["detectors"]
    assert {"residual (twin)", "time-of-day z-score", "isolation forest",
            "all positive"} <= set(dets)
    for name, row in dets.items():
        for part in (row["mean"], row["pooled"]):
            for key in ("precision", "recall", "f1", "flag_rate"):
                assert 0.0 <= part[key] <= 1.0, (name, key, part[key])
        assert len(row["folds"]) == 2
        if name != "all positive":
            assert 0.0 < row["mean"]["roc_auc"] < 1.0
            assert all(math.isfinite(f["threshold"]) for f in row["folds"])
    floor = dets["all positive"]["mean"]["f1"]
    assert floor == pytest.approx(2 * res["positive_rate"] / (1 + res["positive_rate"]), abs=0.01)
    # on unseen cells the labels are nearly out of reach (README): the residual detector must
    # still rank anomalies above chance and above the isolation forest, and not fall below the
    # flag-everything floor
    res_auc = dets["residual (twin)"]["mean"]["roc_auc"]
    assert res_auc > 0.52 and res_auc > dets["isolation forest"]["mean"]["roc_auc"]
    assert dets["residual (twin)"]["mean"]["f1"] >= floor - 0.01
