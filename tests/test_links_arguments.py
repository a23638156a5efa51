"""Data API arguments checked against the JSON schemas of the Data API Cards: every error is an
:class:`InputError` naming the parameter path, the value and what the card expects."""

from __future__ import annotations

import math

import pytest

from twinnet.errors import InputError
from twinnet.links.cards import load_api_cards
from twinnet.links.data_api import validate_args

pytestmark = pytest.mark.shared_data

KINDS = ["all", "city", "municipio", "place"]
AGGREGATIONS = ["raw", "10min", "15min", "hourly", "daily", "total"]
ID_PATTERN = "^[a-z][a-z0-9_]*$"
DATE_TIME = "an ISO 8601 date-time, e.g. 2013-11-04T08:00"
WINDOW = {"sensor_ids": ["air_temperature-0001"], "start": "2013-11-01T00:00",
          "end": "2013-11-02T00:00"}


@pytest.fixture(scope="module")
def cards(smartcity_dir):
    return {c.name: c for c in load_api_cards()}


@pytest.mark.parametrize(("name", "args", "field", "value", "expected"), [
    ("list_districts", {"kind": "town"}, "kind", "town", f"one of {KINDS}"),
    ("geocode", {"place_name": ""}, "place_name", "", "a string of at least 1 chars"),
    ("geocode", {"place_name": 4}, "place_name", 4, "a string"),
    ("geocode", {"place_name": True}, "place_name", True, "a string"),
    ("get_sensor_card", {"sensor_type": "Air Temperature"}, "sensor_type", "Air Temperature",
     f"a string matching {ID_PATTERN}"),
    ("search_sensors", {"sensor_type": "noise_level", "area": {"lat": 45.4}}, "area.lon", None,
     "a required value"),
    ("search_sensors", {"sensor_type": "noise_level", "area": {"lat": 95, "lon": 9.1}},
     "area.lat", 95, "a number <= 90"),
    ("search_sensors", {"sensor_type": "noise_level", "area": {"lat": 45.4, "lon": -181}},
     "area.lon", -181, "a number >= -180"),
    ("search_sensors", {"sensor_type": "noise_level", "area": {"lat": 45.4, "lon": 9, "h": 3}},
     "area.h", 3, "no such parameter (allowed: ['lat', 'lon'])"),
    ("search_sensors", {"sensor_type": "noise_level", "area": {"lat": "45.4", "lon": 9}},
     "area.lat", "45.4", "a number"),
    ("search_sensors", {"sensor_type": "noise_level", "area": 12}, "area", 12,
     "a string or object"),
    ("search_sensors", {"sensor_type": "noise_level", "area": ["Brera"]}, "area", ["Brera"],
     "a string or object"),
    ("search_sensors", {"sensor_type": "noise_level", "area": ""}, "area", "",
     "a string of at least 1 chars"),
    ("search_sensors", {"sensor_type": "noise_level", "area": "Brera", "radius_m": -3},
     "radius_m", -3, "a number > 0"),
    ("search_sensors", {"sensor_type": "noise_level", "area": "Brera", "radius_m": 0},
     "radius_m", 0, "a number > 0"),
    ("search_sensors", {"sensor_type": "noise_level", "area": "Brera", "radius_m": "300"},
     "radius_m", "300", "a number"),
    ("search_sensors", {"sensor_type": "noise_level", "area": "Brera", "radius_m": False},
     "radius_m", False, "a number"),
    ("search_sensors", {"sensor_type": "noise_level", "area": "Brera", "radius": 3},
     "radius", 3, "no such parameter (allowed: ['area', 'radius_m', 'sensor_type'])"),
    ("search_sensors", {"sensor_type": "noise_level"}, "area", None, "a required value"),
    ("get_readings", {**WINDOW, "sensor_ids": []}, "sensor_ids", [],
     "a list of at least 1 items"),
    ("get_readings", {**WINDOW, "sensor_ids": ["a-1", 3]}, "sensor_ids[1]", 3, "a string"),
    ("get_readings", {**WINDOW, "sensor_ids": "air_temperature-0001"}, "sensor_ids",
     "air_temperature-0001", "a array"),
    ("get_readings", {**WINDOW, "start": "yesterday-ish"}, "start", "yesterday-ish", DATE_TIME),
    ("get_readings", {**WINDOW, "end": 20131102}, "end", 20131102, "a string"),
    ("get_readings", {**WINDOW, "aggregation": "weekly"}, "aggregation", "weekly",
     f"one of {AGGREGATIONS}"),
    ("forecast", {"sensor_type": "noise_level", "area": "Brera", "horizon": "6 hours"},
     "horizon", "6 hours", "a string matching ^P(?!$)(\\d+D)?(T(?=\\d)(\\d+H)?(\\d+M)?)?$"),
])
def test_an_argument_error_names_the_parameter_value_and_expectation(cards, name, args, field,
                                                                     value, expected):
    with pytest.raises(InputError) as err:
        validate_args(cards[name], args)
    assert (err.value.field, err.value.value, err.value.expected) == (field, value, expected)
    assert str(err.value) == f"{field} = {value!r}: {expected}"


def test_non_finite_numbers_are_not_numbers(cards):
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(InputError) as err:
            validate_args(cards["search_sensors"], {"sensor_type": "noise_level",
                                                    "area": "Brera", "radius_m": bad})
        assert err.value.field == "radius_m" and err.value.expected == "a number"


def test_the_first_problem_is_reported_required_values_first_then_in_argument_order(cards):
    card = cards["get_readings"]
    with pytest.raises(InputError) as err:  # a missing value before the bad ones
        validate_args(card, {"start": "bad", "sensor_ids": []})
    assert (err.value.field, err.value.expected) == ("end", "a required value")
    with pytest.raises(InputError) as err:  # then the arguments in the order given
        validate_args(card, {"start": "bad", "end": "2013-11-02", "sensor_ids": []})
    assert (err.value.field, err.value.expected) == ("start", DATE_TIME)
    with pytest.raises(InputError) as err:
        validate_args(card, {"sensor_ids": [], "end": "2013-11-02", "start": "bad"})
    assert (err.value.field, err.value.expected) == ("sensor_ids",
                                                     "a list of at least 1 items")
    with pytest.raises(InputError) as err:  # an unknown parameter in its place in that order
        validate_args(card, {**WINDOW, "step": 5, "aggregation": "weekly"})
    assert err.value.field == "step"


def test_valid_arguments_get_the_card_defaults_and_none_means_not_given(cards):
    got = validate_args(cards["get_readings"], {**WINDOW, "aggregation": None,
                                                "statistic": "sum"})
    assert got == {**WINDOW, "aggregation": "raw", "statistic": "sum"}
    # tuples are arrays; dates without a time and integers as numbers are accepted
    got = validate_args(cards["get_readings"], {**WINDOW, "sensor_ids": ("a-1", "b-2"),
                                                "start": "2013-11-01"})
    assert got["sensor_ids"] == ("a-1", "b-2") and got["start"] == "2013-11-01"
    got = validate_args(cards["search_sensors"], {"sensor_type": "noise_level",
                                                  "area": {"lat": 45, "lon": 9.1},
                                                  "radius_m": 250})
    assert got["radius_m"] == 250
    assert validate_args(cards["list_districts"], {}) == {"kind": "all"}
    assert validate_args(cards["list_sensor_types"], {"field": None}) == {}
