"""Mobility management: A3 handover with time-to-trigger, radio link failure, re-establishment
and mobility-robustness (MRO) counters, stepped in time for every user at once.

Model (configured by :class:`twinnet.scenario.Handover`), after 3GPP TS 38.331 "NR; Radio
Resource Control (RRC) protocol specification", TS 38.133 "NR; Requirements for support of
radio resource management" and the mobility robustness optimisation of TS 36.300 "E-UTRA and
E-UTRAN; Overall description; Stage 2" and TS 38.300 "NR; NR and NG-RAN Overall description;
Stage 2":

* **Event A3** (TS 38.331 §5.5.4.4, "Event A3 (Neighbour becomes offset better than SpCell)"):
  the entering condition ``Mn + Ocn > Ms + Ocs + Off + Hys`` is tested for the best neighbour
  ``n`` (the highest RSRP + cell individual offset ``Ocn`` among the cells other than the
  serving cell ``s``). The time-to-trigger timer runs while the condition holds and restarts
  from zero in a step where it does not; the handover executes in the step in which the time
  the condition has held reaches ``time_to_trigger_ms`` — each step counts ``dt`` (the step's
  sample stands for the whole step), so with steps at least as long as the TTT it executes in
  the first step in which the condition holds. The target is the best neighbour of that step.
  A3 needs a measurable serving cell: a cell that has stopped transmitting (RSRP ``-inf``)
  cannot deliver a handover command, so its users go through radio link failure instead.
  The handover succeeds if the target's SINR reaches ``q_out_db``, otherwise it is a handover
  failure and the user re-establishes like after a radio link failure.
* **Radio link monitoring** (TS 38.133 §8.1, Qout/Qin; TS 38.331 §5.3.10, timer T310): a
  serving SINR below ``q_out_db`` starts T310 (counting the step, like the TTT); while it runs,
  a SINR of at least ``q_in_db`` stops and resets it, a SINR between Qout and Qin lets it run on.
  When it reaches ``t310_ms`` the radio link fails (RLF). If T310 and the TTT both run out in
  the same step (long steps), the one with less time left at the step's start goes first — a
  tie goes to the RLF (the link is lost before the command gets through); a successful
  handover stops a running T310.
* **Re-establishment** (TS 38.331 §5.3.7): after an RLF or a handover failure the user is out
  of service (serving cell ``-1``) for ``reestablish_ms``, then re-establishes in the first
  step at or after that time on the best cell (highest RSRP + offset) whose SINR reaches
  ``q_in_db``; if there is none it tries again every step. Initial access (:meth:`attach`, and
  present users who hold no cell and have no failure pending) uses the same rule, without
  counters.
* **Ping-pong**: a successful handover back to the cell the user left, by its previous
  successful handover, no more than ``ping_pong_s`` ago.
* **Mobility robustness** (TS 36.300 §22.4.2 and TS 38.300 §15.5.2, "Mobility Robustness
  Optimisation"): a failure is classified in the step in which the user re-establishes, on the
  cell ``r`` it re-establishes in:

  - after a successful handover ``a → b`` no more than ``mro_window_s`` before the failure:
    ``r = a`` is *too early*, ``r ∉ {a, b}`` is a handover to the *wrong cell* (both charged
    to ``a``, the cell that took the decision); ``r = b`` is none of them;
  - otherwise an RLF in cell ``s`` re-establishing in ``r ≠ s`` is *too late* (charged to
    ``s``), and a handover failure from ``s`` is *too late* when ``r ≠ s`` and *too early*
    when ``r = s`` (TS 36.300: a failure during the handover procedure with re-establishment in
    the source cell), both charged to ``s``;
  - an RLF because the serving cell stopped transmitting (its RSRP is ``-inf``: an outage, not
    a mobility setting) is counted as RLF and re-establishment but in no MRO class.

Shapes: ``U`` users, ``K`` link slots per user, ``C`` cells. Per step the caller passes
``rsrp_dbm [U, K]`` (dBm, ``-inf`` for empty slots and switched-off cells), ``slot_cell
[1 or U, K]`` (the cell of each slot, ``-1`` none; one row is shared by all users; a cell
appears at most once per row), ``cio_db [C]`` (dB), ``sinr_db [U, K]`` (dB, the SINR the user
would have on each slot's cell) and ``present [U]``. A serving cell missing from a user's slots
counts as not heard. Users not present are left as they are. State and results are arrays of
length ``U`` (O(users) memory); one fused Numba kernel walks each user's ``K`` slots once per
step (parallel over users for large problems).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from twinnet.errors import InputError
from twinnet.radio.fast import threads_for
from twinnet.scenario import Handover

__all__ = ["HandoverControl", "HandoverStep"]

#: tolerance [s] on timer and clock comparisons (steps of 0.1 s accumulate rounding)
_EPS_S = 1e-9

# pending failure awaiting re-establishment (classified then)
_NONE = 0  # nothing pending, or an outage RLF (no MRO class)
_LATE = 1  # RLF in cell `cell`, no successful handover within the MRO window
_AFTER_HO = 2  # failure within the window after a successful handover `src` → `cell`
_HOF = 3  # handover failure from `src` to `cell`, no successful handover within the window


@dataclass
class HandoverStep:
    """What happened in one step, per user (arrays of length ``U``).

    ``source`` is the serving cell before the step (``-1`` none) of every user and
    ``target`` the cell a handover was executed to (``-1`` none); ``success`` / ``failure`` split
    the executed handovers (``attempt``). ``rlf`` marks T310 expiries, ``reestablished`` the
    users that came back after an RLF or a handover failure (their cell is
    :attr:`HandoverControl.serving`), and in that same step ``too_early``, ``too_late`` and
    ``wrong_cell`` classify the failure; ``mro_cell`` is the cell such an MRO event is charged
    to (``-1`` none).
    """

    attempt: NDArray[np.bool_]
    source: NDArray[np.int32]
    target: NDArray[np.int32]
    success: NDArray[np.bool_]
    failure: NDArray[np.bool_]
    rlf: NDArray[np.bool_]
    reestablished: NDArray[np.bool_]
    ping_pong: NDArray[np.bool_]
    too_early: NDArray[np.bool_]
    too_late: NDArray[np.bool_]
    wrong_cell: NDArray[np.bool_]
    mro_cell: NDArray[np.int32]


@njit(cache=True, inline="always")
def _best_access(rsrp, sinr, slot_cell, cio, u, row, q_in):
    """Slot cell with the highest RSRP + offset among heard cells whose SINR reaches Qin."""
    best, best_m = -1, -math.inf
    for k in range(rsrp.shape[1]):
        c = slot_cell[row, k]
        r = rsrp[u, k]
        if c < 0 or not r > -math.inf or not sinr[u, k] >= q_in:
            continue
        m = r + cio[c]
        if m > best_m:
            best, best_m = c, m
    return best


@njit(cache=True, parallel=True)
def _bad_rows(slot_cell, n_cells):
    """Number of slot-cell rows holding a value outside ``[-1, n_cells)``."""
    bad = 0
    for i in prange(slot_cell.shape[0]):
        for k in range(slot_cell.shape[1]):
            c = slot_cell[i, k]
            if c < -1 or c >= n_cells:
                bad += 1
                break
    return bad


@njit(cache=True, parallel=True)
def _step_kernel(
    t, dt, rsrp, slot_cell, cio, pair_ptr, pair_nb, pair_db, sinr, present,
    margin, ttt, q_out, q_in, t310, reest_s, pp_s, mro_s,
    serving, ttt_s, t310_s, reest_at, last_src, last_t, fail_kind, fail_src, fail_cell,
    attempt, source, target, success, failure, rlf, reest, ping_pong,
    too_early, too_late, wrong_cell, mro_cell,
):
    shared = slot_cell.shape[0] == 1
    n_slots = rsrp.shape[1]
    for u in prange(rsrp.shape[0]):
        s = serving[u]
        source[u] = s
        target[u] = -1
        mro_cell[u] = -1
        if not present[u]:
            continue
        row = np.int64(0) if shared else np.int64(u)
        if s >= 0:
            # one pass over the slots: the serving link and the best neighbour
            rs, ss = -math.inf, -math.inf
            bn, bm, bsinr = -1, -math.inf, -math.inf
            for k in range(n_slots):
                c = slot_cell[row, k]
                if c < 0:
                    continue
                r = rsrp[u, k]
                if c == s:
                    rs, ss = r, sinr[u, k]
                elif r > -math.inf:
                    off = cio[c]
                    for q in range(pair_ptr[s], pair_ptr[s + 1]):
                        if pair_nb[q] == c:
                            off = pair_db[q]
                            break
                    m = r + off
                    if m > bm:
                        bn, bm, bsinr = c, m, sinr[u, k]
            heard = rs > -math.inf
            if not heard:
                ss = -math.inf
            # radio link monitoring (NaN SINR counts as out of sync)
            t310_before = t310_s[u] if t310_s[u] >= 0.0 else 0.0
            if not ss >= q_out:
                t310_s[u] = t310_before + dt
            elif t310_s[u] >= 0.0:
                t310_s[u] = -1.0 if ss >= q_in else t310_s[u] + dt
            # event A3 entering condition and time-to-trigger
            ttt_before = ttt_s[u]
            if heard and bn >= 0 and bm > rs + cio[s] + margin[s]:
                ttt_s[u] += dt
            else:
                ttt_s[u] = 0.0
            rlf_due = t310_s[u] >= t310 - _EPS_S
            ho_due = ttt_s[u] > 0.0 and ttt_s[u] >= ttt[s] - _EPS_S
            if rlf_due and ho_due:
                # both run out within this step: the one with less time left goes first
                if ttt[s] - ttt_before < t310 - t310_before - _EPS_S:
                    rlf_due = False
                else:
                    ho_due = False
            failed = False
            hof = False
            if rlf_due:
                rlf[u] = True
                failed = True
            elif ho_due:
                attempt[u] = True
                target[u] = bn
                if bsinr >= q_out:
                    success[u] = True
                    if bn == last_src[u] and t - last_t[u] <= pp_s + _EPS_S:
                        ping_pong[u] = True
                    last_src[u] = s
                    last_t[u] = t
                    serving[u] = bn
                    ttt_s[u] = 0.0
                    t310_s[u] = -1.0
                else:
                    failure[u] = True
                    failed = True
                    hof = True
            if failed:
                if not heard:
                    fail_kind[u] = _NONE
                    fail_src[u] = s
                    fail_cell[u] = s
                elif t - last_t[u] <= mro_s + _EPS_S:
                    fail_kind[u] = _AFTER_HO
                    fail_src[u] = last_src[u]
                    fail_cell[u] = s
                elif hof:
                    fail_kind[u] = _HOF
                    fail_src[u] = s
                    fail_cell[u] = bn
                else:
                    fail_kind[u] = _LATE
                    fail_src[u] = s
                    fail_cell[u] = s
                reest_at[u] = t + reest_s
                serving[u] = -1
                ttt_s[u] = 0.0
                t310_s[u] = -1.0
                last_src[u] = -1
                last_t[u] = -math.inf
        if serving[u] < 0:
            pending = not math.isnan(reest_at[u])
            if pending and t < reest_at[u] - _EPS_S:
                continue
            r = _best_access(rsrp, sinr, slot_cell, cio, u, row, q_in)
            if r < 0:
                continue
            serving[u] = r
            ttt_s[u] = 0.0
            t310_s[u] = -1.0
            if pending:
                reest[u] = True
                kind = fail_kind[u]
                if kind == _LATE:
                    if r != fail_cell[u]:
                        too_late[u] = True
                        mro_cell[u] = fail_cell[u]
                elif kind == _AFTER_HO:
                    if r == fail_src[u]:
                        too_early[u] = True
                        mro_cell[u] = fail_src[u]
                    elif r != fail_cell[u]:
                        wrong_cell[u] = True
                        mro_cell[u] = fail_src[u]
                elif kind == _HOF:
                    if r == fail_src[u]:
                        too_early[u] = True
                    else:
                        too_late[u] = True
                    mro_cell[u] = fail_src[u]
                reest_at[u] = math.nan
                fail_kind[u] = _NONE
                fail_src[u] = -1
                fail_cell[u] = -1


@njit(cache=True, parallel=True)
def _attach_kernel(users, per_user_rows, rsrp, slot_cell, cio, sinr, q_in, serving):
    shared = slot_cell.shape[0] == 1
    for i in prange(users.shape[0]):
        u = users[i]
        row = np.int64(i) if per_user_rows else np.int64(u)
        slot_row = np.int64(0) if shared else row
        serving[u] = _best_access(rsrp, sinr, slot_cell, cio, row, slot_row, q_in)


class HandoverControl:
    """Per-user mobility-management state of ``n_users`` users under one :class:`Handover`
    configuration; :meth:`step` advances it by one clock step for all users at once.

    ``serving [U]`` holds each user's serving cell (``-1``: out of service — before access,
    after leaving, or while re-establishing). Memory is a few arrays of length ``U``.
    """

    def __init__(self, n_users: int, cfg: Handover):
        if isinstance(n_users, bool) or not isinstance(n_users, int | np.integer) or n_users < 0:
            raise InputError("n_users", n_users, "a non-negative integer")
        if not isinstance(cfg, Handover):
            raise InputError("cfg", type(cfg).__name__, "a twinnet.scenario.Handover")
        n = int(n_users)
        self.n_users = n
        self.cfg = cfg
        self.serving: NDArray[np.int32] = np.full(n, -1, dtype=np.int32)
        self._ttt_s = np.zeros(n)  # time the A3 condition has held [s]
        self._t310_s = np.full(n, -1.0)  # T310 elapsed [s], -1: not running
        self._reest_at = np.full(n, np.nan)  # earliest re-establishment [s], NaN: no failure
        self._last_src = np.full(n, -1, dtype=np.int32)  # cell left by the last handover
        self._last_t = np.full(n, -np.inf)  # time of the last successful handover [s]
        self._fail_kind = np.zeros(n, dtype=np.int8)
        self._fail_src = np.full(n, -1, dtype=np.int32)
        self._fail_cell = np.full(n, -1, dtype=np.int32)

    # ------------------------------------------------------------------ input checks
    def _users(self, users: NDArray[np.int64]) -> NDArray[np.int64]:
        idx = np.asarray(users)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise InputError("users", f"array of shape {idx.shape} and dtype {idx.dtype}",
                             "a 1-D array of integer user indices")
        idx = idx.astype(np.int64, copy=False)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_users):
            bad = idx[(idx < 0) | (idx >= self.n_users)][0]
            raise InputError("users", int(bad), f"user indices in [0, {self.n_users})")
        return idx

    @staticmethod
    def _links(
        rows: int,
        rsrp_dbm: NDArray[np.floating[Any]],
        slot_cell: NDArray[np.int32],
        cio_db: NDArray[np.float64],
        sinr_db: NDArray[np.floating[Any]],
    ) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.float64], NDArray[Any]]:
        rsrp = np.asarray(rsrp_dbm)
        sinr = np.asarray(sinr_db)
        cells = np.asarray(slot_cell)
        cio = np.asarray(cio_db, dtype=np.float64)
        if rsrp.ndim != 2 or rsrp.shape[0] != rows:
            raise InputError("rsrp_dbm", f"array of shape {rsrp.shape}",
                             f"shape ({rows}, K): one row per user, one column per link slot")
        n_slots = rsrp.shape[1]
        if sinr.shape != rsrp.shape:
            raise InputError("sinr_db", f"array of shape {sinr.shape}",
                             f"the shape of rsrp_dbm {rsrp.shape}")
        if cells.ndim != 2 or cells.shape[1] != n_slots or cells.shape[0] not in (1, rows):
            raise InputError("slot_cell", f"array of shape {cells.shape}",
                             f"shape (1, {n_slots}) or ({rows}, {n_slots})")
        if cells.size and not np.issubdtype(cells.dtype, np.integer):
            raise InputError("slot_cell", f"dtype {cells.dtype}", "integer cell indices")
        if cio.ndim != 1:
            raise InputError("cio_db", f"array of shape {cio.shape}", "one offset per cell (C,)")
        with threads_for(cells.size):
            bad_rows = _bad_rows(cells, cio.shape[0]) if cells.size else 0
        if bad_rows:
            bad = cells[(cells < -1) | (cells >= cio.shape[0])].flat[0]
            raise InputError("slot_cell", int(bad),
                             f"cell indices in [0, {cio.shape[0]}) (the length of cio_db), "
                             "or -1 for an empty slot")
        if rsrp.dtype not in (np.float32, np.float64):
            rsrp = rsrp.astype(np.float64)
        if sinr.dtype not in (np.float32, np.float64):
            sinr = sinr.astype(np.float64)
        return rsrp, cells, cio, sinr

    # ------------------------------------------------------------------ access
    def attach(
        self,
        users: NDArray[np.int64],
        rsrp_dbm: NDArray[np.floating[Any]],
        slot_cell: NDArray[np.int32],
        cio_db: NDArray[np.float64],
        sinr_db: NDArray[np.floating[Any]],
    ) -> None:
        """Initial access of ``users`` (at t = 0, or when they arrive): each takes the cell
        with the highest RSRP + offset among the heard cells whose SINR reaches ``q_in_db``
        (``-1`` if none; :meth:`step` then keeps trying). Timers and history start afresh; no
        counters.

        The link arrays are either the whole network's (``rsrp_dbm``, ``sinr_db`` ``[U, K]`` dBm
        and dB, ``slot_cell`` ``[1 or U, K]``), read at the users' rows, or the given users'
        own rows only (``[len(users), K]``; ``slot_cell`` ``[1 or len(users), K]``) when that
        differs from ``U``. ``cio_db [C]`` dB."""
        idx = self._users(users)
        per_user = np.ndim(rsrp_dbm) == 2 and np.shape(rsrp_dbm)[0] != self.n_users
        rows = idx.size if per_user else self.n_users
        rsrp, cells, cio, sinr = self._links(rows, rsrp_dbm, slot_cell, cio_db, sinr_db)
        self.detach(idx)
        with threads_for(idx.size * rsrp.shape[1]):
            _attach_kernel(idx, per_user, rsrp, cells, cio, sinr, float(self.cfg.q_in_db),
                           self.serving)

    def detach(self, users: NDArray[np.int64]) -> None:
        """``users`` leave the network: no cell, no timers, no pending failure, no counters."""
        idx = self._users(users)
        self.serving[idx] = -1
        self._ttt_s[idx] = 0.0
        self._t310_s[idx] = -1.0
        self._reest_at[idx] = np.nan
        self._last_src[idx] = -1
        self._last_t[idx] = -np.inf
        self._fail_kind[idx] = _NONE
        self._fail_src[idx] = -1
        self._fail_cell[idx] = -1

    # ------------------------------------------------------------------ one clock step
    def step(
        self,
        t_s: float,
        dt_s: float,
        rsrp_dbm: NDArray[np.floating[Any]],
        slot_cell: NDArray[np.int32],
        cio_db: NDArray[np.float64],
        sinr_db: NDArray[np.floating[Any]],
        present: NDArray[np.bool_],
        pair_offsets: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]
        | None = None,
        cell_settings: dict[int, tuple[float, float]] | None = None,
    ) -> HandoverStep:
        """Advance every present user by one step of ``dt_s`` seconds ending at clock time
        ``t_s`` [s]: radio link monitoring, A3 handover, re-establishment and initial access.

        ``rsrp_dbm [U, K]`` dBm, ``slot_cell [1 or U, K]``, ``cio_db [C]`` dB, ``sinr_db
        [U, K]`` dB, ``present [U]``; ``pair_offsets`` (``ptr [C + 1]``, ``nb [P]``,
        ``db [P]``, :meth:`~twinnet.network.topology.Network.pair_offsets`) overrides a
        neighbour's offset as seen from a serving cell in the A3 condition;
        ``cell_settings`` ``{cell: (hysteresis_db, time_to_trigger_ms)}`` overrides the
        configuration's for the users that cell serves. Returns the step's events per user
        (:class:`HandoverStep`).
        """
        if not math.isfinite(t_s):
            raise InputError("t_s", t_s, "a finite clock time [s]")
        if not (math.isfinite(dt_s) and dt_s > 0):
            raise InputError("dt_s", dt_s, "a positive, finite step [s]")
        n = self.n_users
        rsrp, cells, cio, sinr = self._links(n, rsrp_dbm, slot_cell, cio_db, sinr_db)
        if pair_offsets is None:
            ptr = np.zeros(len(cio) + 1, dtype=np.int64)
            nb, db = np.zeros(0, dtype=np.int64), np.zeros(0)
        else:
            ptr, nb, db = (np.asarray(pair_offsets[0], dtype=np.int64),
                           np.asarray(pair_offsets[1], dtype=np.int64),
                           np.asarray(pair_offsets[2], dtype=np.float64))
            if ptr.shape != (len(cio) + 1,) or nb.shape != db.shape \
                    or (nb.size and (nb.min() < 0 or nb.max() >= len(cio))):
                raise InputError("pair_offsets", (ptr.shape, nb.shape, db.shape),
                                 f"compressed rows over the {len(cio)} cells")
        pres = np.asarray(present)
        if pres.shape != (n,):
            raise InputError("present", f"array of shape {pres.shape}", f"shape ({n},)")
        pres = pres.astype(np.bool_, copy=False)
        cfg = self.cfg
        out = HandoverStep(
            attempt=np.zeros(n, np.bool_),
            source=np.empty(n, np.int32),
            target=np.empty(n, np.int32),
            success=np.zeros(n, np.bool_),
            failure=np.zeros(n, np.bool_),
            rlf=np.zeros(n, np.bool_),
            reestablished=np.zeros(n, np.bool_),
            ping_pong=np.zeros(n, np.bool_),
            too_early=np.zeros(n, np.bool_),
            too_late=np.zeros(n, np.bool_),
            wrong_cell=np.zeros(n, np.bool_),
            mro_cell=np.empty(n, np.int32),
        )
        margin = np.full(len(cio), cfg.a3_offset_db + cfg.hysteresis_db)
        ttt = np.full(len(cio), cfg.time_to_trigger_ms / 1000.0)
        for c, (hys, ttt_ms) in (cell_settings or {}).items():
            if 0 <= c < len(cio):
                margin[c] = cfg.a3_offset_db + hys
                ttt[c] = ttt_ms / 1000.0
        with threads_for(rsrp.size):
            _step_kernel(
                float(t_s), float(dt_s), rsrp, cells, cio, ptr, nb, db, sinr, pres,
                margin, ttt,
                cfg.q_out_db, cfg.q_in_db, cfg.t310_ms / 1000.0, cfg.reestablish_ms / 1000.0,
                cfg.ping_pong_s, cfg.mro_window_s,
                self.serving, self._ttt_s, self._t310_s, self._reest_at, self._last_src,
                self._last_t, self._fail_kind, self._fail_src, self._fail_cell,
                out.attempt, out.source, out.target, out.success, out.failure, out.rlf,
                out.reestablished, out.ping_pong, out.too_early, out.too_late, out.wrong_cell,
                out.mro_cell,
            )
        return out
