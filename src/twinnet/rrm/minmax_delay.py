"""LINKs' RRM problem: minimise the largest IoT uplink delay over powers and resource blocks.

System model (paper §II-A). N IoT devices send D_i bits each to one base station over M
orthogonal resource blocks (RBs) of bandwidth B (uplink OMA: an RB carries at most one device).

* (1) channel gain ``g = κ d^-α |h|² ζ`` — :func:`channel_gains` draws it per device and RB
  (Rayleigh |h|² ~ Exp(1) independent per RB, log-normal shadowing ζ per device);
* (2) SINR of device i on RB j, ``γ_ij = g_ij p_ij / (I_j + N0_j)``, where ``I_j`` is the
  inter-cell interference ``Σ_k g_k p_k`` received on RB j from other cells' devices, taken here
  as given (measured or predicted by the twin) and ``N0_j`` the noise power on the RB;
* (7) rate ``R_ij = B log2(1 + γ_ij)``.

Problem (paper §II-B)::

    OPT (3):  min_{p, b}  max_i  D_i / Σ_j b_ij R_ij
        (4)   0 ≤ p ≤ p_max
        (5)   γ_ij ≥ β on every RB device i uses
        (6)   b_ij ∈ {0, 1},  plus OMA  Σ_i b_ij ≤ 1  (and, optionally, Σ_j b_ij ≤ 1)

``p_ij`` is the power device i puts on RB j (the paper's p_i is the power on the RB it uses;
with several RBs each is bounded by p_max — a per-RB, PSD-like bound; a total-power budget
across RBs is *not* modelled). β is held in dB (``beta_db``); ``beta_linear`` is 10^(β/10).

Exact solution (:func:`solve_minmax_delay`), two stages:

1. *Min-max delay.* With fixed external interference the RBs do not interact, and every R_ij
   grows with p_ij, so p = p_max is optimal for (3) and (5) reduces to a fixed admissibility
   mask ``A_ij = [g_ij p_max / (I_j + N0_j) ≥ β]``. With ``c_ij = R_ij(p_max) / D_i`` the
   problem ``min_b max_i D_i / Σ_j b_ij R_ij`` equals ``1 / max z`` of the MILP::

       max z   s.t.  Σ_j c_ij b_ij ≥ z      ∀i with D_i > 0       (delay epigraph)
                     Σ_i b_ij ≤ 1          ∀j                    (OMA)
                     Σ_j b_ij ≥ 1          ∀i with D_i > 0       (every device served)
                     [Σ_j b_ij ≤ 1         ∀i  when multi_rb is False]
                     b_ij ∈ {0, 1}, b_ij = 0 where A_ij = 0       (5), (6)

   which is exact (no approximation; T* = 1/z*): ``method="milp"`` solves it in one go with
   HiGHS (warm-started with the greedy allocation; gap from the MILP dual bound). Its LP bound
   is weak — z sits on the right-hand side of every epigraph row, so the solver cannot derive
   knapsack-cover cuts — and beyond a few dozen devices the gap stalls (≈ 10 % after 60 s at
   N = 50). ``method="bisection"`` (default, equally exact) therefore bisects on z: for a
   target z_t it asks whether some assignment satisfies ``Σ_j min(c_ij, z_t) b_ij ≥ z_t`` for
   every device (truncating a coefficient at z_t changes nothing for binary b, but every row is
   now a knapsack row with a constant right-hand side, which HiGHS strengthens with cover cuts);
   a feasible answer raises the lower end to the z its assignment actually reaches, an
   infeasible one (a proof) lowers the upper end; it stops when the two are within the relative
   ``mip_gap``. Hard N = 50 instances: optimal to 1e-4 in 9–23 s (benchmarks/rrm_minmax_delay.py).
   Whether any assignment exists at all is decided first, exactly, by a bipartite matching on
   A (Hall's theorem: every device with data needs its own admissible RB); when none exists the
   problem is reported infeasible with its cause without calling the solver.
2. *Minimum power at T*.* With b fixed, each device independently solves the convex problem
   ``min Σ_j p_ij  s.t.  Σ_j B log2(1 + a_ij p_ij) ≥ D_i / T*,  β/a_ij ≤ p_ij ≤ p_max``
   (a_ij = g_ij/(I_j+N0_j)), whose KKT solution is box-constrained water-filling
   ``p_ij = clip(λ_i − 1/a_ij, β/a_ij, p_max)``; the water level λ_i is found by bisection (rate
   is monotone in λ_i), always from the feasible side, so every delay stays ≤ T*.
   ``power_mode="per_device"`` instead uses one power p_i on all RBs of device i (the paper's
   literal p_i) — bisection on p_i; ``"max"`` keeps p_max.

Scope / multi-cell coupling: this module takes the inter-cell interference I_j as an input,
which makes it exact for the single-cell problem of the paper. When the interfering devices of
neighbouring cells are optimised jointly, (2) couples the cells: the rate on RB j depends on the
other cells' powers, and (5) becomes ``g_ij p_ij ≥ β (Σ_k g_kj p_k + N0_j)`` — linear in p for a
fixed assignment (a standard interference function: feasible iff the spectral radius of the
normalised gain matrix is < 1, minimum powers from one linear solve or LP), bilinear in (b, p)
otherwise. An exact joint formulation then needs discrete rates (an MCS table): binary
x_ijm = "device i uses RB j at MCS m", SINR rows ``g_ij p_ij ≥ γ_m (Σ_k g_kj p_kj + N0_j) −
Big-M (1 − x_ijm)``, and the min-max delay epigraph over the (now constant) MCS rates — a MILP.
Not implemented here.

Baselines: :func:`greedy_allocation` (best remaining RB to the device with the largest current
delay), :func:`random_allocation`, and :func:`brute_force_minmax` (enumerates every assignment of
every RB to a device or to none — tiny instances only; used to prove both exact methods
optimal).

Every result has :meth:`MinMaxDelayResult.check`, which evaluates each constraint one by one
(LINKs §III-A reflexion) and returns named :class:`Violation` objects.

References
----------
* S. Jiang, B. Lin, Y. Wu and Y. Gao, "LINKs: Large Language Model Integrated Management for
  6G Empowered Digital Twin NetworKs" (LINKs).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError
from twinnet.radio.channel import channel_gains
from twinnet.radio.noise import thermal_noise_w
from twinnet.rrm.solvers import SolveInfo, require_solver, solve, solver_family

__all__ = [
    "CONSTRAINTS",
    "IoTUplinkProblem",
    "Method",
    "MinMaxDelayResult",
    "PowerMode",
    "Violation",
    "brute_force_minmax",
    "check_allocation",
    "diagnose_infeasibility",
    "evaluate_allocation",
    "greedy_allocation",
    "minimize_power",
    "random_allocation",
    "solve_minmax_delay",
]

FloatArray = NDArray[np.float64]
PowerMode = Literal["per_rb", "per_device", "max"]
Method = Literal["bisection", "milp"]

#: Constraint names used in :class:`Violation` (and by the reflexion loop), with their source.
CONSTRAINTS: dict[str, str] = {
    "shape": "assignment/power arrays have shape [N, M]",
    "binary": "(6) b_ij ∈ {0, 1}",
    "oma": "OMA: each RB carries at most one device (Σ_i b_ij ≤ 1); also raised when there "
           "are not enough admissible RBs for every device",
    "single_rb": "one RB per device (Σ_j b_ij ≤ 1) when multi_rb is False",
    "power": "(4) 0 ≤ p_ij ≤ p_max, and no power on RBs the device does not hold",
    "sinr": "(5) γ_ij ≥ β on every RB device i uses (also: a device reaches β on no RB at p_max)",
    "served": "every device with data has at least one RB (finite delay in (3))",
    "deadline": "max_i delay_i ≤ deadline_s (QoS requirement, when set)",
}

_REL_TOL = 1e-6


def _db_to_lin(x: float) -> float:
    return float(10.0 ** (x / 10.0))


# --------------------------------------------------------------------------- problem
def _vector(name: str, value: ArrayLike, size: int, *, positive: bool, allow_zero: bool
            ) -> FloatArray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if arr.shape != (size,):
        raise InputError(name, value, f"a scalar or an array of shape ({size},)")
    if not np.all(np.isfinite(arr)):
        raise InputError(name, value, "finite values")
    if positive and (np.any(arr < 0) or (not allow_zero and np.any(arr == 0))):
        raise InputError(name, value, ">= 0" if allow_zero else "> 0")
    return arr


@dataclass(frozen=True, eq=False)
class IoTUplinkProblem:
    """One instance of OPT (3)–(7) for a single cell.

    ``data_bits`` [N]: D_i ≥ 0 (a device with D_i = 0 needs no RB). ``gains`` [N, M]: linear
    g_ij ≥ 0 (eq. (1); use :func:`channel_gains` or :meth:`from_distances`, or give a measured
    matrix). ``rb_bandwidth_hz``: B of one RB. ``noise_w`` and ``interference_w``: N0_j and the
    external (inter-cell) interference I_j [W] on each RB (scalar or [M]). ``p_max_w``: p_max [W]
    (scalar or [N]). ``beta_db``: SINR threshold β **in dB** (``beta_linear`` = 10^(β/10)).
    ``multi_rb``: whether a device may use several RBs. ``deadline_s``: optional QoS bound on
    the largest delay, checked by :meth:`MinMaxDelayResult.check`.
    """

    data_bits: FloatArray
    gains: FloatArray
    rb_bandwidth_hz: float
    noise_w: FloatArray
    p_max_w: FloatArray
    beta_db: float
    interference_w: FloatArray = field(default_factory=lambda: np.zeros(0))
    multi_rb: bool = True
    deadline_s: float | None = None

    def __post_init__(self) -> None:
        d = np.asarray(self.data_bits, dtype=float)
        if d.ndim != 1 or d.size == 0:
            raise InputError("data_bits", self.data_bits, "a non-empty 1-D array (one per device)")
        if not np.all(np.isfinite(d)) or np.any(d < 0):
            raise InputError("data_bits", self.data_bits, "finite data sizes >= 0 bits")
        n = d.size
        g = np.asarray(self.gains, dtype=float)
        if g.ndim != 2 or g.shape[0] != n or g.shape[1] < 1:
            raise InputError("gains", f"shape {g.shape}",
                             f"a 2-D array of shape ({n}, M) with M >= 1 (devices × RBs)")
        if not np.all(np.isfinite(g)) or np.any(g < 0):
            raise InputError("gains", "matrix", "finite linear gains >= 0")
        m = g.shape[1]
        bw = self.rb_bandwidth_hz
        if not (isinstance(bw, int | float | np.floating | np.integer) and math.isfinite(bw)
                and bw > 0):
            raise InputError("rb_bandwidth_hz", bw, "a positive finite bandwidth in Hz")
        noise = _vector("noise_w", self.noise_w, m, positive=True, allow_zero=False)
        interf_in = 0.0 if np.asarray(self.interference_w).size == 0 else self.interference_w
        interf = _vector("interference_w", interf_in, m, positive=True, allow_zero=True)
        pmax = _vector("p_max_w", self.p_max_w, n, positive=True, allow_zero=False)
        beta = self.beta_db
        if not (isinstance(beta, int | float | np.floating | np.integer) and math.isfinite(beta)):
            raise InputError("beta_db", beta, "a finite SINR threshold in dB")
        if self.deadline_s is not None and not (self.deadline_s > 0):
            raise InputError("deadline_s", self.deadline_s, "a positive delay in s, or None")
        object.__setattr__(self, "data_bits", d)
        object.__setattr__(self, "gains", g)
        object.__setattr__(self, "rb_bandwidth_hz", float(bw))
        object.__setattr__(self, "noise_w", noise)
        object.__setattr__(self, "interference_w", interf)
        object.__setattr__(self, "p_max_w", pmax)
        object.__setattr__(self, "beta_db", float(beta))
        object.__setattr__(self, "multi_rb", bool(self.multi_rb))

    # ---- constructors / variants
    @classmethod
    def from_distances(cls, distances_m: ArrayLike, data_bits: ArrayLike, n_rbs: int, *,
                       rb_bandwidth_hz: float = 180e3, p_max_w: ArrayLike = 0.2,
                       beta_db: float = 0.0, noise_w: ArrayLike | None = None,
                       interference_w: ArrayLike = 0.0, kappa: float | None = None,
                       alpha: float = 3.5, shadowing_std_db: float = 6.0,
                       rayleigh: bool = True, rng: np.random.Generator | int | None = None,
                       multi_rb: bool = True, deadline_s: float | None = None
                       ) -> IoTUplinkProblem:
        """Build a problem whose gains follow (1) (:func:`channel_gains`).

        Defaults: 180 kHz RBs (12 × 15 kHz), p_max = 0.2 W (23 dBm), β = 0 dB, noise =
        thermal noise with a 5 dB BS noise figure, κ = free space at 6 GHz, α = 3.5.
        """
        g = channel_gains(distances_m, n_rbs, kappa=kappa, alpha=alpha,
                          shadowing_std_db=shadowing_std_db, rayleigh=rayleigh, rng=rng)
        n0 = thermal_noise_w(rb_bandwidth_hz) if noise_w is None else noise_w
        return cls(data_bits=np.asarray(data_bits, dtype=float), gains=g,
                   rb_bandwidth_hz=rb_bandwidth_hz, noise_w=np.asarray(n0, dtype=float),
                   p_max_w=np.asarray(p_max_w, dtype=float), beta_db=beta_db,
                   interference_w=np.asarray(interference_w, dtype=float), multi_rb=multi_rb,
                   deadline_s=deadline_s)

    def with_beta_db(self, beta_db: float) -> IoTUplinkProblem:
        """Same instance with SINR threshold β = ``beta_db`` [dB]."""
        return replace(self, beta_db=beta_db)

    def with_rbs(self, n_rbs: int) -> IoTUplinkProblem:
        """The instance restricted to its first ``n_rbs`` RBs (a sub-band of the carrier)."""
        if not (isinstance(n_rbs, int | np.integer) and 1 <= n_rbs <= self.n_rbs):
            raise InputError("n_rbs", n_rbs, f"an integer in [1, {self.n_rbs}]")
        k = int(n_rbs)
        return replace(self, gains=self.gains[:, :k], noise_w=self.noise_w[:k],
                       interference_w=self.interference_w[:k])

    # ---- derived quantities
    @property
    def n_devices(self) -> int:
        return int(self.data_bits.size)

    @property
    def n_rbs(self) -> int:
        return int(self.gains.shape[1])

    @property
    def beta_linear(self) -> float:
        """β as a linear power ratio, 10^(β_dB/10)."""
        return _db_to_lin(self.beta_db)

    @property
    def snr_per_watt(self) -> FloatArray:
        """a_ij = g_ij / (I_j + N0_j) [1/W]: SINR (2) per watt of transmit power."""
        return np.asarray(self.gains / (self.noise_w + self.interference_w)[None, :])

    def sinr(self, power_w: ArrayLike) -> FloatArray:
        """γ_ij of (2) for powers ``power_w`` ([N, M], or [N] = same power on every RB)."""
        p = np.asarray(power_w, dtype=float)
        if p.ndim == 1:
            p = np.broadcast_to(p[:, None], self.gains.shape)
        return np.asarray(self.snr_per_watt * p)

    def rate_bps(self, power_w: ArrayLike) -> FloatArray:
        """R_ij = B log2(1 + γ_ij) of (7) [bit/s], shape [N, M]."""
        return np.asarray(self.rb_bandwidth_hz * np.log2(1.0 + self.sinr(power_w)))

    @property
    def sinr_at_pmax(self) -> FloatArray:
        return self.sinr(self.p_max_w)

    @property
    def admissible(self) -> NDArray[np.bool_]:
        """A_ij: device i reaches β on RB j at p_max (constraint (5) at full power)."""
        return np.asarray(self.sinr_at_pmax >= self.beta_linear * (1.0 - 1e-12))

    @property
    def rate_at_pmax_bps(self) -> FloatArray:
        """R_ij(p_max), zero where (i, j) is not admissible — the MILP's coefficients."""
        return np.where(self.admissible, self.rate_bps(self.p_max_w), 0.0)

    @property
    def needs_rb(self) -> NDArray[np.bool_]:
        """Devices with data to send (D_i > 0)."""
        return np.asarray(self.data_bits > 0)

    def summary(self) -> dict[str, Any]:
        """Small JSON-friendly description (for evidence records)."""
        return {"n_devices": self.n_devices, "n_rbs": self.n_rbs,
                "rb_bandwidth_hz": self.rb_bandwidth_hz, "beta_db": self.beta_db,
                "multi_rb": self.multi_rb, "deadline_s": self.deadline_s,
                "total_data_bits": float(self.data_bits.sum()),
                "admissible_pairs": int(self.admissible.sum())}


