"""Power control for per-link SINR targets: Foschini–Miljanic, a min-power LP, Perron–Frobenius.

The problem (Foschini & Miljanic 1993; Zander 1992; Yates 1995): ``L`` links share a channel,
``G[i, k]`` [linear] is the power gain from the transmitter of link ``k`` to the receiver of
link ``i`` (so a link's own gain is on the diagonal), ``N_i`` [W] the receiver noise, ``γ_i``
[linear] the SINR target and ``p_max,i`` [W] the power limit. Find powers ``p`` [W] with

    SINR_i(p) = G_ii p_i / (Σ_{k≠i} G_ik p_k + N_i) ≥ γ_i,   0 ≤ p ≤ p_max.

Dividing by ``G_ii`` gives the normalised form ``p ≥ F p + u`` with

    F = diag(γ / G_ii) · offdiag(G)   [L, L],      u_i = γ_i N_i / G_ii   [W].

By Perron–Frobenius theory (Seneta 1981; Zander 1992) the targets are reachable without power
limits iff the spectral radius ``ρ(F) < 1``; the component-wise minimal power vector is then
``p* = (I − F)^{-1} u`` and any feasible ``p`` satisfies ``p ≥ p*``, so the targets are reachable
under the limits iff additionally ``p* ≤ p_max``. Every min-``Σ p`` solution is therefore ``p*``.

Three ways to get ``p*``:

* :func:`feasible` — closed form via a linear solve, with the spectral radius;
* :func:`foschini_miljanic` — the distributed iteration ``p_i ← min(p_max,i, γ_i / SINR_i · p_i)``
  in which each link only needs its own measured SINR (a standard interference function,
  Yates 1995, so it converges from any start to the least fixed point of the capped map);
* :func:`min_power_lp` — minimise ``Σ p`` subject to the SINR constraints as a linear program
  (Pyomo + HiGHS), useful as a building block inside larger RRM formulations.

References
----------
* G. J. Foschini and Z. Miljanic, "A simple distributed autonomous power control algorithm and
  its convergence," IEEE Trans. Veh. Technol., 42(4):641–646, 1993.
* J. Zander, "Performance of optimum transmitter power control in cellular radio systems,"
  IEEE Trans. Veh. Technol., 41(1):57–62, 1992.
* R. D. Yates, "A framework for uplink power control in cellular radio systems," IEEE J. Sel.
  Areas Commun., 13(7):1341–1347, 1995.
* E. Seneta, *Non-negative Matrices and Markov Chains*, 2nd ed., Springer, 1981.

Example
-------
>>> import numpy as np
>>> G = np.array([[1.0, 0.1], [0.2, 1.0]])
>>> rep = feasible(G, noise_w=0.01, target_sinr=2.0)
>>> bool(rep.feasible), round(rep.spectral_radius, 4)
(True, 0.2828)
>>> np.round(foschini_miljanic(G, 0.01, 2.0, p_max_w=1.0).power_w, 6)
array([0.026087, 0.030435])
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from twinnet.errors import InputError
from twinnet.rrm.solvers import solve

FloatArray = NDArray[np.float64]

__all__ = [
    "FeasibilityReport",
    "PowerControlResult",
    "feasible",
    "foschini_miljanic",
    "min_power_lp",
    "normalised_gain_matrix",
    "sinr",
    "spectral_radius",
]

#: Relative slack used when deciding that an SINR target is met or a power limit is reached.
_RTOL = 1e-6


# --------------------------------------------------------------------------------------------
# validation


def _gain_matrix(G: ArrayLike) -> FloatArray:
    g = np.asarray(G, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] == 0:
        raise InputError("G", getattr(g, "shape", g), "a square gain matrix [L, L] with L ≥ 1")
    if not np.all(np.isfinite(g)):
        raise InputError("G", g, "finite linear gains")
    if np.any(g < 0):
        raise InputError("G", g, "non-negative linear gains (G[i, k] ≥ 0)")
    if np.any(np.diag(g) <= 0):
        raise InputError("G", np.diag(g), "positive own-link gains on the diagonal (G[i, i] > 0)")
    return g


def _per_link(value: ArrayLike, n: int, name: str, *, allow_inf: bool = False) -> FloatArray:
    v = np.asarray(value, dtype=np.float64)
    if v.ndim > 1 or (v.ndim == 1 and v.shape[0] != n):
        raise InputError(name, v.shape, f"a scalar or a vector of length L = {n}")
    v = np.broadcast_to(v, (n,)).astype(np.float64)
    if np.any(np.isnan(v)) or (not allow_inf and not np.all(np.isfinite(v))):
        raise InputError(name, value, "finite values" if not allow_inf else "no NaN values")
    if np.any(v <= 0):
        raise InputError(name, value, "positive values")
    return v


def _inputs(
    G: ArrayLike, noise_w: ArrayLike, target_sinr: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    g = _gain_matrix(G)
    n = g.shape[0]
    return g, _per_link(noise_w, n, "noise_w"), _per_link(target_sinr, n, "target_sinr")


# --------------------------------------------------------------------------------------------
# building blocks


def normalised_gain_matrix(
    G: ArrayLike, noise_w: ArrayLike, target_sinr: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Normalised interference matrix ``F`` [L, L] and noise-only power vector ``u`` [L] [W].

    ``F = diag(γ / G_ii) · offdiag(G)`` and ``u = γ N / G_ii``; the SINR constraints read
    ``p ≥ F p + u`` (Zander 1992).

    Parameters
    ----------
    G : [L, L] linear gains, ``G[i, k]`` from transmitter ``k`` to receiver ``i``.
    noise_w : scalar or [L], receiver noise [W] (> 0).
    target_sinr : scalar or [L], linear SINR targets ``γ`` (> 0); from dB use ``10**(x/10)``.
    """
    g, noise, gamma = _inputs(G, noise_w, target_sinr)
    own = np.diag(g)
    F = (gamma / own)[:, None] * g
    np.fill_diagonal(F, 0.0)
    return F, gamma * noise / own


