"""Shared fixtures for the learning tests: one tiny CLIP trained for a few seconds, reused by every test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trained_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tiny_models

    return tiny_models.train_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip", seconds=25, seed=0)
