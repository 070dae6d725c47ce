"""Personal concepts: teach a name ("Rex") from a few photos, then use it in any query ("Rex on the beach").

A concept is the prototype of its photos: the normalised mean of their unit image vectors, in the image space of
the model that embedded them (``model_id``; a text-tuned model shares its base model's, so concepts carry over).
The vectors come from the index when the photos are indexed, so teaching usually embeds nothing.

In a query, a text term that mentions a concept's name (whole word, any case) becomes one vector:
``normalise((1 - w)·text(rest) + w·prototype)`` where ``rest`` is the term with the name taken out
("Rex on the beach" → "on the beach"); a term that is only the name (or the name plus filler words) becomes the
prototype. ``w`` = ``MIX_WEIGHT`` was chosen on benchmarks/transfer, where this prototype mixing was compared with
a learned token embedding (``concept_token.py``); the numbers are in that README.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.errors import XmrError
from xmr_desktop.learn.image_vectors import image_vectors
from xmr_desktop.learn.learn_db import LearnDB, StoredConcept

log = logging.getLogger(__name__)

MIX_WEIGHT = 0.7
MAX_PHOTOS = 200
_NAME = re.compile(r"^[^\W_](?:[\w' -]{0,38}[^\W_])?$")
# Words that carry no meaning once the name is gone: "a photo of Rex" is just "Rex".
_FILLER = {"a", "an", "the", "of", "photo", "photos", "picture", "pictures", "image", "images", "my", "our", "with"}
# The same for Chinese, where words are not separated by spaces ("旺财的照片" is just "旺财").
_UNSPACED_FILLER = ("我的", "一张", "照片", "图片", "的")


class ConceptError(XmrError):
    """A concept that cannot be taught, found or removed."""


def _unspaced(letter: str) -> bool:
    """Whether ``letter`` belongs to a script written without spaces between words (Chinese, Japanese, Thai...)."""
    name = unicodedata.name(letter, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN", "HANGUL SYLLABLE"))


def _name_pattern(name: str) -> re.Pattern[str]:
    """A concept name as a whole word of a query. Where the name starts or ends in a script written without
    spaces ("旺财在海滩上"), the neighbouring letters belong to other words, so no word boundary is asked there."""
    left = "" if _unspaced(name[0]) else r"(?<![\w])"
    right = "" if _unspaced(name[-1]) else r"(?![\w])"
    return re.compile(rf"{left}{re.escape(name)}(?:'s)?{right}", re.IGNORECASE)


def _without_unspaced_filler(text: str) -> str:
    for filler in _UNSPACED_FILLER:
        text = text.replace(filler, " ")
    return text


@dataclass(frozen=True)
class TermPiece:
    """One ingredient of a query term's vector: a concept's prototype or the term's remaining words.

    Attributes:
        kind: ``"concept"`` or ``"text"``.
        label: the concept's name, or the remaining words.
        coefficient: its multiplier in the term's (unnormalised) mix.
        vector: the prototype, or the unit text vector.
    """

    kind: str
    label: str
    coefficient: float
    vector: np.ndarray


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not _NAME.match(name):
        raise ConceptError(f"'{name}' cannot be a concept name: use letters, digits, spaces, - or ' (at most 40)")
    return name


def teach_concept(
    db: LearnDB, name: str, photos: Sequence[str | Path], embedder: Any, *, store: Any = None
) -> StoredConcept:
    """Teach (or re-teach) ``name`` from ``photos`` for ``embedder``'s image space and save it in ``db``.

    Photo vectors come from the index (``store``) or the learning cache; only the others are embedded.
    Unreadable photos are skipped with a log line; ConceptError if none is usable.
    """
    name = check_name(name)
    if not photos:
        raise ConceptError(f"teach '{name}' with at least one photo")
    if len(photos) > MAX_PHOTOS:
        raise ConceptError(f"{len(photos)} photos is more than needed; teach '{name}' with at most {MAX_PHOTOS}")
    paths = [Path(p).expanduser().resolve() for p in photos]
    vectors, ok, stats = image_vectors(paths, embedder, store=store, cache=db)
    for path, reason in stats.failed:
        log.warning("not used for concept %s: %s: %s", name, path, reason)
    if not ok.any():
        raise ConceptError(f"none of the {len(paths)} photos for '{name}' could be read")
    concept = StoredConcept(
        name=name,
        model_id=embedder.model_id,
        prototype=prototype(vectors[ok]),
        photos=[str(p) for p, good in zip(paths, ok) if good],
        created=time.time(),
    )
    db.put_concept(concept)
    log.info("taught %s from %d photos (%d embedded now)", name, int(ok.sum()), stats.embedded)
    return concept


def prototype(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of the normalised rows."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    mean = unit.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def remove_concept(db: LearnDB, model_id: str, name: str) -> None:
    if not db.remove_concept(model_id, name):
        raise ConceptError(f"no concept named '{name}' for this model (see `xmr concept list`)")


class ConceptExpander:
    """Turns query terms that name concepts into vectors; what the Searcher calls for each text term.

    Attributes:
        concepts: the concepts of one image space, longest name first (so "Rex Jr" wins over "Rex").
        weight: how much of the vector is the prototype (the rest is the remaining text).
    """

    def __init__(self, concepts: Iterable[StoredConcept], weight: float = MIX_WEIGHT) -> None:
        self.concepts = sorted(concepts, key=lambda c: -len(c.name))
        self.weight = weight
        self._patterns = [(_name_pattern(c.name), c) for c in self.concepts]

    @classmethod
    def load(cls, db: LearnDB, model_id: str, weight: float = MIX_WEIGHT) -> ConceptExpander:
        return cls(db.concepts(model_id), weight)

    def __bool__(self) -> bool:
        return bool(self.concepts)

    def term_vector(self, text: str, embed_text: Callable[[str], np.ndarray]) -> np.ndarray | None:
        """The vector for a text term, or None when it names no concept (then embed it as usual)."""
        pieces = self.term_pieces(text, embed_text)
        if pieces is None:
            return None
        mixed = sum(piece.coefficient * piece.vector for piece in pieces)
        return (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)

    def term_pieces(self, text: str, embed_text: Callable[[str], np.ndarray]) -> list[TermPiece] | None:
        """What ``term_vector`` mixes, before its final normalisation: each concept's prototype and the rest's text.

        None when ``text`` names no concept. ``term_vector`` is the normalised sum of ``coefficient * vector``;
        explanations use the pieces to say how much of a match came from the name and how much from the words.
        """
        found: list[StoredConcept] = []
        rest = text
        for pattern, concept in self._patterns:
            if pattern.search(rest):
                found.append(concept)
                rest = pattern.sub(" ", rest)
        if not found:
            return None
        # The prototype of several names is the normalised mean of theirs: each name's share of it, unnormalised.
        units = [np.asarray(c.prototype, np.float32) / max(float(np.linalg.norm(c.prototype)), 1e-12) for c in found]
        scale = 1.0 / (len(found) * max(float(np.linalg.norm(np.mean(units, axis=0))), 1e-12))
        words = re.findall(r"[\w']+", _without_unspaced_filler(rest).lower())
        if all(word in _FILLER for word in words):
            return [TermPiece("concept", c.name, scale, unit) for c, unit in zip(found, units)]
        rest_text = " ".join(rest.split())
        text_vector = np.asarray(embed_text(rest_text), dtype=np.float32)
        text_vector = text_vector / max(float(np.linalg.norm(text_vector)), 1e-12)
        pieces = [TermPiece("concept", c.name, self.weight * scale, unit) for c, unit in zip(found, units)]
        return pieces + [TermPiece("text", rest_text, 1.0 - self.weight, text_vector)]


def load_expander(data_dir: Path, model_id: str, weight: float = MIX_WEIGHT) -> ConceptExpander | None:
    """The concepts of ``model_id``'s image space, or None when there are none (no database is created)."""
    from xmr_desktop.learn.learn_db import LEARN_DB_NAME

    if not (Path(data_dir) / LEARN_DB_NAME).is_file():
        return None
    with LearnDB.open(Path(data_dir) / LEARN_DB_NAME) as db:
        expander = ConceptExpander.load(db, model_id, weight)
    return expander or None