def spectral_radius(F: ArrayLike) -> float:
    """Spectral radius ``max |λ(F)|`` of a square matrix (the Perron root when ``F ≥ 0``)."""
    f = np.asarray(F, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] != f.shape[1]:
        raise InputError("F", f.shape, "a square matrix")
    if f.size == 0:
        return 0.0
    return float(np.max(np.abs(np.linalg.eigvals(f))))


def sinr(G: ArrayLike, power_w: ArrayLike, noise_w: ArrayLike) -> FloatArray:
    """Linear SINR [L] of every link: ``G_ii p_i / (Σ_{k≠i} G_ik p_k + N_i)``.

    ``G`` [L, L] linear gains (own gain on the diagonal), ``power_w`` [L] [W], ``noise_w``
    scalar or [L] [W].
    """
    g = _gain_matrix(G)
    n = g.shape[0]
    p = np.asarray(power_w, dtype=np.float64)
    if p.shape != (n,):
        raise InputError("power_w", p.shape, f"a vector of length L = {n}")
    if np.any(p < 0) or np.any(np.isnan(p)):
        raise InputError("power_w", power_w, "non-negative powers [W]")
    noise = _per_link(noise_w, n, "noise_w")
    own = np.diag(g) * p
    interference = g @ p - own
    return np.asarray(own / (interference + noise), dtype=np.float64)


def _unbounded_links(F: FloatArray) -> tuple[int, ...]:
    """Links whose minimal power is infinite when ``ρ(F) ≥ 1`` (no power limits).

    ``p_i`` depends on ``p_k`` when ``F[i, k] > 0``. A strongly connected class with spectral
    radius ≥ 1 cannot be served at finite power (its noise term is positive), nor can any link
    whose interference reaches such a class (Seneta 1981, ch. 1–2, reducible matrices).
    """
    n = F.shape[0]
    adjacency = csr_matrix(F > 0)
    n_classes, label = connected_components(adjacency, directed=True, connection="strong")
    bad = np.zeros(n, dtype=bool)
    for c in range(n_classes):
        idx = np.flatnonzero(label == c)
        if spectral_radius(F[np.ix_(idx, idx)]) >= 1.0 - 1e-12:
            bad[idx] = True
    # propagate: i is unbounded if it interferes-depends on an unbounded link
    changed = True
    while changed:
        reach = (F[:, bad] > 0).any(axis=1) & ~bad
        changed = bool(reach.any())
        bad |= reach
    return tuple(int(i) for i in np.flatnonzero(bad))


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class FeasibilityReport:
    """Perron–Frobenius feasibility of a set of SINR targets.

    ``feasible`` is true when ``ρ(F) < 1`` and (if power limits were given) ``p* ≤ p_max``.
    ``min_power_w`` is ``p* = (I − F)^{-1} u`` [W] (``None`` when ``ρ(F) ≥ 1``);
    ``infeasible_links`` names the links that cannot reach their target: those with
    unbounded minimal power when ``ρ(F) ≥ 1``, else those with ``p*_i > p_max,i``.
    """

    feasible: bool
    spectral_radius: float
    min_power_w: FloatArray | None
    infeasible_links: tuple[int, ...]
    message: str


