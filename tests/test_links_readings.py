"""The Data API's readings are a pure function of (sensor id, time, city seed): a sample of every
sensor type, every event feed and one forecast per seed, pinned bit for bit.

``tests/data/links_readings.json`` holds, per sensor type, the SHA-256 of the raw readings
(``get_readings(..., aggregation="raw")``, serialised as JSON: exact float text and local time
stamps) of two sensors of the type over four windows (a weekday morning inside the Telecom
Italia month, the heaviest rain of November 2013, a summer Sunday afternoon and a winter night),
with the first values kept for a readable failure. It was written by running this module
(``python tests/test_links_readings.py``); rerun it only when the city model is meant to change.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from twinnet.links.cards import load_sensor_cards
from twinnet.links.city import EVENT_TYPES, SENSOR_MODELS
from twinnet.links.data_api import DataAPI
from twinnet.links.registry import SensorRegistry
from twinnet.links.telecom import CELL_TYPES
from twinnet.store.context import ContextStore

pytestmark = pytest.mark.shared_data

FIXTURE = Path(__file__).parent / "data" / "links_readings.json"
WINDOWS = [
    ("2013-11-04T06:00", "2013-11-04T12:00"),  # weekday morning, Telecom Italia month
    ("2013-11-12T07:00", "2013-11-12T13:00"),  # the heaviest rain of November 2013
    ("2014-07-13T12:00", "2014-07-13T18:00"),  # summer Sunday afternoon, series repeated
    ("2014-01-20T20:00", "2014-01-21T02:00"),  # winter night
]
EVENT_WINDOW = ("2013-11-04T00:00", "2013-11-06T00:00")
SEEDS = (0, 7)
#: a square with its own Telecom Italia series (the others are mapped onto the nearest of 25)
MEASURED_SQUARE = "sq04142"


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _sensors(reg: SensorRegistry, typ: str) -> list[str]:
    """Two sensors of ``typ``: the first by id (a measured square for cellular types) and the
    middle one (a feed has only one)."""
    ids = sorted(reg.sensors(typ).sensor_id)
    first = f"{typ}-{MEASURED_SQUARE}" if typ.startswith("cell_") else ids[0]
    return list(dict.fromkeys([first, ids[len(ids) // 2]]))


def sample(store: ContextStore, reg: SensorRegistry, seed: int) -> dict[str, Any]:
    """``{type: {sensors, n, sha256, head}}`` of the windows, plus the event feeds and one
    forecast, for the city seed ``seed``."""
    api = DataAPI(store, reg, seed=seed)
    out: dict[str, Any] = {}
    for typ in sorted(reg.cards):
        ids = _sensors(reg, typ)
        windows = [EVENT_WINDOW] if typ in ("power_outage_log",
                                            "traffic_incident_report") else WINDOWS
        got = [api.get_readings(ids, start, end)["readings"] for start, end in windows]
        first = got[0][ids[0]]
        out[typ] = {"sensors": ids, "n": sum(len(r[s]) for r in got for s in ids),
                    "sha256": _digest(got),
                    "head": [r.get("value", r.get("event_id")) for r in first[:3]]}
    fc = api.forecast("air_temperature", "Brera", "PT2H", start="2013-11-20T08:00")
    out["forecast:air_temperature:Brera"] = {"sha256": _digest(fc),
                                             "head": [r["value"] for r in fc["series"][:3]]}
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory, smartcity_dir):
    store = ContextStore(tmp_path_factory.mktemp("links_readings") / "twin.duckdb")
    reg = SensorRegistry(store)
    reg.build(seed=0)
    yield {str(seed): sample(store, reg, seed) for seed in SEEDS}
    store.close()


@pytest.mark.parametrize("seed", [str(s) for s in SEEDS])
def test_readings_of_every_type_are_pinned(samples, seed):
    pinned = json.loads(FIXTURE.read_text())[seed]
    got = samples[seed]
    assert len(got) == 39 + 1  # every sensor type and the forecast
    assert set(got) == set(pinned)
    for name, want in pinned.items():
        assert got[name]["head"] == want["head"], name
        assert got[name]["sha256"] == want["sha256"], name
        assert got[name].get("n") == want.get("n"), name


def test_the_seed_changes_the_city_but_not_the_telecom_series(samples):
    a, b = samples["0"], samples["7"]
    for typ in ("air_temperature", "rain_gauge_precipitation", "traffic_incident_report",
                "residential_smart_meter", "forecast:air_temperature:Brera"):
        assert a[typ]["sha256"] != b[typ]["sha256"], typ
    # the cellular series are the measured ones (sms and calls: noise keyed by the sensor id)
    for typ in ("cell_internet_activity", "cell_sms_activity", "cell_call_activity"):
        assert a[typ]["sha256"] == b[typ]["sha256"], typ


def test_every_sensor_type_has_exactly_one_model(samples):
    types = {c.id for c in load_sensor_cards()}
    kinds = [set(SENSOR_MODELS), set(CELL_TYPES), set(EVENT_TYPES)]
    assert set.union(*kinds) == types
    assert sum(len(k) for k in kinds) == len(types)


if __name__ == "__main__":  # write the fixture from the current code
    with ContextStore(":memory:") as st:
        r = SensorRegistry(st)
        r.build(seed=0)
        data = {str(s): sample(st, r, s) for s in SEEDS}
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {FIXTURE}\n")
