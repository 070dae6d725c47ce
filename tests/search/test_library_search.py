"""The search box through the core: the query read into filters, words fused with meaning, results described,
and the answer the same over the wire."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from fakes import UnsureColourEmbedder as UnsureEmbedder
from metadata.photo_files import bag, exif_block, jpeg, xmp_packet
from places_fixture import seed_place_cache
from xmr_desktop.config import resolve_paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import protocol
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.errors import QueryError
from xmr_desktop.search.answer import SearchAnswer, SearchFilters

BLUE, RED, GREY = (20, 40, 230), (230, 30, 20), (128, 128, 128)
LISBON, EIFFEL, MONTMARTRE = (38.7223, -9.1393), (48.8584, 2.2945), (48.8867, 2.3431)


def _old(path: Path) -> Path:
    stamp = datetime(2019, 5, 5, 12).timestamp()
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("box")
    photos = root / "photos"
    photos.mkdir()
    jpeg(photos / "beach-lisbon.jpg", colour=BLUE,
         exif=exif_block(original="2023:08:01 12:00:00", gps=LISBON, make="Apple", model="iPhone 12"))
    jpeg(photos / "beach-paris.jpg", colour=BLUE,
         exif=exif_block(original="2022:06:01 12:00:00", gps=EIFFEL, make="FUJIFILM", model="X-T3"))
    jpeg(photos / "street-paris.jpg", colour=RED, exif=exif_block(original="2023:03:01 12:00:00", gps=MONTMARTRE),
         xmp=xmp_packet(bag("dc:subject", ["Sacré-Cœur", "stairs"])))
    _old(jpeg(photos / "passport_scan.jpg", colour=GREY))
    for i in range(6):
        _old(jpeg(photos / f"IMG_{i:04}.jpg", colour=(200 + i, 40, 40)))  # red-ish: what the unsure model prefers
    paths = resolve_paths(root / "data").ensure()
    seed_place_cache(paths.cache_dir)
    core = PhotoLibrary(paths, lambda argument, models_dir: UnsureEmbedder(), threaded=False, decode_workers=2)
    core.call(c.IndexNow((str(photos),)))
    yield core, photos
    core.close()


def names(answer: SearchAnswer) -> list[str]:
    return [os.path.basename(result.path) for result in answer]


def test_dates_in_the_query_keep_only_photos_taken_then_and_the_rest_ranks_them(library) -> None:
    core, _ = library
    answer = core.call(c.Search("blue 2023"))
    assert names(answer) == ["beach-lisbon.jpg", "street-paris.jpg"]  # by EXIF; blue first
    assert [(p.kind, p.label) for p in answer.reading.parts] == [("date", "2023")] and answer.reading.semantic == "blue"
    first = answer[0]
    assert (first.taken_at, first.taken_at_source, first.place, first.camera) == (
        "2023-08-01T12:00:00", "exif", "Lisbon, Portugal", "Apple iPhone 12")
    # Why: the query's one term, then what the date filter saw.
    assert [r.label() for r in first.reasons] == ["blue +100%", "date taken: 2023-08-01"]


def test_a_place_in_chinese_alone_lists_the_photos_taken_there_newest_first(library) -> None:
    core, _ = library
    answer = core.call(c.Search("在巴黎"))
    assert names(answer) == ["street-paris.jpg", "beach-paris.jpg"] and answer.ranked_by == "date taken"
    assert answer.reading.parts[0].label == "in Paris" and "GeoNames 2988507" in answer.reading.parts[0].description


def test_a_rare_word_in_a_file_name_puts_that_photo_first_while_the_model_prefers_others(library) -> None:
    core, _ = library
    answer = core.call(c.Search("passport"))
    assert names(answer)[0] == "passport_scan.jpg" and answer.ranked_by == "meaning and words"
    assert answer[0].matched == ("passport",) and answer[0].reasons[1].to_json() == {
        "kind": "keyword", "text": "passport", "field": "file name"}
    # The words lifted it above the matches by meaning: it is a strong match, and the strong ones still come first.
    marks = [r.match for r in answer]
    assert marks[0] == "strong" and marks == sorted(marks, key=lambda m: m != "strong")
    assert answer.cutoff.strong == marks.count("strong")
    # Only positive words are looked up: "- passport" pushes away by meaning and lifts nothing.
    assert names(core.call(c.Search("blue - passport")))[0] != "passport_scan.jpg"
    # Tags count too, and filters hold for words as for meaning.
    assert names(core.call(c.Search("stairs")))[0] == "street-paris.jpg"
    assert "street-paris.jpg" not in names(core.call(c.Search("stairs 2022")))


def test_explicit_filters_narrow_the_query(library) -> None:
    core, photos = library
    search = lambda **f: names(core.call(c.Search("blue", filters=SearchFilters(**f))))  # noqa: E731
    assert search(taken_after="2023", place="Paris") == ["street-paris.jpg"]
    before = search(taken_before="2023")  # the 2022 beach by EXIF, the others by their file dates (2019)
    assert before[0] == "beach-paris.jpg" and set(before) == {"beach-paris.jpg", "passport_scan.jpg", *(f"IMG_{i:04}.jpg" for i in range(6))}
    assert search(camera="x-t3") == ["beach-paris.jpg"] and search(camera="iphone") == ["beach-lisbon.jpg"]
    assert search(place="巴黎", taken_before="2023-01") == ["beach-paris.jpg"]
    assert search(photo_type="photo", place="Lisbon") == ["beach-lisbon.jpg"]
    answer = core.call(c.Search("blue", folder=str(photos), filters=SearchFilters(place="Lisboa")))
    assert names(answer) == ["beach-lisbon.jpg"] and answer.filters and "Lisbon" in answer.filters[0]
    with pytest.raises(QueryError, match="--taken-after: 'soon' is not a date"):
        core.call(c.Search("blue", filters=SearchFilters(taken_after="soon")))


def test_removing_a_chip_reads_its_words_as_words_again(library) -> None:
    core, _ = library
    answer = core.call(c.Search("blue in Paris"))
    assert names(answer) == ["beach-paris.jpg", "street-paris.jpg"]
    literal = answer.reading.without(0)
    again = core.call(c.Search("blue in Paris", literal=literal))
    assert again.reading.parts == () and again.reading.semantic == "blue in Paris"
    assert "beach-lisbon.jpg" in names(again)


def test_sorting_by_date_taken_orders_the_best_matches_newest_first(library) -> None:
    core, _ = library
    answer = core.call(c.Search("blue", top_k=3, sort="date"))
    relevance = core.call(c.Search("blue", top_k=3))
    assert set(names(answer)) == set(names(relevance))
    taken = [r.taken_at for r in answer]
    assert taken == sorted(taken, reverse=True)


def test_an_answer_is_the_same_after_crossing_the_wire(library) -> None:
    core, _ = library
    command = c.Search("stairs in Paris", literal=((0, 0),), filters=SearchFilters(taken_after="2020"), sort="date")
    wire = json.loads(json.dumps({"command": type(command).__name__, "args": protocol.encode_command(command)["args"]}))
    assert protocol.decode_command(wire["command"], wire["args"]) == command
    answer = core.call(command)
    assert answer[0].reasons  # words and filters
    assert protocol.decode_result(command, json.loads(json.dumps(protocol.encode_value(answer)))) == answer


def test_a_new_photo_is_found_by_name_before_it_is_embedded_and_filters_follow_new_metadata(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    jpeg(photos / "IMG_0001.jpg", colour=RED, exif=exif_block(original="2020:01:01 10:00:00"))
    paths = resolve_paths(tmp_path / "data").ensure()
    core = PhotoLibrary(paths, lambda argument, models_dir: UnsureEmbedder(), threaded=False, decode_workers=1)
    core.call(c.IndexNow((str(photos),)))
    assert names(core.call(c.Search("2020"))) == ["IMG_0001.jpg"]  # the searcher's columns are loaded now
    jpeg(photos / "boarding_pass.jpg", colour=GREY, exif=exif_block(original="2020:02:02 10:00:00"))
    core.call(c.PauseIndexing(True))
    core.call(c.Rescan())
    core.run_pending()
    assert names(core.call(c.Search("boarding")))[0] == "boarding_pass.jpg"  # scanned, not embedded yet
    core.call(c.PauseIndexing(False))
    core.call(c.IndexNow())
    # The long-lived searcher caught up from the change feed: the new photo's date is a filter now.
    assert names(core.call(c.Search("2020"))) == ["boarding_pass.jpg", "IMG_0001.jpg"]
    core.close()
