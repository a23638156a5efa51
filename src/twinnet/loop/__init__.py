"""Closed loops between the network, the store and the twin."""
