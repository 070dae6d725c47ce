"""Why a photo matched: each part of the query's share of its score, plus reasons other rankers report.

A query is ``q = normalise(Σ wᵢ tᵢ)`` over its terms' unit vectors (``query.combine``); a term naming a concept
is itself a mix of the concept's prototype and the rest of its words (``learn.concepts.TermPiece``). Flattened,
``q = Σⱼ cⱼ vⱼ / n`` with ``n = ‖Σⱼ cⱼ vⱼ‖``, so a photo's score decomposes exactly:
``q·x = Σⱼ cⱼ (vⱼ·x) / n``.

Raw parts say little for CLIP, whose text–image cosines are all about 0.2: "beach" and "sunset" would each be
half of every photo's score. So a part's contribution is measured against a typical photo of the library
(``baseline``, the mean library vector): ``cⱼ (vⱼ·x − vⱼ·μ) / n``. The contributions then sum to how far the
photo scores above a typical one, a positive part is one that lifted it, a negative part one that held it back
(for a ``-`` term: the photo shows more of it than usual), and ``share`` is each part's signed fraction of
``Σ |contribution|``. Without a baseline the raw parts are used.

Reasons from keyword, tag, OCR and metadata matching come from their own rankers as :class:`MatchReason`
items with a ``field`` (and a ``share`` where their fusion has one); :func:`explain` appends them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from xmr_desktop.errors import QueryError
from xmr_desktop.search.query import QueryTerm

ReasonKind = Literal["term", "image", "concept", "keyword", "tag", "ocr", "metadata"]
VECTOR_KINDS = ("term", "image", "concept")


@dataclass(frozen=True)
class MatchReason:
    """One thing that made a photo match; the item of ``SearchResult.reasons`` and of ``--json``'s ``reasons``.

    Attributes:
        kind: ``term`` (a text term), ``image`` (a query image), ``concept`` (a taught name) — parts of the query
            vector — or ``keyword``, ``tag``, ``ocr``, ``metadata``: hits that other rankers report.
        text: what matched as the user reads it: the term as typed, the image's file name, the concept's name,
            the word found, the metadata value ("2023-07-14", "Lisbon").
        share: signed fraction of the match it explains (vector parts: of ``Σ |contribution|``; other kinds: as
            their fusion reports it); None when not measured.
        field: where a keyword/tag/OCR/metadata hit was found ("file name", "folder", "keywords", "caption",
            "text in photo", "date taken", "place", "camera"); None for vector parts.
        weight: for query parts, the term's signed weight as typed (``-1`` for ``- people``); None otherwise.
        contribution: for query parts, the score it added relative to a typical photo; None otherwise.
    """

    kind: ReasonKind
    text: str
    share: float | None = None
    field: str | None = None
    weight: float | None = None
    contribution: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Only the fields that are set, floats rounded to 4 places."""
        out: dict[str, Any] = {"kind": self.kind, "text": self.text}
        for name in ("share", "field", "weight", "contribution"):
            value = getattr(self, name)
            if value is not None:
                out[name] = round(value, 4) if isinstance(value, float) else value
        return out

    def label(self) -> str:
        """Short human form: ``beach +62%``, ``− people −5%``, ``Rex (name) +40%``, ``file name: passport``."""
        if self.kind in VECTOR_KINDS:
            sign = "− " if (self.weight or 0.0) < 0 else ""
            name = f"{self.text} (name)" if self.kind == "concept" else self.text
            return name if self.share is None else f"{sign}{name} {_percent(self.share)}"
        where = self.field or {"keyword": "keyword", "tag": "tag", "ocr": "text in photo", "metadata": "metadata"}[self.kind]
        return f"{where}: {self.text}" + ("" if self.share is None else f" {_percent(self.share)}")


@dataclass(frozen=True)
class QueryPart:
    """One vector of the flattened query: a term's text or image, or a concept prototype inside a term.

    Attributes:
        kind: ``term``, ``image`` or ``concept``.
        text: the term as typed (a text part of a concept term: its remaining words), an image's file name, or
            the concept's name.
        weight: the signed weight of the term this part belongs to.
        coefficient: the part's multiplier in the unnormalised query sum.
        vector: the part's unit vector.
    """

    kind: ReasonKind
    text: str
    weight: float
    coefficient: float
    vector: np.ndarray


@dataclass(frozen=True)
class QueryBreakdown:
    """A query as its parts; ``vector`` is the query vector search ranks by (``combine``'s result).

    Attributes:
        parts: the flattened parts, in query order.
        norm: ``‖Σ coefficient · vector‖``, what the sum is divided by.
        vector: the unit query vector (float32).
    """

    parts: tuple[QueryPart, ...]
    norm: float
    vector: np.ndarray

    def contributions(self, photo_vector: np.ndarray, baseline: np.ndarray | None = None) -> np.ndarray:
        """Each part's share of ``vector · photo``, less what it gives ``baseline`` (the typical photo) if given."""
        x = np.asarray(photo_vector, np.float64)
        raw = np.array([p.coefficient * float(np.dot(p.vector, x)) for p in self.parts]) / self.norm
        if baseline is None:
            return raw
        mu = np.asarray(baseline, np.float64)
        return raw - np.array([p.coefficient * float(np.dot(p.vector, mu)) for p in self.parts]) / self.norm


