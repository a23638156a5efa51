"""Layer AI engines: they correct the twin's models from the network's measurements.

* L1 radio — :mod:`.radio_calibration` (the twin's link-budget correction learned from the
  network's measurement reports) and :mod:`.radio_models` (RSRP engines fitted on drive-test
  bins with cell engineering data: 38.901 reference, linear and gradient-boosted corrections);
* L2 traffic — :mod:`.traffic_forecast` (the twin's per-area traffic forecast),
  :mod:`.forecasters` (persistence, seasonal, Holt-Winters, ARIMA, gradient boosting, ensemble,
  foundation-model adapters) and :mod:`.forecast` (rolling-origin evaluation, forecasts with
  intervals).
"""