@dataclass(frozen=True)
class PowerControlResult:
    """Outcome of a power-control algorithm.

    Attributes
    ----------
    power_w : [L] transmit powers [W] (for an infeasible LP: the Foschini–Miljanic fixed point
        of the capped iteration, i.e. the minimal-interference operating point).
    sinr : [L] achieved linear SINR at ``power_w``.
    target_sinr : [L] linear targets.
    feasible : all targets met within the power limits.
    infeasible_links : links that cannot reach their target (at ``p_max`` below target, or
        with unbounded minimal power when ``ρ(F) ≥ 1`` and there are no limits).
    spectral_radius : ``ρ(F)`` of the normalised gain matrix.
    method : ``"foschini_miljanic"`` or ``"lp"``.
    status : ``"optimal"``, ``"converged"``, ``"infeasible"``, ``"max_iter"``, ``"diverged"``
        or the solver's termination condition.
    iterations : iterations used (Foschini–Miljanic only).
    converged : the iteration reached its tolerance (always true for a solved LP).
    solve_time_s : wall time [s].
    message : a human-readable summary naming infeasible links.
    """

    power_w: FloatArray
    sinr: FloatArray
    target_sinr: FloatArray
    feasible: bool
    infeasible_links: tuple[int, ...]
    spectral_radius: float
    method: str
    status: str
    iterations: int | None = None
    converged: bool = True
    solve_time_s: float = 0.0
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sinr_db(self) -> FloatArray:
        """Achieved SINR [dB] ``[L]``."""
        return np.asarray(10.0 * np.log10(np.maximum(self.sinr, 1e-300)), dtype=np.float64)

    @property
    def total_power_w(self) -> float:
        """Sum of transmit powers [W]."""
        return float(np.sum(self.power_w))


def _links_text(links: tuple[int, ...]) -> str:
    return ", ".join(str(i) for i in links)


# --------------------------------------------------------------------------------------------
# closed form


def feasible(
    G: ArrayLike,
    noise_w: ArrayLike,
    target_sinr: ArrayLike,
    p_max_w: ArrayLike | None = None,
) -> FeasibilityReport:
    """Can every link reach its SINR target? Perron–Frobenius test and minimal powers.

    Parameters
    ----------
    G : [L, L] linear gains, ``G[i, k]`` from transmitter ``k`` to receiver ``i``.
    noise_w : scalar or [L] noise power [W].
    target_sinr : scalar or [L] linear SINR targets.
    p_max_w : optional scalar or [L] power limits [W] (``inf`` allowed).

    Returns
    -------
    FeasibilityReport with ``ρ(F)``, ``p* = (I − F)^{-1} u`` [L] [W] when ``ρ(F) < 1``, and the
    links that cannot reach their target (Zander 1992; Seneta 1981).
    """
    F, u = normalised_gain_matrix(G, noise_w, target_sinr)
    n = F.shape[0]
    rho = spectral_radius(F)
    if rho >= 1.0:
        bad = _unbounded_links(F)
        return FeasibilityReport(
            False, rho, None, bad,
            f"spectral radius ρ(F) = {rho:.6g} ≥ 1: the SINR targets are infeasible at any "
            f"power; links without finite minimal power: {_links_text(bad)}",
        )
    p_star = np.linalg.solve(np.eye(n) - F, u)
    p_star = np.maximum(p_star, 0.0)  # exact solution is ≥ u > 0; clip round-off only
    if p_max_w is None:
        return FeasibilityReport(True, rho, p_star, (), f"feasible: ρ(F) = {rho:.6g} < 1")
    p_max = _per_link(p_max_w, n, "p_max_w", allow_inf=True)
    over = tuple(int(i) for i in np.flatnonzero(p_star > p_max * (1.0 + _RTOL)))
    if over:
        return FeasibilityReport(
            False, rho, p_star, over,
            f"ρ(F) = {rho:.6g} < 1 but the minimal powers exceed p_max on links "
            f"{_links_text(over)}",
        )
    return FeasibilityReport(True, rho, p_star, (), f"feasible: ρ(F) = {rho:.6g} < 1, p* ≤ p_max")


# --------------------------------------------------------------------------------------------
# Foschini–Miljanic


