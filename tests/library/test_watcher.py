"""The folder watcher: debouncing, moves, deletes, filtering, and applying a batch to the store."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from watchdog.events import (
    DirCreatedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
)

from xmr_desktop.library.store import Store
from xmr_desktop.library.watcher import Changes, FolderWatcher, apply_changes, is_photo_path, owning_folder

WAIT_S = 10.0


class FakeObserver:
    """Stands in for watchdog's observer: tests dispatch events to the scheduled handlers themselves."""

    def __init__(self) -> None:
        self.daemon = False
        self.handlers: dict[str, Any] = {}
        self.missing: set[str] = set()

    def schedule(self, handler: Any, path: str, recursive: bool = False, event_filter: Any = None) -> str:
        if path in self.missing:
            raise FileNotFoundError(path)
        self.handlers[path] = handler
        self.event_filter = event_filter
        return path

    def unschedule(self, watch: str) -> None:
        del self.handlers[watch]

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


class Batches:
    """Collects delivered batches; ``next()`` blocks (bounded) until one arrives."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Changes] = queue.Queue()
        self.threads: set[str] = set()

    def __call__(self, changes: Changes) -> None:
        self.threads.add(threading.current_thread().name)
        self.queue.put(changes)

    def next(self, timeout: float = WAIT_S) -> Changes:
        return self.queue.get(timeout=timeout)

    def empty(self) -> bool:
        return self.queue.empty()


@pytest.fixture
def batches() -> Batches:
    return Batches()


@pytest.fixture
def fake(batches: Batches) -> Iterator[tuple[FolderWatcher, FakeObserver]]:
    observer = FakeObserver()
    watcher = FolderWatcher(batches, debounce=0.2, max_wait=1.0, observer_factory=lambda: observer)
    yield watcher, observer
    watcher.stop()


ROOT = os.path.abspath("/photos")


def at(*parts: str) -> str:
    return os.path.join(ROOT, *parts)


def test_a_burst_of_events_arrives_as_one_batch(fake: tuple[FolderWatcher, FakeObserver], batches: Batches) -> None:
    watcher, observer = fake
    assert watcher.watch(ROOT)
    handler = observer.handlers[ROOT]
    names = [at(f"img_{i:03}.jpg") for i in range(200)]
    for name in names:
        handler.dispatch(FileCreatedEvent(name))
        handler.dispatch(FileModifiedEvent(name))
        handler.dispatch(FileClosedEvent(name))
    batch = batches.next()
    assert batch.changed == set(names)
    assert batch.deleted == set() and batch.rescan == set()
    assert batches.threads == {"xmr-watch-flush"}
    assert batches.empty()


def test_a_burst_that_never_quiets_is_still_delivered_after_max_wait(batches: Batches) -> None:
    observer = FakeObserver()
    watcher = FolderWatcher(batches, debounce=0.5, max_wait=0.6, observer_factory=lambda: observer)
    try:
        watcher.watch(ROOT)
        handler = observer.handlers[ROOT]
        stop = threading.Event()

        def keep_busy() -> None:
            i = 0
            while not stop.is_set():
                handler.dispatch(FileCreatedEvent(at(f"busy_{i}.png")))
                i += 1
                stop.wait(0.05)

        thread = threading.Thread(target=keep_busy)
        thread.start()
        try:
            first = batches.next(timeout=5)  # well before the stream of events ends
        finally:
            stop.set()
            thread.join()
        assert first.changed
    finally:
        watcher.stop()


def test_moves_deletes_and_filtering(fake: tuple[FolderWatcher, FakeObserver], batches: Batches) -> None:
    watcher, observer = fake
    watcher.watch(ROOT)
    handler = observer.handlers[ROOT]
    handler.dispatch(FileMovedEvent(at("a.jpg"), at("b.jpg")))  # rename
    handler.dispatch(FileMovedEvent(at("c.jpg"), "/elsewhere/c.jpg"))  # moved out of the watched tree
    handler.dispatch(FileMovedEvent(at("download.part"), at("d.png")))  # a finished download
    handler.dispatch(FileDeletedEvent(at("e.jpeg")))
    handler.dispatch(FileCreatedEvent(at("notes.txt")))  # not a photo
    handler.dispatch(FileCreatedEvent(at(".cache", "x.jpg")))  # hidden
    handler.dispatch(FileCreatedEvent(at("@eaDir", "x.jpg")))  # NAS thumbnails
    batch = batches.next()
    assert batch.changed == {at("b.jpg"), at("d.png")}
    assert batch.deleted == {at("a.jpg"), at("c.jpg"), at("e.jpeg")}
    assert batch.rescan == set()


def test_the_last_event_for_a_path_wins(fake: tuple[FolderWatcher, FakeObserver], batches: Batches) -> None:
    watcher, observer = fake
    watcher.watch(ROOT)
    handler = observer.handlers[ROOT]
    handler.dispatch(FileCreatedEvent(at("tmp.jpg")))
    handler.dispatch(FileDeletedEvent(at("tmp.jpg")))  # created and gone within the burst
    handler.dispatch(FileDeletedEvent(at("back.jpg")))
    handler.dispatch(FileCreatedEvent(at("back.jpg")))  # replaced
    batch = batches.next()
    assert batch.changed == {at("back.jpg")}
    assert batch.deleted == {at("tmp.jpg")}


def test_directory_events_ask_for_a_rescan_of_the_root(fake: tuple[FolderWatcher, FakeObserver], batches: Batches) -> None:
    watcher, observer = fake
    watcher.watch(ROOT)
    observer.handlers[ROOT].dispatch(DirCreatedEvent(at("2024 holidays")))
    assert batches.next().rescan == {ROOT}


def test_watch_of_a_missing_folder_is_refused_and_unwatch_is_idempotent(fake: tuple[FolderWatcher, FakeObserver]) -> None:
    watcher, observer = fake
    observer.missing.add(at("gone"))
    assert not watcher.watch(at("gone"))
    assert watcher.watch(ROOT) and watcher.roots == [ROOT]
    watcher.unwatch(ROOT)
    watcher.unwatch(ROOT)
    assert watcher.roots == [] and observer.handlers == {}


def test_merge_keeps_the_later_batch_decision() -> None:
    earlier = Changes(changed={"a", "b"}, deleted={"c"})
    earlier.merge(Changes(changed={"c"}, deleted={"a"}, rescan={"/r"}))
    assert earlier.changed == {"b", "c"} and earlier.deleted == {"a"} and earlier.rescan == {"/r"}


def test_is_photo_path_follows_the_scanner_rules() -> None:
    assert is_photo_path(at("a", "B.JPG"), ROOT)
    assert not is_photo_path(at(".hidden", "a.jpg"), ROOT)
    assert not is_photo_path(at("a.txt"), ROOT)
    assert not is_photo_path("/other/a.jpg", ROOT)


# -- with the real watchdog observer ----------------------------------------------------------------------


def save_photo(path: Path, colour: str = "red") -> None:
    Image.new("RGB", (16, 16), colour).save(path)


def test_real_filesystem_events(tmp_path: Path, batches: Batches) -> None:
    root = tmp_path / "watched"
    root.mkdir()
    (root / "old.png").parent.mkdir(exist_ok=True)
    save_photo(root / "old.png")
    watcher = FolderWatcher(batches, debounce=0.3, max_wait=3.0)
    try:
        assert watcher.watch(str(root))
        for i in range(20):
            save_photo(root / f"new_{i}.png")
        first = batches.next()
        while not {str(root / f"new_{i}.png") for i in range(20)} <= first.changed:
            first.merge(batches.next())
        os.rename(root / "new_0.png", root / "renamed.png")
        (root / "new_1.png").unlink()
        second = batches.next()
        while not (str(root / "new_1.png") in second.deleted and str(root / "renamed.png") in second.changed):
            second.merge(batches.next())
        assert str(root / "new_0.png") in second.deleted
    finally:
        watcher.stop()


# -- applying a batch to the store ------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "index.sqlite3") as opened:
        yield opened


def test_apply_changes_records_new_and_changed_files_and_removes_deleted(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        save_photo(root / name)
    folder = store.add_folder(str(root))
    from xmr_desktop.library.scanner import sync_folder

    sync_folder(store, folder)
    before = store.file_stats(folder.id)

    save_photo(root / "d.png")  # new
    save_photo(root / "a.png", "blue")  # changed content
    os.utime(root / "a.png", ns=(1, 1))
    (root / "c.png").unlink()
    applied = apply_changes(
        store,
        Changes(
            changed={str(root / "a.png"), str(root / "b.png"), str(root / "d.png"), str(root / "vanished.png")},
            deleted={str(root / "c.png")},
        ),
    )
    after = store.file_stats(folder.id)
    assert set(after) == {str(root / n) for n in ("a.png", "b.png", "d.png")}
    assert after[str(root / "b.png")] == before[str(root / "b.png")]  # untouched: same size and mtime
    assert after[str(root / "a.png")][2] == 1
    assert applied.updated == 2  # a (changed) and d (new); b was unchanged
    assert applied.removed == 1
    assert applied.folder_ids == {folder.id}


def test_apply_changes_ignores_paths_outside_indexed_folders_and_returns_rescans(tmp_path: Path, store: Store) -> None:
    outer = store.add_folder(str(tmp_path / "outer"))
    assert owning_folder(str(tmp_path / "outer" / "inner" / "x.jpg"), store.folders()) == outer
    assert owning_folder(str(tmp_path / "outerwear" / "x.jpg"), store.folders()) is None
    applied = apply_changes(store, Changes(changed={"/nowhere/x.jpg"}, rescan={outer.path}))
    assert applied.updated == 0 and [f.path for f in applied.rescan] == [outer.path]
