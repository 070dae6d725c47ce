"""IPTC-IIM records (the "IPTC" block of JPEG APP13 / TIFF) parsed by hand, bounded and defensive.

Pillow finds the block (``image.info["photoshop"][0x0404]`` for JPEG, tag 33723 for TIFF); this module walks
its records: ``0x1C``, record number, dataset number, a 2-byte length (or an extended length). A damaged
block ends the walk at the damage; what was read before stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from xmr_desktop.metadata.dates import parse_iptc_datetime

_MAX_RECORDS = 10_000
_UTF8_MARK = b"\x1b%G"


@dataclass(frozen=True)
class IptcFields:
    """Attributes: keywords (2:25), title (2:05 object name, else 2:105 headline), description (2:120),
    created (2:55 date with 2:60 time and its offset), city (2:90), region (2:95), country (2:101),
    country_code (2:100)."""

    keywords: tuple[str, ...] = ()
    title: str | None = None
    description: str | None = None
    created: tuple[datetime, int | None] | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    country_code: str | None = None


def iptc_block(image: Any) -> bytes | None:
    """The raw IPTC-IIM bytes of a Pillow image, if it has any."""
    photoshop = image.info.get("photoshop") if hasattr(image, "info") else None
    if isinstance(photoshop, dict):
        block = photoshop.get(0x0404)
        if isinstance(block, bytes):
            return block
    tags = getattr(image, "tag_v2", None)
    if tags is not None:
        try:
            value = tags.get(33723)
        except Exception:  # noqa: BLE001  damaged TIFF tag data: no IPTC, the rest of the file is fine
            return None
        if isinstance(value, bytes):
            return value
        if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
            # Photoshop declares the block as LONGs; Pillow then hands back numbers, not bytes.
            try:
                return b"".join(v.to_bytes(4, "big" if getattr(tags, "_endian", "<") == ">" else "little") for v in value)
            except OverflowError:
                return None
    return None


def _records(block: bytes) -> dict[tuple[int, int], list[bytes]]:
    found: dict[tuple[int, int], list[bytes]] = {}
    pos = 0
    for _ in range(_MAX_RECORDS):
        if pos + 5 > len(block) or block[pos] != 0x1C:
            break
        record, dataset = block[pos + 1], block[pos + 2]
        length = int.from_bytes(block[pos + 3 : pos + 5], "big")
        pos += 5
        if length & 0x8000:  # extended dataset: the low bits say how many bytes hold the length
            count = length & 0x7FFF
            if count > 4 or pos + count > len(block):
                break
            length = int.from_bytes(block[pos : pos + count], "big")
            pos += count
        if pos + length > len(block):
            break
        found.setdefault((record, dataset), []).append(block[pos : pos + length])
        pos += length
    return found


def parse_iptc(block: bytes) -> IptcFields:
    """The fields xmr uses. Text is UTF-8 when the block says so (1:90) or decodes as such, else Latin-1."""
    records = _records(block)
    utf8 = _UTF8_MARK in b"".join(records.get((1, 90), []))

    def texts(dataset: int) -> list[str]:
        out = []
        for raw in records.get((2, dataset), []):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8" if utf8 else "latin-1", errors="replace")
            text = text.replace("\x00", "").strip()
            if text:
                out.append(text)
        return out

    def first(*datasets: int) -> str | None:
        for dataset in datasets:
            values = texts(dataset)
            if values:
                return values[0]
        return None

    return IptcFields(
        keywords=tuple(dict.fromkeys(texts(25))),
        title=first(5, 105),
        description=first(120),
        created=parse_iptc_datetime(first(55), first(60)),
        city=first(90),
        region=first(95),
        country=first(101),
        country_code=first(100),
    )
