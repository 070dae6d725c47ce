"""What a search returns per photo: enough for a list on a terminal or a thumbnail grid, and why it matched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xmr_desktop.search.reasons import MatchReason


@dataclass(frozen=True)
class SearchResult:
    """One ranked photo.

    Attributes:
        path: absolute path of the photo as a ``str`` (non-UTF-8 names keep their surrogate escapes).
        score: what the results are ordered by (higher is better): the cosine similarity to the query (weighted
            sums for multi-term queries) when it is ranked by meaning alone; with words of the query found
            in names, tags or text, the fused score (``textsearch.fusion``: the image model's score rescaled
            so its best result is 1, plus the words' boost); 0 for photos listed by date taken.
        size: file size in bytes.
        mtime: modification time, seconds since the epoch.
        width: pixel width as decoded (after EXIF orientation), 0 when unknown.
        height: pixel height, 0 when unknown.
        taken_at: when it was taken, ISO 8601 on the clock where it was taken (with the UTC offset when
            known); None until its metadata is read.
        taken_at_source: where that date comes from: exif, xmp, iptc, filename or mtime.
        place: where it was taken in words ("Lisbon, Portugal"), or None.
        camera: the camera ("Apple iPhone 12"), or None.
        keywords: the photo's tags (IPTC / XMP keywords).
        matched: the words of the query found in its name, folder, tags, caption or text.
        match: ``"strong"`` or ``"weak"`` once the query's cutoff is decided (``search.cutoff``), else None.
        reasons: why it matched (``MatchReason``: the query's parts and their shares, words found where, what a
            filter kept it for); empty when not asked for.
    """

    path: str
    score: float
    size: int
    mtime: float
    width: int = 0
    height: int = 0
    taken_at: str | None = None
    taken_at_source: str | None = None
    place: str | None = None
    camera: str | None = None
    keywords: tuple[str, ...] = ()
    matched: tuple[str, ...] = ()
    match: str | None = None
    reasons: tuple[MatchReason, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The fields for ``--json`` and the wire; ``match`` only once it is known."""
        out = {
            "path": self.path, "score": self.score, "size": self.size, "mtime": self.mtime, "width": self.width,
            "height": self.height, "taken_at": self.taken_at, "taken_at_source": self.taken_at_source,
            "place": self.place, "camera": self.camera, "keywords": list(self.keywords),
            "matched": list(self.matched), "reasons": [reason.to_json() for reason in self.reasons],
        }
        if self.match is not None:
            out["match"] = self.match
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchResult:
        """The inverse of ``to_json`` (also of the wire format's encoding of a result)."""
        values = dict(data)
        values["keywords"] = tuple(str(k) for k in values.get("keywords") or ())
        values["matched"] = tuple(str(k) for k in values.get("matched") or ())
        values["reasons"] = tuple(MatchReason.from_json(r) for r in values.get("reasons") or ())
        return cls(**values)
