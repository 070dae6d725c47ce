"""Results in date order, grouped by the day or month they were taken: the groups and their labels. Qt-free.

Dates are the clock where a photo was taken (``SearchResult.taken_at``), so a photo taken at 23:30 on New
Year's Eve in Tokyo is in December wherever the library is browsed. A photo whose metadata is not read yet is
placed by its file's modification time. Photos spread over more than ``DAYS_FOR_DAY_GROUPS`` days are grouped
by month, closer ones by day.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from xmr_desktop.search.results import SearchResult

DAYS_FOR_DAY_GROUPS = 62
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@dataclass(frozen=True)
class DateGroup:
    """Consecutive results of one day or month: ``first`` is the row of the first, ``count`` how many."""

    label: str
    first: int
    count: int


def taken_local(result: SearchResult) -> datetime:
    """When the photo was taken on the clock where it was taken (its file's time until that is known)."""
    if result.taken_at:
        try:
            return datetime.fromisoformat(result.taken_at).replace(tzinfo=None)
        except ValueError:
            pass
    return datetime(*time.localtime(result.mtime)[:6])


def sort_key(result: SearchResult) -> tuple[float, str]:
    """Newest taken first, then by path (for ``sorted``)."""
    return (-(taken_local(result) - datetime(1970, 1, 1)).total_seconds(), result.path)


def by_day(results: Sequence[SearchResult]) -> bool:
    """Whether ``results`` are grouped by day: they span at most ``DAYS_FOR_DAY_GROUPS`` days."""
    days = [taken_local(r).date() for r in results]
    return bool(days) and (max(days) - min(days)).days <= DAYS_FOR_DAY_GROUPS


def date_groups(results: Sequence[SearchResult], days_apart: bool | None = None) -> list[DateGroup]:
    """The groups of ``results`` in their order (already sorted by date): by day, or by month when they span
    more than ``DAYS_FOR_DAY_GROUPS`` days (``days_apart`` decides instead when given: the grid groups its
    strong and weak sections alike)."""
    if not results:
        return []
    days = [taken_local(r).date() for r in results]
    by_day = ((max(days) - min(days)).days <= DAYS_FOR_DAY_GROUPS) if days_apart is None else days_apart
    keys = [day if by_day else date(day.year, day.month, 1) for day in days]
    groups: list[DateGroup] = []
    for row, key in enumerate(keys):
        if groups and keys[groups[-1].first] == key:
            last = groups[-1]
            groups[-1] = DateGroup(last.label, last.first, last.count + 1)
        else:
            groups.append(DateGroup(_label(key, by_day), row, 1))
    return groups


def _label(day: date, by_day: bool) -> str:
    if by_day:
        return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    return f"{_MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class Bucket:
    """Photos taken from ``start`` up to (not including) ``end``."""

    start: date
    end: date
    count: int


def histogram(results: Sequence[SearchResult], max_bars: int = 120) -> list[Bucket]:
    """Photos per month from the first to the last month the results were taken in (empty months included),
    or per year when that would be more than ``max_bars`` bars; for the filter bar's histogram."""
    if not results:
        return []
    days = [taken_local(r).date() for r in results]
    first, last = min(days), max(days)
    by_year = (last.year - first.year) * 12 + last.month - first.month + 1 > max_bars

    def start_of(day: date) -> date:
        return date(day.year, 1, 1) if by_year else date(day.year, day.month, 1)

    def after(start: date) -> date:
        if by_year:
            return date(start.year + 1, 1, 1)
        return date(start.year + (start.month == 12), start.month % 12 + 1, 1)

    counts: dict[date, int] = {}
    for day in days:
        counts[start_of(day)] = counts.get(start_of(day), 0) + 1
    buckets = []
    current = start_of(first)
    while current <= last:
        buckets.append(Bucket(current, after(current), counts.get(current, 0)))
        current = after(current)
    return buckets
