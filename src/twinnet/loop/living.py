"""What every loop on the living network starts with: the scenario (which must have a
``[simulation]`` table), its emulated network, the twin, and the P2V/V2P sync between them
through the store with the recorded topology published."""

from __future__ import annotations

from dataclasses import dataclass

from twinnet.emulator import NetworkEmulator
from twinnet.errors import InputError
from twinnet.scenario import Scenario, load_scenario
from twinnet.store.context import ContextStore
from twinnet.twin.sync import TwinSync
from twinnet.twin.twin import DigitalTwin

__all__ = ["LivingNetwork", "day_intervals"]


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
