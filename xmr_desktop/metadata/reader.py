"""Read one photo's metadata: date taken (with its source), camera, lens, GPS, tags, rating, size, type.

Fast and safe: only the headers Pillow parses when it opens a file (JPEG markers up to the image data, PNG
chunks before the pixels, TIFF directories) are read — never the pixels — and only in the formats xmr indexes.
Damaged or hostile metadata (broken EXIF offsets, wrong types, oversized or DTD-bearing XMP) is noted in
``PhotoMetadata.problems`` and skipped; nothing about a file's content raises.

Two ways to call it:

- The indexer's decode worker already has the file's bytes open as a Pillow image: pass that image
  (``image=``) straight after ``Image.open`` — before ``draft()``, ``exif_transpose`` or ``convert``, which drop
  or rewrite the metadata — with the ``os.stat`` size and mtime the scan recorded. Nothing is read twice.
- A background pass over an existing index passes only the path; the file is opened here (headers only).

Date taken, best first: EXIF DateTimeOriginal (with OffsetTimeOriginal, else the offset the GPS clock implies),
EXIF CreateDate (DateTimeDigitized), XMP (exif:DateTimeOriginal, photoshop:DateCreated, xmp:CreateDate; sidecar
before embedded), IPTC DateCreated/TimeCreated, a date in the file name, the file's modification time (in this
computer's zone).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import stat
import struct
from datetime import datetime, timedelta
from typing import Any

from PIL import Image

from xmr_desktop.metadata.camera import normalise_camera
from xmr_desktop.metadata.exif import ExifFields, read_exif, taken_with_offset
from xmr_desktop.metadata.filename_dates import date_from_filename
from xmr_desktop.metadata.iptc import IptcFields, iptc_block, parse_iptc
from xmr_desktop.metadata.record import PhotoKind, PhotoMetadata, TakenAt
from xmr_desktop.metadata.xmp import XmpFields, XmpRejected, parse_xmp, read_sidecar

log = logging.getLogger(__name__)

# Bump when the reader learns something new: rows read by an older reader are read again (storage.pending).
READER_VERSION = 1

# Pillow format names of what the scanner indexes; a file opened here is never tried against other plugins.
INDEXED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF")
_FORMAT_NAMES = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp",
                 "DIB": "bmp", "TIFF": "tiff", "HEIF": "heic", "AVIF": "heic"}
# What damaged metadata makes Pillow and our parsers raise.
_DAMAGED = (OSError, ValueError, TypeError, KeyError, IndexError, SyntaxError, struct.error, ZeroDivisionError,
            OverflowError, EOFError, AttributeError, RecursionError)

_SCREENSHOT_WORDS = re.compile(
    r"screen\s*shot|screen_shot|bildschirmfoto|capture d.[ée]cran|captura de pantalla|schermafbeelding|schermata|"
    r"zrzut ekranu|sn[íi]mek obrazovky|スクリーンショット|截屏|截图|屏幕截图|屏幕快照|螢幕截圖|螢幕快照|스크린샷",
    re.IGNORECASE,
)
# Folders phones and desktops save screenshots into (the name alone, not a word inside a longer name).
_SCREENSHOT_FOLDER = re.compile(
    r"screen\s*shots?|screencaps?|bildschirmfotos|captures? d.[ée]cran|capturas de pantalla|截屏|截图|屏幕截图|螢幕截圖",
    re.IGNORECASE,
)
_PANORAMA_NAME = re.compile(r"^pano[_-]|[_-]pano(?:rama)?\b|panorama", re.IGNORECASE)
PANORAMA_ASPECT = 2.5


def read_metadata(
    path: str,
    *,
    image: Image.Image | None = None,
    size: int | None = None,
    mtime_ns: int | None = None,
    folder_listing: frozenset[str] | None = None,
    now: datetime | None = None,
) -> PhotoMetadata:
    """Everything xmr keeps about one photo besides its pixels.

    ``image``: the caller's Pillow image of this file, freshly opened (see the module docstring).
    ``size``, ``mtime_ns``: the file's stat, when the caller has it (else one ``os.stat``).
    ``folder_listing``: names in the photo's folder, so sidecars are looked for without a ``stat`` each.
    ``now``: for tests; a file-name date after it is no capture date.
    Raises OSError only when the file itself cannot be opened or stat'ed (vanished, permission denied).
    """
    problems: list[str] = []
    if mtime_ns is None or size is None:
        info = os.stat(path)
        mtime_ns, size = info.st_mtime_ns, info.st_size
    if image is not None:
        return _from_image(path, image, mtime_ns, folder_listing, now, problems)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"not a regular file: {path}")
        try:
            opened = Image.open(handle, formats=_openable_formats())
        except (Image.UnidentifiedImageError, Image.DecompressionBombError, *_DAMAGED) as error:
            problems.append(f"not readable as an image: {error}")
            return _combine(path, mtime_ns, ExifFields(), XmpFields(), XmpFields(), None, 0, 0, None, now, problems)
        with opened:
            return _from_image(path, opened, mtime_ns, folder_listing, now, problems)


@functools.cache
def _openable_formats() -> list[str]:
    Image.init()
    try:  # HEIC is indexed when pillow_heif is installed (the scanner's rule); its opener must be registered
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except (ImportError, OSError):
        pass
    return [name for name in INDEXED_FORMATS if name in Image.OPEN]


def _from_image(
    path: str, image: Image.Image, mtime_ns: int, listing: frozenset[str] | None, now: datetime | None,
    problems: list[str],
) -> PhotoMetadata:
    exif = _exif(image, problems)
    embedded = _xmp(image.info.get("xmp") or image.info.get("XML:com.adobe.xmp"), "embedded XMP", problems)
    sidecar = XmpFields()
    try:
        sidecar_path, packet = read_sidecar(path, listing)
        if packet is not None:
            sidecar = _xmp(packet, f"sidecar {os.path.basename(sidecar_path or '')}", problems)
    except (OSError, XmpRejected) as error:
        problems.append(f"sidecar: {error}")
    iptc = None
    try:
        block = iptc_block(image)
        iptc = parse_iptc(block) if block else None
    except _DAMAGED as error:
        problems.append(f"IPTC unreadable: {error}")
    width, height = image.size if isinstance(image.size, tuple) else (0, 0)
    if exif.orientation in (5, 6, 7, 8):
        width, height = height, width
    file_format = _FORMAT_NAMES.get(image.format or "", (image.format or "").lower() or None)
    return _combine(path, mtime_ns, exif, embedded, sidecar, iptc, width, height, file_format, now, problems)


def _exif(image: Image.Image, problems: list[str]) -> ExifFields:
    # A PNG's getexif() decodes the whole image to look for an eXIf chunk after the pixels: look only at what
    # was found before them.
    if image.format == "PNG" and "exif" not in image.info and "Raw profile type exif" not in image.info:
        return ExifFields()
    try:
        return read_exif(image.getexif())
    except _DAMAGED as error:
        problems.append(f"EXIF unreadable: {error}")
        return ExifFields()


def _xmp(packet: Any, where: str, problems: list[str]) -> XmpFields:
    if not packet or not isinstance(packet, (bytes, str)):
        return XmpFields()
    try:
        return parse_xmp(packet)
    except XmpRejected as error:
        problems.append(f"{where}: {error}")
        return XmpFields()


def _taken(
    path: str, mtime_ns: int, exif: ExifFields, xmps: tuple[XmpFields, XmpFields], iptc: IptcFields | None,
    now: datetime | None,
) -> TakenAt:
    for local, offset in (
        (exif.original, exif.original_offset),
        (exif.digitized, exif.digitized_offset),
    ):
        found = taken_with_offset(local, offset, exif.gps_utc)
        if found is not None:
            return TakenAt(found[0], found[1], "exif")
    for xmp in xmps:
        for found in (xmp.date_original, xmp.date_created):
            if found is not None:
                return TakenAt(found[0], found[1], "xmp")
    if iptc is not None and iptc.created is not None:
        return TakenAt(iptc.created[0], iptc.created[1], "iptc")
    named = date_from_filename(os.path.basename(path), now)
    if named is not None:
        return TakenAt(named[0], named[1], "filename")
    moment = datetime.fromtimestamp(mtime_ns / 1e9).astimezone()
    offset = moment.utcoffset() or timedelta(0)
    return TakenAt(moment.replace(tzinfo=None, microsecond=0), int(offset.total_seconds() // 60), "mtime")


def _kind(path: str, width: int, height: int, has_camera: bool, xmps: tuple[XmpFields, ...], exif: ExifFields) -> PhotoKind:
    name = os.path.basename(path)
    folder = os.path.basename(os.path.dirname(path))
    if (
        _SCREENSHOT_WORDS.search(name)
        or _SCREENSHOT_FOLDER.fullmatch(folder)
        or (exif.user_comment or "").casefold() == "screenshot"  # iOS writes this
        or any(x.screenshot for x in xmps)
    ):
        return "screenshot"
    if any(x.panorama for x in xmps) or _PANORAMA_NAME.search(name):
        return "panorama"
    if width and height:
        wide = width / height >= PANORAMA_ASPECT
        # Tall strips without a camera are long web pages and chat exports more often than panoramas.
        tall = height / width >= PANORAMA_ASPECT and has_camera
        if wide or tall:
            return "panorama"
    return "photo"


def _combine(
    path: str, mtime_ns: int, exif: ExifFields, embedded: XmpFields, sidecar: XmpFields, iptc: IptcFields | None,
    width: int, height: int, file_format: str | None, now: datetime | None, problems: list[str],
) -> PhotoMetadata:
    xmps = (sidecar, embedded)  # a sidecar holds the photo manager's latest edits
    iptc_fields = iptc or IptcFields()
    camera, brand, model = normalise_camera(
        exif.make or _first(x.make for x in xmps), exif.model or _first(x.model for x in xmps)
    )
    latitude, longitude = exif.latitude, exif.longitude
    if latitude is None or longitude is None:
        latitude, longitude = next(((x.latitude, x.longitude) for x in xmps if x.latitude is not None and x.longitude is not None), (None, None))
    keywords: dict[str, str] = {}
    for keyword in (*sidecar.keywords, *embedded.keywords, *iptc_fields.keywords, *exif.keywords):
        keywords.setdefault(keyword.casefold(), keyword)
    place_tags = (
        _first(x.city for x in xmps) or iptc_fields.city,
        _first(x.region for x in xmps) or iptc_fields.region,
        _first(x.country for x in xmps) or iptc_fields.country,
        _first(x.country_code for x in xmps) or iptc_fields.country_code,
    )
    if problems:
        log.debug("metadata of %s: %s", path, "; ".join(problems))
    return PhotoMetadata(
        taken=_taken(path, mtime_ns, exif, xmps, iptc, now),
        camera=camera,
        camera_make=brand,
        camera_model=model,
        lens=exif.lens or _first(x.lens for x in xmps),
        latitude=latitude,
        longitude=longitude,
        altitude=exif.altitude,
        place_tags=place_tags,
        keywords=tuple(keywords.values()),
        title=_first(x.title for x in xmps) or iptc_fields.title or exif.title,
        description=_first(x.description for x in xmps) or iptc_fields.description or exif.description,
        rating=_first(x.rating for x in xmps) if _first(x.rating for x in xmps) is not None else exif.rating,
        width=width,
        height=height,
        file_format=file_format,
        kind=_kind(path, width, height, camera is not None, xmps, exif),
        problems=tuple(problems),
    )


def _first(values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None
