"""Thumbnails decoded off the GUI thread, cached in memory and on disk.

Decoding runs on a small ``QThreadPool`` of its own (Picard keeps urgent and bulk work in separate pools), with
Pillow restricted to the formats xmr indexes (the indexer's own ``open_checked``; Qt's readers, which pick a
decoder by content, are never given a photo), within the process-wide decode memory budget: JPEGs decode at a
reduced DCT scale (draft mode), other formats are reduced by whole factors before any mode conversion. Worker
threads only make ``QImage``s; the GUI thread turns them into icons.
Disk entries are keyed by path, size and mtime, so an edited photo gets a new thumbnail. Both caches are
bounded by bytes, least recently used first: icons in memory (``memory_bytes``) and files on disk
(``disk_bytes``, see ``thumbnail_disk``); ``forget_under`` drops a removed folder's thumbnails from both.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path

from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from xmr_desktop.engine.preprocess import (
    DECODE_BUDGET,
    DecodeCancelled,
    ImageRejected,
    decoded_bytes,
    load_pixels,
    open_checked,
    resize_converted,
)
from xmr_desktop.ui.thumbnail_disk import DISK_CACHE_BYTES, ThumbnailDisk

log = logging.getLogger(__name__)

THUMBNAIL_PX = 256
MEMORY_BYTES = 128 * 2**20  # decoded icons kept in memory: ~500 thumbnails of 256 px
_DISK_FORMAT = "jpg"


def cache_key(path: str, size: int, mtime: float, px: int = THUMBNAIL_PX) -> str:
    """The disk cache's name for one version of one photo at one resolution."""
    digest = hashlib.blake2b(f"{px}\0{size}\0{mtime!r}\0".encode() + os.fsencode(path), digest_size=16)
    return digest.hexdigest()


def decode_thumbnail(path: str, px: int = THUMBNAIL_PX) -> QImage:
    """Read ``path`` scaled to fit ``px`` x ``px`` (EXIF orientation applied); a null QImage if unreadable.

    Only formats xmr indexes are opened. The image is shrunk (draft mode, then ``reduce`` by whole factors, or
    band by band for palette images) before it is converted to RGBA, so a big photo never exists in memory
    twice at full size.
    """
    from PIL import Image, ImageOps

    try:
        with open_checked(path) as opened:
            opened.draft("RGB" if opened.mode not in ("L", "RGB") else opened.mode, (px, px))  # JPEG only
            with DECODE_BUDGET.reserve(decoded_bytes(opened)):
                image: Image.Image = load_pixels(opened)
                if image.mode in ("RGB", "RGBA", "L", "LA"):
                    image.thumbnail((px, px))  # reduce() by whole factors, then a filtered resize; in place
                else:  # palettes, 16-bit: no filter resizes those; converted band by band, never whole
                    scale = min(1.0, px / max(image.size))
                    fit = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
                    image = resize_converted(image, fit, Image.Resampling.BICUBIC, "RGBA")
                image = ImageOps.exif_transpose(image).convert("RGBA")  # small by now: copies cost little
            data = image.tobytes()
            return QImage(data, image.width, image.height, 4 * image.width, QImage.Format.Format_RGBA8888).copy()
    except (ImageRejected, DecodeCancelled, OSError) as error:
        log.debug("no thumbnail for %s: %s", path, error)
        return QImage()


class _Emitter(QObject):
    decoded = Signal(str, int, QImage)


