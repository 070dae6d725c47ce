"""Photos for the viewer, decoded off the GUI thread; only the newest request's answer is delivered.

Each ``request`` gets a generation number and makes every older request stale: queued stale work is dropped
from the pool, work that starts stale is skipped before it opens the file (Picard re-checks state before queued
work runs), decodes of other photos still running are cancelled between the chunks Pillow reads, and an answer
that arrives stale is dropped on the GUI thread, in one place. Worker threads only
produce ``QImage``s, already in the format a pixmap uses, so the GUI thread merely paints them.

Decoded photos are kept in a small cache bounded by bytes, keyed by path and file version (size and mtime from
a ``stat`` on the worker), so stepping back shows a photo at once, the neighbours can be decoded ahead, and a
photo that changed on disk is decoded again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from xmr_desktop.config import MAX_IMAGE_PIXELS
from xmr_desktop.ui import photo_decode
from xmr_desktop.ui.photo_decode import DecodeCancelled, FileVersion, PhotoUnreadable, fit_size

log = logging.getLogger(__name__)

CACHE_BYTES = 96 * 2**20  # a few window-sized photos and a dozen pane-sized ones
THREADS = 2  # one for the photo asked for, one so a slow stale decode never holds up the next one
JOIN_TIMEOUT_S = 30.0  # waiting for another thread's decode of the same photo; then decode it ourselves


@dataclass(frozen=True)
class ViewImage:
    """A photo decoded for the viewer.

    Attributes:
        path: the photo.
        image: upright pixels, at most the size that fits the box asked for.
        full_size: the whole photo's upright (width, height).
        decoded_size: what the decoder produced before the final resize (see ``DecodedPhoto``).
        version: the file's size and mtime when decoded.
        box: the (width, height) box it was decoded for.
    """

    path: str
    image: QImage
    full_size: tuple[int, int]
    decoded_size: tuple[int, int]
    version: FileVersion
    box: tuple[int, int]

    @property
    def reduced(self) -> bool:
        return self.image.width() < self.full_size[0] or self.image.height() < self.full_size[1]

    def covers(self, box: tuple[int, int]) -> bool:
        """Whether this image has every pixel a view of ``box`` can show (1 px of rounding allowed)."""
        want_w, want_h = fit_size(self.full_size, box)
        return not self.reduced or (self.image.width() >= want_w - 1 and self.image.height() >= want_h - 1)


@dataclass(frozen=True)
class ViewProblem:
    """A photo that cannot be shown, and why (one sentence for the user)."""

    path: str
    reason: str


class DecodeCache:
    """Decoded photos by path, at most ``max_bytes`` of pixels, least recently used dropped first (thread-safe)."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, ViewImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._decoding: dict[str, threading.Event] = {}

    def get(self, path: str, version: FileVersion, box: tuple[int, int]) -> ViewImage | None:
        with self._lock:
            item = self._items.get(path)
            if item is None or item.version != version or not item.covers(box):
                return None
            self._items.move_to_end(path)
            return item

    def put(self, item: ViewImage) -> None:
        size = item.image.sizeInBytes()
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(item.path, None)
            if old is not None:
                self._bytes -= old.image.sizeInBytes()
            self._items[item.path] = item
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.image.sizeInBytes()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def begin_decode(self, path: str) -> threading.Event | None:
        """Note that this thread decodes ``path`` now (None), or return the event of the thread already doing so."""
        with self._lock:
            running = self._decoding.get(path)
            if running is None:
                self._decoding[path] = threading.Event()
            return running

    def end_decode(self, path: str) -> None:
        with self._lock:
            done = self._decoding.pop(path, None)
        if done is not None:
            done.set()

    @property
    def bytes(self) -> int:
        return self._bytes


