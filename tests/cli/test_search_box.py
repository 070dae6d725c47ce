"""Issue 13's promises through the real `xmr` command, on photos these tests write: "beach 2023" keeps photos
taken in 2023 (by EXIF), "在巴黎" photos whose GPS is in Paris, "passport" puts passport_scan.jpg first,
"invoice 4711" finds the photo of an invoice by its text; --explain prints the parse; the same through a
running app's core. The model is a tiny random CLIP: what is tested here is what does not depend on meaning."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from metadata.photo_files import bag, exif_block, jpeg, xmp_packet
from ocr.helpers import render_invoice
from places_fixture import seed_place_cache
from xmr_desktop.cli import main
from xmr_desktop.ocr.engine import ocr_available

TESSERACT = ocr_available(("eng",))
OLD = datetime(2019, 5, 5, 12).timestamp()


def _old(path: Path) -> Path:
    os.utime(path, (OLD, OLD))
    return path


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> tuple[list[str], Path]:
    root = tmp_path_factory.mktemp("box")
    photos = root / "photos"
    photos.mkdir()
    jpeg(photos / "beach-2023.jpg", colour=(20, 40, 230),
         exif=exif_block(original="2023:08:01 12:00:00", gps=(38.7223, -9.1393), make="Apple", model="iPhone 12"))
    jpeg(photos / "beach-2022.jpg", colour=(20, 40, 230),
         exif=exif_block(original="2022:06:01 12:00:00", gps=(48.8584, 2.2945), make="FUJIFILM", model="X-T3"))
    jpeg(photos / "street-2023.jpg", colour=(230, 30, 20), exif=exif_block(original="2023:03:01 12:00:00", gps=(48.8867, 2.3431)),
         xmp=xmp_packet(bag("dc:subject", ["stairs"])))
    _old(jpeg(photos / "beach-copied.jpg", colour=(25, 45, 220)))  # no date inside; its file says 2019
    _old(jpeg(photos / "passport_scan.jpg", colour=(128, 128, 128)))
    for i in range(2, 8):
        _old(jpeg(photos / f"IMG_{i:04}.jpg", colour=(100 + 20 * i, 90, 80)))
    if TESSERACT is None:
        render_invoice(photos / "IMG_0001.png")  # "ACME Supplies Ltd. / Invoice 4711 / … / Total 42"
    else:
        Image.new("RGB", (60, 40), "white").save(photos / "IMG_0001.png")
    _old(photos / "IMG_0001.png")
    data = root / "data"
    seed_place_cache(data / "cache")
    base = ["--data-dir", str(data), "--model", str(tiny_model_dir)]
    assert main([*base, "index", str(photos), "--ocr", "all" if TESSERACT is None else "off"]) == 0
    return base, photos


def xmr(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def found(capsys: pytest.CaptureFixture[str], base: list[str], query: str, *options: str) -> list[dict]:
    out = xmr(capsys, *base, "search", query, "--json", *options)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_beach_2023_returns_only_photos_taken_in_2023_by_their_exif(capsys, indexed) -> None:
    base, _ = indexed
    hits = found(capsys, base, "beach 2023")
    assert sorted(Path(h["path"]).name for h in hits) == ["beach-2023.jpg", "street-2023.jpg"]
    assert all(h["taken_at"].startswith("2023-") and h["taken_at_source"] == "exif" for h in hits)
    first = next(h for h in hits if h["path"].endswith("beach-2023.jpg"))
    assert (first["place"], first["camera"]) == ("Lisbon, Portugal", "Apple iPhone 12")
    assert {"kind": "metadata", "text": "2023-08-01", "field": "date taken"} in first["reasons"]


def test_in_paris_in_chinese_returns_only_photos_whose_gps_is_in_paris(capsys, indexed) -> None:
    base, _ = indexed
    hits = found(capsys, base, "在巴黎")
    assert [Path(h["path"]).name for h in hits] == ["street-2023.jpg", "beach-2022.jpg"]  # newest taken first
    assert {h["place"] for h in hits} == {"Paris, France"}


def test_passport_puts_passport_scan_first(capsys, indexed) -> None:
    base, _ = indexed
    hits = found(capsys, base, "passport")
    assert Path(hits[0]["path"]).name == "passport_scan.jpg"
    assert hits[0]["matched"] == ["passport"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


@pytest.mark.skipif(TESSERACT is not None, reason=f"needs Tesseract: {TESSERACT} (Debian: apt-get install tesseract-ocr)")
def test_invoice_4711_finds_the_photo_of_an_invoice_showing_that_text(capsys, indexed) -> None:
    base, _ = indexed
    hits = found(capsys, base, "invoice 4711")
    assert Path(hits[0]["path"]).name == "IMG_0001.png"
    assert {"kind": "ocr", "text": "invoice, 4711", "field": "text in photo"} in hits[0]["reasons"]


def test_explain_prints_how_the_query_was_read_and_why_each_photo_matched(capsys, indexed) -> None:
    base, _ = indexed
    out = xmr(capsys, *base, "search", "beach 2023", "--explain")
    lines = out.splitlines()
    assert lines[0] == "Query: 'beach 2023'"
    assert "  searched as words: 'beach'" in lines
    assert any(line.startswith("  date") and "'2023'" in line and "taken 2023-01-01 to 2023-12-31" in line for line in lines)
    assert "  ranked by meaning and words" in lines
    assert any("taken 2023-08-01 12:00:00 (exif) · Lisbon, Portugal · Apple iPhone 12" in line
               and "file name: beach" in line and "date taken: 2023-08-01" in line for line in lines)


def test_explicit_filters_and_sorting_by_date_taken(capsys, indexed) -> None:
    base, photos = indexed
    names = lambda *options: [Path(h["path"]).name for h in found(capsys, base, "beach", *options)]  # noqa: E731
    assert names("--taken-after", "2023", "--place", "Paris") == ["street-2023.jpg"]
    assert names("--taken-before", "2023-01-01", "--camera", "fuji") == ["beach-2022.jpg"]
    assert names("--type", "png") == ["IMG_0001.png"]
    assert names("--folder", str(photos), "--place", "Lisboa") == ["beach-2023.jpg"]
    by_date = found(capsys, base, "beach", "--sort", "date", "--top", "4")
    # The strong matches first, then the weak ones; each side newest taken first.
    marks = [h["match"] for h in by_date]
    assert marks == sorted(marks, key=lambda m: m != "strong")
    for side in ("strong", "weak"):
        taken = [h["taken_at"] for h in by_date if h["match"] == side]
        assert taken == sorted(taken, reverse=True)
    code = main([*base, "search", "beach", "--taken-after", "next week"])
    assert code == 1 and "--taken-after: 'next week' is not a date" in capsys.readouterr().err


def test_a_running_apps_core_answers_the_same(capsys, indexed, tiny_model_dir: Path) -> None:
    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core import commands as c
    from xmr_desktop.core.library import PhotoLibrary
    from xmr_desktop.core.models import lazy_embedder
    from xmr_desktop.core.server import LibraryServer

    base, _ = indexed
    queries = [("beach 2023",), ("在巴黎",), ("passport",), ("beach", "--place", "Paris", "--sort", "date")]
    local = {query: found(capsys, base, *query) for query in queries}
    explained = xmr(capsys, *base, "search", "beach 2023", "--explain")
    paths = resolve_paths(base[1]).ensure()
    app = PhotoLibrary(paths, lazy_embedder, model=str(tiny_model_dir), threaded=True, served_by="app")
    app.start()
    app.call(c.LoadModel(str(tiny_model_dir)), timeout=120)
    server = LibraryServer(app, paths.data_dir)
    server.start()
    try:
        assert json.loads(xmr(capsys, *base, "status", "--json"))["served_by"] == "app"
        for query in queries:
            served = found(capsys, base, *query)
            assert [(h["path"], h["taken_at"], h["place"], h["reasons"]) for h in served] == [
                (h["path"], h["taken_at"], h["place"], h["reasons"]) for h in local[query]]
            assert [round(h["score"], 4) for h in served] == [round(h["score"], 4) for h in local[query]]
        assert xmr(capsys, *base, "search", "beach 2023", "--explain") == explained
    finally:
        server.close()
        app.close()
