"""TwinNet: LLM-driven digital twins of wireless networks.

The public API of the foundation layer:

* :func:`load_scenario` / :class:`Scenario` — scenario files (TOML) and their validation;
* :class:`DigitalTwin` — the L1 radio + L2 load twin; ``twin.evaluate()`` gives per-user and
  per-cell tables and network KPIs;
* :mod:`twinnet.radio` — TR 38.901 physics as pure vectorised functions.
"""

from twinnet.errors import InputError, ScenarioError, TwinNetError
from twinnet.scenario import Scenario, builtin_scenarios, load_scenario
from twinnet.twin import DigitalTwin, Evaluation

__version__ = "0.1.0"

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
