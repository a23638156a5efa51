"""The LINKs Data API: the functions of ``data_api_cards.json``, run against the context store.

``DataAPI(store, registry)`` implements every Data API Card with the card's own name and
parameters; :meth:`DataAPI.functions` returns ``{name: callable}``, the only namespace a
sandboxed planning program sees (plain functions that return JSON-ready lists and dicts; no
store, path or file object is reachable through their results or their public attributes).
Every call checks its arguments against the card's JSON schema and raises
:class:`~twinnet.errors.InputError` naming the parameter, the value and what was expected.

Readings
--------
Readings are kept "at the edge": nothing is stored, every series is produced on request by a
deterministic function of (sensor id, time stamp, city seed), so the same call always returns
the same data and any window (including overlapping ones) is consistent. Sample times are the
multiples of the type's sampling period (UTC epoch). ``bytes_transferred`` is the number of raw
samples (or event records) in the window times the card's payload size: the sensor uploads its
stored samples and aggregation is done centrally.

* **Telecom** (``cell_internet_activity``): the real Telecom Italia Milan series
  (``shared/data/milan``, 10-minute internet activity of 25 grid squares, November 2013). A
  square with its own series returns it unchanged; any other square returns the series of the
  nearest of the 25 squares scaled by the ratio of the two squares' total internet activity
  (Nov–Dec 2013, available for all 10 000 squares). Outside November 2013 the series repeats
  with a period of 4 weeks (weekday and time of day kept). ``cell_sms_activity`` and
  ``cell_call_activity`` have no public per-square series here: they are the internet series
  of the square times fixed ratios (0.11 and 0.16) with ±10 % hashed noise.
* **Weather**: one seeded city weather shared by all sensors. Air temperature: seasonal mean
  of Milan (2.5 °C in January, 24.5 °C in late July) + a diurnal cycle peaking at 15:00 that
  clouds damp + a 36-hour synoptic anomaly + an urban heat island (+1 °C at the centre) + a
  per-sensor offset; rain cools by up to 2 °C. Relative humidity falls 3 % per °C above the
  seasonal mean and rises in rain. Rain: a seeded Poisson process of storms (0.6 a day,
  lognormal peak intensity of median 7 mm/h, 0.5–24 h, 6–20 km wide Gaussian cells moving
  across the city; 800–950 mm a year, near Milan's mean, on 110–130 days of 1 mm or more);
  rain gauges give the depth falling at their point per sampling interval and radar squares the
  intensity at their centre (±15 % noise), so gauges and radar agree. Water level, soil
  moisture and leakage currents follow the rain through exponential responses; irradiance is a
  clear-sky model (solar elevation at Milan) times cloudiness.
* **Energy / transport / Wi-Fi**: daily and weekly profiles (household peaks in the morning and
  evening, office hours, rush hours at 8:00 and 18:00, quieter weekends) scaled by a hashed
  per-sensor size, with temperature (cooling and heating load, transformer oil) and rain
  (speeds, pedestrians) effects.
* **Event feeds** (``power_outage_log``, ``traffic_incident_report``): seeded Poisson events
  (outages 0.6 a day, more on hot or wet days; incidents 20 a day following traffic); raw
  readings are the event records, aggregated readings count them.

``forecast`` averages the series of (at most 12) sensors of the type nearest the area's
centroid inside the area (the 3 nearest if none is inside), on a step of at least 10 minutes,
takes 14 days of history before the issue time and runs the L2 forecaster
(:func:`twinnet.traffic.forecast.forecast_band`, default model) for the central forecast and
an 80 % interval.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

from twinnet.datasets import shared_data_dir
from twinnet.engines.forecast import DEFAULT_MODEL, forecast_band
from twinnet.errors import DataNotFoundError, InputError
from twinnet.links.cards import ApiCard, Area, SensorCard, load_api_cards
from twinnet.links.registry import SensorRegistry, find_area, haversine_m
from twinnet.store.context import ContextStore

__all__ = ["EVENT_TYPES", "DataAPI", "validate_args"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TZ = "Europe/Rome"
LAT_MILAN = 45.466
EVENT_TYPES: frozenset[str] = frozenset({"power_outage_log", "traffic_incident_report"})
_AGG_FREQ = {"10min": "10min", "15min": "15min", "hourly": "h", "daily": "D"}
_MASK = (1 << 64) - 1
_DAY = 86_400


# ====================================================================== argument validation
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,),
    "array": (list, tuple), "object": (dict,)}


def _check(schema: dict[str, Any], value: Any, path: str) -> None:
    """Raise :class:`InputError` if ``value`` breaks ``schema`` (the subset the cards use)."""
    if "oneOf" in schema:
        errors = []
        for sub in schema["oneOf"]:
            try:
                _check(sub, value, path)
                return
            except InputError as err:
                errors.append(err)
        kinds = " or ".join(str(s.get("type", "value")) for s in schema["oneOf"])
        # the error of the alternative of the value's own type is the most useful one
        for sub, first in zip(schema["oneOf"], errors, strict=True):
            t = sub.get("type")
            if t in _TYPES and isinstance(value, _TYPES[t]) and not isinstance(value, bool):
                raise first
        raise InputError(path, value, f"a {kinds}")
    t = schema.get("type")
    if t is not None:
        ok = isinstance(value, _TYPES[t]) and not (isinstance(value, bool) and t != "boolean")
        if t == "number" and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if not ok:
            raise InputError(path, value, f"a {t}")
    if "enum" in schema and value not in schema["enum"]:
        raise InputError(path, value, f"one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise InputError(path, value, f"a string of at least {schema['minLength']} chars")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise InputError(path, value, f"a string matching {schema['pattern']}")
        if schema.get("format") == "date-time":
            _parse_time(value, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise InputError(path, value, f"a number >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise InputError(path, value, f"a number <= {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise InputError(path, value, f"a number > {schema['exclusiveMinimum']}")
    if isinstance(value, list | tuple):
        if len(value) < schema.get("minItems", 0):
            raise InputError(path, value, f"a list of at least {schema['minItems']} items")
        for i, item in enumerate(value):
            _check(schema.get("items", {}), item, f"{path}[{i}]")
    if isinstance(value, dict) and t == "object":
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                raise InputError(f"{path}.{req}" if path else req, None, "a required value")
        for k, v in value.items():
            if k not in props:
                if schema.get("additionalProperties", True) is False:
                    raise InputError(f"{path}.{k}" if path else k, v,
                                     f"no such parameter (allowed: {sorted(props)})")
                continue
            _check(props[k], v, f"{path}.{k}" if path else k)


def validate_args(card: ApiCard, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` checked against ``card.parameters``, with ``None`` meaning "not given" and the
    schema defaults filled in."""
    schema = card.parameters
    given = {k: v for k, v in args.items() if v is not None}
    _check(schema, given, "")
    for k, sub in schema.get("properties", {}).items():
        if k not in given and "default" in sub:
            given[k] = sub["default"]
    return given


