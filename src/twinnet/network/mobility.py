"""Mobility models: how the users of one group move between two ticks of the clock.

Four models, configured by :class:`twinnet.scenario.Mobility`:

* **static** — nothing moves.
* **random waypoint** (Johnson & Maltz, "Dynamic Source Routing in Ad Hoc Wireless Networks",
  1996; the model as analysed by Bettstetter, Resta & Santi, "The Node Distribution of the
  Random Waypoint Mobility Model for Wireless Ad Hoc Networks", IEEE TMC 2003): a user walks in
  a straight line at a speed drawn per leg, uniform in ``speed_mps``, to a waypoint drawn
  uniformly in the network area, pauses a time drawn uniformly in ``pause_s`` and starts the
  next leg. Indoor users draw their waypoints uniformly in the disc of ``indoor_radius_m``
  around where they were dropped (their building; clipped to the area where the disc crosses
  its edge), so they never leave it. Every user starts its first leg at t = 0 from where it
  was dropped. As Yoon, Liu & Noble show ("Random Waypoint Considered Harmful", INFOCOM 2003),
  a speed range that reaches 0 m/s makes the mean leg time diverge: users with a speed drawn
  close to 0 crawl for a very long time.
* **vehicles** — a Manhattan grid model (as in Bai, Sadagopan & Helmy, "IMPORTANT: A
  framework to systematically analyze the Impact of Mobility on Performance of RouTing
  protocols for Adhoc NeTworks", INFOCOM 2003, and the urban test environment of ETSI
  TR 101 112, "Selection procedures for the choice of radio transmission technologies of the
  UMTS", Annex B, which go straight on with probability 1/2; here the three choices are
  equally likely): roads run along ``x = x₀ + k·s`` and ``y = y₀ + k·s`` with
  ``s = road_spacing_m``, anchored at the lower-left corner ``(x₀, y₀)`` of the network area,
  as far as the area reaches. At t = 0 every car is snapped to the nearest road point and
  heads either way along its road; it drives at a speed drawn per car, uniform in
  ``speed_mps``, and at each intersection goes straight, turns left or turns right with equal
  probability among the roads that exist there (no U-turn; at the grid's edge a road that
  would leave the area is not a choice, so the car turns back onto the grid; a U-turn happens
  only at the dead end of a grid that is a single road).
* **trajectory** — positions read from a file and linearly interpolated in time: a CSV with
  columns ``user, t_s, x_m, y_m`` (the k-th distinct ``user`` id, in order of first
  appearance, drives the group's k-th user) or a GPX 1.1 file (Topografix, "GPX: the GPS
  Exchange Format"), where each ``<trk>`` is one user and its ``<trkpt lat lon><time>`` points are
  projected to metres by the equirectangular projection about the mean of all the file's points
  (``x = R·Δλ·cos φ₀``, ``y = R·Δφ``, R the mean Earth radius), times counted from the file's
  earliest point. Before its first point a user stands at the first point, after its last at
  the last; users of the group beyond the file's tracks are static.

Arrays: ``x_m``, ``y_m`` ``[U]`` are the positions of *all* users of the network [m]; a model
holds the global indices ``users [n]`` of its group's users and its own per-user state
(``[n]`` arrays: O(users) memory, nothing per step). :meth:`MobilityModel.advance` moves the
group's users from ``t_s`` to ``t_s + dt_s`` in place, vectorised over users: one compiled
(Numba) pass per call, which carries a user through as many waypoints, pauses or
intersections as the step holds (steps go up to an hour). Random numbers come from the
``numpy.random.Generator`` given to :func:`make_mobility`, consumed in a fixed order, so the
same seed gives the same paths; for one user, one long step and many short ones consume the
same draws in the same order and reach the same place.
"""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from twinnet.errors import InputError, ScenarioError
from twinnet.scenario import Mobility

__all__ = [
    "EARTH_RADIUS_M",
    "ManhattanVehicles",
    "MobilityModel",
    "RandomWaypoint",
    "StaticMobility",
    "Trajectory",
    "TrajectoryData",
    "make_mobility",
    "read_trajectories",
]

#: mean Earth radius [m] (IUGG), used by the equirectangular projection of GPX tracks
EARTH_RADIUS_M = 6_371_008.8

Bounds = tuple[float, float, float, float]


class MobilityModel(ABC):
    """Moves the users of one group (global indices ``users [n]``)."""

    users: NDArray[np.int64]

    @abstractmethod
    def advance(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], t_s: float,
                dt_s: float) -> None:
        """Move the group's users from time ``t_s`` to ``t_s + dt_s`` [s]: update
        ``x_m[users]``, ``y_m[users]`` [m] (arrays ``[U]`` of all users) in place; other users
        are untouched."""

    @property
    @abstractmethod
    def max_speed_mps(self) -> float:
        """The fastest any user of the group moves [m/s]; 0 for static users."""


