"""One end-to-end run with a real (tiny, locally trained) TensorFlow CLIP: load off the GUI thread, index, search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from synthetic_shapes import all_items, make_folder
from tests.ui.helpers import indexed_at_least

REAL_TIMEOUT_MS = 120_000


def test_search_with_a_tiny_real_model(qtbot: Any, paths: Any, ui_tiny_clip: Path, tmp_path: Path, monkeypatch: Any) -> None:
    from PySide6.QtGui import QDesktopServices

    from xmr_desktop.ui.main_window import MainWindow

    photos = tmp_path / "shapes"
    make_folder(photos, all_items() * 2, ".jpg", np.random.default_rng(21))
    window = MainWindow(paths, model=str(ui_tiny_clip))  # the app's own loader: a local model folder
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.model_ready, timeout=REAL_TIMEOUT_MS) as ready:
        window.start()
    assert ready.args[1].startswith(("CPU", "GPU"))
    with qtbot.waitSignal(window.indexing_finished, timeout=REAL_TIMEOUT_MS, check_params_cb=indexed_at_least(24)):
        window.add_folder(str(photos))
    with qtbot.waitSignal(window.results_shown, timeout=REAL_TIMEOUT_MS):
        window.search_bar.set_query("a red circle")
    top = [Path(p).name for p in window.results_model.paths()[:2]]
    assert all(name.startswith("red_circle_") for name in top), top

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window.results_view.setCurrentIndex(window.results_model.index(0))
    window.results_view.setFocus()
    from PySide6.QtCore import Qt

    qtbot.keyClick(window.results_view, Qt.Key.Key_Return)
    assert opened == [window.results_model.paths()[0]]
    window.close()