def _parse_time(value: Any, field: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(field, value, "an ISO 8601 date-time, e.g. 2013-11-04T08:00") from exc
    if ts is pd.NaT:
        raise InputError(field, value, "an ISO 8601 date-time, e.g. 2013-11-04T08:00")
    if ts.tzinfo is None:
        ts = ts.tz_localize(TZ, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC")


_DURATION = re.compile(r"^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?)?$")


def _parse_duration(value: str) -> int:
    m = _DURATION.match(value)
    if not m:
        raise InputError("horizon", value, "an ISO 8601 duration such as 'PT6H' or 'P1D'")
    d, h, mi = (int(g) if g else 0 for g in m.groups())
    seconds = d * _DAY + h * 3600 + mi * 60
    if seconds <= 0 or seconds > 7 * _DAY:
        raise InputError("horizon", value, "a duration above zero and at most P7D")
    return seconds


# ====================================================================== deterministic noise
def _key(*parts: object) -> int:
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniform(key: int, idx: Any) -> FloatArray:
    """Hashed U[0, 1) values, one per integer in ``idx`` (same key and index: same value)."""
    k = np.uint64((key * 0x9E3779B97F4A7C15) & _MASK)
    x = np.atleast_1d(np.asarray(idx, dtype=np.int64)).astype(np.uint64) + k
    return (_mix(_mix(x)) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _normal(key: int, idx: Any) -> FloatArray:
    u1 = np.maximum(_uniform(key, idx), 1e-300)
    u2 = _uniform(key ^ 0x5DEECE66D, idx)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)


def _smooth(key: int, t: IntArray, knot_s: int) -> FloatArray:
    """Smooth hashed noise (about unit variance) with knots every ``knot_s`` seconds."""
    k = np.floor_divide(t, knot_s)
    f = (t - k * knot_s) / knot_s
    s = f * f * (3 - 2 * f)
    return ((1 - s) * _normal(key, k) + s * _normal(key, k + 1)) / np.sqrt((1 - s) ** 2 + s**2)


def _gauss(h: FloatArray, mu: float, sd: float) -> FloatArray:
    d = (h - mu + 12) % 24 - 12
    return np.exp(-0.5 * (d / sd) ** 2)


class _Clock:
    """Local-time features of UTC epoch seconds."""

    def __init__(self, t: IntArray):
        self.t = t
        idx = pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True)).tz_convert(TZ)
        self.hour = (idx.hour + idx.minute / 60 + idx.second / 3600).to_numpy(np.float64)
        self.dow = idx.day_of_week.to_numpy(np.int64)
        self.doy = idx.day_of_year.to_numpy(np.float64)
        self.weekend = self.dow >= 5


