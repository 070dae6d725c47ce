"""The window while a model is prepared for this CPU (the one-time LiteRT export): the status bar says so."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fakes import ColourEmbedder
from tests.ui.helpers import INDEX_TIMEOUT_MS
from xmr_desktop.core.models import model_status, preparation_progress


def test_the_status_bar_shows_the_export_then_the_runtime(qtbot: Any, make_window: Any) -> None:
    release = threading.Event()
    model = ColourEmbedder()

    def exporting_factory(argument: Any, models_dir: Path) -> ColourEmbedder:
        report = preparation_progress()  # what on_disk_embedder hands to load_embedder
        assert report is not None
        report("converting the image tower (float32)", 0.4)
        release.wait(30)  # tens of seconds for ViT-B/32
        return model

    window = make_window(model, start=False, embedder_factory=exporting_factory)
    window.start()
    label = window.status_panel.device_label
    qtbot.waitUntil(lambda: label.text().startswith("Preparing"), timeout=INDEX_TIMEOUT_MS)
    name = model_status(window.model_argument, window.paths.models_dir).name
    assert label.text() == f"Preparing {name} for this CPU (LiteRT, once)… 40%"
    assert label.toolTip() == "converting the image tower (float32)"
    with qtbot.waitSignal(window.model_ready, timeout=INDEX_TIMEOUT_MS):
        release.set()
    assert label.text() == model.device  # then where and in what it computes
