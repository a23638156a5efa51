"""LINKs stage 1: multi-agent data planning over Sensor Cards and Data API Cards."""