def _check_step(t_s: float, dt_s: float) -> None:
    if not math.isfinite(t_s):
        raise InputError("t_s", t_s, "a finite time [s]")
    if not (math.isfinite(dt_s) and dt_s >= 0.0):
        raise InputError("dt_s", dt_s, "a finite step >= 0 s")


# ============================================================================ static
class StaticMobility(MobilityModel):
    """Users that stay where they are."""

    def __init__(self, users: NDArray[np.int64]):
        self.users = users

    def advance(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], t_s: float,
                dt_s: float) -> None:
        _check_step(t_s, dt_s)

    @property
    def max_speed_mps(self) -> float:
        return 0.0


# ============================================================================ random waypoint
@njit(cache=True, inline="always")
def _draw_waypoint(i, indoor, cx, cy, radius, x_lo, y_lo, x_hi, y_hi, rng):
    """A waypoint for local user ``i``: uniform in the area, or in its building's disc
    (clipped to the area)."""
    if indoor[i]:
        r = radius * math.sqrt(rng.random())
        a = 2.0 * math.pi * rng.random()
        wx = min(max(cx[i] + r * math.cos(a), x_lo), x_hi)
        wy = min(max(cy[i] + r * math.sin(a), y_lo), y_hi)
        return wx, wy
    return x_lo + (x_hi - x_lo) * rng.random(), y_lo + (y_hi - y_lo) * rng.random()


@njit(cache=True)
def _rwp_start(indoor, cx, cy, radius, x_lo, y_lo, x_hi, y_hi, v_lo, v_hi,
               tx, ty, speed, rng):
    """The first leg of every user: a waypoint and a speed."""
    for i in range(tx.shape[0]):
        tx[i], ty[i] = _draw_waypoint(i, indoor, cx, cy, radius, x_lo, y_lo, x_hi, y_hi, rng)
        speed[i] = v_lo + (v_hi - v_lo) * rng.random()


@njit(cache=True)
def _rwp_advance(x_m, y_m, users, tx, ty, speed, pause_left, paused, arrivals,
                 indoor, cx, cy, radius, x_lo, y_lo, x_hi, y_hi, v_lo, v_hi, p_lo, p_hi,
                 dt, rng):
    """Carry every user ``dt`` seconds through its legs and pauses (as many as fit)."""
    for i in range(users.shape[0]):
        u = users[i]
        x = x_m[u]
        y = y_m[u]
        left = dt
        while left > 0.0:
            if paused[i]:
                if pause_left[i] > left:
                    pause_left[i] -= left
                    break
                left -= pause_left[i]
                pause_left[i] = 0.0
                paused[i] = False
                tx[i], ty[i] = _draw_waypoint(i, indoor, cx, cy, radius, x_lo, y_lo, x_hi,
                                              y_hi, rng)
                speed[i] = v_lo + (v_hi - v_lo) * rng.random()
                continue
            dx = tx[i] - x
            dy = ty[i] - y
            d = math.sqrt(dx * dx + dy * dy)
            v = speed[i]
            if d > 0.0 and v * left < d:
                if v > 0.0:
                    f = v * left / d
                    x += dx * f
                    y += dy * f
                break
            # arrives within the step: pause there
            left -= d / v if d > 0.0 else 0.0
            x = tx[i]
            y = ty[i]
            arrivals[i] += 1
            paused[i] = True
            pause_left[i] = p_lo + (p_hi - p_lo) * rng.random()
            if d == 0.0 and pause_left[i] == 0.0:
                break  # a degenerate area (a point) with no pause: nowhere to go this step
        x_m[u] = x
        y_m[u] = y


