"""The LINKs Data API: the functions of ``data_api_cards.json``, run against the context store.

``DataAPI(store, registry)`` implements every Data API Card with the card's own name and
parameters; :meth:`DataAPI.functions` returns ``{name: callable}``, the only namespace a
sandboxed planning program sees (plain functions that return JSON-ready lists and dicts; no
store, path or file object is reachable through their results or their public attributes).
Every call checks its arguments against the card's JSON schema
(:func:`twinnet.links.arguments.validate_args`) and raises :class:`~twinnet.errors.InputError`
naming the parameter, the value and what was expected.

Readings are kept "at the edge": nothing is stored, every series is produced on request by a
deterministic function of (sensor id, time stamp, city seed): the city's physical models
(:mod:`twinnet.links.city`) and the real Telecom Italia series for the cellular types
(:mod:`twinnet.links.telecom`). Sample times are the multiples of the type's sampling period
(UTC epoch). ``bytes_transferred`` is the number of raw samples (or event records) in the
window times the card's payload size: the sensor uploads its stored samples and aggregation is
done centrally; aggregated readings of an event feed count its events.

``forecast`` averages the series of (at most 12) sensors of the type nearest the area's
centroid inside the area (the 3 nearest if none is inside), on a step of at least 10 minutes,
takes 14 days of history before the issue time and runs the L2 forecaster
(:func:`twinnet.engines.forecast.forecast_band`, default model) for the central forecast and
an 80 % interval.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinnet.engines.forecast import DEFAULT_MODEL, forecast_band
from twinnet.errors import InputError
from twinnet.links.arguments import parse_duration, parse_time, validate_args
from twinnet.links.cards import ApiCard, Area, SensorCard, load_api_cards
from twinnet.links.city import (
    DAY_S,
    EVENT_TYPES,
    TZ,
    City,
    event_records,
    local_iso,
    sensor_values,
    value_bounds,
)
from twinnet.links.hashing import FloatArray, IntArray
from twinnet.links.registry import SensorRegistry, find_area, haversine_m
from twinnet.links.telecom import CELL_TYPES, TelecomSeries, cell_values
from twinnet.store.context import ContextStore

__all__ = ["EVENT_TYPES", "DataAPI", "validate_args"]

_AGG_FREQ = {"10min": "10min", "15min": "15min", "hourly": "h", "daily": "D"}


class DataAPI:
    """The Data API of the LINKs planner over a :class:`SensorRegistry`.

    Parameters
    ----------
    store, registry:
        the context store and its sensor registry (built with ``seed`` if empty).
    seed:
        seed of the city's weather and event processes.
    forecast_model:
        registry name of the L2 forecaster used by :meth:`forecast`.
    max_samples:
        most raw samples one :meth:`get_readings` call may produce (larger requests raise
        :class:`InputError`: shorten the window or pass fewer sensors).
    """

    HISTORY_DAYS = 14
    MAX_FORECAST_SENSORS = 12

    def __init__(self, store: ContextStore, registry: SensorRegistry | None = None, *,
                 seed: int = 0, forecast_model: str = DEFAULT_MODEL,
                 api_cards: Sequence[ApiCard] | None = None,
                 milan_dir: str | Path | None = None, max_samples: int = 2_000_000):
        self.store = store
        self.registry = registry if registry is not None else SensorRegistry(store)
        if self.registry.count() == 0:
            self.registry.build(seed=seed)
        self.cards: dict[str, ApiCard] = {
            c.name: c for c in (api_cards if api_cards is not None else load_api_cards())}
        self.seed = seed
        self.forecast_model = forecast_model
        self.max_samples = max_samples
        self._milan_dir = Path(milan_dir) if milan_dir is not None else None
        self._telecom: TelecomSeries | None = None
        city = self.registry.city
        self._city = City(seed, city.lat, city.lon)

    # ------------------------------------------------------------------ namespace
    def functions(self) -> dict[str, Callable[..., Any]]:
        """``{name: function}`` for every Data API Card: the namespace of a planning program."""
        out: dict[str, Callable[..., Any]] = {}
        for name, card in self.cards.items():
            method = getattr(self, name, None)
            if method is None:
                raise InputError("api card", name, "a function DataAPI implements")
            out[name] = _plain_function(method, name, card.description)
        return out

    def _args(self, name: str, **kwargs: Any) -> dict[str, Any]:
        return validate_args(self.cards[name], kwargs)

    # ------------------------------------------------------------------ areas and cards
    def list_districts(self, kind: str = "all") -> list[dict[str, Any]]:
        a = self._args("list_districts", kind=kind)
        return [x.summary() for x in self.registry.areas if a["kind"] in ("all", x.kind)]

    def geocode(self, place_name: str) -> dict[str, Any]:
        a = self._args("geocode", place_name=place_name)
        return find_area(a["place_name"], self.registry.areas).summary()

    def list_sensor_types(self, field: str | None = None) -> list[dict[str, Any]]:
        a = self._args("list_sensor_types", field=field)
        return [{"id": c.id, "field": c.field, "name": c.name}
                for c in self.registry.cards.values() if a.get("field") in (None, c.field)]

    def get_sensor_card(self, sensor_type: str) -> dict[str, Any]:
        a = self._args("get_sensor_card", sensor_type=sensor_type)
        return self._card(a["sensor_type"]).model_dump()

    def _card(self, sensor_type: str) -> SensorCard:
        card = self.registry.cards.get(sensor_type)
        if card is None:
            raise InputError("sensor_type", sensor_type,
                             "a registered sensor type (see list_sensor_types)")
        return card

    def _area(self, area: str | dict[str, Any], radius_m: float | None) -> Area:
        if isinstance(area, str):
            try:
                base = find_area(area, self.registry.areas)
            except InputError as exc:
                raise InputError("area", area, exc.expected) from None
            if radius_m is None:
                return base
            return base.model_copy(update={"radius_m": float(radius_m)})
        if radius_m is None:
            raise InputError("radius_m", None, "a radius in metres when area is a point")
        lat, lon = float(area["lat"]), float(area["lon"])
        return Area(id="point", name=f"{lat:.5f},{lon:.5f}", kind="place", lat=lat, lon=lon,
                    radius_m=float(radius_m))

    # ------------------------------------------------------------------ registry search
    def search_sensors(self, sensor_type: str, area: str | dict[str, Any],
                       radius_m: float | None = None) -> list[dict[str, Any]]:
        a = self._args("search_sensors", sensor_type=sensor_type, area=area, radius_m=radius_m)
        self._card(a["sensor_type"])
        where = self._area(a["area"], a.get("radius_m"))
        df = self.registry.sensors(a["sensor_type"], area=where)
        df = df.sort_values(["distance_m", "sensor_id"], kind="stable")
        return [{"sensor_id": r.sensor_id, "sensor_type": r.sensor_type,
                 "lat": round(float(r.lat), 6), "lon": round(float(r.lon), 6),
                 "grid_square_id": None if pd.isna(r.grid_square_id) else int(r.grid_square_id),
                 "municipio": None if pd.isna(r.municipio) else int(r.municipio),
                 "distance_m": round(float(r.distance_m), 1)}
                for r in df.itertuples(index=False)]

    # ------------------------------------------------------------------ readings
    def get_readings(self, sensor_ids: Sequence[str], start: str, end: str,
                     aggregation: str = "raw", statistic: str = "mean") -> dict[str, Any]:
        a = self._args("get_readings", sensor_ids=list(sensor_ids) if isinstance(
            sensor_ids, list | tuple) else sensor_ids, start=start, end=end,
            aggregation=aggregation, statistic=statistic)
        t0, t1 = parse_time(a["start"], "start"), parse_time(a["end"], "end")
        if t1 <= t0:
            raise InputError("end", a["end"], f"a time after start ({a['start']})")
        ids = list(dict.fromkeys(a["sensor_ids"]))
        rows = self.registry.get(ids)
        missing = sorted(set(ids) - set(rows.sensor_id))
        if missing:
            raise InputError("sensor_ids", missing[0], "a sensor id returned by search_sensors")
        s0, s1 = int(t0.timestamp()), int(t1.timestamp())
        total = 0
        for r in rows.itertuples(index=False):
            if r.sensor_type not in EVENT_TYPES:
                total += len(self._grid(s0, s1, self._card(r.sensor_type).sampling_period_s))
        if total > self.max_samples:
            raise InputError("sensor_ids", f"{len(ids)} sensors, {total} samples",
                             f"at most {self.max_samples} raw samples per call: shorten the "
                             "window or pass fewer sensors")
        readings: dict[str, list[dict[str, Any]]] = {}
        sent: dict[str, int] = {}
        units: dict[str, str] = {}
        for r in rows.itertuples(index=False):
            card = self._card(r.sensor_type)
            units[r.sensor_id] = card.unit
            if r.sensor_type in EVENT_TYPES:
                events = self._events(r.sensor_type, s0, s1)
                sent[r.sensor_id] = len(events) * card.payload_bytes_per_sample
                if a["aggregation"] == "raw":
                    readings[r.sensor_id] = events
                    continue
                t = np.array([int(pd.Timestamp(e["timestamp"]).timestamp()) for e in events],
                             dtype=np.int64)
                v = np.ones(len(t))
                readings[r.sensor_id] = _aggregate(t, v, s0, s1, a["aggregation"],
                                                   "count" if a["statistic"] == "mean"
                                                   else a["statistic"])
                continue
            t = self._grid(s0, s1, card.sampling_period_s)
            v = self._values(r, card, t)
            sent[r.sensor_id] = len(t) * card.payload_bytes_per_sample
            readings[r.sensor_id] = _aggregate(t, v, s0, s1, a["aggregation"], a["statistic"])
        unit: str | dict[str, str] = next(iter(units.values())) \
            if len(set(units.values())) == 1 else units
        return {"readings": readings, "unit": unit, "bytes_transferred": sent}

    def readings_frame(self, sensor_ids: Sequence[str], start: str, end: str) -> pd.DataFrame:
        """Raw readings as rows ``sensor_id, ts (UTC), value, unit`` (event feeds: count 1 per
        event). For analysis code inside TwinNet; not part of the planner's namespace."""
        out = self.get_readings(list(sensor_ids), start, end)
        frames = []
        for sid, recs in out["readings"].items():
            unit = out["unit"] if isinstance(out["unit"], str) else out["unit"][sid]
            frames.append(pd.DataFrame({
                "sensor_id": sid,
                "ts": pd.to_datetime([r["timestamp"] for r in recs], utc=True),
                "value": [float(r.get("value", 1.0)) for r in recs], "unit": unit}))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["sensor_id", "ts", "value", "unit"])

    @staticmethod
    def _grid(s0: int, s1: int, period: float) -> IntArray:
        p = max(1, round(period))
        first = -(-s0 // p) * p
        return np.arange(first, s1, p, dtype=np.int64)

    def _telecom_data(self) -> TelecomSeries:
        if self._telecom is None:
            self._telecom = TelecomSeries(self._milan_dir)
        return self._telecom

    def _values(self, r: Any, card: SensorCard, t: IntArray) -> FloatArray:
        """The series of sensor row ``r`` at epoch seconds ``t``."""
        if not len(t):
            return np.zeros(0)
        if card.id in CELL_TYPES:
            return cell_values(self._telecom_data(), card.id, r.sensor_id,
                               int(r.grid_square_id), t)
        return sensor_values(self._city, card.id, r.sensor_id, float(r.x_m), float(r.y_m),
                             card.sampling_period_s, t)

    def _events(self, typ: str, s0: int, s1: int) -> list[dict[str, Any]]:
        return event_records(self._city, typ, s0, s1, self.registry.areas)

    # ------------------------------------------------------------------ forecast
    def forecast(self, sensor_type: str, area: str | dict[str, Any], horizon: str,
                 start: str | None = None) -> dict[str, Any]:
        a = self._args("forecast", sensor_type=sensor_type, area=area, horizon=horizon,
                       start=start)
        card = self._card(a["sensor_type"])
        if card.id in EVENT_TYPES:
            raise InputError("sensor_type", card.id, "a type with values (event feeds cannot "
                             "be forecast: estimate them from get_readings)")
        seconds = parse_duration(a["horizon"])
        issue = parse_time(a["start"], "start") if "start" in a else pd.Timestamp.now("UTC")
        where = self._area(a["area"], 1_000.0 if isinstance(a["area"], dict) else None)
        found = self.registry.sensors(card.id, area=where)
        if found.empty:
            found = self.registry.sensors(card.id)
            found["distance_m"] = haversine_m(found.lat.to_numpy(), found.lon.to_numpy(),
                                              where.lat, where.lon)
            found = found.nsmallest(3, "distance_m")
        if found.empty:
            raise InputError("sensor_type", card.id, "a type with registered sensors")
        found = found.sort_values(["distance_m", "sensor_id"]).head(self.MAX_FORECAST_SENSORS)
        step = next(s for s in (600, 900, 1800, 3600, DAY_S) if s >= card.sampling_period_s)
        per = DAY_S // step
        n_steps = max(1, -(-seconds // step))
        origin = -(-int(issue.timestamp()) // step) * step
        hist_t = np.arange(origin - self.HISTORY_DAYS * DAY_S, origin, step, dtype=np.int64)
        series = np.mean([self._values(r, card, hist_t)
                          for r in found.itertuples(index=False)], axis=0)
        lo_h = float(series.min())
        shift = 0.0 if lo_h > 0 else -lo_h + max(float(series.std()), 1.0)
        first = pd.Timestamp(int(hist_t[0]), unit="s", tz="UTC").tz_convert(TZ)
        phase0 = int((first.day_of_week * DAY_S + first.hour * 3600 + first.minute * 60) // step)
        point, lower, upper = forecast_band(series + shift, n_steps, self.forecast_model,
                                            period=per, phase0=phase0)
        point, lower, upper = (np.asarray(v, dtype=np.float64) - shift
                               for v in (point, lower, upper))
        lo_b, hi_b = value_bounds(card.id)
        times = origin + step * np.arange(n_steps)
        rows = []
        for ti, p, lo, hi in zip(times, point, lower, upper, strict=True):
            p_, lo_, hi_ = (float(np.clip(v, lo_b, hi_b)) for v in (p, lo, hi))
            rows.append({"timestamp": local_iso(int(ti)), "value": round(p_, 4),
                         "lower": round(min(lo_, p_), 4), "upper": round(max(hi_, p_), 4)})
        return {"sensor_type": card.id, "area": where.summary(), "unit": card.unit,
                "step_s": step, "n_sensors": len(found), "model": self.forecast_model,
                "series": rows}


def _plain_function(method: Callable[..., Any], name: str, doc: str) -> Callable[..., Any]:
    """A plain function calling ``method``, with its signature and the card's description."""

    sig = inspect.signature(method)

    def call(*args: Any, **kwargs: Any) -> Any:
        for k, v in kwargs.items():
            if k not in sig.parameters:
                raise InputError(k, v, f"no such parameter of {name} (allowed: "
                                 f"{list(sig.parameters)})")
        try:
            sig.bind(*args, **kwargs)
        except TypeError as exc:
            missing = [p for p in list(sig.parameters)[len(args):]
                       if p not in kwargs and sig.parameters[p].default is inspect.Parameter.empty]
            if missing:
                raise InputError(missing[0], None, f"a required parameter of {name}") from exc
            raise InputError("arguments", len(args), f"at most {len(sig.parameters)} "
                             f"arguments of {name} ({list(sig.parameters)})") from exc
        return method(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = doc
    call.__module__ = "links"
    call.__signature__ = sig  # type: ignore[attr-defined]
    return call


def _aggregate(t: IntArray, v: FloatArray, s0: int, s1: int, aggregation: str,
               statistic: str) -> list[dict[str, Any]]:
    """``[{timestamp, value}]`` of the samples, raw or combined per local-time step."""
    if aggregation == "raw":
        return [{"timestamp": local_iso(int(ti)), "value": float(vi)}
                for ti, vi in zip(t, v, strict=True)]
    if aggregation == "total":
        if statistic == "count":
            value: float | None = float(len(v))
        elif not len(v):
            value = None if statistic != "sum" else 0.0
        else:
            value = float(getattr(np, statistic)(v))
        return [{"timestamp": local_iso(s0), "value": value}]
    idx = pd.to_datetime(t, unit="s", utc=True).tz_convert(TZ)
    s = pd.Series(v, index=idx, dtype=np.float64)
    res = getattr(s.resample(_AGG_FREQ[aggregation], label="left", closed="left"), statistic)()
    out = []
    for ts, val in res.items():
        if pd.isna(val):
            continue
        out.append({"timestamp": pd.Timestamp(ts).isoformat(), "value": float(val)})
    return out
