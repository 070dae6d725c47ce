"""XMP packets (embedded or in ``.xmp`` sidecars) read safely into the fields xmr uses.

XMP is XML from an untrusted file, so: packets over ``MAX_XMP_BYTES`` are refused, any DTD or entity
declaration is refused before parsing (XMP never needs one; this is what ``defusedxml`` would forbid: billion
laughs, external entities), and the stdlib expat parser never fetches anything. Fields are looked up by
namespace URI, in both forms XMP allows (attributes of ``rdf:Description`` or child elements, with
``rdf:Bag``/``rdf:Seq``/``rdf:Alt`` lists).

Sidecars: digiKam and darktable write ``photo.jpg.xmp``; Lightroom and digiKam (optionally) write
``photo.xmp``. Both are looked for, in that order, upper-case ``.XMP`` too.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from xmr_desktop.metadata.dates import as_text, parse_iso_datetime

log = logging.getLogger(__name__)

MAX_XMP_BYTES = 4 * 2**20
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_FORBIDDEN_TEXT = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "iptc": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "GPano": "http://ns.google.com/photos/1.0/panorama/",
}


class XmpRejected(ValueError):
    """A packet we refuse to parse; ``str()`` says why."""


@dataclass(frozen=True)
class XmpFields:
    """What xmr takes from an XMP packet (all optional).

    Attributes:
        date_original, date_created: exif:DateTimeOriginal, then photoshop:DateCreated / xmp:CreateDate, each
            with its offset in minutes when the ISO 8601 string had one.
        keywords: dc:subject, then the leaves of lr:hierarchicalSubject and digiKam:TagsList not already in it.
        title, description: dc:title / photoshop:Headline and dc:description (x-default language first).
        rating: xmp:Rating, -1 to 5.
        make, model, lens: tiff:Make, tiff:Model, exifEX:LensModel or aux:Lens (sidecars often carry them).
        latitude, longitude: exif:GPSLatitude/Longitude ("38,43.5N").
        city, region, country, country_code: photoshop:City/State/Country, Iptc4xmpCore:CountryCode.
        panorama: GPano says a viewer should show it as a panorama.
        screenshot: the packet says the image is a screenshot (iOS writes it as the user comment).
    """

    date_original: tuple[datetime, int | None] | None = None
    date_created: tuple[datetime, int | None] | None = None
    keywords: tuple[str, ...] = ()
    title: str | None = None
    description: str | None = None
    rating: int | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    country_code: str | None = None
    panorama: bool = False
    screenshot: bool = False


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


class _Properties:
    """All properties of all rdf:Description nodes, by qualified name, as lists of strings."""

    def __init__(self, root: ElementTree.Element) -> None:
        self.values: dict[str, list[str]] = {}
        for description in root.iter(f"{{{RDF}}}Description"):
            for name, value in description.attrib.items():
                if not name.startswith(f"{{{RDF}}}"):
                    self.values.setdefault(name, []).append(value)
            for child in description:
                self.values.setdefault(child.tag, []).extend(_element_values(child))

    def first(self, *names: str) -> str | None:
        for name in names:
            for value in self.values.get(name, ()):
                text = as_text(value)
                if text:
                    return text
        return None

    def all(self, name: str) -> list[str]:
        return [text for value in self.values.get(name, ()) if (text := as_text(value))]


def _element_values(element: ElementTree.Element) -> Iterator[str]:
    """An element's text, or the items of its rdf:Bag / Seq / Alt (x-default first for Alt)."""
    containers = [c for c in element if c.tag in (f"{{{RDF}}}Bag", f"{{{RDF}}}Seq", f"{{{RDF}}}Alt")]
    if not containers:
        if element.text and element.text.strip():
            yield element.text
        resource = element.get(f"{{{RDF}}}resource")
        if resource:
            yield resource
        return
    for container in containers:
        items = [li for li in container if li.tag == f"{{{RDF}}}li"]
        if container.tag == f"{{{RDF}}}Alt":
            items.sort(key=lambda li: li.get(XML_LANG, "") != "x-default")
        for li in items:
            if li.text and li.text.strip():
                yield li.text


