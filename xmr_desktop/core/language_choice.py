"""The window's one first-run question, "which languages do you search in?", as data: the answers, the model
each picks, what it downloads and costs, and whether switching to it later re-embeds the photos.

English keeps today's default CLIP. Other languages pair OpenAI's CLIP image tower with a multilingual text
tower trained into its text space (``engine/text_towers.py``): ``openai-b32`` images + ``mclip-b32``, or
``openai-l14`` + ``mclip-l14`` for quality, or the small ``multilingual-b32-small``. Switching between models
of one image space (``openai-b32`` and ``mclip-b32``) re-embeds nothing; only a change of image space does, and
the window says so, with an estimate, before it starts. No Qt here: the dialog shows what this module says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xmr_desktop.core.models import model_status, peek_model
from xmr_desktop.engine.progress import format_bytes
from xmr_desktop.engine.registry import DEFAULT_MODEL, REGISTRY, resolve_model_argument
from xmr_desktop.engine.text_towers import TEXT_TOWERS, text_tower_spec
from xmr_desktop.errors import XmrError

# When no indexing run has been measured yet: ViT-B/32 end to end on a 2-core CPU indexes about 11 photos a
# second (README, "Speed, measured against rclip"); a bit slower is the safer promise.
DEFAULT_SECONDS_PER_PHOTO = 0.1
# Image towers that cost more per photo than B/32 (the registry's summary: L/14 is about 8x slower).
IMAGE_COST = {"openai-l14": 8.0}


@dataclass(frozen=True)
class LanguageChoice:
    """One answer to "which languages do you search in?".

    Attributes:
        key: stable name, persisted in the settings.
        label: the answer as the dialog shows it.
        model: the model argument it picks (None: the default CLIP).
        image_model: the CLIP whose image tower (and index vectors) it uses.
    """

    key: str
    label: str
    model: str | None
    image_model: str

    @property
    def multilingual(self) -> bool:
        return self.model in TEXT_TOWERS


CHOICES: tuple[LanguageChoice, ...] = (
    LanguageChoice("english", "English only", None, DEFAULT_MODEL),
    LanguageChoice("multilingual", "Chinese or other languages (and English)", "mclip-b32", "openai-b32"),
    LanguageChoice("multilingual-best", "Chinese or other languages, best quality (slower)", "mclip-l14", "openai-l14"),
    LanguageChoice("multilingual-small", "Other languages, smallest download (weaker in Chinese)",
                   "multilingual-b32-small", "openai-b32"),
)


def choice(key: str | None) -> LanguageChoice | None:
    return next((c for c in CHOICES if c.key == key), None)


def describe(option: LanguageChoice, models_dir: Path) -> str:
    """What the answer means in sizes and speed: the models it uses, what is still to download, the query cost."""
    status = model_status(option.model, models_dir)
    to_fetch = f"{format_bytes(status.download_bytes)} to download" if status.download_bytes else "already on disk"
    tower = text_tower_spec(option.model)
    if tower is None:
        clip = REGISTRY[option.image_model]
        return f"{clip.name}: {clip.summary}. {to_fetch[0].upper()}{to_fetch[1:]}; the fastest search."
    clip = REGISTRY[tower.image_model]
    images = f"{clip.name} images ({format_bytes(clip.download_bytes)})"
    text = f"{tower.name} text tower ({format_bytes(tower.download_mb * 1_000_000)}, {format_bytes(tower.stored_mb * 1_000_000)} on disk)"
    slower = " Photos are embedded about 8x slower than with B/32 models." if IMAGE_COST.get(clip.name, 1.0) > 1 else ""
    return f"{images} + {text}: {to_fetch}. {tower.query_cost[0].upper()}{tower.query_cost[1:]}.{slower}"


def image_space(argument: str | None, models_dir: Path) -> str:
    """The image space a model argument searches, named by its CLIP (``openai-b32``) when that is known without
    loading anything, else by the space recorded on disk; two models with the same value share their vectors."""
    tower = text_tower_spec(argument or os.environ.get("XMR_MODEL"))
    if tower is not None:
        return tower.image_model
    try:
        ref = resolve_model_argument(argument, models_dir)
    except XmrError:
        return str(argument)
    if ref.spec is not None and ref.spec.name in REGISTRY:
        return ref.spec.name
    peeked = peek_model(argument, models_dir)
    if peeked.image_model and peeked.image_model in REGISTRY:
        return peeked.image_model  # a distilled or LiT-tuned model of a registered CLIP
    return peeked.model_id or str(argument)


@dataclass(frozen=True)
class Switch:
    """What switching from the current model to a choice does.

    Attributes:
        reembeds: the image space changes: every photo is embedded again.
        photos: how many photos that is.
        seconds: the estimate; measured: whether the per-photo rate was measured here.
        message: the sentence for the confirmation (or the status bar, when nothing is re-embedded).
    """

    reembeds: bool
    photos: int
    seconds: float
    measured: bool
    message: str


def plan_switch(
    current: str | None, option: LanguageChoice, photos: int, seconds_per_photo: float | None, models_dir: Path
) -> Switch:
    """Whether switching re-embeds, and how long that takes: photos x the rate measured in the last indexing run
    (or ``DEFAULT_SECONDS_PER_PHOTO``), times the new image tower's relative cost."""
    old, new = image_space(current, models_dir), image_space(option.model, models_dir)
    name = option.model or DEFAULT_MODEL
    if old == new:
        return Switch(False, photos, 0.0, False,
                      f"{name} uses the same image vectors as the current model ({new}): nothing is embedded again.")
    rate = seconds_per_photo if seconds_per_photo and seconds_per_photo > 0 else DEFAULT_SECONDS_PER_PHOTO
    factor = IMAGE_COST.get(new, 1.0) / IMAGE_COST.get(old, 1.0)
    seconds = photos * rate * factor
    source = ("as measured in the last indexing run" if seconds_per_photo else "a typical rate on a 2-core CPU; "
              "the first indexing run here measures it")
    scaled = f", x{factor:g} for {new}'s larger image tower" if factor != 1.0 else ""
    message = (
        f"{name} searches {new}'s image vectors, not {old}'s: all {photos:,} photos are embedded again, which takes "
        f"about {format_duration(seconds)} ({rate:.2f} s per photo, {source}{scaled}). Search keeps working meanwhile "
        f"for the photos done so far, and the vectors of {old} are kept, so switching back costs nothing."
    )
    return Switch(True, photos, seconds, bool(seconds_per_photo), message)


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


__all__ = ["CHOICES", "DEFAULT_SECONDS_PER_PHOTO", "LanguageChoice", "Switch", "choice", "describe", "format_duration",
           "image_space", "plan_switch"]
