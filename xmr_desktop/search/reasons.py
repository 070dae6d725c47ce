"""Why a photo is in the results: the reasons the rankers give, in the shape ``--json`` and the window show.

Each reason is ``{kind, text, field}`` (plus ``share`` where a ranker measures one): words of the query found
in the photo's name, folder, tags, caption or text (``keyword``, ``tag``, ``ocr``), and what a filter kept it
for (``metadata``: "2023-07-14" in "date taken", "Lisbon, Portugal" in "place"). Parts of the query vector
(``term``, ``image``, ``concept``) with their shares of the score belong to the same list; this module only
carries them (``search/explain.py`` computes them). Standard library only: the command line's path
to a running app reads results without numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Keyword index field -> (reason kind, the field as the user reads it).
KEYWORD_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("keyword", "file name"),
    "folder": ("keyword", "folder"),
    "keywords": ("tag", "keywords"),
    "caption": ("tag", "caption"),
    "ocr": ("ocr", "text in photo"),
}


VECTOR_KINDS = ("term", "image", "concept")


@dataclass(frozen=True)
class MatchReason:
    """One thing that made a photo match; the item of ``SearchResult.reasons`` and of ``--json``'s ``reasons``.

    Attributes:
        kind: ``term`` (a text term), ``image`` (a query image), ``concept`` (a taught name) — parts of the query
            vector — or ``keyword``, ``tag``, ``ocr`` (words found), ``metadata`` (what a filter kept it for).
        text: what matched as the user reads it: the term as typed, the image's file name, the concept's name,
            the words found, the date, the place, the camera.
        field: where a keyword/tag/OCR/metadata hit was found ("file name", "folder", "keywords", "caption",
            "text in photo", "date taken", "place", "camera", "type"); None for parts of the query vector.
        share: signed fraction of the match it explains (vector parts: of ``Σ |contribution|``, see
            ``search.explain``); None when not measured.
        weight: for query parts, the term's signed weight as typed (``-1`` for ``- people``); None otherwise.
        contribution: for query parts, the score it added relative to a typical photo; None otherwise.
    """

    kind: str
    text: str
    field: str | None = None
    share: float | None = None
    weight: float | None = None
    contribution: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Only the fields that are set, floats rounded to 4 places."""
        out: dict[str, Any] = {"kind": self.kind, "text": self.text}
        for name in ("field", "share", "weight", "contribution"):
            value = getattr(self, name)
            if value is not None:
                out[name] = round(value, 4) if isinstance(value, float) else value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchReason:
        """The inverse of ``to_json``."""

        def number(name: str) -> float | None:
            value = data.get(name)
            return None if value is None else float(value)

        field = data.get("field")
        return cls(str(data["kind"]), str(data["text"]), None if field is None else str(field),
                   number("share"), number("weight"), number("contribution"))

    def label(self) -> str:
        """Short human form: ``beach +62%``, ``− people −5%``, ``Rex (name) +40%``, ``file name: passport``."""
        if self.kind in VECTOR_KINDS:
            sign = "− " if (self.weight or 0.0) < 0 else ""
            name = f"{self.text} (name)" if self.kind == "concept" else self.text
            return name if self.share is None else f"{sign}{name} {percent(self.share)}"
        where = self.field or {"keyword": "keyword", "tag": "tag", "ocr": "text in photo"}.get(self.kind, self.kind)
        return f"{where}: {self.text}" + ("" if self.share is None else f" {percent(self.share)}")


def percent(share: float) -> str:
    """A signed share as a whole percentage with a real minus sign: ``+62%``, ``−5%``, ``0%``."""
    value = round(100 * share)
    return f"+{value}%" if value > 0 else (f"−{-value}%" if value < 0 else "0%")
