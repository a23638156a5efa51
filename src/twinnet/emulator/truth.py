"""The emulated network's ground truth: what it hides from the twin.

* :class:`GroundTruth` (the scenario's :class:`~twinnet.scenario.Truth`, ``[truth]``) — the
  hidden departures of the "real" network from its planning records: tilt and EIRP errors per
  cell, loss areas, where its demand comes from, measurement noise;
* :class:`LossArea` / :class:`AreaLoss` — discs (buildings, foliage) where every link of a user
  inside suffers an extra loss, applied as the twin's
  :class:`~twinnet.twin.twin.LinkAdjustment`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinnet.errors import InputError
from twinnet.scenario import LossArea, Scenario, Truth
from twinnet.twin.twin import DigitalTwin

__all__ = ["TRUTH_MODELS", "AreaLoss", "GroundTruth", "LossArea", "TruthModel", "perturbed_truth",
           "truth_model"]


#: the emulated network's ground truth (a scenario's ``[truth]`` table)
GroundTruth = Truth

#: A truth model builds the emulated network's radio world: a model of the scenario whose link
#: gains (per user, link and position) are the truth the twin must learn. ``perturbed`` is the
#: twin's own 38.901 chain, on which the emulator then lays its hidden departures (tilt and EIRP
#: errors, loss areas); a ray tracer over real geometry plugs in here as another model.
TruthModel = Callable[[Scenario, Truth], DigitalTwin]


def perturbed_truth(scenario: Scenario, truth: Truth) -> DigitalTwin:
    """The 38.901 twin of the scenario (same users, fields and fading as the operator's twin)."""
    return DigitalTwin(scenario)


def raytraced_truth(scenario: Scenario, truth: Truth) -> DigitalTwin:
    """Path gains ray-traced over the real geometry of ``truth.scene`` (Sionna RT; the ``rt``
    extra): see :mod:`twinnet.emulator.raytrace`."""
    from twinnet.emulator.raytrace import RayTracedTwin

    return RayTracedTwin(scenario, truth)


TRUTH_MODELS: dict[str, TruthModel] = {"perturbed": perturbed_truth, "raytraced": raytraced_truth}


def truth_model(scenario: Scenario, truth: Truth) -> DigitalTwin:
    """The radio world of ``truth.model`` for ``scenario``."""
    try:
        build = TRUTH_MODELS[truth.model]
    except KeyError:
        raise InputError("truth.model", truth.model, f"one of {sorted(TRUTH_MODELS)}") from None
    return build(scenario, truth)


class AreaLoss:
    """A :class:`~twinnet.twin.twin.LinkAdjustment`: extra loss on all links of users inside
    loss areas (hidden ground truth of the emulator)."""

    def __init__(self, areas: list[LossArea]):
        self.areas = list(areas)
        self.token = "areas:" + uuid.uuid4().hex

    def user_loss_db(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64]
                     ) -> NDArray[np.float64]:
        loss = np.zeros(np.shape(x_m))
        for a in self.areas:
            inside = (x_m - a.x_m) ** 2 + (y_m - a.y_m) ** 2 <= a.radius_m ** 2
            loss = np.maximum(loss, np.where(inside, a.loss_db, 0.0))
        return loss

    def extra_loss_db(self, twin: Any, slot_cell: NDArray[np.int32]) -> NDArray[np.float64]:
        u = self.user_loss_db(twin.users.x_m, twin.users.y_m)
        width = slot_cell.shape[1]
        return np.repeat(u[:, None], width, axis=1)
