"""The indexing pipeline: decode photos ahead of the model, embed them in batches, commit each batch.

It is long-lived: one ``IndexPipeline`` per (store connection, model) serves a whole session. Its decode pool
keeps working ahead of the model (Pillow releases the GIL while decoding and resizing), and photos decoded
ahead are kept while the owner answers a search between two ``step()`` calls — nothing is torn down or read
again. The pending set is read from the store a chunk at a time through an id cursor; ``rewind()`` says rows
below the cursor may have become pending again (a rescan, the watcher). Every batch is one transaction: an
interrupted run loses at most the batch in flight.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import numpy as np

from xmr_desktop.config import DECODE_AHEAD_BYTES, INDEX_BATCH_SIZE
from xmr_desktop.engine.preprocess import DECODE_DEADLINE_S, DecodeCancelled, ImageRejected, LoadedFile, load_for_embedding
from xmr_desktop.engine.protocol import Embedder
from xmr_desktop.library.store import Embedded, FileRecord, Skipped, Store

log = logging.getLogger(__name__)

# Pending rows read per query; the cursor moves on from the last one.
PENDING_CHUNK = 512


@dataclass(frozen=True)
class FolderDelta:
    """How one batch moved a folder's counts: files left 'pending' for 'indexed' or 'skipped'."""

    indexed: int = 0
    skipped: int = 0


@dataclass
class BatchResult:
    """What one ``step()`` committed.

    Attributes:
        embedded: photos whose pixels went through the model.
        reused: photos whose content already had a vector (renamed, moved or duplicate photos).
        skipped: ``(path, reason)`` of photos that cannot be indexed (kept with the reason in the store).
        deferred: ``(path, reason)`` of photos that could not be read *now* (I/O error, permission, a drive
            gone): they stay pending and are tried again after the next rescan.
        stale: photos that changed on disk after they were read; they stay pending for the new version.
        folders: per-folder count changes, for incremental folder counts.
    """

    embedded: int = 0
    reused: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)
    stale: int = 0
    folders: dict[int, FolderDelta] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.embedded + self.reused + len(self.skipped)


class _Transient(Exception):
    """A read failure that says nothing about the photo itself."""


def default_decode_workers() -> int:
    """Decoders scale with cores: on a GPU machine decoding, not the model, bounds the speed."""
    return max(1, min(32, os.cpu_count() or 1))


