"""A ray-traced truth: the emulated network's path gains from Sionna RT over real city geometry.

``[truth] model = "raytraced"`` builds the emulator's radio world with :class:`RayTracedTwin`:
the same network, users and KPI machinery as the twin, but every terrestrial link gain comes
from a **radio map** ray-traced (Sionna RT ``RadioMapSolver``, shooting and bouncing rays with
specular reflection, refraction and edge diffraction) over the scene's buildings, for each cell
with its own antenna array, bearing and tilt. The operator's twin stays the fast 38.901 model
and must learn this world from measurement reports alone.

* Radio maps are traced once per cell configuration and cached in memory and on disk (keyed by
  the scene's files, the carrier, the solver settings, the grid, the transmitter's position,
  bearing and tilt, and the array). Moving users look the maps up.
* A power change never re-traces: path gain does not depend on power (RSRP shifts by the
  change). A tilt or bearing change re-traces only the cells it touches (≈1–3 s per cell on
  two CPU cores); every other cell's map is reused. The antenna pattern is applied inside the
  solver, ray by ray, at each ray's departure angle.
* Each map is traced with a seed derived from its key, so a cached map and a fresh trace of
  the same configuration are identical.
* Users: an outdoor user takes the map value of its grid cell (1.5 m above ground); an indoor
  user the value at the nearest street cell — the façade of its building — behind the O2I
  penetration loss of TR 38.901 §7.4.3 (the same building model as the twin). A cell no ray of
  a transmitter reaches has no link from it (gain 10⁻²² ≈ −220 dB).
* Electrical and mechanical tilt are both applied as the array's downward pitch.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinnet.network.scene import (
    SceneGeometry,
    cache_dir,
    file_digest,
    import_rt,
    scene_geometry,
    scene_path,
)
from twinnet.scenario import Scenario, Truth
from twinnet.twin.twin import DigitalTwin

__all__ = ["NO_LINK_GAIN", "RadioMaps", "RayTracedTwin", "clear_disk_cache"]

#: coupling gain of a link no traced ray closes
NO_LINK_GAIN = 1e-22
#: height of the radio maps' measurement plane above ground [m]
MAP_HEIGHT_M = 1.5


class RadioMaps:
    """Ray-traced path-gain maps ``[ny, nx]`` (linear, antenna pattern included) of one scene
    and carrier on a :class:`~twinnet.network.scene.SceneGeometry` grid, per transmitter
    configuration, cached.

    ``pattern``: ``"tr38901"`` (the 38.901 element, 65° beams, 8 dBi) in an
    ``n_vertical`` × 1 column of ``spacing`` wavelengths, or ``"iso"``."""

    def __init__(self, scene: str, fc_ghz: float, cell_m: float = 5.0, max_depth: int = 3,
                 samples: int = 1_000_000, diffraction: bool = True, n_vertical: int = 10,
                 spacing: float = 0.5, pattern: str = "tr38901", base_dir: str | None = None,
                 disk_cache: bool = True):
        self.path = scene_path(scene, base_dir)
        self.geometry: SceneGeometry = scene_geometry(scene, cell_m, base_dir)
        self.fc_ghz = float(fc_ghz)
        self.max_depth = int(max_depth)
        self.samples = int(samples)
        self.diffraction = bool(diffraction)
        self.n_vertical = 1 if pattern == "iso" else int(n_vertical)
        self.spacing = float(spacing)
        self.pattern = pattern
        self.disk_cache = disk_cache
        self._memory: dict[str, NDArray[np.float32]] = {}
        self._scene: Any = None
        #: fresh traces run (not served from a cache)
        self.traces = 0
        g = self.geometry
        self._base = "|".join(map(str, (
            file_digest(self.path), f"{self.fc_ghz:.6f}", g.cell_m, g.x0, g.y0, g.shape,
            MAP_HEIGHT_M, self.max_depth, self.samples, self.diffraction, self.pattern,
            self.n_vertical, self.spacing)))

    def key(self, x_m: float, y_m: float, z_m: float, bearing_deg: float,
            downtilt_deg: float) -> str:
        """The cache key of one transmitter configuration (power is not part of it)."""
        cfg = f"{x_m:.3f}|{y_m:.3f}|{z_m:.3f}|{bearing_deg % 360.0:.4f}|{downtilt_deg:.4f}"
        return hashlib.blake2b(f"{self._base}|{cfg}".encode(), digest_size=16).hexdigest()

    def gain_map(self, x_m: float, y_m: float, z_m: float, bearing_deg: float = 0.0,
                 downtilt_deg: float = 0.0) -> NDArray[np.float32]:
        """Path-gain map of a transmitter at ``(x, y, z)`` whose array points along
        ``bearing_deg`` (counter-clockwise from +x, like the twin) tilted ``downtilt_deg`` down:
        from the memory cache, the disk cache, or a fresh trace."""
        key = self.key(x_m, y_m, z_m, bearing_deg, downtilt_deg)
        hit = self._memory.get(key)
        if hit is not None:
            return hit
        f = cache_dir() / "rt" / f"{key}.npy"
        if self.disk_cache and f.exists():
            g = np.load(f)
        else:
            g = self._trace(key, x_m, y_m, z_m, bearing_deg, downtilt_deg)
            if self.disk_cache:
                f.parent.mkdir(parents=True, exist_ok=True)
                tmp = f.with_name(f"{key}.{os.getpid()}.tmp.npy")
                np.save(tmp, g)
                os.replace(tmp, f)
        self._memory[key] = g
        return g

    def _load_scene(self) -> Any:
        if self._scene is None:
            rt = import_rt()
            scene = rt.load_scene(self.path)
            scene.frequency = self.fc_ghz * 1e9
            scene.tx_array = rt.PlanarArray(num_rows=self.n_vertical, num_cols=1,
                                            vertical_spacing=self.spacing,
                                            pattern=self.pattern, polarization="V")
            scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso",
                                            polarization="V")
            self._scene = scene
        return self._scene

    def _trace(self, key: str, x_m: float, y_m: float, z_m: float, bearing_deg: float,
               downtilt_deg: float) -> NDArray[np.float32]:
        rt = import_rt()
        import mitsuba as mi

        scene = self._load_scene()
        for name in list(scene.transmitters):
            scene.remove(name)
        # Sionna's orientation is (yaw, pitch, roll); a positive pitch turns +x downwards
        scene.add(rt.Transmitter("tx", position=mi.Point3f(float(x_m), float(y_m), float(z_m)),
                                 orientation=mi.Point3f(float(np.radians(bearing_deg)),
                                                        float(np.radians(downtilt_deg)), 0.0),
                                 power_dbm=0.0))
        g = self.geometry
        ny, nx = g.shape
        centre = mi.Point3f(g.x0 + (nx - 1) * g.cell_m / 2, g.y0 + (ny - 1) * g.cell_m / 2,
                            MAP_HEIGHT_M)
        rm = rt.RadioMapSolver()(
            scene, center=centre, orientation=mi.Point3f(0.0, 0.0, 0.0),
            size=mi.Point2f(nx * g.cell_m, ny * g.cell_m), cell_size=mi.Point2f(g.cell_m, g.cell_m),
            samples_per_tx=self.samples, max_depth=self.max_depth,
            diffraction=self.diffraction, edge_diffraction=self.diffraction,
            seed=int(key[:7], 16))
        gain = np.asarray(rm.path_gain.numpy(), dtype=np.float32)[0]
        if gain.shape != (ny, nx):  # pragma: no cover - a Sionna RT change
            raise RuntimeError(f"radio map shape {gain.shape} is not the grid's {(ny, nx)}")
        self.traces += 1
        return gain

    @staticmethod
    def lookup(gain_map: NDArray[np.float32], cells: NDArray[np.int64]) -> NDArray[np.float64]:
        """Map values at flat grid cells (from :meth:`SceneGeometry.street_cell`: each point's
        own street cell or its façade); 0 where the cell is -1 (off the grid)."""
        return np.where(cells >= 0, gain_map.ravel()[np.maximum(cells, 0)], 0.0).astype(
            np.float64)


class RayTracedTwin(DigitalTwin):
    """A twin whose terrestrial link gains are ray-traced (see the module docstring); drone
    cells keep the air-to-ground model."""

    def __init__(self, scenario: Scenario, truth: Truth, **kwargs: Any):
        super().__init__(scenario, **kwargs)
        assert truth.scene is not None
        a = scenario.antenna
        omni = a.model == "omni" or self.network.omni
        self.maps = [RadioMaps(truth.scene, c.fc_ghz, truth.rt_cell_m, truth.rt_max_depth,
                               truth.rt_samples, truth.rt_diffraction,
                               n_vertical=a.n_vertical, spacing=a.spacing_wavelengths,
                               pattern="iso" if omni else "tr38901",
                               base_dir=scenario.base_dir)
                     for c in self.network.carriers]

    def cell_gain_map(self, cell: int) -> NDArray[np.float32]:
        """The radio map of one cell as configured now."""
        net = self.network
        s = int(net.cell_site[cell])
        return self.maps[int(net.cell_carrier[cell])].gain_map(
            float(net.site_x_m[s]), float(net.site_y_m[s]), float(net.site_height_m[s]),
            float(net.cell_bearing_deg[cell]),
            float(net.cell_mech_tilt_deg[cell] + net.cell_elec_tilt_deg[cell]))

    def _carrier_gains(self, out: NDArray[np.float32], cand: NDArray[np.int32], start: Any,
                       order: Any, cps: int, slot_cell: NDArray[np.int32], car: Any, k: int,
                       loss: NDArray[np.float64], indoor: NDArray[np.bool_]) -> None:
        net, ue = self.network, self.users
        cells = np.broadcast_to(slot_cell, out.shape)
        drone = net.is_drone_site()
        o2i = 10.0 ** (-loss / 10.0)
        at = self.maps[k].geometry.street_cell(ue.x_m, ue.y_m)  # once for every cell
        out.fill(NO_LINK_GAIN)
        for c in np.unique(cells[cells >= 0]):
            if drone[net.cell_site[c]]:
                continue  # the air-to-ground model fills these slots
            rows, cols = np.nonzero(cells == c)
            g = RadioMaps.lookup(self.cell_gain_map(int(c)), at[rows]) * o2i[rows]
            out[rows, cols] = np.maximum(g, NO_LINK_GAIN).astype(np.float32)
        out[cells < 0] = 0.0


def clear_disk_cache() -> int:
    """Delete the traced radio maps on disk; returns how many were removed."""
    n = 0
    for f in Path(cache_dir(), "rt").glob("*.npy"):
        f.unlink()
        n += 1
    return n
