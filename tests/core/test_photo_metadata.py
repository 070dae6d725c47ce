"""What the core keeps about photos besides vectors: metadata read while indexing (also for copies), the
background pass for an index made before, changed photos, and text in photos read after embedding."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from fakes import ColourEmbedder
from metadata.photo_files import bag, exif_block, jpeg, xmp_packet
from places_fixture import seed_place_cache
from xmr_desktop.config import resolve_paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.errors import XmrError
from xmr_desktop.library.store import Store
from xmr_desktop.metadata import storage
from xmr_desktop.ocr import engine as ocr_engine
from xmr_desktop.textsearch import keyword_index

LISBON = (38.7223, -9.1393)
TIMEOUT = 60


def inline_library(tmp_path: Path, model: ColourEmbedder) -> PhotoLibrary:
    paths = resolve_paths(tmp_path / "data").ensure()
    seed_place_cache(paths.cache_dir)
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=False, batch_size=4, decode_workers=2)
    library.start()
    return library


def metadata_of(library: PhotoLibrary, path: Path):
    store: Store = library._session.store  # type: ignore[assignment]
    file_id = store.file_id_for_path(str(path))
    return storage.read(store.connection, [file_id]).get(file_id)


def words_of(library: PhotoLibrary, query: str) -> list[str]:
    store: Store = library._session.store  # type: ignore[assignment]
    records = store.records_by_ids(hit.file_id for hit in keyword_index.search(store.connection, query))
    return sorted(os.path.basename(r.path) for r in records.values())


def test_indexing_keeps_each_photos_date_camera_place_and_tags_also_for_copies(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    original = jpeg(folder / "tram.jpg", colour=(200, 30, 20),
                    exif=exif_block(original="2023:07:14 10:11:12", offset="+01:00", gps=LISBON, make="Apple", model="iPhone 12"),
                    xmp=xmp_packet(bag("dc:subject", ["tram", "Alfama"])))
    # The same bytes under a name with a date: embedded once, but it is a file with metadata of its own.
    (folder / "IMG_20190101_120000.jpg").write_bytes(original.read_bytes())
    model = ColourEmbedder()
    library = inline_library(tmp_path, model)
    report = library.call(c.IndexNow((str(folder),)))
    assert (report.embedded, report.reused) == (1, 1) and model.images_embedded == 1
    meta = metadata_of(library, original)
    assert meta.taken.isoformat() == "2023-07-14T10:11:12+01:00" and meta.taken.source == "exif"
    assert meta.camera == "Apple iPhone 12" and meta.place.label() == "Lisbon, Portugal"
    assert words_of(library, "alfama") == ["IMG_20190101_120000.jpg", "tram.jpg"]  # tags (the copy has them too)
    library.close()


def test_an_index_made_before_metadata_gets_it_in_the_background_without_embedding_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for day in range(1, 6):
        jpeg(folder / f"p{day}.jpg", colour=(20 * day, 90, 90), exif=exif_block(original=f"2021:03:0{day} 09:00:00"))
    model = ColourEmbedder()
    library = inline_library(tmp_path, model)
    library.call(c.IndexNow((str(folder),)))
    store: Store = library._session.store  # type: ignore[assignment]
    with store.transaction() as conn:  # as an index of the previous version: vectors, no metadata
        conn.execute(f"DELETE FROM {storage.TABLE}")
    library.close()

    again = ColourEmbedder()
    library = inline_library(tmp_path, again)
    report = library.call(c.IndexNow())
    assert again.images_embedded == 0 and report.metadata_read == 5
    assert "dates, places and tags read for 5 photos" in report.summary()
    assert metadata_of(library, folder / "p3.jpg").taken.isoformat() == "2021-03-03T09:00:00"
    assert library.call(c.IndexNow()).metadata_read == 0  # resumable: nothing is read twice
    library.close()


def test_a_changed_photo_takes_its_new_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = jpeg(folder / "a.jpg", exif=exif_block(original="2020:01:01 00:00:00", make="Canon", model="Canon EOS R5"))
    library = inline_library(tmp_path, ColourEmbedder())
    library.call(c.IndexNow((str(folder),)))
    jpeg(photo, size=(80, 60), exif=exif_block(original="2024:02:02 00:00:00", make="FUJIFILM", model="X-T3"))
    library.call(c.IndexNow())
    meta = metadata_of(library, photo)
    assert meta.taken.local == datetime(2024, 2, 2) and meta.camera == "FUJIFILM X-T3"
    library.close()


class FakeTesseract:
    """Stands in for the OCR engine: a photo's 'text' is written in a file beside it; ``gate`` holds reads."""

    def __init__(self, langs: tuple[str, ...] = ("eng",), setup: object = None) -> None:
        self.langs = langs
        self.closed = False
        FakeTesseract.started.append(self)

    started: list[FakeTesseract] = []
    gate = threading.Event()
    reading = threading.Event()

    def engine_version(self) -> str:
        return "tesseract (stand-in)"

    def read_file(self, path: str, timeout: float) -> str:
        FakeTesseract.reading.set()
        FakeTesseract.gate.wait(TIMEOUT)
        return Path(path + ".txt").read_text() if Path(path + ".txt").exists() else ""

    def close(self) -> None:
        self.closed = True

    def kill(self) -> None:
        self.closed = True


@pytest.fixture
def fake_tesseract(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ocr_engine, "OcrEngine", FakeTesseract)
    monkeypatch.setattr(ocr_engine, "ocr_available", lambda langs=("eng",): None)
    monkeypatch.setattr(ocr_engine, "installed_langs", lambda wanted=("eng",): ("eng",))
    FakeTesseract.started = []
    FakeTesseract.gate = threading.Event()
    FakeTesseract.reading = threading.Event()
    return FakeTesseract