class _DecodeTask(QRunnable):
    """Load one thumbnail from the disk cache, or decode it and store it there."""

    def __init__(
        self, emitter: _Emitter, token: int, path: str, disk: ThumbnailDisk | None, key: str, px: int
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._emitter, self._token, self._path, self._px = emitter, token, path, px
        self._disk, self._key = disk, key

    def run(self) -> None:
        image = QImage()
        cache_file = self._disk.file_for(self._key) if self._disk is not None else None
        if cache_file is not None and cache_file.is_file():
            image = QImage(str(cache_file), _DISK_FORMAT)  # our own file; still never sniffed
            if not image.isNull():
                self._disk.used(self._key)  # type: ignore[union-attr]
        if image.isNull():
            image = decode_thumbnail(self._path, self._px)
            if not image.isNull() and cache_file is not None:
                self._store(image, cache_file)
        self._emitter.decoded.emit(self._path, self._token, image)

    def _store(self, image: QImage, cache_file: Path) -> None:
        assert self._disk is not None
        try:
            cache_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = cache_file.with_suffix(f".{os.getpid()}.part")
            if image.convertToFormat(QImage.Format.Format_RGB32).save(str(partial), _DISK_FORMAT, 85):
                partial.chmod(0o600)  # a thumbnail shows a private photo
                partial.replace(cache_file)
                self._disk.stored(self._key, self._path, cache_file.stat().st_size)
        except OSError as error:  # a full or read-only cache disk only costs speed
            log.debug("cannot cache thumbnail of %s: %s", self._path, error)


class _Job(QRunnable):
    """A plain function on the pool (deleting a removed folder's thumbnails off the GUI thread)."""

    def __init__(self, job: Callable[[], object]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job = job

    def run(self) -> None:
        self._job()


class ThumbnailCache(QObject):
    """Icons for photo paths, decoded in the background on demand.

    Signals:
        ready(path): the icon for ``path`` is now available from ``icon()``.

    Attributes:
        cache_dir: disk cache folder (None: memory only).
        px: decode resolution (the largest thumbnail size the view offers).
        memory_bytes: decoded icons kept in memory, least recently used dropped first.
        disk: the bounded disk cache (None: memory only).
    """

    ready = Signal(str)

    def __init__(
        self, cache_dir: Path | None, *, px: int = THUMBNAIL_PX, memory_bytes: int = MEMORY_BYTES,
        disk_bytes: int = DISK_CACHE_BYTES, threads: int = 3, parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.px = px
        self.memory_bytes = memory_bytes
        self.disk = ThumbnailDisk(cache_dir, disk_bytes) if cache_dir is not None else None
        self._icons: OrderedDict[str, tuple[QIcon, int]] = OrderedDict()
        self._icon_bytes = 0
        self._in_flight: set[str] = set()
        self._token = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, min(threads, os.cpu_count() or 1)))
        # Its own pool: cancel_pending() clears the decode queue, and a folder's deletion must not be dropped.
        self._maintenance = QThreadPool(self)
        self._maintenance.setMaxThreadCount(1)
        self._emitter = _Emitter(self)
        self._emitter.decoded.connect(self._on_decoded)
        self._placeholder: QIcon | None = None
        self._broken: QIcon | None = None

    def icon(self, path: str, size: int = 0, mtime: float = 0.0) -> QIcon | None:
        """The cached icon, or None after queueing a decode (``ready`` follows)."""
        entry = self._icons.get(path)
        if entry is not None:
            self._icons.move_to_end(path)
            return entry[0]
        if path not in self._in_flight:
            self._in_flight.add(path)
            key = cache_key(path, size, mtime, self.px)
            self._pool.start(_DecodeTask(self._emitter, self._token, path, self.disk, key, self.px))
        return None

    def forget_under(self, folder_path: str) -> None:
        """Drop the thumbnails of every photo at or under ``folder_path`` (a folder removed from the index),
        from memory now and from disk on the decoder pool."""
        prefix = folder_path.rstrip(os.sep) + os.sep
        for path in [p for p in self._icons if p == folder_path or p.startswith(prefix)]:
            self._icon_bytes -= self._icons.pop(path)[1]
        if self.disk is not None:
            disk = self.disk
            self._maintenance.start(_Job(lambda: disk.forget_under(folder_path)))

    def placeholder(self) -> QIcon:
        """A neutral tile shown until a thumbnail is ready."""
        if self._placeholder is None:
            self._placeholder = _tile(QColor(128, 128, 128, 60))
        return self._placeholder

    def cancel_pending(self) -> None:
        """Forget queued decodes (a new result list replaced the old one); running ones still finish."""
        self._pool.clear()
        self._in_flight.clear()
        self._token += 1

    def wait(self, msecs: int = 2000) -> bool:
        """Drop queued work and wait for running decodes (before the application quits)."""
        self.cancel_pending()
        done = self._pool.waitForDone(msecs)
        return self._maintenance.waitForDone(msecs) and done

    @Slot(str, int, QImage)
    def _on_decoded(self, path: str, token: int, image: QImage) -> None:
        if token == self._token:
            self._in_flight.discard(path)
        if image.isNull():
            if self._broken is None:
                self._broken = _tile(QColor(200, 60, 60, 60))
            icon, nbytes = self._broken, 64  # shared: costs only its entry
        else:
            icon, nbytes = QIcon(QPixmap.fromImage(image)), image.width() * image.height() * 4
        old = self._icons.pop(path, None)
        if old is not None:
            self._icon_bytes -= old[1]
        self._icons[path] = (icon, nbytes)
        self._icon_bytes += nbytes
        while self._icon_bytes > self.memory_bytes and len(self._icons) > 1:
            self._icon_bytes -= self._icons.popitem(last=False)[1][1]
        self.ready.emit(path)


def _tile(colour: QColor) -> QIcon:
    pixmap = QPixmap(QSize(THUMBNAIL_PX, THUMBNAIL_PX))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(8, 8, THUMBNAIL_PX - 16, THUMBNAIL_PX - 16, 12, 12)
    painter.end()
    return QIcon(pixmap)
