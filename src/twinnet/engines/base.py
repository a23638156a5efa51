"""The protocol of the layer engines: fit on telemetry, predict with uncertainty, registry.

Every layer engine — the L1 radio engines (:class:`~twinnet.engines.radio_calibration.
RadioCalibration` and the drive-test engines of :mod:`twinnet.engines.radio_models`) and the L2
traffic engine (:class:`~twinnet.engines.traffic_forecast.TrafficForecast`) — is a
:class:`LayerEngine`, in the manner of scikit-learn's estimators: parameters in ``__init__``
(stored unchanged, listed by :meth:`~LayerEngine.get_params`), learned state in attributes with
a trailing underscore.

``fit(data, **context)`` → the engine
    learn from a frame (``context``: what the engine needs beside the data, e.g. the twin the
    reports were measured against).
``fit_store(store, source=None, start=None, end=None, **context)`` → the engine
    read the telemetry the engine learns from out of a :class:`~twinnet.store.ContextStore`
    (:meth:`~LayerEngine.training_data`), then ``fit``.
``predict(data, **context)`` → :class:`Prediction`
    the mean and its uncertainty (a standard deviation and/or quantiles).
``metrics()``, ``register(store)`` → model id, ``from_registry(store, layer, name)``,
``save(path)`` / ``load(path)``
    what the fit measured, and persistence through the store's model registry or a file.

Predicting, scoring or registering an engine that was never fitted raises
:class:`~twinnet.errors.InputError`.
"""

from __future__ import annotations

import inspect
import pickle
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from twinnet.errors import InputError

if TYPE_CHECKING:
    from twinnet.store.context import ContextStore

__all__ = ["LayerEngine", "Pickled", "Prediction", "Values", "reject_context"]

#: what a prediction holds: one value per row (array) or a table (time × series)
Values = TypeVar("Values", NDArray[np.float64], pd.DataFrame)


def _close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9


@dataclass(frozen=True)
class Prediction(Generic[Values]):
    """A prediction and its uncertainty.

    ``mean`` and ``std`` are arrays (one value per input row) or frames (time × series) of the
    same shape; ``quantiles`` maps probability levels (e.g. 0.1 and 0.9) to values of that
    shape, when the engine estimated them directly (from out-of-sample errors) rather than as a
    Gaussian spread. ``std`` is ``None`` when the engine has no estimate of it.
    """

    mean: Values
    std: Values | None = None
    quantiles: Mapping[float, Values] = field(default_factory=dict)

    def interval(self, coverage: float = 0.8) -> tuple[Values, Values]:
        """Central interval ``(low, high)`` meant to hold ``coverage`` of the outcomes.

        From the stored quantiles ``(1 − coverage) / 2`` and ``(1 + coverage) / 2`` when both
        exist, else Gaussian: ``mean ∓ z · std`` with ``z`` the standard-normal quantile.
        """
        if not isinstance(coverage, float | int) or not 0.0 < coverage < 1.0:
            raise InputError("coverage", coverage, "a fraction in (0, 1)")
        lo_p, hi_p = (1.0 - coverage) / 2.0, (1.0 + coverage) / 2.0
        lo = next((v for q, v in self.quantiles.items() if _close(q, lo_p)), None)
        hi = next((v for q, v in self.quantiles.items() if _close(q, hi_p)), None)
        if lo is not None and hi is not None:
            return lo, hi
        if self.std is None:
            levels = sorted(self.quantiles)
            raise InputError("coverage", coverage, f"a coverage whose quantiles were stored "
                             f"({levels}); this prediction has no std")
        z = float(norm.ppf(hi_p))
        return self.mean - z * self.std, self.mean + z * self.std


def reject_context(engine: object, context: Mapping[str, Any]) -> None:
    """Raise :class:`InputError` naming the first keyword ``engine`` does not take."""
    if context:
        name = sorted(context)[0]
        raise InputError(name, context[name], f"no such keyword for {type(engine).__name__}")


