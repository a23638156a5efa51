"""What every loop on the living network starts with: the scenario (which must have a
``[simulation]`` table), its emulated network, the twin, and the P2V/V2P sync between them
through the store with the recorded topology published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinnet.emulator import NetworkEmulator
from twinnet.errors import InputError
from twinnet.scenario import Scenario, load_scenario
from twinnet.store.context import ContextStore
from twinnet.twin.sync import TwinSync
from twinnet.twin.twin import DigitalTwin

__all__ = ["LivingNetwork", "day_intervals", "learn_load_factor", "usecase_report"]


@dataclass
class LivingNetwork:
    """The emulated network (``emu``), its twin and their sync."""

    sc: Scenario
    emu: NetworkEmulator
    twin: DigitalTwin
    sync: TwinSync

    @classmethod
    def open(cls, scenario: str | Scenario, store: ContextStore, why: str) -> LivingNetwork:
        """``why`` completes the error when the scenario has no ``[simulation]``: "… table:
        {why}"."""
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if sc.simulation is None:
            raise InputError("scenario.simulation", None, f"a [simulation] table: {why}")
        emu = NetworkEmulator(sc)
        twin = DigitalTwin(sc)
        sync = TwinSync(store, twin, source=f"emulator:{sc.name}")
        sync.publish_topology(emu.recorded, sc)
        return cls(sc, emu, twin, sync)

    @property
    def report_s(self) -> float:
        assert self.sc.simulation is not None
        return float(self.sc.simulation.report_s)


def day_intervals(report_s: float, intervals: int | None = None) -> int:
    """``intervals``, checked, or one day's worth of reporting intervals."""
    n = intervals if intervals is not None else max(1, round(86400.0 / report_s))
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError("intervals", n, "at least 1")
    return n


def learn_load_factor(twin: DigitalTwin, measured: NDArray[np.float64],
                      factor: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """L2 load correction. ``twin`` is loaded with the traffic the network just carried (its
    ``demand_multiplier`` includes ``factor``); it predicts each cell's PRB utilisation, and
    where neither side is saturated (or idle) the users of the cell get their factor moved
    halfway (geometrically) towards measured / predicted. The radio twin's spectral
    efficiency, the scheduler and the traffic's burstiness all differ from the network's; the
    factor absorbs what they do to the load. ``measured``: the counters' PRB utilisation per
    cell of ``twin.network``. Returns the new factor (in [0.3, 3]) and the mean absolute PRB
    error before the update (the L2 fidelity)."""
    u = np.asarray(twin.evaluate(uplink=False).load.prb_utilization, dtype=float)
    m = np.asarray(measured, dtype=float)
    act = twin.network.cell_active
    mae = float(np.nanmean(np.abs(u[act] - m[act])))
    ok = act & (m > 0.05) & (m < 0.95) & (u > 0.02) & (u < 0.98)
    ratio = np.where(ok, m / np.maximum(u, 1e-6), 1.0)
    srv = twin.serving_cells().astype(np.int64)
    has = srv >= 0
    step = np.where(has, ratio[np.where(has, srv, 0)], 1.0)
    return np.clip(factor * np.sqrt(step), 0.3, 3.0), mae


def usecase_report(loop: Any, keys: tuple[str, ...], usecase: dict[str, Any], llm: Any,
                   wall_s: float, **extra: Any) -> dict[str, Any]:
    """The JSON report every use-case loop returns: what ran (``scenario``, ``policy``,
    ``intervals``, ``report_s``), where it was scored (``verified_on``: the emulator, with its
    ``truth`` model), ``baseline`` / ``after`` (``keys`` of the first and last row of
    ``loop.rows``), ``plan`` (``loop.decisions``), the use case's metrics, ``timeline``,
    ``llm`` and ``timings_s`` (``loop.timing`` and the total), plus ``extra`` entries."""
    first, last = loop.rows[0], loop.rows[-1]
    return {
        "scenario": loop.sc.name, "policy": loop.policy, "intervals": len(loop.rows),
        "report_s": loop.report_s, "verified_on": "emulator",
        "truth": loop.emu.truth_cfg.model,
        "baseline": {k: first[k] for k in keys}, "after": {k: last[k] for k in keys},
        "plan": loop.decisions, "usecase": usecase, "timeline": loop.rows, **extra,
        "llm": llm,
        "timings_s": {k: round(v, 3) for k, v in loop.timing.items()}
        | {"total": round(wall_s, 3)},
    }
