"""The keyword index: names split into words in several languages, tags and OCR text findable, hostile queries
harmless, changed and removed files followed."""

from __future__ import annotations

import sqlite3

import pytest

from xmr_desktop.textsearch import keyword_index as ki
from xmr_desktop.textsearch.tokens import fold, name_tokens, query_terms, text_tokens


@pytest.fixture()
def conn() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    ki.create_keyword_tables(connection)
    return connection


def add_paths(conn: sqlite3.Connection, paths: list[str]) -> None:
    for file_id, path in enumerate(paths, start=1):
        ki.set_fields(conn, file_id, ki.path_fields(path))


def found(conn: sqlite3.Connection, query: str) -> list[int]:
    return [hit.file_id for hit in ki.search(conn, query)]


NAMES = [
    "/photos/2023/passport_scan.jpg",  # 1
    "/photos/2023/IMG_1234.JPG",  # 2
    "/photos/Trip to Rome/DSC01234.jpg",  # 3
    "/photos/misc/SummerHolidayBeach.png",  # 4
    "/photos/Familie/Müller Geburtstag.jpg",  # 5
    "/photos/微信/微信图片_20230714.jpg",  # 6
    "/photos/证件/护照扫描件.png",  # 7
    "/photos/misc/iPhone Backup.heic",  # 8
    "/photos/misc/Straßenfest Köln.jpg",  # 9
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("passport", [1]),
        ("scan", [1]),
        ("IMG", [2]),
        ("img_1234", [2]),
        ("1234", [2]),  # the photo named 1234; DSC01234 is a different number
        ("rome", [3]),
        ("trip to rome", [3]),
        ("holiday", [4]),
        ("summerholidaybeach", [4]),
        ("MÜLLER", [5]),
        ("muller", [5]),
        ("Mueller", [5]),
        ("geburtstag", [5]),
        ("strassenfest", [9]),
        ("Straßenfest koeln", [9]),
        ("iphone", [8]),
        ("微信", [6]),
        ("图片", [6]),
        ("护照", [7]),
        ("照", [7]),
        ("扫描件", [7]),
        ("证件", [7]),
    ],
)
def test_file_and_folder_names_are_searchable_as_words(conn: sqlite3.Connection, query: str, expected: list[int]) -> None:
    add_paths(conn, NAMES)
    assert found(conn, query) == expected


def test_a_file_named_after_the_query_ranks_above_one_in_a_folder_of_that_name(conn: sqlite3.Connection) -> None:
    add_paths(conn, ["/p/rome/IMG_1.jpg", "/p/x/rome.jpg", "/p/rome/IMG_2.jpg", "/p/y/IMG_3.jpg"])
    hits = ki.search(conn, "rome")
    assert hits[0].file_id == 2
    assert hits[0].matches == (ki.KeywordMatch("name", ("rome",)),)
    assert {hit.file_id for hit in hits[1:]} == {1, 3}
    assert all(hit.matches == (ki.KeywordMatch("folder", ("rome",)),) for hit in hits[1:])


def test_rare_words_score_higher_than_common_ones(conn: sqlite3.Connection) -> None:
    for file_id in range(1, 51):
        ki.set_fields(conn, file_id, {"name": f"IMG_{file_id}", "keywords": "holiday"})
    ki.set_fields(conn, 51, {"name": "IMG_51", "keywords": "holiday; passport"})
    hits = ki.search(conn, "holiday passport")
    assert hits[0].file_id == 51
    assert hits[0].matches == (ki.KeywordMatch("keywords", ("holiday", "passport")),)
    assert hits[0].score == pytest.approx(1.0 + ki.rarity(51, 51) * 1.0)
    assert hits[1].score < 0.1


def test_tags_captions_and_ocr_text_are_searchable_with_their_field(conn: sqlite3.Connection) -> None:
    ki.set_fields(conn, 1, {"name": "IMG_0001", "keywords": "Lisbon; tram", "caption": "Tram 28 in the Alfama"})
    ki.set_fields(conn, 2, {"name": "IMG_0002", "ocr": "ACME Ltd.\nInvoice 4711\nTotal 42"})
    ki.set_fields(conn, 3, {"name": "IMG_0003", "caption": "海边的日落，很美"})
    assert ki.search(conn, "alfama") == [ki.KeywordHit(1, pytest.approx(0.8), (ki.KeywordMatch("caption", ("alfama",)),))]
    tram = ki.search(conn, "tram")[0]
    assert tram.matches == (ki.KeywordMatch("keywords", ("tram",)), ki.KeywordMatch("caption", ("tram",)))
    invoice = ki.search(conn, "invoice 4711")
    assert [hit.file_id for hit in invoice] == [2]
    assert invoice[0].matches == (ki.KeywordMatch("ocr", ("invoice", "4711")),)
    assert found(conn, "日落") == [3]
    assert found(conn, "海边日落") == [3]


def test_a_longer_chinese_query_prefers_files_with_all_of_it(conn: sqlite3.Connection) -> None:
    ki.set_fields(conn, 1, {"caption": "北京烤鸭"})
    ki.set_fields(conn, 2, {"caption": "北京天安门"})
    ki.set_fields(conn, 3, {"caption": "上海"})
    hits = ki.search(conn, "北京烤鸭")
    assert [hit.file_id for hit in hits] == [1, 2]
    assert hits[0].matches == (ki.KeywordMatch("caption", ("北京", "京烤", "烤鸭")),)


