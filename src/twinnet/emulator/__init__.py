"""The emulated physical network: the "real" network the twin mirrors, with a ground truth the
twin does not see; it reports telemetry (P2V) and takes directives (V2P)."""

from twinnet.emulator.network import NetworkEmulator
from twinnet.emulator.truth import AreaLoss, GroundTruth, LossArea
from twinnet.store.telemetry import Telemetry

__all__ = ["AreaLoss", "GroundTruth", "LossArea", "NetworkEmulator", "Telemetry"]
