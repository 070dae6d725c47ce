"""The window shows how a query was read and lets it be changed: chips for the recognised parts (removing one
searches again without that filter), the filter bar (date range over a histogram, place, camera), the grid in
date order under day or month headers, and the "Text in photos" choice."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from fakes import UnsureColourEmbedder
from metadata.photo_files import exif_block, jpeg
from places_fixture import seed_place_cache
from tests.ui.helpers import INDEX_TIMEOUT_MS, indexed_at_least
from xmr_desktop.ocr import engine as ocr_engine

EIFFEL, MONTMARTRE, LISBON = (48.8584, 2.2945), (48.8867, 2.3431), (38.7223, -9.1393)


@pytest.fixture
def trip(tmp_path: Path, paths: Any) -> Path:
    folder = tmp_path / "trip"
    folder.mkdir()
    jpeg(folder / "beach-paris.jpg", colour=(20, 40, 230), exif=exif_block(original="2023:07:14 10:00:00", gps=EIFFEL, make="Apple", model="iPhone 12"))
    jpeg(folder / "street-paris.jpg", colour=(230, 30, 20), exif=exif_block(original="2023:07:14 18:00:00", gps=MONTMARTRE))
    jpeg(folder / "beach-lisbon.jpg", colour=(20, 50, 220), exif=exif_block(original="2023:09:02 11:00:00", gps=LISBON, make="FUJIFILM", model="X-T3"))
    jpeg(folder / "beach-paris-2022.jpg", colour=(25, 40, 230), exif=exif_block(original="2022:05:01 09:00:00", gps=EIFFEL))
    seed_place_cache(paths.cache_dir)
    return folder


def open_on(qtbot: Any, make_window: Any, folder: Path) -> Any:
    window = make_window(UnsureColourEmbedder())
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(4)):
        window.add_folder(str(folder))
    return window


def shown(window: Any) -> list[str]:
    return sorted(Path(p).name for p in window.results_model.paths())


def type_query(qtbot: Any, window: Any, text: str) -> None:
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query(text)


def test_the_recognised_parts_are_chips_and_removing_one_searches_again_without_it(qtbot: Any, make_window: Any, trip: Path) -> None:
    window = open_on(qtbot, make_window, trip)
    type_query(qtbot, window, "beach 2023 in Paris")
    chips = window.search_extras.chips
    assert chips.isVisibleTo(window) and chips.labels() == ["2023", "in Paris"]
    assert "beach" in chips.words.text()
    assert shown(window) == ["beach-paris.jpg", "street-paris.jpg"]
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        qtbot.mouseClick(chips.chips[1], Qt.MouseButton.LeftButton)  # "in Paris" goes: Paris is a word again
    assert chips.labels() == ["2023"] and window.search_bar.text() == "beach 2023 in Paris"
    assert shown(window) == ["beach-lisbon.jpg", "beach-paris.jpg", "street-paris.jpg"]
    type_query(qtbot, window, "blue")  # a new text is read afresh; nothing recognised, no chips
    assert chips.labels() == [] and not chips.isVisibleTo(window)


def test_the_filter_bar_narrows_the_results_and_its_histogram_shows_them_over_time(qtbot: Any, make_window: Any, trip: Path) -> None:
    window = open_on(qtbot, make_window, trip)
    type_query(qtbot, window, "beach")
    bar = window.search_extras.filter_bar
    buckets = bar.histogram.buckets
    assert (buckets[0].start, buckets[-1].start) == (date(2022, 5, 1), date(2023, 9, 1))
    assert [b.count for b in buckets if b.count] == [1, 2, 1]  # May 2022; July 2023 (two); September 2023
    assert bar.place_combo.findText("Paris, France") > 0 and bar.camera_combo.findText("FUJIFILM X-T3") > 0
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        bar.set_place("Paris")
    assert shown(window) == ["beach-paris-2022.jpg", "beach-paris.jpg", "street-paris.jpg"]
    july = next(i for i, b in enumerate(bar.histogram.buckets) if b.start == date(2023, 7, 1))
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        bar.histogram.select(july, july)
    assert shown(window) == ["beach-paris.jpg", "street-paris.jpg"] and bar.dates_label.text() == "2023-07-01 – 2023-07-31"
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        bar.set_camera("iphone")
    assert shown(window) == ["beach-paris.jpg"]
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        bar.clear_dates.click()
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        bar.set_camera(None)
    assert shown(window) == ["beach-paris-2022.jpg", "beach-paris.jpg", "street-paris.jpg"]


def test_in_date_order_the_grid_is_grouped_under_headers(qtbot: Any, make_window: Any, trip: Path) -> None:
    window = open_on(qtbot, make_window, trip)
    type_query(qtbot, window, "beach")  # the model prefers the red street; "beach" is in most names, a weak lift
    window.search_bar.sort_combo.setCurrentIndex(1)  # newest taken first
    grid = window.date_grid
    qtbot.waitUntil(lambda: len(grid.groups) == 1, timeout=INDEX_TIMEOUT_MS)
    grid.set_weak_expanded(True)
    assert [label for label, _ in grid.headers()] == ["July 2023", "September 2023", "July 2023", "May 2022"]
    model, view = window.results_model, window.results_view
    # The strong match first, then the weaker ones; each side newest taken first.
    assert [Path(p).name for p in model.paths()] == ["street-paris.jpg", "beach-lisbon.jpg", "beach-paris.jpg", "beach-paris-2022.jpg"]
    for (label, header), (group, _) in zip(grid.headers(), grid.groups):
        cells = [view.visualRect(model.index(group.first + k)) for k in range(group.count)]
        assert all(cell.top() >= header.bottom() for cell in cells), label  # each group's photos under its header
    divider = grid.divider()[1]
    assert grid.headers()[0][1].bottom() <= divider.top() and divider.bottom() <= grid.headers()[1][1].top()
    _september, july = grid.headers()[1][1], grid.headers()[2][1]
    assert view.visualRect(model.index(1)).bottom() < july.top()  # a new header starts a new row
    window.search_bar.sort_combo.setCurrentIndex(0)  # best match: no date headers
    assert not grid.enabled and grid.headers() == []


class _InstantTesseract:
    def __init__(self, langs: tuple[str, ...] = ("eng",), setup: object = None) -> None:
        pass

    def engine_version(self) -> str:
        return "tesseract (stand-in)"

    def read_file(self, path: str, timeout: float) -> str:
        return ""

    def close(self) -> None:
        pass

    kill = close


def test_the_text_in_photos_choice_is_sent_to_the_core_and_kept_with_the_library(
    qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr_engine, "OcrEngine", _InstantTesseract)
    monkeypatch.setattr(ocr_engine, "ocr_available", lambda langs=("eng",): None)
    monkeypatch.setattr(ocr_engine, "installed_langs", lambda wanted=("eng",): ("eng",))
    window = make_window()
    menu = window.ocr_menu
    qtbot.waitUntil(lambda: menu.checked() == "off", timeout=INDEX_TIMEOUT_MS)  # $XMR_OCR=off in the tests
    assert [a.text() for a in window.menuBar().actions()][-2:] == ["&Library", "&Help"]
    menu.actions["all"].trigger()
    qtbot.waitUntil(lambda: menu.checked() == "all", timeout=INDEX_TIMEOUT_MS)
    window.close()
    again = make_window()
    qtbot.waitUntil(lambda: again.ocr_menu.checked() == "all", timeout=INDEX_TIMEOUT_MS)


def test_a_mode_tesseract_cannot_serve_is_shown_disabled_with_the_reason(qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XMR_OCR", "documents")
    monkeypatch.setattr(ocr_engine, "ocr_available", lambda langs=("eng",): "no Tesseract language data found")
    window = make_window()
    menu = window.ocr_menu
    qtbot.waitUntil(lambda: menu.checked() == "documents", timeout=INDEX_TIMEOUT_MS)
    assert not menu.actions["all"].isEnabled() and menu.actions["off"].isEnabled()
    assert "no Tesseract language data found" in menu.actions["all"].toolTip()