def _prepare(G: ArrayLike, noise_w: ArrayLike, target_sinr: ArrayLike, p_max_w: ArrayLike
             ) -> tuple[FloatArray, FloatArray, FloatArray, int, FloatArray, FloatArray,
                        FloatArray]:
    """Validated inputs shared by the solvers: ``F, u, G, L, γ, noise, p_max``."""
    F, u = normalised_gain_matrix(G, noise_w, target_sinr)
    g = np.asarray(G, dtype=np.float64)
    n = F.shape[0]
    gamma = _per_link(target_sinr, n, "target_sinr")
    noise = _per_link(noise_w, n, "noise_w")
    p_max = _per_link(p_max_w, n, "p_max_w", allow_inf=True)
    return F, u, g, n, gamma, noise, p_max


def foschini_miljanic(
    G: ArrayLike,
    noise_w: ArrayLike,
    target_sinr: ArrayLike,
    p_max_w: ArrayLike = np.inf,
    p0: ArrayLike | None = None,
    max_iter: int = 100_000,
    tol: float = 1e-10,
) -> PowerControlResult:
    """Distributed power control ``p_i ← min(p_max,i, γ_i / SINR_i · p_i)`` (Foschini–Miljanic).

    Each link scales its power by the ratio of target to measured SINR and clips at its limit.
    Because ``γ_i / SINR_i · p_i = γ_i (Σ_{k≠i} G_ik p_k + N_i) / G_ii = (F p + u)_i`` the update
    is evaluated in that form, which is also defined at ``p_i = 0``. The capped map is a standard
    interference function (Yates 1995): from any ``p0 ≥ 0`` it converges to its least fixed point,
    which is ``p*`` when the targets are feasible (geometrically, at rate ``ρ(F)``).

    Parameters
    ----------
    G : [L, L] linear gains, ``G[i, k]`` from transmitter ``k`` to receiver ``i``.
    noise_w : scalar or [L] noise [W].
    target_sinr : scalar or [L] linear SINR targets.
    p_max_w : scalar or [L] power limits [W] (default ``inf``: no limits).
    p0 : [L] initial powers [W] (default zeros).
    max_iter : iteration cap.
    tol : stop when ``max |Δp| ≤ tol · max p``.

    Returns
    -------
    PowerControlResult with ``method="foschini_miljanic"``; ``infeasible_links`` are the links
    sitting at ``p_max`` below target (or diverging when there are no limits and ``ρ(F) ≥ 1``).
    """
    t0 = time.perf_counter()
    F, u, g, n, gamma, noise, p_max = _prepare(G, noise_w, target_sinr, p_max_w)
    if max_iter < 1:
        raise InputError("max_iter", max_iter, "a positive number of iterations")
    if not tol > 0:
        raise InputError("tol", tol, "a positive tolerance")
    if p0 is None:
        p = np.zeros(n)
    else:
        p = np.asarray(p0, dtype=np.float64)
        if p.shape != (n,) or np.any(p < 0) or not np.all(np.isfinite(p)):
            raise InputError("p0", p0, f"a vector of {n} finite non-negative powers [W]")
        p = np.minimum(p.copy(), p_max)
    rho = spectral_radius(F)

    status = "max_iter"
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - `it` is reported after the loop
        p_new = np.minimum(p_max, F @ p + u)
        step = float(np.max(np.abs(p_new - p)))
        p = p_new
        if not np.all(np.isfinite(p)) or float(np.max(p)) > 1e300:
            status = "diverged"
            break
        if step <= tol * max(float(np.max(p)), 1e-300):
            status, converged = "converged", True
            break

    achieved = np.zeros(n) if status == "diverged" else sinr(g, p, noise)
    if status == "diverged" or (not converged and rho >= 1.0 and np.all(np.isinf(p_max))):
        bad = _unbounded_links(F)
        status = "diverged"
    else:
        at_limit = p >= p_max * (1.0 - 1e-9)
        bad = tuple(int(i) for i in np.flatnonzero(at_limit & (achieved < gamma * (1 - _RTOL))))
    ok = converged and not bad and bool(np.all(achieved >= gamma * (1 - _RTOL)))
    if ok:
        msg = f"converged in {it} iterations; all {n} targets met (ρ(F) = {rho:.6g})"
    elif bad:
        msg = (f"{status} after {it} iterations; links {_links_text(bad)} cannot reach their "
               f"SINR target (ρ(F) = {rho:.6g})")
    else:
        msg = f"{status} after {it} iterations without meeting all targets (ρ(F) = {rho:.6g})"
    return PowerControlResult(
        power_w=p, sinr=achieved, target_sinr=gamma, feasible=ok, infeasible_links=bad,
        spectral_radius=rho, method="foschini_miljanic", status=status, iterations=it,
        converged=converged, solve_time_s=time.perf_counter() - t0, message=msg,
    )


