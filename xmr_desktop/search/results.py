"""What a search returns: enough for a list on a terminal or a thumbnail grid."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xmr_desktop.search.explain import MatchReason


@dataclass(frozen=True)
class SearchResult:
    """One ranked photo.

    Attributes:
        path: absolute path of the photo as a ``str`` (non-UTF-8 names keep their surrogate escapes).
        score: cosine similarity to the query (higher is better; weighted sums for multi-term queries).
        size: file size in bytes.
        mtime: modification time, seconds since the epoch.
        width: pixel width as decoded (after EXIF orientation), 0 when unknown.
        height: pixel height, 0 when unknown.
        match: ``"strong"`` or ``"weak"`` once the query's cutoff is decided (``search.cutoff``), else None.
        reasons: why it matched (``search.explain.MatchReason``), empty when not asked for.
    """

    path: str
    score: float
    size: int
    mtime: float
    width: int = 0
    height: int = 0
    match: str | None = None
    reasons: tuple[MatchReason, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The fields for ``--json``; ``match`` and ``reasons`` only once they are known."""
        out = asdict(self)
        out.pop("reasons")
        if self.match is None:
            out.pop("match")
        if self.reasons:
            out["reasons"] = [reason.to_json() for reason in self.reasons]
        return out
