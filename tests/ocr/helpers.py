"""Rendered text images and an index with embedded files, for the OCR tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from xmr_desktop.library.store import Embedded, Store
from xmr_desktop.ocr.engine import ocr_available
from xmr_desktop.textsearch import keyword_index
from xmr_desktop.textsearch.schema import add_text_search

LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CHINESE_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

needs_tesseract = pytest.mark.skipif(
    ocr_available(("eng",)) is not None,
    reason=f"OCR tests need Tesseract: {ocr_available(('eng',))} (Debian: apt-get install tesseract-ocr)",
)


def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    if not path.exists():
        pytest.skip(f"font {path} is not installed (Debian: fonts-dejavu-core / fonts-wqy-microhei)")
    return ImageFont.truetype(str(path), size)


def render_invoice(path: Path) -> Path:
    """A white page reading "Invoice 4711" … "Total 42", as a phone photo of a printout would, but clean."""
    image = Image.new("RGB", (1200, 900), "white")
    draw = ImageDraw.Draw(image)
    face = font(LATIN_FONT, 36)
    for row, line in enumerate(["ACME Supplies Ltd.", "Invoice 4711", "Date: 2023-07-14", "2 x Widget 20.00", "Total 42"]):
        draw.text((80, 80 + row * 100), line, fill="black", font=face)
    image.save(path)
    return path


def render_chinese_receipt(path: Path) -> Path:
    image = Image.new("RGB", (1000, 400), "white")
    draw = ImageDraw.Draw(image)
    face = font(CHINESE_FONT, 48)
    draw.text((60, 60), "发票号码 4711", fill="black", font=face)
    draw.text((60, 200), "合计 42 元", fill="black", font=face)
    image.save(path)
    return path


def open_index(tmp_path: Path) -> tuple[Store, sqlite3.Connection]:
    """A real index (the store's schema) plus the text-search schema step, and a second connection to it."""
    store = Store.open(tmp_path / "index.sqlite3")
    conn = sqlite3.connect(str(tmp_path / "index.sqlite3"), isolation_level=None, timeout=5)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN IMMEDIATE")
    add_text_search(conn)
    conn.execute("COMMIT")
    return store, conn


def add_embedded(store: Store, folder: Path, files: dict[str, tuple[bytes, np.ndarray]], model_id: str = "m") -> dict[str, int]:
    """Register ``name -> (content hash, vector)`` files under ``folder`` as embedded, their names in the keyword
    index as the scan would write them; returns their ids."""
    registered = store.add_folder(str(folder))
    store.record_scan(registered.id, [(str(folder / name), 1, 1) for name in files], [])
    ids = {Path(record.path).name: record.id for record in store.pending(model_id)}
    with sqlite3.connect(str(store.path), isolation_level=None, timeout=5) as conn:
        conn.execute("BEGIN IMMEDIATE")
        keyword_index.index_file_paths(conn, [(ids[name], str(folder / name)) for name in files])
        conn.execute("COMMIT")
    store.commit_batch(model_id, [Embedded(ids[name], 1, 1, digest, 10, 10, vector) for name, (digest, vector) in files.items()], [])
    return ids
