"""The download dialog's child process gets a multilingual text tower in two announced parts: the CLIP whose
image tower it uses, then the tower (``ensure_text_tower``), each with its plan of stages and its bytes."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fake_hub import FakeHub, FakeRepo, online
from multilingual_models import make_tiny_mclip
from xmr_desktop.core.models import model_status
from xmr_desktop.engine import registry
from xmr_desktop.engine.progress import STAGE_DOWNLOAD, STAGE_PREPARE, STAGE_VERIFY
from xmr_desktop.engine.text_towers import TEXT_TOWERS
from xmr_desktop.ui.model_download import _child_download

pytestmark = pytest.mark.slow  # builds a tiny TF tower and compacts it after the download


class Queue:
    def __init__(self) -> None:
        self.messages: list[tuple[Any, ...]] = []

    def put(self, message: tuple[Any, ...]) -> None:
        self.messages.append(message)


def _repo(folder: Path) -> FakeRepo:
    return FakeRepo("b" * 40, {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
                               if p.is_file() and p.name != "expected.npz"})


def test_a_tower_and_its_missing_clip_download_in_two_parts(tmp_path: Path, tiny_model_dir: Path, monkeypatch) -> None:
    # The real openai-b32 entry pins its weights' checksum; the stand-in CLIP served here is the tiny one.
    monkeypatch.setitem(registry.REGISTRY, "openai-b32", replace(registry.REGISTRY["openai-b32"], revision=None, weights_sha256=None))
    clip_files = tmp_path / "clip"
    shutil.copytree(tiny_model_dir, clip_files)
    tower_files = make_tiny_mclip(tmp_path / "XLM-Roberta-Large-Vit-B-32", ["红色的车", "a red car"])
    hub = FakeHub({"openai/clip-vit-base-patch32": _repo(clip_files), TEXT_TOWERS["mclip-b32"].hub_id: _repo(tower_files)})
    models = tmp_path / "models"
    queue = Queue()
    try:
        with online():
            _child_download("mclip-b32", str(models), queue, hub.url)
    finally:
        hub.close()
    kinds = [m[0] for m in queue.messages]
    assert kinds[-1] == "done", queue.messages
    parts = [m[1] for m in queue.messages if m[0] == "part"]
    assert parts == ["Step 1 of 2: the image tower of openai-b32", "Step 2 of 2: the multilingual text tower mclip-b32"]
    plans = [m[1] for m in queue.messages if m[0] == "plan"]
    assert plans[1] == [STAGE_DOWNLOAD, STAGE_VERIFY, STAGE_PREPARE]  # the tower's compaction is its prepare step
    second = kinds.index("part", kinds.index("part") + 1)
    assert "transfer" in kinds[:second] and "transfer" in kinds[second:]  # bytes of each part
    assert [m for m in queue.messages[second:] if m[0] == "stage" and m[1] == STAGE_PREPARE]
    status = model_status("mclip-b32", models)
    assert status.on_disk and status.download_bytes == 0
