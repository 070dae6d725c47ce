"""Photos written by the tests themselves: EXIF via Pillow, XMP and IPTC spliced in as JPEG APP segments."""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image

IFD_EXIF, IFD_GPS = 0x8769, 0x8825


def exif_block(
    *,
    original: str | None = None,
    offset: str | None = None,
    digitized: str | None = None,
    make: str | None = None,
    model: str | None = None,
    lens: str | None = None,
    gps: tuple[float, float] | None = None,
    altitude: float | None = None,
    gps_utc: tuple[str, tuple[int, int, int]] | None = None,
    orientation: int | None = None,
    user_comment: bytes | None = None,
    description: str | None = None,
    xp_keywords: str | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    if orientation is not None:
        exif[0x0112] = orientation
    if description is not None:
        exif[0x010E] = description
    if xp_keywords is not None:
        exif[0x9C9E] = xp_keywords.encode("utf-16-le") + b"\x00\x00"
    sub = exif.get_ifd(IFD_EXIF)
    if original is not None:
        sub[0x9003] = original
    if offset is not None:
        sub[0x9011] = offset
    if digitized is not None:
        sub[0x9004] = digitized
    if lens is not None:
        sub[0xA434] = lens
    if user_comment is not None:
        sub[0x9286] = user_comment
    if gps is not None or gps_utc is not None:
        block = exif.get_ifd(IFD_GPS)
        if gps is not None:
            lat, lon = gps
            block[1] = "N" if lat >= 0 else "S"
            block[2] = _dms(abs(lat))
            block[3] = "E" if lon >= 0 else "W"
            block[4] = _dms(abs(lon))
        if altitude is not None:
            block[5] = b"\x01" if altitude < 0 else b"\x00"
            block[6] = abs(altitude)
        if gps_utc is not None:
            block[29] = gps_utc[0]
            block[7] = tuple(float(v) for v in gps_utc[1])
    return exif


def raw_exif(ifd0: list[tuple[int, int, bytes]], exif_ifd: list[tuple[int, int, bytes]], gps_ifd: list[tuple[int, int, bytes]]) -> bytes:
    """EXIF bytes built by hand, so fields can have the wrong types: entries are (tag, TIFF type, value
    bytes); values over 4 bytes are placed after the directories."""
    header = b"II*\x00" + struct.pack("<I", 8)
    directories = [list(ifd0), list(exif_ifd), list(gps_ifd)]
    sizes = [2 + 12 * (len(d) + (2 if i == 0 else 0)) + 4 for i, d in enumerate(directories)]
    offsets = [8, 8 + sizes[0], 8 + sizes[0] + sizes[1]]
    directories[0] += [(0x8769, 4, struct.pack("<I", offsets[1])), (0x8825, 4, struct.pack("<I", offsets[2]))]
    data_at = 8 + sum(sizes)
    blobs = b""
    out = b""
    sizes_of = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}
    for directory in directories:
        directory.sort()
        out += struct.pack("<H", len(directory))
        for tag, kind, value in directory:
            count = len(value) // sizes_of[kind]
            if len(value) <= 4:
                field = value.ljust(4, b"\x00")
            else:
                field = struct.pack("<I", data_at + len(blobs))
                blobs += value
            out += struct.pack("<HHI", tag, kind, count) + field
        out += struct.pack("<I", 0)
    return b"Exif\x00\x00" + header + out + blobs


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return float(degrees), float(minutes), seconds


def xmp_packet(body: str) -> bytes:
    """An XMP packet with the usual namespaces around ``body`` (rdf:Description content)."""
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:GPano="http://ns.google.com/photos/1.0/panorama/"
    xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/">
{body}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


def bag(tag: str, items: list[str], kind: str = "Bag") -> str:
    lis = "".join(f"<rdf:li>{item}</rdf:li>" for item in items)
    return f"<{tag}><rdf:{kind}>{lis}</rdf:{kind}></{tag}>"


def alt(tag: str, text: str) -> str:
    return f'<{tag}><rdf:Alt><rdf:li xml:lang="x-default">{text}</rdf:li></rdf:Alt></{tag}>'


def iptc_block(records: list[tuple[int, int, bytes]], utf8: bool = True) -> bytes:
    data = b""
    if utf8:
        records = [(1, 90, b"\x1b%G"), *records]
    for record, dataset, value in records:
        data += bytes([0x1C, record, dataset]) + struct.pack(">H", len(value)) + value
    return data


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(
    path: Path,
    *,
    size: tuple[int, int] = (64, 48),
    exif: Image.Exif | None = None,
    raw_exif_segment: bytes | None = None,
    xmp: bytes | None = None,
    iptc: bytes | None = None,
    colour: tuple[int, int, int] = (120, 80, 40),
) -> Path:
    """Write a small JPEG with the given metadata; returns its path."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", exif=exif.tobytes() if exif is not None else b"")
    data = out.getvalue()
    extra = b""
    if raw_exif_segment is not None:
        extra += _segment(0xE1, raw_exif_segment)
    if xmp is not None:
        extra += _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp)
    if iptc is not None:
        resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
        if len(iptc) % 2:
            resource += b"\x00"
        extra += _segment(0xED, b"Photoshop 3.0\x00" + resource)
    path.write_bytes(data[:2] + extra + data[2:])  # right after SOI: before or beside EXIF's APP1 is valid
    return path


def png(path: Path, *, size: tuple[int, int] = (64, 48), xmp: str | None = None) -> Path:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if xmp is not None:
        info.add_itxt("XML:com.adobe.xmp", xmp)
    Image.new("RGB", size, (10, 200, 30)).save(path, "PNG", pnginfo=info)
    return path
