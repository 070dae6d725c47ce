"""The OCR job: after embedding, resumable, per content hash, documents only by default, searchable after."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.library.store import Embedded
from tests.ocr.helpers import add_embedded, needs_tesseract, open_index, render_invoice
from xmr_desktop.ocr.engine import OcrEngine, OcrFailed
from xmr_desktop.ocr.jobs import (
    DocumentPrompts,
    OcrMode,
    OcrSettings,
    next_ocr_batch,
    pending_count,
    record_ocr_result,
    refresh_ocr_fields,
    run_ocr_step,
)
from xmr_desktop.textsearch import keyword_index as ki

DOC = np.array([1.0, 0.1, 0.0], np.float32)  # a vector near the "document" prompt
SCENE = np.array([0.1, 1.0, 0.0], np.float32)
PROMPTS = DocumentPrompts(documents=np.array([[1.0, 0.0, 0.0]]), others=np.array([[0.0, 1.0, 0.0]]))


def settings(mode: OcrMode = OcrMode.ALL, langs: tuple[str, ...] = ("eng",), engine: str = "tesseract 5") -> OcrSettings:
    return OcrSettings(mode=mode, langs=langs, engine_version=engine, model_id="m")


class CountingReader:
    """Stands in for Tesseract: the 'text' of a photo is made of its file name; counts what it read."""

    def __init__(self, fail: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.read: list[str] = []
        self.fail = fail

    def __call__(self, path: str, timeout: float) -> str:
        self.read.append(Path(path).name)
        if Path(path).name in self.fail:
            raise OcrFailed("OCR took longer than 20 s")
        return f"stamp {Path(path).stem}stamp"


@pytest.fixture()
def index(tmp_path: Path):
    store, conn = open_index(tmp_path)
    ids = add_embedded(
        store,
        tmp_path / "photos",
        {
            "a.jpg": (b"A" * 16, DOC),
            "b.jpg": (b"B" * 16, SCENE),
            "c.jpg": (b"C" * 16, DOC),
            "c_copy.jpg": (b"C" * 16, DOC),  # the same content twice: read once
        },
    )
    yield store, conn, ids, tmp_path
    conn.close()
    store.close()


def test_everything_is_read_once_across_restarts_and_duplicates_share_the_text(index) -> None:
    store, conn, ids, tmp_path = index
    reader = CountingReader()
    assert pending_count(conn, settings()) == 3
    run_ocr_step(conn, settings(), reader, limit=1)
    conn.close()  # the app stops here; a new session goes on
    conn = sqlite3.connect(str(tmp_path / "index.sqlite3"), isolation_level=None)
    while run_ocr_step(conn, settings(), reader, limit=2):
        pass
    assert sorted(reader.read) == ["a.jpg", "b.jpg", "c.jpg"]
    assert pending_count(conn, settings()) == 0
    hits = ki.search(conn, "cstamp")
    assert {hit.file_id for hit in hits} == {ids["c.jpg"], ids["c_copy.jpg"]}
    assert all(hit.matches == (ki.KeywordMatch("ocr", ("cstamp",)),) for hit in hits)


def test_documents_mode_reads_only_what_the_image_model_calls_a_document(index) -> None:
    store, conn, ids, _ = index
    reader = CountingReader()
    while run_ocr_step(conn, settings(OcrMode.DOCUMENTS), reader, PROMPTS):
        pass
    assert sorted(reader.read) == ["a.jpg", "c.jpg"]
    assert pending_count(conn, settings(OcrMode.DOCUMENTS)) == 0
    # Switching to "all" reads what was skipped, and nothing twice.
    assert pending_count(conn, settings(OcrMode.ALL)) == 1
    while run_ocr_step(conn, settings(OcrMode.ALL), reader):
        pass
    assert sorted(reader.read) == ["a.jpg", "b.jpg", "c.jpg"]


def test_documents_mode_needs_the_prompt_vectors_and_off_reads_nothing(index) -> None:
    _, conn, _, _ = index
    with pytest.raises(ValueError, match="prompt vectors"):
        next_ocr_batch(conn, settings(OcrMode.DOCUMENTS))
    assert next_ocr_batch(conn, settings(OcrMode.OFF)) == []
    assert pending_count(conn, settings(OcrMode.OFF)) == 0


def test_a_new_language_rereads_and_a_failure_is_retried_only_by_a_new_tesseract(index) -> None:
    _, conn, _, _ = index
    reader = CountingReader(fail={"b.jpg"})
    while run_ocr_step(conn, settings(), reader):
        pass
    assert sorted(reader.read) == ["a.jpg", "b.jpg", "c.jpg"]
    assert pending_count(conn, settings()) == 0  # b failed: not retried by the same Tesseract
    assert pending_count(conn, settings(engine="tesseract 6")) == 1
    assert pending_count(conn, settings(langs=("eng", "chi_sim"))) == 2  # a and c again, with Chinese too


def test_a_changed_photo_loses_the_text_of_its_old_content(index) -> None:
    store, conn, ids, tmp_path = index
    while run_ocr_step(conn, settings(), CountingReader()):
        pass
    assert [hit.file_id for hit in ki.search(conn, "astamp")] == [ids["a.jpg"]]
    # a.jpg changes on disk: the rescan resets it, embedding records its new content. No call to this module.
    folder = store.folder(str(tmp_path / "photos"))
    store.record_scan(folder.id, [(str(tmp_path / "photos" / "a.jpg"), 2, 2)], [])
    assert ki.search(conn, "astamp") == []
    store.commit_batch("m", [Embedded(ids["a.jpg"], 2, 2, b"Z" * 16, 10, 10, DOC)], [])
    assert ki.documents(conn, [ids["a.jpg"]])[ids["a.jpg"]]["ocr"] == ""
    assert next_ocr_batch(conn, settings())[0].content_hash == b"Z" * 16
    assert [hit.file_id for hit in ki.search(conn, "a")] == []  # its name is still indexed, single letters are not queried
    assert ki.documents(conn, [ids["a.jpg"]])[ids["a.jpg"]]["name"] == "a"


def test_a_photo_changed_into_content_read_before_gets_that_text(index) -> None:
    store, conn, ids, tmp_path = index
    while run_ocr_step(conn, settings(), CountingReader()):
        pass
    folder = store.folder(str(tmp_path / "photos"))
    store.record_scan(folder.id, [(str(tmp_path / "photos" / "b.jpg"), 3, 3)], [])
    store.commit_batch("m", [Embedded(ids["b.jpg"], 3, 3, b"C" * 16, 10, 10, DOC)], [])  # b.jpg now holds c's content
    assert {hit.file_id for hit in ki.search(conn, "cstamp")} == {ids["b.jpg"], ids["c.jpg"], ids["c_copy.jpg"]}
    assert ki.search(conn, "bstamp") == []


def test_removed_files_and_folders_take_their_words_with_them(index) -> None:
    store, conn, ids, tmp_path = index
    while run_ocr_step(conn, settings(), CountingReader()):
        pass
    assert ki.document_count(conn) == 4
    store.remove_paths([str(tmp_path / "photos" / "c.jpg")])
    assert [hit.file_id for hit in ki.search(conn, "cstamp")] == [ids["c_copy.jpg"]]
    assert ki.document_count(conn) == 3
    store.remove_folder(str(tmp_path / "photos"))
    assert ki.search(conn, "astamp") == [] and ki.document_count(conn) == 0


def test_refresh_sets_the_text_of_files_indexed_after_their_content(index) -> None:
    store, conn, ids, _ = index
    while run_ocr_step(conn, settings(), CountingReader()):
        pass
    conn.execute("BEGIN IMMEDIATE")
    ki.set_fields(conn, ids["a.jpg"], {"ocr": ""})
    refresh_ocr_fields(conn, [ids["a.jpg"]])
    conn.execute("COMMIT")
    assert [hit.file_id for hit in ki.search(conn, "astamp")] == [ids["a.jpg"]]


def test_a_result_for_a_hash_no_file_has_any_more_is_kept_but_indexes_nothing(index) -> None:
    _, conn, _, _ = index
    task = next_ocr_batch(conn, settings())[0]
    conn.execute("UPDATE files SET content_hash = NULL, state = 'pending' WHERE content_hash = ?", (task.content_hash,))
    assert record_ocr_result(conn, settings(), task, "Invoice 1") == []
    assert ki.search(conn, "invoice") == []


@needs_tesseract
def test_an_invoice_photo_is_found_by_the_words_on_it(tmp_path: Path) -> None:
    store, conn = open_index(tmp_path)
    folder = tmp_path / "photos"
    folder.mkdir()
    render_invoice(folder / "IMG_0001.png")
    ids = add_embedded(store, folder, {"IMG_0001.png": (b"I" * 16, DOC), "IMG_0002.png": (b"J" * 16, SCENE)})
    with OcrEngine(("eng",)) as reader:
        job = OcrSettings(OcrMode.DOCUMENTS, ("eng",), reader.engine_version(), "m")
        while run_ocr_step(conn, job, reader.read_file, PROMPTS):
            pass
    hits = ki.search(conn, "invoice 4711")
    # (pytest's folder for this test has "invoice" in its name, so both files match in "folder")
    assert hits[0].file_id == ids["IMG_0001.png"]
    assert ki.KeywordMatch("ocr", ("invoice", "4711")) in hits[0].matches
    assert all(match.field == "folder" for hit in hits[1:] for match in hit.matches)
    conn.close()
    store.close()


def test_the_mode_setting_reads_any_case_and_refuses_other_words() -> None:
    from xmr_desktop.errors import XmrError
    from xmr_desktop.ocr.jobs import parse_mode

    assert parse_mode("Documents") is OcrMode.DOCUMENTS
    assert parse_mode(" all ") is OcrMode.ALL
    with pytest.raises(XmrError, match="off, documents or all"):
        parse_mode("some")


def test_documents_is_the_default_only_where_tesseract_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from xmr_desktop.ocr import engine
    from xmr_desktop.ocr.jobs import default_mode

    monkeypatch.setattr(engine, "ocr_available", lambda langs: "no Tesseract language data found")
    assert default_mode() is OcrMode.OFF
    monkeypatch.setattr(engine, "ocr_available", lambda langs: None)
    assert default_mode() is OcrMode.DOCUMENTS
