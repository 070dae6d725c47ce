"""Reading text in photos with Tesseract: rendered invoices in English and Chinese, hostile input, time limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.ocr.helpers import needs_tesseract, render_chinese_receipt, render_invoice
from xmr_desktop.ocr import engine
from xmr_desktop.ocr.engine import OcrEngine, OcrFailed, prepare_image, words_to_text


def test_only_sure_words_with_letters_or_digits_are_kept_and_chinese_is_joined() -> None:
    lines = [[("Invoice", 96.0), ("4711", 93.0), ("ee", 35.0)], [("|", 92.0), ("&", 88.0)], [("合", 91.0), ("计", 90.0), ("42", 94.0), ("元", 96.0)]]
    assert words_to_text(lines) == "Invoice 4711\n合计 42 元"


def test_images_are_scaled_to_what_tesseract_reads_well() -> None:
    assert prepare_image(Image.new("RGB", (6000, 4000))).size == (2400, 1600)
    assert prepare_image(Image.new("RGB", (400, 300))).size == (800, 600)
    assert prepare_image(Image.new("RGB", (1200, 900))).size == (1200, 900)
    assert prepare_image(Image.new("RGB", (1200, 900))).mode == "L"


def test_missing_language_data_is_reported_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "binding_installed", lambda: True)
    monkeypatch.setattr(engine, "_SEARCH_PATHS", ())
    monkeypatch.setenv("TESSDATA_PREFIX", "/nonexistent")
    reason = engine.ocr_available(("eng",))
    assert reason is not None and "language data" in reason and "\n" not in reason
    with pytest.raises(engine.OcrUnavailableError, match="OCR is not available"):
        OcrEngine(("eng",))


@needs_tesseract
def test_an_invoice_photo_reads_as_its_text(tmp_path: Path) -> None:
    text = engine.run_ocr(str(render_invoice(tmp_path / "invoice.png")), ("eng",))
    assert "Invoice 4711" in text
    assert "Total 42" in text


@needs_tesseract
@pytest.mark.skipif(engine.ocr_available(("eng", "chi_sim")) is not None, reason="no Chinese data (tesseract-ocr-chi-sim)")
def test_a_chinese_receipt_reads_as_its_text(tmp_path: Path) -> None:
    text = engine.run_ocr(str(render_chinese_receipt(tmp_path / "fapiao.png")), ("eng", "chi_sim"))
    assert "4711" in text
    assert "合计" in text


@needs_tesseract
def test_a_file_that_is_no_image_fails_alone(tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"\xff\xd8 not really a jpeg" * 10)
    with OcrEngine(("eng",)) as reader:
        with pytest.raises(OcrFailed, match="not an image|cannot decode|truncated"):
            reader.read_file(str(fake))
        assert "Invoice 4711" in reader.read_file(str(render_invoice(tmp_path / "invoice.png")))


@needs_tesseract
def test_a_photo_over_its_time_limit_fails_and_the_next_one_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No grace beyond the limit: the child is killed when its answer is late, however far Tesseract got.
    monkeypatch.setattr(engine, "_KILL_GRACE_S", 0.0)
    invoice = render_invoice(tmp_path / "invoice.png")
    with OcrEngine(("eng",)) as reader:
        reader.engine_version()
        with pytest.raises(OcrFailed, match="longer than|time limit"):
            reader.read(Image.open(invoice).convert("L"), timeout=0.001)
        monkeypatch.setattr(engine, "_KILL_GRACE_S", 5.0)
        assert "Invoice 4711" in reader.read_file(str(invoice))
        assert reader.version is not None and reader.version.startswith("tesseract")


def test_a_missing_binding_is_reported_before_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "binding_installed", lambda: False)
    assert "tesserocr" in (engine.ocr_available(("eng",)) or "")
    assert engine.installed_langs() == ()
