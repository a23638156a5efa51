"""L2 traffic and load twin: demand, diurnal profiles, PRB load and served throughput."""

from twinnet.traffic.demand import diurnal_profile, load_raster, milan_hourly_profile
from twinnet.traffic.load import LoadResult, solve_load

__all__ = ["LoadResult", "diurnal_profile", "load_raster", "milan_hourly_profile", "solve_load"]