class IndexPipeline:
    """Embeds what the store lists as pending for one model, a batch per ``step()``.

    Attributes:
        store: the index (the owning thread's connection; only that thread calls ``step``).
        embedder: the model.
        batch_size: images per model call and per commit.
        decode_workers: threads reading and decoding ahead of the model.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        batch_size: int = INDEX_BATCH_SIZE,
        decode_workers: int | None = None,
        eligible_folders: Callable[[], Collection[int] | None] = lambda: None,
        deadline_s: float = DECODE_DEADLINE_S,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.batch_size = batch_size
        self.decode_workers = decode_workers or default_decode_workers()
        self._eligible = eligible_folders
        self._deadline_s = deadline_s
        self._model_id = embedder.model_id
        self._known = store.known_hashes(self._model_id)
        self._pool = ThreadPoolExecutor(self.decode_workers, thread_name_prefix="xmr-decode")
        # Set on close: decoders waiting for memory or in the middle of a photo stop at their next check.
        self._cancel = threading.Event()
        spec = embedder.image_spec
        image_bytes = 3 * spec.crop[0] * spec.crop[1] * 4
        self._look_ahead = max(2 * batch_size, 2 * self.decode_workers, DECODE_AHEAD_BYTES // image_bytes)
        self._queue: deque[tuple[FileRecord, Future[LoadedFile]]] = deque()
        self._records: deque[FileRecord] = deque()
        self._in_flight: set[int] = set()
        self._deferred: set[int] = set()
        self._cursor = 0
        self._rewound = False
        self._exhausted = False
        self._model_ready: Future[object] | None = None
        prepare = getattr(embedder, "prepare_images", None)
        self._prepare = prepare

    # -- what the owner calls ------------------------------------------------------------------------------

    def rewind(self, *, retry_deferred: bool = False) -> None:
        """Rows below the cursor may be pending again (scan, watcher, resumed folder); read from the start
        next time. ``retry_deferred`` also retries photos that could not be read earlier (a drive is back)."""
        self._rewound = True
        self._exhausted = False
        if retry_deferred:
            self._deferred.clear()

    def drop_folder(self, folder_id: int) -> None:
        """Forget what is queued for a folder (removed or paused); its rows stay as the store has them."""
        kept: deque[tuple[FileRecord, Future[LoadedFile]]] = deque()
        for record, future in self._queue:
            if record.folder_id == folder_id:
                future.cancel()
                self._in_flight.discard(record.id)
            else:
                kept.append((record, future))
        self._queue = kept
        self._records = deque(r for r in self._records if r.folder_id != folder_id)

    @property
    def has_work(self) -> bool:
        """Whether a ``step()`` may find something to do (False once the pending set was read to its end)."""
        return bool(self._queue or self._records) or not self._exhausted

    def step(self, should_stop: Callable[[], bool] = lambda: False) -> BatchResult | None:
        """Read, embed and commit one batch; None when nothing is pending. ``should_stop`` ends the batch early
        (committing what is in hand) so a waiting request is served sooner."""
        self._fill()
        if self._prepare is not None and self._model_ready is None and self._queue:
            # Seconds of model start-up, mostly on one core, overlap with decoding the first photos.
            self._model_ready = _in_background(self._prepare)
        batch = _Batch()
        eligible = self._eligible()
        while self._queue and not batch.full(self.batch_size):
            record, future = self._queue.popleft()
            if eligible is not None and record.folder_id not in eligible:
                future.cancel()
                self._in_flight.discard(record.id)
                continue
            self._take(batch, record, self._outcome(record, future))
            self._fill()
            if should_stop() and not batch.is_empty():
                break
        if batch.is_empty():
            return BatchResult(deferred=batch.deferred) if batch.deferred else None
        return self._commit(batch)

    def close(self) -> None:
        """Stop decoding; queued work is dropped (its rows stay pending). Does not wait for a stuck decoder."""
        self._cancel.set()
        for _, future in self._queue:
            future.cancel()
        self._queue.clear()
        self._records.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- reading ahead ---------------------------------------------------------------------------------------

    def _fill(self) -> None:
        while len(self._queue) < self._look_ahead:
            record = self._next_record()
            if record is None:
                return
            self._in_flight.add(record.id)
            future = self._pool.submit(
                load_for_embedding, record.path, self.embedder.image_spec, self._known,
                deadline_s=self._deadline_s, cancel=self._cancel,
            )
            self._queue.append((record, future))

    def _next_record(self) -> FileRecord | None:
        while not self._records:
            if self._exhausted:
                return None
            if self._rewound:
                self._cursor, self._rewound = 0, False
            chunk = self.store.pending(self._model_id, limit=PENDING_CHUNK, after_id=self._cursor)
            if not chunk:
                self._exhausted = True
                return None
            self._cursor = chunk[-1].id
            eligible = self._eligible()
            self._records.extend(
                r for r in chunk
                if r.id not in self._in_flight and r.id not in self._deferred
                and (eligible is None or r.folder_id in eligible)
            )
        return self._records.popleft()

    def _outcome(self, record: FileRecord, future: Future[LoadedFile]) -> LoadedFile | str | _Transient:
        try:
            # The decoder checks the deadline itself between the chunks it reads; this wait is the backstop
            # for a read that never returns (a hung mount), which no check inside can interrupt.
            return future.result(timeout=2 * self._deadline_s + 5)
        except FutureTimeout:
            future.cancel()
            log.warning("reading a photo took longer than %.0f s; it stays pending", 2 * self._deadline_s + 5)
            return _Transient("reading the file did not finish (a drive that stopped answering?); will retry")
        except ImageRejected as error:
            return str(error)
        except DecodeCancelled:
            return _Transient("indexing stopped while this photo was being read")
        except IsADirectoryError:
            return "is a directory"
        except MemoryError:
            return _Transient("not enough memory to decode this image now")
        except OSError as error:
            if error.errno in _PERMANENT_ERRNOS:
                return f"cannot read file: {error.strerror or error}"
            return _Transient(_transient_reason(error))

    def _take(self, batch: _Batch, record: FileRecord, outcome: LoadedFile | str | _Transient) -> None:
        if isinstance(outcome, _Transient):
            self._deferred.add(record.id)
            self._in_flight.discard(record.id)
            batch.deferred.append((record.path, str(outcome)))
        elif isinstance(outcome, str):
            batch.skipped.append((record, outcome))
        elif outcome.pixels is None or outcome.content_hash in batch.hashes or outcome.content_hash in self._known:
            # Decoded before an identical file's vector was committed: reuse that vector, skip the model.
            batch.reused.append((record, outcome))
        else:
            batch.add_pixels(record, outcome)

    # -- committing ------------------------------------------------------------------------------------------

    def _commit(self, batch: _Batch) -> BatchResult:
        try:
            if batch.pixels:
                if self._model_ready is not None:
                    self._model_ready.result()  # a model that failed to load raises here, in the owner's thread
                vectors = self.embedder.embed_images(np.stack(batch.pixels))
            else:
                vectors = np.zeros((0, 0), np.float32)
            entries = [_entry(r, f, vectors[i]) for i, (r, f) in enumerate(batch.embedded)]
            entries += [_entry(r, f, None) for r, f in batch.reused]
            skipped = [Skipped(r.id, r.size, r.mtime_ns, reason) for r, reason in batch.skipped]
            outcome = self.store.commit_batch(self._model_id, entries, skipped)
        except BaseException:
            self.rewind()  # the batch's rows are still pending, below the cursor
            raise
        finally:
            # Whatever happened, these rows are no longer in flight: a later step may read them again.
            for record in batch.records():
                self._in_flight.discard(record.id)
        if outcome.stale:
            self.rewind()  # edited on disk meanwhile: pending again, for their new version
        self._known.update(f.content_hash for r, f in batch.embedded)
        committed = set(outcome.committed)
        result = BatchResult(deferred=batch.deferred, stale=len(outcome.stale))
        deltas: dict[int, list[int]] = {}
        for record, _ in batch.embedded:
            if record.id in committed:
                result.embedded += 1
                deltas.setdefault(record.folder_id, [0, 0])[0] += 1
        for record, _ in batch.reused:
            if record.id in committed:
                result.reused += 1
                deltas.setdefault(record.folder_id, [0, 0])[0] += 1
        for record, reason in batch.skipped:
            if record.id in committed:
                result.skipped.append((record.path, reason))
                deltas.setdefault(record.folder_id, [0, 0])[1] += 1
        result.folders = {fid: FolderDelta(indexed, skipped) for fid, (indexed, skipped) in deltas.items()}
        return result


_PERMANENT_ERRNOS = {errno.ENAMETOOLONG, errno.ELOOP, errno.EISDIR, errno.ENOTDIR}


def _transient_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "file not there now (moved, or its drive is gone); will retry"
    if isinstance(error, PermissionError):
        return "permission denied; will retry"
    return f"cannot read file now ({error.strerror or error}); will retry"


def _entry(record: FileRecord, loaded: LoadedFile, vector: np.ndarray | None) -> Embedded:
    return Embedded(record.id, record.size, record.mtime_ns, loaded.content_hash, loaded.width, loaded.height, vector)


def _in_background(task: Callable[[], object]) -> Future[object]:
    """Run ``task`` on a daemon thread: an interrupted run (Ctrl-C) must not wait for a model to finish loading."""
    future: Future[object] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(task())
            except BaseException as error:  # handed to whoever waits on the future
                future.set_exception(error)

    threading.Thread(target=run, name="xmr-model-load", daemon=True).start()
    return future


class _Batch:
    """Files waiting for one model call and one commit."""

    def __init__(self) -> None:
        self.pixels: list[np.ndarray] = []
        self.embedded: list[tuple[FileRecord, LoadedFile]] = []
        self.reused: list[tuple[FileRecord, LoadedFile]] = []
        self.skipped: list[tuple[FileRecord, str]] = []
        self.deferred: list[tuple[str, str]] = []
        self.hashes: set[bytes] = set()

    def add_pixels(self, record: FileRecord, loaded: LoadedFile) -> None:
        assert loaded.pixels is not None
        self.pixels.append(loaded.pixels)
        self.embedded.append((record, loaded))
        self.hashes.add(loaded.content_hash)

    def records(self) -> list[FileRecord]:
        return [r for r, _ in self.embedded] + [r for r, _ in self.reused] + [r for r, _ in self.skipped]

    def full(self, batch_size: int) -> bool:
        # Reused and skipped files cost no model time, but a batch of thousands would delay the commit.
        return len(self.pixels) >= batch_size or len(self.embedded) + len(self.reused) + len(self.skipped) >= 8 * batch_size

    def is_empty(self) -> bool:
        return not (self.embedded or self.reused or self.skipped)
