"""Dates in a search box, English and Chinese: "2023", "July 2023", "summer 2022", "last year", "in may",
"2019-2021", "before 2020", "the 90s", "2023年7月", "去年夏天", "三年前", "7月14日".

A small parser of these forms, not ``dateparser``: measured on our phrase set, dateparser took 0.14 s to
import and 0.16 s for its first search, returned points rather than periods ("2023" -> 2023-03-10), misread
"2023年7月" as year 1, dropped the season of "summer 2022" and "去年夏天", and read "may the force",
"march of the penguins" and "1080p" as dates (``benchmarks/metadata/dateparser_check.py``).

Rules for words that are also ordinary words: "may", "march", "august" and the three-letter abbreviations are
months only next to a year or a day or after "in/during/since/…" ("in may", "may 2023", "14 may"; "may the
force" stays words). A bare season ("summer", "夏天") stays words — it describes how photos look; with a year,
"last/this" or "in" ("in summer") it is a date. Seasons are the northern hemisphere's meteorological ones
(winter 2022 = December 2022 to February 2023).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from xmr_desktop.search.filters import DateFilter, local_seconds

MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
# Month words that are everyday words too: months only with a year, a day or a cue.
AMBIGUOUS_MONTHS = frozenset({"may", "march", "august", "jan", "mar", "apr", "jun", "aug", "sep", "oct", "nov", "dec"})
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}  # the first month of each
_ZH_SEASONS = {"春": 3, "夏": 6, "秋": 9, "冬": 12}
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

_Y = r"(?:19|20)\d{2}"
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_SEASON = r"(?:spring|summer|autumn|fall|winter)"
_CUE = r"(?:(?:taken|shot|photographed|back)\s+)?(?:in|during|from|of)\s+(?:the\s+)?"
_ZH_NUM = r"(?:\d{1,2}|十[一二]?|[一二两三四五六七八九十])"
_ZH_SEASON = r"(?:[春夏秋冬](?:天|季))"
_END = r"(?![\w])"
_START = r"(?<![\w.])"


@dataclass(frozen=True)
class DatePhrase:
    """A date found in a query: ``[start, end)`` characters of the text, its filter and its chip label."""

    start: int
    end: int
    filter: DateFilter
    label: str


def _zh_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.startswith("十"):
        return 10 + (_ZH_DIGITS[text[1]] if len(text) > 1 else 0)
    return _ZH_DIGITS[text]


class _Calendar:
    """Periods as ``(start, end)`` wall-clock seconds, relative to an injectable today."""

    def __init__(self, today: date) -> None:
        self.today = today

    @staticmethod
    def span(first: date, after: date) -> tuple[int, int]:
        return local_seconds(datetime(first.year, first.month, first.day)), local_seconds(
            datetime(after.year, after.month, after.day)
        )

    def year(self, y: int) -> tuple[int, int]:
        return self.span(date(y, 1, 1), date(y + 1, 1, 1))

    def month(self, y: int, m: int) -> tuple[int, int]:
        return self.span(date(y, m, 1), date(y + (m == 12), m % 12 + 1, 1))

    def day(self, y: int, m: int, d: int) -> tuple[int, int]:
        first = date(y, m, d)
        return self.span(first, first + timedelta(days=1))

    def season(self, y: int, first_month: int) -> tuple[int, int]:
        start = date(y, first_month, 1)
        end_month = first_month + 3
        return self.span(start, date(y + (end_month > 12), (end_month - 1) % 12 + 1, 1))

    def last_season(self, first_month: int) -> int:
        """The year of the latest such season already over."""
        y = self.today.year
        while True:
            end_month = first_month + 3
            end = date(y + (end_month > 12), (end_month - 1) % 12 + 1, 1)
            if end <= self.today:
                return y
            y -= 1

    def this_season(self, first_month: int) -> int:
        """The year of the latest such season already begun (in March, "this winter" is the one just over)."""
        return self.today.year if self.today >= date(self.today.year, first_month, 1) else self.today.year - 1

    def months_ago(self, n: int) -> tuple[int, int]:
        index = self.today.year * 12 + self.today.month - 1 - n
        return self.month(index // 12, index % 12 + 1)

    def week(self, weeks_back: int) -> tuple[int, int]:
        monday = self.today - timedelta(days=self.today.weekday() + 7 * weeks_back)
        return self.span(monday, monday + timedelta(days=7))

    def days_back(self, n: int) -> tuple[int, int]:
        day = self.today - timedelta(days=n)
        return self.span(day, day + timedelta(days=1))


def _season_label(name: str, y: int) -> str:
    return f"winter {y}–{(y + 1) % 100:02d}" if SEASONS[name] == 12 else f"{name} {y}"


def _valid_day(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return True


Handler = Callable[["re.Match[str]", _Calendar], tuple[DateFilter, str] | None]
_RULES: list[tuple[re.Pattern[str], Handler]] = []


def _rule(pattern: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _RULES.append((re.compile(pattern, re.IGNORECASE), handler))
        return handler

    return register


def _ranged(period: tuple[int, int], label: str) -> tuple[DateFilter, str]:
    return DateFilter(ranges=(period,)), label


# -- Chinese ---------------------------------------------------------------------------------------------------

@_rule(rf"(?:从)?({_Y})年?\s*(?:到|至|-|–|~)\s*({_Y})年")
def _zh_years_range(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    a, b = sorted((int(m.group(1)), int(m.group(2))))
    return _ranged((cal.year(a)[0], cal.year(b)[1]), f"{a}–{b}")


@_rule(rf"({_Y})年(?:({_ZH_NUM})月)?(以前|之前|以后|之后|以来|起|后)")
def _zh_before_after(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    y = int(m.group(1))
    period = cal.month(y, _zh_number(m.group(2))) if m.group(2) else cal.year(y)
    label = f"{MONTH_NAMES[_zh_number(m.group(2)) - 1]} {y}" if m.group(2) else str(y)
    word = m.group(3)
    if word in ("以前", "之前"):
        return DateFilter(ranges=((None, period[0]),)), f"before {label}"
    if word in ("以来", "起"):
        return DateFilter(ranges=((period[0], None),)), f"since {label}"
    return DateFilter(ranges=((period[1], None),)), f"after {label}"


@_rule(rf"({_Y})年({_ZH_NUM})月(?:({_ZH_NUM}|[0-3]?\d)[日号])?")
def _zh_year_month(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    y, month = int(m.group(1)), _zh_number(m.group(2))
    if not 1 <= month <= 12:
        return None
    if m.group(3):
        d = int(m.group(3)) if m.group(3).isdigit() else _zh_number(m.group(3))
        if not _valid_day(y, month, d):
            return None
        return _ranged(cal.day(y, month, d), f"{d} {MONTH_NAMES[month - 1][:3]} {y}")
    return _ranged(cal.month(y, month), f"{MONTH_NAMES[month - 1]} {y}")


@_rule(rf"({_Y})年的?({_ZH_SEASON})")
def _zh_year_season(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    first = _ZH_SEASONS[m.group(2)[0]]
    name = next(k for k, v in SEASONS.items() if v == first and k != "fall")
    return _ranged(cal.season(int(m.group(1)), first), _season_label(name, int(m.group(1))))


@_rule(rf"(大前年|前年|去年|今年)(?:的?({_ZH_SEASON})|的?({_ZH_NUM})月)?")
def _zh_relative_year(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    back = {"今年": 0, "去年": 1, "前年": 2, "大前年": 3}[m.group(1)]
    y = cal.today.year - back
    if m.group(2):
        first = _ZH_SEASONS[m.group(2)[0]]
        name = next(k for k, v in SEASONS.items() if v == first and k != "fall")
        return _ranged(cal.season(y, first), _season_label(name, y))
    if m.group(3):
        month = _zh_number(m.group(3))
        if not 1 <= month <= 12:
            return None
        return _ranged(cal.month(y, month), f"{MONTH_NAMES[month - 1]} {y}")
    return _ranged(cal.year(y), {0: "this year", 1: "last year"}.get(back, str(y)) + (f" ({y})" if back < 2 else ""))


@_rule(rf"({_Y})年")
def _zh_year(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    return _ranged(cal.year(int(m.group(1))), m.group(1))


@_rule(rf"({_ZH_NUM})年前")
def _zh_years_ago(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    n = _zh_number(m.group(1))
    return _ranged(cal.year(cal.today.year - n), f"{n} years ago ({cal.today.year - n})")


@_rule(rf"({_ZH_NUM})个月前")
def _zh_months_ago(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    return _ranged(cal.months_ago(_zh_number(m.group(1))), f"{_zh_number(m.group(1))} months ago")


@_rule(r"上个?月|这个月|本月|上个?(?:星期|礼拜)|上周|这个?(?:星期|礼拜)|这周|本周|昨天|前天|今天")
def _zh_recent(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    word = m.group(0)
    if "月" in word:
        return _ranged(cal.months_ago(1 if word.startswith("上") else 0), "last month" if word.startswith("上") else "this month")
    if word in ("昨天", "前天", "今天"):
        n = {"今天": 0, "昨天": 1, "前天": 2}[word]
        return _ranged(cal.days_back(n), {0: "today", 1: "yesterday", 2: "the day before yesterday"}[n])
    return _ranged(cal.week(1 if word.startswith("上") else 0), "last week" if word.startswith("上") else "this week")


@_rule(rf"(?<![\d年])({_ZH_NUM})月(?:({_ZH_NUM}|[0-3]?\d)[日号])?")
def _zh_month(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    month = _zh_number(m.group(1))
    if not 1 <= month <= 12:
        return None
    if m.group(2):
        d = int(m.group(2)) if m.group(2).isdigit() else _zh_number(m.group(2))
        if not _valid_day(2000, month, d):
            return None
        return DateFilter(month_day=(month, d)), f"{d} {MONTH_NAMES[month - 1][:3]} (any year)"
    return DateFilter(months=frozenset({month})), f"{MONTH_NAMES[month - 1]} (any year)"


@_rule(rf"(?:在|于)({_ZH_SEASON})|({_ZH_SEASON})(?:的时候|时)")
def _zh_season_any_year(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    first = _ZH_SEASONS[(m.group(1) or m.group(2))[0]]
    name = next(k for k, v in SEASONS.items() if v == first and k != "fall")
    return DateFilter(months=frozenset((first + i - 1) % 12 + 1 for i in range(3))), f"{name} (any year)"


# -- English ---------------------------------------------------------------------------------------------------

@_rule(rf"{_START}(?:(?:from|between)\s+)?({_Y})\s*(?:-|–|to|until|till|through|and)\s*({_Y}){_END}")
def _years_range(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    a, b = sorted((int(m.group(1)), int(m.group(2))))
    return _ranged((cal.year(a)[0], cal.year(b)[1]), f"{a}–{b}")


@_rule(rf"{_START}(before|after|since|until|till|prior to|earlier than|later than)\s+(?:({_MONTH})\s+(?:of\s+)?)?({_Y}){_END}")
def _before_after(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    y = int(m.group(3))
    month = MONTHS[m.group(2).lower().rstrip(".")] if m.group(2) else None
    period = cal.month(y, month) if month else cal.year(y)
    label = f"{MONTH_NAMES[month - 1]} {y}" if month else str(y)
    word = m.group(1).lower()
    if word in ("before", "prior to", "earlier than"):
        return DateFilter(ranges=((None, period[0]),)), f"before {label}"
    if word == "since":
        return DateFilter(ranges=((period[0], None),)), f"since {label}"
    if word in ("until", "till"):
        return DateFilter(ranges=((None, period[1]),)), f"until {label}"
    return DateFilter(ranges=((period[1], None),)), f"after {label}"


@_rule(rf"{_START}(?:on\s+)?({_Y})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_END}")
def _iso_day(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    y, month, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not _valid_day(y, month, d):
        return None
    return _ranged(cal.day(y, month, d), f"{d} {MONTH_NAMES[month - 1][:3]} {y}")


@_rule(rf"{_START}(?:on\s+)?(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})|({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?),?\s+({_Y}){_END}")
def _day_month_year(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    d = int(m.group(1) or m.group(4))
    month = MONTHS[(m.group(2) or m.group(3)).lower().rstrip(".")]
    y = int(m.group(5))
    if not _valid_day(y, month, d):
        return None
    return _ranged(cal.day(y, month, d), f"{d} {MONTH_NAMES[month - 1][:3]} {y}")


@_rule(rf"{_START}(?:{_CUE})?(?:({_MONTH})\s+(?:of\s+)?({_Y})|({_Y})[-/](\d{{2}})|({_Y})\s+({_MONTH})){_END}")
def _month_year(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    if m.group(1):
        month, y = MONTHS[m.group(1).lower().rstrip(".")], int(m.group(2))
    elif m.group(3):
        y, month = int(m.group(3)), int(m.group(4))
    else:
        y, month = int(m.group(5)), MONTHS[m.group(6).lower().rstrip(".")]
    if not 1 <= month <= 12:
        return None
    return _ranged(cal.month(y, month), f"{MONTH_NAMES[month - 1]} {y}")


@_rule(rf"{_START}(?:{_CUE})?(?:({_SEASON})\s+(?:of\s+)?({_Y})|({_Y})\s+({_SEASON})){_END}")
def _season_year(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    name = (m.group(1) or m.group(4)).lower()
    y = int(m.group(2) or m.group(3))
    return _ranged(cal.season(y, SEASONS[name]), _season_label(name, y))


@_rule(rf"{_START}(last|this|past)\s+({_SEASON}|year|month|week|{_MONTH}){_END}")
def _relative(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    which, unit = m.group(1).lower(), m.group(2).lower().rstrip(".")
    last = which in ("last", "past")
    if unit == "year":
        y = cal.today.year - last
        return _ranged(cal.year(y), f"{which} year ({y})")
    if unit == "month":
        return _ranged(cal.months_ago(int(last)), f"{which} month")
    if unit == "week":
        return _ranged(cal.week(int(last)), f"{which} week")
    if unit in SEASONS:
        y = cal.last_season(SEASONS[unit]) if last else cal.this_season(SEASONS[unit])
        return _ranged(cal.season(y, SEASONS[unit]), _season_label(unit, y))
    month = MONTHS[unit]
    y = cal.today.year if (not last or month < cal.today.month) else cal.today.year - 1
    return _ranged(cal.month(y, month), f"{MONTH_NAMES[month - 1]} {y}")


@_rule(rf"{_START}(a|one|two|three|four|five|six|seven|eight|nine|ten|\d{{1,2}})\s+(years?|months?)\s+ago{_END}")
def _ago(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    words = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
    n = int(m.group(1)) if m.group(1).isdigit() else words[m.group(1).lower()]
    if m.group(2).lower().startswith("year"):
        return _ranged(cal.year(cal.today.year - n), f"{n} year{'s' * (n > 1)} ago ({cal.today.year - n})")
    return _ranged(cal.months_ago(n), f"{n} month{'s' * (n > 1)} ago")


@_rule(rf"{_START}(yesterday|today){_END}")
def _yesterday(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    n = int(m.group(1).lower() == "yesterday")
    return _ranged(cal.days_back(n), m.group(1).lower())


@_rule(rf"{_START}(?:(?:in|from|during)\s+)?(?:the\s+)?(?:(19[0-9]0|20[0-9]0)s|'?([0-9]0)s){_END}")
def _decade(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    if m.group(1):
        start = int(m.group(1))
    else:
        two = int(m.group(2))
        start = 1900 + two if two >= 30 else 2000 + two
    return _ranged((cal.year(start)[0], cal.year(start + 9)[1]), f"the {start}s")


@_rule(rf"{_START}(?:on\s+)?(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})|({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?){_END}")
def _day_month(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    d = int(m.group(1) or m.group(4))
    month = MONTHS[(m.group(2) or m.group(3)).lower().rstrip(".")]
    if not _valid_day(2000, month, d):
        return None
    return DateFilter(month_day=(month, d)), f"{d} {MONTH_NAMES[month - 1][:3]} (any year)"


@_rule(rf"{_START}(?:{_CUE})?({_Y}){_END}(?!\s*(?:px|mm|cm|km|m|kg|x|×|people|pixels?)\b)")
def _year(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    y = int(m.group(1))
    if y > cal.today.year + 1:
        return None
    return _ranged(cal.year(y), str(y))


@_rule(rf"{_START}((?:in|during|since|until|till|of|from)\s+(?:the\s+)?)?({_MONTH}|{_SEASON}){_END}")
def _month_or_season_any_year(m: re.Match[str], cal: _Calendar) -> tuple[DateFilter, str] | None:
    word = m.group(2).lower().rstrip(".")
    cue = m.group(1)
    if word in SEASONS:
        if not cue:
            return None  # "summer", "winter" alone describe how photos look: they stay words
        first = SEASONS[word]
        return DateFilter(months=frozenset((first + i - 1) % 12 + 1 for i in range(3))), f"{word} (any year)"
    if word in AMBIGUOUS_MONTHS and not cue:
        return None  # "may the force", "march of the penguins"
    month = MONTHS[word]
    return DateFilter(months=frozenset({month})), f"{MONTH_NAMES[month - 1]} (any year)"


def find_dates(text: str, today: date, is_free: Callable[[int, int], bool]) -> Iterator[DatePhrase]:
    """Date phrases of ``text``, most specific forms first; each only where ``is_free(start, end)``.

    The caller claims each phrase it takes, so a later, vaguer rule never re-reads part of it.
    """
    cal = _Calendar(today)
    taken: list[tuple[int, int]] = []
    for pattern, handler in _RULES:
        for match in pattern.finditer(text):
            start, end = match.span()
            # Patterns may swallow leading spaces; the phrase starts at its first character.
            while start < end and text[start].isspace():
                start += 1
            if start == end or not is_free(start, end) or any(s < end and start < e for s, e in taken):
                continue
            result = handler(match, cal)
            if result is None:
                continue
            taken.append((start, end))
            yield DatePhrase(start, end, result[0], result[1])