# --------------------------------------------------------------------------- violations
@dataclass(frozen=True)
class Violation:
    """One failed constraint: ``constraint`` is a key of :data:`CONSTRAINTS`."""

    constraint: str
    message: str
    device: int | None = None
    rb: int | None = None
    value: float | None = None
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"constraint": self.constraint, "message": self.message, "device": self.device,
                "rb": self.rb, "value": self.value, "limit": self.limit}


def _max_matching(adm: NDArray[np.bool_]) -> int:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    if adm.size == 0 or not adm.any():
        return 0
    match = maximum_bipartite_matching(csr_matrix(adm.astype(np.int8)), perm_type="column")
    return int(np.count_nonzero(match >= 0))


def diagnose_infeasibility(problem: IoTUplinkProblem) -> list[Violation]:
    """Why no assignment can serve every device (empty list when one exists).

    Exact: a feasible assignment exists iff the admissibility graph A (constraint (5) at p_max)
    has a matching covering every device with data (each needs its own RB under OMA).
    Returns one ``"sinr"`` violation per device that reaches β on no RB at p_max, and an
    ``"oma"`` violation when the devices that could each be served still outnumber the RBs
    they can share.
    """
    need = problem.needs_rb
    adm = problem.admissible[need]
    idx = np.flatnonzero(need)
    out: list[Violation] = []
    best_db = 10.0 * np.log10(np.maximum(problem.sinr_at_pmax.max(axis=1), 1e-300))
    for k, i in enumerate(idx):
        if not adm[k].any():
            out.append(Violation(
                "sinr", f"device {i} reaches at best {best_db[i]:.2f} dB SINR at p_max, below "
                        f"β = {problem.beta_db:.2f} dB, on every RB: it cannot be served",
                device=int(i), value=float(best_db[i]), limit=problem.beta_db))
    reachable = adm[adm.any(axis=1)]
    matched = _max_matching(reachable)
    if matched < reachable.shape[0]:
        out.append(Violation(
            "oma", f"only {matched} of the {reachable.shape[0]} devices that reach β can get "
                   f"an RB of their own ({problem.n_rbs} RBs, OMA): add RBs or relax β",
            value=float(matched), limit=float(reachable.shape[0])))
    return out


