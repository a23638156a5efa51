"""The catalogue's vocabulary: phrases → sensor types, and the drivers a question implies.

The questions here are written for these tests (none is a dev query): they check the mechanism
— longest match, exact words, narrowing, general words yielding to specific ones, drivers added
only for questions of likelihood/risk that name none, a stated driver kept alone, a field of
drivers — and the errors of a malformed vocabulary.
"""

from __future__ import annotations

import pytest

from twinnet.errors import InputError
from twinnet.links.cards import SensorCard, load_districts, load_sensor_cards
from twinnet.links.planner import AgenticPlanner
from twinnet.links.vocabulary import Vocabulary

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def cards():
    return load_sensor_cards()


@pytest.fixture(scope="module")
def vocab(cards):
    return Vocabulary.load(cards)


def types(vocab, q):
    return set(vocab.plan(q).types)


def test_phrases_map_to_types_longest_first(vocab):
    # "wind direction" is one phrase, not "wind" (speed) + "direction"
    assert types(vocab, "Where does the wind direction come from at Linate?") == {
        "wind_direction"}
    assert types(vocab, "How windy will it be on the Duomo roof?") == {"wind_speed"}
    # "traffic accidents" is the incident feed, not traffic speed
    assert types(vocab, "How many traffic accidents were there yesterday?") == {
        "traffic_incident_report"}
    # the dev set's rule for rain: gauge (how much) and radar (where) together
    assert types(vocab, "How much rainfall fell over Municipio 4?") == {
        "rain_gauge_precipitation", "radar_precipitation_intensity"}
    assert types(vocab, "Did it hail in Lambrate?") == {"radar_precipitation_intensity"}


def test_exact_words_are_not_stems(vocab):
    # "=parking" matches "parking" but not "park" (Snowball stems both to "park")
    assert "parking_occupancy" in types(vocab, "Is there free parking near the hospital?")
    assert "parking_occupancy" not in types(vocab, "Is the park crowded on Sunday?")


def test_narrowing_and_general_words(vocab):
    assert types(vocab, "How did electricity consumption of households change?") == {
        "residential_smart_meter"}
    assert types(vocab, "How did energy use of offices change in August?") == {
        "commercial_smart_meter"}
    assert types(vocab, "How much energy use was recorded citywide?") == {
        "residential_smart_meter", "commercial_smart_meter"}
    # a general word beside a specific one names the specific quantity
    assert types(vocab, "Is nitrogen dioxide pollution high on the ring road?") >= {
        "no2_concentration"}
    assert "pm25_concentration" not in types(
        vocab, "Is nitrogen dioxide pollution high near Stazione Centrale?")
    assert types(vocab, "Is the air pollution bad today?") == {
        "pm25_concentration", "no2_concentration"}


def test_drivers_only_for_likelihood_questions_that_name_none(vocab):
    q = "Which districts suffered blackouts last week?"
    assert types(vocab, q) == {"power_outage_log"}  # no risk word: the quantity alone
    p = vocab.plan("Which districts are at risk of blackouts tonight?")
    assert set(p.types) == {"power_outage_log", "feeder_current", "transformer_temperature",
                            "air_temperature"}
    assert p.risk and p.drivers == {"power_outage_log": [
        "feeder_current", "transformer_temperature", "air_temperature"]}
    # a stated driver is the only one
    assert types(vocab, "How likely are blackouts because of the heatwave?") == {
        "power_outage_log", "air_temperature"}
    # a named quantity that drives another is not expanded itself
    assert types(vocab, "Are tram delays likely when roads are icy?") >= {
        "public_transport_vehicle_location", "road_surface_condition"}
    assert "air_temperature" not in types(vocab, "Is a crash likely due to icy roads?")


