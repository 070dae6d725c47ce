"""Reading the EXIF fields xmr uses from a Pillow ``Image.Exif``, defensively.

EXIF in the wild is full of surprises: strings where numbers belong, rationals with a zero denominator,
GPS references missing or lower case, blank dates, vendor junk in ImageDescription. Every reader here
returns None for what it cannot use; none raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from xmr_desktop.metadata.dates import as_text, build, parse_exif_datetime, parse_offset

IFD_EXIF = 0x8769
IFD_GPS = 0x8825

_IMAGE_DESCRIPTION = 0x010E
_MAKE = 0x010F
_MODEL = 0x0110
_ORIENTATION = 0x0112
_RATING = 0x4746  # written by Windows Explorer and some cameras
_XP_TITLE = 0x9C9B  # Windows Explorer's fields: UTF-16LE bytes
_XP_COMMENT = 0x9C9C
_XP_KEYWORDS = 0x9C9E
_XP_SUBJECT = 0x9C9F

_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004  # "CreateDate" in exiftool's words
_OFFSET_TIME = 0x9010
_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET_TIME_DIGITIZED = 0x9012
_USER_COMMENT = 0x9286
_LENS_MAKE = 0xA433
_LENS_MODEL = 0xA434

_GPS_LATITUDE_REF, _GPS_LATITUDE, _GPS_LONGITUDE_REF, _GPS_LONGITUDE = 1, 2, 3, 4
_GPS_ALTITUDE_REF, _GPS_ALTITUDE, _GPS_TIMESTAMP, _GPS_DATESTAMP = 5, 6, 7, 29

# What cameras put in ImageDescription when the user wrote nothing.
_JUNK_DESCRIPTIONS = frozenset(
    {"olympus digital camera", "sony dsc", "digital camera", "default", "image", "samsung", "exif_jpeg_picture",
     "sdr", "hdr", "lg electronics", "my beautiful picture", "picture", "dcim", "dsc", "cimg"}
)


@dataclass(frozen=True)
class ExifFields:
    """The EXIF values the reader combines with XMP, IPTC and the file name.

    Attributes:
        original, digitized: DateTimeOriginal / DateTimeDigitized (CreateDate) as naive local times.
        original_offset, digitized_offset: their OffsetTime* in minutes east of UTC, else OffsetTime.
        gps_utc: the GPS clock's UTC time of the fix, to recover an offset the camera did not write.
        make, model, lens: as written, trimmed.
        latitude, longitude, altitude: decimal degrees (south / west negative) and metres.
        orientation: 1-8; 5-8 mean the stored image is rotated a quarter turn.
        rating, title, description, keywords, user_comment: see the module docstring of ``reader``.
    """

    original: datetime | None = None
    original_offset: int | None = None
    digitized: datetime | None = None
    digitized_offset: int | None = None
    gps_utc: datetime | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    orientation: int = 1
    rating: int | None = None
    title: str | None = None
    description: str | None = None
    keywords: tuple[str, ...] = ()
    user_comment: str | None = None


def _number(value: Any) -> float | None:
    """A rational, int, float or (numerator, denominator) pair as a finite float."""
    try:
        if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
            number = value[0] / value[1]
        else:
            number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _degrees(value: Any) -> float | None:
    """GPS (degrees, minutes, seconds) — or a single number — as decimal degrees."""
    if isinstance(value, (tuple, list)):
        parts = [_number(v) for v in value[:3]]
        if not parts or any(p is None for p in parts):
            return None
        scale = (1.0, 60.0, 3600.0)
        return sum(p / s for p, s in zip(parts, scale))  # type: ignore[operator]
    return _number(value)


def _ref(value: Any) -> str:
    text = as_text(value)
    return text[:1].upper() if text else ""


def gps_position(gps: Any) -> tuple[float | None, float | None, float | None]:
    """(latitude, longitude, altitude) from a GPS IFD; the refs give the signs (S and W negative)."""
    latitude = _degrees(gps.get(_GPS_LATITUDE))
    longitude = _degrees(gps.get(_GPS_LONGITUDE))
    if latitude is None or longitude is None:
        return None, None, None
    if _ref(gps.get(_GPS_LATITUDE_REF)) == "S":
        latitude = -abs(latitude)
    if _ref(gps.get(_GPS_LONGITUDE_REF)) == "W":
        longitude = -abs(longitude)
    # (0, 0) is what receivers without a fix write; nobody photographs that spot in the Gulf of Guinea.
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or (latitude == 0 and longitude == 0):
        return None, None, None
    altitude = _number(gps.get(_GPS_ALTITUDE))
    if altitude is not None:
        below = gps.get(_GPS_ALTITUDE_REF)
        if below in (1, b"\x01", "1"):
            altitude = -abs(altitude)
        if abs(altitude) > 100_000:
            altitude = None
    return latitude, longitude, altitude


def _gps_utc(gps: Any) -> datetime | None:
    day = parse_exif_datetime(gps.get(_GPS_DATESTAMP))
    stamp = gps.get(_GPS_TIMESTAMP)
    if day is None or not isinstance(stamp, (tuple, list)) or len(stamp) != 3:
        return None
    parts = [_number(v) for v in stamp]
    if any(p is None or p < 0 for p in parts):
        return None
    hour, minute, second = (int(p) for p in parts)  # type: ignore[arg-type]
    return build(day.year, day.month, day.day, hour, minute, second) if hour < 24 and minute < 60 else None


def offset_from_gps(local: datetime, gps_utc: datetime | None) -> int | None:
    """The clock's UTC offset recovered from the GPS time of the same shot, when the two agree on a zone.

    Zones are whole quarter hours; the GPS time is of the fix, so it may trail the shutter by a few minutes.
    """
    if gps_utc is None:
        return None
    minutes = (local - gps_utc).total_seconds() / 60
    quarter = round(minutes / 15) * 15
    if abs(quarter) > 14 * 60 or abs(minutes - quarter) > 5:
        return None
    return int(quarter)


def _xp_text(value: Any) -> str | None:
    """Windows XP* tags: UTF-16LE in a BYTE array (Pillow gives bytes or a tuple of ints)."""
    if isinstance(value, tuple) and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        value = bytes(value)
    if isinstance(value, bytes):
        try:
            return as_text(value.decode("utf-16-le"))
        except UnicodeDecodeError:
            return None
    return as_text(value)


def _user_comment(value: Any) -> str | None:
    """EXIF UserComment: an 8-byte charset header ("ASCII\\0\\0\\0", "UNICODE\\0") then the text."""
    if isinstance(value, bytes) and len(value) >= 8:
        header, body = value[:8], value[8:]
        if header.startswith(b"UNICODE"):
            for codec in ("utf-16-be", "utf-16-le"):
                try:
                    return as_text(body.decode(codec))
                except UnicodeDecodeError:
                    continue
            return None
        return as_text(body)
    return as_text(value)


def _clean_description(text: str | None) -> str | None:
    if not text or text.casefold().strip(" .") in _JUNK_DESCRIPTIONS:
        return None
    return text


def read_exif(exif: Any) -> ExifFields:
    """The fields xmr uses from a Pillow ``Image.Exif`` (``image.getexif()``)."""
    exif_ifd = _sub_ifd(exif, IFD_EXIF)
    gps_ifd = _sub_ifd(exif, IFD_GPS)
    latitude, longitude, altitude = gps_position(gps_ifd)
    general_offset = parse_offset(exif_ifd.get(_OFFSET_TIME))
    original_offset = parse_offset(exif_ifd.get(_OFFSET_TIME_ORIGINAL))
    digitized_offset = parse_offset(exif_ifd.get(_OFFSET_TIME_DIGITIZED))
    orientation = exif.get(_ORIENTATION, 1)
    rating = _number(exif.get(_RATING))
    keywords = _xp_text(exif.get(_XP_KEYWORDS))
    lens = as_text(exif_ifd.get(_LENS_MODEL))
    lens_make = as_text(exif_ifd.get(_LENS_MAKE))
    if lens and lens_make and not lens.casefold().startswith(lens_make.casefold()):
        lens = f"{lens_make} {lens}"
    return ExifFields(
        original=parse_exif_datetime(exif_ifd.get(_DATETIME_ORIGINAL)),
        original_offset=original_offset if original_offset is not None else general_offset,
        digitized=parse_exif_datetime(exif_ifd.get(_DATETIME_DIGITIZED)),
        digitized_offset=digitized_offset if digitized_offset is not None else general_offset,
        gps_utc=_gps_utc(gps_ifd),
        make=as_text(exif.get(_MAKE)),
        model=as_text(exif.get(_MODEL)),
        lens=lens,
        latitude=latitude,
        longitude=longitude,
        altitude=altitude,
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1,
        rating=int(rating) if rating is not None and -1 <= rating <= 5 else None,
        title=_xp_text(exif.get(_XP_TITLE)) or _xp_text(exif.get(_XP_SUBJECT)),
        description=_clean_description(as_text(exif.get(_IMAGE_DESCRIPTION)) or _xp_text(exif.get(_XP_COMMENT))),
        keywords=tuple(k.strip() for k in keywords.split(";") if k.strip()) if keywords else (),
        user_comment=_user_comment(exif_ifd.get(_USER_COMMENT)),
    )


class _Empty(dict):  # type: ignore[type-arg]
    """An IFD that is not there."""


def _sub_ifd(exif: Any, tag: int) -> Any:
    try:
        ifd = exif.get_ifd(tag)
    except Exception:  # noqa: BLE001  Pillow raises many kinds on damaged offsets; the rest of EXIF is still usable
        return _Empty()
    return ifd if hasattr(ifd, "get") else _Empty()


def taken_with_offset(local: datetime | None, offset: int | None, gps_utc: datetime | None) -> tuple[datetime, int | None] | None:
    """A local time with its offset: the written one, else the one the GPS clock implies."""
    if local is None:
        return None
    return local, offset if offset is not None else offset_from_gps(local, gps_utc)
