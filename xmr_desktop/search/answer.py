"""What a search answers: the ranked photos and how the query was read, as plain data.

The reading lists the parts of the query that became filters (kind, chip label, the characters typed), so the
window can show them as chips and remove one (the query is then asked again with that span in ``literal``:
read as plain words), and ``xmr search --explain`` can print the parse. Everything here is frozen plain data
that crosses threads and the local socket unchanged (standard library only: the command line's path to a
running app must not import numpy).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from xmr_desktop.search.results import SearchResult

SORT_ORDERS = ("relevance", "date")


@dataclass(frozen=True)
class SearchFilters:
    """Explicit filters (``xmr search --taken-after …``, the window's filter bar); each narrows the query.

    Attributes:
        taken_after: ``YYYY[-MM[-DD]]``: taken at or after the start of that year, month or day.
        taken_before: ``YYYY[-MM[-DD]]``: taken before its start.
        place: a country, region or town in any language the place names have, or a stored place name.
        camera: a camera of the library or part of its name.
        photo_type: photo, screenshot, panorama, or a file format (jpeg, png, …).
    """

    taken_after: str | None = None
    taken_before: str | None = None
    place: str | None = None
    camera: str | None = None
    photo_type: str | None = None

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.taken_after, self.taken_before, self.place, self.camera, self.photo_type))

    @classmethod
    def from_json(cls, data: Any) -> SearchFilters:
        """From the wire's JSON object; ValueError for anything but strings or null in known fields."""
        if not isinstance(data, dict) or set(data) - {f for f in cls.__dataclass_fields__}:
            raise ValueError("filters must be an object with taken_after, taken_before, place, camera, photo_type")
        if any(value is not None and not isinstance(value, str) for value in data.values()):
            raise ValueError("filter values must be strings")
        return cls(**data)


@dataclass(frozen=True)
class ReadPart:
    """One recognised part of the query, shown as a chip.

    Attributes:
        kind: date, place, camera or type.
        label: the chip's text ("2023", "in Paris", "iPhone").
        start, end: its characters in ``QueryReading.text``.
        description: the filter in words ("taken 2023-01-01 to 2023-12-31 (clock where taken)").
    """

    kind: str
    label: str
    start: int
    end: int
    description: str


@dataclass(frozen=True)
class QueryReading:
    """How a text query was read.

    Attributes:
        text: the query as typed.
        semantic: what the image model and the keyword index searched for ("" when only filters were left).
        parts: the recognised parts, in text order.
        literal: spans taken as plain words (removed chips).
        notes: words that could have been filters and why they were not.
        explanation: the parse as ``xmr search --explain`` prints it.
    """

    text: str
    semantic: str
    parts: tuple[ReadPart, ...] = ()
    literal: tuple[tuple[int, int], ...] = ()
    notes: tuple[str, ...] = ()
    explanation: str = ""

    def without(self, index: int) -> tuple[tuple[int, int], ...]:
        """The ``literal`` spans to ask with once part ``index`` (its chip) is removed."""
        part = self.parts[index]
        return (*self.literal, (part.start, part.end))


@dataclass(frozen=True)
class MatchCutoff:
    """Where an answer's strong matches end (``search.cutoff`` decides it per query from the query's own scores).

    Attributes:
        strong: how many photos of the whole ranking are strong matches; more than the results shown when few
            were asked for. In relevance order they are the first ``strong`` results.
        strong_beyond: the strong matches go on past the ``cutoff.DEPTH`` photos the cutoff was decided on.
        weaker_beyond: photos beyond the results shown rank below them (ask for more to see them).
        decided: ``"adaptive"``: decided from the query's scores at ``strictness``; ``"none"``: nothing to match
            (only filters were given, the photos they keep are listed by date): every result is strong.
        strictness: the strictness it was decided at, 0 (loose) to 1 (strict).
    """

    strong: int
    strong_beyond: bool = False
    weaker_beyond: bool = False
    decided: str = "adaptive"
    strictness: float = 0.5

    @classmethod
    def from_json(cls, data: Any) -> MatchCutoff:
        return cls(int(data["strong"]), bool(data["strong_beyond"]), bool(data["weaker_beyond"]),
                   str(data["decided"]), float(data["strictness"]))


@dataclass(frozen=True)
class SearchAnswer(Sequence[SearchResult]):
    """The photos found, best first (or by date taken), and how the query was read.

    Iterating it, ``len()`` and indexing go over ``results``.

    Attributes:
        results: the photos.
        reading: how a text query was read; None for an image query.
        filters: the explicit filters applied, in words.
        ranked_by: "meaning", "meaning and words" (fused with keyword hits) or "date taken" (only filters
            were left: the matching photos, newest first).
        cutoff: where the strong matches end (each result's ``match`` says which side it is on); None from an
            app that does not decide one.
    """

    results: tuple[SearchResult, ...] = ()
    reading: QueryReading | None = None
    filters: tuple[str, ...] = ()
    ranked_by: str = "meaning"
    cutoff: MatchCutoff | None = None

    @property
    def strong_results(self) -> tuple[SearchResult, ...]:
        """The results that are strong matches (all of them when no cutoff was decided), in the answer's order."""
        return tuple(r for r in self.results if r.match != "weak")

    @overload
    def __getitem__(self, index: int) -> SearchResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SearchResult]: ...

    def __getitem__(self, index: int | slice) -> SearchResult | Sequence[SearchResult]:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[SearchResult]:
        return iter(self.results)

    @classmethod
    def from_json(cls, data: Any) -> SearchAnswer:
        """The inverse of the wire format's encoding (``core.protocol.encode_value``) of an answer."""
        reading = data.get("reading")
        return cls(
            results=tuple(SearchResult.from_json(item) for item in data["results"]),
            reading=None if reading is None else QueryReading(
                text=str(reading["text"]), semantic=str(reading["semantic"]),
                parts=tuple(ReadPart(**part) for part in reading["parts"]),
                literal=tuple((int(a), int(b)) for a, b in reading["literal"]),
                notes=tuple(str(n) for n in reading["notes"]), explanation=str(reading["explanation"]),
            ),
            filters=tuple(str(f) for f in data["filters"]),
            ranked_by=str(data["ranked_by"]),
            cutoff=None if data.get("cutoff") is None else MatchCutoff.from_json(data["cutoff"]),
        )
