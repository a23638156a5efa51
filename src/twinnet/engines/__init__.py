"""Layer AI engines: they correct the twin's models from the network's measurements.

Every engine follows one protocol (:mod:`.base`, :class:`~.base.LayerEngine`): parameters in
``__init__``; ``fit(frame, **context)`` or ``fit_store(store, …)`` on the stored telemetry;
``predict(frame, **context)`` → a :class:`~.base.Prediction` (mean, std, ``interval``);
``metrics()``; ``register(store)`` / ``from_registry(store, layer, name)`` through the context
store's model registry, ``save`` / ``load`` through a file.

* L1 radio — :mod:`.radio_calibration` (the twin's link-budget correction learned from the
  network's measurement reports) and :mod:`.radio_models` (RSRP engines fitted on drive-test
  bins with cell engineering data: 38.901 reference, linear and gradient-boosted corrections);
* L2 traffic — :mod:`.traffic_forecast` (the twin's per-area traffic forecast),
  :mod:`.forecasters` (persistence, seasonal, Holt-Winters, ARIMA, gradient boosting, ensemble,
  foundation-model adapters: the array algorithms the engine wraps) and :mod:`.forecast`
  (rolling-origin evaluation, forecasts with intervals).
"""
