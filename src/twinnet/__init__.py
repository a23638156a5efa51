"""TwinNet: LLM-driven digital twins of wireless networks.

The public API of the foundation layer:

* :func:`load_scenario` / :class:`Scenario` — scenario files (TOML) and their validation;
* :class:`DigitalTwin` — the L1 radio + L2 load twin; ``twin.evaluate()`` gives per-user and
  per-cell tables and network KPIs;
* :mod:`twinnet.radio` — TR 38.901 physics as pure vectorised functions.

The names are resolved on first use, so ``import twinnet.radio`` loads the radio physics only.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twinnet.errors import InputError, ScenarioError, TwinNetError
    from twinnet.scenario import Scenario, builtin_scenarios, load_scenario
    from twinnet.twin import DigitalTwin, Evaluation

__version__ = "0.1.0"

_EXPORTS = {
    "DigitalTwin": "twinnet.twin",
    "Evaluation": "twinnet.twin",
    "InputError": "twinnet.errors",
    "Scenario": "twinnet.scenario",
    "ScenarioError": "twinnet.errors",
    "TwinNetError": "twinnet.errors",
    "builtin_scenarios": "twinnet.scenario",
    "load_scenario": "twinnet.scenario",
}

__all__ = [
    "DigitalTwin",
    "Evaluation",
    "InputError",
    "Scenario",
    "ScenarioError",
    "TwinNetError",
    "__version__",
    "builtin_scenarios",
    "load_scenario",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'twinnet' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
