"""The seeded physical models of the LINKs city: weather, rain storms, load and traffic
profiles, the value model of every sensor type and the event feeds.

Nothing is stored: every series is a deterministic function of (sensor id, time stamp, city
seed), built from the hashed streams of :mod:`twinnet.links.hashing` and from per-day random
generators seeded with (seed, stream, day), so the same request always returns the same data
and any window (including overlapping ones) is consistent.

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
  readings are the event records.

:data:`SENSOR_MODELS` maps each sensor type to its value model (a function of
:class:`Samples`); :func:`sensor_values` falls back to a flat positive series with noise for a
type added to the cards without a model. The cellular types are the measured Telecom Italia
series (:mod:`twinnet.links.telecom`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

from twinnet.links.cards import Area
from twinnet.links.hashing import FloatArray, IntArray, key, normal, smooth, uniform
from twinnet.links.registry import EARTH_RADIUS_M, haversine_m

__all__ = ["DAY_S", "EVENT_FEEDS", "EVENT_TYPES", "LAT_MILAN", "SENSOR_MODELS", "TZ", "City",
           "Clock", "EventFeed", "Samples", "event_records", "gauss", "local_iso",
           "sensor_values", "value_bounds"]

#: Local time of the city: time stamps without an offset are read in it.
TZ = "Europe/Rome"
LAT_MILAN = 45.466
DAY_S = 86_400


def local_iso(t: int) -> str:
    """ISO 8601 local time (with its offset) of UTC epoch second ``t``."""
    return pd.Timestamp(t, unit="s", tz="UTC").tz_convert(TZ).isoformat()


def gauss(h: FloatArray, mu: float, sd: float) -> FloatArray:
    """A Gaussian bump of width ``sd`` hours at hour ``mu``, periodic over the day."""
    d = (h - mu + 12) % 24 - 12
    return np.exp(-0.5 * (d / sd) ** 2)


class Clock:
    """Local-time features of UTC epoch seconds."""

    def __init__(self, t: IntArray):
        self.t = t
        idx = pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True)).tz_convert(TZ)
        self.hour = (idx.hour + idx.minute / 60 + idx.second / 3600).to_numpy(np.float64)
        self.dow = idx.day_of_week.to_numpy(np.int64)
        self.doy = idx.day_of_year.to_numpy(np.float64)
        self.weekend = self.dow >= 5


# ====================================================================== the city
class City:
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
            start = day * DAY_S + rng.random(n) * DAY_S
            dur = np.clip(rng.exponential(6 * 3600, n), 1800, DAY_S)
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
        for day in range(int(t.min()) // DAY_S - 1, int(t.max()) // DAY_S + 1):
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
        g0 = (int(t.min()) - int(6 * tau_s)) // DAY_S * DAY_S
        grid = np.arange(g0, int(t.max()) + step, step, dtype=np.int64)
        depth = self.rain(grid, x, y) * step / 3600
        resp = lfilter([1.0], [1.0, -math.exp(-step / tau_s)], depth)
        return np.interp(t, grid, resp)

    # -- weather ------------------------------------------------------------------------
    @staticmethod
    def seasonal_mean(doy: FloatArray) -> FloatArray:
        return 13.5 - 11.0 * np.cos(2 * np.pi * (doy - 20) / 365.25)

    def solar_elevation(self, c: Clock) -> FloatArray:
        dec = np.radians(23.44) * np.sin(2 * np.pi * (284 + c.doy) / 365.25)
        solar_h = (c.t % DAY_S) / 3600 + self.lon0 / 15
        ha = np.radians(15 * (solar_h - 12))
        lat = np.radians(LAT_MILAN)
        return np.arcsin(np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(ha))

    def cloud(self, c: Clock, wet: FloatArray) -> FloatArray:
        base = 0.45 + 0.3 * smooth(key(self.seed, "cloud"), c.t, 6 * 3600)
        return np.clip(base + 0.6 * np.minimum(wet, 1.0), 0.0, 1.0)

    def irradiance(self, c: Clock, wet: FloatArray) -> FloatArray:
        sin_e = np.maximum(np.sin(self.solar_elevation(c)), 0.0)
        return 1050 * sin_e**1.15 * (1 - 0.75 * self.cloud(c, wet))

    def temperature(self, c: Clock, x: float, y: float, wet: FloatArray,
                    sensor_key: int) -> FloatArray:
        ts = self.seasonal_mean(c.doy)
        amp = 4.5 + 1.5 * np.sin(2 * np.pi * (c.doy - 100) / 365.25)
        diurnal = amp * np.cos(2 * np.pi * (c.hour - 15) / 24) * (1 - 0.5 * self.cloud(c, wet))
        synoptic = 3.0 * smooth(key(self.seed, "temperature"), c.t, 36 * 3600)
        uhi = 1.0 * math.exp(-math.hypot(x, y) / 5_000)
        offset = 0.4 * float(normal(sensor_key, [0])[0])
        noise = 0.15 * normal(sensor_key, c.t // 60)
        temp = ts + diurnal + synoptic + uhi + offset + noise - 2.0 * np.minimum(wet, 1.0)
        return np.clip(temp, -15.0, 40.0)

    # -- profiles -----------------------------------------------------------------------
    @staticmethod
    def traffic(c: Clock) -> FloatArray:
        """Relative road traffic 0..1: rush hours on weekdays, a broad midday hump at weekends."""
        h = c.hour
        weekday = 0.12 + 0.45 * gauss(h, 13, 5) + 0.5 * gauss(h, 8.2, 1.2) \
            + 0.45 * gauss(h, 18.0, 1.6)
        weekend = 0.10 + 0.55 * gauss(h, 15, 4.0)
        return np.clip(np.where(c.weekend, weekend, weekday), 0.0, 1.0)

    @staticmethod
    def household_kw(c: Clock) -> FloatArray:
        h = c.hour
        morning = np.where(c.weekend, gauss(h, 9.5, 1.8), gauss(h, 7.3, 1.0))
        day = np.where(c.weekend, 0.25 * gauss(h, 13, 3), 0.08 * gauss(h, 13, 3))
        return 0.22 + 0.35 * morning + day + 0.75 * gauss(h, 20.3, 2.0)

    @staticmethod
    def office(c: Clock) -> FloatArray:
        h = c.hour
        open_ = 1 / (1 + np.exp(-(h - 8.0) * 2)) * 1 / (1 + np.exp((h - 19.0) * 2))
        return np.where(c.weekend, 0.35 * open_, open_)


# ====================================================================== sensor value models
class Samples:
    """The sample times ``t`` of one sensor at ``(x, y)`` (metres about the centroid) and the
    quantities its value model draws on, each computed once when first used."""

    def __init__(self, city: City, sensor_id: str, x: float, y: float, period_s: float,
                 t: IntArray):
        self.city, self.sensor_id, self.x, self.y, self.t = city, sensor_id, x, y, t
        self.period_s = period_s
        self.seed = city.seed
        #: the sensor's own stream (its noise and, for air temperature, its offset)
        self.key = key(city.seed, sensor_id)

    @cached_property
    def clock(self) -> Clock:
        return Clock(self.t)

    @cached_property
    def size(self) -> np.float64:
        """The sensor's own scale in [0, 1)."""
        return uniform(key(self.sensor_id, "size"), [0])[0]

    @cached_property
    def z(self) -> FloatArray:
        """Standard normal noise, one draw per sampling period (at least a minute)."""
        return normal(self.key, self.t // max(60, round(self.period_s)))

    @cached_property
    def rain(self) -> FloatArray:
        return self.city.rain(self.t, self.x, self.y)

    @cached_property
    def wet(self) -> FloatArray:
        return np.minimum(self.rain, 1.0)

    @cached_property
    def air(self) -> FloatArray:
        """Air temperature at the sensor's point (the city's field, not a sensor's noise)."""
        return self.city.temperature(self.clock, self.x, self.y, self.wet,
                                     key(self.seed, "air", round(self.x), round(self.y)))

    @cached_property
    def winter(self) -> FloatArray:
        return np.cos(2 * np.pi * (self.clock.doy - 15) / 365.25)

    @cached_property
    def traffic(self) -> FloatArray:
        return self.city.traffic(self.clock)

    @cached_property
    def load(self) -> FloatArray:
        """Relative electric load: homes and offices, more when hot or cold."""
        c, air = self.clock, self.air
        load = 0.55 * self.city.household_kw(c) / 1.2 + 0.45 * self.city.office(c)
        return load * (1 + 0.025 * np.maximum(air - 24, 0) + 0.01 * np.maximum(12 - air, 0))

    @cached_property
    def irradiance(self) -> FloatArray:
        return self.city.irradiance(self.clock, self.wet)

    @cached_property
    def daytime(self) -> FloatArray:
        """People out and about: a midday and an early-evening peak."""
        h = self.clock.hour
        return np.clip(gauss(h, 13, 2.5) + 0.8 * gauss(h, 18.5, 1.5), 0, 1.5)

    def wind(self) -> FloatArray:
        return 2.2 * np.exp(0.35 * smooth(key(self.seed, "wind"), self.t, 8 * 3600))

    def energy(self, kw: FloatArray) -> FloatArray:
        """Energy (kWh) of a sampling period at power ``kw``, to the meter's 4 decimals."""
        return np.round(kw * self.period_s / 3600, 4)


Model = Callable[[Samples], FloatArray]


# -- weather ------------------------------------------------------------------------------
def _air_temperature(s: Samples) -> FloatArray:
    return s.city.temperature(s.clock, s.x, s.y, s.wet, s.key)


def _relative_humidity(s: Samples) -> FloatArray:
    ts = s.city.seasonal_mean(s.clock.doy)
    rh = 72 - 3.0 * (s.air - ts) + 18 * s.wet + 4 * smooth(key(s.seed, "rh"), s.t,
                                                           12 * 3600) + 1.5 * s.z
    return np.clip(rh, 8.0, 100.0)


def _rain_gauge(s: Samples) -> FloatArray:
    return np.round(s.rain * s.period_s / 3600, 2)


def _radar(s: Samples) -> FloatArray:
    v = s.rain * (1 + 0.15 * np.clip(s.z, -3, 3))
    return np.where(v < 0.05, 0.0, np.round(v, 2))


def _wind_speed(s: Samples) -> FloatArray:
    return np.maximum(s.wind() + 3 * s.wet + 0.4 * s.z, 0.0)


def _wind_direction(s: Samples) -> FloatArray:
    return (240 + 70 * smooth(key(s.seed, "wdir"), s.t, 10 * 3600) + 8 * s.z) % 360


def _pressure(s: Samples) -> FloatArray:
    return 1016 + 7 * smooth(key(s.seed, "p"), s.t, 72 * 3600) - 5 * s.wet + 0.2 * s.z


def _solar_irradiance(s: Samples) -> FloatArray:
    return np.maximum(s.irradiance * (1 + 0.03 * s.z), 0.0)


def _water_level(s: Samples) -> FloatArray:
    resp = s.city.rain_response(s.t, s.x, s.y, 10 * 3600)
    return 0.6 + 1.2 * s.size + 0.05 * resp + 0.005 * s.z


def _soil_moisture(s: Samples) -> FloatArray:
    resp = s.city.rain_response(s.t, s.x, s.y, 48 * 3600)
    summer = np.sin(2 * np.pi * (s.clock.doy - 100) / 365.25)
    return np.clip(24 - 6 * summer + 0.35 * resp + 0.3 * s.z, 5.0, 48.0)


def _pm25(s: Samples) -> FloatArray:
    base = (24 + 18 * s.winter) * (0.8 + 0.4 * s.traffic)
    v = base * np.exp(0.35 * smooth(key(s.seed, "pm"), s.t, 24 * 3600))
    return np.maximum(v * (1 - 0.5 * s.wet) + 2 * s.z, 1.0)


def _no2(s: Samples) -> FloatArray:
    return np.maximum((25 + 12 * s.winter) + 45 * s.traffic * (0.6 + 0.8 * s.size) + 5 * s.z,
                      2.0)


def _noise_level(s: Samples) -> FloatArray:
    return 48 + 8 * s.size + 16 * s.traffic + 2.5 * s.z


# -- energy -------------------------------------------------------------------------------
def _feeder_current(s: Samples) -> FloatArray:
    return np.maximum((200 + 200 * s.size) * s.load * (1 + 0.03 * s.z), 0.0)


def _substation_voltage(s: Samples) -> FloatArray:
    nominal = 20_000.0 if s.size < 0.3 else 400.0
    return nominal * (1.01 - 0.035 * s.load + 0.003 * s.z)


def _grid_frequency(s: Samples) -> FloatArray:
    return 50 + 0.02 * smooth(key(s.seed, "f"), s.t, 90) + 0.002 * s.z


def _pv_inverter(s: Samples) -> FloatArray:
    cap = 3 + 57 * s.size**2
    ghi = s.irradiance
    return np.maximum(cap * ghi / 1000 * 0.82 * (1 - 0.004 * (s.air + ghi / 40 - 25)), 0)


def _residential_meter(s: Samples) -> FloatArray:
    kw = s.city.household_kw(s.clock) * (0.6 + 0.8 * s.size) * (
        1 + 0.04 * np.maximum(s.air - 24, 0)) * np.exp(0.25 * s.z)
    return s.energy(kw)


def _commercial_meter(s: Samples) -> FloatArray:
    kw = (5 + 60 * s.size**2) * (0.2 + 0.8 * s.city.office(s.clock)) * (
        1 + 0.03 * np.maximum(s.air - 22, 0)) * (1 + 0.05 * s.z)
    return s.energy(np.maximum(kw, 0))


def _leakage_current(s: Samples) -> FloatArray:
    wetness = s.city.rain_response(s.t, s.x, s.y, 12 * 3600)
    spikes = np.where(uniform(s.key ^ 1, s.t // 3600) > 0.998, 30.0, 0.0)
    return np.maximum(1 + 4 * s.size + 1.5 * wetness + spikes + 0.3 * s.z, 0.0)


def _overhead_line(s: Samples) -> FloatArray:
    return s.air + 18 * s.load + 0.012 * s.irradiance - 1.2 * s.wind() + 0.3 * s.z


def _transformer_temperature(s: Samples) -> FloatArray:
    return s.air + 15 + 38 * s.load**2 + 0.5 * s.z


def _ev_sessions(s: Samples) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """(probability a charger is busy, the half-hour session draw, the days out of order)."""
    c = s.clock
    p_busy = 0.15 + 0.45 * np.clip(0.6 * s.city.office(c) + 0.5 * gauss(c.hour, 20, 2.5), 0, 1)
    u = uniform(key(s.sensor_id, "session"), s.t // 1800)
    broken = uniform(key(s.sensor_id, "fault"), s.t // DAY_S) > 0.985
    return p_busy, u, broken


def _ev_charger_power(s: Samples) -> FloatArray:
    p_busy, u, broken = _ev_sessions(s)
    rated = 11.0 if s.size < 0.5 else (22.0 if s.size < 0.85 else 50.0)
    return np.where((u < p_busy) & ~broken, rated * (0.55 + 0.45 * u / p_busy), 0.0)


def _ev_charger_occupancy(s: Samples) -> FloatArray:
    """Status codes: 0 available, 1 charging/occupied, 2 reserved, 3 out of service."""
    p_busy, u, broken = _ev_sessions(s)
    code = np.where(u < p_busy, 1.0, np.where(u < p_busy + 0.03, 2.0, 0.0))
    return np.where(broken, 3.0, code)


def _day_ahead_price(s: Samples) -> FloatArray:
    c = s.clock
    day_noise = 15 * smooth(key(s.seed, "price"), s.t, DAY_S)
    shape = 0.8 * gauss(c.hour, 9, 1.5) + gauss(c.hour, 19.5, 1.8) - 0.3 * gauss(
        c.hour, 14, 2) * (s.irradiance > 300)
    return np.round(np.maximum(105 + 35 * shape + day_noise - 15 * c.weekend
                               + 10 * s.winter, 5.0), 2)


def _street_lighting(s: Samples) -> FloatArray:
    c = s.clock
    night = s.city.solar_elevation(c) < np.radians(-3)
    lamp = 60 + 80 * s.size
    dim = np.where((c.hour >= 0) & (c.hour < 5), 0.5, 1.0)
    faulty = uniform(key(s.sensor_id, "fault"), s.t // DAY_S) > 0.99
    return np.where(night & ~faulty, lamp * dim, 0.0)


# -- transport and Wi-Fi -------------------------------------------------------------------
def _traffic_flow(s: Samples) -> FloatArray:
    return np.maximum((600 + 1600 * s.size) * s.traffic * (1 + 0.1 * s.wet) * (1 + 0.08 * s.z),
                      0.0)


def _traffic_speed(s: Samples) -> FloatArray:
    free = 30 + 40 * s.size
    return np.maximum(free * (1 - 0.55 * s.traffic**2) * (1 - 0.12 * s.wet) + 2 * s.z, 3.0)


def _parking_occupancy(s: Samples) -> FloatArray:
    occ = 30 + 55 * (0.6 * s.city.office(s.clock) + 0.4 * gauss(s.clock.hour, 21, 3)) + 4 * s.z
    return np.clip(occ, 0.0, 100.0)


def _public_transport_delay(s: Samples) -> FloatArray:
    return 20 + 200 * s.traffic + 90 * s.wet + 45 * s.z  # delay against the timetable (s)


def _road_surface(s: Samples) -> FloatArray:
    return s.air + 0.012 * s.irradiance - 1.2 * (1 - s.wet) * (
        s.city.solar_elevation(s.clock) < 0) - 1.0 * s.wet + 0.2 * s.z


def _pedestrian_count(s: Samples) -> FloatArray:
    scale = (50 + 400 * s.size) * np.where(s.clock.weekend, 1.3, 1.0)
    count = np.maximum(scale * s.daytime * (1 - 0.5 * s.wet) * np.exp(0.15 * s.z), 0)
    return np.asarray(np.round(count), dtype=np.float64)


def _bike_sharing(s: Samples) -> FloatArray:
    docks = 15 + round(25 * s.size)
    return np.round(np.clip(docks * (0.55 + 0.3 * np.sin(
        2 * np.pi * (s.clock.hour - 10) / 24)) + 2 * s.z, 0, docks))


def _public_wifi(s: Samples) -> FloatArray:
    count = np.maximum((5 + 55 * s.size) * (0.1 + s.daytime) * np.exp(0.2 * s.z), 0)
    return np.asarray(np.round(count), dtype=np.float64)


def _flat(s: Samples) -> FloatArray:
    """A type added to the cards without a model: a flat positive series with noise."""
    return np.maximum(1 + 0.1 * s.z, 0.0)


#: The value model of every sensor type with values (the cellular types excepted).
SENSOR_MODELS: dict[str, Model] = {
    "air_temperature": _air_temperature,
    "relative_humidity": _relative_humidity,
    "rain_gauge_precipitation": _rain_gauge,
    "radar_precipitation_intensity": _radar,
    "wind_speed": _wind_speed,
    "wind_direction": _wind_direction,
    "atmospheric_pressure": _pressure,
    "solar_irradiance": _solar_irradiance,
    "water_level": _water_level,
    "soil_moisture": _soil_moisture,
    "pm25_concentration": _pm25,
    "no2_concentration": _no2,
    "noise_level": _noise_level,
    "feeder_current": _feeder_current,
    "substation_voltage": _substation_voltage,
    "grid_frequency": _grid_frequency,
    "pv_inverter_output": _pv_inverter,
    "residential_smart_meter": _residential_meter,
    "commercial_smart_meter": _commercial_meter,
    "leakage_current": _leakage_current,
    "overhead_line_condition": _overhead_line,
    "transformer_temperature": _transformer_temperature,
    "ev_charger_occupancy": _ev_charger_occupancy,
    "ev_charger_power": _ev_charger_power,
    "day_ahead_electricity_price": _day_ahead_price,
    "street_lighting_status": _street_lighting,
    "traffic_flow": _traffic_flow,
    "traffic_speed": _traffic_speed,
    "parking_occupancy": _parking_occupancy,
    "public_transport_vehicle_location": _public_transport_delay,
    "road_surface_condition": _road_surface,
    "pedestrian_count": _pedestrian_count,
    "bike_sharing_availability": _bike_sharing,
    "public_wifi_sessions": _public_wifi,
}


def sensor_values(city: City, sensor_type: str, sensor_id: str, x: float, y: float,
                  period_s: float, t: IntArray) -> FloatArray:
    """The series of one sensor of ``sensor_type`` at ``(x, y)`` at UTC epoch seconds ``t``."""
    if not len(t):
        return np.zeros(0)
    model = SENSOR_MODELS.get(sensor_type, _flat)
    return model(Samples(city, sensor_id, x, y, period_s, t))


_BOUNDS: dict[str, tuple[float, float]] = {
    "air_temperature": (-15.0, 40.0),
    "relative_humidity": (0.0, 100.0),
    "parking_occupancy": (0.0, 100.0),
    "wind_direction": (0.0, 360.0),
    "public_transport_vehicle_location": (-math.inf, math.inf),
    "road_surface_condition": (-math.inf, math.inf),
    "overhead_line_condition": (-math.inf, math.inf),
    "transformer_temperature": (-math.inf, math.inf),
}


def value_bounds(sensor_type: str) -> tuple[float, float]:
    """The range a value of ``sensor_type`` can take (non-negative unless listed)."""
    return _BOUNDS.get(sensor_type, (0.0, math.inf))


# ====================================================================== event feeds
@dataclass(frozen=True)
class EventFeed:
    """A seeded Poisson feed: ``starts`` draws a day's event times (UTC epoch seconds) from the
    day's generator, ``record`` makes one event's record from its own generator."""

    stream: int
    starts: Callable[[City, np.random.Generator, int, Clock, float], Any]
    record: Callable[[City, np.random.Generator, int, int, int, Sequence[Area]],
                     dict[str, Any]]


def _outage_starts(city: City, rng: np.random.Generator, day: int, c: Clock,
                   rain_mm: float) -> Any:
    hot = float(city.temperature(c, 0, 0, np.zeros(24), 0).max()) > 30
    n = rng.poisson(0.6 + 0.8 * hot + 0.8 * (rain_mm > 10))
    return day * DAY_S + rng.random(n) * DAY_S


def _incident_starts(city: City, rng: np.random.Generator, day: int, c: Clock,
                     rain_mm: float) -> Any:
    weights = city.traffic(c) + 1e-3
    n = rng.poisson(20 * (1 + 0.5 * min(rain_mm / 10, 1)))
    return day * DAY_S + (rng.choice(24, n, p=weights / weights.sum()) + rng.random(n)) * 3600


def _municipio(lat: float, lon: float, areas: Sequence[Area]) -> int | None:
    """The Municipio whose circle holds the point and whose centroid is nearest, if any."""
    best: tuple[float, int | None] = (math.inf, None)
    for m in areas:
        if m.kind == "municipio":
            d = float(haversine_m(lat, lon, m.lat, m.lon))
            if d <= m.radius_m and d < best[0]:
                best = (d, m.municipio)
    return best[1]


def _outage(city: City, rng: np.random.Generator, day: int, i: int, s: int,
            areas: Sequence[Area]) -> dict[str, Any]:
    muni = int(rng.integers(1, 10))
    dur = int(np.clip(rng.lognormal(np.log(2400), 0.9), 180, 12 * 3600))
    return {
        "timestamp": local_iso(s), "event_id": f"outage-{day}-{i}", "end": local_iso(s + dur),
        "feeder": f"feeder_current-{int(rng.integers(1, 900)):04d}",
        "municipio": muni,
        "customers": int(np.clip(rng.lognormal(np.log(250), 1.0), 1, 2e4)),
        "cause": str(rng.choice(["cable fault", "transformer failure", "overload",
                                 "water ingress", "third-party damage"]))}


def _incident(city: City, rng: np.random.Generator, day: int, i: int, s: int,
              areas: Sequence[Area]) -> dict[str, Any]:
    rng.integers(1, 10)  # the draw an outage spends on its Municipio keeps the streams aligned
    rho = 7_000 * math.sqrt(rng.random())
    phi = 2 * math.pi * rng.random()
    lat = city.lat0 + math.degrees(rho * math.sin(phi) / EARTH_RADIUS_M)
    lon = city.lon0 + math.degrees(rho * math.cos(phi) / (
        EARTH_RADIUS_M * math.cos(math.radians(city.lat0))))
    return {
        "timestamp": local_iso(s), "event_id": f"incident-{day}-{i}",
        "kind": str(rng.choice(["accident", "breakdown", "road closure"], p=[0.6, 0.3, 0.1])),
        "severity": str(rng.choice(["minor", "serious", "fatal"], p=[0.8, 0.19, 0.01])),
        "lat": round(lat, 6), "lon": round(lon, 6), "municipio": _municipio(lat, lon, areas)}


EVENT_FEEDS: dict[str, EventFeed] = {
    "power_outage_log": EventFeed(11, _outage_starts, _outage),
    "traffic_incident_report": EventFeed(13, _incident_starts, _incident),
}
#: The sensor types whose readings are event records, not values.
EVENT_TYPES: frozenset[str] = frozenset(EVENT_FEEDS)


def event_records(city: City, sensor_type: str, s0: int, s1: int,
                  areas: Sequence[Area]) -> list[dict[str, Any]]:
    """The events of the feed ``sensor_type`` starting in ``[s0, s1)`` (UTC epoch seconds), in
    time order within each day; ``areas`` give the Municipio of an incident's place."""
    feed = EVENT_FEEDS[sensor_type]
    out: list[dict[str, Any]] = []
    for day in range(s0 // DAY_S, (s1 - 1) // DAY_S + 1):
        rng = np.random.default_rng([city.seed, feed.stream, day + 1_000_000])
        hours = np.arange(day * DAY_S, (day + 1) * DAY_S, 3600, dtype=np.int64)
        rain_mm = float(city.rain(hours, 0.0, 0.0).sum())
        starts = feed.starts(city, rng, day, Clock(hours), rain_mm)
        for i in np.argsort(starts, kind="stable"):
            s = int(starts[i])
            if s0 <= s < s1:
                out.append(feed.record(city, np.random.default_rng([city.seed, s, int(i)]),
                                       day, int(i), s, areas))
    return out
