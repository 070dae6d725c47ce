"""One search box that understands dates, places, cameras and types, in English and Chinese.

``QueryReader.read("beach in Portugal 2023")`` returns an ``UnderstoodQuery``: the recognised parts (each with
its span in the text, kind, a chip label such as "2023" or "in Portugal", and a filter) and the rest of the text
for the image model ("beach"). Parts of one kind are alternatives ("2022 2023": either year), different kinds
must all hold. ``without(i)`` re-reads the query with part ``i`` taken as plain words — what the window does
when a chip is removed, so a misreading ("china" as a country) is undone in one click. ``explain()`` is the text
of ``xmr search --explain``.

Order of reading: double-quoted text is never interpreted; then dates, types, cameras, places, each only where
an earlier part has not claimed the text. Nothing here touches TensorFlow, and only the place lookup reads a
file (the gazetteer's cache, once).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

from xmr_desktop.search.date_phrases import find_dates
from xmr_desktop.search.filters import (
    CameraFilter,
    DateFilter,
    Filter,
    PlaceFilter,
    TypeFilter,
)
from xmr_desktop.search.subject_phrases import find_cameras, find_places, find_types

if TYPE_CHECKING:
    from xmr_desktop.metadata.places import Gazetteer
    from xmr_desktop.search.vocabulary import Vocabulary

PartKind = Literal["date", "type", "camera", "place"]
KIND_ORDER: tuple[PartKind, ...] = ("date", "place", "camera", "type")

# Words left dangling when a part is cut out ("beach from", "的雪山", "拍的照片").
_EN_CONNECTORS = frozenset({"in", "at", "on", "from", "of", "during", "taken", "shot", "with", "by", "near", "and",
                            "or", "the", "my", "using", "photographed", "around", "to"})
_ZH_CONNECTORS = ("拍摄的", "拍的", "时候的", "的时候", "时的", "的", "在", "于", "里", "用", "拍", "和", "时")
_QUOTED = re.compile(r'"[^"]*"')


@dataclass(frozen=True)
class QueryPart:
    """One recognised part of a query.

    Attributes:
        kind: date, place, camera or type.
        start, end: its characters in ``UnderstoodQuery.text`` (``text[start:end]`` is what was typed).
        label: short text for a chip ("2023", "in Paris", "iPhone").
        filter: what it keeps.
    """

    kind: PartKind
    start: int
    end: int
    label: str
    filter: Filter

    def typed(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(frozen=True)
class UnderstoodQuery:
    """A query as read.

    Attributes:
        text: the query as typed.
        semantic: what is left for the image model, in xmr's query syntax (may be empty: filters only).
        parts: recognised parts, in text order.
        literal: spans the reader was told to take as words (removed chips), besides quoted text.
        notes: words that could have been filters and why they were not ("no photo was taken in Nice").
    """

    text: str
    semantic: str
    parts: tuple[QueryPart, ...]
    literal: tuple[tuple[int, int], ...] = ()
    notes: tuple[str, ...] = ()
    _reader: "QueryReader | None" = field(default=None, repr=False, compare=False)

    def filters(self) -> list[list[Filter]]:
        """Filter groups for ``filters.allowed_ids``: one group per kind, its parts as alternatives."""
        groups: dict[str, list[Filter]] = {}
        for part in self.parts:
            groups.setdefault(part.kind, []).append(part.filter)
        return [groups[kind] for kind in KIND_ORDER if kind in groups]

    def without(self, index: int) -> "UnderstoodQuery":
        """The query re-read with part ``index`` as plain words (its chip removed)."""
        part = self.parts[index]
        reader = self._reader or QueryReader()
        return reader.read(self.text, literal=(*self.literal, (part.start, part.end)))

    def explain(self) -> str:
        """How the query was read, for ``xmr search --explain``."""
        lines = [f"Query: {self.text!r}"]
        lines.append(f"  searched as words: {self.semantic!r}" if self.semantic else "  no words left: filters only")
        width = max((len(p.typed(self.text)) for p in self.parts), default=0) + 2
        for part in self.parts:
            typed = repr(part.typed(self.text)).ljust(width + 2)
            lines.append(f"  {part.kind:<7}{typed}{describe(part.filter)}")
        if len({p.kind for p in self.parts}) < len(self.parts):
            lines.append("  parts of the same kind are alternatives; different kinds must all hold")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


class QueryReader:
    """Reads queries against one library.

    Attributes:
        vocabulary: the library's cameras and places (None: no cameras, every place counts as present).
        gazetteer: place names (None: places are not recognised).
        today: for "last year" and friends; None means the real today at each read.
    """

    def __init__(
        self,
        *,
        vocabulary: "Vocabulary | None" = None,
        gazetteer: "Gazetteer | None" = None,
        today: date | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.gazetteer = gazetteer
        self.today = today

    def read(self, text: str, *, literal: Sequence[tuple[int, int]] = ()) -> UnderstoodQuery:
        claimed = bytearray(len(text))  # 1: literal (stays words), 2: part of a recognised phrase
        for start, end in [*literal, *(m.span() for m in _QUOTED.finditer(text))]:
            claimed[max(0, start) : max(0, end)] = b"\x01" * (max(0, end) - max(0, start))

        def is_free(start: int, end: int) -> bool:
            return start < end and not any(claimed[start:end])

        parts: list[QueryPart] = []
        notes: list[str] = []

        def take(kind: PartKind, start: int, end: int, label: str, filter_: Filter) -> None:
            claimed[start:end] = b"\x02" * (end - start)
            parts.append(QueryPart(kind, start, end, label, filter_))

        for phrase in find_dates(text, self.today or date.today(), is_free):
            if is_free(phrase.start, phrase.end):
                take("date", phrase.start, phrase.end, phrase.label, phrase.filter)
        for phrase in find_types(text, is_free):
            if is_free(phrase.start, phrase.end):
                take("type", phrase.start, phrase.end, phrase.label, phrase.filter)
        for phrase in find_cameras(text, self.vocabulary, is_free, notes):
            if is_free(phrase.start, phrase.end):
                take("camera", phrase.start, phrase.end, phrase.label, phrase.filter)
        for phrase in find_places(text, self.gazetteer, self.vocabulary, is_free, notes):
            if is_free(phrase.start, phrase.end):
                take("place", phrase.start, phrase.end, phrase.label, phrase.filter)
        parts.sort(key=lambda p: p.start)
        if any(isinstance(p.filter, TypeFilter) and p.filter.unindexed for p in parts):
            notes.append("xmr indexes photos only; videos are not indexed")
        return UnderstoodQuery(
            text=text,
            semantic=_residual(text, claimed),
            parts=tuple(parts),
            literal=tuple(literal),
            notes=tuple(dict.fromkeys(notes)),
            _reader=self,
        )


def understand(text: str, **context: object) -> UnderstoodQuery:
    """``QueryReader(**context).read(text)``."""
    return QueryReader(**context).read(text)  # type: ignore[arg-type]


def _residual(text: str, claimed: bytearray) -> str:
    """The text outside recognised parts, with connectors left hanging at the cuts removed."""
    pieces: list[str] = []
    current: list[str] = []
    for ch, mark in zip(text, claimed):
        if mark == 2:
            if current:
                pieces.append("".join(current))
                current = []
            pieces.append("\x00")  # a cut
        else:
            current.append(ch)
    if current:
        pieces.append("".join(current))
    if "\x00" not in pieces:
        return " ".join(text.split())
    cleaned = [_trim_connectors(piece) for piece in pieces if piece != "\x00"]
    return " ".join(" ".join(p for p in cleaned if p).split())


def _trim_connectors(piece: str) -> str:
    """Drop connector words at both ends of a piece of text between cuts (not inside it)."""
    words = piece.split()
    while words and words[-1].lower() in _EN_CONNECTORS:
        words.pop()
    while words and words[0].lower() in _EN_CONNECTORS:
        words.pop(0)
    text = " ".join(words)
    changed = True
    while changed and text:
        changed = False
        for connector in _ZH_CONNECTORS:
            if text.startswith(connector) and len(text) > len(connector):
                text, changed = text[len(connector) :], True
            if text.endswith(connector) and len(text) > len(connector):
                text, changed = text[: -len(connector)], True
            if text == connector:
                text, changed = "", True
    return text.strip()


def describe(filter_: Filter) -> str:
    """A filter in words, for ``explain``."""
    from datetime import datetime, timedelta

    def day(seconds: int) -> str:
        return (datetime(1970, 1, 1) + timedelta(seconds=seconds)).strftime("%Y-%m-%d")

    if isinstance(filter_, DateFilter):
        bits = []
        for start, end in filter_.ranges:
            if start is not None and end is not None:
                bits.append(f"taken {day(start)} to {day(end - 1)}")
            elif start is not None:
                bits.append(f"taken on or after {day(start)}")
            elif end is not None:
                bits.append(f"taken before {day(end)}")
        if filter_.months:
            names = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
            bits.append("taken in " + ", ".join(names[m - 1] for m in sorted(filter_.months)) + " of any year")
        if filter_.month_day:
            bits.append(f"taken on {filter_.month_day[1]}/{filter_.month_day[0]} (day/month) of any year")
        return "; ".join(bits) + " (clock where taken)"
    if isinstance(filter_, PlaceFilter):
        bits = [f"country {code}" for code in sorted(filter_.countries)]
        bits += [f"region {cc}-{region}" for cc, region in sorted(filter_.regions)]
        bits += [f"{c.name} (within {c.radius_km:.0f} km, GeoNames {c.city_id})" for c in filter_.cities]
        bits += [f"place named {name!r}" for name in filter_.names]
        return "GPS or tags in " + " or ".join(bits)
    if isinstance(filter_, CameraFilter):
        names = sorted(filter_.cameras) + sorted(filter_.brands) + [f"*{t}*" for t in filter_.texts]
        return "camera " + " or ".join(names)
    if isinstance(filter_, TypeFilter):
        if filter_.unindexed and not (filter_.kinds or filter_.formats):
            return f"{filter_.unindexed}: not indexed, nothing matches"
        return "type " + " or ".join(sorted(filter_.kinds) + sorted(filter_.formats))
    return f"in folder {filter_.path}"
