"""What a search returns: enough for a list on a terminal or a thumbnail grid."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
    """

    path: str
    score: float
    size: int
    mtime: float
    width: int = 0
    height: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
