"""The grid shows where a query's matches end: the strong matches, then a "Weaker matches (N)" divider with the
weak ones collapsed under it until it is clicked; in date order each side keeps its date headers; the Loose ↔
Strict slider moves the line, searches again and is remembered; tooltips say why a photo matched."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from tests.ui.helpers import INDEX_TIMEOUT_MS, indexed_at_least
from xmr_desktop.ui.results_model import ResultsModel

# Five red photos (taken in 2021 and 2022) among blue, green and grey ones; names that say nothing.
PHOTOS = {
    **{f"a{i}.png": ((230 - 8 * i, 20 + 5 * i, 20), 2021 + i % 2) for i in range(5)},
    **{f"b{i}.png": ((20, 30 + 10 * i, 230), 2019) for i in range(5)},
    **{f"c{i}.png": ((20 + 10 * i, 220, 30), 2020) for i in range(5)},
    **{f"d{i}.png": ((120 + 30 * i,) * 3, 2020) for i in range(3)},  # grey: a little of every colour
}
RED = {f"a{i}.png" for i in range(5)}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (colour, year) in PHOTOS.items():
        Image.new("RGB", (40, 30), colour).save(folder / name)
        stamp = datetime(year, 3, 1 + len(name), 12).timestamp()
        os.utime(folder / name, (stamp, stamp))
    return folder


def open_on(qtbot: Any, make_window: Any, folder: Path) -> Any:
    window = make_window()
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS, check_params_cb=indexed_at_least(len(PHOTOS))):
        window.add_folder(str(folder))
    return window


def search(qtbot: Any, window: Any, text: str) -> None:
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        window.search_bar.set_query(text)


def names(window: Any, rows: range | list[int]) -> list[str]:
    return [Path(window.results_model.result(row).path).name for row in rows]


def hidden_rows(window: Any) -> list[int]:
    return [row for row in range(window.results_model.rowCount()) if window.results_view.isRowHidden(row)]


def laid_out(qtbot: Any, window: Any, check: Any) -> None:
    qtbot.waitUntil(lambda: bool(check(window.date_grid)), timeout=INDEX_TIMEOUT_MS)


def click_divider(qtbot: Any, window: Any) -> None:
    _, rect = window.date_grid.divider()
    qtbot.mouseClick(window.results_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_the_weaker_matches_sit_under_a_divider_collapsed_until_it_is_clicked(qtbot: Any, make_window: Any, library: Path) -> None:
    window = open_on(qtbot, make_window, library)
    search(qtbot, window, "red")
    model, view, grid = window.results_model, window.results_view, window.date_grid
    laid_out(qtbot, window, lambda g: g.divider() is not None)
    assert set(names(window, range(5))) == RED and model.strong_count() == 5
    label, divider = grid.divider()
    assert label.startswith("▸ Weaker matches (13)")
    assert hidden_rows(window) == list(range(5, 18))  # collapsed by default
    assert all(view.visualRect(model.index(row)).bottom() < divider.top() for row in range(5))
    click_divider(qtbot, window)
    assert hidden_rows(window) == [] and grid.divider()[0].startswith("▾ Weaker matches (13)")
    divider = grid.divider()[1]
    assert all(view.visualRect(model.index(row)).top() >= divider.bottom() for row in range(5, 18))
    click_divider(qtbot, window)
    assert hidden_rows(window) == list(range(5, 18))
    # A new query starts collapsed again; one with nothing weak has no divider and the plain grid.
    click_divider(qtbot, window)
    search(qtbot, window, "green")
    laid_out(qtbot, window, lambda g: g.divider() is not None and "(13)" in g.divider()[0])
    assert hidden_rows(window) == list(range(5, 18))


def test_the_tooltip_says_how_strong_a_match_is_and_why(qtbot: Any, make_window: Any, library: Path) -> None:
    window = open_on(qtbot, make_window, library)
    search(qtbot, window, "red - green")
    model = window.results_model
    tip = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert "strong match" in tip and "red +" in tip and "− green +" in tip and " · " in tip
    weak = model.data(model.index(model.rowCount() - 1), Qt.ItemDataRole.ToolTipRole)
    assert "weaker match" in weak
    assert model.data(model.index(0), ResultsModel.ResultRole).match == "strong"


def test_in_date_order_the_strong_matches_come_first_and_each_side_has_its_date_headers(qtbot: Any, make_window: Any, library: Path) -> None:
    window = open_on(qtbot, make_window, library)
    search(qtbot, window, "red")
    window.search_bar.sort_combo.setCurrentIndex(1)  # newest taken first
    grid, model, view = window.date_grid, window.results_model, window.results_view
    laid_out(qtbot, window, lambda g: g.enabled and g.divider() is not None and g.groups)
    assert set(names(window, range(5))) == RED  # strong first even though other photos are newer or older
    assert [label for label, _ in grid.headers()] == ["March 2022", "March 2021"]
    divider = grid.divider()[1]
    assert all(header.bottom() <= divider.top() for _, header in grid.headers())
    click_divider(qtbot, window)
    labels = [label for label, _ in grid.headers()]
    assert labels == ["March 2022", "March 2021", "March 2020", "March 2019"]
    divider = grid.divider()[1]
    weak_headers = [rect for _, rect in grid.headers()[2:]]
    assert all(rect.top() >= divider.bottom() for rect in weak_headers)
    assert all(view.visualRect(model.index(row)).top() >= weak_headers[0].bottom() for row in range(5, 18))
    window.search_bar.sort_combo.setCurrentIndex(0)  # best match: no date headers, the divider stays
    laid_out(qtbot, window, lambda g: not g.enabled and g.headers() == [] and g.divider() is not None)


def test_the_strictness_slider_moves_the_line_searches_again_and_is_remembered(qtbot: Any, make_window: Any, library: Path) -> None:
    window = open_on(qtbot, make_window, library)
    search(qtbot, window, "red")
    control = window.search_bar.strictness
    assert control.strictness() == 0.5
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        control.slider.setValue(13)  # strict: only what ties with the best match
    strict = window.results_model.strong_count()
    assert 1 <= strict < 5 and window.search.answer.cutoff.strictness == 1.0
    with qtbot.waitSignal(window.results_shown, timeout=INDEX_TIMEOUT_MS):
        control.slider.setValue(0)
    assert window.results_model.strong_count() > 5
    window.close()
    again = make_window()
    assert again.search_bar.strictness.strictness() == 0.0 and again.search.strictness == 0.0
