"""Dates that cameras, phones and apps write into file names, for photos without a date inside.

Recognised (times optional): ``IMG_20230714_101112.jpg`` (Android), ``20230714_101112.jpg`` (Samsung),
``IMG-20230714-WA0001.jpg`` (WhatsApp), ``2023-07-14 10.11.12.jpg`` (Dropbox), ``photo_2023-07-14_10-11-12.jpg``
(Telegram), ``Screenshot_2023-07-14-10-11-12-123_app.png`` / ``Screenshot_20230714-101112.png`` (Android),
``Screenshot 2023-07-14 at 10.11.12.png`` / ``Screen Shot 2020-01-01 at 10.11.12 AM.png`` (macOS),
``截屏2023-07-14 10.11.12.png``, ``Bildschirmfoto 2023-07-14 um 10.11.12.png``, ``微信图片_20230714101112.jpg``
(WeChat), ``PXL_20230714_101112345.jpg`` (Pixel, whose names are in UTC), and ``mmexport1689329472000.jpg`` /
``wx_camera_1689329472000.jpg`` (WeChat: milliseconds since 1970, UTC).

Names hold local wall-clock time without a zone, except the two UTC forms, which are shown in this computer's
zone (the best guess: most photos are taken at home). A date after ``now`` (plus a day) or before 1970 is no
capture date and is ignored, as is a run of digits that is longer than a date (``IMG_202307141``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from xmr_desktop.metadata.dates import build

_DATE_TIME = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})(?P<s>[-_.]?)(?P<m>\d{2})(?P=s)(?P<d>\d{2})"
    r"(?:(?:[ _\-T.]|\s+(?:at|um|à|a las|alle|om)\s+)?"
    r"(?P<H>\d{2})(?P<t>[-_.:h]?)(?P<M>\d{2})(?P=t)(?P<S>\d{2})(?P<ms>\d{3})?(?:\s*(?P<ampm>[AaPp][Mm])(?![A-Za-z]))?)?"
    r"(?!\d)"
)
_EPOCH_MS = re.compile(r"(?:mmexport|wx_camera_|microMsg\.)(1\d{12})(?!\d)", re.IGNORECASE)
_PIXEL = re.compile(r"^PXL_", re.IGNORECASE)


def _utc_to_local(moment: datetime) -> tuple[datetime, int]:
    local = moment.replace(tzinfo=timezone.utc).astimezone()
    offset = local.utcoffset() or timedelta(0)
    return local.replace(tzinfo=None), int(offset.total_seconds() // 60)


def date_from_filename(name: str, now: datetime | None = None) -> tuple[datetime, int | None] | None:
    """The capture time written in a file name (base name, with or without extension), with its offset in
    minutes when the name is in UTC; None when the name holds no plausible date."""
    latest = (now or datetime.now()) + timedelta(days=1)
    epoch = _EPOCH_MS.search(name)
    if epoch:
        moment = datetime(1970, 1, 1) + timedelta(milliseconds=int(epoch.group(1)))
        if moment <= latest:
            return _utc_to_local(moment)
    for match in _DATE_TIME.finditer(name):
        hour = int(match.group("H") or 0)
        if match.group("ampm"):
            if not 1 <= hour <= 12:
                continue
            hour = hour % 12 + (12 if match.group("ampm").lower() == "pm" else 0)
        moment = build(
            int(match.group("y")), int(match.group("m")), int(match.group("d")),
            hour, int(match.group("M") or 0), int(match.group("S") or 0),
        )
        if moment is None or moment.year < 1970 or moment > latest or (match.group("H") and hour > 23):
            continue
        if _PIXEL.match(name) and match.group("H"):
            return _utc_to_local(moment)
        return moment, None
    return None
