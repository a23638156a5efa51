"""A city's real geometry from a ray-tracing scene (Sionna RT built-in or Mitsuba XML).

What the operator's maps say about a city — where the buildings are and how tall, where the
streets run — read from the scene by casting vertical rays on a grid. The twin uses it to put
sites on rooftops and users on streets and in buildings; the emulator's ray-traced truth
(:mod:`twinnet.emulator.raytrace`) uses the same grid for its radio maps. The twin never sees
the ray tracing itself.

Needs the optional ``rt`` extra (``pip install -e ".[rt]"``: Sionna RT, Mitsuba, Dr.Jit). On
CPU, Dr.Jit's LLVM backend needs LLVM ≥ 17: :func:`ensure_llvm` points ``DRJIT_LIBLLVM_PATH``
at an installed ``libLLVM-17/18/19`` when the variable is unset (Debian: ``libllvm19``).
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from twinnet.errors import InputError

__all__ = ["SceneGeometry", "cache_dir", "ensure_llvm", "file_digest", "import_rt",
           "scenario_geometry", "scene_geometry", "scene_path"]

#: where a ground cell counts as building (roof above this height) [m]
BUILDING_MIN_HEIGHT_M = 2.5
#: streets: ground regions of at least this share of the ground (courtyards are smaller)
_STREET_MIN_SHARE = 0.02

_LLVM_GLOBS = ("/usr/lib/x86_64-linux-gnu/libLLVM-{v}.so",
               "/usr/lib/aarch64-linux-gnu/libLLVM-{v}.so",
               "/usr/lib/llvm-{v}/lib/libLLVM*.so*", "/usr/lib64/libLLVM-{v}.so",
               "/usr/local/lib/libLLVM-{v}.so", "/opt/homebrew/opt/llvm/lib/libLLVM.dylib")


def ensure_llvm() -> str | None:
    """Point ``DRJIT_LIBLLVM_PATH`` at an LLVM ≥ 17 library when it is unset (Dr.Jit's CPU
    backend aborts on older ones). Returns the path in use, or None if none was found."""
    have = os.environ.get("DRJIT_LIBLLVM_PATH")
    if have:
        return have
    for v in (19, 18, 17, 20, 21):
        for pat in _LLVM_GLOBS:
            hits = sorted(glob.glob(pat.format(v=v)))
            if hits:
                os.environ["DRJIT_LIBLLVM_PATH"] = hits[0]
                return hits[0]
    return None


def import_rt() -> ModuleType:
    """``sionna.rt``, with a clear error when the ``rt`` extra is missing."""
    ensure_llvm()
    try:
        import sionna.rt as rt
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError("truth.scene", "sionna.rt",
                         "the ray-tracing extra: pip install -e '.[rt]' (and an LLVM >= 17 "
                         "library, e.g. Debian libllvm19)") from exc
    return rt


def cache_dir() -> Path:
    """``$TWINNET_CACHE`` if set, else ``~/.cache/twinnet`` (traced radio maps, geometry)."""
    d = Path(os.environ.get("TWINNET_CACHE") or Path.home() / ".cache" / "twinnet")
    d.mkdir(parents=True, exist_ok=True)
    return d


def scene_path(scene: str, base_dir: str | None = None) -> str:
    """The Mitsuba XML file of ``scene``: a Sionna RT built-in scene name or a path (relative
    paths against ``base_dir``, the scenario file's folder)."""
    p = Path(scene)
    if p.suffix.lower() == ".xml":
        if not p.is_absolute() and base_dir:
            p = Path(base_dir) / p
        if not p.exists():
            raise InputError("truth.scene", scene, "an existing Mitsuba XML file")
        return str(p.resolve())
    rt = import_rt()
    path = getattr(rt.scene, scene, None)
    if not isinstance(path, str) or not path.endswith(".xml"):
        names = sorted(n for n in dir(rt.scene) if isinstance(getattr(rt.scene, n), str)
                       and str(getattr(rt.scene, n)).endswith(".xml"))
        raise InputError("truth.scene", scene, f"a Mitsuba XML path or one of {names}")
    return path


@dataclass(frozen=True)
class SceneGeometry:
    """Rooftop heights on a grid of ``cell_m`` cells: cell ``[iy, ix]`` is centred at
    ``(x0 + ix·cell_m, y0 + iy·cell_m)``."""

    path: str
    x0: float
    y0: float
    cell_m: float
    height_m: NDArray[np.float64]  # [ny, nx] top surface above ground (0 on open ground)
    street: NDArray[np.bool_]  # [ny, nx] open ground connected to the street network
    #: flat index of the nearest street cell of every cell (the façade of a building)
    nearest_street: NDArray[np.int64]

    @property
    def shape(self) -> tuple[int, int]:
        return self.height_m.shape

    @property
    def building(self) -> NDArray[np.bool_]:
        return self.height_m > BUILDING_MIN_HEIGHT_M

    def cell_of(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64]
                ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """Grid indices ``(iy, ix)`` of points (clipped to the grid) and whether they lie on it."""
        ny, nx = self.shape
        fx = np.floor((np.asarray(x_m) - self.x0) / self.cell_m + 0.5).astype(np.int64)
        fy = np.floor((np.asarray(y_m) - self.y0) / self.cell_m + 0.5).astype(np.int64)
        inside = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
        return np.clip(fy, 0, ny - 1), np.clip(fx, 0, nx - 1), inside

    def centres(self, flat: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        iy, ix = np.divmod(np.asarray(flat, dtype=np.int64), self.shape[1])
        return self.x0 + ix * self.cell_m, self.y0 + iy * self.cell_m

    def street_cell(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64]
                    ) -> NDArray[np.int64]:
        """Flat index of the street cell that serves each point: its own cell on a street, the
        nearest street cell (the façade) inside a building or a courtyard; -1 off the grid."""
        iy, ix, inside = self.cell_of(x_m, y_m)
        return np.where(inside, self.nearest_street[iy, ix], -1)

    def rooftop_sites(self, n_sites: int, isd_m: float, min_roof_m: float,
                      center: tuple[float, float] | None = None
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``n_sites`` rooftop positions and roof heights: the points of a hexagonal grid of
        spacing ``isd_m`` nearest ``center`` (default: the middle of the scene), each moved to
        the nearest roof at least ``min_roof_m`` high that no other site took."""
        ny, nx = self.shape
        cx = self.x0 + (nx - 1) * self.cell_m / 2 if center is None else center[0]
        cy = self.y0 + (ny - 1) * self.cell_m / 2 if center is None else center[1]
        r = int(np.ceil(np.sqrt(n_sites))) + 2
        pts = []
        for i in range(-r, r + 1):
            for j in range(-r, r + 1):
                pts.append((cx + isd_m * (i + 0.5 * j), cy + isd_m * j * np.sqrt(3) / 2))
        p = np.array(pts)
        p = p[np.argsort(np.hypot(p[:, 0] - cx, p[:, 1] - cy), kind="stable")][:n_sites]
        roof = np.flatnonzero((self.height_m >= max(min_roof_m, BUILDING_MIN_HEIGHT_M)).ravel())
        if roof.size < n_sites:
            raise InputError("layout.min_roof_m", min_roof_m,
                             f"a height that at least {n_sites} roofs of the scene reach")
        rx, ry = self.centres(roof)
        taken = np.zeros(roof.size, dtype=bool)
        xs, ys, hs = [], [], []
        for px, py in p:
            d = np.hypot(rx - px, ry - py) + np.where(taken, np.inf, 0.0)
            k = int(np.argmin(d))
            # nothing within 5 cells of another site (one building, one mast)
            taken |= np.hypot(rx - rx[k], ry - ry[k]) < 5 * self.cell_m
            xs.append(rx[k])
            ys.append(ry[k])
            hs.append(float(self.height_m.ravel()[roof[k]]))
        return np.array(xs), np.array(ys), np.array(hs)

    def sample(self, n: int, indoor: bool, rng: np.random.Generator,
               box: tuple[float, float, float, float]) -> NDArray[np.float64]:
        """``n`` points ``[n, 2]`` uniform over the street (``indoor=False``) or building
        cells inside ``box = (x_min, y_min, x_max, y_max)``, jittered within their cell."""
        if n == 0:
            return np.zeros((0, 2))
        mask = self.building if indoor else self.street
        xs, ys = self.centres(np.arange(mask.size))
        x_lo, y_lo, x_hi, y_hi = box
        ok = mask.ravel() & (xs >= x_lo) & (xs <= x_hi) & (ys >= y_lo) & (ys <= y_hi)
        cells = np.flatnonzero(ok)
        if cells.size == 0:
            raise InputError("users.distribution", "scene",
                             f"{'building' if indoor else 'street'} cells around the sites")
        pick = cells[rng.integers(0, cells.size, n)]
        cx, cy = self.centres(pick)
        jitter = rng.uniform(-0.45, 0.45, (n, 2)) * self.cell_m
        return np.column_stack([cx + jitter[:, 0], cy + jitter[:, 1]])


@cache
def file_digest(path: str) -> str:
    """Digest of a scene: its XML and every mesh file beside it (read once per process)."""
    h = hashlib.blake2b(digest_size=12)
    folder = Path(path).parent
    for f in sorted([Path(path), *folder.rglob("*.ply"), *folder.rglob("*.obj")]):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@cache
def _load_geometry(path: str, cell_m: float) -> SceneGeometry:
    key = f"geometry-{file_digest(path)}-{cell_m:g}.npz"
    f = cache_dir() / key
    if f.exists():
        z = np.load(f)
        height = z["height"]
        x0, y0 = float(z["x0"]), float(z["y0"])
    else:
        rt = import_rt()
        scene = rt.load_scene(path)
        import mitsuba as mi

        bb = scene.mi_scene.bbox()
        x0 = float(bb.min[0]) + cell_m / 2
        y0 = float(bb.min[1]) + cell_m / 2
        nx = max(1, int((float(bb.max[0]) - float(bb.min[0])) // cell_m))
        ny = max(1, int((float(bb.max[1]) - float(bb.min[1])) // cell_m))
        gx, gy = np.meshgrid(x0 + cell_m * np.arange(nx), y0 + cell_m * np.arange(ny))
        top = float(bb.max[2]) + 10.0
        ray = mi.Ray3f(mi.Point3f(gx.ravel().astype(np.float32), gy.ravel().astype(np.float32),
                                  np.full(gx.size, top, dtype=np.float32)),
                       mi.Vector3f(0.0, 0.0, -1.0))
        t = np.array(scene.mi_scene.ray_intersect(ray).t, dtype=np.float64)
        ground = float(bb.min[2])
        height = np.where(np.isfinite(t), np.maximum(top - t - ground, 0.0), 0.0).reshape(ny, nx)
        tmp = f.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, height=height, x0=x0, y0=y0)
        os.replace(tmp, f)
    ground = height <= BUILDING_MIN_HEIGHT_M
    labels, n = ndimage.label(ground)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    keep = sizes >= max(1.0, _STREET_MIN_SHARE * ground.sum())
    keep[np.argmax(sizes)] = True
    street = keep[labels] & ground
    _, (iy, ix) = ndimage.distance_transform_edt(~street, return_indices=True)
    nearest = (iy * height.shape[1] + ix).astype(np.int64)
    return SceneGeometry(path, x0, y0, float(cell_m), height, street, nearest)


def scene_geometry(scene: str, cell_m: float = 5.0, base_dir: str | None = None
                   ) -> SceneGeometry:
    """The :class:`SceneGeometry` of ``scene`` on a grid of ``cell_m`` cells (cached in memory
    and in :func:`cache_dir`)."""
    return _load_geometry(scene_path(scene, base_dir), float(cell_m))


def scenario_geometry(scenario: Any) -> SceneGeometry:
    """The :class:`SceneGeometry` of a scenario's ``[truth] scene`` on its ``rt_cell_m`` grid
    (a scenario that uses scene layouts, users or mobility must name a scene)."""
    truth = scenario.truth
    if not truth.scene:
        raise InputError("truth.scene", truth.scene, "a scene (the city geometry)")
    return scene_geometry(truth.scene, truth.rt_cell_m, scenario.base_dir)
