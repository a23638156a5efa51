"""``twinnet links ask``: both LINKs stages end to end, and the answer from the retrieved data.

1. **stage 1** — the data planner (:class:`twinnet.links.planner.AgenticPlanner`) chooses
   the sensor types, places and window; its program, run in the sandbox, lists the sensors;
2. **stage 2** — the Parameter Convertor turns the sensors nearest each place (at most
   ``per_type`` of each type, placed in a 7-cell cluster of ISD 500 m centred on the place) into
   devices with their data sizes; the traffic-load predictor (L2 forecaster on the real Milan
   series) gives each cell's load; cells below ``tau`` upload over the 6G uplink (min-max delay
   OPT with reflexion), the others over Zigbee; the retrieval latency is the largest delay;
3. **answer** — the retrieved readings (past windows) or the forecast (future windows) of each
   type, summarised per type (mean, minimum, maximum, unit, sensors).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twinnet.links.cards import load_districts, load_sensor_cards
from twinnet.links.city import EVENT_TYPES
from twinnet.links.data_api import DataAPI
from twinnet.links.planner import AgenticPlanner
from twinnet.links.registry import to_local_xy
from twinnet.links.retrieval import convert_plan, milan_cell_loads, plan_retrieval

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend
    from twinnet.store.context import ContextStore

__all__ = ["answer_query"]


def _summary(values: list[float], unit: str) -> dict[str, Any]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"n_values": 0, "unit": unit}
    return {"mean": round(float(v.mean()), 3), "min": round(float(v.min()), 3),
            "max": round(float(v.max()), 3), "n_values": int(v.size), "unit": unit}


def answer_query(query: str, store: ContextStore, backend: ChatBackend | None = None, *,
                 tau: float = 0.7, per_type: int = 8, origin: Any = "2013-11-28 18:00",
                 max_steps: int = 15, temperature: float = 0.0) -> dict[str, Any]:
    t0 = time.perf_counter()
    api = DataAPI(store)
    cards = {c.id: c for c in load_sensor_cards()}
    planner = AgenticPlanner(backend, list(cards.values()), load_districts(), store=store,
                             functions=api.functions(), max_steps=max_steps,
                             temperature=temperature, now=pd.Timestamp(origin).normalize())
    plan = planner.plan(query)
    t_plan = time.perf_counter() - t0
    # stage 2: the sensors nearest each place, in a 7-cell cluster around it
    reg = api.registry
    city = reg.city
    rows = []
    chosen_ids: dict[str, list[str]] = {}
    for p in plan.places or [city.summary()]:
        px, py = to_local_xy(p["lat"], p["lon"], city.lat, city.lon)
        for t in plan.sensor_types:
            df = reg.sensors(t, area=p["id"]).sort_values(["distance_m", "sensor_id"])
            df = df.head(per_type)
            chosen_ids.setdefault(t, []).extend(df.sensor_id.tolist())
            for r in df.itertuples():
                rows.append({"sensor_id": r.sensor_id, "type": t,
                             "x_m": float(r.x_m) - float(px), "y_m": float(r.y_m) - float(py)})
    sensors = pd.DataFrame(rows).drop_duplicates("sensor_id") if rows else pd.DataFrame(
        columns=["sensor_id", "type", "x_m", "y_m"])
    win = plan.time_window
    start, end = pd.Timestamp(win["start"]), pd.Timestamp(win["end"])
    # a future window needs the history the forecast is made from: one day before its start
    hist_start, hist_end = (start - pd.Timedelta(days=1), start) if win.get("future") else \
        (start, end)
    window_s = float((hist_end - hist_start).total_seconds())
    out: dict[str, Any] = {"query": query, "plan": plan.to_dict()}
    if not sensors.empty:
        devices = convert_plan(sensors, window_s,
                               {t: cards[t].sampling_period_s for t in plan.sensor_types},
                               {t: cards[t].payload_bytes_per_sample for t in plan.sensor_types},
                               "raw")
        loads = milan_cell_loads(list(range(7)), origin)
        res = plan_retrieval(devices, tau=tau, cell_load=loads)
        out["retrieval"] = {"latency_s": res.latency_s, "tau": tau,
                            "cell_load": {int(k): round(v, 3) for k, v in loads.items()},
                            "cells_6g": res.cells_6g, "cells_zigbee": res.cells_zigbee,
                            "devices": len(devices),
                            "data_mbit": round(sum(d.data_bits for d in devices) / 1e6, 3),
                            "schedule": res.per_device}
    t_ret = time.perf_counter() - t0 - t_plan
    # the answer from the data
    answers: dict[str, Any] = {}
    for t in plan.sensor_types:
        ids = chosen_ids.get(t, [])
        area = plan.places[0]["id"] if plan.places else "milano"
        try:
            if win.get("future") and t not in EVENT_TYPES:
                horizon_h = max(1, int((end - start).total_seconds() // 3600))
                f = api.forecast(t, area, f"PT{min(horizon_h, 48)}H",
                                 start=str(start.isoformat()))
                answers[t] = {"source": "forecast", **_summary(
                    [s["value"] for s in f["series"]], str(f.get("unit", "")))}
            elif ids:
                r = api.get_readings(ids, str(hist_start.isoformat()),
                                     str(hist_end.isoformat()))
                vals = [float(x["value"]) for rs in r["readings"].values() for x in rs
                        if isinstance(x.get("value"), int | float)]
                unit = r["unit"] if isinstance(r["unit"], str) else cards[t].unit
                answers[t] = {"source": "readings", "sensors": len(ids),
                              "bytes": r.get("bytes_transferred"), **_summary(vals, unit)}
        except Exception as exc:  # one type failing does not sink the answer
            answers[t] = {"error": f"{type(exc).__name__}: {exc}"}
    out["answer"] = answers
    parts = []
    for t, a in answers.items():
        if "mean" in a:
            parts.append(f"{t} ({a['source']}): mean {a['mean']:g} {a['unit']} "
                         f"(min {a['min']:g}, max {a['max']:g})")
        elif "error" in a:
            parts.append(f"{t}: {a['error']}")
    out["answer_text"] = "; ".join(parts)
    out["timing_s"] = {"plan": round(t_plan, 3), "retrieval": round(t_ret, 3),
                       "total": round(time.perf_counter() - t0, 3)}
    return out
