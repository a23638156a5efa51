"""Spatially consistent random fields for shadow fading and LOS state (TR 38.901 §7.6.3).

38.901 generates spatially consistent large-scale parameters by 2D filtering of i.i.d. Gaussian
variables so that their autocorrelation is ``exp(-Δd / d_cor)`` (§7.5 step 4, §7.6.3.1). We
generate one periodic Gaussian field per quantity by exact circulant embedding on a torus
(FFT), and give every site its own random offset into that torus: the value a user at ``(x, y)``
sees from site ``s`` is ``F(x + ox_s, y + oy_s)``. Offsets are kept many correlation distances
apart, so different sites are (to within ``exp(-separation/d_cor)``) independent while the value
seen from one site changes smoothly as the user moves. Memory is O(grid), independent of the
number of users; a lookup is a bilinear interpolation normalised so the variance is exactly 1
everywhere (plain bilinear interpolation of correlated nodes would lose variance between nodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twinnet.errors import InputError

__all__ = ["SpatialField", "site_offsets_m"]


@dataclass(frozen=True)
class SpatialField:
    """A periodic, unit-variance Gaussian random field with exponential autocorrelation.

    Attributes: ``values`` float32 ``[n, n]``, ``spacing_m`` grid step, ``corr_distance_m``,
    ``rho1``/``rho2`` the correlation of axis-adjacent and diagonal nodes (used to normalise
    interpolated values).
    """

    values: NDArray[np.float32]
    spacing_m: float
    corr_distance_m: float

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    @property
    def period_m(self) -> float:
        return self.n * self.spacing_m

    @property
    def rho1(self) -> float:
        return math.exp(-self.spacing_m / self.corr_distance_m)

    @property
    def rho2(self) -> float:
        return math.exp(-math.sqrt(2.0) * self.spacing_m / self.corr_distance_m)

    @classmethod
    def generate(
        cls,
        corr_distance_m: float,
        rng: np.random.Generator,
        extent_m: float = 2000.0,
        points_per_corr: float = 6.0,
        min_points_per_corr: float = 2.0,
        min_points: int = 128,
        max_points: int = 512,
    ) -> SpatialField:
        """Draw a field whose period covers ``extent_m`` with at most ``max_points`` nodes a
        side: the grid step is ``d_cor / points_per_corr``, coarsened (down to
        ``d_cor / min_points_per_corr``) when the extent needs it, so that the field stays
        small enough to be read from cache by the link kernel."""
        if not corr_distance_m > 0:
            raise InputError("corr_distance_m", corr_distance_m, "a positive distance in metres")
        spacing = max(corr_distance_m / points_per_corr,
                      min(extent_m / max_points, corr_distance_m / min_points_per_corr))
        n = min_points
        while n * spacing < extent_m and n < max_points:
            n *= 2
        idx = np.arange(n)
        wrapped = np.minimum(idx, n - idx) * spacing
        dist = np.hypot(wrapped[:, None], wrapped[None, :])
        cov = np.exp(-dist / corr_distance_m)
        eig = np.fft.rfft2(cov).real
        eig = np.maximum(eig, 0.0)
        white = rng.standard_normal((n, n))
        field = np.fft.irfft2(np.sqrt(eig) * np.fft.rfft2(white), s=(n, n))
        field /= field.std()  # remove the tiny variance error from clipped eigenvalues
        return cls(field.astype(np.float32), float(spacing), float(corr_distance_m))

    def sample(
        self, x_m: NDArray[np.float64], y_m: NDArray[np.float64], offset_x_m: float = 0.0,
        offset_y_m: float = 0.0,
    ) -> NDArray[np.float64]:
        """Field values at points (the twin's kernel inlines the same lookup)."""
        from twinnet.radio.fast import field_values

        xs, ys = np.broadcast_arrays(np.asarray(x_m, float), np.asarray(y_m, float))
        flat = field_values(self.values, 1.0 / self.spacing_m, self.rho1, self.rho2,
                            np.ascontiguousarray(xs.reshape(-1)) + offset_x_m,
                            np.ascontiguousarray(ys.reshape(-1)) + offset_y_m)
        return np.asarray(flat).reshape(xs.shape)


def site_offsets_m(
    n_sites: int, period_m: float, corr_distance_m: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Offsets ``[n_sites, 2]`` into a field of period ``period_m``: a shuffled, jittered lattice
    so that any two sites are as far apart in the field as the torus allows."""
    side = max(1, math.ceil(math.sqrt(n_sites)))
    step = period_m / side
    cells = rng.permutation(side * side)[:n_sites]
    gx, gy = cells % side, cells // side
    jitter = rng.uniform(-0.1, 0.1, (n_sites, 2)) * step
    off = np.column_stack([gx * step, gy * step]) + jitter
    return np.mod(off, period_m)