# ====================================================================== the city model
class _City:
    """Seeded weather, load and event processes of the city (see the module docstring)."""

    def __init__(self, seed: int, lat0: float, lon0: float):
        self.seed = seed
        self.lat0, self.lon0 = lat0, lon0
        self._storms: dict[int, FloatArray] = {}

    # -- rain ---------------------------------------------------------------------------
    def storms(self, day: int) -> FloatArray:
        """Storms starting on UTC day ``day``: rows (start, dur, peak, x0, y0, vx, vy, R)."""
        if day not in self._storms:
            rng = np.random.default_rng([self.seed, 7, day + 1_000_000])
            n = rng.poisson(0.6)
            start = day * _DAY + rng.random(n) * _DAY
            dur = np.clip(rng.exponential(6 * 3600, n), 1800, _DAY)
            peak = np.clip(rng.lognormal(np.log(7.0), 0.9, n), 0.2, 80.0)
            rho, phi = 12_000 * np.sqrt(rng.random(n)), 2 * np.pi * rng.random(n)
            speed, head = rng.uniform(2, 8, n), 2 * np.pi * rng.random(n)
            radius = rng.uniform(6_000, 20_000, n)
            self._storms[day] = np.column_stack([
                start, dur, peak, rho * np.cos(phi), rho * np.sin(phi), speed * np.cos(head),
                speed * np.sin(head), radius])
        return self._storms[day]

    def rain(self, t: IntArray, x: float, y: float) -> FloatArray:
        """Rain intensity (mm/h) at the point ``(x, y)`` (metres about the centroid)."""
        out = np.zeros(len(t))
        if not len(t):
            return out
        for day in range(int(t.min()) // _DAY - 1, int(t.max()) // _DAY + 1):
            for s, dur, peak, x0, y0, vx, vy, r in self.storms(day):
                m = (t >= s) & (t < s + dur)
                if not m.any():
                    continue
                tt = t[m] - s
                d2 = (x - x0 - vx * tt) ** 2 + (y - y0 - vy * tt) ** 2
                out[m] += peak * np.sin(np.pi * tt / dur) * np.exp(-d2 / (2 * r * r))
        return out

    def rain_response(self, t: IntArray, x: float, y: float, tau_s: float) -> FloatArray:
        """Rain depth (mm) filtered by an exponential memory of ``tau_s`` seconds."""
        step = 600
        g0 = (int(t.min()) - int(6 * tau_s)) // _DAY * _DAY
        grid = np.arange(g0, int(t.max()) + step, step, dtype=np.int64)
        depth = self.rain(grid, x, y) * step / 3600
        resp = lfilter([1.0], [1.0, -math.exp(-step / tau_s)], depth)
        return np.interp(t, grid, resp)

    # -- weather ------------------------------------------------------------------------
    @staticmethod
    def seasonal_mean(doy: FloatArray) -> FloatArray:
        return 13.5 - 11.0 * np.cos(2 * np.pi * (doy - 20) / 365.25)

    def solar_elevation(self, c: _Clock) -> FloatArray:
        dec = np.radians(23.44) * np.sin(2 * np.pi * (284 + c.doy) / 365.25)
        solar_h = (c.t % _DAY) / 3600 + self.lon0 / 15
        ha = np.radians(15 * (solar_h - 12))
        lat = np.radians(LAT_MILAN)
        return np.arcsin(np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(ha))

    def cloud(self, c: _Clock, wet: FloatArray) -> FloatArray:
        base = 0.45 + 0.3 * _smooth(_key(self.seed, "cloud"), c.t, 6 * 3600)
        return np.clip(base + 0.6 * np.minimum(wet, 1.0), 0.0, 1.0)

    def irradiance(self, c: _Clock, wet: FloatArray) -> FloatArray:
        sin_e = np.maximum(np.sin(self.solar_elevation(c)), 0.0)
        return 1050 * sin_e**1.15 * (1 - 0.75 * self.cloud(c, wet))

    def temperature(self, c: _Clock, x: float, y: float, wet: FloatArray,
                    sensor_key: int) -> FloatArray:
        ts = self.seasonal_mean(c.doy)
        amp = 4.5 + 1.5 * np.sin(2 * np.pi * (c.doy - 100) / 365.25)
        diurnal = amp * np.cos(2 * np.pi * (c.hour - 15) / 24) * (1 - 0.5 * self.cloud(c, wet))
        synoptic = 3.0 * _smooth(_key(self.seed, "temperature"), c.t, 36 * 3600)
        uhi = 1.0 * math.exp(-math.hypot(x, y) / 5_000)
        offset = 0.4 * float(_normal(sensor_key, [0])[0])
        noise = 0.15 * _normal(sensor_key, c.t // 60)
        temp = ts + diurnal + synoptic + uhi + offset + noise - 2.0 * np.minimum(wet, 1.0)
        return np.clip(temp, -15.0, 40.0)

    # -- profiles -----------------------------------------------------------------------
    @staticmethod
    def traffic(c: _Clock) -> FloatArray:
        """Relative road traffic 0..1: rush hours on weekdays, a broad midday hump at weekends."""
        h = c.hour
        weekday = 0.12 + 0.45 * _gauss(h, 13, 5) + 0.5 * _gauss(h, 8.2, 1.2) \
            + 0.45 * _gauss(h, 18.0, 1.6)
        weekend = 0.10 + 0.55 * _gauss(h, 15, 4.0)
        return np.clip(np.where(c.weekend, weekend, weekday), 0.0, 1.0)

    @staticmethod
    def household_kw(c: _Clock) -> FloatArray:
        h = c.hour
        morning = np.where(c.weekend, _gauss(h, 9.5, 1.8), _gauss(h, 7.3, 1.0))
        day = np.where(c.weekend, 0.25 * _gauss(h, 13, 3), 0.08 * _gauss(h, 13, 3))
        return 0.22 + 0.35 * morning + day + 0.75 * _gauss(h, 20.3, 2.0)

    @staticmethod
    def office(c: _Clock) -> FloatArray:
        h = c.hour
        open_ = 1 / (1 + np.exp(-(h - 8.0) * 2)) * 1 / (1 + np.exp((h - 19.0) * 2))
        return np.where(c.weekend, 0.35 * open_, open_)


# ====================================================================== telecom series
class _Telecom:
    """The Telecom Italia Milan internet series mapped onto every grid square."""

    PERIOD = 28 * _DAY

    def __init__(self, milan_dir: Path):
        series = milan_dir / "milan_internet_10min_25cells_2013-11-01_to_2013-11-30.csv"
        totals = milan_dir / "milan_internet_total_per_square_2013-11-01_to_2014-01-01.csv"
        grid = milan_dir / "milano_grid_centroids.csv"
        for p in (series, totals, grid):
            if not p.is_file():
                raise DataNotFoundError(f"Milan telecom data: no file {p.name} in {milan_dir}")
        df = pd.read_csv(series)
        t = pd.to_datetime(df.pop("timestamp_local_cet"), utc=True)
        self.t0 = int(pd.Timestamp(t.iloc[0]).timestamp())
        self.n = len(df)
        self.squares = np.array([int(c.removeprefix("sq_")) for c in df.columns])
        self.values = df.to_numpy(np.float64)
        self.values = np.where(np.isfinite(self.values), self.values, 0.0)
        tot = pd.read_csv(totals).set_index("square_id")["internet"]
        self.total = tot.to_dict()
        g = pd.read_csv(grid).set_index("square_id")
        self.grid_lat = g.lat_centroid.to_dict()
        self.grid_lon = g.lon_centroid.to_dict()

    def source(self, square: int) -> tuple[int, float]:
        """Column of the series used for ``square`` and its scale factor."""
        hit = np.flatnonzero(self.squares == square)
        if hit.size:
            return int(hit[0]), 1.0
        lat, lon = self.grid_lat.get(square), self.grid_lon.get(square)
        if lat is None or lon is None:
            raise InputError("grid_square_id", square, "a square of the Milan grid (1..10000)")
        d = haversine_m(lat, lon, np.array([self.grid_lat[s] for s in self.squares]),
                        np.array([self.grid_lon[s] for s in self.squares]))
        j = int(np.argmin(d))
        return j, float(self.total[square] / self.total[int(self.squares[j])])

    def internet(self, square: int, t: IntArray) -> FloatArray:
        col, scale = self.source(square)
        span = self.n * 600
        rel = t - self.t0
        rel = np.where((rel >= 0) & (rel < span), rel, np.mod(rel, self.PERIOD))
        return self.values[rel // 600, col] * scale


# ====================================================================== the API
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
        self._telecom: _Telecom | None = None
        city = self.registry.city
        self._city = _City(seed, city.lat, city.lon)

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
        t0, t1 = _parse_time(a["start"], "start"), _parse_time(a["end"], "end")
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

    def _telecom_data(self) -> _Telecom:
        if self._telecom is None:
            self._telecom = _Telecom(self._milan_dir or shared_data_dir("milan"))
        return self._telecom

    def _values(self, r: Any, card: SensorCard, t: IntArray) -> FloatArray:
        """The series of sensor row ``r`` at epoch seconds ``t`` (see the module docstring)."""
        typ, sid = card.id, r.sensor_id
        if not len(t):
            return np.zeros(0)
        if typ.startswith("cell_"):
            sq = int(r.grid_square_id)
            net = self._telecom_data().internet(sq, t)
            if typ == "cell_internet_activity":
                return net
            ratio = 0.11 if typ == "cell_sms_activity" else 0.16
            return net * ratio * (1 + 0.1 * np.clip(_normal(_key(sid), t // 600), -3, 3))
        city, k = self._city, _key(self.seed, sid)
        c = _Clock(t)
        x, y = float(r.x_m), float(r.y_m)
        size = _uniform(_key(sid, "size"), [0])[0]  # the sensor's own scale in [0, 1)
        z = _normal(k, t // max(60, round(card.sampling_period_s)))
        rain = city.rain(t, x, y)
        wet = np.minimum(rain, 1.0)

        def temp() -> FloatArray:
            return city.temperature(c, x, y, wet, _key(self.seed, "air", round(x), round(y)))

        if typ == "air_temperature":
            return city.temperature(c, x, y, wet, k)
        if typ == "relative_humidity":
            ts = city.seasonal_mean(c.doy)
            rh = 72 - 3.0 * (temp() - ts) + 18 * wet + 4 * _smooth(_key(self.seed, "rh"), t,
                                                                   12 * 3600) + 1.5 * z
            return np.clip(rh, 8.0, 100.0)
        if typ == "rain_gauge_precipitation":
            return np.round(rain * card.sampling_period_s / 3600, 2)
        if typ == "radar_precipitation_intensity":
            v = rain * (1 + 0.15 * np.clip(z, -3, 3))
            return np.where(v < 0.05, 0.0, np.round(v, 2))
        if typ == "wind_speed":
            base = 2.2 * np.exp(0.35 * _smooth(_key(self.seed, "wind"), t, 8 * 3600))
            return np.maximum(base + 3 * wet + 0.4 * z, 0.0)
        if typ == "wind_direction":
            return (240 + 70 * _smooth(_key(self.seed, "wdir"), t, 10 * 3600) + 8 * z) % 360
        if typ == "atmospheric_pressure":
            return 1016 + 7 * _smooth(_key(self.seed, "p"), t, 72 * 3600) - 5 * wet + 0.2 * z
        if typ == "solar_irradiance":
            return np.maximum(city.irradiance(c, wet) * (1 + 0.03 * z), 0.0)
        if typ == "water_level":
            resp = city.rain_response(t, x, y, 10 * 3600)
            return 0.6 + 1.2 * size + 0.05 * resp + 0.005 * z
        if typ == "soil_moisture":
            resp = city.rain_response(t, x, y, 48 * 3600)
            summer = np.sin(2 * np.pi * (c.doy - 100) / 365.25)
            return np.clip(24 - 6 * summer + 0.35 * resp + 0.3 * z, 5.0, 48.0)
        winter = np.cos(2 * np.pi * (c.doy - 15) / 365.25)
        traffic = city.traffic(c)
        if typ == "pm25_concentration":
            base = (24 + 18 * winter) * (0.8 + 0.4 * traffic)
            v = base * np.exp(0.35 * _smooth(_key(self.seed, "pm"), t, 24 * 3600))
            return np.maximum(v * (1 - 0.5 * wet) + 2 * z, 1.0)
        if typ == "no2_concentration":
            return np.maximum((25 + 12 * winter) + 45 * traffic * (0.6 + 0.8 * size) + 5 * z,
                              2.0)
        if typ == "noise_level":
            return 48 + 8 * size + 16 * traffic + 2.5 * z
        load = 0.55 * city.household_kw(c) / 1.2 + 0.45 * city.office(c)
        air = temp()
        load = load * (1 + 0.025 * np.maximum(air - 24, 0) + 0.01 * np.maximum(12 - air, 0))
        if typ == "feeder_current":
            return np.maximum((200 + 200 * size) * load * (1 + 0.03 * z), 0.0)
        if typ == "substation_voltage":
            nominal = 20_000.0 if size < 0.3 else 400.0
            return nominal * (1.01 - 0.035 * load + 0.003 * z)
        if typ == "grid_frequency":
            return 50 + 0.02 * _smooth(_key(self.seed, "f"), t, 90) + 0.002 * z
        if typ == "pv_inverter_output":
            cap = 3 + 57 * size**2
            ghi = city.irradiance(c, wet)
            return np.maximum(cap * ghi / 1000 * 0.82 * (1 - 0.004 * (air + ghi / 40 - 25)), 0)
        if typ == "residential_smart_meter":
            kw = city.household_kw(c) * (0.6 + 0.8 * size) * (
                1 + 0.04 * np.maximum(air - 24, 0)) * np.exp(0.25 * z)
            return np.round(kw * card.sampling_period_s / 3600, 4)
        if typ == "commercial_smart_meter":
            kw = (5 + 60 * size**2) * (0.2 + 0.8 * city.office(c)) * (
                1 + 0.03 * np.maximum(air - 22, 0)) * (1 + 0.05 * z)
            return np.round(np.maximum(kw, 0) * card.sampling_period_s / 3600, 4)
        if typ == "leakage_current":
            wetness = city.rain_response(t, x, y, 12 * 3600)
            spikes = np.where(_uniform(k ^ 1, t // 3600) > 0.998, 30.0, 0.0)
            return np.maximum(1 + 4 * size + 1.5 * wetness + spikes + 0.3 * z, 0.0)
        if typ == "overhead_line_condition":
            wind = 2.2 * np.exp(0.35 * _smooth(_key(self.seed, "wind"), t, 8 * 3600))
            return air + 18 * load + 0.012 * city.irradiance(c, wet) - 1.2 * wind + 0.3 * z
        if typ == "transformer_temperature":
            return air + 15 + 38 * load**2 + 0.5 * z
        if typ in ("ev_charger_occupancy", "ev_charger_power"):
            p_busy = 0.15 + 0.45 * np.clip(0.6 * city.office(c) + 0.5 * _gauss(c.hour, 20, 2.5),
                                           0, 1)
            u = _uniform(_key(sid, "session"), t // 1800)
            broken = _uniform(_key(sid, "fault"), t // _DAY) > 0.985
            if typ == "ev_charger_power":
                rated = 11.0 if size < 0.5 else (22.0 if size < 0.85 else 50.0)
                return np.where((u < p_busy) & ~broken, rated * (0.55 + 0.45 * u / p_busy), 0.0)
            # status codes: 0 available, 1 charging/occupied, 2 reserved, 3 out of service
            code = np.where(u < p_busy, 1.0, np.where(u < p_busy + 0.03, 2.0, 0.0))
            return np.where(broken, 3.0, code)
        if typ == "day_ahead_electricity_price":
            day_noise = 15 * _smooth(_key(self.seed, "price"), t, _DAY)
            shape = 0.8 * _gauss(c.hour, 9, 1.5) + _gauss(c.hour, 19.5, 1.8) - 0.3 * _gauss(
                c.hour, 14, 2) * (city.irradiance(c, wet) > 300)
            return np.round(np.maximum(105 + 35 * shape + day_noise - 15 * c.weekend
                                       + 10 * winter, 5.0), 2)
        if typ == "street_lighting_status":
            night = city.solar_elevation(c) < np.radians(-3)
            lamp = 60 + 80 * size
            dim = np.where((c.hour >= 0) & (c.hour < 5), 0.5, 1.0)
            faulty = _uniform(_key(sid, "fault"), t // _DAY) > 0.99
            return np.where(night & ~faulty, lamp * dim, 0.0)
        if typ == "traffic_flow":
            return np.maximum((600 + 1600 * size) * traffic * (1 + 0.1 * wet) * (1 + 0.08 * z),
                              0.0)
        if typ == "traffic_speed":
            free = 30 + 40 * size
            return np.maximum(free * (1 - 0.55 * traffic**2) * (1 - 0.12 * wet) + 2 * z, 3.0)
        if typ == "parking_occupancy":
            occ = 30 + 55 * (0.6 * city.office(c) + 0.4 * _gauss(c.hour, 21, 3)) + 4 * z
            return np.clip(occ, 0.0, 100.0)
        if typ == "public_transport_vehicle_location":
            return 20 + 200 * traffic + 90 * wet + 45 * z  # delay against the timetable (s)
        if typ == "road_surface_condition":
            return air + 0.012 * city.irradiance(c, wet) - 1.2 * (1 - wet) * (
                city.solar_elevation(c) < 0) - 1.0 * wet + 0.2 * z
        day = np.clip(_gauss(c.hour, 13, 2.5) + 0.8 * _gauss(c.hour, 18.5, 1.5), 0, 1.5)
        if typ == "pedestrian_count":
            scale = (50 + 400 * size) * np.where(c.weekend, 1.3, 1.0)
            return np.round(np.maximum(scale * day * (1 - 0.5 * wet) * np.exp(0.15 * z), 0))
        if typ == "bike_sharing_availability":
            docks = 15 + round(25 * size)
            return np.round(np.clip(docks * (0.55 + 0.3 * np.sin(
                2 * np.pi * (c.hour - 10) / 24)) + 2 * z, 0, docks))
        if typ == "public_wifi_sessions":
            return np.round(np.maximum((5 + 55 * size) * (0.1 + day) * np.exp(0.2 * z), 0))
        # a type added to the cards without a model: a flat positive series with noise
        return np.maximum(1 + 0.1 * z, 0.0)

    def _events(self, typ: str, s0: int, s1: int) -> list[dict[str, Any]]:
        city = self._city
        out: list[dict[str, Any]] = []
        for day in range(s0 // _DAY, (s1 - 1) // _DAY + 1):
            rng = np.random.default_rng([self.seed, 11 if typ == "power_outage_log" else 13,
                                         day + 1_000_000])
            hours = np.arange(day * _DAY, (day + 1) * _DAY, 3600, dtype=np.int64)
            c = _Clock(hours)
            rain_mm = float(city.rain(hours, 0.0, 0.0).sum())
            if typ == "power_outage_log":
                hot = float(city.temperature(c, 0, 0, np.zeros(24), 0).max()) > 30
                n = rng.poisson(0.6 + 0.8 * hot + 0.8 * (rain_mm > 10))
                starts = day * _DAY + rng.random(n) * _DAY
            else:
                weights = city.traffic(c) + 1e-3
                n = rng.poisson(20 * (1 + 0.5 * min(rain_mm / 10, 1)))
                starts = day * _DAY + (rng.choice(24, n, p=weights / weights.sum())
                                       + rng.random(n)) * 3600
            for i in np.argsort(starts, kind="stable"):
                s = int(starts[i])
                rec_rng = np.random.default_rng([self.seed, s, int(i)])
                if not s0 <= s < s1:
                    continue
                ts = pd.Timestamp(s, unit="s", tz="UTC").tz_convert(TZ).isoformat()
                muni = int(rec_rng.integers(1, 10))
                if typ == "power_outage_log":
                    dur = int(np.clip(rec_rng.lognormal(np.log(2400), 0.9), 180, 12 * 3600))
                    out.append({
                        "timestamp": ts, "event_id": f"outage-{day}-{i}",
                        "end": pd.Timestamp(s + dur, unit="s", tz="UTC").tz_convert(TZ)
                        .isoformat(),
                        "feeder": f"feeder_current-{int(rec_rng.integers(1, 900)):04d}",
                        "municipio": muni,
                        "customers": int(np.clip(rec_rng.lognormal(np.log(250), 1.0), 1, 2e4)),
                        "cause": str(rec_rng.choice(["cable fault", "transformer failure",
                                                     "overload", "water ingress",
                                                     "third-party damage"]))})
                else:
                    rho = 7_000 * math.sqrt(rec_rng.random())
                    phi = 2 * math.pi * rec_rng.random()
                    lat = city.lat0 + math.degrees(rho * math.sin(phi) / 6_371_008.8)
                    lon = city.lon0 + math.degrees(rho * math.cos(phi) / (
                        6_371_008.8 * math.cos(math.radians(city.lat0))))
                    out.append({
                        "timestamp": ts, "event_id": f"incident-{day}-{i}",
                        "kind": str(rec_rng.choice(["accident", "breakdown", "road closure"],
                                                   p=[0.6, 0.3, 0.1])),
                        "severity": str(rec_rng.choice(["minor", "serious", "fatal"],
                                                       p=[0.8, 0.19, 0.01])),
                        "lat": round(lat, 6), "lon": round(lon, 6),
                        "municipio": self._municipio(lat, lon)})
        return out

    def _municipio(self, lat: float, lon: float) -> int | None:
        best: tuple[float, int | None] = (math.inf, None)
        for m in self.registry.areas:
            if m.kind == "municipio":
                d = float(haversine_m(lat, lon, m.lat, m.lon))
                if d <= m.radius_m and d < best[0]:
                    best = (d, m.municipio)
        return best[1]

    # ------------------------------------------------------------------ forecast
    def forecast(self, sensor_type: str, area: str | dict[str, Any], horizon: str,
                 start: str | None = None) -> dict[str, Any]:
        a = self._args("forecast", sensor_type=sensor_type, area=area, horizon=horizon,
                       start=start)
        card = self._card(a["sensor_type"])
        if card.id in EVENT_TYPES:
            raise InputError("sensor_type", card.id, "a type with values (event feeds cannot "
                             "be forecast: estimate them from get_readings)")
        seconds = _parse_duration(a["horizon"])
        issue = _parse_time(a["start"], "start") if "start" in a else pd.Timestamp.now("UTC")
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
        step = next(s for s in (600, 900, 1800, 3600, _DAY) if s >= card.sampling_period_s)
        per = _DAY // step
        n_steps = max(1, -(-seconds // step))
        origin = -(-int(issue.timestamp()) // step) * step
        hist_t = np.arange(origin - self.HISTORY_DAYS * _DAY, origin, step, dtype=np.int64)
        series = np.mean([self._values(r, card, hist_t)
                          for r in found.itertuples(index=False)], axis=0)
        lo_h = float(series.min())
        shift = 0.0 if lo_h > 0 else -lo_h + max(float(series.std()), 1.0)
        first = pd.Timestamp(int(hist_t[0]), unit="s", tz="UTC").tz_convert(TZ)
        phase0 = int((first.day_of_week * _DAY + first.hour * 3600 + first.minute * 60) // step)
        point, lower, upper = forecast_band(series + shift, n_steps, self.forecast_model,
                                            period=per, phase0=phase0)
        point, lower, upper = (np.asarray(v, dtype=np.float64) - shift
                               for v in (point, lower, upper))
        lo_b, hi_b = _bounds(card.id)
        times = origin + step * np.arange(n_steps)
        rows = []
        for ti, p, lo, hi in zip(times, point, lower, upper, strict=True):
            p_, lo_, hi_ = (float(np.clip(v, lo_b, hi_b)) for v in (p, lo, hi))
            rows.append({"timestamp": _iso(int(ti)), "value": round(p_, 4),
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


def _bounds(typ: str) -> tuple[float, float]:
    if typ == "air_temperature":
        return -15.0, 40.0
    if typ == "relative_humidity":
        return 0.0, 100.0
    if typ == "parking_occupancy":
        return 0.0, 100.0
    if typ in ("wind_direction",):
        return 0.0, 360.0
    if typ in ("public_transport_vehicle_location", "road_surface_condition",
               "overhead_line_condition", "transformer_temperature"):
        return -math.inf, math.inf
    return 0.0, math.inf


def _iso(t: int) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").tz_convert(TZ).isoformat()


def _aggregate(t: IntArray, v: FloatArray, s0: int, s1: int, aggregation: str,
               statistic: str) -> list[dict[str, Any]]:
    """``[{timestamp, value}]`` of the samples, raw or combined per local-time step."""
    if aggregation == "raw":
        return [{"timestamp": _iso(int(ti)), "value": float(vi)}
                for ti, vi in zip(t, v, strict=True)]
    if aggregation == "total":
        if statistic == "count":
            value: float | None = float(len(v))
        elif not len(v):
            value = None if statistic != "sum" else 0.0
        else:
            value = float(getattr(np, statistic)(v))
        return [{"timestamp": _iso(s0), "value": value}]
    idx = pd.to_datetime(t, unit="s", utc=True).tz_convert(TZ)
    s = pd.Series(v, index=idx, dtype=np.float64)
    res = getattr(s.resample(_AGG_FREQ[aggregation], label="left", closed="left"), statistic)()
    out = []
    for ts, val in res.items():
        if pd.isna(val):
            continue
        out.append({"timestamp": pd.Timestamp(ts).isoformat(), "value": float(val)})
    return out