def to_qimage(pil_image: object) -> QImage:
    """A Pillow RGB/RGBA image as a QImage in the raster paint engine's own format (no conversion when painted)."""
    image = pil_image  # PIL.Image.Image; typed loosely so this module does not need Pillow's types
    width, height = image.size  # type: ignore[attr-defined]
    if image.mode == "RGBA":  # type: ignore[attr-defined]
        data = image.tobytes()  # type: ignore[attr-defined]
        qimage = QImage(data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
        return qimage.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    data = image.tobytes()  # type: ignore[attr-defined]
    qimage = QImage(data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return qimage.convertToFormat(QImage.Format.Format_RGB32)  # a new image: no longer borrows ``data``


class _Emitter(QObject):
    done = Signal(int, object)


class _Shared:
    """What the workers read: plain Python state that outlives the loader's Qt object."""

    def __init__(self, emitter: _Emitter, cache: DecodeCache, max_pixels: int) -> None:
        self.generation = 0  # read by workers without a lock: one int, written only by the GUI thread
        self.emitter, self.cache, self.max_pixels = emitter, cache, max_pixels
        self._lock = threading.Lock()
        self._running: dict[int, tuple[str, threading.Event]] = {}

    def started(self, key: int, path: str) -> threading.Event:
        """Register a running decode of ``path``; the event cancels it."""
        cancel = threading.Event()
        with self._lock:
            self._running[key] = (path, cancel)
        return cancel

    def finished(self, key: int) -> None:
        with self._lock:
            self._running.pop(key, None)

    def cancel_running(self, keep: str | None = None) -> None:
        """Cancel every running decode except those of ``keep`` (the photo asked for next may be among them)."""
        with self._lock:
            for path, cancel in self._running.values():
                if path != keep:
                    cancel.set()


class _DecodeTask(QRunnable):
    """Decode one photo for the viewer (or fill the cache ahead, without answering)."""

    def __init__(self, shared: _Shared, path: str, box: tuple[int, int], answer: bool) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._shared, self._generation, self._path, self._box, self._answer = shared, shared.generation, path, box, answer

    def run(self) -> None:
        shared = self._shared
        if self._generation != shared.generation:
            return  # asked for before the newest request: nobody will look at it
        cancel = shared.started(id(self), self._path)
        try:
            outcome: ViewImage | ViewProblem = self._load(cancel)
        except DecodeCancelled:
            return  # the user moved on to another photo
        except PhotoUnreadable as error:
            outcome = ViewProblem(self._path, str(error))
        except Exception as error:  # a worker thread's boundary: anything else still becomes a shown reason
            log.exception("viewer could not decode %s", self._path)
            outcome = ViewProblem(self._path, f"The photo could not be shown ({type(error).__name__}: {error}).")
        finally:
            shared.finished(id(self))
        if self._answer:
            shared.emitter.done.emit(self._generation, outcome)

    def _load(self, cancel: threading.Event) -> ViewImage:
        cache = self._shared.cache
        version = photo_decode.file_version(self._path)
        cached = cache.get(self._path, version, self._box)
        if cached is not None:
            return cached
        running = cache.begin_decode(self._path)
        if running is not None:
            # Usually the look-ahead decoding the very photo just asked for: its result beats decoding it twice.
            running.wait(JOIN_TIMEOUT_S)
            cached = cache.get(self._path, version, self._box)
            if cached is not None:
                return cached
        try:
            photo = photo_decode.decode_to_fit(self._path, self._box, max_pixels=self._shared.max_pixels, cancel=cancel)
            item = ViewImage(self._path, to_qimage(photo.image), photo.full_size, photo.decoded_size, photo.version, self._box)
            cache.put(item)
            return item
        finally:
            if running is None:
                cache.end_decode(self._path)


class ViewerLoader(QObject):
    """Decodes photos for the viewer on a pool of its own.

    Signals:
        ready(object): the answer to the newest request: a ``ViewImage`` or a ``ViewProblem``.

    Attributes:
        generation: the newest request's number (answers to older ones are dropped).
        cache: decoded photos, shared by the workers.
        max_pixels: photos larger than this are refused with a reason, before any pixel is decoded.
    """

    ready = Signal(object)

    def __init__(
        self, *, threads: int = THREADS, cache_bytes: int = CACHE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.cache = DecodeCache(cache_bytes)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, min(threads, os.cpu_count() or 1)))
        emitter = _Emitter(self)
        emitter.done.connect(self._on_done)
        self._shared = _Shared(emitter, self.cache, max_pixels)

    @property
    def generation(self) -> int:
        return self._shared.generation

    @property
    def max_pixels(self) -> int:
        return self._shared.max_pixels

    def request(self, path: str, box: tuple[int, int]) -> int:
        """Decode ``path`` to fit ``box`` (pixels); every earlier request becomes stale. Returns its generation."""
        self.cancel(keep=path)
        self._pool.start(_DecodeTask(self._shared, path, _positive(box), True))
        return self.generation

    def prefetch(self, paths: list[str], box: tuple[int, int]) -> None:
        """Decode ``paths`` into the cache, after the current request, until the next request."""
        for path in paths:
            self._pool.start(_DecodeTask(self._shared, path, _positive(box), False), -1)

    def cancel(self, keep: str | None = None) -> None:
        """Make every request stale, drop queued work and cancel running decodes (but those of ``keep``)."""
        self._shared.generation += 1
        self._pool.clear()
        self._shared.cancel_running(keep)

    def wait(self, msecs: int = 2000) -> bool:
        """Cancel and wait for running decodes (before the window closes)."""
        self.cancel()
        return self._pool.waitForDone(msecs)

    @Slot(int, object)
    def _on_done(self, generation: int, outcome: object) -> None:
        if generation == self.generation:
            self.ready.emit(outcome)


def _positive(box: tuple[int, int]) -> tuple[int, int]:
    return max(1, int(box[0])), max(1, int(box[1]))
