"""What the index keeps about a photo besides its vector: its metadata, and the words of its tags and captions.

- The indexer's decode workers read each photo's metadata from the image they already opened
  (``header_reader``); the pipeline's commit writes it in the batch's own transaction (``FactWriter``), so a
  photo is never searchable without its date, place and tags.
- Photos indexed before metadata existed (or read by an older reader) get theirs from ``MetadataBackfill``:
  headers only, nothing embedded, a small batch per step of the core's background work, resumable.

Places are looked up before the write transaction: the gazetteer may still be loading, and nobody should wait
for the index's write lock meanwhile.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from PIL import Image

from xmr_desktop.engine.preprocess import HeaderReader
from xmr_desktop.library.store import FileRecord, Store
from xmr_desktop.metadata import storage
from xmr_desktop.metadata.backfill import with_places
from xmr_desktop.metadata.place_lookup import PlaceLookup
from xmr_desktop.metadata.reader import read_metadata
from xmr_desktop.metadata.record import PhotoMetadata
from xmr_desktop.textsearch import keyword_index

log = logging.getLogger(__name__)

# Files read per background step: a search waits for at most one step (a few milliseconds per file).
BACKFILL_BATCH = 64
BACKFILL_WORKERS = 4


class Fact(NamedTuple):
    """One photo's metadata, read from the file at ``size`` and ``mtime_ns``."""

    file_id: int
    metadata: PhotoMetadata
    size: int
    mtime_ns: int


def header_reader(record: FileRecord) -> HeaderReader:
    """What the decode worker calls with the photo's freshly opened image: its metadata, or None."""

    def read(image: Image.Image) -> PhotoMetadata | None:
        try:
            return read_metadata(record.path, image=image, size=record.size, mtime_ns=record.mtime_ns)
        except Exception:  # noqa: BLE001  metadata must never cost a photo its place in the index; see the log
            log.exception("reading the metadata of %s failed", record.path)
            return None

    return read


def keyword_fields(meta: PhotoMetadata) -> dict[str, str]:
    """The keyword index's ``keywords`` and ``caption`` fields of a photo."""
    caption = "\n".join(text for text in (meta.title, meta.description) if text)
    return {"keywords": "\n".join(meta.keywords), "caption": caption}


class FactWriter:
    """Writes photos' metadata rows and their tag and caption words.

    Attributes:
        places: the offline place names (None: places are not looked up).
    """

    def __init__(self, places: PlaceLookup | None) -> None:
        self.places = places

    def located(self, facts: Sequence[Fact]) -> list[Fact]:
        """``facts`` with places resolved from GPS or place tags (the gazetteer loads only if one needs it)."""
        facts = list(facts)
        needs_places = any(f.metadata.latitude is not None or any(f.metadata.place_tags) for f in facts)
        if not facts or not needs_places or self.places is None:
            return facts
        metas = with_places([f.metadata for f in facts], self.places.get())
        return [fact._replace(metadata=meta) for fact, meta in zip(facts, metas)]

    def write(self, conn: sqlite3.Connection, facts: Sequence[Fact], keep: Sequence[int] | None = None) -> int:
        """Store ``facts`` (those of ``keep`` ids only, when given) in the caller's transaction; returns how
        many metadata rows were written. Tag and caption words are rewritten only where there are any, now or
        before, so a photo without tags costs no keyword write."""
        if keep is not None:
            wanted = set(keep)
            facts = [f for f in facts if f.file_id in wanted]
        if not facts:
            return 0
        written = storage.write_many(conn, [(f.file_id, f.metadata, f.size, f.mtime_ns) for f in facts])
        before = keyword_index.documents(conn, [f.file_id for f in facts])
        for fact in facts:
            fields = keyword_fields(fact.metadata)
            old = before.get(fact.file_id, {})
            if any(fields.values()) or any(old.get(name) for name in fields):
                keyword_index.set_fields(conn, fact.file_id, fields)
        return written


class MetadataBackfill:
    """Reads the metadata of indexed photos that have none, a stale row, or one from an older reader.

    ``step()`` reads one batch (headers only, on a few threads) and commits it; the id cursor moves on, so
    a file that cannot be read now (a drive unplugged) is tried again after ``rewind()`` (the next session),
    not at every step.

    Attributes:
        has_work: whether a step may find something (False once the cursor passed the last file).
    """

    def __init__(self, store: Store, writer: FactWriter, *, batch: int = BACKFILL_BATCH, workers: int = BACKFILL_WORKERS) -> None:
        self._store = store
        self._writer = writer
        self._batch = batch
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="xmr-metadata")
        self._cursor = 0
        self.has_work = True

    def rewind(self) -> None:
        self._cursor = 0
        self.has_work = True

    def remaining(self) -> int:
        """How many indexed photos still need their metadata read."""
        return storage.count_pending(self._store.connection, indexed_only=True)

    def step(self) -> int:
        """Read and store one batch; returns how many photos got their metadata."""
        batch = storage.pending(self._store.connection, self._batch, after_id=self._cursor, indexed_only=True)
        if not batch:
            self.has_work = False
            return 0
        self._cursor = batch[-1].file_id
        read = list(self._pool.map(_read_one, batch))
        facts = self._writer.located([Fact(item.file_id, meta, item.size, item.mtime_ns)
                                      for item, meta in zip(batch, read) if meta is not None])
        with self._store.transaction() as conn:
            return self._writer.write(conn, facts)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _read_one(item: storage.PendingFile) -> PhotoMetadata | None:
    try:
        return read_metadata(item.path, size=item.size, mtime_ns=item.mtime_ns)
    except OSError as error:
        log.info("metadata of %s not read now: %s", item.path, os.strerror(error.errno) if error.errno else error)
        return None