# --------------------------------------------------------------------------- result
@dataclass(eq=False)
class MinMaxDelayResult:
    """An allocation for :class:`IoTUplinkProblem` and its figures of merit.

    ``assignment`` b [N, M] (0/1), ``power_w`` p [N, M] (0 on RBs a device does not use),
    ``rate_bps`` and ``delay_s`` per device (delay = D_i / Σ_j R_ij; ∞ when unserved; 0 for
    D_i = 0), ``max_delay_s`` the objective (3) at ``power_w``; ``max_delay_pmax_s`` the same at
    p_max (stage 1; equal to ``max_delay_s`` up to the power stage's tolerance).
    ``lower_bound_s``: a proven lower bound on the optimum (MILP dual bound / brute force);
    ``mip_gap``: relative gap of the MILP (0 when proven optimal, ``None`` for heuristics).
    ``status``: ``optimal`` | ``feasible`` (incumbent at a limit, or a heuristic that serves
    everyone) | ``infeasible`` (proven) | ``no_solution`` | ``unserved`` (a heuristic left some
    device without an RB) | ``given`` (evaluated, see :func:`evaluate_allocation`).
    """

    method: str
    status: str
    assignment: NDArray[np.int8]
    power_w: FloatArray
    rate_bps: FloatArray
    delay_s: FloatArray
    max_delay_s: float
    max_delay_pmax_s: float
    lower_bound_s: float | None = None
    mip_gap: float | None = None
    solve_time_s: float = 0.0
    solver: str | None = None
    power_mode: str = "max"
    solve_info: SolveInfo | None = None
    diagnosis: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_power_w(self) -> float:
        return float(self.power_w.sum())

    @property
    def has_allocation(self) -> bool:
        """True when the allocation serves every device (finite max delay)."""
        return bool(math.isfinite(self.max_delay_s))

    def check(self, problem: IoTUplinkProblem, tol: float = _REL_TOL) -> list[Violation]:
        """Evaluate every constraint one by one; return the violations (empty = all hold).

        Order: shape; (6) binary; OMA (one device per RB); single RB per device (when
        ``multi_rb`` is False); (4) power bounds (and no power on RBs not held); (5) SINR ≥ β
        on every used RB; every device with data served — followed, when some device is not,
        by the exact cause from :func:`diagnose_infeasibility` (``sinr`` / ``oma``); deadline.
        ``tol`` is a relative tolerance on (4) and (5) and on the deadline.
        """
        return check_allocation(problem, self.assignment, self.power_w, tol=tol)

    def to_dict(self, arrays: bool = False) -> dict[str, Any]:
        """JSON-friendly summary; ``arrays=True`` adds b, p, rates and delays as lists."""
        def f(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        out: dict[str, Any] = {
            "method": self.method, "status": self.status, "max_delay_s": f(self.max_delay_s),
            "max_delay_pmax_s": f(self.max_delay_pmax_s), "lower_bound_s": f(self.lower_bound_s),
            "mip_gap": self.mip_gap, "solve_time_s": self.solve_time_s, "solver": self.solver,
            "power_mode": self.power_mode, "total_power_w": self.total_power_w,
            "rbs_used": int(self.assignment.sum()), "notes": list(self.notes),
            "diagnosis": [v.to_dict() for v in self.diagnosis],
            "solver_calls": len(self.trace),
        }
        if arrays:
            out["assignment"] = self.assignment.tolist()
            out["power_w"] = self.power_w.tolist()
            out["rate_bps"] = self.rate_bps.tolist()
            out["delay_s"] = [f(x) for x in self.delay_s.tolist()]
        return out


def check_allocation(problem: IoTUplinkProblem, assignment: ArrayLike, power_w: ArrayLike,
                     tol: float = _REL_TOL) -> list[Violation]:
    """Constraint-by-constraint check of an allocation (see :meth:`MinMaxDelayResult.check`)."""
    n, m = problem.n_devices, problem.n_rbs
    b_raw = np.asarray(assignment, dtype=float)
    p = np.asarray(power_w, dtype=float)
    if p.shape == (n,) and b_raw.shape == (n, m):
        p = np.where(b_raw > 0.5, p[:, None], 0.0)  # [N]: the same power on every held RB
    out: list[Violation] = []
    if b_raw.shape != (n, m) or p.shape != (n, m):
        return [Violation("shape", f"assignment has shape {b_raw.shape} and power {p.shape}, "
                                   f"expected ({n}, {m})")]
    # (6) binary
    for i, j in zip(*np.nonzero(~np.isclose(b_raw, 0.0) & ~np.isclose(b_raw, 1.0)), strict=True):
        out.append(Violation("binary", f"b[{i},{j}] = {b_raw[i, j]!r} is not 0 or 1 (6)",
                             device=int(i), rb=int(j), value=float(b_raw[i, j])))
    b = b_raw > 0.5
    # OMA
    per_rb = b.sum(axis=0)
    for j in np.flatnonzero(per_rb > 1):
        devs = np.flatnonzero(b[:, j]).tolist()
        out.append(Violation("oma", f"RB {j} is given to {per_rb[j]} devices {devs} (OMA allows "
                                    f"one)", rb=int(j), value=float(per_rb[j]), limit=1.0))
    # single RB per device
    if not problem.multi_rb:
        per_dev = b.sum(axis=1)
        for i in np.flatnonzero(per_dev > 1):
            out.append(Violation("single_rb", f"device {i} holds {per_dev[i]} RBs but multi_rb "
                                              f"is False", device=int(i),
                                 value=float(per_dev[i]), limit=1.0))
    # (4) power bounds
    pmax = problem.p_max_w
    for i, j in zip(*np.nonzero(~np.isfinite(p)), strict=True):
        out.append(Violation("power", f"p[{i},{j}] = {p[i, j]!r} is not finite (4)",
                             device=int(i), rb=int(j)))
    pf = np.where(np.isfinite(p), p, 0.0)
    for i, j in zip(*np.nonzero(pf < 0), strict=True):
        out.append(Violation("power", f"device {i} has negative power {pf[i, j]:.4g} W on RB {j} "
                                      f"(4)", device=int(i), rb=int(j), value=float(pf[i, j]),
                             limit=0.0))
    over = pf > pmax[:, None] * (1.0 + tol)
    for i, j in zip(*np.nonzero(over), strict=True):
        out.append(Violation("power", f"device {i} transmits {pf[i, j]:.4g} W on RB {j}, above "
                                      f"p_max = {pmax[i]:.4g} W (4)", device=int(i), rb=int(j),
                             value=float(pf[i, j]), limit=float(pmax[i])))
    stray = (~b) & (pf > 0)
    for i, j in zip(*np.nonzero(stray), strict=True):
        out.append(Violation("power", f"device {i} transmits {pf[i, j]:.4g} W on RB {j} that it "
                                      f"does not hold (4)", device=int(i), rb=int(j),
                             value=float(pf[i, j]), limit=0.0))
    # (5) SINR on used RBs
    gam = problem.sinr(pf)
    beta = problem.beta_linear
    low = b & (gam < beta * (1.0 - tol))
    for i, j in zip(*np.nonzero(low), strict=True):
        g_db = 10.0 * math.log10(gam[i, j]) if gam[i, j] > 0 else -math.inf
        out.append(Violation("sinr", f"device {i} on RB {j}: SINR {g_db:.2f} dB < β = "
                                     f"{problem.beta_db:.2f} dB (5)", device=int(i), rb=int(j),
                             value=g_db, limit=problem.beta_db))
    # served
    rate = (problem.rb_bandwidth_hz * np.log2(1.0 + gam) * b).sum(axis=1)
    unserved = problem.needs_rb & ~(rate > 0)
    for i in np.flatnonzero(unserved):
        out.append(Violation("served", f"device {i} ({problem.data_bits[i]:.4g} bits) has no RB "
                                       f"with a positive rate: its delay is infinite",
                             device=int(i)))
    if unserved.any():
        out.extend(diagnose_infeasibility(problem))
    # deadline
    if problem.deadline_s is not None and not unserved.any():
        with np.errstate(divide="ignore"):
            delay = np.where(problem.needs_rb, problem.data_bits / np.maximum(rate, 1e-300), 0.0)
        worst = int(np.argmax(delay))
        if delay[worst] > problem.deadline_s * (1.0 + tol):
            out.append(Violation("deadline", f"largest delay {delay[worst]:.4g} s (device "
                                             f"{worst}) exceeds the deadline "
                                             f"{problem.deadline_s:.4g} s", device=worst,
                                 value=float(delay[worst]), limit=problem.deadline_s))
    return out


# --------------------------------------------------------------------------- power stage
def _water_level_powers(a: FloatArray, lo: FloatArray, hi: FloatArray, used: NDArray[np.bool_],
                        target_bits_per_hz: FloatArray, mode: str, iters: int = 200
                        ) -> FloatArray:
    """Minimum-power powers per device (vectorised bisection, always from the feasible side)."""
    n, m = a.shape
    a_safe = np.where(used, a, 1.0)
    lo_u = np.where(used, lo, 0.0)
    hi_u = np.where(used, hi, 0.0)

    def powers(x: FloatArray) -> FloatArray:
        if mode == "per_rb":  # water-filling: clip(λ − 1/a, lo, hi)
            pw = np.clip(x[:, None] - 1.0 / a_safe, lo_u, hi_u)
        else:  # one power per device, at least the largest SINR floor
            pw = np.clip(np.broadcast_to(x[:, None], (n, m)), lo_u, hi_u)
        return np.asarray(np.where(used, pw, 0.0))

    def se(pw: FloatArray) -> FloatArray:
        return np.asarray((np.log2(1.0 + a_safe * pw) * used).sum(axis=1))

    if mode == "per_rb":
        x_hi = np.where(used, hi + 1.0 / a_safe, 0.0).max(axis=1)
    else:
        x_hi = hi_u.max(axis=1)
    x_lo = np.zeros(n)
    # if the SINR floors alone already meet the target, λ = 0 gives p = lo
    ok_lo = se(powers(x_lo)) >= target_bits_per_hz
    for _ in range(iters):
        mid = 0.5 * (x_lo + x_hi)
        good = se(powers(mid)) >= target_bits_per_hz
        x_hi = np.where(good, mid, x_hi)
        x_lo = np.where(good, x_lo, mid)
        if np.all(x_hi - x_lo <= 1e-15 * np.maximum(x_hi, 1e-300)):
            break
    return powers(np.where(ok_lo, 0.0, x_hi))


def minimize_power(problem: IoTUplinkProblem, assignment: ArrayLike,
                   max_delay_s: float | None = None, mode: PowerMode = "per_rb") -> FloatArray:
    """Stage 2: least total power keeping every device's delay ≤ ``max_delay_s``.

    With the assignment b fixed, device i needs ``Σ_j B log2(1 + a_ij p_ij) ≥ D_i / T`` with
    ``β/a_ij ≤ p_ij ≤ p_max`` ((4), (5)). ``mode="per_rb"``: box-constrained water-filling
    ``p_ij = clip(λ_i − 1/a_ij, β/a_ij, p_max)`` (the KKT point of this convex problem);
    ``"per_device"``: one power p_i on all RBs of device i (the smallest that meets the target
    and β on each RB); ``"max"``: p_max everywhere (stage 1). λ_i / p_i come from a bisection
    that only keeps values meeting the target, so delays stay ≤ T (to rounding). Devices whose
    target is unreachable at p_max keep p_max. ``max_delay_s`` defaults to the largest delay of
    the assignment at p_max (T*). Returns p [N, M] (0 on RBs not held).
    """
    b = np.asarray(assignment, dtype=float) > 0.5
    if b.shape != problem.gains.shape:
        raise InputError("assignment", f"shape {b.shape}",
                         f"shape {problem.gains.shape} (devices × RBs)")
    if mode not in ("per_rb", "per_device", "max"):
        raise InputError("mode", mode, "'per_rb', 'per_device' or 'max'")
    pmax = np.broadcast_to(problem.p_max_w[:, None], b.shape)
    p_full = np.where(b, pmax, 0.0)
    if mode == "max":
        return np.asarray(p_full, dtype=float)
    rate_full = (problem.rate_bps(p_full) * b).sum(axis=1)
    need = problem.needs_rb & (rate_full > 0)
    if max_delay_s is None:
        with np.errstate(divide="ignore"):
            d = np.where(need, problem.data_bits / np.maximum(rate_full, 1e-300), 0.0)
        max_delay_s = float(d.max()) if d.size else 0.0
    if not (max_delay_s > 0 and math.isfinite(max_delay_s)):
        return np.asarray(p_full, dtype=float)
    a = problem.snr_per_watt
    lo = np.minimum(problem.beta_linear / np.maximum(a, 1e-300), pmax)
    target = problem.data_bits / max_delay_s / problem.rb_bandwidth_hz  # bit/s/Hz
    # devices that cannot reach the target even at p_max keep p_max
    reach = need & (rate_full >= problem.data_bits / max_delay_s)
    used = b & reach[:, None]
    p = _water_level_powers(a, lo, np.asarray(pmax, dtype=float), used,
                            np.where(reach, target, 0.0), mode)
    return np.asarray(np.where(used, p, p_full), dtype=float)


# --------------------------------------------------------------------------- results
def _metrics(problem: IoTUplinkProblem, b: NDArray[np.bool_], p: FloatArray
             ) -> tuple[FloatArray, FloatArray, float]:
    rate = (problem.rate_bps(p) * b).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delay = np.where(problem.needs_rb,
                         np.where(rate > 0, problem.data_bits / np.maximum(rate, 1e-300),
                                  math.inf), 0.0)
    return rate, delay, float(delay.max())


def evaluate_allocation(problem: IoTUplinkProblem, assignment: ArrayLike,
                        power_w: ArrayLike | None = None, *, method: str = "given",
                        status: str = "given", power_mode: PowerMode | None = None
                        ) -> MinMaxDelayResult:
    """Rates, delays and max delay of any allocation (e.g. one an LLM proposed).

    ``power_w`` [N, M] or [N] (same power on every held RB); default: ``power_mode`` if given
    (:func:`minimize_power`), else p_max on held RBs. Nothing is validated against (4)–(6) here
    — call :meth:`MinMaxDelayResult.check` for that. Rates count every held RB (Shannon rate
    (7) at its SINR, even when it is below β).
    """
    b_raw = np.asarray(assignment, dtype=float)
    if b_raw.shape != problem.gains.shape:
        raise InputError("assignment", f"shape {b_raw.shape}",
                         f"shape {problem.gains.shape} (devices × RBs)")
    b = b_raw > 0.5
    pm = problem.p_max_w[:, None]
    p_max_alloc = np.where(b, pm, 0.0)
    mode_s: str
    if power_w is None:
        p = minimize_power(problem, b, mode=power_mode) if power_mode else p_max_alloc
        mode_s = power_mode or "max"
    else:
        p = np.asarray(power_w, dtype=float)
        if p.shape == (problem.n_devices,):
            p = np.where(b, p[:, None], 0.0)
        if p.shape != b.shape:
            raise InputError("power_w", f"shape {p.shape}",
                             f"shape {b.shape} or ({problem.n_devices},)")
        mode_s = "given"
    rate, delay, tmax = _metrics(problem, b, p)
    _, _, tmax_pmax = _metrics(problem, b, p_max_alloc)
    return MinMaxDelayResult(method=method, status=status, assignment=b.astype(np.int8),
                             power_w=np.asarray(p, dtype=float), rate_bps=rate, delay_s=delay,
                             max_delay_s=tmax, max_delay_pmax_s=tmax_pmax, power_mode=mode_s)


def _finish(problem: IoTUplinkProblem, b: NDArray[np.bool_], method: str, status: str,
            power_mode: PowerMode, t0: float, **extra: Any) -> MinMaxDelayResult:
    res = evaluate_allocation(problem, b, method=method, status=status, power_mode=power_mode)
    res.solve_time_s = time.perf_counter() - t0
    for k, v in extra.items():
        setattr(res, k, v)
    return res


def _infeasible_result(problem: IoTUplinkProblem, method: str, status: str, t0: float,
                       diagnosis: list[Violation], **extra: Any) -> MinMaxDelayResult:
    n, m = problem.gains.shape
    res = evaluate_allocation(problem, np.zeros((n, m)), method=method, status=status)
    res.solve_time_s = time.perf_counter() - t0
    res.diagnosis = diagnosis
    for k, v in extra.items():
        setattr(res, k, v)
    return res


# --------------------------------------------------------------------------- heuristics
def _greedy_assignment(problem: IoTUplinkProblem) -> NDArray[np.bool_]:
    n, m = problem.gains.shape
    rate = problem.rate_at_pmax_bps
    adm = rate > 0
    d = problem.data_bits
    b = np.zeros((n, m), dtype=bool)
    free = np.ones(m, dtype=bool)
    cur = np.zeros(n)
    active = problem.needs_rb.copy()
    while free.any() and active.any():
        cand_counts = (adm & free[None, :]).sum(axis=1)
        with np.errstate(divide="ignore"):
            delay = np.where(cur > 0, d / np.maximum(cur, 1e-300), math.inf)
        best_rate = np.where(adm & free[None, :], rate, 0.0).max(axis=1)
        with np.errstate(divide="ignore"):
            hardness = np.where(best_rate > 0, d / np.maximum(best_rate, 1e-300), math.inf)
        # largest current delay; among unserved devices (∞): fewest options, then hardest
        key = [(-delay[i], cand_counts[i], -hardness[i], i) for i in np.flatnonzero(active)]
        i = min(key)[3]
        options = np.flatnonzero(adm[i] & free)
        if options.size == 0:
            active[i] = False
            continue
        j = int(options[np.argmax(rate[i, options])])
        b[i, j] = True
        free[j] = False
        cur[i] += rate[i, j]
        if not problem.multi_rb:
            active[i] = False
    return b


def greedy_allocation(problem: IoTUplinkProblem, power_mode: PowerMode = "per_rb"
                      ) -> MinMaxDelayResult:
    """Greedy baseline: repeatedly give the best remaining admissible RB to the device with
    the largest current delay (unserved devices first, the one with the fewest remaining
    options first), until RBs run out; then stage-2 power (:func:`minimize_power`).

    Status ``feasible`` when every device got an RB, else ``unserved`` (the greedy may fail
    where an assignment exists).
    """
    t0 = time.perf_counter()
    b = _greedy_assignment(problem)
    res = _finish(problem, b, "greedy", "feasible", power_mode, t0)
    if not res.has_allocation:
        res.status = "unserved"
    return res


def random_allocation(problem: IoTUplinkProblem, rng: np.random.Generator | int | None = None,
                      power_mode: PowerMode = "per_rb") -> MinMaxDelayResult:
    """Random baseline: a uniformly shuffled maximum matching first gives every device one
    admissible RB (so everyone is served whenever that is possible), then every remaining RB
    goes to a uniformly random device that can use it (only when ``multi_rb``); RBs nobody can
    use stay free. Stage-2 power as for the others.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    t0 = time.perf_counter()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n, m = problem.gains.shape
    adm = problem.admissible & problem.needs_rb[:, None]
    b = np.zeros((n, m), dtype=bool)
    rows, cols = gen.permutation(n), gen.permutation(m)
    shuffled = adm[np.ix_(rows, cols)]
    if shuffled.any():
        match = maximum_bipartite_matching(csr_matrix(shuffled.astype(np.int8)),
                                           perm_type="column")
        for k, jj in enumerate(match):
            if jj >= 0:
                b[rows[k], cols[jj]] = True
    free = ~b.any(axis=0)
    if problem.multi_rb:
        for j in gen.permutation(np.flatnonzero(free)):
            devs = np.flatnonzero(adm[:, j])
            if devs.size:
                b[int(gen.choice(devs)), j] = True
    res = _finish(problem, b, "random", "feasible", power_mode, t0)
    if not res.has_allocation:
        res.status = "unserved"
    return res


def brute_force_minmax(problem: IoTUplinkProblem, power_mode: PowerMode = "per_rb",
                       max_assignments: int = 2_000_000) -> MinMaxDelayResult:
    """Exhaustive search: every RB to one admissible device or to none; the best max delay.

    Only for tiny instances (the number of assignments, Π_j (1 + #admissible devices on j),
    must not exceed ``max_assignments``). Status ``optimal`` (``lower_bound_s`` = the optimum)
    or ``infeasible``.
    """
    t0 = time.perf_counter()
    n, m = problem.gains.shape
    rate = problem.rate_at_pmax_bps
    opts = [[-1, *np.flatnonzero((rate[:, j] > 0) & problem.needs_rb).tolist()]
            for j in range(m)]
    count = math.prod(len(o) for o in opts)
    if count > max_assignments:
        raise InputError("problem", f"{n} devices × {m} RBs ({count} assignments)",
                         f"at most {max_assignments} assignments for brute force")
    choices = np.array(list(itertools.product(*opts)), dtype=np.int64).reshape(count, m)
    tot = np.zeros((count, n))
    cnt = np.zeros((count, n), dtype=np.int64)
    for j in range(m):
        for i in range(n):
            hit = choices[:, j] == i
            tot[:, i] += hit * rate[i, j]
            cnt[:, i] += hit
    need = problem.needs_rb
    with np.errstate(divide="ignore"):
        delay = np.where(need[None, :],
                         np.where(tot > 0, problem.data_bits[None, :] / np.maximum(tot, 1e-300),
                                  math.inf), 0.0)
    worst = delay.max(axis=1)
    if not problem.multi_rb:
        worst = np.where((cnt <= 1).all(axis=1), worst, math.inf)
    k = int(np.argmin(worst))
    if not math.isfinite(worst[k]):
        return _infeasible_result(problem, "brute_force", "infeasible", t0,
                                  diagnose_infeasibility(problem))
    b = np.zeros((n, m), dtype=bool)
    for j in range(m):
        if choices[k, j] >= 0:
            b[choices[k, j], j] = True
    res = _finish(problem, b, "brute_force", "optimal", power_mode, t0,
                  lower_bound_s=float(worst[k]), mip_gap=0.0)
    res.notes.append(f"{count} assignments enumerated")
    return res


# --------------------------------------------------------------------------- exact solvers
def _pairs(problem: IoTUplinkProblem, coef: FloatArray
           ) -> tuple[list[tuple[int, int]], dict[int, list[int]], dict[int, list[int]]]:
    need = problem.needs_rb
    pairs = [(int(i), int(j)) for i, j in zip(*np.nonzero((coef > 0) & need[:, None]),
                                               strict=True)]
    by_dev: dict[int, list[int]] = {}
    by_rb: dict[int, list[int]] = {}
    for i, j in pairs:
        by_dev.setdefault(i, []).append(j)
        by_rb.setdefault(j, []).append(i)
    return pairs, by_dev, by_rb


def _build_milp(problem: IoTUplinkProblem, coef: FloatArray) -> tuple[Any, list[tuple[int, int]]]:
    """Max-z MILP: Σ_j c_ij b_ij ≥ z, OMA, served, [single RB], b binary (see module doc)."""
    import pyomo.environ as pyo

    pairs, by_dev, by_rb = _pairs(problem, coef)
    devs = sorted(by_dev)
    z_ub = min(sum(coef[i, j] for j in by_dev[i]) for i in devs) * (1.0 + 1e-9)  # valid bound

    mdl = pyo.ConcreteModel(name="minmax_delay")
    mdl.P = pyo.Set(initialize=pairs, dimen=2, ordered=True)
    mdl.b = pyo.Var(mdl.P, domain=pyo.Binary)  # (6)
    mdl.z = pyo.Var(bounds=(0.0, z_ub))  # z = 1 / (T · scale)
    mdl.delay = pyo.Constraint(devs, rule=lambda mm, i: sum(
        float(coef[i, j]) * mm.b[i, j] for j in by_dev[i]) >= mm.z)  # epigraph of (3)
    mdl.oma = pyo.Constraint(sorted(by_rb), rule=lambda mm, j: sum(
        mm.b[i, j] for i in by_rb[j]) <= 1)
    mdl.served = pyo.Constraint(devs, rule=lambda mm, i: sum(
        mm.b[i, j] for j in by_dev[i]) >= 1)
    if not problem.multi_rb:
        mdl.single = pyo.Constraint(devs, rule=lambda mm, i: sum(
            mm.b[i, j] for j in by_dev[i]) <= 1)
    mdl.obj = pyo.Objective(expr=mdl.z, sense=pyo.maximize)
    return mdl, pairs


def _build_feasibility(problem: IoTUplinkProblem, coef: FloatArray, z_t: float
                       ) -> tuple[Any, list[tuple[int, int]]]:
    """Does some assignment give every device Σ_j c_ij b_ij ≥ z_t? Coefficients truncated at
    z_t (exact for binary b: one RB worth ≥ z_t already meets the row), so each row is a pure
    knapsack-cover row with a constant right-hand side — far tighter than the max-z MILP."""
    import pyomo.environ as pyo

    pairs, by_dev, by_rb = _pairs(problem, coef)
    devs = sorted(by_dev)
    mdl = pyo.ConcreteModel(name="minmax_delay_feasibility")
    mdl.P = pyo.Set(initialize=pairs, dimen=2, ordered=True)
    mdl.b = pyo.Var(mdl.P, domain=pyo.Binary)
    mdl.delay = pyo.Constraint(devs, rule=lambda mm, i: sum(
        min(float(coef[i, j]), z_t) * mm.b[i, j] for j in by_dev[i]) >= z_t)
    mdl.oma = pyo.Constraint(sorted(by_rb), rule=lambda mm, j: sum(
        mm.b[i, j] for i in by_rb[j]) <= 1)
    if not problem.multi_rb:
        mdl.single = pyo.Constraint(devs, rule=lambda mm, i: sum(
            mm.b[i, j] for j in by_dev[i]) <= 1)
    mdl.obj = pyo.Objective(expr=0.0)
    return mdl, pairs


def _read_assignment(problem: IoTUplinkProblem, mdl: Any, pairs: list[tuple[int, int]]
                     ) -> NDArray[np.bool_]:
    b = np.zeros(problem.gains.shape, dtype=bool)
    for i, j in pairs:
        v = mdl.b[i, j].value
        b[i, j] = v is not None and v > 0.5
    return b


def _z_of(coef: FloatArray, b: NDArray[np.bool_], need: NDArray[np.bool_]) -> float:
    return float((coef * b).sum(axis=1)[need].min())


def _matching_assignment(problem: IoTUplinkProblem) -> NDArray[np.bool_]:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    adm = problem.admissible & problem.needs_rb[:, None]
    match = maximum_bipartite_matching(csr_matrix(adm.astype(np.int8)), perm_type="column")
    b = np.zeros(adm.shape, dtype=bool)
    for i, j in enumerate(match):
        if j >= 0:
            b[i, j] = True
    return b


def _solve_milp(problem: IoTUplinkProblem, name: str, coef: FloatArray,
                start: NDArray[np.bool_], time_limit_s: float | None, mip_gap: float,
                warm_start: bool) -> tuple[NDArray[np.bool_] | None, float | None, SolveInfo,
                                           list[dict[str, Any]]]:
    mdl, pairs = _build_milp(problem, coef)
    if warm_start:
        for i, j in pairs:
            mdl.b[i, j].value = 1.0 if start[i, j] else 0.0
        mdl.z.value = _z_of(coef, start, problem.needs_rb)
    extra = ({"mip_abs_gap": 1e-10, "mip_feasibility_tolerance": 1e-9}
             if solver_family(name) == "highs" else None)
    info = solve(mdl, name, time_limit_s=time_limit_s, mip_gap=mip_gap, warmstart=warm_start,
                 options=extra)
    trace = [{"model": "max_z", "binaries": len(pairs), **info.to_dict()}]
    if not info.has_solution:
        return None, None, info, trace
    return _read_assignment(problem, mdl, pairs), info.bound, info, trace


def _trivial_z_bound(problem: IoTUplinkProblem, coef: FloatArray) -> float:
    """Upper bound on z: each device alone with all its admissible RBs (its best one when
    ``multi_rb`` is False)."""
    per_dev = coef.sum(axis=1) if problem.multi_rb else coef.max(axis=1)
    return float(per_dev[problem.needs_rb].min())


def _solve_bisection(problem: IoTUplinkProblem, name: str, coef: FloatArray,
                     start: NDArray[np.bool_], time_limit_s: float | None, mip_gap: float
                     ) -> tuple[NDArray[np.bool_], float, float, SolveInfo | None,
                                list[dict[str, Any]], bool]:
    """Exact bisection on z: returns (best b, z_lo, z_hi, last info, trace, proven).

    ``z_lo`` is always reached by ``best``; ``z_hi`` only drops on a solver proof of
    infeasibility. A step that runs out of time ends the search with the current interval.
    """
    t0 = time.perf_counter()
    need = problem.needs_rb
    best = start
    z_lo = _z_of(coef, start, need)
    z_hi = _trivial_z_bound(problem, coef)
    trace: list[dict[str, Any]] = []
    info: SolveInfo | None = None
    last_direct_gain = math.inf
    # HiGHS' default MIP feasibility tolerance (1e-6, absolute; z is scaled to ~1) would blur
    # relative gaps of that size: tighten it
    tight = ({"mip_feasibility_tolerance": 1e-9, "primal_feasibility_tolerance": 1e-9}
             if solver_family(name) == "highs" else None)
    gap = max(mip_gap, 1e-9)  # a zero gap cannot be certified by bisection
    while z_hi > z_lo * (1.0 + gap):
        remaining = None
        if time_limit_s is not None:
            remaining = time_limit_s - (time.perf_counter() - t0)
            if remaining <= 0.05:
                break
        ratio = z_hi / z_lo
        # near the end ask directly for anything better than the incumbent (one proof ends
        # it), unless the previous direct question only crept up
        direct = ratio <= 1.002 and last_direct_gain > 0.25 * (ratio - 1.0)
        z_t = z_lo * (1.0 + gap) if direct else math.sqrt(z_lo * z_hi)
        z_t = min(max(z_t, z_lo * (1.0 + gap)), z_hi)
        mdl, pairs = _build_feasibility(problem, coef, z_t)
        info = solve(mdl, name, time_limit_s=remaining, options=tight)
        step: dict[str, Any] = {"z_test": z_t, "status": info.status,
                                "wall_time_s": info.wall_time_s, "direct": direct}
        trace.append(step)
        if info.has_solution:
            b = _read_assignment(problem, mdl, pairs)
            z_act = _z_of(coef, b, need)
            step["z_found"] = z_act
            last_direct_gain = z_act / z_lo - 1.0 if direct else math.inf
            if z_act <= z_lo:  # only possible through solver tolerances: stop, keep the gap
                step["note"] = "no progress (solver feasibility tolerance)"
                break
            best, z_lo = b, z_act
        elif info.status == "infeasible":
            z_hi = z_t
        else:
            break  # time limit without an answer: keep [z_lo, z_hi]
    proven = z_hi <= z_lo * (1.0 + gap)
    return best, z_lo, max(z_hi, z_lo), info, trace, proven


def solve_minmax_delay(problem: IoTUplinkProblem, solver: str | None = None, *,
                       method: Method = "bisection", time_limit_s: float | None = None,
                       mip_gap: float = 1e-6, power_mode: PowerMode = "per_rb",
                       warm_start: bool = True) -> MinMaxDelayResult:
    """Solve OPT (3)–(7) exactly: min-max delay at p_max (stage 1), then minimum power.

    Stage 1 methods (both exact, both on the Pyomo solver ``solver``; default
    :func:`~twinnet.rrm.solvers.default_solver`, i.e. HiGHS):

    * ``"milp"`` — the max-z MILP of the module docstring in one solve (``warm_start``: the
      greedy allocation as MIP start). Its LP bound is weak (the epigraph rows have z on the
      right-hand side, so no knapsack-cover cuts): fine up to a few dozen devices.
    * ``"bisection"`` (default) — bisection on z. Each step asks the solver whether some
      assignment gives every device ``Σ_j min(c_ij, z_t) b_ij ≥ z_t`` (coefficients truncated at
      the target — exact for binaries — so every row is a knapsack-cover row with a constant
      right-hand side, whose cuts close the gap quickly); a feasible answer raises the lower end
      to the z its assignment actually reaches, an infeasible one (a proof) lowers the upper end.
      Starts from the greedy incumbent and the bound "each device alone gets all its RBs"; near
      the end it asks directly for anything better than the incumbent by ``mip_gap``.

    ``mip_gap``: relative optimality gap on z = 1/T at which to stop (1e-6: the max delay is
    optimal to 1e-6, within solver tolerances). ``time_limit_s``: for the whole stage 1; when
    hit, the incumbent comes back with ``status="feasible"``, its ``mip_gap`` and
    ``lower_bound_s``. ``power_mode``: stage 2, see :func:`minimize_power`.

    Infeasible instances (some device reaches β on no RB at p_max, or too few RBs under OMA)
    are detected exactly before the solver and returned with ``status="infeasible"`` and
    ``diagnosis``. Raises :class:`~twinnet.rrm.solvers.SolverError` when the solver is
    unavailable or fails, :class:`~twinnet.errors.InputError` for an unknown ``method``.
    """
    t0 = time.perf_counter()
    if method not in ("bisection", "milp"):
        raise InputError("method", method, "'bisection' or 'milp'")
    if not (mip_gap >= 0 and math.isfinite(mip_gap)):
        raise InputError("mip_gap", mip_gap, "a relative gap >= 0")
    name = require_solver(solver)  # fail fast (SolverError naming it) even when no solve is needed
    diag = diagnose_infeasibility(problem)
    if diag:
        return _infeasible_result(problem, method, "infeasible", t0, diag, solver=name,
                                  notes=["infeasible by the exact admissibility/matching test "
                                         "(Hall); solver not called"])
    need = problem.needs_rb
    if not need.any():
        res = _finish(problem, np.zeros(problem.gains.shape, dtype=bool), method, "optimal",
                      power_mode, t0, solver=name, mip_gap=0.0, lower_bound_s=0.0)
        res.notes.append("no device has data: nothing to allocate")
        return res

    rate = problem.rate_at_pmax_bps
    d = problem.data_bits
    start = _greedy_assignment(problem)
    if not np.all((rate * start).sum(axis=1)[need] > 0):
        start = _matching_assignment(problem)  # exists (Hall test passed)
    # normalise z so that the starting incumbent has z = 1 (keeps the models well scaled)
    scale = float(np.min((rate * start).sum(axis=1)[need] / d[need]))
    coef = np.where(need[:, None], rate / np.maximum(d, 1e-300)[:, None] / scale, 0.0)
    info: SolveInfo | None
    if method == "milp":
        b_m, z_bound, info, trace = _solve_milp(problem, name, coef, start, time_limit_s,
                                              mip_gap, warm_start)
        if b_m is None:
            return _infeasible_result(problem, method, info.status, t0, [], solver=name,
                                      solve_info=info,
                                      notes=[f"no incumbent ({info.termination})"])
        b = b_m
        status = info.status
        z_lo = _z_of(coef, b, need)
        z_hi = _trivial_z_bound(problem, coef)
        if z_bound is not None and z_bound > 0:
            z_hi = min(z_hi, z_bound)
    else:
        b, z_lo, z_hi, info, trace, proven = _solve_bisection(
            problem, name, coef, start, time_limit_s, mip_gap)
        status = "optimal" if proven else "feasible"
    gap = max(0.0, z_hi / z_lo - 1.0)
    lb = 1.0 / (max(z_hi, z_lo) * scale)
    res = _finish(problem, b, method, status, power_mode, t0, solver=name, solve_info=info,
                  mip_gap=gap, lower_bound_s=lb)
    if res.max_delay_pmax_s < lb:
        res.lower_bound_s = res.max_delay_pmax_s  # bound tolerance: never report LB > value
    res.trace = trace
    n_bin = int(((rate > 0) & need[:, None]).sum())
    res.notes.append(f"{method}: {n_bin} binaries, {len(trace)} solver call(s), "
                     f"{sum(t['wall_time_s'] for t in trace):.3f} s in the solver")
    return res
