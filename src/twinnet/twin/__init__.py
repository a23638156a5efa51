"""The digital twin: a scenario's network state and one evaluation chain over it."""

from twinnet.twin.twin import DigitalTwin, Evaluation, RadioFields

__all__ = ["DigitalTwin", "Evaluation", "RadioFields"]