class RandomWaypoint(MobilityModel):
    """Pedestrians on the random waypoint model (indoor users inside their building's disc).

    Per-user state ``[n]``: the current waypoint ``target_x_m``/``target_y_m``, the leg's
    ``speed_mps``, whether the user ``paused`` and for how long still (``pause_left_s``), and
    ``arrivals``, the number of waypoints reached since t = 0."""

    def __init__(self, users: NDArray[np.int64], x_m: NDArray[np.float64],
                 y_m: NDArray[np.float64], indoor: NDArray[np.bool_], bounds_m: Bounds,
                 speed_mps: tuple[float, float], pause_s: tuple[float, float],
                 indoor_radius_m: float, rng: np.random.Generator):
        self.users = users
        self.bounds_m = bounds_m
        self.speed_range_mps = (float(speed_mps[0]), float(speed_mps[1]))
        self.pause_range_s = (float(pause_s[0]), float(pause_s[1]))
        self.indoor_radius_m = float(indoor_radius_m)
        self.rng = rng
        n = users.shape[0]
        self.indoor = np.ascontiguousarray(indoor[users], dtype=np.bool_)
        self.home_x_m = np.ascontiguousarray(x_m[users], dtype=np.float64)
        self.home_y_m = np.ascontiguousarray(y_m[users], dtype=np.float64)
        self.target_x_m = np.empty(n)
        self.target_y_m = np.empty(n)
        self.speed_mps = np.empty(n)
        self.pause_left_s = np.zeros(n)
        self.paused = np.zeros(n, dtype=np.bool_)
        self.arrivals = np.zeros(n, dtype=np.int64)
        _rwp_start(self.indoor, self.home_x_m, self.home_y_m, self.indoor_radius_m, *bounds_m,
                   *self.speed_range_mps, self.target_x_m, self.target_y_m, self.speed_mps, rng)

    def advance(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], t_s: float,
                dt_s: float) -> None:
        _check_step(t_s, dt_s)
        if dt_s == 0.0 or self.users.shape[0] == 0:
            return
        _rwp_advance(x_m, y_m, self.users, self.target_x_m, self.target_y_m, self.speed_mps,
                     self.pause_left_s, self.paused, self.arrivals, self.indoor,
                     self.home_x_m, self.home_y_m, self.indoor_radius_m, *self.bounds_m,
                     *self.speed_range_mps, *self.pause_range_s, float(dt_s), self.rng)

    @property
    def max_speed_mps(self) -> float:
        return self.speed_range_mps[1]


# ============================================================================ vehicles
#: headings 0: +x (east), 1: +y (north), 2: −x, 3: −y; left of h is (h + 1) % 4
_DX = np.array([1, 0, -1, 0], dtype=np.int64)
_DY = np.array([0, 1, 0, -1], dtype=np.int64)


@njit(cache=True, inline="always")
def _on_grid(ix, iy, nx, ny):
    return 0 <= ix <= nx and 0 <= iy <= ny


@njit(cache=True)
def _vehicles_advance(x_m, y_m, users, ix, iy, heading, offset, speed, turns, x0, y0,
                      spacing, nx, ny, dx_of, dy_of, dt, rng):
    """Drive every car ``speed · dt`` metres along the roads, choosing at each intersection
    crossed (one draw per intersection)."""
    for i in range(users.shape[0]):
        off = offset[i] + speed[i] * dt
        h = heading[i]
        while off >= spacing:
            off -= spacing
            ix[i] += dx_of[h]
            iy[i] += dy_of[h]
            # straight, left, right: those whose next intersection exists (one draw each)
            pick = rng.random()
            n_ok = 0
            for j in range(3):
                c = (h + (0, 1, 3)[j]) % 4
                if _on_grid(ix[i] + dx_of[c], iy[i] + dy_of[c], nx, ny):
                    n_ok += 1
            if n_ok == 0:
                h = (h + 2) % 4  # the dead end of a single-road grid
                continue
            want = min(int(pick * n_ok), n_ok - 1)
            for j in range(3):
                c = (h + (0, 1, 3)[j]) % 4
                if _on_grid(ix[i] + dx_of[c], iy[i] + dy_of[c], nx, ny):
                    if want == 0:
                        if c != h:
                            turns[i] += 1
                        h = c
                        break
                    want -= 1
        heading[i] = h
        offset[i] = off
        u = users[i]
        x_m[u] = x0 + ix[i] * spacing + off * dx_of[h]
        y_m[u] = y0 + iy[i] * spacing + off * dy_of[h]