TermVectors = Callable[[QueryTerm], Sequence[tuple[ReasonKind, str, float, np.ndarray]]]


def breakdown_query(terms: Sequence[QueryTerm], pieces_of: TermVectors) -> QueryBreakdown:
    """Flatten ``terms`` into parts; ``pieces_of(term)`` gives ``(kind, text, coefficient, vector)`` pieces.

    A term's vector is the normalised sum of its pieces' ``coefficient · vector``, as ``ConceptExpander`` mixes
    it; a plain term is one piece ``(kind, term.value, 1.0, vector)``. The result's ``vector`` equals
    ``combine([(term.weight, term_vector), ...])``. Raises :class:`QueryError` when the terms cancel out and
    ``ValueError`` for no terms or a zero or non-finite vector, as ``combine`` does.
    """
    if not terms:
        raise ValueError("a query needs at least one term")
    parts: list[QueryPart] = []
    for term in terms:
        pieces = [(kind, text, float(c), np.asarray(v, np.float64)) for kind, text, c, v in pieces_of(term)]
        mixed = sum(c * v for _, _, c, v in pieces)
        term_norm = float(np.linalg.norm(mixed)) if pieces else 0.0
        if not (math.isfinite(term.weight) and math.isfinite(term_norm) and term_norm > 0.0):
            raise ValueError("term weights and vectors must be finite and vectors non-zero")
        for kind, text, coefficient, vector in pieces:
            unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
            scale = coefficient * float(np.linalg.norm(vector))  # keeps coefficient · vector as given
            parts.append(QueryPart(kind, text, term.weight, term.weight * scale / term_norm, unit))
    total = sum(p.coefficient * p.vector for p in parts)
    norm = float(np.linalg.norm(total))
    if norm <= 1e-6 * sum(abs(t.weight) for t in terms):
        raise QueryError("the query terms cancel each other out")
    return QueryBreakdown(tuple(parts), norm, (total / norm).astype(np.float32))


def plain_pieces(
    text_vector: Callable[[str], np.ndarray],
    image_vector: Callable[[str], np.ndarray],
    concepts: Any = None,
) -> TermVectors:
    """The ``pieces_of`` the searcher's own term vectors give: images, texts, and concept mixes (a
    ``ConceptExpander`` or None); each the same vector ``Searcher._term_vector`` computes."""

    def pieces_of(term: QueryTerm) -> list[tuple[ReasonKind, str, float, np.ndarray]]:
        if term.kind == "image":
            return [("image", os.path.basename(term.value), 1.0, image_vector(term.value))]
        if concepts:
            mixed = concepts.term_pieces(term.value, text_vector)
            if mixed is not None:
                return [("concept" if p.kind == "concept" else "term", p.label, p.coefficient, p.vector) for p in mixed]
        return [("term", term.value, 1.0, text_vector(term.value))]

    return pieces_of


@dataclass(frozen=True)
class Explanation:
    """Why one photo matched.

    Attributes:
        reasons: the query parts first (in query order), then the reasons other rankers gave.
    """

    reasons: tuple[MatchReason, ...]

    def to_json(self) -> list[dict[str, Any]]:
        return [reason.to_json() for reason in self.reasons]

    def summary(self) -> str:
        """One line for a tooltip and ``--explain``: ``beach +62% · sunset +33% · − people −5%``."""
        return " · ".join(reason.label() for reason in self.reasons)


def explain(
    query: QueryBreakdown,
    photo_vector: np.ndarray,
    *,
    baseline: np.ndarray | None = None,
    extra: Sequence[MatchReason] = (),
) -> Explanation:
    """The query parts' contributions to ``photo_vector``'s score (against ``baseline``, see the module
    docstring), merged by identical ``(kind, text, weight)``, followed by ``extra`` reasons as given."""
    values = query.contributions(photo_vector, baseline)
    merged: dict[tuple[str, str, float], float] = {}
    for part, value in zip(query.parts, values):
        key = (part.kind, part.text, part.weight)
        merged[key] = merged.get(key, 0.0) + float(value)
    total = sum(abs(v) for v in merged.values())
    reasons = [
        MatchReason(kind, text, share=(value / total if total > 1e-12 else 0.0), weight=weight, contribution=value)  # type: ignore[arg-type]
        for (kind, text, weight), value in merged.items()
    ]
    return Explanation(tuple(reasons) + tuple(extra))


def _percent(share: float) -> str:
    value = round(100 * share)
    return f"+{value}%" if value > 0 else (f"−{-value}%" if value < 0 else "0%")
