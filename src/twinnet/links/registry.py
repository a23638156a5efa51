"""The sensor registry of the LINKs smart city: concrete sensor instances placed over Milan.

Placement rule (deterministic for a ``seed``; each type has its own random stream, so adding
a type never moves the sensors of another):

* **Physical sensors** (every type with a density above 0.01/km² that is not a per-square
  virtual sensor): over the 9 Municipi, proportionally to their areas. Each Municipio is the
  circle of ``districts.json`` (same area as the Municipio; the 9 areas sum to the city's
  181.7 km²). The city-wide count ``round(density × 181.7 km²)`` is shared among the Municipi
  by largest remainder and every sensor is drawn uniformly inside its Municipio's circle. The
  named places outside the municipality (Fiera Milano Rho, Linate airport, Parco Nord) also get
  ``density × (their area outside every Municipio circle)`` sensors (stochastic rounding).
* **Virtual per-square sensors** (radar and cellular types, 18.1/km², one per 235 m square of
  the Telecom Italia grid): one instance per grid square whose centroid lies within the city
  circle (9 km around the city centroid) or within a named place; about 4 600 squares of the
  10 000 of the grid, so that the whole municipality and the places outside it are covered
  without carrying the rural edges of the grid.
* **City-wide feeds** (density 0.0055/km², one feed over 181.7 km²): one instance at the city
  centroid with a coverage radius equal to the city radius, so that a search in any area of
  the city finds it.

Every instance carries ``x_m``/``y_m``: local metric coordinates about the city centroid by the
equirectangular projection (``x = R·Δlon·cos lat₀``, ``y = R·Δlat``; error below 0.1 % over the
grid), its Municipio (the nearest Municipio centroid among the circles that contain it, else
``None``) and the Telecom Italia grid square that contains it (``None`` for feeds and points
off the grid). Instances are stored in the context store's ``sensors`` table; building again
replaces them, so it never duplicates.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from twinnet.datasets.milan import grid_centroids
from twinnet.errors import InputError
from twinnet.links.cards import Area, SensorCard, load_districts, load_sensor_cards
from twinnet.store.context import ContextStore

__all__ = [
    "CITY_AREA_KM2",
    "EARTH_RADIUS_M",
    "FEED_DENSITY_MAX",
    "SENSORS_DDL",
    "VIRTUAL_TYPES",
    "GridSquares",
    "SensorRegistry",
    "find_area",
    "haversine_m",
    "normalise_place",
    "place_sensors",
    "to_local_xy",
]

EARTH_RADIUS_M = 6_371_008.8
#: Area of the municipality of Milan (km²).
CITY_AREA_KM2 = 181.7
#: Types at or below this density are city-wide data feeds (one instance).
FEED_DENSITY_MAX = 0.01
#: Virtual sensors with one instance per 235 m grid square.
VIRTUAL_TYPES: frozenset[str] = frozenset({
    "radar_precipitation_intensity", "cell_internet_activity", "cell_sms_activity",
    "cell_call_activity"})
#: Half the diagonal of a 235 m square: farther from every centroid is off the grid.
_OFF_GRID_M = 170.0

SENSORS_DDL = """CREATE TABLE IF NOT EXISTS sensors (
    sensor_id VARCHAR PRIMARY KEY, sensor_type VARCHAR NOT NULL, field VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, lat DOUBLE NOT NULL, lon DOUBLE NOT NULL, x_m DOUBLE, y_m DOUBLE,
    municipio INTEGER, grid_square_id INTEGER, coverage_m DOUBLE, seed INTEGER)"""

_COLUMNS = ["sensor_id", "sensor_type", "field", "kind", "lat", "lon", "x_m", "y_m",
            "municipio", "grid_square_id", "coverage_m", "seed"]


# -------------------------------------------------------------------------------- geometry
def haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in metres (broadcasts over numpy arrays)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def to_local_xy(lat: Any, lon: Any, lat0: float, lon0: float) -> tuple[Any, Any]:
    """Equirectangular metric coordinates (x east, y north) about ``(lat0, lon0)``."""
    x = EARTH_RADIUS_M * np.radians(np.asarray(lon) - lon0) * np.cos(np.radians(lat0))
    y = EARTH_RADIUS_M * np.radians(np.asarray(lat) - lat0)
    return x, y


def _from_local_xy(x: Any, y: Any, lat0: float, lon0: float) -> tuple[Any, Any]:
    lat = lat0 + np.degrees(np.asarray(y) / EARTH_RADIUS_M)
    lon = lon0 + np.degrees(np.asarray(x) / (EARTH_RADIUS_M * np.cos(np.radians(lat0))))
    return lat, lon


class GridSquares:
    """The Telecom Italia Milan grid: 100×100 squares of about 235 m
    (:func:`twinnet.datasets.milan.grid_centroids`; ``path``: another copy of its file)."""

    def __init__(self, path: str | Path | None = None):
        df = grid_centroids(path)
        self.square_id = df.square_id.to_numpy(np.int64)
        self.lat = df.lat_centroid.to_numpy(np.float64)
        self.lon = df.lon_centroid.to_numpy(np.float64)
        self._lat0 = float(self.lat.mean())
        self._lon0 = float(self.lon.mean())
        x, y = to_local_xy(self.lat, self.lon, self._lat0, self._lon0)
        self._tree = cKDTree(np.column_stack([x, y]))

    def locate(self, lat: Any, lon: Any) -> np.ndarray:
        """Square id containing each point (nearest centroid), ``-1`` off the grid."""
        x, y = to_local_xy(lat, lon, self._lat0, self._lon0)
        d, i = self._tree.query(np.column_stack([np.ravel(x), np.ravel(y)]))
        return np.where(d <= _OFF_GRID_M, self.square_id[i], -1)


# -------------------------------------------------------------------------------- geocoding
def normalise_place(text: str) -> str:
    """Lower case, no accents, no punctuation, no leading article, single spaces."""
    s = unicodedata.normalize("NFKD", text)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    s = re.sub(r"^(the|il|la|lo|l)\s+", "", s)
    return s


def find_area(place: str, areas: Sequence[Area]) -> Area:
    """The area named ``place``: its id, name or an alias (case, accents, "the" ignored); else a
    neighbourhood listed for a Municipio, which resolves to that Municipio."""
    if not isinstance(place, str) or not place.strip():
        raise InputError("place_name", place, "a non-empty place name")
    key = normalise_place(place)
    for a in areas:
        names = [a.id.replace("_", " "), a.name, *a.aliases]
        if key in {normalise_place(n) for n in names}:
            return a
    for a in areas:
        if key in {normalise_place(n) for n in a.neighbourhoods}:
            return a
    known = ", ".join(a.name for a in areas[:12])
    raise InputError("place_name", place, f"a known place or district of Milan (e.g. {known})")


# -------------------------------------------------------------------------------- placement
def _stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    quota = total * weights / weights.sum()
    base = np.floor(quota).astype(np.int64)
    rest = int(total - base.sum())
    if rest > 0:
        order = np.argsort(-(quota - base), kind="stable")
        base[order[:rest]] += 1
    return base


def _in_disc(rng: np.random.Generator, n: int, r: float) -> tuple[np.ndarray, np.ndarray]:
    rho = r * np.sqrt(rng.random(n))
    phi = 2 * np.pi * rng.random(n)
    return rho * np.cos(phi), rho * np.sin(phi)


def _virtual_squares(grid: GridSquares, city: Area, places: Sequence[Area]) -> np.ndarray:
    keep = haversine_m(grid.lat, grid.lon, city.lat, city.lon) <= city.radius_m
    for a in places:
        keep |= haversine_m(grid.lat, grid.lon, a.lat, a.lon) <= a.radius_m
    return np.flatnonzero(keep)


def place_sensors(cards: Sequence[SensorCard], areas: Sequence[Area], grid: GridSquares,
                  seed: int = 0) -> pd.DataFrame:
    """Sensor instances of every card (see the module docstring for the rule)."""
    city = next((a for a in areas if a.kind == "city"), None)
    munis = sorted((a for a in areas if a.kind == "municipio"), key=lambda a: a.municipio or 0)
    if city is None or not munis:
        raise InputError("areas", [a.id for a in areas], "the city and its Municipi")
    places = [a for a in areas if a.kind == "place"]
    lat0, lon0 = city.lat, city.lon
    mx, my = to_local_xy(np.array([m.lat for m in munis]), np.array([m.lon for m in munis]),
                         lat0, lon0)
    mr = np.array([m.radius_m for m in munis])
    m_area = np.pi * (mr / 1000.0) ** 2
    outside = [p for p in places if p.municipio is None]
    vsq = _virtual_squares(grid, city, places)

    frames = []
    for card in cards:
        rng = _stream(seed, card.id)
        if card.id in VIRTUAL_TYPES:
            lat, lon = grid.lat[vsq], grid.lon[vsq]
            kind, cover = "virtual", 0.0
        elif card.typical_devices_per_km2 <= FEED_DENSITY_MAX:
            lat, lon = np.array([city.lat]), np.array([city.lon])
            kind, cover = "feed", city.radius_m
        else:
            kind, cover = "physical", 0.0
            counts = _largest_remainder(
                round(card.typical_devices_per_km2 * m_area.sum()), m_area)
            xs, ys = [], []
            for k, n in enumerate(counts):
                dx, dy = _in_disc(rng, int(n), mr[k])
                xs.append(mx[k] + dx)
                ys.append(my[k] + dy)
            for p in outside:
                px, py = to_local_xy(p.lat, p.lon, lat0, lon0)
                # draw candidates in the place's disc and keep those outside every Municipio:
                # the kept share estimates the area outside, so the count follows the density
                expected = card.typical_devices_per_km2 * np.pi * (p.radius_m / 1000.0) ** 2
                n_draw = int(np.floor(expected) + (rng.random() < expected % 1))
                dx, dy = _in_disc(rng, n_draw, p.radius_m)
                cx, cy = px + dx, py + dy
                inside = ((cx[:, None] - mx) ** 2 + (cy[:, None] - my) ** 2 <= mr ** 2).any(1)
                xs.append(cx[~inside])
                ys.append(cy[~inside])
            x, y = np.concatenate(xs), np.concatenate(ys)
            lat, lon = _from_local_xy(x, y, lat0, lon0)
        x, y = to_local_xy(lat, lon, lat0, lon0)
        n = len(lat)
        if kind == "virtual":
            sq = grid.square_id[vsq]
            ids = [f"{card.id}-sq{s:05d}" for s in sq]
        else:
            sq = grid.locate(lat, lon) if kind == "physical" else np.full(n, -1)
            width = max(4, len(str(n)))
            ids = [f"{card.id}-{i:0{width}d}" for i in range(1, n + 1)]
        d2 = (np.asarray(x)[:, None] - mx) ** 2 + (np.asarray(y)[:, None] - my) ** 2
        d2 = np.where(d2 <= mr ** 2, d2, np.inf)
        muni = np.where(np.isfinite(d2.min(axis=1)), d2.argmin(axis=1) + 1, -1)
        if kind == "feed":
            muni[:] = -1
        frames.append(pd.DataFrame({
            "sensor_id": ids, "sensor_type": card.id, "field": card.field, "kind": kind,
            "lat": lat, "lon": lon, "x_m": x, "y_m": y,
            "municipio": pd.array(np.where(muni > 0, muni, 0), dtype="Int64"),
            "grid_square_id": pd.array(sq, dtype="Int64"), "coverage_m": cover,
            "seed": int(seed)}))
        frames[-1].loc[muni <= 0, "municipio"] = pd.NA
        frames[-1].loc[np.asarray(sq) <= 0, "grid_square_id"] = pd.NA
    return pd.concat(frames, ignore_index=True)[_COLUMNS]


# -------------------------------------------------------------------------------- registry
class SensorRegistry:
    """The sensor instances of the smart city, kept in the context store's ``sensors`` table.

    >>> reg = SensorRegistry(ContextStore(":memory:"))
    >>> n = reg.build(seed=0)
    >>> reg.sensors("air_temperature", area="Navigli")        # doctest: +SKIP
    """

    def __init__(self, store: ContextStore, *, cards: Sequence[SensorCard] | None = None,
                 areas: Sequence[Area] | None = None, grid: GridSquares | None = None):
        self.store = store
        self.cards: dict[str, SensorCard] = {
            c.id: c for c in (cards if cards is not None else load_sensor_cards())}
        self.areas: list[Area] = list(areas if areas is not None else load_districts())
        self._grid = grid
        with store.transaction() as con:
            con.execute(SENSORS_DDL)

    @property
    def grid(self) -> GridSquares:
        if self._grid is None:
            self._grid = GridSquares()
        return self._grid

    @property
    def city(self) -> Area:
        return next(a for a in self.areas if a.kind == "city")

    def build(self, seed: int = 0) -> int:
        """Place every type's instances (replacing any earlier build); returns their number."""
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise InputError("seed", seed, "a non-negative integer")
        have = self.store.query("SELECT min(seed) AS lo, max(seed) AS hi, count(*) AS n "
                                "FROM sensors")
        df = place_sensors(list(self.cards.values()), self.areas, self.grid, seed)
        if int(have.n[0]) == len(df) and have.lo[0] == seed and have.hi[0] == seed:
            return len(df)  # this build is already stored
        with self.store.transaction() as con:
            con.execute("DROP TABLE IF EXISTS sensors")  # faster than deleting ~10⁶ rows
            con.execute(SENSORS_DDL)
            con.register("_sensors_new", df)
            try:
                con.execute("INSERT INTO sensors BY NAME SELECT * FROM _sensors_new")
            finally:
                con.unregister("_sensors_new")
        return len(df)

    def count(self) -> int:
        return int(self.store.query("SELECT count(*) AS n FROM sensors").n[0])

    def area(self, area: Area | str | tuple[float, float, float]) -> Area:
        """``area`` as an :class:`Area`: itself, a geocoded name, or ``(lat, lon, radius_m)``."""
        if isinstance(area, Area):
            return area
        if isinstance(area, str):
            return find_area(area, self.areas)
        try:
            lat, lon, radius = (float(v) for v in area)
        except (TypeError, ValueError) as exc:
            raise InputError("area", area, "an Area, a place name or (lat, lon, radius_m)") \
                from exc
        return Area(id="point", name=f"{lat:.5f},{lon:.5f}", kind="place", lat=lat, lon=lon,
                    radius_m=radius)

    def sensors(self, type: str | None = None,
                area: Area | str | tuple[float, float, float] | None = None) -> pd.DataFrame:
        """Registered instances, optionally of one ``type`` and within an ``area`` circle.

        A feed (``coverage_m`` > 0) is in an area when its coverage circle meets the area's.
        The result has a ``distance_m`` column (to the area's centroid) when ``area`` is given.
        """
        if type is not None and type not in self.cards:
            raise InputError("sensor_type", type, "a registered sensor type "
                             "(see list_sensor_types)")
        if type is None:
            df = self.store.query("SELECT * FROM sensors ORDER BY sensor_id")
        else:
            df = self.store.query("SELECT * FROM sensors WHERE sensor_type = ? "
                                  "ORDER BY sensor_id", [type])
        if area is None:
            return df
        a = self.area(area)
        d = haversine_m(df.lat.to_numpy(), df.lon.to_numpy(), a.lat, a.lon)
        keep = d <= a.radius_m + df.coverage_m.fillna(0.0).to_numpy()
        out = df.loc[keep].copy()
        out["distance_m"] = d[keep]
        return out.reset_index(drop=True)

    def get(self, sensor_ids: Sequence[str]) -> pd.DataFrame:
        """Rows of the given ids in the order given (unknown ids are left out)."""
        df = self.store.query("SELECT * FROM sensors WHERE list_contains(?, sensor_id)",
                              [list(sensor_ids)])
        order = {s: i for i, s in enumerate(sensor_ids)}
        return df.sort_values("sensor_id", key=lambda s: s.map(order)).reset_index(drop=True)