# --------------------------------------------------------------------------------------------
# LP


def min_power_lp(
    G: ArrayLike,
    noise_w: ArrayLike,
    target_sinr: ArrayLike,
    p_max_w: ArrayLike = np.inf,
    solver: str | None = None,
) -> PowerControlResult:
    """Minimum total power meeting every SINR target, as a linear program (Pyomo + HiGHS).

    minimise ``Σ_i p_i`` subject to ``G_ii p_i ≥ γ_i (Σ_{k≠i} G_ik p_k + N_i)`` and
    ``0 ≤ p ≤ p_max``. The constraints are written in the normalised form ``p − F p ≥ u`` and
    the powers scaled by ``max u`` so that HiGHS sees coefficients of order one whatever the
    path loss. When feasible the optimum is ``p* = (I − F)^{-1} u`` (see module docstring).

    When the LP is infeasible the result has ``feasible=False``, the spectral radius, and the
    links that cannot reach their target: with ``ρ(F) ≥ 1`` and no limits, those with unbounded
    minimal power; otherwise those left at ``p_max`` below target by the capped
    Foschini–Miljanic iteration, whose fixed point is returned as ``power_w``.

    Parameters
    ----------
    G : [L, L] linear gains, ``G[i, k]`` from transmitter ``k`` to receiver ``i``.
    noise_w : scalar or [L] noise [W].
    target_sinr : scalar or [L] linear SINR targets.
    p_max_w : scalar or [L] power limits [W] (default ``inf``).
    solver : Pyomo solver name (default ``"appsi_highs"``).
    """
    t0 = time.perf_counter()
    F, u, g, n, gamma, noise, p_max = _prepare(G, noise_w, target_sinr, p_max_w)
    rho = spectral_radius(F)
    scale = float(np.max(u))

    m = pyo.ConcreteModel(name="min_power_sinr")
    m.L = pyo.RangeSet(0, n - 1)

    def _bounds(_m: Any, i: int) -> tuple[float, float | None]:
        return (0.0, float(p_max[i] / scale) if np.isfinite(p_max[i]) else None)

    m.x = pyo.Var(m.L, bounds=_bounds)  # p = scale · x

    def _sinr_rule(_m: Any, i: int) -> Any:
        interference = sum(float(F[i, k]) * _m.x[k] for k in np.flatnonzero(F[i] > 0))
        return _m.x[i] - interference >= float(u[i] / scale)

    m.sinr = pyo.Constraint(m.L, rule=_sinr_rule)
    m.total = pyo.Objective(expr=sum(m.x[i] for i in m.L), sense=pyo.minimize)
    info = solve(m, solver=solver)

    if info.optimal and info.has_solution:
        p = np.array([max(float(pyo.value(m.x[i])), 0.0) * scale for i in range(n)])
        achieved = sinr(g, p, noise)
        return PowerControlResult(
            power_w=p, sinr=achieved, target_sinr=gamma, feasible=True, infeasible_links=(),
            spectral_radius=rho, method="lp", status="optimal", iterations=None,
            converged=True, solve_time_s=time.perf_counter() - t0,
            message=f"optimal: total power {p.sum():.6g} W (ρ(F) = {rho:.6g})",
            extra={"solver": info.to_dict()},
        )

    # infeasible (or the solver failed): explain which links cannot make it
    if rho >= 1.0 and np.all(np.isinf(p_max)):
        bad = _unbounded_links(F)
        p = np.full(n, np.inf)
        achieved = np.zeros(n)
        why = (f"spectral radius ρ(F) = {rho:.6g} ≥ 1: no finite powers meet the targets; "
               f"links without finite minimal power: {_links_text(bad)}")
    else:
        fm = foschini_miljanic(g, noise, gamma, p_max, max_iter=200_000, tol=1e-12)
        p, achieved, bad = fm.power_w, fm.sinr, fm.infeasible_links
        head = (f"spectral radius ρ(F) = {rho:.6g} ≥ 1" if rho >= 1.0
                else f"ρ(F) = {rho:.6g} < 1 but the power limits bind")
        why = (f"{head}; links {_links_text(bad)} stay below their SINR target at p_max "
               "(Foschini–Miljanic fixed point)")
    status = info.status
    return PowerControlResult(
        power_w=p, sinr=achieved, target_sinr=gamma, feasible=False, infeasible_links=bad,
        spectral_radius=rho, method="lp", status=status, iterations=None, converged=True,
        solve_time_s=time.perf_counter() - t0, message=f"{status}: {why}",
        extra={"solver": info.to_dict()},
    )