def test_xmr_index_with_ocr_reads_text_after_embedding_and_keeps_the_mode_for_the_index(tmp_path: Path, fake_tesseract) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    invoice = jpeg(folder / "IMG_0001.jpg", colour=(250, 250, 250))
    Path(str(invoice) + ".txt").write_text("ACME Invoice 4711")
    jpeg(folder / "IMG_0002.jpg", colour=(10, 10, 10))
    fake_tesseract.gate.set()
    library = inline_library(tmp_path, ColourEmbedder())
    report = library.call(c.IndexNow((str(folder),), ocr="all"))
    assert report.embedded == 2 and report.text_read == 2 and "text read in 2 photos" in report.summary()
    assert words_of(library, "4711") == ["IMG_0001.jpg"]
    assert library.call(c.GetStatus()).ocr == "all"
    library.close()
    assert all(engine.closed for engine in fake_tesseract.started)  # the OCR child goes with the core

    library = inline_library(tmp_path, ColourEmbedder())  # the next session keeps the index's choice
    assert library.call(c.GetStatus()).ocr == "all" and library.call(c.IndexNow()).text_read == 0
    library.call(c.SetOcrMode("off"))
    assert library.call(c.GetStatus()).ocr == "off"
    library.close()


def test_text_is_read_on_a_thread_of_its_own_while_searches_are_answered(tmp_path: Path, fake_tesseract) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    Path(str(jpeg(folder / "IMG_0001.jpg", colour=(250, 20, 20))) + ".txt").write_text("boarding pass")
    paths = resolve_paths(tmp_path / "data").ensure()
    model = ColourEmbedder()
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=True)
    seen: list[e.Event] = []
    library.subscribe(seen.append)
    library.start()
    library.call(c.LoadModel(None), timeout=TIMEOUT)
    library.call(c.SetOcrMode("all"), timeout=TIMEOUT)
    indexed = library.submit(c.IndexNow((str(folder),)))
    assert fake_tesseract.reading.wait(TIMEOUT)  # Tesseract is busy with the photo (and would be for 20 s) ...
    assert [Path(r.path).name for r in library.call(c.Search("red"), timeout=5)] == ["IMG_0001.jpg"]  # ... searches go on
    assert not indexed.done()  # `xmr index` waits for the text too
    fake_tesseract.gate.set()
    assert indexed.result(TIMEOUT).text_read == 1
    assert [Path(r.path).name for r in library.call(c.Search("red boarding"), timeout=5)] == ["IMG_0001.jpg"]
    assert any(isinstance(event, e.OcrChanged) and event.mode == "all" for event in seen)
    library.close()


def test_closing_while_a_photo_is_read_stops_tesseract_and_leaves_the_photo_to_read_again(tmp_path: Path, fake_tesseract) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    jpeg(folder / "IMG_0001.jpg")
    paths = resolve_paths(tmp_path / "data").ensure()
    library = PhotoLibrary(paths, lambda argument, models_dir: ColourEmbedder(), threaded=True)
    library.start()
    library.call(c.LoadModel(None), timeout=TIMEOUT)
    library.call(c.SetOcrMode("all"), timeout=TIMEOUT)
    library.submit(c.IndexNow((str(folder),)))
    assert fake_tesseract.reading.wait(TIMEOUT)
    started = time.monotonic()
    assert library.close(timeout=5)
    assert time.monotonic() - started < 5 and all(engine.closed for engine in fake_tesseract.started)
    fake_tesseract.gate.set()
    with Store.open(paths.index_db) as store:
        assert store.connection.execute("SELECT COUNT(*) FROM ocr_results").fetchone()[0] == 0


def test_asking_for_text_where_tesseract_is_missing_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr_engine, "ocr_available", lambda langs=("eng",): "the tesserocr package is not installed")
    library = inline_library(tmp_path, ColourEmbedder())
    (tmp_path / "photos").mkdir()
    with pytest.raises(XmrError, match="^Text in photos cannot be read: the tesserocr package is not installed.$"):
        library.call(c.IndexNow((str(tmp_path / "photos"),), ocr="documents"))
    assert library.call(c.GetStatus()).ocr == "off"
    library.close()


class DocumentAwareEmbedder(ColourEmbedder):
    """Reads the document prompts as 'white' and the other prompts as 'green': a white page is a document."""

    def embed_texts(self, texts):  # type: ignore[no-untyped-def]
        from xmr_desktop.ocr.documents import DOCUMENT_PROMPTS

        return super().embed_texts(["white" if text in DOCUMENT_PROMPTS else "green" for text in texts])


def test_documents_mode_reads_only_what_the_image_model_takes_for_a_document(tmp_path: Path, fake_tesseract) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, colour in (("page.jpg", (250, 250, 250)), ("meadow.jpg", (20, 200, 20)), ("forest.jpg", (10, 150, 10))):
        Path(str(jpeg(folder / name, colour=colour)) + ".txt").write_text(f"words of {name}")
    fake_tesseract.gate.set()
    library = inline_library(tmp_path, DocumentAwareEmbedder())
    assert library.call(c.IndexNow((str(folder),), ocr="documents")).text_read == 1
    assert words_of(library, "words") == ["page.jpg"]  # the only text read: the page's
    store: Store = library._session.store  # type: ignore[assignment]
    assert store.connection.execute("SELECT COUNT(*) FROM ocr_results WHERE status = 'not_selected'").fetchone()[0] == 2
    library.close()