class ManhattanVehicles(MobilityModel):
    """Cars on a Manhattan road grid.

    A car's state ``[n]``: the intersection ``(ix, iy)`` it left last (road coordinates
    ``x₀ + ix·s``, ``y₀ + iy·s``), its ``heading`` (0 east, 1 north, 2 west, 3 south), the
    distance ``offset_m`` driven since that intersection (``[0, s)``), its ``speed_mps`` and
    the number of ``turns`` taken. Intersections exist for ``ix`` in ``0 … nx`` and ``iy`` in
    ``0 … ny`` (``nx = ⌊(x_max − x₀)/s⌋``); a car is always on the segment from ``(ix, iy)`` to
    the next intersection in its heading."""

    def __init__(self, users: NDArray[np.int64], x_m: NDArray[np.float64],
                 y_m: NDArray[np.float64], bounds_m: Bounds, spacing_m: float,
                 speed_mps: tuple[float, float], rng: np.random.Generator):
        x_lo, y_lo, x_hi, y_hi = bounds_m
        s = float(spacing_m)
        nx = math.floor((x_hi - x_lo) / s + 1e-9)
        ny = math.floor((y_hi - y_lo) / s + 1e-9)
        if nx == 0 and ny == 0:
            raise InputError("road_spacing_m", spacing_m,
                             f"at most the network area's width or height ({x_hi - x_lo:.0f} m "
                             f"× {y_hi - y_lo:.0f} m): a grid with one road at least")
        self.users = users
        self.x0_m, self.y0_m, self.spacing_m, self.nx, self.ny = x_lo, y_lo, s, nx, ny
        self.speed_range_mps = (float(speed_mps[0]), float(speed_mps[1]))
        self.rng = rng
        n = users.shape[0]
        # snap to the nearest road point: clip into the grid, then the nearer road line
        gx = np.clip((x_m[users] - x_lo) / s, 0.0, nx)
        gy = np.clip((y_m[users] - y_lo) / s, 0.0, ny)
        kx, ky = np.rint(gx), np.rint(gy)
        # a vertical road (x = x₀ + kx·s) carries cars only if it has a segment (ny ≥ 1)
        vertical = np.abs(gx - kx) <= np.abs(gy - ky) if nx and ny else np.full(n, ny > 0)
        forward = rng.random(n) < 0.5
        self.speed_mps = self.speed_range_mps[0] + (
            self.speed_range_mps[1] - self.speed_range_mps[0]) * rng.random(n)
        along = np.where(vertical, gy, gx)  # position along the road [road units]
        top = np.where(vertical, ny, nx)
        seg = np.minimum(np.floor(along), top - 1)  # the segment [seg, seg + 1] it is on
        start = np.where(forward, seg, seg + 1)
        self.offset_m = np.abs(along - start) * s
        self.heading = np.where(vertical, np.where(forward, 1, 3),
                                np.where(forward, 0, 2)).astype(np.int64)
        self.ix = np.where(vertical, kx, np.where(forward, seg, seg + 1)).astype(np.int64)
        self.iy = np.where(vertical, np.where(forward, seg, seg + 1), ky).astype(np.int64)
        self.turns = np.zeros(n, dtype=np.int64)
        self._write(x_m, y_m)

    def _write(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64]) -> None:
        s = self.spacing_m
        x_m[self.users] = self.x0_m + self.ix * s + self.offset_m * _DX[self.heading]
        y_m[self.users] = self.y0_m + self.iy * s + self.offset_m * _DY[self.heading]

    def advance(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], t_s: float,
                dt_s: float) -> None:
        _check_step(t_s, dt_s)
        if dt_s == 0.0 or self.users.shape[0] == 0:
            return
        _vehicles_advance(x_m, y_m, self.users, self.ix, self.iy, self.heading, self.offset_m,
                          self.speed_mps, self.turns, self.x0_m, self.y0_m, self.spacing_m,
                          self.nx, self.ny, _DX, _DY, float(dt_s), self.rng)

    @property
    def max_speed_mps(self) -> float:
        return self.speed_range_mps[1]


# ============================================================================ trajectories
class TrajectoryData:
    """Tracks read from a file: track ``k`` is ``t_s[start[k]:stop[k]]`` (strictly increasing
    [s]) with positions ``x_m``, ``y_m`` [m]; ``ids`` are the tracks' names in the file."""

    def __init__(self, ids: list[str], t_s: NDArray[np.float64], x_m: NDArray[np.float64],
                 y_m: NDArray[np.float64], start: NDArray[np.int64], stop: NDArray[np.int64]):
        self.ids, self.t_s, self.x_m, self.y_m = ids, t_s, x_m, y_m
        self.start, self.stop = start, stop

    @property
    def n_tracks(self) -> int:
        return len(self.ids)

    def position(self, k: int, t_s: float) -> tuple[float, float]:
        """Where track ``k`` is at ``t_s`` (a reference for the compiled pass)."""
        sl = slice(int(self.start[k]), int(self.stop[k]))
        return (float(np.interp(t_s, self.t_s[sl], self.x_m[sl])),
                float(np.interp(t_s, self.t_s[sl], self.y_m[sl])))


def _problem(source: str, where: str, value: Any, expected: str) -> ScenarioError:
    return ScenarioError(f"trajectory file {source}", [(where, value, expected)])


