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


def test_a_thumbnail_keeps_the_aspect_ratio_and_the_orientation(tmp_path: Path) -> None:
    photo = tmp_path / "wide.png"
    Image.new("RGB", (1000, 250), "teal").save(photo)
    image = decode_thumbnail(str(photo), 256)
    assert (image.width(), image.height()) == (256, 64)

    sideways = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    Image.new("RGB", (1000, 500), "teal").save(sideways, exif=exif)
    image = decode_thumbnail(str(sideways), 256)
    assert (image.width(), image.height()) == (128, 256)


def test_an_eps_named_jpg_gets_no_thumbnail_and_ghostscript_never_runs(tmp_path: Path, monkeypatch: Any) -> None:
    from PIL import EpsImagePlugin

    started: list[str] = []

    def ghostscript(*args: object, **kwargs: object) -> None:
        started.append("gs")
        raise OSError("Ghostscript must never run")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n%%EndComments\n{ } loop\nshowpage\n%%EOF\n")
    assert decode_thumbnail(str(photo)).isNull()
    assert started == []


def test_formats_only_qt_would_read_get_no_thumbnail(tmp_path: Path) -> None:
    """Qt picks its reader by content too (XPM, SVG, ICO...); thumbnails open only what xmr indexes."""
    photo = tmp_path / "photo.png"
    photo.write_text('/* XPM */\nstatic char *x[] = {\n"2 2 1 1",\n"a c #ff0000",\n"aa",\n"aa"};\n', encoding="ascii")
    assert decode_thumbnail(str(photo)).isNull()


def test_big_photos_are_shrunk_before_conversion_within_the_shared_budget(tmp_path: Path, monkeypatch: Any) -> None:
    from xmr_desktop.engine import preprocess

    photo = tmp_path / "big palette.png"
    Image.new("RGB", (3000, 2000), "orange").quantize(8).save(photo)  # a palette image: converted to RGBA
    jpeg = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), "teal").save(jpeg)
    budget = preprocess.DecodeBudget(preprocess.DECODE_BUDGET_BYTES)
    monkeypatch.setattr(thumbnails, "DECODE_BUDGET", budget)
    converted: list[tuple[int, int]] = []
    real_convert = Image.Image.convert

    def convert(self: Image.Image, *args: Any, **kwargs: Any) -> Image.Image:
        converted.append(self.size)
        return real_convert(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "convert", convert)
    assert (decode_thumbnail(str(jpeg), 256).width(), budget.peak < 4000 * 3000) == (256, True)  # draft: 1/8 scale
    assert all(max(size) <= 512 for size in converted), converted
    assert decode_thumbnail(str(photo), 256).width() == 256
    assert budget.peak >= 3000 * 2000  # the full palette image was reserved while it was decoded


def test_thumbnails_and_settings_on_disk_are_readable_only_by_the_user(qtbot: Any, tmp_path: Path) -> None:
    import os
    import stat

    from xmr_desktop.ui.settings import AppSettings

    old_umask = os.umask(0o022)
    try:
        photo = tmp_path / "photo.jpg"
        Image.new("RGB", (300, 200), "orange").save(photo)
        cache = ThumbnailCache(tmp_path / "thumbs")
        cache.icon(str(photo), 1, 2.0)
        with qtbot.waitSignal(cache.ready, timeout=10_000):
            pass
        cache.wait()
        (stored,) = (tmp_path / "thumbs").rglob("*.jpg")
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        settings = AppSettings(tmp_path)
        settings.thumb_size = 200
        settings.sync()
        assert stat.S_IMODE(settings.path.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)
