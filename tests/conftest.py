"""Shared fixtures. Tests never touch the real home directory: XMR_DATA_DIR points into a temp dir."""

from __future__ import annotations

import os
import sqlite3  # noqa: F401  before any TensorFlow import: see engine/tf_runtime.py (its SQLite lacks FTS5)
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Any accidental hub access fails at once instead of waiting on the network.
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XMR_DATA_DIR", str(tmp_path_factory.mktemp("xmr-data")))
    monkeypatch.delenv("XMR_MODEL", raising=False)
    # Text in photos only where a test asks for it (`--ocr`, SetOcrMode): where Tesseract is installed the
    # default would read every photo a model takes for a document, and a stand-in model takes them all.
    monkeypatch.setenv("XMR_OCR", "off")
    # Each test has its own data dir, so on LiteRT every test would export its tiny model again (seconds of
    # TensorFlow conversion). The suite therefore runs on TensorFlow unless XMR_RUNTIME is set from outside
    # (``XMR_RUNTIME=auto pytest`` runs it on LiteRT); tests/engine/test_litert*.py cover LiteRT itself.
    monkeypatch.setenv("XMR_RUNTIME", os.environ.get("XMR_RUNTIME", "tensorflow"))


@pytest.fixture(autouse=True)
def _clipboard_left_empty() -> Iterator[None]:
    """Qt's offscreen platform crashes the process at exit (SIGSEGV, after every test passed) when the clipboard
    still holds data an app put there; the real platforms hand it to the clipboard manager instead. So a test
    that copied something leaves the clipboard empty."""
    yield
    if "PySide6.QtGui" in sys.modules:
        from PySide6.QtGui import QGuiApplication

        if QGuiApplication.instance() is not None and QGuiApplication.platformName() == "offscreen":
            QGuiApplication.clipboard().clear()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight tiny CLIP in hub layout (tf_model.h5 + tokenizer + preprocessor config)."""
    from tiny_models import make_tiny_clip

    return make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"), weights="h5")


@pytest.fixture(scope="session")
def tiny_pt_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny CLIP as ``tiny_model_dir`` but as PyTorch-layout model.safetensors (LAION/DataComp style)."""
    from tiny_models import make_tiny_clip

    return make_tiny_clip(tmp_path_factory.mktemp("tiny-clip-pt"), weights="safetensors-pt")


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP trained for a few seconds on coloured shapes: "a red circle" finds red circles."""
    from tiny_models import train_tiny_clip

    # A cap, not a target: on an idle machine training stops at 600 steps well before this.
    return train_tiny_clip(tmp_path_factory.mktemp("trained-clip"), seconds=60)


@pytest.fixture(scope="session")
def tiny_pt_clip_dir() -> Path:
    """Committed tiny CLIP saved by PyTorch itself, with expected.npz holding PyTorch's features for fixed inputs."""
    return Path(__file__).parent / "data" / "tiny_pt_clip"
