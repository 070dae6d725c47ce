"""Places offline: GPS to town and country, names in English and Chinese to places; nothing leaves the machine."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from places_fixture import shared_gazetteer
from xmr_desktop.metadata.places import Gazetteer, city_radius_km


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return shared_gazetteer()


@pytest.mark.parametrize(
    ("position", "city", "country"),
    [
        ((38.7223, -9.1393), "Lisbon", "PT"),
        ((48.8867, 2.3431), "Paris", "FR"),  # Montmartre: Paris, not "Paris 18" (a city section in GeoNames)
        ((48.8049, 2.1204), "Versailles", "FR"),  # 17 km out: its own town, not Paris
        ((35.6938, 139.7034), "Tokyo", "JP"),
        ((22.3193, 114.1694), "Hong Kong", "HK"),
        ((-22.9519, -43.2105), "Rio de Janeiro", "BR"),
        ((-33.87, 151.21), "Sydney", "AU"),
        ((64.1466, -21.9426), "Reykjavík", "IS"),
    ],
)
def test_gps_to_town_and_country(gazetteer: Gazetteer, position: tuple[float, float], city: str, country: str) -> None:
    place = gazetteer.locate(*position)
    assert place is not None and place.source == "gps"
    assert (place.city, place.country_code) == (city, country)


def test_regions_are_named_where_the_dataset_names_them(gazetteer: Gazetteer) -> None:
    assert gazetteer.locate(37.77, -122.42).region == "California"
    assert gazetteer.locate(51.5074, -0.1278).region == "England"
    assert gazetteer.locate(51.5074, -0.1278).label() == "London, England, United Kingdom"


def test_far_from_any_town_there_is_no_place(gazetteer: Gazetteer) -> None:
    assert gazetteer.locate(0.0, -30.0) is None  # mid-Atlantic


def test_many_positions_at_once_agree_with_one_at_a_time(gazetteer: Gazetteer) -> None:
    positions = [(38.7223, -9.1393), (0.0, -30.0), (35.6938, 139.7034)]
    assert gazetteer.locate_many(positions) == [gazetteer.locate(*p) for p in positions]


@pytest.mark.parametrize(
    ("name", "kind", "english"),
    [
        ("Lisbon", "city", "Lisbon"),
        ("Lisboa", "city", "Lisbon"),
        ("lisbon", "city", "Lisbon"),
        ("Portugal", "country", "Portugal"),
        ("葡萄牙", "country", "Portugal"),
        ("东京", "city", "Tokyo"),
        ("東京", "city", "Tokyo"),
        ("日本", "country", "Japan"),
        ("巴黎", "city", "Paris"),
        ("Zurich", "city", "Zürich"),
        ("sao paulo", "city", "São Paulo"),
        ("Deutschland", "country", "Germany"),
        ("England", "region", "England"),
        ("California", "region", "California"),
        ("USA", "country", "United States"),
    ],
)
def test_names_in_many_languages(gazetteer: Gazetteer, name: str, kind: str, english: str) -> None:
    places = gazetteer.named(name)
    assert (places[0].kind, places[0].name) == (kind, english)


def test_one_name_many_towns_biggest_first(gazetteer: Gazetteer) -> None:
    paris = [p for p in gazetteer.named("Paris") if p.kind == "city"]
    assert paris[0].country_code == "FR" and any(p.country_code == "US" for p in paris)
    assert paris[0].radius_km == pytest.approx(city_radius_km(paris[0].population))


def test_places_written_as_tags_resolve_to_codes(gazetteer: Gazetteer) -> None:
    place = gazetteer.place_from_tags("Lisboa", None, "Portugal", None)
    assert place is not None and (place.country_code, place.country, place.source) == ("PT", "Portugal", "tags")
    assert place.city == "Lisboa" and place.city_id == gazetteer.named("Lisbon")[0].city_id
    assert gazetteer.place_from_tags(None, None, None, "PRT").country_code == "PT"  # IPTC's 3-letter code


def test_the_cache_is_built_once_and_shared(tmp_path: Path) -> None:
    (tmp_path / "places-v0-older-packages.sqlite3").write_bytes(b"")
    first = Gazetteer(tmp_path)
    first.named("Lisbon")
    files = list(tmp_path.glob("places-*.sqlite3"))
    assert len(files) == 1 and "v0-older" not in files[0].name  # the stale cache went
    built = files[0].stat().st_mtime_ns
    second = Gazetteer(tmp_path)
    assert second.named("東京")[0].name == "Tokyo"
    assert files[0].stat().st_mtime_ns == built  # opened, not rebuilt
    first.close()
    second.close()


def test_nothing_is_sent_anywhere(gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network use")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = Gazetteer(Path(shared_gazetteer().cache_dir))  # opens the cache file again
    assert fresh.locate(38.7223, -9.1393).city == "Lisbon"
    assert fresh.named("巴黎")[0].country_code == "FR"
