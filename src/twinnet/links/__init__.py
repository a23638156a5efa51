"""LINKs smart-city data planning: Sensor and Data API Cards, the sensor registry over Milan
and the Data API the planner calls (LINKs §II, §III-A)."""

from twinnet.links.cards import (
    ApiCard,
    Area,
    Query,
    SensorCard,
    card_text,
    load_api_cards,
    load_districts,
    load_queries,
    load_sensor_cards,
)
from twinnet.links.data_api import DataAPI
from twinnet.links.registry import SensorRegistry, find_area, haversine_m

__all__ = [
    "ApiCard",
    "Area",
    "DataAPI",
    "Query",
    "SensorCard",
    "SensorRegistry",
    "card_text",
    "find_area",
    "haversine_m",
    "load_api_cards",
    "load_districts",
    "load_queries",
    "load_sensor_cards",
]