def test_a_field_of_drivers_takes_the_shared_ones(vocab):
    p = vocab.plan("Could weather conditions cause crashes and earth faults on the same day?")
    assert p.categories == ["weather"]
    # moisture drives both incidents and leakage; the road surface is not a weather type
    assert set(p.types) == {"traffic_incident_report", "leakage_current",
                            "rain_gauge_precipitation", "radar_precipitation_intensity",
                            "relative_humidity"}


def test_malformed_vocabulary_names_the_entry(cards, tmp_path):
    bad = tmp_path / "v.toml"
    bad.write_text('[[concept]]\nterms = ["rain"]\ntypes = ["rain_bucket"]\n')
    with pytest.raises(InputError, match=r"concept\[0\]\.types.*rain_bucket"):
        Vocabulary.load(cards, bad)
    bad.write_text('[[concept]]\nterms = []\ntypes = ["air_temperature"]\n')
    with pytest.raises(InputError, match=r"concept\[0\]\.terms"):
        Vocabulary.load(cards, bad)
    bad.write_text('[drivers]\nair_temperature = ["sunspots"]\n')
    with pytest.raises(InputError, match=r"drivers\.air_temperature.*sunspots"):
        Vocabulary.load(cards, bad)
    bad.write_text("[[concept]\n")
    with pytest.raises(InputError, match="TOML"):
        Vocabulary.load(cards, bad)


def test_another_catalogue_keeps_what_fits():
    mine = [SensorCard(id="river_gauge", field="weather", name="River gauge",
                       description="Water level of the river.", unit="m",
                       sampling_period_s=600, payload_bytes_per_sample=8,
                       typical_devices_per_km2=0.1),
            SensorCard(id="air_temperature", field="weather", name="Thermometer",
                       description="Air temperature.", unit="°C", sampling_period_s=600,
                       payload_bytes_per_sample=8, typical_devices_per_km2=1.0)]
    v = Vocabulary.load(mine)  # the shipped vocabulary, entries of unknown types left out
    assert set(v.plan("How warm is it and what is the river gauge reading?").types) == {
        "air_temperature", "river_gauge"}
    assert v.plan("Where are blackouts likely?").types == []


def test_planner_uses_the_vocabulary_and_falls_back_to_retrieval(cards):
    pl = AgenticPlanner(None, cards, load_districts())
    p = pl.plan("Are blackouts likely in Municipio 2 tomorrow?")
    ev = next(t["vocabulary"] for t in p.trace if "vocabulary" in t)
    assert ev["risk"] and ev["mentions"][0]["types"] == ["power_outage_log"]
    assert p.sensor_types[0] == "power_outage_log" and p.places[0]["kind"] != "city"
    # nothing the vocabulary knows: the retrieval's draft
    q = "Which sensors report every 600 seconds with 24 byte payloads?"
    if not pl.vocabulary.plan(q).types:
        p2 = pl.plan(q)
        assert p2.sensor_types and not any("vocabulary" in t for t in p2.trace)
    # the vocabulary expands the cards for retrieval: "blackouts" is in no card's text
    assert pl.index.shortlist("blackouts", 1)[0][0].id == "power_outage_log"


def test_a_cue_before_the_only_quantity_states_no_driver(vocab):
    assert types(vocab, "When are blackouts likely in Municipio 5?") == {
        "power_outage_log", "feeder_current", "transformer_temperature", "air_temperature"}


def test_narrowing_words_are_phrases_and_hyphens_split(vocab):
    assert types(vocab, "How much electricity do public buildings consume?") == {
        "commercial_smart_meter"}
    # "public" alone is not "public building"
    assert types(vocab, "What is the electricity consumption around the public gardens?") == {
        "residential_smart_meter", "commercial_smart_meter"}
    assert types(vocab, "Is an open-air picnic a good idea on Sunday?") == types(
        vocab, "Is an open air picnic a good idea on Sunday?") == {
        "rain_gauge_precipitation", "radar_precipitation_intensity"}
    # an activity implies rain only when the question names no weather of its own
    assert types(vocab, "Will strong gusts stop the open-air concert?") == {"wind_speed"}
