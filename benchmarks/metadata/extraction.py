"""Metadata extraction per photo against decoding the same photo, in the same run; and what a scan pays extra.

The photos are ``benchmarks.photos``' 4 MP JPEGs, each given camera-like metadata (EXIF with date, offset,
camera, lens, GPS and a 160x120 thumbnail; an XMP packet with keywords; IPTC keywords), so headers are as big
as a phone's. Interleaved per photo, medians over ``--repeats`` rounds:

- decode: ``load_for_embedding`` (read, hash, draft decode, resize, crop, normalise at 224 px), the indexer's work;
- metadata from the open image: ``read_metadata(image=…)`` on the decode worker's ``Image.open`` (what the
  indexer adds per photo once wired) — the ratio to decode is the extra cost of a first scan;
- metadata from the path: the background backfill's cost per photo (opens the file, headers only);
- place lookup: ``Gazetteer.locate`` per photo.
A rescan of unchanged files reads no metadata at all: its extra cost is one ``storage.pending`` query, timed
at the index size given by ``--rows`` against a plain ``SELECT COUNT(*) FROM files``.

Usage: python -m benchmarks.metadata.extraction [--photos 48] [--repeats 3] [--rows 100000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import statistics
import struct
import tempfile
import time
from pathlib import Path

from PIL import Image

from benchmarks.common import WORK, machine
from benchmarks.photos import make_set
from xmr_desktop.engine.preprocess import ImageSpec, load_for_embedding
from xmr_desktop.metadata import storage
from xmr_desktop.metadata.places import Gazetteer
from xmr_desktop.metadata.reader import read_metadata


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def with_metadata(path: Path, index: int) -> None:
    """Rewrite a JPEG with phone-like EXIF (thumbnail included), XMP and IPTC segments."""
    image = Image.open(path)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Apple", "iPhone 12", "2023:07:14 10:11:12"
    sub = exif.get_ifd(0x8769)
    sub[0x9003], sub[0x9004], sub[0x9011] = "2023:07:14 10:11:12", "2023:07:14 10:11:12", "+01:00"
    sub[0xA434] = "iPhone 12 back dual wide camera 4.2mm f/1.6"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (38.0, 43.0, 20.0 + index % 40), "W", (9.0, 8.0, 21.0)
    thumb = io.BytesIO()
    image.copy().resize((160, 120)).save(thumb, "JPEG", quality=80)
    exif_bytes = exif.tobytes()
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
           '<dc:subject><rdf:Bag>' + "".join(f"<rdf:li>keyword {i}</rdf:li>" for i in range(20)) +
           '</rdf:Bag></dc:subject><xmp:Rating>3</xmp:Rating></rdf:Description></rdf:RDF></x:xmpmeta>' + " " * 2048)
    iptc = b"".join(bytes([0x1C, 2, 25]) + struct.pack(">H", len(k)) + k for k in (b"beach", b"family", b"summer"))
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00" * (len(iptc) % 2)
    data = path.read_bytes()
    extra = _segment(0xE1, exif_bytes) + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp.encode())
    extra += _segment(0xED, b"Photoshop 3.0\x00" + resource)
    extra += _segment(0xE2, b"\x00" * 3000 + thumb.getvalue()[:20000])  # stands for ICC profile + MPF thumbnail
    path.write_bytes(data[:2] + extra + data[2:])


def _timed(fn, *args, **kwargs) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def pending_query_cost(rows: int) -> tuple[float, float]:
    """Seconds for ``storage.pending`` (nothing pending) and for ``SELECT COUNT(*) FROM files`` at ``rows``."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "i.sqlite3"), isolation_level=None)
        conn.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, folder_id INTEGER, path BLOB UNIQUE, size INTEGER,"
                     " mtime_ns INTEGER, content_hash BLOB, state TEXT, skip_reason TEXT, width INTEGER, height INTEGER)")
        storage.create_tables(conn)
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO files VALUES (?, 1, ?, 100, 5, NULL, 'ok', NULL, 0, 0)",
                         ((i, f"/p/{i:07d}.jpg".encode()) for i in range(1, rows + 1)))
        conn.executemany(f"INSERT INTO {storage.TABLE}(file_id, reader_version, file_size, file_mtime_ns) VALUES (?, ?, 100, 5)",
                         ((i, storage.READER_VERSION) for i in range(1, rows + 1)))
        conn.execute("COMMIT")
        pending = min(_timed(storage.pending, conn, 256) for _ in range(3))
        count = min(_timed(lambda: conn.execute("SELECT COUNT(*) FROM files").fetchone()) for _ in range(3))
        conn.close()
    return pending, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    folder = WORK / f"metadata-photos-{args.photos}"
    if not folder.is_dir():
        make_set(WORK / f"plain-{args.photos}", args.photos, WORK / "photos-src")
        folder.mkdir(parents=True)
        for i, source in enumerate(sorted((WORK / f"plain-{args.photos}").glob("*.jpg"))):
            target = folder / source.name
            target.write_bytes(source.read_bytes())
            with_metadata(target, i)
    paths = sorted(str(p) for p in folder.glob("*.jpg"))
    spec = ImageSpec()
    gazetteer = Gazetteer(WORK / "places-cache")
    gazetteer.prepare()
    times: dict[str, list[float]] = {"decode": [], "from_image": [], "from_path": [], "place": []}
    for _ in range(args.repeats):
        for path in paths:
            info = os.stat(path)
            times["decode"].append(_timed(load_for_embedding, path, spec))

            def from_image() -> None:
                # The decode worker's situation: bytes read, Image.open done (its cost is part of decode).
                image = Image.open(io.BytesIO(data))
                start = time.perf_counter()
                read_metadata(path, image=image, size=info.st_size, mtime_ns=info.st_mtime_ns)
                times["from_image"].append(time.perf_counter() - start)

            data = Path(path).read_bytes()
            from_image()
            times["from_path"].append(_timed(read_metadata, path, size=info.st_size, mtime_ns=info.st_mtime_ns))
            times["place"].append(_timed(gazetteer.locate, 38.72, -9.14))
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    pending, count = pending_query_cost(args.rows)
    print(f"{len(paths)} photos x {args.repeats} rounds, 4 MP JPEGs with phone-like metadata; medians per photo:")
    print(f"  decode for the model (224 px)          {ms['decode']:8.2f} ms   1.00x")
    print(f"  metadata from the open image           {ms['from_image']:8.3f} ms   {ms['from_image'] / ms['decode']:.3f}x of decode")
    print(f"  metadata from the path (backfill)      {ms['from_path']:8.3f} ms   {ms['from_path'] / ms['decode']:.3f}x of decode")
    print(f"  place lookup (GPS -> town)             {ms['place']:8.3f} ms   {ms['place'] / ms['decode']:.3f}x of decode")
    print(f"rescan at {args.rows} files: pending-metadata query {pending * 1000:.1f} ms vs COUNT(*) of files {count * 1000:.1f} ms")
    print(json.dumps({"photos": len(paths), "ms": ms, "rows": args.rows, "pending_ms": pending * 1000,
                      "count_ms": count * 1000, "machine": machine()}))


if __name__ == "__main__":
    main()
