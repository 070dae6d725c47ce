"""Reading metadata for files the index has but whose metadata is missing or stale, without embedding.

This is how an existing index gets metadata after the schema migration adds the table, and how a changed
file's row is refreshed when nothing else read it (the indexer's decode worker, once wired, reads metadata of
every file it decodes and writes it with the batch). Resumable: each batch is committed on its own, and the
next run starts from what ``storage.pending`` still lists. Cost per file: one open and a header parse (no
pixels), a sidecar lookup, a GPS lookup.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from xmr_desktop.metadata import storage
from xmr_desktop.metadata.places import Gazetteer
from xmr_desktop.metadata.reader import read_metadata
from xmr_desktop.metadata.record import PhotoMetadata

log = logging.getLogger(__name__)

BATCH_FILES = 256


@dataclass
class BackfillReport:
    """Attributes: read (rows written), failed (files that could not be opened; retried next run), stopped."""

    read: int = 0
    failed: int = 0
    stopped: bool = False


def with_place(meta: PhotoMetadata, gazetteer: Gazetteer | None) -> PhotoMetadata:
    """Resolve a photo's place: GPS through the gazetteer, else the place written in its IPTC/XMP tags."""
    return with_places([meta], gazetteer)[0]


def with_places(metas: list[PhotoMetadata], gazetteer: Gazetteer | None) -> list[PhotoMetadata]:
    """``with_place`` for a batch (one gazetteer call for all GPS positions)."""
    if gazetteer is None:
        return metas
    located = [i for i, m in enumerate(metas) if m.latitude is not None and m.longitude is not None]
    places = gazetteer.locate_many([(metas[i].latitude, metas[i].longitude) for i in located])  # type: ignore[misc]
    out = list(metas)
    for i, place in zip(located, places):
        out[i] = metas[i].with_place(place)
    for i, meta in enumerate(out):
        if meta.place is None and any(meta.place_tags):
            out[i] = meta.with_place(gazetteer.place_from_tags(*meta.place_tags))
    return out


def backfill(
    conn: sqlite3.Connection,
    gazetteer: Gazetteer | None,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 4,
) -> BackfillReport:
    """Read and store metadata for every file ``storage.pending`` lists; commits every ``BATCH_FILES``.

    ``progress(done, total)`` after each batch. Files that cannot be opened are logged and left pending
    (a drive may be unplugged); the run goes past them.
    """
    report = BackfillReport()
    total = storage.count_pending(conn)
    after = 0
    # Threads: the work is file I/O and Pillow header parsing, which release the GIL for the reads.
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="xmr-metadata") as pool:
        while not should_stop():
            batch = storage.pending(conn, BATCH_FILES, after_id=after)
            if not batch:
                break
            after = batch[-1].file_id
            results = list(pool.map(_read_one, batch))
            ok = [(item, meta) for item, meta in zip(batch, results) if meta is not None]
            report.failed += len(batch) - len(ok)
            metas = with_places([meta for _, meta in ok], gazetteer)
            report.read += storage.write_many(
                conn, [(item.file_id, meta, item.size, item.mtime_ns) for (item, _), meta in zip(ok, metas)]
            )
            if progress is not None:
                progress(report.read + report.failed, total)
    report.stopped = should_stop()
    return report


def _read_one(item: storage.PendingFile) -> PhotoMetadata | None:
    try:
        return read_metadata(item.path, size=item.size, mtime_ns=item.mtime_ns)
    except OSError as error:
        log.info("metadata of %s not read: %s", item.path, os.strerror(error.errno) if error.errno else error)
        return None
