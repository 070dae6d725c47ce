"""What the viewer says about a photo, as labelled rows; a row whose value is unknown is left out. Qt-free.

The details start from a search result (path, size, modified time, score, pixel size when the index knows it)
and grow as more is learnt: the decoder reports the pixel size and the file's current version, and later the
metadata reader (date taken, place, camera) and the match explanation (why it matched) fill their rows through
:meth:`PhotoDetails.updated` with plain values, so neither needs to know about Qt.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class DetailRow:
    """One line of the details: ``key`` is the field's name, ``label`` and ``text`` what the user reads."""

    key: str
    label: str
    text: str


@dataclass(frozen=True)
class PhotoDetails:
    """Everything the viewer may show about one photo; ``None`` (or empty) means unknown and hides its row.

    Attributes:
        path: the photo's path.
        size: file size in bytes.
        mtime: modification time, seconds since the epoch.
        width, height: pixel size, upright (0: unknown).
        score: the search score, as the grid ranks by.
        date_taken: when the photo was taken (a ``datetime``/``date`` or text already formatted).
        place: where, as text ("Lisbon, Portugal").
        camera: which camera, as text ("Canon EOS R6").
        match_reasons: why it matched, as short texts ("beach +62%"), or objects with a ``label()`` method
            (``search.explain.MatchReason``).
    """

    path: str
    size: int | None = None
    mtime: float | None = None
    width: int = 0
    height: int = 0
    score: float | None = None
    date_taken: datetime | date | str | None = None
    place: str | None = None
    camera: str | None = None
    match_reasons: tuple[Any, ...] = ()

    @classmethod
    def from_result(cls, result: Any) -> "PhotoDetails":
        """From a ``SearchResult`` (or anything with its attributes); ``reasons`` are taken when it has them."""
        return cls(
            path=result.path,
            size=getattr(result, "size", None),
            mtime=getattr(result, "mtime", None),
            width=getattr(result, "width", 0) or 0,
            height=getattr(result, "height", 0) or 0,
            score=getattr(result, "score", None),
            match_reasons=tuple(getattr(result, "reasons", None) or ()),
        )

    def updated(self, fields: Mapping[str, Any]) -> "PhotoDetails":
        """A copy with ``fields`` (names of the attributes above) replaced; an unknown name is a ValueError."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown photo detail(s): {', '.join(unknown)}")
        values = dict(fields)
        if "match_reasons" in values:
            values["match_reasons"] = tuple(values["match_reasons"] or ())
        return dataclasses.replace(self, **values)

    def rows(self) -> list[DetailRow]:
        """The known details in reading order."""
        rows = [DetailRow("name", "Name", os.path.basename(self.path) or self.path)]
        folder = os.path.dirname(self.path)
        if folder:
            rows.append(DetailRow("folder", "Folder", folder))
        candidates: Iterable[tuple[str, str, str | None]] = (
            ("date_taken", "Taken", _date_text(self.date_taken)),
            ("place", "Place", self.place or None),
            ("camera", "Camera", self.camera or None),
            ("pixels", "Pixels", _pixels_text(self.width, self.height)),
            ("size", "Size", _bytes_text(self.size) if self.size is not None else None),
            ("mtime", "Modified", _time_text(self.mtime) if self.mtime is not None else None),
            ("score", "Match", f"{self.score:.3f}" if self.score is not None else None),
            ("match_reasons", "Why", _reasons_text(self.match_reasons)),
        )
        rows.extend(DetailRow(key, label, text) for key, label, text in candidates if text)
        return rows


def fields_from_metadata(meta: Any) -> dict[str, Any]:
    """``PhotoDetails`` fields from a ``metadata.record.PhotoMetadata`` (for ``Viewer.update_details``).

    A date taken that is only the file's modification time is left out: the Modified row already says it.
    """
    fields: dict[str, Any] = {}
    taken = getattr(meta, "taken", None)
    if taken is not None and getattr(taken, "source", None) != "mtime":
        fields["date_taken"] = taken.local
    place = getattr(meta, "place", None)
    if place is not None and place.label():
        fields["place"] = place.label()
    if getattr(meta, "camera", None):
        fields["camera"] = meta.camera
    return fields


def _date_text(value: datetime | date | str | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _pixels_text(width: int, height: int) -> str | None:
    if width <= 0 or height <= 0:
        return None
    megapixels = width * height / 1e6
    mp = f"{megapixels:.1f} MP" if megapixels >= 0.1 else f"{width * height:,} pixels"
    return f"{width} × {height} ({mp})"


def _bytes_text(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            short = f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
            return short if unit == "bytes" else f"{short} ({size:,} bytes)"
        value /= 1024
    raise AssertionError("unreachable")


def _time_text(mtime: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime))


def _reasons_text(reasons: tuple[Any, ...]) -> str | None:
    labels = [reason.label() if hasattr(reason, "label") else str(reason) for reason in reasons]
    labels = [label for label in labels if label]
    return "\n".join(labels) if labels else None
