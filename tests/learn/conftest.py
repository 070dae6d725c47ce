"""Shared fixtures for the learning tests: one tiny CLIP trained for a few seconds, reused by every test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trained_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tiny_models

    # A cap, not a target: on an idle machine training stops at its 600 steps in ~15 s. The cap is generous so
    # that a busy machine still trains the model the concept tests rely on instead of a half-trained one.
    return tiny_models.train_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip", seconds=90, seed=0)
