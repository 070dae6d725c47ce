"""Parsing the date strings photo metadata holds: EXIF ``YYYY:MM:DD HH:MM:SS``, ISO 8601 (XMP), IPTC parts.

Every function returns None for anything it cannot read (blank ``    :  :     :  :  `` fields, year 0,
month 13, wrong types); nothing raises. Years outside 1826 (the oldest photograph) to 2200 are refused,
which catches cameras whose clock was never set to something meaningful and stray numbers.
"""

from __future__ import annotations

import re
from datetime import datetime

MIN_YEAR = 1826
MAX_YEAR = 2200

# EXIF says "YYYY:MM:DD HH:MM:SS"; real files also hold "YYYY-MM-DD", a "T", missing seconds, NUL padding.
_EXIF_DATE = re.compile(
    r"\s*(\d{4})[:\-/.](\d{1,2})[:\-/.](\d{1,2})(?:[ T]+(\d{1,2})[:.](\d{1,2})(?:[:.](\d{1,2}))?)?"
)
_ISO_DATE = re.compile(
    r"\s*(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
_OFFSET = re.compile(r"\s*(Z|([+-])(\d{1,2}):?(\d{2}))\s*$")


def as_text(value: object) -> str | None:
    """A metadata value as text: str as is, bytes as UTF-8 (or Latin-1), anything else refused."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text or None


def build(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime | None:
    """A datetime, or None when the parts are no real date (checks the calendar, e.g. 30 February)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return datetime(year, month, day, hour, minute, min(second, 59))  # 60: leap second written by some
    except ValueError:
        return None


def parse_exif_datetime(value: object) -> datetime | None:
    """An EXIF DateTimeOriginal / CreateDate value as a naive datetime."""
    text = as_text(value)
    match = _EXIF_DATE.match(text) if text else None
    if not match:
        return None
    parts = [int(group) if group else 0 for group in match.groups()]
    return build(*parts)


def parse_offset(value: object) -> int | None:
    """An offset such as ``+02:00``, ``-0530`` or ``Z`` in minutes east of UTC (within ±14 h)."""
    text = as_text(value)
    match = _OFFSET.match(text) if text else None
    if not match:
        return None
    if match.group(1) == "Z":
        return 0
    minutes = int(match.group(3)) * 60 + int(match.group(4))
    if minutes > 14 * 60 or int(match.group(4)) >= 60:
        return None
    return -minutes if match.group(2) == "-" else minutes


def parse_iso_datetime(value: object) -> tuple[datetime, int | None] | None:
    """An ISO 8601 date as XMP writes it (``2023-07-14T10:11:12+02:00``, ``2023-07``, ``2023``).

    Returns the naive local time and the offset in minutes (None when not written). A date without a
    day counts as the first day of its month or year.
    """
    text = as_text(value)
    match = _ISO_DATE.match(text) if text else None
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    moment = build(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0))
    if moment is None:
        return None
    return moment, parse_offset(offset) if offset and hour else None


def parse_iptc_datetime(date_value: object, time_value: object) -> tuple[datetime, int | None] | None:
    """IPTC DateCreated ``CCYYMMDD`` with TimeCreated ``HHMMSS±HHMM``."""
    date_text = as_text(date_value)
    if not date_text or not re.fullmatch(r"\d{8}", date_text):
        return None
    time_text = as_text(time_value) or ""
    match = re.fullmatch(r"(\d{2})(\d{2})(\d{2})([+-]\d{4})?", time_text)
    hour, minute, second = (int(match.group(i)) for i in (1, 2, 3)) if match else (0, 0, 0)
    moment = build(int(date_text[:4]), int(date_text[4:6]), int(date_text[6:]), hour, minute, second)
    if moment is None:
        return None
    return moment, parse_offset(match.group(4)) if match and match.group(4) else None
