"""The indexing pipeline: scan folders, read and decode photos ahead of the model, embed, commit per batch.

Decoding runs on a pool of threads a few batches ahead of inference (Pillow releases the GIL while decoding and
resizing, and draft-mode JPEG decoding is cheap), so the model rarely waits. Every batch is committed in one
transaction: an interrupted run loses at most the batch in flight, and the next run resumes from there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from xmr_desktop.config import DECODE_AHEAD_BYTES, INDEX_BATCH_SIZE
from xmr_desktop.engine.preprocess import ImageRejected, ImageSpec, LoadedFile, load_for_embedding
from xmr_desktop.library.scanner import ScanReport, sync_folder
from xmr_desktop.library.store import FileRecord, Folder, Store

log = logging.getLogger(__name__)


class ImageEmbedder(Protocol):
    """What the indexer needs of a model (``ClipEmbedder`` or a test double).

    A model that loads lazily may also offer ``prepare_images()``, to load and warm up while photos decode.
    """

    model_id: str
    image_spec: ImageSpec

    def embed_images(self, pixels: np.ndarray) -> np.ndarray: ...


@dataclass
class IndexProgress:
    """Where a run is. ``done`` counts files finished (embedded, reused or skipped) out of ``total``."""

    done: int
    total: int
    embedded: int
    reused: int
    skipped: int
    elapsed: float
    current: str = ""

    @property
    def rate(self) -> float:
        """Files per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None before there is a rate."""
        return (self.total - self.done) / self.rate if self.rate > 0 else None


@dataclass
class IndexReport:
    """The outcome of one run.

    Attributes:
        embedded: files whose pixels went through the model.
        reused: files whose content was already embedded (renamed, moved or duplicate photos).
        skipped: files that could not be read as images this run (reasons are in the store).
        skipped_files: (path, reason) of each of them, in the order they were met.
        unchanged: files found unchanged by the scan (cost: one stat each).
        removed: files swept from the index because they are gone.
        stopped: the run was asked to stop before the end; what was committed stays.
        scan_errors: (path, reason) for folders or entries the scan could not read.
    """

    embedded: int = 0
    reused: int = 0
    skipped: int = 0
    unchanged: int = 0
    removed: int = 0
    stopped: bool = False
    elapsed: float = 0.0
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        indexed = self.embedded + self.reused
        text = f"indexed {indexed} ({self.embedded} embedded, {self.reused} reused), unchanged {self.unchanged}, "
        text += f"skipped {self.skipped}, removed {self.removed} in {self.elapsed:.1f} s"
        return text + (" (stopped early; run again to finish)" if self.stopped else "")


def default_decode_workers() -> int:
    """Decoders scale with cores: on a GPU machine decoding, not the model, bounds the speed."""
    return max(1, min(32, os.cpu_count() or 1))


class Indexer:
    """Brings the index up to date for one model.

    Attributes:
        store: the index database (this thread's connection).
        embedder: the model that embeds images.
        batch_size: images per model call and per commit.
        decode_workers: threads reading and decoding ahead of the model.
    """

    def __init__(
        self,
        store: Store,
        embedder: ImageEmbedder,
        *,
        batch_size: int = INDEX_BATCH_SIZE,
        decode_workers: int | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.batch_size = batch_size
        self.decode_workers = decode_workers or default_decode_workers()

    def scan(self, folders: Iterable[Folder] | None = None) -> list[ScanReport]:
        """Sync the store with the disk for these folders (default: all), stat-only for unchanged files."""
        return [sync_folder(self.store, folder) for folder in (self.store.folders() if folders is None else folders)]

    def run(
        self,
        folders: Iterable[Folder] | None = None,
        *,
        progress: Callable[[IndexProgress], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> IndexReport:
        """Scan, then embed everything pending in these folders (default: all not paused)."""
        started = time.monotonic()
        chosen = list(self.store.folders() if folders is None else folders)
        report = IndexReport()
        for scan in self.scan(chosen):
            report.unchanged += scan.unchanged
            report.removed += scan.removed
            report.scan_errors.extend(scan.errors)
        self.index_pending([f.id for f in chosen], report, progress=progress, should_stop=should_stop)
        report.elapsed = time.monotonic() - started
        return report

    def index_pending(
        self,
        folder_ids: Iterable[int] | None = None,
        report: IndexReport | None = None,
        *,
        progress: Callable[[IndexProgress], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> IndexReport:
        """Embed the files the store lists as pending for this model; commits after every batch."""
        report = report if report is not None else IndexReport()
        started = time.monotonic()
        model_id = self.embedder.model_id
        todo = self.store.pending(model_id, folder_ids)
        if not todo:  # nothing to read: don't touch the model (a lazy one would load for nothing)
            report.stopped = report.stopped or should_stop()
            return report
        known = self.store.known_hashes(model_id)
        state = IndexProgress(0, len(todo), 0, 0, 0, 0.0)
        batch = _Batch()
        prepare = getattr(self.embedder, "prepare_images", None)
        # Seconds of TensorFlow start-up, mostly on one core, overlap with decoding the first photos.
        model_ready = _in_background(prepare) if prepare is not None else None

        def commit() -> None:
            if model_ready is not None and batch.pixels:
                model_ready.result()  # a model that failed to load raises here, in the caller's thread
            self._commit(batch, state, known)
            state.elapsed = time.monotonic() - started
            if progress is not None:
                progress(state)

        for record, outcome in self._load_ahead(todo, known, should_stop):
            if isinstance(outcome, str):
                batch.skipped.append((record.id, outcome))
                report.skipped_files.append((record.path, outcome))
                log.info("skipped %s: %s", record.path, outcome)
            elif outcome.pixels is None or outcome.content_hash in batch.hashes or outcome.content_hash in known:
                # Decoded before an identical file's vector was committed: reuse that vector, skip the model.
                batch.reused.append((record.id, outcome.content_hash, outcome.width, outcome.height))
            else:
                batch.add_pixels(record.id, outcome)
            state.current = record.path
            if len(batch.pixels) >= self.batch_size or len(batch) >= 8 * self.batch_size:
                commit()
        if not batch.is_empty():  # a last full batch was committed and reported in the loop
            commit()
        report.embedded += state.embedded
        report.reused += state.reused
        report.skipped += state.skipped
        report.stopped = report.stopped or should_stop()
        return report

    def _commit(self, batch: "_Batch", state: IndexProgress, known: set[bytes]) -> None:
        vectors = self.embedder.embed_images(np.stack(batch.pixels)) if batch.pixels else np.zeros((0, 0), np.float32)
        embedded = [(fid, digest, w, h, vectors[i]) for i, (fid, digest, w, h) in enumerate(batch.embedded)]
        embedded += [(fid, digest, w, h, None) for fid, digest, w, h in batch.reused]
        self.store.commit_batch(self.embedder.model_id, embedded, batch.skipped)
        known.update(digest for _, digest, _, _ in batch.embedded)
        state.embedded += len(batch.embedded)
        state.reused += len(batch.reused)
        state.skipped += len(batch.skipped)
        state.done += len(batch.embedded) + len(batch.reused) + len(batch.skipped)
        batch.clear()

    def _load_ahead(
        self, todo: list[FileRecord], known: set[bytes], should_stop: Callable[[], bool]
    ) -> Iterator[tuple[FileRecord, LoadedFile | str]]:
        """Yield each file's loaded pixels (or skip reason) in order, decoding up to a few batches ahead."""
        spec = self.embedder.image_spec
        image_bytes = 3 * spec.crop[0] * spec.crop[1] * 4
        look_ahead = max(2 * self.batch_size, 2 * self.decode_workers, DECODE_AHEAD_BYTES // image_bytes)
        with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="xmr-decode") as pool:
            pending: deque[tuple[FileRecord, Future[LoadedFile]]] = deque()
            records = iter(todo)
            # `known` grows while we run; the snapshot only decides what to skip decoding, never correctness.
            snapshot = frozenset(known)
            while True:
                while len(pending) < look_ahead and not should_stop():
                    record = next(records, None)
                    if record is None:
                        break
                    pending.append((record, pool.submit(load_for_embedding, record.path, spec, snapshot)))
                if not pending:
                    return
                record, future = pending.popleft()
                yield record, _outcome(future)
                if should_stop():
                    for _, queued in pending:
                        queued.cancel()
                    return


def _in_background(task: Callable[[], object]) -> "Future[object]":
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


def _outcome(future: "Future[LoadedFile]") -> LoadedFile | str:
    try:
        return future.result()
    except ImageRejected as error:
        return str(error)
    except FileNotFoundError:
        return "file vanished before it could be read"
    except PermissionError:
        return "permission denied"
    except IsADirectoryError:
        return "is a directory"
    except OSError as error:
        return f"cannot read file: {error.strerror or error}"
    except MemoryError:
        return "not enough memory to decode this image"


class _Batch:
    """Files waiting for one model call and one commit."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.pixels: list[np.ndarray] = []
        self.embedded: list[tuple[int, bytes, int, int]] = []
        self.reused: list[tuple[int, bytes, int, int]] = []
        self.skipped: list[tuple[int, str]] = []
        self.hashes: set[bytes] = set()

    def add_pixels(self, file_id: int, loaded: LoadedFile) -> None:
        assert loaded.pixels is not None
        self.pixels.append(loaded.pixels)
        self.embedded.append((file_id, loaded.content_hash, loaded.width, loaded.height))
        self.hashes.add(loaded.content_hash)

    def __len__(self) -> int:
        return len(self.embedded) + len(self.reused) + len(self.skipped)

    def is_empty(self) -> bool:
        return len(self) == 0
