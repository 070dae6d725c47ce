"""Multilingual models as the core and the window see them without loading anything: on disk or not, what is
left to download, which image space they search, and what switching to one costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xmr_desktop.core.language_choice import CHOICES, DEFAULT_SECONDS_PER_PHOTO, choice, image_space, plan_switch
from xmr_desktop.core.models import model_status, peek_model
from xmr_desktop.engine.loading import MODEL_MARKER
from xmr_desktop.engine.registry import REGISTRY
from xmr_desktop.engine.text_towers import TEXT_TOWERS

OPENAI = REGISTRY["openai-b32"]
MCLIP = TEXT_TOWERS["mclip-b32"]


def _complete(folder: Path, record: dict[str, object], *, config: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if config:
        (folder / "config.json").write_text("{}")
    (folder / MODEL_MARKER).write_text(json.dumps(record))
    return folder


def test_a_tower_is_on_disk_only_with_its_clip_and_says_what_is_left_to_download(tmp_path: Path) -> None:
    models = tmp_path / "models"
    status = model_status("mclip-b32", models)
    assert (status.on_disk, status.image_model, status.hub_id) == (False, "openai-b32", MCLIP.hub_id)
    assert status.download_bytes == MCLIP.download_mb * 1_000_000 + OPENAI.download_bytes
    _complete(models / OPENAI.folder_name, {"image_model_id": "openai/clip-vit-base-patch32@3d74"})
    assert model_status("mclip-b32", models).download_bytes == MCLIP.download_mb * 1_000_000
    # A downloaded tower's own marker names its download as "image_model_id"; its space is the CLIP's.
    _complete(models / MCLIP.folder_name, {"image_model_id": f"{MCLIP.hub_id}@abc", "image_model": "openai-b32",
                                            "bound_image_model_id": "openai/clip-vit-base-patch32@3d74"}, config=False)
    status = model_status(MCLIP.hub_id, models)
    assert (status.on_disk, status.download_bytes, status.name) == (True, 0, "mclip-b32")
    info = peek_model("mclip-b32", models)
    assert (info.model_id, info.image_model, info.multilingual) == ("openai/clip-vit-base-patch32@3d74", "openai-b32", True)


def test_a_distilled_model_folder_counts_as_on_disk_and_names_its_clip(tmp_path: Path) -> None:
    models = tmp_path / "models"
    _complete(models / "datacomp-zh", {"format": "text-tower", "image_model": "datacomp-b32",
                                       "image_model_id": "laion/dc@f0e2", "bound_image_model_id": "laion/dc@f0e2"},
              config=False)
    status = model_status("datacomp-zh", models)
    assert (status.on_disk, status.image_model, status.problem) == (True, "datacomp-b32", "")
    assert peek_model("datacomp-zh", models).model_id == "laion/dc@f0e2"
    assert image_space("datacomp-zh", models) == "datacomp-b32" == image_space(None, models)


@pytest.mark.parametrize(
    ("current", "key", "reembeds"),
    [(None, "multilingual", True), ("openai-b32", "multilingual", False), ("mclip-b32", "multilingual-small", False),
     ("mclip-b32", "multilingual-best", True), ("mclip-b32", "english", True), ("datacomp-b32", "english", False)],
)
def test_switching_re_embeds_only_when_the_image_space_changes(tmp_path: Path, current: str | None, key: str, reembeds: bool) -> None:
    option = choice(key)
    assert option is not None
    plan = plan_switch(current, option, 1000, None, tmp_path / "models")
    assert plan.reembeds is reembeds
    if not reembeds:
        assert "nothing is embedded again" in plan.message and plan.seconds == 0


def test_the_estimate_uses_the_measured_rate_or_says_it_is_a_default(tmp_path: Path) -> None:
    multilingual, best = choice("multilingual"), choice("multilingual-best")
    assert multilingual is not None and best is not None
    measured = plan_switch(None, multilingual, 3000, 0.05, tmp_path)
    assert measured.seconds == pytest.approx(150) and measured.measured
    assert "all 3,000 photos are embedded again, which takes about 2 min (0.05 s per photo, as measured" in measured.message
    default = plan_switch(None, multilingual, 3000, None, tmp_path)
    assert default.seconds == pytest.approx(3000 * DEFAULT_SECONDS_PER_PHOTO) and not default.measured
    assert "a typical rate on a 2-core CPU" in default.message
    slow = plan_switch("mclip-b32", best, 3000, 0.05, tmp_path)
    assert slow.seconds == pytest.approx(3000 * 0.05 * 8) and "x8 for openai-l14's larger image tower" in slow.message


def test_every_answer_names_a_registered_model_and_its_image_tower() -> None:
    assert [c.key for c in CHOICES] == ["english", "multilingual", "multilingual-best", "multilingual-small"]
    for option in CHOICES:
        assert option.image_model in REGISTRY
        if option.multilingual:
            assert TEXT_TOWERS[option.model].image_model == option.image_model  # type: ignore[index]