class Pickled:
    """``save(path)`` / ``load(path)`` by pickle (trusted files only: loading unpickles)."""

    def save(self, path: str | Path) -> None:
        """Pickle the object to ``path``."""
        Path(path).write_bytes(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Load an object written by :meth:`save`; it must be a ``cls``."""
        obj = pickle.loads(Path(path).read_bytes())
        if not isinstance(obj, cls):
            raise InputError("path", str(path), f"a saved {cls.__name__} (found "
                             f"{type(obj).__name__})")
        return obj


class LayerEngine(Pickled, ABC):
    """Base class of the layer engines (see the module docstring for the protocol).

    A subclass sets ``layer`` ("L1" radio, "L2" traffic) and ``name`` (its name in the model
    registry; the registry keeps versions per ``(layer, name)``), and implements ``fit``,
    ``predict``, ``training_data``, ``metrics`` and ``is_fitted``.
    """

    #: the twin layer the engine corrects: "L1" (radio) or "L2" (traffic)
    layer: ClassVar[str] = ""
    #: name in the model registry
    name: str = ""

    # -- to implement ------------------------------------------------------------------------
    @abstractmethod
    def fit(self, data: Any, **context: Any) -> Self:
        """Learn from ``data`` (a frame); returns the engine."""

    @abstractmethod
    def predict(self, data: Any, **context: Any) -> Prediction[Any]:
        """Mean and uncertainty for ``data``."""

    @abstractmethod
    def training_data(self, store: ContextStore, *, source: str | None = None,
                      start: Any = None, end: Any = None) -> pd.DataFrame:
        """The frame ``fit`` learns from, read from the store's telemetry (rows of ``source``
        in ``[start, end)``)."""

    @abstractmethod
    def is_fitted(self) -> bool:
        """Whether ``fit`` has run."""

    def _metrics(self) -> dict[str, Any]:
        """What the fit measured (called on a fitted engine only)."""
        return {}

    # -- the protocol ------------------------------------------------------------------------
    def fit_store(self, store: ContextStore, *, source: str | None = None, start: Any = None,
                  end: Any = None, **context: Any) -> Self:
        """Fit on the store's telemetry: :meth:`training_data`, then :meth:`fit` with
        ``context``."""
        return self.fit(self.training_data(store, source=source, start=start, end=end),
                        **context)

    def check_fitted(self) -> None:
        """Raise :class:`InputError` if the engine was never fitted."""
        if not self.is_fitted():
            raise InputError(self.name or type(self).__name__, "not fitted",
                             "call fit() or fit_store() first")

    def metrics(self) -> dict[str, Any]:
        """What the fit measured (training size, in-sample or out-of-fold errors, warnings);
        stored with the engine by :meth:`register`."""
        self.check_fitted()
        return self._metrics()

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters, as given (scikit-learn convention)."""
        sig = inspect.signature(type(self).__init__)
        return {p.name: getattr(self, p.name) for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and hasattr(self, p.name)}

    def register(self, store: ContextStore, activate: bool = True) -> str:
        """Store the fitted engine as the next version of ``(layer, name)`` in the store's
        model registry (with :meth:`metrics` and :meth:`get_params`); returns its model id
        (``layer/name/vN``). ``activate`` makes it the layer's active engine."""
        self.check_fitted()
        return store.register_model(self.layer, self.name, self, self.metrics(),
                                    self.get_params(), activate=activate)

    @classmethod
    def from_registry(cls, store: ContextStore, layer: str | None = None,
                      name: str | None = None, version: int | None = None) -> Self:
        """The active engine of ``layer`` (default: the class's layer), or the newest (or
        given) version of ``name``; it must be a ``cls``."""
        lay = layer or cls.layer
        if not lay:
            raise InputError("layer", layer, "'L1' or 'L2'")
        obj = store.load_model(lay, name, version)
        if not isinstance(obj, cls):
            raise InputError("model", f"{lay}/{name or 'active'}",
                             f"a registered {cls.__name__} (found {type(obj).__name__})")
        return obj

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
