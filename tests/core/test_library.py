"""The photo-library core in threaded mode: searches between batches, nothing torn down, one owner of the counts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fakes import ColourEmbedder
from synthetic_shapes import all_items, make_folder
from xmr_desktop.config import resolve_paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.errors import FolderOverlapError, IndexBusyError
from xmr_desktop.library.store import Store

TIMEOUT = 60


class SlowEmbedder(ColourEmbedder):
    """Takes ``delay`` seconds per batch, like a real model on a CPU."""

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__()
        self.delay = delay

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        time.sleep(self.delay)
        return super().embed_images(pixels)


class Recorder:
    """Collects events (they arrive on the core's thread)."""

    def __init__(self) -> None:
        self.events: list[e.Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: e.Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        with self._lock:
            return [event for event in self.events if isinstance(event, kind)]


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    make_folder(folder, all_items() * 10, ".png", np.random.default_rng(3), size=32)  # 120 photos
    return folder


def threaded_library(tmp_path: Path, model: ColourEmbedder, **options: Any) -> tuple[PhotoLibrary, Recorder]:
    paths = resolve_paths(tmp_path / "data").ensure()
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=True, batch_size=8, decode_workers=2, **options)
    recorder = Recorder()
    library.subscribe(recorder)
    library.start()
    library.call(c.LoadModel(None), timeout=TIMEOUT)
    return library, recorder


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How often photos were decoded and how often the pending set and the folder counts were read."""
    from xmr_desktop.library import pipeline

    counts = {"decoded": 0, "pending_queries": 0, "count_queries": 0}
    real_load, real_pending, real_counts = pipeline.load_for_embedding, Store.pending, Store.folder_counts

    def load(*args: Any, **kwargs: Any) -> Any:
        counts["decoded"] += 1
        return real_load(*args, **kwargs)

    def pending(self: Store, *args: Any, **kwargs: Any) -> Any:
        counts["pending_queries"] += 1
        return real_pending(self, *args, **kwargs)

    def folder_counts(self: Store, *args: Any, **kwargs: Any) -> Any:
        counts["count_queries"] += 1
        return real_counts(self, *args, **kwargs)

    monkeypatch.setattr(pipeline, "load_for_embedding", load)
    monkeypatch.setattr(Store, "pending", pending)
    monkeypatch.setattr(Store, "folder_counts", folder_counts)
    yield counts


def test_searches_during_indexing_do_not_tear_the_pipeline_down(tmp_path: Path, photos: Path, counted: dict[str, int]) -> None:
    model = SlowEmbedder()
    library, recorder = threaded_library(tmp_path, model)
    try:
        run = library.submit(c.IndexNow((str(photos),)))
        answered_while_indexing = 0
        while not run.done():
            results = library.call(c.Search("red", top_k=5), timeout=TIMEOUT)
            if not run.done() and results:
                answered_while_indexing += 1
            time.sleep(0.02)
        report = run.result()
    finally:
        library.close()
    assert report.embedded == 120 and model.images_embedded == 120
    assert answered_while_indexing >= 3
    # Every photo was decoded once: photos decoded ahead of a search were kept, not dropped and read again.
    assert counted["decoded"] == 120
    # The pending set was read a chunk at a time, not again after every search.
    assert counted["pending_queries"] <= 6
    # Folder counts came from the store at start, after the model load and after the scan; batches moved them.
    assert counted["count_queries"] <= 4
    final = recorder.of(e.FoldersChanged)[-1].folders[0]
    assert (final.indexed, final.pending, final.total) == (120, 0, 120)


def test_a_waiting_search_is_replaced_by_a_newer_one_on_its_channel(tmp_path: Path, photos: Path) -> None:
    model = SlowEmbedder(delay=0.3)
    library, _ = threaded_library(tmp_path, model)
    try:
        library.submit(c.IndexNow((str(photos),)))
        time.sleep(0.2)  # a batch is being embedded now: the searches below wait behind it
        typed = [library.submit(c.Search(text, channel="box")) for text in ("r", "re", "red")]
        assert typed[-1].result(TIMEOUT) is not None
        assert typed[0].cancelled() and typed[1].cancelled()
    finally:
        library.close()


def test_folders_cannot_nest_and_a_parent_absorbs_its_children(tmp_path: Path, photos: Path) -> None:
    inner = photos / "inner"
    make_folder(inner, all_items()[:2], ".png", np.random.default_rng(4), size=32)
    library, _ = threaded_library(tmp_path, ColourEmbedder())
    try:
        library.call(c.IndexNow((str(inner),)), timeout=TIMEOUT)
        added = library.call(c.AddFolder(str(photos)), timeout=TIMEOUT)
        assert added.absorbed == [str(inner)]
        with pytest.raises(FolderOverlapError, match="already indexed as part of"):
            library.call(c.AddFolder(str(inner)), timeout=TIMEOUT)
        library.call(c.IndexNow(), timeout=TIMEOUT)
        status = library.call(c.GetStatus(), timeout=TIMEOUT)
        assert [(f.path, f.total, f.indexed) for f in status.folders] == [(str(photos), 122, 122)]
    finally:
        library.close()


def test_a_busy_index_is_reported_and_indexing_resumes_by_itself(
    tmp_path: Path, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xmr_desktop.core import background
    from xmr_desktop.library.pipeline import IndexPipeline

    monkeypatch.setattr(background, "RETRY_AFTER_S", 0.2)
    real_step = IndexPipeline.step
    failures = {"left": 1}

    def step(self: IndexPipeline, *args: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise IndexBusyError("The index is busy: another xmr_desktop process is writing to it.")
        return real_step(self, *args)

    monkeypatch.setattr(IndexPipeline, "step", step)
    library, recorder = threaded_library(tmp_path, ColourEmbedder())
    try:
        library.call(c.AddFolder(str(photos)), timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while not recorder.of(e.IndexingFinished) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        library.close()
    (problem,) = recorder.of(e.Problem)
    assert problem.retrying and "busy" in problem.message and "resumes by itself" in problem.message
    assert recorder.of(e.IndexingFinished)[-1].report.embedded == 120


class IncompleteWatcher:
    """A watcher whose OS refused watches (inotify's max_user_watches reached)."""

    def __init__(self, on_changes: Any, **options: Any) -> None:
        self.watched: list[str] = []

    def watch(self, path: str) -> bool:
        return False

    def unwatch(self, path: str) -> None: ...

    def rewatch(self, path: str) -> bool:
        return False

    def stop(self) -> None: ...


def test_a_folder_without_live_updates_says_so_and_is_rescanned_periodically(
    tmp_path: Path, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xmr_desktop.core import folder_io

    monkeypatch.setattr(folder_io, "PROBE_INTERVAL_S", 0.1)
    monkeypatch.setattr(folder_io, "UNWATCHED_RESCAN_S", 0.3)
    library, recorder = threaded_library(tmp_path, ColourEmbedder(), watcher_factory=IncompleteWatcher)
    try:
        library.call(c.IndexNow((str(photos),)), timeout=TIMEOUT)
        (info,) = library.call(c.GetStatus(), timeout=TIMEOUT).folders
        assert "live updates off" in info.note and "max_user_watches" in info.note
        make_folder(photos / "later", all_items()[:3], ".png", np.random.default_rng(8), size=32)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            (info,) = library.call(c.GetStatus(), timeout=TIMEOUT).folders
            if info.indexed == 123:
                break
            time.sleep(0.1)
    finally:
        library.close()
    assert info.indexed == 123


def test_closing_returns_within_a_batch_and_leaves_the_index_sound(tmp_path: Path, photos: Path) -> None:
    model = SlowEmbedder(delay=0.1)
    library, recorder = threaded_library(tmp_path, model)
    library.submit(c.IndexNow((str(photos),)))
    deadline = time.monotonic() + TIMEOUT
    while not recorder.of(e.BatchCommitted) and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    assert library.close(timeout=5)
    assert time.monotonic() - started < 2.0
    with Store.open(library.paths.index_db) as store:
        assert store.integrity_ok()
        assert 0 < store.counts(model.model_id).indexed < 120
        assert store.get_meta("clean_shutdown") == "1"
