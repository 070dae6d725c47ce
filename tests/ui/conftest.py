"""Fixtures for the desktop app: an offscreen Qt, a private data dir, generated photos, a window on a fake model."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fakes import ColourEmbedder
from synthetic_shapes import make_folder
from tests.ui.helpers import INDEX_TIMEOUT_MS, PHOTO_ITEMS, quick_watcher
from xmr_desktop.config import Paths, resolve_paths



@pytest.fixture
def paths() -> Paths:
    """The per-test data dir (the root conftest points XMR_DATA_DIR at a temp dir)."""
    resolved = resolve_paths()
    assert "xmr-data" in str(resolved.data_dir), "tests must never use the real user dirs"
    return resolved.ensure()


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder of generated photos: one red circle, one blue triangle, greens and a yellow."""
    folder = tmp_path / "photos"
    make_folder(folder, PHOTO_ITEMS, ".png", np.random.default_rng(7))
    return folder


@pytest.fixture
def make_window(qtbot: Any, paths: Paths) -> Iterator[Callable[..., Any]]:
    """Build, show and start a MainWindow on a fake model; every window is closed (worker stopped) afterwards."""
    from xmr_desktop.ui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(embedder: ColourEmbedder | None = None, *, start: bool = True, **options: Any) -> MainWindow:
        model = embedder if embedder is not None else ColourEmbedder()
        options.setdefault("embedder_factory", lambda argument, models_dir: model)
        options.setdefault("watcher_factory", quick_watcher)
        options.setdefault("batch_size", 8)
        options.setdefault("decode_workers", 2)
        window = MainWindow(paths, **options)
        window.fake_model = model
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        if start:
            with qtbot.waitSignal(window.model_ready, timeout=INDEX_TIMEOUT_MS):
                window.start()
        return window

    yield make
    for window in windows:
        window.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The offscreen platform plugin warns whenever a top-level window's size hints change; not our bug.
    for item in items:
        if "tests/ui/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"))


@pytest.fixture(scope="session")
def ui_tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP trained for a few seconds on coloured shapes, built once per session.

    Trained in a subprocess on purpose: TensorFlow must first run on the app's worker thread, as it does in
    the real app (a plain QThread once crashed there, which a model trained in the test process hid).
    """
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("tiny-clip")
    tests_dir = Path(__file__).resolve().parent.parent
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from xmr_desktop.engine.tf_runtime import tensorflow; tensorflow();"
        "from tiny_models import train_tiny_clip; train_tiny_clip(sys.argv[2], seconds=20)"
    )
    subprocess.run([sys.executable, "-c", code, str(tests_dir), str(out)], check=True, timeout=600)
    return out