def _number(text: str, source: str, where: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _problem(source, where, text, expected) from None
    if not math.isfinite(value):
        raise _problem(source, where, text, expected)
    return value


def _pack(source: str, tracks: dict[str, list[tuple[float, float, float, str]]]
          ) -> TrajectoryData:
    """Sort each track by time (stable) and pack them; two points of one track at the same time
    are an error naming the second point's place in the file."""
    if not tracks:
        raise _problem(source, "<file>", 0, "at least one track point")
    ids = list(tracks)
    t_parts, x_parts, y_parts, lengths = [], [], [], []
    for uid in ids:
        pts = sorted(tracks[uid], key=lambda p: p[0])
        t = np.array([p[0] for p in pts])
        same = np.flatnonzero(np.diff(t) == 0.0)
        if same.size:
            where = pts[int(same[0]) + 1][3]
            raise _problem(source, where, float(t[same[0]]),
                           f"one point per time for track {uid!r} (two points at this time)")
        t_parts.append(t)
        x_parts.append(np.array([p[1] for p in pts]))
        y_parts.append(np.array([p[2] for p in pts]))
        lengths.append(len(pts))
    stop = np.cumsum(np.array(lengths, dtype=np.int64))
    start = stop - np.array(lengths, dtype=np.int64)
    return TrajectoryData(ids, np.concatenate(t_parts), np.concatenate(x_parts),
                          np.concatenate(y_parts), start, stop)


def _read_csv(path: Path) -> TrajectoryData:
    source = str(path)
    required = ("user", "t_s", "x_m", "y_m")
    tracks: dict[str, list[tuple[float, float, float, str]]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header: list[str] | None = None
        col: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            cells = [c.strip() for c in row]
            if header is None:
                header = cells
                missing = [c for c in required if c not in header]
                if missing:
                    raise _problem(source, f"line {line} (header)", ",".join(row),
                                   f"columns {', '.join(required)} (missing "
                                   f"{', '.join(missing)})")
                col = {c: header.index(c) for c in required}
                continue
            if len(cells) < len(header):
                raise _problem(source, f"line {line}", ",".join(row),
                               f"{len(header)} fields like the header ({','.join(header)})")
            uid = cells[col["user"]]
            if not uid:
                raise _problem(source, f"line {line}, column user", row[col["user"]],
                               "a user id")
            t = _number(cells[col["t_s"]], source, f"line {line}, column t_s",
                        "a finite time [s]")
            x = _number(cells[col["x_m"]], source, f"line {line}, column x_m",
                        "a finite coordinate [m]")
            y = _number(cells[col["y_m"]], source, f"line {line}, column y_m",
                        "a finite coordinate [m]")
            tracks.setdefault(uid, []).append((t, x, y, f"line {line}, column t_s"))
    if header is None:
        raise _problem(source, "<file>", "", "a header line user,t_s,x_m,y_m and track points")
    return _pack(source, tracks)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _gpx_time(text: str | None, source: str, where: str) -> float:
    """Seconds since the epoch of an ISO 8601 ``<time>`` (UTC when it names no zone)."""
    if text is None or not text.strip():
        raise _problem(source, where, text, "an ISO 8601 time, e.g. 2024-05-01T08:00:00Z")
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _problem(source, where, text,
                       "an ISO 8601 time, e.g. 2024-05-01T08:00:00Z") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _read_gpx(path: Path) -> TrajectoryData:
    source = str(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, column = exc.position
        raise _problem(source, f"line {line}, column {column}", str(exc),
                       "well-formed GPX (XML)") from None
    if _local(root.tag) != "gpx":
        raise _problem(source, "<root element>", _local(root.tag), "a <gpx> document")
    raw: dict[str, list[tuple[float, float, float, str]]] = {}
    for k, trk in enumerate(e for e in root if _local(e.tag) == "trk"):
        name_el = next((e for e in trk if _local(e.tag) == "name"), None)
        name = (name_el.text or "").strip() if name_el is not None else ""
        uid = f"{k}:{name}" if name else str(k)
        pts: list[tuple[float, float, float, str]] = []
        j = 0
        for seg in (e for e in trk if _local(e.tag) == "trkseg"):
            for pt in (e for e in seg if _local(e.tag) == "trkpt"):
                where = f"trk[{k + 1}]/trkpt[{j + 1}]"
                j += 1
                lat = _number(pt.get("lat", ""), source, f"{where}@lat",
                              "a latitude in degrees within [-90, 90]")
                lon = _number(pt.get("lon", ""), source, f"{where}@lon",
                              "a longitude in degrees within [-180, 180]")
                if abs(lat) > 90.0:
                    raise _problem(source, f"{where}@lat", lat, "a latitude within [-90, 90]")
                if abs(lon) > 180.0:
                    raise _problem(source, f"{where}@lon", lon,
                                   "a longitude within [-180, 180]")
                time_el = next((e for e in pt if _local(e.tag) == "time"), None)
                t = _gpx_time(time_el.text if time_el is not None else None, source,
                              f"{where}/time")
                pts.append((t, lat, lon, f"{where}/time"))
        if pts:
            raw[uid] = pts
    if not raw:
        raise _problem(source, "<trk>", 0, "at least one <trk> with <trkpt> points")
    allpts = np.array([(p[0], p[1], p[2]) for pts in raw.values() for p in pts])
    t0 = float(allpts[:, 0].min())
    lat0, lon0 = float(allpts[:, 1].mean()), float(allpts[:, 2].mean())
    scale_x = EARTH_RADIUS_M * math.cos(math.radians(lat0))
    tracks = {
        uid: [(t - t0, scale_x * math.radians(lon - lon0), EARTH_RADIUS_M
               * math.radians(lat - lat0), where) for t, lat, lon, where in pts]
        for uid, pts in raw.items()
    }
    return _pack(source, tracks)


def read_trajectories(path: str | Path, base_dir: str | None = None) -> TrajectoryData:
    """Read a trajectory file: GPX when its name ends in ``.gpx``, else CSV with columns
    ``user, t_s, x_m, y_m`` (others ignored). A relative path is resolved against ``base_dir``
    (the scenario file's folder). Problems raise :class:`ScenarioError` naming the file, the
    line (CSV) or element (GPX) and the value."""
    p = Path(path)
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if not p.is_file():
        raise InputError("mobility.path", str(path),
                         f"an existing CSV or GPX file (looked for {p})")
    try:
        return _read_gpx(p) if p.suffix.lower() == ".gpx" else _read_csv(p)
    except (OSError, UnicodeDecodeError) as exc:
        raise _problem(str(p), "<file>", str(path), f"a readable UTF-8 file ({exc})") from None


@njit(cache=True)
def _trajectory_place(x_m, y_m, users, t_pts, x_pts, y_pts, start, stop, cursor, t):
    """Put tracked user ``k`` (global ``users[k]``) where track ``k`` is at ``t``; ``cursor[k]``
    remembers the segment last used, so a forward clock costs O(1) per user."""
    for k in range(users.shape[0]):
        a = start[k]
        b = stop[k] - 1
        c = cursor[k]
        while c < b and t_pts[c + 1] <= t:
            c += 1
        while c > a and t_pts[c] > t:
            c -= 1
        cursor[k] = c
        u = users[k]
        if t <= t_pts[a]:
            x_m[u] = x_pts[a]
            y_m[u] = y_pts[a]
        elif c >= b:
            x_m[u] = x_pts[b]
            y_m[u] = y_pts[b]
        else:
            f = (t - t_pts[c]) / (t_pts[c + 1] - t_pts[c])
            x_m[u] = (1.0 - f) * x_pts[c] + f * x_pts[c + 1]
            y_m[u] = (1.0 - f) * y_pts[c] + f * y_pts[c + 1]


class Trajectory(MobilityModel):
    """Users that follow recorded tracks: the group's k-th user follows track k; users beyond
    the last track stay where they are (``tracked`` holds the global indices of those that
    move)."""

    def __init__(self, users: NDArray[np.int64], data: TrajectoryData):
        self.users = users
        self.data = data
        k = min(users.shape[0], data.n_tracks)
        self.tracked = np.ascontiguousarray(users[:k])
        self._start = np.ascontiguousarray(data.start[:k])
        self._stop = np.ascontiguousarray(data.stop[:k])
        self._cursor = self._start.copy()
        speed = 0.0
        for a, b in zip(self._start.tolist(), self._stop.tolist(), strict=True):
            if b - a >= 2:
                dist = np.hypot(np.diff(data.x_m[a:b]), np.diff(data.y_m[a:b]))
                speed = max(speed, float(np.max(dist / np.diff(data.t_s[a:b]))))
        self._max_speed = speed

    def place(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], t_s: float) -> None:
        """Put the tracked users where their tracks are at ``t_s`` [s]."""
        if self.tracked.shape[0]:
            _trajectory_place(x_m, y_m, self.tracked, self.data.t_s, self.data.x_m,
                              self.data.y_m, self._start, self._stop, self._cursor,
                              float(t_s))

    def advance(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], t_s: float,
                dt_s: float) -> None:
        _check_step(t_s, dt_s)
        self.place(x_m, y_m, t_s + dt_s)

    @property
    def max_speed_mps(self) -> float:
        return self._max_speed


# ============================================================================ city streets
#: eight headings, 45° apart
_HEAD = np.radians(45.0 * np.arange(8))


class StreetWalk(MobilityModel):
    """Walkers or drivers on the streets of a city scene
    (:class:`~twinnet.network.scene.SceneGeometry`): each keeps its heading along the street at
    its speed; where the street ends (a building, a courtyard, the edge of the area) or, on
    average, every ``turn_s`` seconds, it turns to one of the headings that keep it on a street
    (chosen at random). Users are placed on the street cell nearest their drop position."""

    def __init__(self, users: NDArray[np.int64], x_m: NDArray[np.float64],
                 y_m: NDArray[np.float64], geometry: Any, bounds_m: Bounds,
                 speed_mps: tuple[float, float], rng: np.random.Generator,
                 turn_s: float = 30.0):
        self.users = users
        self.geo = geometry
        self.bounds_m = bounds_m
        self.speed_range_mps = (float(speed_mps[0]), float(speed_mps[1]))
        self.turn_s = float(turn_s)
        self.rng = rng
        n = users.shape[0]
        cell = geometry.street_cell(x_m[users], y_m[users])
        if n and (cell < 0).any():
            bad = int(users[np.flatnonzero(cell < 0)[0]])
            raise InputError("users", bad, "a user inside the scene's area (streets mobility)")
        cx, cy = geometry.centres(cell)
        x_m[users] = cx
        y_m[users] = cy
        lo, hi = self.speed_range_mps
        self.speed_mps: NDArray[np.float64] = np.asarray(rng.uniform(lo, hi, size=n),
                                                         dtype=np.float64)
        self.heading: NDArray[np.int64] = np.asarray(rng.integers(0, 8, size=n), dtype=np.int64)
        self.turns = np.zeros(n, dtype=np.int64)

    def _on_street(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
        x_lo, y_lo, x_hi, y_hi = self.bounds_m
        iy, ix, inside = self.geo.cell_of(x, y)
        return inside & self.geo.street[iy, ix] & (x >= x_lo) & (x <= x_hi) & (y >= y_lo) \
            & (y <= y_hi)

    def advance(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], t_s: float,
                dt_s: float) -> None:
        _check_step(t_s, dt_s)
        n = self.users.shape[0]
        if dt_s == 0.0 or n == 0:
            return
        x, y = x_m[self.users], y_m[self.users]
        step = self.speed_mps * dt_s
        nx = x + step * np.cos(_HEAD[self.heading])
        ny = y + step * np.sin(_HEAD[self.heading])
        ok = self._on_street(nx, ny)
        turn = ~ok | (self.rng.uniform(size=n) < dt_s / self.turn_s)
        t = np.flatnonzero(turn)
        if t.size:
            # candidate headings of the turning users: [t, 8]
            cx = x[t, None] + step[t, None] * np.cos(_HEAD)[None, :]
            cy = y[t, None] + step[t, None] * np.sin(_HEAD)[None, :]
            good = self._on_street(cx.ravel(), cy.ravel()).reshape(t.size, 8)
            score = np.where(good, self.rng.uniform(size=good.shape), -1.0)
            pick = np.argmax(score, axis=1)
            can = good[np.arange(t.size), pick]
            self.heading[t[can]] = pick[can]
            self.turns[t[can]] += 1
            nx[t] = np.where(can, cx[np.arange(t.size), pick], x[t])
            ny[t] = np.where(can, cy[np.arange(t.size), pick], y[t])
        x_m[self.users] = nx
        y_m[self.users] = ny

    @property
    def max_speed_mps(self) -> float:
        return self.speed_range_mps[1]


# ============================================================================ factory
def _check_arrays(users: NDArray[np.int64], x_m: NDArray[np.float64],
                  y_m: NDArray[np.float64], indoor: NDArray[np.bool_], bounds_m: Bounds
                  ) -> tuple[NDArray[np.int64], Bounds]:
    n_all = x_m.shape[0]
    for name, arr in (("x_m", x_m), ("y_m", y_m)):
        if arr.dtype != np.float64 or arr.ndim != 1 or not arr.flags.c_contiguous:
            raise InputError(name, f"{arr.dtype} array of shape {arr.shape}",
                             "a contiguous 1-D float64 array (positions of all users, m)")
    if y_m.shape != x_m.shape or indoor.shape != x_m.shape:
        raise InputError("indoor" if y_m.shape == x_m.shape else "y_m",
                         (indoor if y_m.shape == x_m.shape else y_m).shape,
                         f"the shape of x_m {x_m.shape}")
    idx = np.ascontiguousarray(users, dtype=np.int64)
    if idx.ndim != 1:
        raise InputError("users", idx.shape, "a 1-D array of user indices")
    if idx.size and (idx.min() < 0 or idx.max() >= n_all):
        bad = int(idx[(idx < 0) | (idx >= n_all)][0])
        raise InputError("users", bad, f"user indices in [0, {n_all})")
    if len(bounds_m) != 4 or not all(math.isfinite(float(b)) for b in bounds_m):
        raise InputError("bounds_m", bounds_m, "finite (x_min, y_min, x_max, y_max) [m]")
    x_lo, y_lo, x_hi, y_hi = (float(b) for b in bounds_m)
    if not (x_lo < x_hi and y_lo < y_hi):
        raise InputError("bounds_m", bounds_m, "x_min < x_max and y_min < y_max")
    return idx, (x_lo, y_lo, x_hi, y_hi)


# ============================================================================ road
class RoadCorridor(MobilityModel):
    """Vehicles on a road (a polyline ``road``): half drive from its first point to its last,
    half back, on lanes ``lane_m`` apart either side of the axis, each at its own speed drawn
    from ``speed_mps``; a vehicle reaching the end of the road comes back in at its start (a
    steady flow). Dropped uniformly along the road at t = 0."""

    def __init__(self, users: NDArray[np.int64], x_m: NDArray[np.float64],
                 y_m: NDArray[np.float64], road: list[tuple[float, float]],
                 speed_mps: tuple[float, float], rng: np.random.Generator,
                 lane_m: float = 3.5):
        self.users = users
        pts = np.asarray(road, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] < 2 or pts.shape[1] != 2:
            raise InputError("mobility.road", road, "at least two (x, y) points [m]")
        seg = np.hypot(*np.diff(pts, axis=0).T)
        if not (seg > 0).all():
            raise InputError("mobility.road", road, "distinct consecutive points")
        self._pts = pts
        self._cum = np.concatenate([[0.0], np.cumsum(seg)])
        self.length_m = float(self._cum[-1])
        n = users.size
        self._s = rng.uniform(0.0, self.length_m, n)
        self._dir = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        self._speed = rng.uniform(speed_mps[0], speed_mps[1], n)
        self._lane = self._dir * lane_m
        self._write(x_m, y_m)

    def _write(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64]) -> None:
        s = self._s
        k = np.clip(np.searchsorted(self._cum, s, side="right") - 1, 0, len(self._cum) - 2)
        a, b = self._pts[k], self._pts[k + 1]
        d = b - a
        u = d / np.hypot(d[:, 0], d[:, 1])[:, None]
        f = (s - self._cum[k])[:, None]
        p = a + f * u
        normal = np.column_stack([u[:, 1], -u[:, 0]])  # to the right of the axis
        p = p + normal * self._lane[:, None]
        x_m[self.users] = p[:, 0]
        y_m[self.users] = p[:, 1]

    def advance(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], t_s: float,
                dt_s: float) -> None:
        _check_step(t_s, dt_s)
        self._s = (self._s + self._dir * self._speed * dt_s) % self.length_m
        self._write(x_m, y_m)

    @property
    def max_speed_mps(self) -> float:
        return float(self._speed.max()) if self._speed.size else 0.0


