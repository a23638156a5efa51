"""Network topology (sites, cells, carriers, antennas), user devices and how they move."""

from twinnet.network.mobility import (
    ManhattanVehicles,
    MobilityModel,
    RandomWaypoint,
    StaticMobility,
    Trajectory,
    make_mobility,
    read_trajectories,
)
from twinnet.network.topology import Network, build_network, hex_site_positions, wrap_shifts_m
from twinnet.network.users import UserSet, drop_users

__all__ = ["ManhattanVehicles", "MobilityModel", "Network", "RandomWaypoint", "StaticMobility",
           "Trajectory", "UserSet", "build_network", "drop_users", "hex_site_positions",
           "make_mobility", "read_trajectories", "wrap_shifts_m"]
