"""Deep baselines of the L2 traffic forecast: LSTM and ConvLSTM (optional extra ``deep``).

LINKs compares its traffic-load predictor with an MLP, an LSTM and a ConvLSTM over the grid of
Milan squares. The MLP is :class:`~twinnet.engines.forecasters.MLPForecaster`; these two are
recurrent networks written in JAX (``pip install twinnet[deep]``; without JAX they raise
:class:`~twinnet.engines.forecasters.ForecasterUnavailable` and the evaluation lists them as
unavailable):

* :class:`LSTMForecaster` (``lstm``) — one LSTM over the last ``window`` values of a series
  (scaled by its weekly mean, with the time of day of each step), pooled over all series; a
  dense head maps its last state and the time of day of the origin to every trained step ahead.
* :class:`ConvLSTMForecaster` (``convlstm``) — a convolutional LSTM (3 × 3 kernels) over the
  squares' grid, so each square's state sees its neighbours'; the series must fill a
  ``rows × cols`` grid in row-major order (default: a square number of series).

Both predict, like the MLP, the residual of the level-adjusted seasonal forecast at each trained
step (``steps`` given to ``fit``; the residual of a step in between is interpolated), are trained
with Adam on origins of the last ``train_days`` days, and follow the forecaster protocol: fitted
on data before the refit point, conditioned on the newest observations at every origin.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import numpy as np

from twinnet.engines.forecasters import (
    FloatArray,
    Forecaster,
    ForecasterUnavailable,
    GradientBoosting,
    IntArray,
    LevelAdjustedSeasonal,
    causal_fill,
    cumulative,
    gather,
    window_mean,
)
from twinnet.errors import InputError

__all__ = ["ConvLSTMForecaster", "LSTMForecaster"]


class _Recurrent(Forecaster):
    """Shared training and feature code of the two recurrent baselines."""

    GRID: ClassVar[bool] = False

    def __init__(self, period: int = 144, window: int = 36, hidden: int = 32,
                 epochs: int = 40, batch: int = 256, learning_rate: float = 3e-3,
                 train_days: int = 21, train_stride: int = 3, random_state: int = 0):
        super().__init__(period)
        self.window = window
        self.hidden = hidden
        self.epochs = epochs
        self.batch = batch
        self.learning_rate = learning_rate
        self.train_days = train_days
        self.train_stride = train_stride
        self.random_state = random_state

    def check_available(self) -> None:
        if importlib.util.find_spec("jax") is None:
            raise ForecasterUnavailable(self.name, "needs JAX: pip install 'twinnet[deep]'")

    # ------------------------------------------------------------------ features
    def _inputs(self, y: FloatArray, origins: IntArray, phase0: int
                ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Sequences ``[O, W, S, 3]`` (scaled value, sin / cos of the time of day), the
        origin's time of day ``[O, 2]`` and the scale ``[O, S]``."""
        p, w = self.period, int(self.window)
        cum = cumulative(y)
        c = np.maximum(window_mean(cum, origins, 7 * p), 1e-9)  # [O, S]
        idx = origins[:, None] - w + np.arange(w)[None, :]  # [O, W]
        vals = gather(y, idx, origins[:, None])  # [O, W, S]
        vals = np.where(np.isfinite(vals), vals, y[origins - 1][:, None, :]) / c[:, None, :]
        tod = 2 * np.pi * ((phase0 + idx) % p) / p  # [O, W]
        seq = np.stack([vals, np.broadcast_to(np.sin(tod)[..., None], vals.shape),
                        np.broadcast_to(np.cos(tod)[..., None], vals.shape)], axis=-1)
        t0 = 2 * np.pi * ((phase0 + origins) % p) / p
        return seq, np.stack([np.sin(t0), np.cos(t0)], axis=1), c

    def _grid(self, n_series: int) -> tuple[int, int]:
        if not self.GRID:
            return 1, n_series
        shape = getattr(self, "grid", None)
        if shape is None:
            side = round(float(np.sqrt(n_series)))
            if side * side != n_series:
                raise ForecasterUnavailable(self.name, f"needs series on a grid: {n_series} "
                                            "series make no square grid (give grid=(rows, "
                                            "cols))")
            return side, side
        rows, cols = int(shape[0]), int(shape[1])
        if rows * cols != n_series:
            raise InputError("grid", shape, f"rows × cols = {n_series}, the number of series")
        return rows, cols

    # ------------------------------------------------------------------ fit / forecast
    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        self.check_available()
        import jax

        p = self.period
        hs = sorted(set(steps)) if steps else list(GradientBoosting.DEFAULT_STEPS)
        self.steps_ = np.asarray(hs, dtype=np.int64)
        self.grid_ = self._grid(y.shape[1])
        self.las_ = LevelAdjustedSeasonal(period=p).fit(y, phase0=phase0, steps=hs)
        n = y.shape[0]
        lo = max(int(self.window), p + 1, n - int(self.train_days) * p)
        origins = np.arange(lo, n - int(max(hs)) + 1, max(1, int(self.train_stride)),
                            dtype=np.int64)
        self.params_: Any = None
        if origins.size < 20:
            self.fit_warnings_.append(f"{self.name}: {origins.size} training origins (< 20); "
                                      "the level-adjusted seasonal forecast is used")
            return
        seq, tod, c = self._inputs(y, origins, phase0)
        base = self.las_._forecast_at(y, origins, self.steps_, phase0)  # [O, K, S]
        truth = y[origins[:, None] + self.steps_[None, :] - 1]  # [O, K, S]
        target = (truth - base) / c[:, None, :]
        key = jax.random.PRNGKey(int(self.random_state))
        self.params_ = self._train(key, seq, tod, target)

    def _forecast_at(self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
                     ) -> FloatArray:
        base = self.las_._forecast_at(y, origins, steps, phase0)  # [O, K, S]
        if self.params_ is None:
            return base
        seq, tod, c = self._inputs(causal_fill(y), origins, phase0)
        resid = np.asarray(self._apply(self.params_, seq, tod))  # [O, K_trained, S]
        tr = self.steps_.astype(float)
        out = np.empty_like(base)
        for k, h in enumerate(steps.tolist()):
            hh = float(np.clip(h, tr[0], tr[-1]))
            i = int(np.searchsorted(tr, hh))
            if tr[min(i, tr.size - 1)] == hh:
                r = resid[:, min(i, tr.size - 1)]
            else:
                wgt = (hh - tr[i - 1]) / (tr[i] - tr[i - 1])
                r = (1 - wgt) * resid[:, i - 1] + wgt * resid[:, i]
            out[:, k] = base[:, k] + r * c
        return out

    # ------------------------------------------------------------------ the network
    def _init(self, key: Any, n_in: int, n_out: int) -> dict[str, Any]:
        raise NotImplementedError

    def _net(self, params: dict[str, Any], seq: Any, tod: Any) -> Any:
        """``seq [B, W, S, 3]``, ``tod [B, 2]`` → residuals ``[B, K, S]``."""
        raise NotImplementedError

    def _apply(self, params: dict[str, Any], seq: FloatArray, tod: FloatArray) -> FloatArray:
        import jax
        import jax.numpy as jnp

        if not hasattr(self, "_apply_jit"):
            self._apply_jit = jax.jit(self._net)
        outs = [self._apply_jit(params, jnp.asarray(seq[i:i + 512], jnp.float32),
                                jnp.asarray(tod[i:i + 512], jnp.float32))
                for i in range(0, seq.shape[0], 512)]
        return np.concatenate([np.asarray(o, dtype=np.float64) for o in outs], axis=0)

    def _train(self, key: Any, seq: FloatArray, tod: FloatArray, target: FloatArray) -> Any:
        import jax
        import jax.numpy as jnp

        params = self._init(key, seq.shape[-1], target.shape[1])

        def loss(pr: Any, s: Any, t: Any, g: Any) -> Any:
            return jnp.mean((self._net(pr, s, t) - g) ** 2)

        lr, b1, b2, eps = float(self.learning_rate), 0.9, 0.999, 1e-8

        @jax.jit
        def step(pr: Any, m: Any, v: Any, i: Any, s: Any, t: Any, g: Any) -> Any:
            val, grad = jax.value_and_grad(loss)(pr, s, t, g)
            m = jax.tree_util.tree_map(lambda a, d: b1 * a + (1 - b1) * d, m, grad)
            v = jax.tree_util.tree_map(lambda a, d: b2 * a + (1 - b2) * d * d, v, grad)
            mh = jax.tree_util.tree_map(lambda a: a / (1 - b1 ** i), m)
            vh = jax.tree_util.tree_map(lambda a: a / (1 - b2 ** i), v)
            pr = jax.tree_util.tree_map(lambda w_, a, c_: w_ - lr * a / (jnp.sqrt(c_) + eps),
                                        pr, mh, vh)
            return pr, m, v, val

        m = jax.tree_util.tree_map(jnp.zeros_like, params)
        v = jax.tree_util.tree_map(jnp.zeros_like, params)
        rng = np.random.default_rng(int(self.random_state))
        n = seq.shape[0]
        bs = max(8, min(int(self.batch) // (1 if self.GRID else seq.shape[2]) or 8, n))
        s32, t32, g32 = (np.asarray(a, np.float32) for a in (seq, tod, target))
        it = 0
        self.train_loss_: list[float] = []
        for _ in range(int(self.epochs)):
            order = rng.permutation(n)
            tot = 0.0
            for j in range(0, n - bs + 1, bs):
                sel = order[j:j + bs]
                it += 1
                params, m, v, val = step(params, m, v, float(it), s32[sel], t32[sel], g32[sel])
                tot += float(val)
            self.train_loss_.append(tot / max(1, n // bs))
        return params


class LSTMForecaster(_Recurrent):
    """LSTM over each series' last ``window`` values, pooled over the series (see module)."""

    name = "lstm"

    def _init(self, key: Any, n_in: int, n_out: int) -> dict[str, Any]:
        import jax

        h = int(self.hidden)
        k1, k2, k3 = jax.random.split(key, 3)
        sc = 1.0 / np.sqrt(h)
        return {"wx": jax.random.normal(k1, (n_in, 4 * h)) * sc,
                "wh": jax.random.normal(k2, (h, 4 * h)) * sc,
                "b": jax.numpy.zeros(4 * h).at[h:2 * h].set(1.0),
                "wo": jax.random.normal(k3, (h + 2, n_out)) * 0.01,
                "bo": jax.numpy.zeros(n_out)}

    def _net(self, params: dict[str, Any], seq: Any, tod: Any) -> Any:
        import jax
        import jax.numpy as jnp

        bsz, w, s, f = seq.shape
        h = params["wh"].shape[0]
        x = jnp.transpose(seq, (1, 0, 2, 3)).reshape(w, bsz * s, f)

        def cell(carry: Any, xt: Any) -> Any:
            hh, cc = carry
            z = xt @ params["wx"] + hh @ params["wh"] + params["b"]
            i, fg, g, o = jnp.split(z, 4, axis=-1)
            cc = jax.nn.sigmoid(fg) * cc + jax.nn.sigmoid(i) * jnp.tanh(g)
            hh = jax.nn.sigmoid(o) * jnp.tanh(cc)
            return (hh, cc), None

        zero = jnp.zeros((bsz * s, h))
        (hT, _), _ = jax.lax.scan(cell, (zero, zero), x)
        todr = jnp.repeat(tod, s, axis=0)
        out = jnp.concatenate([hT, todr], axis=-1) @ params["wo"] + params["bo"]  # [B·S, K]
        return jnp.transpose(out.reshape(bsz, s, -1), (0, 2, 1))


class ConvLSTMForecaster(_Recurrent):
    """Convolutional LSTM over the squares' grid (see module); ``grid = (rows, cols)`` of the
    series in row-major order (default: a square grid)."""

    name = "convlstm"
    GRID = True

    def __init__(self, period: int = 144, grid: tuple[int, int] | None = None,
                 window: int = 36, hidden: int = 16, epochs: int = 25, batch: int = 32,
                 learning_rate: float = 3e-3, train_days: int = 21, train_stride: int = 3,
                 random_state: int = 0):
        super().__init__(period, window, hidden, epochs, batch, learning_rate, train_days,
                         train_stride, random_state)
        self.grid = grid

    def _init(self, key: Any, n_in: int, n_out: int) -> dict[str, Any]:
        import jax

        h = int(self.hidden)
        k1, k2 = jax.random.split(key)
        sc = 1.0 / np.sqrt(9 * (n_in + h))
        return {"k": jax.random.normal(k1, (3, 3, n_in + h, 4 * h)) * sc,
                "b": jax.numpy.zeros(4 * h).at[h:2 * h].set(1.0),
                "wo": jax.random.normal(k2, (h + 2, n_out)) * 0.01,
                "bo": jax.numpy.zeros(n_out)}

    def _net(self, params: dict[str, Any], seq: Any, tod: Any) -> Any:
        import jax
        import jax.numpy as jnp

        bsz, _, s, f = seq.shape
        h = params["b"].shape[0] // 4
        # a 3 × 3 "SAME" convolution on a small grid as one matrix product: each square
        # gathers its 9 neighbours' inputs and states (a zero row outside the grid)
        nb = jnp.asarray(self._neighbours())  # [S, 9], index s = the zero row
        kern = params["k"].reshape(9 * (f + h), 4 * h)
        x = jnp.transpose(seq, (1, 0, 2, 3))  # [W, B, S, F]

        def cell(carry: Any, xt: Any) -> Any:
            hh, cc = carry
            xh = jnp.concatenate([xt, hh], axis=-1)  # [B, S, F + H]
            xh = jnp.concatenate([xh, jnp.zeros((bsz, 1, f + h))], axis=1)
            z = xh[:, nb, :].reshape(bsz, s, 9 * (f + h)) @ kern + params["b"]
            i, fg, g, o = jnp.split(z, 4, axis=-1)
            cc = jax.nn.sigmoid(fg) * cc + jax.nn.sigmoid(i) * jnp.tanh(g)
            hh = jax.nn.sigmoid(o) * jnp.tanh(cc)
            return (hh, cc), None

        zero = jnp.zeros((bsz, s, h))
        (hT, _), _ = jax.lax.scan(cell, (zero, zero), x)
        tods = jnp.broadcast_to(tod[:, None, :], (bsz, s, 2))
        out = jnp.concatenate([hT, tods], axis=-1) @ params["wo"] + params["bo"]  # [B, S, K]
        return jnp.transpose(out, (0, 2, 1))

    def _neighbours(self) -> IntArray:
        """For each square (row-major), the indices of its 3 × 3 neighbourhood in kernel
        order; ``S`` (the zero row) outside the grid."""
        rows, cols = self.grid_
        out = np.full((rows * cols, 9), rows * cols, dtype=np.int64)
        for r in range(rows):
            for c in range(cols):
                for k, (dr, dc) in enumerate((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < rows and 0 <= cc < cols:
                        out[r * cols + c, k] = rr * cols + cc
        return out
