"""How the search box reads a query, in English and Chinese: what becomes a filter, what stays words."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from places_fixture import shared_gazetteer
from xmr_desktop.search.filters import CameraFilter, DateFilter, PlaceFilter, TypeFilter, local_seconds
from xmr_desktop.search.understand import QueryReader, UnderstoodQuery
from xmr_desktop.search.vocabulary import StaticVocabulary

TODAY = date(2025, 3, 10)
# A library with photos in Lisbon, Tokyo, Paris, Beijing, Nice and California, from four cameras.
LIBRARY = StaticVocabulary.of(
    ["Apple iPhone 12", "FUJIFILM X-T3", "Canon EOS R5", "Google Pixel 7"],
    places=[(38.72, -9.14), (35.69, 139.69), (48.86, 2.35), (39.9, 116.4), (43.70, 7.27), (37.77, -122.42)],
    countries={"PT", "JP", "FR", "CN", "US"},
    regions={("US", "CA")},
)


@pytest.fixture(scope="module")
def reader() -> QueryReader:
    return QueryReader(vocabulary=LIBRARY, gazetteer=shared_gazetteer(), today=TODAY)


def parts(query: UnderstoodQuery) -> list[tuple[str, str, str]]:
    return [(p.kind, p.typed(query.text), p.label) for p in query.parts]


def span(y: int, m: int = 1, d: int = 1) -> int:
    return local_seconds(datetime(y, m, d))


# -- dates -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "semantic", "label", "ranges"),
    [
        ("beach 2023", "beach", "2023", ((span(2023), span(2024)),)),
        ("July 2023", "", "July 2023", ((span(2023, 7), span(2023, 8)),)),
        ("snow in July 2023", "snow", "July 2023", ((span(2023, 7), span(2023, 8)),)),
        ("summer 2022", "", "summer 2022", ((span(2022, 6), span(2022, 9)),)),
        ("winter 2022 mountains", "mountains", "winter 2022–23", ((span(2022, 12), span(2023, 3)),)),
        ("last year", "", "last year (2024)", ((span(2024), span(2025)),)),
        ("dogs last summer", "dogs", "summer 2024", ((span(2024, 6), span(2024, 9)),)),
        ("2019-2021", "", "2019–2021", ((span(2019), span(2022)),)),
        ("before 2020", "", "before 2020", ((None, span(2020)),)),
        ("after 2020", "", "after 2020", ((span(2021), None),)),
        ("since March 2020", "", "since March 2020", ((span(2020, 3), None),)),
        ("the 90s", "", "the 1990s", ((span(1990), span(2000)),)),
        ("2023-07-14", "", "14 Jul 2023", ((span(2023, 7, 14), span(2023, 7, 15)),)),
        ("July 14, 2023 fireworks", "fireworks", "14 Jul 2023", ((span(2023, 7, 14), span(2023, 7, 15)),)),
        ("2 years ago", "", "2 years ago (2023)", ((span(2023), span(2024)),)),
        ("2023年7月", "", "July 2023", ((span(2023, 7), span(2023, 8)),)),
        ("去年夏天的雪山", "雪山", "summer 2024", ((span(2024, 6), span(2024, 9)),)),
        ("今年", "", "this year (2025)", ((span(2025), span(2026)),)),
        ("三年前的海滩", "海滩", "3 years ago (2022)", ((span(2022), span(2023)),)),
        ("2019年到2021年", "", "2019–2021", ((span(2019), span(2022)),)),
        ("2020年以前", "", "before 2020", ((None, span(2020)),)),
        ("2023年7月14日", "", "14 Jul 2023", ((span(2023, 7, 14), span(2023, 7, 15)),)),
        ("上个月", "", "last month", ((span(2025, 2), span(2025, 3)),)),
    ],
)
def test_dates(reader: QueryReader, text: str, semantic: str, label: str, ranges: tuple) -> None:
    query = reader.read(text)
    assert query.semantic == semantic
    assert [(p.kind, p.label) for p in query.parts] == [("date", label)]
    assert query.parts[0].filter == DateFilter(ranges=ranges)


def test_months_and_seasons_of_any_year(reader: QueryReader) -> None:
    assert reader.read("flowers in may").parts[0].filter == DateFilter(months=frozenset({5}))
    assert reader.read("七月").parts[0].filter == DateFilter(months=frozenset({7}))
    assert reader.read("in summer").parts[0].filter == DateFilter(months=frozenset({6, 7, 8}))
    assert reader.read("7月14日").parts[0].filter == DateFilter(month_day=(7, 14))


@pytest.mark.parametrize(
    "text",
    ["may the force", "march of the penguins", "summer", "winter landscape", "夏天", "1080p screenshot of a game",
     "1920x1080 wallpaper", "2000 people", "kids on a red slide", '"2023" poster'],
)
def test_words_that_only_look_like_dates_stay_words(reader: QueryReader, text: str) -> None:
    assert [p for p in reader.read(text).parts if p.kind == "date"] == []


def test_the_words_may_and_march_become_months_next_to_a_year_or_day(reader: QueryReader) -> None:
    assert parts(reader.read("may 2023")) == [("date", "may 2023", "May 2023")]
    assert parts(reader.read("14 march")) == [("date", "14 march", "14 Mar (any year)")]


def test_today_is_injectable(reader: QueryReader) -> None:
    later = QueryReader(vocabulary=LIBRARY, gazetteer=shared_gazetteer(), today=date(2031, 1, 2))
    assert later.read("last year").parts[0].label == "last year (2030)"
    assert reader.read("last year").parts[0].label == "last year (2024)"


# -- places ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "semantic", "typed", "label"),
    [
        ("beach in Portugal 2023", "beach", "in Portugal", "in Portugal"),
        ("in Lisbon", "", "in Lisbon", "in Lisbon"),
        ("lisbon trams", "trams", "lisbon", "in Lisbon"),
        ("在东京", "", "在东京", "in Tokyo"),
        ("日本的樱花", "樱花", "日本", "in Japan"),
        ("巴黎", "", "巴黎", "in Paris"),
        ("在巴黎拍的照片", "照片", "在巴黎", "in Paris"),
        ("Great Wall China", "Great Wall", "China", "in China"),
        ("California coast", "coast", "California", "in California"),
    ],
)
def test_places(reader: QueryReader, text: str, semantic: str, typed: str, label: str) -> None:
    query = reader.read(text)
    assert query.semantic == semantic
    place = [p for p in query.parts if p.kind == "place"]
    assert [(p.typed(text), p.label) for p in place] == [(typed, label)]


def test_a_place_filter_names_what_it_keeps(reader: QueryReader) -> None:
    portugal = reader.read("Portugal").parts[0].filter
    assert portugal == PlaceFilter(countries=frozenset({"PT"}))
    tokyo = reader.read("在东京").parts[0].filter
    assert isinstance(tokyo, PlaceFilter) and [c.name for c in tokyo.cities] == ["Tokyo"]


def test_china_the_dishes_and_china_the_country(reader: QueryReader) -> None:
    dishes = reader.read("china plates")
    assert (dishes.parts, dishes.semantic) == ((), "china plates")
    assert any('"China"' in note for note in dishes.notes)  # the explanation says how to mean the country
    assert [p.label for p in reader.read("blue and white China").parts] == ["in China"]
    assert reader.read("turkey dinner").parts == ()
    assert reader.read("中国菜").parts == ()  # Chinese food, not a place
    assert [p.label for p in reader.read("在中国").parts] == ["in China"]


def test_places_without_photos_stay_words(reader: QueryReader) -> None:
    query = reader.read("sunset in Reading")
    assert query.parts == () and query.semantic == "sunset in Reading"
    assert reader.read("nice sunset").parts == ()  # lower case: the word nice
    assert [p.label for p in reader.read("Nice sunset").parts] == ["in Nice"]  # you have been there
    assert reader.read("London bus").parts == ()  # no photo from London in this library


def test_small_towns_in_lower_case_need_a_cue(reader: QueryReader) -> None:
    # Every town of the dataset is "present" here, so only the cue rule decides.
    anywhere = QueryReader(gazetteer=shared_gazetteer(), today=TODAY)
    assert anywhere.read("sintra palace").parts == ()
    assert [p.label for p in anywhere.read("palace in sintra").parts] == ["in Sintra"]


# -- cameras and types -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "semantic", "typed", "cameras"),
    [
        ("iphone", "", "iphone", {"Apple iPhone 12"}),
        ("sunset with the Fuji", "sunset", "with the Fuji", {"FUJIFILM X-T3"}),
        ("shot on iPhone 12", "", "shot on iPhone 12", {"Apple iPhone 12"}),
        ("x-t3 portraits", "portraits", "x-t3", {"FUJIFILM X-T3"}),
        ("canon eos r5 birds", "birds", "canon eos r5", {"Canon EOS R5"}),
        ("用佳能拍的雪山", "雪山", "用佳能", {"Canon EOS R5"}),
    ],
)
def test_cameras_of_the_library(reader: QueryReader, text: str, semantic: str, typed: str, cameras: set[str]) -> None:
    query = reader.read(text)
    assert query.semantic == semantic
    assert [(p.kind, p.typed(text)) for p in query.parts] == [("camera", typed)]
    assert query.parts[0].filter == CameraFilter(cameras=frozenset(cameras))


def test_camera_words_that_are_everyday_words_need_a_cue(reader: QueryReader) -> None:
    assert reader.read("fuji at sunrise").parts == ()  # Mount Fuji
    assert reader.read("apple pie").parts == ()
    assert reader.read("pixel art").parts == ()
    assert [p.kind for p in reader.read("photos taken with my pixel").parts] == ["camera"]
    assert reader.read("富士山").parts == ()
    assert reader.read("nikon").parts == ()  # no Nikon in this library


def test_types(reader: QueryReader) -> None:
    assert parts(reader.read("screenshots")) == [("type", "screenshots", "screenshots")]
    assert reader.read("panoramas of Tokyo").parts[0].filter == TypeFilter(kinds=frozenset({"panorama"}))
    assert parts(reader.read("截图")) == [("type", "截图", "screenshots")]
    videos = reader.read("videos of the kids")
    assert videos.parts[0].filter == TypeFilter(unindexed="videos")
    assert "videos are not indexed" in videos.explain()


# -- the whole query -------------------------------------------------------------------------------------------

def test_a_query_with_every_kind(reader: QueryReader) -> None:
    query = reader.read("screenshots from Tokyo last summer on my iphone")
    assert sorted(p.kind for p in query.parts) == ["camera", "date", "place", "type"]
    assert query.semantic == ""
    assert [len(group) for group in query.filters()] == [1, 1, 1, 1]


def test_parts_of_one_kind_are_alternatives(reader: QueryReader) -> None:
    query = reader.read("2022 2023 Lisbon Tokyo")
    assert [len(group) for group in query.filters()] == [2, 2]
    assert "alternatives" in query.explain()


def test_removing_a_chip_reads_its_words_as_words(reader: QueryReader) -> None:
    query = reader.read("Great Wall China 2019")
    assert [p.kind for p in query.parts] == ["place", "date"]
    without_place = query.without(0)
    assert [p.kind for p in without_place.parts] == ["date"]
    assert without_place.semantic == "Great Wall China"
    assert without_place.without(0).semantic == "Great Wall China 2019"
    assert without_place.without(0).parts == ()


def test_query_syntax_is_kept_for_the_image_model(reader: QueryReader) -> None:
    assert reader.read("beach + sunset - people 2023").semantic == "beach + sunset - people"
    assert reader.read('"Paris" hilton').semantic == '"Paris" hilton'  # quoted: never a filter


def test_explain_shows_every_part_and_what_is_left(reader: QueryReader) -> None:
    text = reader.read("beach in Portugal 2023").explain()
    assert "searched as words: 'beach'" in text
    assert "'in Portugal'" in text and "country PT" in text
    assert "taken 2023-01-01 to 2023-12-31" in text
