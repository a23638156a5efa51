"""LINKs smart-city catalog, sensor registry and Data API."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from twinnet.datasets import shared_data_dir
from twinnet.errors import DataNotFoundError, InputError
from twinnet.links.cards import (
    FIELDS,
    card_text,
    load_api_cards,
    load_districts,
    load_queries,
    load_sensor_cards,
)
from twinnet.links.data_api import DataAPI
from twinnet.links.registry import (
    FEED_DENSITY_MAX,
    VIRTUAL_TYPES,
    GridSquares,
    SensorRegistry,
    haversine_m,
    place_sensors,
)
from twinnet.store.context import ContextStore

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def smartcity(smartcity_dir):
    return smartcity_dir


@pytest.fixture(scope="module")
def built(smartcity, tmp_path_factory):
    store = ContextStore(tmp_path_factory.mktemp("links") / "twin.duckdb")
    reg = SensorRegistry(store)
    n = reg.build(seed=0)
    api = DataAPI(store, reg)
    yield store, reg, api, n
    store.close()


# ------------------------------------------------------------------------------------ cards
def test_cards_load(smartcity):
    sensors = load_sensor_cards()
    assert len(sensors) == 39
    assert {c.field for c in sensors} == set(FIELDS)
    apis = load_api_cards()
    assert [c.name for c in apis] == ["list_districts", "geocode", "list_sensor_types",
                                      "get_sensor_card", "search_sensors", "get_readings",
                                      "forecast"]
    areas = load_districts()
    assert len(areas) == 28
    assert sum(a.kind == "municipio" for a in areas) == 9
    queries = load_queries()
    assert len(queries) == 10
    known = {c.id for c in sensors}
    assert all(set(q.gold_sensor_types) <= known for q in queries)
    text = card_text(sensors[0])
    assert sensors[0].id in text and sensors[0].unit in text and "\n" not in text
    assert "place_name" in card_text(apis[1])


def test_bad_card_file_names_field_and_value(smartcity, tmp_path):
    cards = json.loads((smartcity / "sensor_cards.json").read_text())
    cards[3]["sampling_period_s"] = -5
    bad = tmp_path / "sensor_cards.json"
    bad.write_text(json.dumps(cards))
    with pytest.raises(InputError) as err:
        load_sensor_cards(bad)
    assert "sampling_period_s" in err.value.field and cards[3]["id"] in err.value.field
    assert err.value.value == -5
    with pytest.raises(DataNotFoundError):
        load_api_cards(tmp_path / "nothing.json")


# ------------------------------------------------------------------------------------ placement
def test_placement_follows_densities(built):
    store, reg, _, n = built
    counts = store.query("SELECT sensor_type, kind, count(*) AS n FROM sensors GROUP BY 1, 2")
    assert int(counts.n.sum()) == n == reg.count()
    by_type = counts.set_index("sensor_type")
    assert set(by_type.index) == set(reg.cards)
    munis = [a for a in reg.areas if a.kind == "municipio"]
    area_km2 = sum(np.pi * (a.radius_m / 1000) ** 2 for a in munis)
    for card in reg.cards.values():
        got = int(by_type.loc[card.id, "n"])
        if card.id in VIRTUAL_TYPES:
            assert by_type.loc[card.id, "kind"] == "virtual"
            assert 4000 < got < 5000
        elif card.typical_devices_per_km2 <= FEED_DENSITY_MAX:
            assert (by_type.loc[card.id, "kind"], got) == ("feed", 1)
        else:
            expected = card.typical_devices_per_km2 * area_km2
            # the Municipi get exactly round(expected); places outside them add up to ~6 %
            assert expected - 1 <= got <= 1.08 * expected + 3, card.id
    virtual = by_type.loc[sorted(VIRTUAL_TYPES), "n"]
    assert virtual.nunique() == 1


def test_placement_geometry(built):
    _, reg, _, _ = built
    city = reg.city
    df = reg.sensors("air_temperature")
    assert df.sensor_id.is_unique and df.sensor_id.str.match(r"air_temperature-\d{4}$").all()
    d = haversine_m(df.lat, df.lon, city.lat, city.lon)
    np.testing.assert_allclose(np.hypot(df.x_m, df.y_m), d, rtol=5e-3, atol=1.0)
    assert (df.x_m > 0).mean() == pytest.approx(0.5, abs=0.2)
    centre = {a.municipio: a for a in reg.areas if a.kind == "municipio"}
    for r in df.dropna(subset=["municipio"]).itertuples():
        m = centre[int(r.municipio)]
        assert haversine_m(r.lat, r.lon, m.lat, m.lon) <= m.radius_m + 1
    assert df.grid_square_id.notna().all()
    radar = reg.sensors("radar_precipitation_intensity")
    assert radar.sensor_id.str.match(r"radar_precipitation_intensity-sq\d{5}$").all()
    assert radar.grid_square_id.is_unique


def test_placement_deterministic_and_idempotent(built):
    _, reg, _, n = built
    cards = [reg.cards[t] for t in ("air_temperature", "rain_gauge_precipitation",
                                    "power_outage_log")]
    grid = reg.grid
    a = place_sensors(cards, reg.areas, grid, seed=3)
    b = place_sensors(cards, reg.areas, grid, seed=3)
    c = place_sensors(cards, reg.areas, grid, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.lat.to_numpy()[:10], c.lat.to_numpy()[:10])
    # the type's own stream: placing it alone gives the same instances
    alone = place_sensors(cards[:1], reg.areas, grid, seed=3)
    pd.testing.assert_frame_equal(alone, a[a.sensor_type == "air_temperature"]
                                  .reset_index(drop=True))
    assert reg.build(seed=0) == n
    assert reg.count() == n


def test_grid_locate(smartcity):
    grid = GridSquares()
    i = int(np.flatnonzero(grid.square_id == 4142)[0])
    assert grid.locate([grid.lat[i]], [grid.lon[i]])[0] == 4142
    assert grid.locate([44.0], [9.0])[0] == -1


# ------------------------------------------------------------------------------------ geocoding
@pytest.mark.parametrize("name", ["San Siro stadium", "the San Siro", "stadio giuseppe MEAZZA",
                                  "San-Siro"])
def test_geocode_aliases(built, name):
    api = built[2]
    assert api.geocode(name)["id"] == "san_siro_stadium"


def test_geocode_accents_and_kinds(built):
    api = built[2]
    assert api.geocode("Città Studi")["id"] == "citta_studi"
    assert api.geocode("Milan")["kind"] == "city"
    assert api.geocode("Lambrate")["id"] == "municipio_3"  # a neighbourhood → its Municipio
    with pytest.raises(InputError) as err:
        api.geocode("Atlantis Harbour")
    assert err.value.field == "place_name" and "Atlantis Harbour" in str(err.value)
    assert len(api.list_districts(kind="municipio")) == 9
    assert len(api.list_districts()) == 28


# ------------------------------------------------------------------------------------ search
def test_search_sensors_inside_circle(built):
    _, reg, api, _ = built
    area = api.geocode("Municipio 4")
    found = api.search_sensors("traffic_flow", "Municipio 4")
    assert found
    for s in found:
        assert haversine_m(s["lat"], s["lon"], area["lat"], area["lon"]) <= area["radius_m"]
    everything = reg.sensors("traffic_flow")
    inside = haversine_m(everything.lat, everything.lon, area["lat"], area["lon"]) \
        <= area["radius_m"]
    assert len(found) == int(inside.sum())
    point = api.search_sensors("cell_internet_activity", {"lat": 45.4443905, "lon": 9.1362148},
                               radius_m=150)
    assert [s["grid_square_id"] for s in point] == [4142]
    assert api.search_sensors("power_outage_log", "Navigli")[0]["sensor_id"] == \
        "power_outage_log-0001"
    assert json.dumps(found)  # JSON-ready


# ------------------------------------------------------------------------------------ readings
def _ids(api, typ, area="Municipio 1", k=2):
    return [s["sensor_id"] for s in api.search_sensors(typ, area)[:k]]


def test_readings_deterministic_and_plausible(built):
    api = built[2]
    ids = _ids(api, "air_temperature") + _ids(api, "relative_humidity")
    start, end = "2014-01-10T00:00", "2014-01-12T00:00"
    a = api.get_readings(ids, start, end)
    b = api.get_readings(ids, start, end)
    assert a == b
    assert a["unit"] == {ids[0]: "°C", ids[1]: "°C", ids[2]: "%", ids[3]: "%"}
    t0 = pd.Timestamp(start, tz="Europe/Rome")
    t1 = pd.Timestamp(end, tz="Europe/Rome")
    for sid in ids:
        recs = a["readings"][sid]
        assert len(recs) == 2 * 144
        ts = pd.to_datetime([r["timestamp"] for r in recs], utc=True)
        assert ts.min() >= t0 and ts.max() < t1
        assert a["bytes_transferred"][sid] == 288 * 24
    temps = [r["value"] for sid in ids[:2] for r in a["readings"][sid]]
    hums = [r["value"] for sid in ids[2:] for r in a["readings"][sid]]
    assert min(temps) >= -15 and max(temps) <= 40 and np.ptp(temps) > 2
    assert min(hums) >= 0 and max(hums) <= 100
    # an overlapping window returns the same samples; hourly means match the raw samples
    c = api.get_readings(ids[:1], "2014-01-11T00:00", "2014-01-11T06:00", aggregation="hourly")
    raw = pd.Series([r["value"] for r in a["readings"][ids[0]]],
                    index=pd.to_datetime([r["timestamp"] for r in a["readings"][ids[0]]],
                                         utc=True))
    first_hour = raw[(raw.index >= pd.Timestamp("2014-01-11T00:00", tz="Europe/Rome"))
                     & (raw.index < pd.Timestamp("2014-01-11T01:00", tz="Europe/Rome"))]
    assert c["readings"][ids[0]][0]["value"] == pytest.approx(first_hour.mean())
    assert len(c["readings"][ids[0]]) == 6


def test_summer_warmer_than_winter_and_rain_consistent(built):
    api = built[2]
    sid = _ids(api, "air_temperature", k=1)
    jan = api.get_readings(sid, "2014-01-01", "2014-01-15", aggregation="total")
    jul = api.get_readings(sid, "2014-07-01", "2014-07-15", aggregation="total")
    assert jul["readings"][sid[0]][0]["value"] > jan["readings"][sid[0]][0]["value"] + 12
    gauge = api.search_sensors("rain_gauge_precipitation", "Milano")[0]
    radar = api.search_sensors("radar_precipitation_intensity",
                               {"lat": gauge["lat"], "lon": gauge["lon"]}, radius_m=200)[0]
    window = ("2013-10-01", "2013-12-01")
    g = api.get_readings([gauge["sensor_id"]], *window, aggregation="daily", statistic="sum")
    r = api.get_readings([radar["sensor_id"]], *window, aggregation="daily", statistic="mean")
    gv = np.array([x["value"] for x in g["readings"][gauge["sensor_id"]]])
    rv = np.array([x["value"] for x in r["readings"][radar["sensor_id"]]]) * 24  # mm a day
    assert gv.sum() > 0 and np.corrcoef(gv, rv)[0, 1] > 0.8


def test_telecom_readings_are_the_milan_series(built):
    api = built[2]
    milan = pd.read_csv(shared_data_dir("milan")
                        / "milan_internet_10min_25cells_2013-11-01_to_2013-11-30.csv")
    sid = "cell_internet_activity-sq04142"
    out = api.get_readings([sid], "2013-11-04T00:00", "2013-11-05T00:00")
    got = [r["value"] for r in out["readings"][sid]]
    rows = milan[milan.timestamp_local_cet.str.startswith("2013-11-04")]
    np.testing.assert_allclose(got, rows.sq_4142.to_numpy())
    assert out["readings"][sid][0]["timestamp"] == "2013-11-04T00:00:00+01:00"
    other = api.search_sensors("cell_internet_activity", "Bicocca")[0]["sensor_id"]
    vals = [r["value"] for r in api.get_readings([other], "2014-03-03", "2014-03-04")
            ["readings"][other]]
    assert len(vals) == 144 and min(vals) > 0


def test_event_feed_readings(built):
    api = built[2]
    sid = "traffic_incident_report-0001"
    out = api.get_readings([sid], "2013-11-04", "2013-11-06")
    events = out["readings"][sid]
    assert 10 < len(events) < 100 and {"timestamp", "kind", "severity"} <= set(events[0])
    assert out["bytes_transferred"][sid] == len(events) * 384
    daily = api.get_readings([sid], "2013-11-04", "2013-11-06", aggregation="total")
    assert daily["readings"][sid][0]["value"] == len(events)


# ------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(("call", "field"), [
    (lambda f: f["get_readings"](["air_temperature-0001"], "2013-11-01", "2013-11-02",
                                 aggregation="weekly"), "aggregation"),
    (lambda f: f["get_readings"]([], "2013-11-01", "2013-11-02"), "sensor_ids"),
    (lambda f: f["get_readings"](["nope-0001"], "2013-11-01", "2013-11-02"), "sensor_ids"),
    (lambda f: f["get_readings"](["air_temperature-0001"], "yesterday-ish", "2013-11-02"),
     "start"),
    (lambda f: f["get_readings"](["air_temperature-0001"], "2013-11-02", "2013-11-01"), "end"),
    (lambda f: f["get_readings"](["grid_frequency-0001"], "2013-01-01", "2014-01-01"),
     "sensor_ids"),
    (lambda f: f["get_sensor_card"]("Air Temperature"), "sensor_type"),
    (lambda f: f["get_sensor_card"]("unicorn_counter"), "sensor_type"),
    (lambda f: f["list_sensor_types"](field="space"), "field"),
    (lambda f: f["search_sensors"]("air_temperature", {"lat": 45.4}, radius_m=100), "area.lon"),
    (lambda f: f["search_sensors"]("air_temperature", {"lat": 45.4, "lon": 9.1}), "radius_m"),
    (lambda f: f["search_sensors"]("air_temperature", "Navigli", radius_m=-3), "radius_m"),
    (lambda f: f["search_sensors"]("air_temperature", "Narnia"), "area"),
    (lambda f: f["search_sensors"]("air_temperature", "Navigli", radius=3), "radius"),
    (lambda f: f["search_sensors"](sensor_type="air_temperature"), "area"),
    (lambda f: f["forecast"]("air_temperature", "Navigli", "P8D"), "horizon"),
    (lambda f: f["forecast"]("air_temperature", "Navigli", "6 hours"), "horizon"),
    (lambda f: f["forecast"]("power_outage_log", "Navigli", "P1D"), "sensor_type"),
])
def test_validation_errors_name_the_field(built, call, field):
    with pytest.raises(InputError) as err:
        call(built[2].functions())
    assert err.value.field == field


def test_functions_namespace(built):
    api = built[2]
    fns = api.functions()
    assert set(fns) == {c.name for c in load_api_cards()}
    for fn in fns.values():
        assert not hasattr(fn, "__self__") and not hasattr(fn, "__wrapped__")
        assert fn.__doc__
    assert fns["get_sensor_card"](sensor_type="air_temperature")["unit"] == "°C"
    assert len(fns["list_sensor_types"](field="telecom")) == 4


# ------------------------------------------------------------------------------------ forecast
def test_forecast_horizon_and_band(built):
    api = built[2]
    out = api.functions()["forecast"]("air_temperature", "Brera", "PT2H",
                                      start="2013-11-20T08:00")
    assert out["step_s"] == 600 and len(out["series"]) == 12
    assert out["series"][0]["timestamp"] == "2013-11-20T08:00:00+01:00"
    for row in out["series"]:
        assert row["lower"] <= row["value"] <= row["upper"]
        assert -15 <= row["value"] <= 40
    json.dumps(out)