def make_mobility(cfg: Mobility, users: NDArray[np.int64], x_m: NDArray[np.float64],
                  y_m: NDArray[np.float64], indoor: NDArray[np.bool_],
                  bounds_m: tuple[float, float, float, float], rng: np.random.Generator,
                  base_dir: str | None = None, streets: Any = None) -> MobilityModel:
    """The mobility model of one group.

    ``users [n]`` are the group's global indices into ``x_m``, ``y_m``, ``indoor [U]`` (all
    users at t = 0, metres); ``bounds_m = (x_min, y_min, x_max, y_max)`` [m] is the network
    area; ``rng`` draws everything random (now and at every step); ``base_dir`` resolves a
    relative trajectory ``path``; ``streets`` is the city's
    :class:`~twinnet.network.scene.SceneGeometry` (the ``streets`` model). The group's users
    are put at their t = 0 positions in place: cars snapped onto the road grid, street users
    onto the nearest street, tracked users at their track's position at t = 0; pedestrians and
    static users stay where they were dropped.
    """
    idx, bounds = _check_arrays(users, x_m, y_m, indoor, bounds_m)
    if cfg.model == "static":
        return StaticMobility(idx)
    if cfg.model == "random_waypoint":
        return RandomWaypoint(idx, x_m, y_m, indoor, bounds, cfg.speed_range_mps, cfg.pause_s,
                              cfg.indoor_radius_m, rng)
    if cfg.model == "vehicles":
        return ManhattanVehicles(idx, x_m, y_m, bounds, cfg.road_spacing_m,
                                 cfg.speed_range_mps, rng)
    if cfg.model == "road":
        assert cfg.road is not None
        return RoadCorridor(idx, x_m, y_m, [tuple(p) for p in cfg.road],  # type: ignore[misc]
                            cfg.speed_range_mps, rng)
    if cfg.model == "streets":
        if streets is None:
            raise InputError("mobility.model", cfg.model,
                             "a scenario with a city scene ([truth] scene) for 'streets'")
        return StreetWalk(idx, x_m, y_m, streets, bounds, cfg.speed_range_mps, rng)
    if cfg.model == "trajectory":
        if not cfg.path:
            raise InputError("mobility.path", cfg.path, "a CSV or GPX file of tracks")
        model = Trajectory(idx, read_trajectories(cfg.path, base_dir))
        model.place(x_m, y_m, 0.0)
        return model
    raise InputError("mobility.model", cfg.model,
                     "one of static, random_waypoint, vehicles, road, streets, trajectory")
