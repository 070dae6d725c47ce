"""Watching that cannot be complete says so: the inotify watch limit, a lost event queue, and only the events we use.

The watch limit is tested for real where the kernel allows a private user namespace (``unshare -U``: its own
``user.max_inotify_watches``, nothing changes for the rest of the machine), and with watchdog's inotify call
made to fail with ENOSPC everywhere else.
"""

from __future__ import annotations

import ctypes
import errno
import os
import queue
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from xmr_desktop.library.watcher import LIVE_UPDATES_OFF, Changes, FolderWatcher, WatchStatus

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")
inotify_c: Any = pytest.importorskip("watchdog.observers.inotify_c") if sys.platform.startswith("linux") else None


class Collected:
    def __init__(self) -> None:
        self.batches: queue.Queue[Changes] = queue.Queue()
        self.statuses: queue.Queue[WatchStatus] = queue.Queue()

    def changes(self, changes: Changes) -> None:
        self.batches.put(changes)

    def status(self, status: WatchStatus) -> None:
        self.statuses.put(status)


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "Photos"
    for i in range(12):
        (root / f"{2010 + i}" / "trip").mkdir(parents=True)
    return root


@pytest.fixture
def watcher(collected: Collected) -> Iterator[FolderWatcher]:
    made = FolderWatcher(collected.changes, debounce=0.2, max_wait=1.0, on_status=collected.status)
    yield made
    made.stop()


def fail_after(monkeypatch: pytest.MonkeyPatch, allowed: int) -> None:
    """inotify_add_watch succeeds ``allowed`` more times, then fails as the kernel does at the limit."""
    real = inotify_c.inotify_add_watch
    left = [allowed]

    def add_watch(fd: int, path: bytes, mask: int) -> int:
        if left[0] <= 0:
            ctypes.set_errno(errno.ENOSPC)
            return -1
        left[0] -= 1
        return real(fd, path, mask)

    monkeypatch.setattr(inotify_c, "inotify_add_watch", add_watch)


@linux
def test_a_complete_watch_says_so(watcher: FolderWatcher, tree: Path) -> None:
    status = watcher.watch(str(tree))
    assert status == WatchStatus(str(tree), "watching") and status.complete
    assert watcher.status(str(tree)).complete


@linux
def test_the_watch_limit_reached_is_reported_not_success_simulated(
    watcher: FolderWatcher, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_after(monkeypatch, 5)  # the root and a few subfolders, then the limit: watchdog skips the rest silently
    status = watcher.watch(str(tree))
    assert status.state == "incomplete" and not status.complete and bool(status)
    assert status.reason == LIVE_UPDATES_OFF == "live updates off (raise fs.inotify.max_user_watches)"
    assert watcher.status(str(tree)) == status


@linux
def test_the_limit_at_the_root_itself_turns_watching_off(
    watcher: FolderWatcher, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_after(monkeypatch, 0)
    status = watcher.watch(str(tree))
    assert status.state == "off" and not status and status.reason == LIVE_UPDATES_OFF


@linux
def test_a_new_folder_past_the_limit_turns_the_status_incomplete(
    watcher: FolderWatcher, collected: Collected, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert watcher.watch(str(tree)).complete
    fail_after(monkeypatch, 0)
    (tree / "2030").mkdir()
    status = collected.statuses.get(timeout=10)
    assert status.root == str(tree) and status.state == "incomplete" and status.reason == LIVE_UPDATES_OFF
    assert str(tree) in collected.batches.get(timeout=10).rescan


@linux
def test_a_queue_overflow_asks_for_a_rescan_of_every_root(watcher: FolderWatcher, collected: Collected, tree: Path,
                                                          tmp_path: Path) -> None:
    other = tmp_path / "Other"
    other.mkdir()
    watcher.watch(str(tree))
    watcher.watch(str(other))
    # What the kernel sends when it dropped events, through watchdog's own handling of it.
    overflow = inotify_c.InotifyEvent(-1, inotify_c.InotifyConstants.IN_Q_OVERFLOW, 0, b"")
    watcher._observer._inotify_fd.handle_event(overflow)
    batch = collected.batches.get(timeout=10)
    assert batch.rescan == {str(tree), str(other)}


@linux
def test_reading_photos_feeds_the_watcher_nothing(watcher: FolderWatcher, tree: Path, monkeypatch: pytest.MonkeyPatch,
                                                  collected: Collected) -> None:
    from xmr_desktop.library import watcher as watcher_module

    photos = []
    for i in range(10):
        photo = tree / "2010" / f"{i}.png"
        Image.new("RGB", (8, 8), "red").save(photo)
        photos.append(photo)
    seen: list[str] = []
    real = watcher_module._RootHandler.on_any_event

    def spy(self: Any, event: Any) -> None:
        seen.append(type(event).__name__)
        real(self, event)

    monkeypatch.setattr(watcher_module._RootHandler, "on_any_event", spy)
    watcher.watch(str(tree))
    for _ in range(3):
        for photo in photos:  # what the indexer does: open, read, close
            with photo.open("rb") as handle:
                handle.read()
            with Image.open(photo) as image:
                image.load()
    Image.new("RGB", (8, 8), "blue").save(tree / "2010" / "new.png")  # a real change, to know events arrived
    while str(tree / "2010" / "new.png") not in collected.batches.get(timeout=10).changed:
        pass
    assert "FileOpenedEvent" not in seen and "FileClosedNoWriteEvent" not in seen
    assert "FileCreatedEvent" in seen


_NAMESPACE_SCRIPT = r"""
import sys
from pathlib import Path
with open("/proc/sys/user/max_inotify_watches", "w") as limit:  # this user namespace's own limit
    limit.write(sys.argv[2])
from xmr_desktop.library.watcher import FolderWatcher
watcher = FolderWatcher(lambda changes: None)
try:
    status = watcher.watch(sys.argv[1])
    print(status.state, "|", status.reason)
finally:
    watcher.stop()
"""


@linux
def test_the_watch_limit_reached_is_reported_in_a_private_user_namespace(tree: Path) -> None:
    """The real kernel limit, lowered for a private user namespace only (skipped where that is not allowed)."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-U", "-r", "true"], capture_output=True).returncode != 0:
        pytest.skip("unprivileged user namespaces are not allowed here")
    if not os.path.exists("/proc/sys/user/max_inotify_watches"):
        pytest.skip("no per-namespace inotify limits in this kernel")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = [unshare, "-U", "-r", sys.executable, "-c", _NAMESPACE_SCRIPT, str(tree)]
    low = subprocess.run([*run, "8"], capture_output=True, text=True, timeout=120, env=env)  # 25 folders
    assert low.returncode == 0, low.stderr
    assert low.stdout.strip() == f"incomplete | {LIVE_UPDATES_OFF}"
    high = subprocess.run([*run, "1000"], capture_output=True, text=True, timeout=120, env=env)
    assert high.returncode == 0, high.stderr
    assert high.stdout.strip() == "watching | None"
