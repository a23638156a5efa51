"""The deep baselines of the L2 forecast (LSTM, ConvLSTM in JAX): they learn, read only the
past, and say why they cannot run."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from twinnet.engines.deep import ConvLSTMForecaster, LSTMForecaster
from twinnet.engines.forecast import evaluate_frame, nrmse
from twinnet.engines.forecasters import ForecasterUnavailable, Persistence
from twinnet.errors import InputError

P = 24
SMALL = {"window": 12, "hidden": 8, "epochs": 6, "train_stride": 1}


def _grid_series(n_days: int = 14, rows: int = 2, cols: int = 2, seed: int = 0) -> np.ndarray:
    """Daily cycles whose phase drifts across the grid, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_days * P)
    out = []
    for r in range(rows):
        for c in range(cols):
            shift = 2 * np.pi * (r + c) / 12
            out.append(100 * (1 + 0.6 * np.sin(2 * np.pi * t / P + shift)))
    y = np.stack(out, axis=1)
    return y * (1 + 0.05 * rng.standard_normal(y.shape))


def _frame(y: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(y, columns=[f"sq_{i}" for i in range(y.shape[1])])
    df.insert(0, "time", pd.date_range("2024-03-04", periods=y.shape[0], freq="1h"))
    return df


@pytest.mark.parametrize("cls", [LSTMForecaster, ConvLSTMForecaster])
def test_recurrent_baselines_learn_the_daily_cycle(cls):
    y = _grid_series()
    m = cls(P, **SMALL).fit(y[: 12 * P], steps=[1, 6])
    assert m.train_loss_[-1] < m.train_loss_[0]  # training reduces the loss
    o = np.arange(12 * P, 14 * P - 6, 2)
    got = m.forecast_at(y, o, [1, 6])
    naive = Persistence(P).fit(y[: 12 * P]).forecast_at(y, o, [1, 6])
    truth = y[o[:, None] + np.array([0, 5])[None, :]]
    assert np.all(np.isfinite(got))
    assert nrmse(got[:, 1], truth[:, 1]) < 0.5 * nrmse(naive[:, 1], truth[:, 1])
    # a step between the trained ones is interpolated, not refused
    assert np.all(np.isfinite(m.forecast_at(y, o, [3])))


def test_convlstm_reads_only_the_past():
    y = _grid_series()
    m = ConvLSTMForecaster(P, **SMALL).fit(y[: 10 * P], steps=[1, 6])
    o = np.array([11 * P, 11 * P + 7])
    z = y.copy()
    z[11 * P:] *= 5.0  # changes at and after the first origin
    z[: 11 * P + 7] = y[: 11 * P + 7]
    a = m.forecast_at(y, o, [1, 6])
    b = m.forecast_at(z, o, [1, 6])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6)  # origin 2 sees the same past
    np.testing.assert_allclose(m.forecast_at(z[: 11 * P], [11 * P], [1, 6]),
                               m.forecast_at(y, [11 * P], [1, 6]), rtol=1e-6)


def test_convlstm_needs_a_grid():
    y = _grid_series(rows=1, cols=3)
    res = evaluate_frame(_frame(y), "time", "2024-03-14", "2024-03-14 12:00", horizons="1",
                         models=[ConvLSTMForecaster(P, **SMALL), "persistence"])
    assert "convlstm" in res["unavailable"] and "grid" in res["unavailable"]["convlstm"]
    with pytest.raises(InputError, match="grid"):
        ConvLSTMForecaster(P, grid=(2, 2), **SMALL).fit(y[: 10 * P])
    # a 1 × 3 grid stated explicitly runs
    ConvLSTMForecaster(P, grid=(1, 3), **SMALL).fit(y[: 10 * P])


def test_without_jax_they_are_unavailable(monkeypatch):
    real = importlib.util.find_spec

    def no_jax(name, *a, **k):  # test double: an install without the 'deep' extra
        return None if name == "jax" else real(name, *a, **k)

    monkeypatch.setattr(importlib.util, "find_spec", no_jax)
    with pytest.raises(ForecasterUnavailable, match="deep"):
        LSTMForecaster(P).check_available()
