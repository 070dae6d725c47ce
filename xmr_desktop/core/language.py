"""The query-language setting in the core: which text side embeds the queries, and which requests in which
language a running app can answer.

A multilingual model (``mclip-b32``, a model made by ``xmr finetune --recipe distill``) is a text tower bound
to a CLIP (``TextTowerEmbedder``: its ``image_model`` is that CLIP). Its searcher embeds query terms through a
``RoutedEmbedder``, which sends each term to the multilingual tower or to the CLIP's own text tower by the
setting (``auto``, ``en``, ``multi``; ``search/language.py`` has the rule). Changing the setting swaps only
that text side: the image tower, the loaded image vectors and the indexing pipeline stay as they are.

Standard library only at import time: the command line's path to a running app imports this module's
``serves_language`` without numpy.
"""

from __future__ import annotations

from typing import Any

from xmr_desktop.core.commands import LANGUAGES
from xmr_desktop.core.state import ModelInfo
from xmr_desktop.errors import XmrError


class LanguageError(XmrError):
    """A language setting that does not exist, or one the model cannot answer in."""


def check_language(value: object) -> str:
    """``value`` if it is one of ``LANGUAGES``; LanguageError naming the choices otherwise."""
    if value not in LANGUAGES:
        raise LanguageError(f"the query language must be one of {', '.join(LANGUAGES)}, not {value!r}")
    return str(value)


def is_multilingual(embedder: Any) -> bool:
    """Whether the model is a text tower bound to a CLIP (it has the CLIP as ``image_model``)."""
    return getattr(embedder, "image_model", None) is not None


def effective_language(embedder: Any, setting: str | None) -> str:
    """The setting a loaded model answers with: the user's (``auto`` by default) for a multilingual model; a
    CLIP alone answers every term with its own text tower (``en``)."""
    if is_multilingual(embedder):
        return setting or "auto"
    return "en"


def language_problem(embedder: Any, setting: str | None) -> str:
    """Why searching with ``setting`` cannot work with this model ("" when it can)."""
    if setting == "multi" and not is_multilingual(embedder):
        name = getattr(embedder, "name", "this model")
        return (
            f"--lang multi needs a multilingual model, and '{name}' has only CLIP's English text tower; use "
            "--model mclip-b32 (it shares openai-b32's image vectors), mclip-l14 or multilingual-b32-small, or a "
            "model made by `xmr finetune --recipe distill`"
        )
    return ""


def text_side(embedder: Any, language: str) -> Any:
    """What the searcher embeds queries with: a ``RoutedEmbedder`` over a multilingual model, else the model."""
    if not is_multilingual(embedder):
        return embedder
    from xmr_desktop.search.language import RoutedEmbedder

    return RoutedEmbedder(embedder, embedder.image_model, language)  # type: ignore[arg-type]


def image_model_name(embedder: Any) -> str:
    """The CLIP a multilingual model takes its images from, by name; "" for a CLIP itself."""
    return str(getattr(embedder.image_model, "name", "")) if is_multilingual(embedder) else ""


def serves_language(model: ModelInfo, requested: object) -> bool:
    """Whether a core with ``model`` loaded answers a search asked in ``requested`` exactly as asked.

    No language asked (None): yes, in the core's own setting. A multilingual model: only in its current
    setting (another one would route terms differently). A CLIP alone: ``en`` and ``auto`` (every term goes to
    its own tower either way), not ``multi`` (the command line then answers, or explains why it cannot).
    """
    if requested is None:
        return True
    if requested not in LANGUAGES:
        return False
    if model.multilingual:
        return model.language == requested
    return requested in ("en", "auto")


__all__ = ["LanguageError", "check_language", "effective_language", "image_model_name", "is_multilingual",
           "language_problem", "serves_language", "text_side"]
