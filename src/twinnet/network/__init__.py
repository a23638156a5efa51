"""Network topology (sites, cells, carriers, antennas) and user devices."""

from twinnet.network.topology import Network, build_network, hex_site_positions, wrap_shifts_m
from twinnet.network.users import UserSet, drop_users

__all__ = ["Network", "UserSet", "build_network", "drop_users", "hex_site_positions",
           "wrap_shifts_m"]
