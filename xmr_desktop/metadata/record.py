"""The metadata of one photo, as read from its file (and sidecar), before and after place lookup."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Literal

# Where the date taken came from, best first; shown to the user beside the date.
TakenSource = Literal["exif", "xmp", "iptc", "filename", "mtime"]
TAKEN_SOURCES: tuple[TakenSource, ...] = ("exif", "xmp", "iptc", "filename", "mtime")
PhotoKind = Literal["photo", "screenshot", "panorama"]
PlaceSource = Literal["gps", "tags"]


@dataclass(frozen=True)
class TakenAt:
    """When a photo was taken, as the clock where it was taken showed it.

    Attributes:
        local: the wall-clock time at the place of capture (naive). Year, month and day filters and the day
            headers of the date-sorted grid use this: a photo taken at 23:30 on 31 December in Tokyo is a
            photo of that year, whatever the time zone of the computer now.
        offset_minutes: minutes east of UTC of that clock when known (EXIF OffsetTime*, an ISO 8601 offset in
            XMP or IPTC, the GPS clock, or this computer's zone for a file's modification time); None when
            the source has only a naive time (most cameras before 2018, file names).
        source: which of ``TAKEN_SOURCES`` it came from.
    """

    local: datetime
    offset_minutes: int | None
    source: TakenSource

    @property
    def local_seconds(self) -> int:
        """``local`` as seconds since 1970-01-01 00:00 on the same wall clock: what the index stores and
        compares, so a date filter is a plain integer range on one indexed column."""
        return calendar.timegm(self.local.timetuple())

    @property
    def utc(self) -> datetime | None:
        """The absolute instant, when the offset is known."""
        if self.offset_minutes is None:
            return None
        return (self.local - timedelta(minutes=self.offset_minutes)).replace(tzinfo=timezone.utc)

    def isoformat(self) -> str:
        """ISO 8601: with the offset when known (``2023-07-14T10:11:12+02:00``), else naive local time."""
        if self.offset_minutes is None:
            return self.local.isoformat()
        return self.local.replace(tzinfo=timezone(timedelta(minutes=self.offset_minutes))).isoformat()


@dataclass(frozen=True)
class Place:
    """Where a photo was taken, in words.

    Attributes:
        city: nearest town of the gazetteer (GPS), or the city written in the photo's IPTC/XMP tags.
        region: state / province where known (GeoNames names it for US states and the UK's nations only).
        region_code: GeoNames' first-level region code (``CA`` for California, ``ENG`` for England), from GPS.
        country_code: ISO 3166-1 alpha-2, upper case.
        country: the country's English name.
        city_id: the GeoNames id of ``city`` when it is a gazetteer town.
        source: "gps" (looked up from coordinates) or "tags" (written by a photo manager).
    """

    city: str | None
    region: str | None
    country_code: str | None
    country: str | None
    city_id: int | None
    source: PlaceSource
    region_code: str | None = None

    def label(self) -> str:
        """``Lisbon, Portugal``: the non-empty parts, most precise first."""
        return ", ".join(part for part in (self.city, self.region, self.country) if part)


@dataclass(frozen=True)
class PhotoMetadata:
    """Everything read from one photo file and its ``.xmp`` sidecar; absent fields are None / empty.

    Attributes:
        taken: date taken with its source (never None once a file's mtime is known).
        camera: normalised "make model" for display and filters (``Apple iPhone 12``, ``FUJIFILM X-T3``).
        camera_make, camera_model: the brand and the model as normalised parts of ``camera``.
        lens: lens model as the camera or the sidecar wrote it.
        latitude, longitude: decimal degrees, south and west negative; None without a usable GPS fix.
        altitude: metres above sea level (negative below).
        place: where it was taken, after ``with_place`` (GPS lookup) or from IPTC/XMP location tags.
        place_tags: (city, region, country, country code) as written in IPTC/XMP, for the place lookup.
        keywords: IPTC/XMP/Windows keywords, in order, duplicates removed.
        title, description: from XMP dc:title/dc:description, IPTC, or the EXIF image description.
        rating: -1 (rejected) to 5 stars.
        width, height: upright pixel size (EXIF orientation applied).
        file_format: jpeg, png, webp, gif, bmp, tiff or heic.
        kind: photo, screenshot or panorama.
        problems: what could not be read (damaged EXIF, oversized XMP); logged, never raised.
    """

    taken: TakenAt | None = None
    camera: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    lens: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    place: Place | None = None
    place_tags: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None)
    keywords: tuple[str, ...] = ()
    title: str | None = None
    description: str | None = None
    rating: int | None = None
    width: int = 0
    height: int = 0
    file_format: str | None = None
    kind: PhotoKind = "photo"
    problems: tuple[str, ...] = field(default=(), compare=False)

    def with_place(self, place: Place | None) -> "PhotoMetadata":
        return replace(self, place=place)

    def json_fields(self) -> dict[str, object]:
        """What ``xmr search --json`` adds to a result: ``taken_at`` (ISO 8601), ``taken_at_source``, ``place``,
        ``camera`` and ``keywords`` (None / empty when unknown)."""
        return {
            "taken_at": self.taken.isoformat() if self.taken else None,
            "taken_at_source": self.taken.source if self.taken else None,
            "place": self.place.label() if self.place else None,
            "camera": self.camera,
            "keywords": list(self.keywords),
        }