def _gps_coordinate(text: str | None) -> float | None:
    """XMP GPS ``DDD,MM.mmk`` or ``DDD,MM,SSk`` (k = N/S/E/W) as signed decimal degrees."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d{1,3})(?:,(\d{1,2}(?:\.\d+)?))?(?:,(\d{1,2}(?:\.\d+)?))?\s*([NSEWnsew])\s*", text)
    if not match:
        return None
    degrees = int(match.group(1)) + float(match.group(2) or 0) / 60 + float(match.group(3) or 0) / 3600
    return -degrees if match.group(4).upper() in "SW" else degrees


def _leaves(paths: list[str], separator: str) -> list[str]:
    return [path.split(separator)[-1].strip() for path in paths if path.split(separator)[-1].strip()]


def parse_xmp(packet: bytes | str) -> XmpFields:
    """Parse one XMP packet. Raises XmpRejected for oversized, DTD-bearing or malformed packets."""
    size = len(packet)
    if size > MAX_XMP_BYTES:
        raise XmpRejected(f"XMP packet of {size / 2**20:.1f} MiB is over the {MAX_XMP_BYTES // 2**20} MiB limit")
    if isinstance(packet, bytes):
        packet = packet.rstrip(b"\x00 \t\r\n")
        forbidden = _FORBIDDEN.search(packet)
    else:
        packet = packet.rstrip("\x00 \t\r\n")
        forbidden = _FORBIDDEN_TEXT.search(packet)
    if forbidden:
        raise XmpRejected("XMP packet declares a DTD or entities")
    try:
        root = ElementTree.fromstring(packet)
    except (ElementTree.ParseError, ValueError, UnicodeError) as error:  # ValueError: e.g. NUL inside
        raise XmpRejected(f"XMP packet is not well-formed XML ({error})") from error
    props = _Properties(root)
    keywords = props.all(_q("dc", "subject"))
    for extra in _leaves(props.all(_q("lr", "hierarchicalSubject")), "|") + _leaves(props.all(_q("digiKam", "TagsList")), "/"):
        if extra.casefold() not in {k.casefold() for k in keywords}:
            keywords.append(extra)
    rating_text = props.first(_q("xmp", "Rating"))
    rating: int | None = None
    try:
        rating = round(float(rating_text)) if rating_text else None
    except ValueError:
        rating = None
    if rating is not None and not -1 <= rating <= 5:
        rating = None
    projection = (props.first(_q("GPano", "ProjectionType")) or "").casefold()
    viewer = (props.first(_q("GPano", "UsePanoramaViewer")) or "").casefold()
    comment = props.first(_q("exif", "UserComment")) or ""
    return XmpFields(
        date_original=parse_iso_datetime(props.first(_q("exif", "DateTimeOriginal"))),
        date_created=parse_iso_datetime(props.first(_q("photoshop", "DateCreated"), _q("xmp", "CreateDate"))),
        keywords=tuple(dict.fromkeys(k.strip() for k in keywords if k.strip())),
        title=props.first(_q("dc", "title"), _q("photoshop", "Headline")),
        description=props.first(_q("dc", "description")),
        rating=rating,
        make=props.first(_q("tiff", "Make")),
        model=props.first(_q("tiff", "Model")),
        lens=props.first(_q("exifEX", "LensModel"), _q("aux", "Lens")),
        latitude=_gps_coordinate(props.first(_q("exif", "GPSLatitude"))),
        longitude=_gps_coordinate(props.first(_q("exif", "GPSLongitude"))),
        city=props.first(_q("photoshop", "City")),
        region=props.first(_q("photoshop", "State")),
        country=props.first(_q("photoshop", "Country")),
        country_code=props.first(_q("iptc", "CountryCode")),
        panorama=projection in ("equirectangular", "cylindrical") or viewer == "true",
        screenshot=comment.casefold() == "screenshot",
    )


def sidecar_candidates(path: str) -> list[str]:
    """Where a photo's sidecar may be: ``photo.jpg.xmp`` (digiKam, darktable) before ``photo.xmp`` (Lightroom)."""
    stem = os.path.splitext(path)[0]
    return [path + ".xmp", path + ".XMP", stem + ".xmp", stem + ".XMP"]


def read_sidecar(path: str, listing: frozenset[str] | None = None) -> tuple[str | None, bytes | None]:
    """The first sidecar of ``path`` that exists, as ``(sidecar path, bytes)``; ``(None, None)`` if none.

    ``listing``: the names in the photo's folder when the caller has them (a scan does), so no ``stat`` is
    spent on sidecars that are not there. Oversized and non-regular files are refused (XmpRejected).
    """
    for candidate in sidecar_candidates(path):
        if listing is not None and os.path.basename(candidate) not in listing:
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise XmpRejected(f"sidecar {candidate} is not a regular file")
            if info.st_size > MAX_XMP_BYTES:
                raise XmpRejected(f"sidecar {candidate} is over the {MAX_XMP_BYTES // 2**20} MiB limit")
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return candidate, handle.read(MAX_XMP_BYTES + 1)
        finally:
            os.close(fd)
    return None, None
