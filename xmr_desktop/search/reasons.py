"""Why a photo is in the results: the reasons the rankers give, in the shape ``--json`` and the window show.

Each reason is ``{kind, text, field}`` (plus ``share`` where a ranker measures one): words of the query found
in the photo's name, folder, tags, caption or text (``keyword``, ``tag``, ``ocr``), and what a filter kept it
for (``metadata``: "2023-07-14" in "date taken", "Lisbon, Portugal" in "place"). Parts of the query vector
(``term``, ``image``, ``concept``) with their shares of the score belong to the same list; this module only
carries them (issue 14's ``search/explain.py`` computes them). Standard library only: the command line's path
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


@dataclass(frozen=True)
class MatchReason:
    """One thing that made a photo match.

    Attributes:
        kind: ``keyword``, ``tag``, ``ocr`` (words found), ``metadata`` (a filter's value), or a part of the
            query vector: ``term``, ``image``, ``concept``.
        text: what matched as the user reads it: the words found, the date, the place, the camera.
        field: where it was found ("file name", "folder", "keywords", "caption", "text in photo", "date taken",
            "place", "camera", "type"); None for parts of the query vector.
        share: signed fraction of the match it explains, where measured; None otherwise.
    """

    kind: str
    text: str
    field: str | None = None
    share: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Only the fields that are set."""
        out: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.field is not None:
            out["field"] = self.field
        if self.share is not None:
            out["share"] = round(self.share, 4)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchReason:
        share = data.get("share")
        return cls(str(data["kind"]), str(data["text"]), data.get("field"), None if share is None else float(share))

    def label(self) -> str:
        """Short form for a terminal or a tooltip: ``file name: passport``, ``date taken: 2023-07-14``."""
        text = f"{self.field}: {self.text}" if self.field else self.text
        return text if self.share is None else f"{text} {100 * self.share:+.0f}%"
