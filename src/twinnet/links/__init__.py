"""LINKs: data planning and retrieval over the 6G twin of a smart city.

S. Jiang, B. Lin, Y. Wu, Y. Gao, "LINKs: Large Language Model Integrated Management for 6G
Empowered Digital Twin NetworKs". One module per concern:

* :mod:`~twinnet.links.cards` — the Sensor Cards, Data API Cards, areas and queries (§II);
* :mod:`~twinnet.links.registry` — the sensor instances placed over Milan and the grid;
* :mod:`~twinnet.links.hashing` — the deterministic hashed random streams of the city;
* :mod:`~twinnet.links.city` — the seeded physical models: weather, rain storms, load and
  traffic profiles, the value model of every sensor type, the event feeds;
* :mod:`~twinnet.links.telecom` — the Telecom Italia Milan series on every grid square;
* :mod:`~twinnet.links.arguments` — the Data API arguments checked against the cards' JSON
  Schemas;
* :mod:`~twinnet.links.data_api` — the Data API the planner calls (§III-A);
* :mod:`~twinnet.links.sandbox` — the sandbox the planning programs run in;
* :mod:`~twinnet.links.planner` — stage 1: the planner agents and the zero-shot baseline;
* :mod:`~twinnet.links.evaluate` — stage 1 scored: F1 per question (eq. (8)), the ablation;
* :mod:`~twinnet.links.retrieval` — stage 2: Parameter Convertor, Zigbee fallback and the 6G
  retrieval RRM (§III-B);
* :mod:`~twinnet.links.ask` — both stages end to end and the answer from the data.
"""

from twinnet.links.arguments import validate_args
from twinnet.links.ask import answer_query
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
from twinnet.links.city import EVENT_TYPES, SENSOR_MODELS, City, event_records, sensor_values
from twinnet.links.data_api import DataAPI
from twinnet.links.evaluate import ablation, evaluate_planner, f1_score, score_planner
from twinnet.links.planner import AgenticPlanner, CardIndex, DataPlan, NaivePlanner
from twinnet.links.registry import (
    GridSquares,
    SensorRegistry,
    find_area,
    haversine_m,
    place_sensors,
)
from twinnet.links.retrieval import (
    Device,
    RetrievalResult,
    ZigbeeModel,
    convert_plan,
    milan_cell_loads,
    plan_retrieval,
    sweep_tau,
)
from twinnet.links.sandbox import SandboxResult, run_sandboxed
from twinnet.links.telecom import TelecomSeries

__all__ = [
    "EVENT_TYPES",
    "SENSOR_MODELS",
    "AgenticPlanner",
    "ApiCard",
    "Area",
    "CardIndex",
    "City",
    "DataAPI",
    "DataPlan",
    "Device",
    "GridSquares",
    "NaivePlanner",
    "Query",
    "RetrievalResult",
    "SandboxResult",
    "SensorCard",
    "SensorRegistry",
    "TelecomSeries",
    "ZigbeeModel",
    "ablation",
    "answer_query",
    "card_text",
    "convert_plan",
    "evaluate_planner",
    "event_records",
    "f1_score",
    "find_area",
    "haversine_m",
    "load_api_cards",
    "load_districts",
    "load_queries",
    "load_sensor_cards",
    "milan_cell_loads",
    "place_sensors",
    "plan_retrieval",
    "run_sandboxed",
    "score_planner",
    "sensor_values",
    "sweep_tau",
    "validate_args",
]
