"""L2 traffic and load: demand over the day, PRB load and served throughput.

Forecasting the traffic from measurements is an AI engine (:mod:`twinnet.engines`); this layer
holds the model the twin evaluates: :func:`diurnal_profile` and :func:`solve_load`, and the
mobility management of the time-stepped network (:class:`HandoverControl`).
"""

from twinnet.traffic.demand import diurnal_profile
from twinnet.traffic.handover import HandoverControl, HandoverStep
from twinnet.traffic.load import LoadResult, solve_load

__all__ = ["HandoverControl", "HandoverStep", "LoadResult", "diurnal_profile", "solve_load"]