@pytest.mark.parametrize(
    "query",
    ['"', '""', "'", "NEAR(a b)", "a* OR b", "-passport", "passport*", "name:passport", "{name}: x", "^scan",
     "(", ")", "AND", "NOT", "OR OR", "'); DROP TABLE keyword_fts; --", "\x00", "\\", "*", "+", "a + - b", "%_"],
)
def test_fts_syntax_in_queries_never_raises(conn: sqlite3.Connection, query: str) -> None:
    add_paths(conn, NAMES)
    hits = ki.search(conn, query)  # must not raise
    assert all(isinstance(hit.file_id, int) for hit in hits)
    assert found(conn, "passport") == [1]


def test_quoted_and_operator_words_are_matched_as_words(conn: sqlite3.Connection) -> None:
    add_paths(conn, NAMES)
    assert found(conn, '"passport"') == [1]
    assert found(conn, "-passport") == [1]
    assert found(conn, "passport*") == [1]
    assert found(conn, "NEAR(passport)") == [1]


def test_a_changed_file_keeps_only_its_new_words_and_a_removed_file_leaves(conn: sqlite3.Connection) -> None:
    ki.set_fields(conn, 1, {"name": "IMG_0001", "ocr": "Invoice 4711"})
    ki.set_fields(conn, 2, {"name": "IMG_0002"})
    ki.set_fields(conn, 1, {"ocr": "Receipt 99"})
    assert found(conn, "invoice") == []
    assert found(conn, "receipt") == [1]
    assert found(conn, "img") == [1, 2]  # the name stayed
    ki.replace_document(conn, 1, {"name": "beach"})
    assert found(conn, "receipt") == []
    assert found(conn, "beach") == [1]
    assert ki.remove_files(conn, [1, 99]) == 1
    assert found(conn, "beach") == []
    assert ki.document_count(conn) == 1
    assert ki.documents(conn, [2]) == {2: {"name": "img 0002", "folder": "", "keywords": "", "caption": "", "ocr": ""}}


def test_also_score_returns_scores_for_files_beyond_the_limit(conn: sqlite3.Connection) -> None:
    for file_id in range(1, 31):
        ki.set_fields(conn, file_id, {"keywords": "beach"})
    hits = ki.search(conn, "beach", limit=5, also_score=[25, 40])
    assert [hit.file_id for hit in hits] == [1, 2, 3, 4, 5, 25]


def test_words_in_too_many_files_are_ignored(conn: sqlite3.Connection) -> None:
    for file_id in range(1, 21):
        ki.set_fields(conn, file_id, {"name": f"IMG_{file_id}"})
    ki.set_fields(conn, 21, {"name": "IMG_passport"})
    assert [hit.file_id for hit in ki.search(conn, "img passport", max_term_files=10)] == [21]
    assert ki.search(conn, "img", max_term_files=10) == []


def test_unknown_fields_are_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="unknown keyword field"):
        ki.set_fields(conn, 1, {"title": "x"})


def test_tables_are_created_once_and_record_the_tokens_version(conn: sqlite3.Connection) -> None:
    ki.create_keyword_tables(conn)
    assert ki.keyword_index_version(conn) == ki.TOKENS_VERSION


def test_folding_and_splitting() -> None:
    assert fold("ＩＭＧ Ärger ÉCOLE Straße") == "img arger ecole strasse"
    assert name_tokens("TripToRome") == ["trip", "to", "rome", "triptorome"]
    assert name_tokens("IMG1234") == ["img", "1234"]
    assert text_tokens("护照") == ["护照", "护", "照"]
    assert [t.text for t in query_terms("a photo of the dog")] == ["photo", "dog"]
    assert [t.text for t in query_terms("2023年7月")] == ["2023", "年", "7", "月"]


def test_rarity_is_one_for_a_unique_word_and_small_for_a_word_in_most_files() -> None:
    assert ki.rarity(1, 10_000) == pytest.approx(1.0)
    assert ki.rarity(5, 10_000) > 0.8
    assert ki.rarity(9_000, 10_000) < 0.03
    assert ki.rarity(0, 10) == 0.0
    assert ki.rarity(1, 1) == pytest.approx(1.0)


def test_paths_of_an_existing_index_can_be_indexed_in_one_go(conn: sqlite3.Connection) -> None:
    ki.index_file_paths(conn, [(7, r"C:\Users\anna\Pictures\Trip to Rome\passport_scan.jpg"), (8, "/p/IMG_1.jpg")])
    assert found(conn, "passport") == [7]
    assert found(conn, "rome") == [7]
    assert ki.document_count(conn) == 2


def test_dropping_the_tables_empties_the_index_for_a_rebuild(conn: sqlite3.Connection) -> None:
    add_paths(conn, NAMES)
    ki.drop_keyword_tables(conn)
    ki.create_keyword_tables(conn)
    assert ki.document_count(conn) == 0
    assert found(conn, "passport") == []
