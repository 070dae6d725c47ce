"""Where a query's matches end and why each photo matched, through the core: every result is marked strong or
weak, the answer says how many are strong, strictness moves the line, date order keeps the strong ones first,
and all of it survives the wire."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from fakes import ColourEmbedder
from PIL import Image

from xmr_desktop.config import resolve_paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import protocol
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.errors import QueryError
from xmr_desktop.search import cutoff as cutoff_module
from xmr_desktop.search.answer import SearchAnswer

# Five red photos among blue, green and grey ones; neutral names, so only the image model ranks them.
COLOURS = {
    **{f"a{i}.png": (230 - 8 * i, 20 + 5 * i, 20) for i in range(5)},
    **{f"b{i}.png": (20, 30 + 10 * i, 230) for i in range(8)},
    **{f"c{i}.png": (20 + 10 * i, 220, 30) for i in range(8)},
    **{f"d{i}.png": (100 + 20 * i,) * 3 for i in range(6)},
}
RED = {f"a{i}.png" for i in range(5)}


def _photo(path: Path, colour: tuple[int, int, int], year: int) -> None:
    Image.new("RGB", (40, 30), colour).save(path)
    stamp = datetime(year, 6, 1, 12).timestamp()
    os.utime(path, (stamp, stamp))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("relevance")
    photos = root / "photos"
    photos.mkdir()
    for n, (name, colour) in enumerate(COLOURS.items()):
        _photo(photos / name, colour, 2010 + n % 12)
    core = PhotoLibrary(resolve_paths(root / "data").ensure(), lambda a, m: ColourEmbedder(), threaded=False,
                        decode_workers=1)
    core.call(c.IndexNow((str(photos),)))
    yield core, photos
    core.close()


def names(results) -> list[str]:
    return [os.path.basename(r.path) for r in results]


def test_the_matches_end_where_the_query_stops_matching_whatever_is_shown(library) -> None:
    core, _ = library
    answer = core.call(c.Search("red", top_k=20))
    assert set(names(answer.strong_results)) == RED and answer.cutoff.strong == 5
    assert [r.match for r in answer] == ["strong"] * 5 + ["weak"] * 15  # in relevance order, one divider
    assert answer.cutoff.weaker_beyond and not answer.cutoff.strong_beyond and answer.cutoff.decided == "adaptive"
    # Three shown or twenty: the same line, decided on the same scores.
    few = core.call(c.Search("red", top_k=3))
    assert few.cutoff.strong == 5 and [r.match for r in few] == ["strong"] * 3
    # All photos shown: nothing weaker lies beyond them.
    assert not core.call(c.Search("red", top_k=100)).cutoff.weaker_beyond


def test_strictness_moves_the_line_one_way(library) -> None:
    core, _ = library
    counts = [core.call(c.Search("red", top_k=30, strictness=s)).cutoff.strong for s in (0.0, 0.5, 1.0)]
    assert counts[0] > counts[1] == 5 > counts[2] >= 1
    assert core.call(c.Search("red", strictness=None)).cutoff.strictness == cutoff_module.DEFAULT_STRICTNESS
    with pytest.raises(QueryError, match="strictness must be from 0"):
        core.call(c.Search("red", strictness=1.5))


def test_each_result_says_what_each_part_of_the_query_gave(library) -> None:
    core, _ = library
    first = core.call(c.Search("red - green"))[0]
    parts = [(r.kind, r.text, r.weight) for r in first.reasons]
    assert parts == [("term", "red", 1.0), ("term", "green", -1.0)]
    assert sum(abs(r.share) for r in first.reasons) == pytest.approx(1.0)
    assert first.reasons[0].share > first.reasons[1].share > 0  # red lifted it most; less green than usual helped
    assert [r.label() for r in first.reasons][1].startswith("− green +")


def test_photos_like_a_photo_are_marked_and_explained_too(library) -> None:
    core, photos = library
    answer = core.call(c.FindSimilar(str(photos / "a0.png"), top_k=10))
    assert set(names(answer.strong_results)) == RED - {"a0.png"} and answer.cutoff.strong == 4
    assert answer[0].reasons[0].kind == "image" and answer[0].reasons[0].text == "a0.png"


def test_a_listing_by_date_has_no_cutoff_every_photo_kept_is_a_match(library) -> None:
    core, _ = library
    answer = core.call(c.Search("2015"))
    assert answer.ranked_by == "date taken" and answer.cutoff.decided == "none"
    assert len(answer) > 0 and all(r.match == "strong" for r in answer) and answer.cutoff.strong == len(answer)


def test_sorting_by_date_puts_the_strong_matches_first_each_side_newest_taken_first(library) -> None:
    core, _ = library
    answer = core.call(c.Search("red", top_k=12, sort="date"))
    assert [r.match for r in answer] == ["strong"] * 5 + ["weak"] * 7
    assert set(names(answer[:5])) == RED
    for side in (answer[:5], answer[5:]):
        taken = [r.taken_at for r in side]
        assert taken == sorted(taken, reverse=True)


def test_the_cutoff_and_reasons_survive_the_wire(library) -> None:
    core, _ = library
    command = c.Search("red - green", top_k=8, strictness=0.3)
    wire = json.loads(json.dumps(protocol.encode_command(command)))
    assert protocol.decode_command(wire["command"], wire["args"]) == command
    answer = core.call(command)
    back = protocol.decode_result(command, json.loads(json.dumps(protocol.encode_value(answer))))
    assert back == answer and back.cutoff.strictness == 0.3 and back.cutoff.strong == answer.cutoff.strong
    # An app from before the cutoff answers without one: read as none decided.
    old = protocol.encode_value(answer)
    del old["cutoff"]
    assert SearchAnswer.from_json(old).cutoff is None
    for bad in (2, "loose", True):
        with pytest.raises(protocol.ProtocolError, match="strictness"):
            protocol.decode_command("Search", {"query": "red", "strictness": bad})


def test_the_library_sample_is_taken_once_per_change_of_the_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("b0.png", "b1.png", "c0.png", "c1.png", "d0.png", "d1.png"):
        _photo(photos / name, COLOURS[name], 2020)
    core = PhotoLibrary(resolve_paths(tmp_path / "data").ensure(), lambda a, m: ColourEmbedder(), threaded=False,
                        decode_workers=1)
    original = cutoff_module.LibraryStats.from_index.__func__
    taken: list[int] = []

    def counting(cls, index, **kwargs):
        taken.append(len(index))
        return original(cls, index, **kwargs)

    monkeypatch.setattr(cutoff_module.LibraryStats, "from_index", classmethod(counting))
    try:
        core.call(c.IndexNow((str(photos),)))
        for query in ("red", "red c", "red car", "red cars"):  # typing: one sample for every keystroke
            core.call(c.Search(query))
        assert taken == [6]
        _photo(photos / "a0.png", COLOURS["a0.png"], 2021)
        core.call(c.IndexNow())
        answer = core.call(c.Search("red"))
        assert taken == [6, 7] and names(answer.strong_results) == ["a0.png"]
    finally:
        core.close()


def test_an_empty_library_answers_with_nothing_strong(tmp_path: Path) -> None:
    core = PhotoLibrary(resolve_paths(tmp_path / "data").ensure(), lambda a, m: ColourEmbedder(), threaded=False)
    try:
        answer = core.call(c.Search("red"))
        assert len(answer) == 0 and answer.cutoff.strong == 0 and not answer.cutoff.weaker_beyond
    finally:
        core.close()
