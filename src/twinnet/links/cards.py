"""Sensor Cards, Data API Cards, areas and dev queries of the LINKs data-planning stage.

LINKs (§III-A) describes every IoT sensor type with a *Sensor Card* and every data function
the planner may call with a *Data API Card*. The cards, the geocoder's areas (the city, its 9
Municipi and named places) and the dev queries of Table I live in ``shared/data/smartcity``;
the loaders below read them into validated pydantic models and name the file, field and value
of anything malformed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twinnet.datasets import shared_data_dir
from twinnet.errors import DataNotFoundError, InputError

__all__ = [
    "FIELDS",
    "ApiCard",
    "Area",
    "Query",
    "SensorCard",
    "card_text",
    "load_api_cards",
    "load_districts",
    "load_queries",
    "load_sensor_cards",
]

#: The fields of the Sensor Cards (the paper's three plus telecom).
FIELDS: tuple[str, ...] = ("weather", "energy", "transport", "telecom")

Field_ = Literal["weather", "energy", "transport", "telecom"]


class SensorCard(BaseModel):
    """One sensor type: what it measures, its unit, sampling period, payload and density."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    field: Field_
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    sampling_period_s: float = Field(gt=0)
    payload_bytes_per_sample: int = Field(gt=0)
    typical_devices_per_km2: float = Field(ge=0)


class ApiCard(BaseModel):
    """One function of the Data API: its name, purpose, JSON-schema parameters and result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)
    parameters: dict[str, Any]
    returns: str = Field(min_length=1)


class Area(BaseModel):
    """An area the geocoder knows: a circle (WGS84 centroid, radius) with its aliases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: Literal["city", "municipio", "place"]
    municipio: int | None = Field(default=None, ge=1, le=9)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0)
    aliases: list[str] = Field(default_factory=list)
    neighbourhoods: list[str] = Field(default_factory=list)
    note: str | None = None

    def summary(self) -> dict[str, Any]:
        """The JSON object the Data API returns for an area."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "municipio": self.municipio,
                "lat": self.lat, "lon": self.lon, "radius_m": self.radius_m}


class Query(BaseModel):
    """A dev query of Table I with its gold set of sensor types."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    query: str = Field(min_length=1)
    fields: list[Field_]
    gold_sensor_types: list[str] = Field(min_length=1)
    rationale: str = ""


M = TypeVar("M", bound=BaseModel)


def _path(path: str | Path | None, name: str) -> Path:
    p = Path(path) if path is not None else shared_data_dir("smartcity") / name
    if p.is_dir():
        p = p / name
    if not p.is_file():
        raise DataNotFoundError(f"{name}: no file at {p}")
    return p


def _read_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(str(p), f"line {exc.lineno} column {exc.colno}",
                         f"valid JSON ({exc.msg})") from exc


def _models(items: Any, model: type[M], p: Path, key: str = "id") -> list[M]:
    if not isinstance(items, list):
        raise InputError(str(p), type(items).__name__, "a JSON list of objects")
    out: list[M] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            obj = model.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            ident = item.get(key, i) if isinstance(item, dict) else i
            raise InputError(f"{p.name}[{ident}].{loc}", err.get("input"), err["msg"]) from exc
        ident = str(getattr(obj, key))
        if ident in seen:
            raise InputError(f"{p.name}[{i}].{key}", ident, "a unique value")
        seen.add(ident)
        out.append(obj)
    if not out:
        raise InputError(str(p), "[]", f"at least one {model.__name__}")
    return out


def load_sensor_cards(path: str | Path | None = None) -> list[SensorCard]:
    """The Sensor Cards (``sensor_cards.json``; default folder ``shared/data/smartcity``)."""
    p = _path(path, "sensor_cards.json")
    return _models(_read_json(p), SensorCard, p)


def load_api_cards(path: str | Path | None = None) -> list[ApiCard]:
    """The Data API Cards (``data_api_cards.json``)."""
    p = _path(path, "data_api_cards.json")
    cards = _models(_read_json(p), ApiCard, p, key="name")
    for c in cards:
        if c.parameters.get("type") != "object":
            raise InputError(f"{p.name}[{c.name}].parameters.type", c.parameters.get("type"),
                             "'object' (a JSON schema of keyword arguments)")
    return cards


def load_districts(path: str | Path | None = None) -> list[Area]:
    """The areas of ``districts.json``: the city, the 9 Municipi and the named places."""
    p = _path(path, "districts.json")
    raw = _read_json(p)
    if not isinstance(raw, dict) or "areas" not in raw:
        raise InputError(str(p), type(raw).__name__, "an object with an 'areas' list")
    return _models(raw["areas"], Area, p)


def load_queries(path: str | Path | None = None) -> list[Query]:
    """The dev queries (``dev_queries.json``) with their gold sensor types."""
    p = _path(path, "dev_queries.json")
    return _models(_read_json(p), Query, p)


def card_text(card: SensorCard | ApiCard) -> str:
    """A compact one-paragraph text of a card, for retrieval indexes and prompts."""
    if isinstance(card, SensorCard):
        return (f"{card.id} ({card.field}): {card.name}. {card.description} "
                f"Unit: {card.unit}; one sample every {card.sampling_period_s:g} s of "
                f"{card.payload_bytes_per_sample} B; typical density "
                f"{card.typical_devices_per_km2:g} per km².")
    props = card.parameters.get("properties", {})
    required = set(card.parameters.get("required", []))
    args = ", ".join(f"{k}{'' if k in required else '?'}: {_schema_type(v)}"
                     for k, v in props.items())
    return f"{card.name}({args}): {card.description} Returns: {card.returns}"


def _schema_type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "|".join(repr(v) for v in schema["enum"])
    if "oneOf" in schema:
        return " or ".join(_schema_type(s) for s in schema["oneOf"])
    t = schema.get("type", "any")
    if t == "array":
        return f"list[{_schema_type(schema.get('items', {}))}]"
    if t == "object" and "properties" in schema:
        return "{" + ", ".join(schema["properties"]) + "}"
    return str(t)
