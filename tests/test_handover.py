"""Mobility management: A3 handover with time-to-trigger, radio link failure, re-establishment,
ping-pong and MRO classification (twinnet.traffic.handover).

Most tests walk one user along a two-cell corridor whose RSRP is computed here from the
TR 38.901 UMa LOS path loss: cell A at x = 0, cell B at x = 500 m, both 25 m high and 46 dBm,
the user at 1.5 m, 3.5 GHz. The SINR is each cell's RSRP against the other cell at full load
plus thermal noise. Where the model says an event happens is computed from those curves on a
fine grid, independently of the code under test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from twinnet.errors import InputError
from twinnet.radio.noise import thermal_noise_dbm
from twinnet.radio.pathloss import pathloss_uma_los_db
from twinnet.scenario import Handover
from twinnet.traffic import HandoverControl, HandoverStep

FC_GHZ, P_TX_DBM, H_BS_M, H_UT_M, ISD_M = 3.5, 46.0, 25.0, 1.5, 500.0
NOISE_DBM = float(thermal_noise_dbm(20e6, 9.0))
CELLS = np.array([[0, 1]], dtype=np.int32)  # slot 0 = cell A, slot 1 = cell B (shared row)


def corridor_rsrp(x_m: np.ndarray) -> np.ndarray:
    """RSRP [dBm] of cells A and B at positions ``x_m`` on the line between them, [n, 2]."""
    x = np.asarray(x_m, dtype=float)
    out = np.empty((x.size, 2))
    for j, d2d in enumerate((np.abs(x), np.abs(ISD_M - x))):
        d2d = np.maximum(d2d, 1.0)
        d3d = np.hypot(d2d, H_BS_M - H_UT_M)
        out[:, j] = P_TX_DBM - pathloss_uma_los_db(d2d, d3d, FC_GHZ, H_BS_M, H_UT_M)
    return out


def full_load_sinr(rsrp_dbm: np.ndarray) -> np.ndarray:
    """SINR [dB] of each slot against all the other slots at full load plus noise, [n, K]."""
    p = 10.0 ** (rsrp_dbm / 10.0)
    interference = p.sum(axis=1, keepdims=True) - p + 10.0 ** (NOISE_DBM / 10.0)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(p / interference)


def first_x(condition: Callable[[np.ndarray], np.ndarray], lo: float, hi: float) -> float:
    """The first position in [lo, hi] (0.5 mm grid, walking from lo to hi) where it holds."""
    xs = np.linspace(lo, hi, max(3, int(abs(hi - lo) / 5e-4)))
    hit = np.flatnonzero(condition(xs))
    assert hit.size, "the condition never holds on this walk"
    return float(xs[hit[0]])


def a3_margin_db(x: np.ndarray, cio_b: float = 0.0, towards_b: bool = True) -> np.ndarray:
    r = corridor_rsrp(x)
    diff = r[:, 1] + cio_b - r[:, 0]
    return diff if towards_b else -diff


def walk(
    cfg: Handover,
    x_of_t: Callable[[np.ndarray], np.ndarray],
    dt: float,
    t_end: float,
    cio_db: tuple[float, float] = (0.0, 0.0),
    outage_a_from_s: float | None = None,
    pairs: dict[tuple[int, int], float] | None = None,
    settings: dict[int, tuple[float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[HandoverStep | None], np.ndarray]:
    """One user walking ``x_of_t``: attach at t = 0, then one step per ``dt`` up to ``t_end``.
    Returns the times, positions, the steps (index i ↔ times[i], i ≥ 1) and the serving cell
    after each step."""
    n = round(t_end / dt) + 1
    t = dt * np.arange(n)
    x = x_of_t(t)
    rsrp = corridor_rsrp(x)
    if outage_a_from_s is not None:
        rsrp[t >= outage_a_from_s - 1e-9, 0] = -np.inf
    sinr = full_load_sinr(rsrp)
    cio = np.asarray(cio_db, dtype=float)
    ctl = HandoverControl(1, cfg)
    ctl.attach(np.array([0]), rsrp[:1], CELLS, cio, sinr[:1])
    steps: list[HandoverStep | None] = [None]
    serving = np.full(n, -1)
    serving[0] = ctl.serving[0]
    present = np.ones(1, dtype=bool)
    pair = None
    if pairs:
        items = sorted(pairs.items())
        ptr = np.zeros(3, dtype=np.int64)
        for (src, _), _v in items:
            ptr[src + 1] += 1
        pair = (np.cumsum(ptr), np.array([k[1] for k, _ in items]),
                np.array([v for _, v in items], dtype=float))
    for i in range(1, n):
        steps.append(ctl.step(float(t[i]), dt, rsrp[i : i + 1], CELLS, cio, sinr[i : i + 1],
                              present, pair, settings))
        serving[i] = ctl.serving[0]
    return t, x, steps, serving


def when(steps: list[HandoverStep | None], flag: str) -> list[int]:
    """Step indices at which ``flag`` was set for user 0."""
    return [i for i, s in enumerate(steps) if i and bool(getattr(s, flag)[0])]


# --------------------------------------------------------------------------- A3 + TTT
@pytest.mark.parametrize(("ttt_ms", "dt"), [(320, 0.1), (640, 0.1), (0, 0.1), (320, 1.0),
                                            (320, 10.0), (2560, 1.0)])
def test_handover_where_a3_and_time_to_trigger_say(ttt_ms, dt):
    cfg = Handover(time_to_trigger_ms=ttt_ms)
    v, x0 = 10.0, 50.0
    t, x, steps, serving = walk(cfg, lambda t: x0 + v * t, dt, 40.0)
    x_a3 = first_x(lambda xs: a3_margin_db(xs) > cfg.a3_offset_db + cfg.hysteresis_db, x0, 450)
    expected = x_a3 + v * ttt_ms / 1000.0
    [i] = when(steps, "attempt")
    s = steps[i]
    assert s.success[0] and not s.failure[0] and not s.ping_pong[0]
    assert (s.source[0], s.target[0]) == (0, 1)
    assert abs(x[i] - expected) <= v * dt + 1e-6
    # never before the entering condition holds, never before the TTT has run
    assert x[i] >= x_a3 and t[i] - (x_a3 - x0) / v >= ttt_ms / 1000.0 - dt - 1e-9
    assert serving[i - 1] == 0 and (serving[i:] == 1).all()
    assert not when(steps, "rlf")
    if dt >= ttt_ms / 1000.0:  # longer steps than the TTT: the first step where it holds
        assert a3_margin_db(x[i - 1 : i])[0] <= cfg.a3_offset_db + cfg.hysteresis_db


def test_a_cells_own_hysteresis_and_time_to_trigger_govern_its_users():
    cfg = Handover()
    v, x0, dt = 10.0, 50.0, 0.1
    # cell A (serving) with 3 dB of hysteresis and 640 ms: A3 at 3 dB + offset, 6.4 m later
    _, x, steps, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0, settings={0: (3.0, 640.0)})
    x_a3 = first_x(lambda xs: a3_margin_db(xs) > cfg.a3_offset_db + 3.0, x0, 450)
    [i] = when(steps, "success")
    assert abs(x[i] - (x_a3 + v * 0.64)) <= v * dt + 1e-6
    # settings of the target cell do not move the handover out of A
    _, x_b, steps_b, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0, settings={1: (3.0, 640.0)})
    _, x_0, steps_0, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0)
    assert x_b[when(steps_b, "success")[0]] == x_0[when(steps_0, "success")[0]]


def test_no_handover_with_a_hysteresis_beyond_the_route_margin():
    def route(t: np.ndarray) -> np.ndarray:  # 150 m → 350 m
        return 150.0 + 8.0 * t

    big = Handover(hysteresis_db=15.0, t310_ms=6000)
    xs = route(np.linspace(0.0, 25.0, 2001))
    assert a3_margin_db(xs).max() < big.a3_offset_db + big.hysteresis_db  # the premise
    _, _, steps, _ = walk(big, route, 0.1, 25.0)
    assert not when(steps, "attempt")
    # the same walk with the default hysteresis does hand over
    _, _, steps, _ = walk(Handover(t310_ms=6000), route, 0.1, 25.0)
    assert len(when(steps, "success")) == 1


def test_cio_on_the_target_hands_over_earlier_by_the_offset():
    v, x0, dt = 10.0, 50.0, 0.1
    cfg = Handover()
    thr = cfg.a3_offset_db + cfg.hysteresis_db
    _, x_plain, plain, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0)
    _, x_cio, cio, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0, cio_db=(0.0, 4.0))
    [i_plain], [i_cio] = when(plain, "success"), when(cio, "success")
    expected = first_x(lambda xs: a3_margin_db(xs, cio_b=4.0) > thr, x0, 450) + v * 0.32
    assert abs(x_cio[i_cio] - expected) <= v * dt + 1e-6
    assert x_cio[i_cio] < x_plain[i_plain] - 20.0  # 4 dB of 22 log10 d is tens of metres here
    # a CIO on the serving cell delays it instead
    _, x_late, late, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0, cio_db=(4.0, 0.0))
    [i_late] = when(late, "success")
    assert x_late[i_late] > x_plain[i_plain] + 20.0


# --------------------------------------------------------------------------- RLF, too late
def test_huge_ttt_gives_rlf_t310_after_qout_then_too_late_reestablishment():
    cfg = Handover(time_to_trigger_ms=5120)
    v, x0, dt = 20.0, 100.0, 0.1
    t, _, steps, serving = walk(cfg, lambda t: x0 + v * t, dt, 20.0)
    x_qout = first_x(lambda xs: full_load_sinr(corridor_rsrp(xs))[:, 0] < cfg.q_out_db, x0, 490)
    t_qout = (x_qout - x0) / v
    [i_rlf] = when(steps, "rlf")
    assert not when(steps, "attempt")  # the TTT never ran out
    assert abs(t[i_rlf] - (t_qout + cfg.t310_ms / 1000.0)) <= dt + 1e-9
    assert steps[i_rlf].source[0] == 0 and serving[i_rlf] == -1
    [i_re] = when(steps, "reestablished")
    assert abs(t[i_re] - (t[i_rlf] + cfg.reestablish_ms / 1000.0)) <= dt + 1e-9
    assert (serving[i_rlf:i_re] == -1).all() and serving[i_re] == 1
    s = steps[i_re]
    assert s.too_late[0] and not s.too_early[0] and not s.wrong_cell[0]
    assert s.mro_cell[0] == 0  # charged to the cell that kept the user too long


# --------------------------------------------------------------------------- ping-pong
def zigzag(lo: float, hi: float, v: float) -> Callable[[np.ndarray], np.ndarray]:
    span = hi - lo

    def x(t: np.ndarray) -> np.ndarray:
        phase = np.mod(v * t, 2 * span)
        return lo + np.where(phase < span, phase, 2 * span - phase)

    return x


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_zigzag_across_the_border_ping_pongs(dt):
    path = zigzag(190.0, 330.0, 15.0)
    t, _, steps, _ = walk(Handover(ping_pong_s=15.0), path, dt, 120.0)
    hos = when(steps, "success")
    assert len(hos) >= 8
    gaps = np.diff(t[hos])
    assert (gaps > 5.0).all() and (gaps < 15.0).all()  # the premise of the two windows
    targets = [int(steps[i].target[0]) for i in hos]
    assert targets == [1, 0] * (len(hos) // 2) + [1] * (len(hos) % 2)
    pp = [bool(steps[i].ping_pong[0]) for i in hos]
    assert pp == [False] + [True] * (len(hos) - 1)  # every return within 15 s
    assert len(when(steps, "ping_pong")) == len(hos) - 1
    # the same walk judged with a 5 s window: no return is quick enough
    _, _, steps5, _ = walk(Handover(ping_pong_s=5.0), path, dt, 120.0)
    assert when(steps5, "success") == hos and not when(steps5, "ping_pong")
    assert not when(steps, "rlf")


# --------------------------------------------------------------------------- outage
@pytest.mark.parametrize("dt", [0.1, 1.0, 10.0])
def test_outage_rlf_after_t310_then_reestablishment_on_the_other_cell(dt):
    cfg = Handover(t310_ms=2000, reestablish_ms=500.0)
    t_out = 20.0
    t, _, steps, serving = walk(cfg, lambda t: np.full_like(t, 150.0), dt, 60.0,
                                outage_a_from_s=t_out)
    assert serving[0] == 0
    [i_rlf] = when(steps, "rlf")
    assert abs(t[i_rlf] - (t_out + 2.0)) <= dt + 1e-9
    assert t[i_rlf] >= t_out - 1e-9
    assert not when(steps, "attempt")  # a silent cell sends no handover command
    [i_re] = when(steps, "reestablished")
    assert abs(t[i_re] - (t[i_rlf] + 0.5)) <= dt + 1e-9 and t[i_re] >= t[i_rlf] + 0.5 - 1e-9
    assert serving[i_re] == 1 and (serving[i_re:] == 1).all()
    # an outage is no mobility-parameter problem: no MRO class
    for flag in ("too_late", "too_early", "wrong_cell"):
        assert not when(steps, flag)


# --------------------------------------------------------------------------- synthetic links
class Script:
    """One user, three cells, RSRP and SINR set by hand per step (dt = 0.1 s)."""

    def __init__(self, cfg: Handover, dt: float = 0.1):
        self.ctl = HandoverControl(1, cfg)
        self.dt, self.t = dt, 0.0
        self.cells = np.array([[0, 1, 2]], dtype=np.int32)
        self.cio = np.zeros(3)

    def attach(self, rsrp: tuple[float, ...], sinr: tuple[float, ...]) -> None:
        self.ctl.attach(np.array([0]), np.array([rsrp]), self.cells, self.cio, np.array([sinr]))

    def run(self, seconds: float, rsrp: tuple[float, ...], sinr: tuple[float, ...]
            ) -> list[tuple[float, HandoverStep]]:
        out = []
        for _ in range(round(seconds / self.dt)):
            self.t += self.dt
            out.append((self.t, self.ctl.step(self.t, self.dt, np.array([rsrp]), self.cells,
                                              self.cio, np.array([sinr]), np.ones(1, bool))))
        return out


def first(events: list[tuple[float, HandoverStep]], flag: str) -> tuple[float, HandoverStep]:
    hits = [(t, s) for t, s in events if bool(getattr(s, flag)[0])]
    assert hits, f"no {flag}"
    return hits[0]


def test_t310_runs_between_qout_and_qin_and_stops_at_qin():
    cfg = Handover(t310_ms=1000, q_out_db=-8.0, q_in_db=-6.0)
    s = Script(cfg)
    s.attach((-80, -120, -120), (5, -30, -30))
    ev = s.run(0.5, (-80, -120, -120), (-9, -30, -30))  # out of sync: T310 starts
    ev += s.run(2.0, (-80, -120, -120), (-7, -30, -30))  # between Qout and Qin: runs on
    t_rlf, _ = first(ev, "rlf")
    assert t_rlf == pytest.approx(1.0, abs=1e-9)
    s = Script(cfg)
    s.attach((-80, -120, -120), (5, -30, -30))
    ev = s.run(0.5, (-80, -120, -120), (-9, -30, -30))
    ev += s.run(0.1, (-80, -120, -120), (-6, -30, -30))  # in sync: T310 stops and resets
    ev += s.run(0.5, (-80, -120, -120), (-7, -30, -30))  # not out of sync: does not start
    assert not any(st.rlf[0] for _, st in ev)
    ev = s.run(3.0, (-80, -120, -120), (-9, -30, -30))
    t_rlf, _ = first(ev, "rlf")
    assert t_rlf == pytest.approx(1.1 + 1.0, abs=1e-9)


def sources(ev: list[tuple[float, HandoverStep]]) -> list[int]:
    """The serving cell before each step."""
    return [int(st.source[0]) for _, st in ev]


def _handover_then_rlf(cfg: Handover, back_to: int) -> list[tuple[float, HandoverStep]]:
    """A → B (B 10 dB better, TTT 0), B's SINR collapses at once, then only ``back_to`` is
    usable."""
    s = Script(cfg)
    s.attach((-80, -120, -120), (5, -30, -30))
    ev = s.run(0.1, (-80, -70, -120), (-2, 3, -30))  # handover to B
    ev += s.run(1.5, (-80, -70, -90), (-10, -15, -10))  # B collapses, T310 runs out
    usable = [-30.0, -30.0, -30.0]
    usable[back_to] = 10.0
    ev += s.run(2.0, (-80, -90, -85), tuple(usable))
    return ev


@pytest.mark.parametrize(("back_to", "flag"), [(0, "too_early"), (2, "wrong_cell"),
                                               (1, None)])
def test_rlf_soon_after_a_handover_is_too_early_or_to_a_wrong_cell(back_to, flag):
    cfg = Handover(time_to_trigger_ms=0, mro_window_s=2.0)
    ev = _handover_then_rlf(cfg, back_to)
    t_ho, ho = first(ev, "success")
    assert (ho.source[0], ho.target[0]) == (0, 1)
    t_rlf, _ = first(ev, "rlf")
    assert t_rlf - t_ho <= 2.0
    t_re, re = first(ev, "reestablished")
    assert t_re >= t_rlf + cfg.reestablish_ms / 1000.0 - 1e-9
    flags = {f: bool(getattr(re, f)[0]) for f in ("too_early", "too_late", "wrong_cell")}
    assert flags == {f: f == flag for f in flags}
    assert re.mro_cell[0] == (0 if flag else -1)  # charged to the cell that handed over
    assert sources(ev)[-1] == back_to


def test_rlf_long_after_the_handover_is_too_late():
    cfg = Handover(time_to_trigger_ms=0, mro_window_s=0.5)  # T310 alone takes 1 s
    ev = _handover_then_rlf(cfg, back_to=0)
    _, re = first(ev, "reestablished")
    assert re.too_late[0] and not re.too_early[0] and re.mro_cell[0] == 1


@pytest.mark.parametrize(("back_to", "flag"), [(0, "too_early"), (1, "too_late"),
                                               (2, "too_late")])
def test_handover_failure_when_the_target_is_below_qout(back_to, flag):
    cfg = Handover(time_to_trigger_ms=0, reestablish_ms=300.0)
    s = Script(cfg)
    s.attach((-80, -120, -120), (5, -30, -30))
    ev = s.run(0.1, (-80, -70, -120), (0, -9, -30))  # B is stronger but drowned in interference
    t_f, f = first(ev, "failure")
    assert f.attempt[0] and not f.success[0] and (f.source[0], f.target[0]) == (0, 1)
    assert s.ctl.serving[0] == -1
    usable, strongest = [-30.0, -30.0, -30.0], [-90.0, -90.0, -90.0]
    usable[back_to], strongest[back_to] = 10.0, -60.0
    ev = s.run(1.0, tuple(strongest), tuple(usable))
    t_re, re = first(ev, "reestablished")
    assert t_re - t_f == pytest.approx(0.3, abs=1e-9)
    assert s.ctl.serving[0] == back_to
    assert bool(getattr(re, flag)[0]) and re.mro_cell[0] == 0
    assert int(re.too_early[0]) + int(re.too_late[0]) + int(re.wrong_cell[0]) == 1


def test_reestablishment_waits_for_a_cell_reaching_qin():
    s = Script(Handover(t310_ms=0, reestablish_ms=0.0))
    s.attach((-80, -120, -120), (5, -30, -30))
    ev = s.run(1.0, (-80, -120, -120), (-10, -7, -30))  # nothing reaches Qin = -6 dB
    assert first(ev, "rlf")[0] == pytest.approx(0.1)
    assert not any(st.reestablished[0] for _, st in ev) and s.ctl.serving[0] == -1
    ev = s.run(0.2, (-80, -100, -120), (-10, -5, -30))
    t_re, _ = first(ev, "reestablished")
    assert t_re == pytest.approx(1.1) and s.ctl.serving[0] == 1  # the first step it can


# --------------------------------------------------------------------------- access, many users
def test_attach_detach_and_absent_users():
    cfg = Handover()
    ctl = HandoverControl(4, cfg)
    rsrp = np.array([[-80, -85, -70], [-80, -85, -np.inf], [-80, -85, -90], [-80, -85, -90]])
    sinr = np.array([[-7, 5, 9], [3, 4, 20], [-9, -9, -9], [3, -9, -9]], dtype=float)
    cells = np.array([[0, 1, 2]], dtype=np.int32)
    cio = np.array([0.0, 6.0, 0.0])
    ctl.attach(np.arange(4), rsrp, cells, cio, sinr)
    # user 0: cell 2 is strongest with SINR ≥ Qin; user 1: cell 2 is off, CIO lifts cell 1 over
    # cell 0; user 2: nothing reaches Qin; user 3: cell 0 is the only one
    assert ctl.serving.tolist() == [2, 1, -1, 0]
    present = np.array([True, True, True, False])
    better = sinr.copy()
    better[2] = [0.0, -9.0, -9.0]
    st = ctl.step(1.0, 1.0, rsrp, cells, cio, better, present)
    assert ctl.serving[2] == 0 and not st.reestablished.any()  # initial access, no counter
    ctl.detach(np.array([0]))
    assert ctl.serving[0] == -1
    # an absent user keeps its state even if its cell vanishes
    gone = rsrp.copy()
    gone[3, 0] = -np.inf
    for k in range(30):
        st = ctl.step(2.0 + k, 1.0, gone, cells, cio, better, present)
        assert not st.rlf[3] and not st.attempt[3]
    assert ctl.serving[3] == 0
    # attach with the users' own rows only
    ctl.attach(np.array([3]), rsrp[:1], cells, cio, sinr[:1])
    assert ctl.serving[3] == 2


def test_many_users_at_once_equal_each_user_alone():
    rng = np.random.default_rng(7)
    n_users, n_steps, dt = 40, 300, 0.1
    cfg = Handover(time_to_trigger_ms=160, ping_pong_s=5.0, mro_window_s=3.0, t310_ms=500)
    x0 = rng.uniform(120, 380, n_users)
    v = rng.uniform(-25, 25, n_users)
    t = dt * np.arange(n_steps + 1)
    x = np.clip(x0[:, None] + v[:, None] * np.sin(t[None, :] / rng.uniform(1, 6, n_users)[:, None]
                                                 ) * 8.0, 5, 495)
    rsrp = corridor_rsrp(x.ravel()).reshape(n_users, n_steps + 1, 2)
    rsrp += rng.normal(0, 4, (n_users, n_steps + 1, 1)) * np.array([1.0, -1.0])  # fading-ish
    rsrp[::4, 100:200, 0] = -np.inf  # cell A off for every fourth user for 10 s
    sinr = full_load_sinr(rsrp.reshape(-1, 2)).reshape(rsrp.shape)
    cio = np.array([0.0, 1.0])
    together = HandoverControl(n_users, cfg)
    per_user_cells = np.tile(CELLS, (n_users, 1))
    together.attach(np.arange(n_users), rsrp[:, 0], per_user_cells, cio, sinr[:, 0])
    present = np.ones(n_users, bool)
    joint = [together.step(float(t[i]), dt, rsrp[:, i], per_user_cells, cio, sinr[:, i], present)
             for i in range(1, n_steps + 1)]
    fields = [f for f in HandoverStep.__dataclass_fields__]
    assert sum(int(s.attempt.sum()) for s in joint) > 20
    assert any(s.rlf.any() for s in joint) and any(s.reestablished.any() for s in joint)
    for u in range(n_users):
        alone = HandoverControl(1, cfg)
        alone.attach(np.array([0]), rsrp[u : u + 1, 0], CELLS, cio, sinr[u : u + 1, 0])
        for i in range(1, n_steps + 1):
            s = alone.step(float(t[i]), dt, rsrp[u : u + 1, i], CELLS, cio, sinr[u : u + 1, i],
                           np.ones(1, bool))
            for f in fields:
                assert getattr(s, f)[0] == getattr(joint[i - 1], f)[u], (u, i, f)


def test_float32_links_and_repeatable():
    rsrp = corridor_rsrp(np.linspace(100, 400, 300))
    sinr = full_load_sinr(rsrp)
    results = []
    for dtype in (np.float64, np.float32, np.float64):
        ctl = HandoverControl(300, Handover())
        ctl.attach(np.arange(300), rsrp.astype(dtype), CELLS, np.zeros(2), sinr.astype(dtype))
        st = ctl.step(0.1, 0.1, rsrp[::-1].astype(dtype), CELLS, np.zeros(2),
                      sinr[::-1].astype(dtype), np.ones(300, bool))
        results.append((ctl.serving.copy(), st.attempt.copy()))
    assert (results[0][0] == results[2][0]).all() and (results[0][1] == results[2][1]).all()
    assert (results[0][0] == results[1][0]).all()


# --------------------------------------------------------------------------- bad input
def test_bad_input_names_the_field():
    ctl = HandoverControl(2, Handover())
    rsrp = np.full((2, 3), -80.0)
    cells = np.array([[0, 1, 2]], dtype=np.int32)
    ok = dict(rsrp_dbm=rsrp, slot_cell=cells, cio_db=np.zeros(3), sinr_db=rsrp * 0,
              present=np.ones(2, bool))
    cases = [
        ("dt_s", dict(dt_s=0.0)),
        ("t_s", dict(t_s=float("nan"))),
        ("rsrp_dbm", dict(rsrp_dbm=np.zeros((3, 3)))),
        ("sinr_db", dict(sinr_db=np.zeros((2, 2)))),
        ("slot_cell", dict(slot_cell=np.array([[0, 1, 3]]))),
        ("slot_cell", dict(slot_cell=np.array([[0, -2, 1]]))),
        ("slot_cell", dict(slot_cell=np.zeros((2, 2), dtype=int))),
        ("present", dict(present=np.ones(3, bool))),
        ("cio_db", dict(cio_db=np.zeros((1, 3)))),
    ]
    for field, change in cases:
        kw = {"t_s": 1.0, "dt_s": 0.1, **ok, **change}
        with pytest.raises(InputError) as err:
            ctl.step(**kw)
        assert err.value.field == field
    with pytest.raises(InputError) as err:
        ctl.attach(np.array([0, 5]), rsrp, cells, np.zeros(3), rsrp)
    assert err.value.field == "users" and err.value.value == 5
    with pytest.raises(InputError) as err:
        HandoverControl(-1, Handover())
    assert err.value.field == "n_users"
    with pytest.raises(InputError) as err:
        ctl.step(1.0, 0.1, rsrp, np.array([[0, 1, 9]]), np.zeros(3), rsrp, np.ones(2, bool))
    assert err.value.value == 9 and "cio_db" in str(err.value)


def test_a_neighbour_offset_of_the_serving_cell_acts_like_the_neighbours_own_offset():
    """A (serving A → neighbour B) offset of +4 dB moves the handover exactly where a +4 dB
    cell individual offset on B does; an offset configured on B's side (B → A) does not."""
    cfg = Handover(time_to_trigger_ms=320)
    x0, v, dt = 150.0, 5.0, 0.1
    _, x_cio, cio, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0, cio_db=(0.0, 4.0))
    _, x_pair, pair, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0, pairs={(0, 1): 4.0})
    _, x_other, other, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0, pairs={(1, 0): 4.0})
    _, x_plain, plain, _ = walk(cfg, lambda t: x0 + v * t, dt, 40.0)
    [i_cio], [i_pair] = when(cio, "success"), when(pair, "success")
    [i_other], [i_plain] = when(other, "success"), when(plain, "success")
    assert x_pair[i_pair] == x_cio[i_cio]
    assert x_other[i_other] == x_plain[i_plain] > x_pair[i_pair] + 20.0
