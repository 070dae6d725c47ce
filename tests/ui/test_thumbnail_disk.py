"""The disk thumbnail cache stays under its budget (least recently used first) and forgets removed folders."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from PIL import Image

from xmr_desktop.ui.thumbnail_disk import ThumbnailDisk
from xmr_desktop.ui.thumbnails import ThumbnailCache, cache_key


def put(disk: ThumbnailDisk, photo: str, nbytes: int = 1000) -> str:
    key = cache_key(photo, nbytes, 0.0)
    target = disk.file_for(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"j" * nbytes)
    disk.stored(key, photo, nbytes)
    return key


def test_the_least_recently_used_thumbnails_go_when_the_budget_is_exceeded(tmp_path: Path) -> None:
    disk = ThumbnailDisk(tmp_path / "thumbs", max_bytes=10_000)
    keys = [put(disk, f"/photos/{i}.jpg") for i in range(10)]
    disk.used(keys[0])  # read again: the most recently used now
    time.sleep(0.01)
    put(disk, "/photos/new.jpg")
    assert disk.total_bytes() <= 10_000
    assert disk.file_for(keys[0]).exists()  # used recently: kept
    assert not disk.file_for(keys[1]).exists()  # the oldest: gone
    assert sum(1 for _ in (tmp_path / "thumbs").rglob("*.jpg")) * 1000 == disk.total_bytes()


def test_a_removed_folder_s_thumbnails_are_deleted(tmp_path: Path) -> None:
    disk = ThumbnailDisk(tmp_path / "thumbs", max_bytes=10**9)
    gone = [put(disk, path) for path in ["/media/card/a.jpg", "/media/card/DCIM/b.jpg"]]
    kept = [put(disk, path) for path in ["/media/cards/c.jpg", "/media/card.jpg", "/home/me/d.jpg"]]
    assert disk.forget_under("/media/card") == 2
    assert not any(disk.file_for(key).exists() for key in gone)
    assert all(disk.file_for(key).exists() for key in kept)
    assert disk.total_bytes() == 3000


def test_thumbnails_from_before_the_index_are_adopted_and_age_out(tmp_path: Path) -> None:
    folder = tmp_path / "thumbs"
    old_key = cache_key("/old.jpg", 1, 0.0)
    (folder / old_key[:2]).mkdir(parents=True)
    (folder / old_key[:2] / f"{old_key}.jpg").write_bytes(b"j" * 5000)  # written by a version without the index
    os.utime(folder / old_key[:2] / f"{old_key}.jpg", (1, 1))
    disk = ThumbnailDisk(folder, max_bytes=6000)
    put(disk, "/new.jpg", 2000)
    assert not disk.file_for(old_key).exists() and disk.total_bytes() == 2000


def test_the_window_cache_forgets_a_folder_in_memory_and_on_disk(qtbot: Any, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "trip").mkdir(parents=True)
    paths = []
    for name in ["trip/a.jpg", "trip/b.jpg", "c.jpg"]:
        Image.new("RGB", (300, 200), "orange").save(photos / name)
        paths.append(str(photos / name))
    cache = ThumbnailCache(tmp_path / "thumbs")
    try:
        for path in paths:
            cache.icon(path, 1, 1.0)
        # Decodes finish in any order, some perhaps before a wait on a signal would start: wait for the state.
        qtbot.waitUntil(lambda: all(cache.icon(path, 1, 1.0) is not None for path in paths), timeout=10_000)
        cache.forget_under(str(photos / "trip"))
        assert cache.wait()
        assert cache.disk is not None and sum(1 for _ in (tmp_path / "thumbs").rglob("*.jpg")) == 1
        assert cache.icon(paths[2], 1, 1.0) is not None  # the other folder's stays in memory
        assert cache.icon(paths[0], 1, 1.0) is None  # forgotten: decoded again if shown again
    finally:
        cache.wait()  # no decoder may outlive the cache (its signals would reach a deleted object)


def test_icons_in_memory_are_bounded_by_bytes(qtbot: Any, tmp_path: Path) -> None:
    cache = ThumbnailCache(None, memory_bytes=int(3.5 * 256 * 171 * 4))  # room for three 256×171 icons
    paths = []
    for i in range(6):
        path = tmp_path / f"{i}.jpg"
        Image.new("RGB", (300, 200), (40 * i, 0, 0)).save(path)
        paths.append(str(path))
        cache.icon(str(path))
        with qtbot.waitSignal(cache.ready, timeout=10_000):
            pass
    assert [cache._icons.get(p) is not None for p in paths] == [False, False, False, True, True, True]
    cache.wait()


def test_the_disk_budget_is_a_setting(qtbot: Any, tmp_path: Path) -> None:
    from xmr_desktop.ui.settings import AppSettings

    settings = AppSettings(tmp_path)
    assert settings.thumbnail_cache_bytes == 512 * 2**20
    settings.thumbnail_cache_bytes = 64 * 2**20
    assert AppSettings(tmp_path).thumbnail_cache_bytes == 64 * 2**20
