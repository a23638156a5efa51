"""Arguments of the Data API checked against the JSON Schema of each Data API Card.

Validation is done by :mod:`jsonschema` (JSON Schema draft 2020-12) with TwinNet's reading of
the types: ``number`` is a finite ``int`` or ``float`` (never a ``bool``), ``integer`` an
``int``, ``array`` a list or a tuple, and the ``date-time`` format is any time stamp
:func:`pandas.Timestamp` reads (local time Europe/Rome when it has no offset).

The first problem found is raised as :class:`~twinnet.errors.InputError` naming the parameter
path (``area.lon``, ``sensor_ids[1]``), the value and what the card expects: the value's own
type first, then its other constraints, then missing required parameters, then the parameters
in the order given; for ``oneOf`` the alternative of the value's own type is explained, else
the kinds accepted are listed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pandas as pd
from jsonschema import Draft202012Validator, FormatChecker, SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from twinnet.errors import InputError
from twinnet.links.cards import ApiCard
from twinnet.links.city import DAY_S, TZ

__all__ = ["parse_duration", "parse_time", "validate_args"]

DATE_TIME = "an ISO 8601 date-time, e.g. 2013-11-04T08:00"


def parse_time(value: Any, field: str) -> pd.Timestamp:
    """``value`` as a UTC time stamp (local time Europe/Rome when it has no offset)."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(field, value, DATE_TIME) from exc
    if ts is pd.NaT:
        raise InputError(field, value, DATE_TIME)
    if ts.tzinfo is None:
        ts = ts.tz_localize(TZ, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC")


_DURATION = re.compile(r"^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?)?$")


def parse_duration(value: str) -> int:
    """Seconds of an ISO 8601 duration of days, hours and minutes, above zero and at most 7
    days (the ``horizon`` of a forecast)."""
    m = _DURATION.match(value)
    if not m:
        raise InputError("horizon", value, "an ISO 8601 duration such as 'PT6H' or 'P1D'")
    d, h, mi = (int(g) if g else 0 for g in m.groups())
    seconds = d * DAY_S + h * 3600 + mi * 60
    if seconds <= 0 or seconds > 7 * DAY_S:
        raise InputError("horizon", value, "a duration above zero and at most P7D")
    return seconds


# ----------------------------------------------------------------------------- the validator
def _is_number(_: Any, v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and (
        not isinstance(v, float) or math.isfinite(v))


_TYPE_CHECKER = Draft202012Validator.TYPE_CHECKER.redefine_many({
    "number": _is_number,
    "integer": lambda _, v: isinstance(v, int) and not isinstance(v, bool),
    "array": lambda _, v: isinstance(v, list | tuple),
})
_CardValidator = extend(Draft202012Validator, type_checker=_TYPE_CHECKER)
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=InputError)
def _is_date_time(value: Any) -> bool:
    if isinstance(value, str):
        parse_time(value, "")
    return True


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    _CardValidator.check_schema(schema)
    return _CardValidator(schema, format_checker=_FORMATS)


def validate_args(card: ApiCard, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` checked against ``card.parameters``, with ``None`` meaning "not given" and the
    schema defaults filled in."""
    schema = card.parameters
    given = {k: v for k, v in args.items() if v is not None}
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except SchemaError as exc:
        raise InputError(f"{card.name}.parameters", exc.instance,
                         f"a valid JSON Schema ({exc.message})") from None
    errors = list(validator.iter_errors(given))
    if errors:
        raise _explain(min(errors, key=lambda e: _order(e, given, e.absolute_path)))
    for k, sub in schema.get("properties", {}).items():
        if k not in given and "default" in sub:
            given[k] = sub["default"]
    return given


# ----------------------------------------------------------------------------- the messages
#: the order in which the constraints of one value are reported
_RANK = {kw: i for i, kw in enumerate([
    "oneOf", "type", "enum", "minLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "minItems", "items", "required", "properties"])}
_LAST = len(_RANK)


def _field(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _extras(err: ValidationError) -> list[str]:
    props = err.schema.get("properties", {}) if isinstance(err.schema, dict) else {}
    return [k for k in err.instance if k not in props]


def _order(err: ValidationError, node: Any, path: Iterable[Any]) -> tuple[tuple[int, int], ...]:
    """Sort key of an error at ``path`` below ``node``: where it is (argument order, item
    order) and which constraint it breaks."""
    key: list[tuple[int, int]] = []
    for step in path:
        if isinstance(node, dict):
            key.append((_RANK["properties"], list(node).index(step)))
        else:
            key.append((_RANK["items"], int(step)))
        node = node[step]
    if err.validator == "required":
        missing = [r for r in err.validator_value if r not in err.instance]
        key.append((_RANK["required"], err.validator_value.index(missing[0])))
    elif err.validator == "additionalProperties":
        key.append((_RANK["properties"], list(err.instance).index(_extras(err)[0])))
    else:
        key.append((_RANK.get(str(err.validator), _LAST), 0))
    return tuple(key)


def _explain(err: ValidationError) -> InputError:
    """The :class:`InputError` of one schema violation."""
    path, value, kw, want = _field(err.absolute_path), err.instance, err.validator, \
        err.validator_value
    if kw == "oneOf":
        for i, sub in enumerate(want):
            t = sub.get("type")
            if t is not None and _TYPE_CHECKER.is_type(value, t):
                mine = [e for e in err.context if e.relative_schema_path[0] == i]
                if mine:
                    return _explain(min(mine, key=lambda e: _order(e, value, e.relative_path)))
        kinds = " or ".join(str(s.get("type", "value")) for s in want)
        return InputError(path, value, f"a {kinds}")
    if kw == "required":
        name = next(r for r in want if r not in value)
        return InputError(f"{path}.{name}" if path else name, None, "a required value")
    if kw == "additionalProperties":
        name = _extras(err)[0]
        allowed = sorted(err.schema.get("properties", {}))
        return InputError(f"{path}.{name}" if path else name, value[name],
                          f"no such parameter (allowed: {allowed})")
    if kw == "format" and isinstance(err.cause, InputError):
        return InputError(path, value, err.cause.expected)
    expected = {
        "type": lambda: f"a {want}",
        "enum": lambda: f"one of {want}",
        "minLength": lambda: f"a string of at least {want} chars",
        "pattern": lambda: f"a string matching {want}",
        "minimum": lambda: f"a number >= {want}",
        "maximum": lambda: f"a number <= {want}",
        "exclusiveMinimum": lambda: f"a number > {want}",
        "minItems": lambda: f"a list of at least {want} items",
    }.get(str(kw))
    return InputError(path, value, expected() if expected else err.message)
