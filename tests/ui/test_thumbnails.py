"""Thumbnails: decoded off the GUI thread, cached on disk and reused, broken files get a tile, not an error."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtGui import QImage

from xmr_desktop.ui import thumbnails
from xmr_desktop.ui.thumbnails import ThumbnailCache, decode_thumbnail


def test_decoding_happens_off_the_gui_thread_and_is_cached_on_disk(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (1200, 800), "orange").save(photo)
    threads: list[str] = []
    real = thumbnails.decode_thumbnail

    def spy(path: str, px: int = 256) -> QImage:
        threads.append(threading.current_thread().name)
        return real(path, px)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", spy)
    stat = photo.stat()
    first = ThumbnailCache(tmp_path / "thumbs")
    assert first.icon(str(photo), stat.st_size, stat.st_mtime) is None
    with qtbot.waitSignal(first.ready, timeout=10_000) as ready:
        pass
    assert ready.args == [str(photo)]
    assert first.icon(str(photo), stat.st_size, stat.st_mtime) is not None
    assert threads and threading.main_thread().name not in threads
    first.wait()

    second = ThumbnailCache(tmp_path / "thumbs")  # a new session: the disk cache answers
    assert second.icon(str(photo), stat.st_size, stat.st_mtime) is None
    with qtbot.waitSignal(second.ready, timeout=10_000):
        pass
    assert len(threads) == 1
    second.wait()


def test_a_broken_file_gets_a_tile(qtbot: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    assert decode_thumbnail(str(broken)).isNull()
    cache = ThumbnailCache(None)
    cache.icon(str(broken))
    with qtbot.waitSignal(cache.ready, timeout=10_000):
        pass
    assert cache.icon(str(broken)) is not None
    cache.wait()


def test_pillow_fallback_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    photo = tmp_path / "wide.png"
    Image.new("RGB", (1000, 250), "teal").save(photo)
    image = thumbnails._decode_with_pillow(str(photo), 256)
    assert (image.width(), image.height()) == (256, 64)
