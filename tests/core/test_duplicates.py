"""Duplicates through the core: groups of copies found among the indexed photos, cancelled on request, and the
confirmed ones moved to the (patched) system trash, after which the index no longer has them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from duplicate_photos import FolderTrash, PixelEmbedder, copies_folder

from xmr_desktop.config import resolve_paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core import protocol
from xmr_desktop.core.duplicate_jobs import DuplicatesCancelled
from xmr_desktop.core.duplicate_state import SAME_SHOT, DuplicatesFound
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.errors import UnknownFolderError
from xmr_desktop.library.trash import RemovalError

TIMEOUT = 60


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    return copies_folder(tmp_path / "photos")


def inline_library(tmp_path: Path, events: list[e.Event] | None = None) -> PhotoLibrary:
    paths = resolve_paths(tmp_path / "data").ensure()
    model = PixelEmbedder()
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=False, batch_size=4, decode_workers=1)
    if events is not None:
        library.subscribe(events.append)
    library.start()
    return library


def indexed(tmp_path: Path, photos: dict[str, Path], events: list[e.Event] | None = None) -> PhotoLibrary:
    library = inline_library(tmp_path, events)
    report = library.call(c.IndexNow((str(photos["a"].parent),)))
    assert report.embedded == len(photos)
    return library


def group_paths(found: DuplicatesFound) -> list[list[str]]:
    return [[Path(p.path).name for p in g.photos] for g in found.groups if g.level == SAME_SHOT]


def test_copies_are_grouped_with_the_keeper_first_and_a_second_search_decodes_nothing(tmp_path: Path, photos) -> None:
    library = indexed(tmp_path, photos)
    found = library.call(c.FindDuplicates())
    assert sorted(group_paths(found)) == [["a.png", "a-small.jpg"], ["b.jpg", "b copy.jpg"]]
    assert all(g.photos[0].keep and not any(p.keep for p in g.photos[1:]) for g in found.groups)
    assert found.photos == 5 and found.decoded == 4
    assert sorted(found.suggested_removals()) == sorted([str(photos["a-small"]), str(photos["b copy"])])
    # The perceptual hashes were kept in the index, by content hash.
    assert library.call(c.FindDuplicates()).decoded == 0


def test_a_folder_limits_the_search_and_an_unknown_one_is_refused(tmp_path: Path, photos) -> None:
    library = indexed(tmp_path, photos)
    found = library.call(c.FindDuplicates(folder=str(photos["a-small"].parent)))
    assert found.groups == () and found.photos == 1
    with pytest.raises(UnknownFolderError):
        library.call(c.FindDuplicates(folder=str(tmp_path / "elsewhere")))


def test_trashing_is_refused_unless_confirmed_and_for_photos_not_found_or_a_whole_group(
    tmp_path: Path, photos, monkeypatch: pytest.MonkeyPatch
) -> None:
    trash = FolderTrash(tmp_path / "trash")
    monkeypatch.setattr("send2trash.send2trash", trash)
    library = indexed(tmp_path, photos)
    copy = str(photos["b copy"])
    with pytest.raises(RemovalError, match="find duplicates first"):
        library.call(c.TrashPhotos((copy,), confirmed=True))
    library.call(c.FindDuplicates())
    with pytest.raises(RemovalError, match="confirmation"):
        library.call(c.TrashPhotos((copy,)))
    with pytest.raises(RemovalError, match="not among the duplicates"):
        library.call(c.TrashPhotos((str(photos["c"]),), confirmed=True))
    with pytest.raises(RemovalError, match="keep at least one"):
        library.call(c.TrashPhotos((str(photos["b"]), copy), confirmed=True))
    assert trash.sent == [] and all(p.exists() for p in photos.values())
    assert len(library.call(c.Search("anything", None, 10))) == 5


def test_a_group_whose_kept_photos_are_gone_is_not_emptied(tmp_path: Path, photos, monkeypatch) -> None:
    trash = FolderTrash(tmp_path / "trash")
    monkeypatch.setattr("send2trash.send2trash", trash)
    library = indexed(tmp_path, photos)
    library.call(c.FindDuplicates())
    photos["b"].unlink()  # deleted outside the app since the search
    with pytest.raises(RemovalError, match="no longer on disk"):
        library.call(c.TrashPhotos((str(photos["b copy"]),), confirmed=True))
    assert photos["b copy"].exists() and trash.sent == []


def test_trashed_photos_leave_the_index_and_the_groups(tmp_path: Path, photos, monkeypatch) -> None:
    trash = FolderTrash(tmp_path / "trash")
    monkeypatch.setattr("send2trash.send2trash", trash)
    events: list[e.Event] = []
    library = indexed(tmp_path, photos, events)
    found = library.call(c.FindDuplicates())
    removals = tuple(found.suggested_removals())
    result = library.call(c.TrashPhotos(removals, confirmed=True))
    assert sorted(result.trashed) == sorted(removals) and result.failed == () and result.forgotten == 2
    assert sorted(trash.sent) == sorted(removals) and not any(Path(p).exists() for p in removals)
    shown = {r.path for r in library.call(c.Search("anything", None, 10))}
    assert shown == {str(photos[k]) for k in ("a", "b", "c")}
    status = library.call(c.GetStatus())
    assert sum(f.indexed for f in status.folders) == 3
    assert [ev.paths for ev in events if isinstance(ev, e.PhotosTrashed)] == [result.trashed]
    assert any(isinstance(ev, e.SearchableChanged) for ev in events)
    # What was found no longer offers the trashed photos, and the next search finds no groups.
    with pytest.raises(RemovalError):
        library.call(c.TrashPhotos((removals[0],), confirmed=True))
    assert library.call(c.FindDuplicates()).groups == ()


class BlockingReader:
    """Makes each search for duplicates wait for ``release`` once it has started reading the index, so it is
    caught running (on its own thread)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from xmr_desktop.library import indexed_photos

        self.started = threading.Event()
        self.release = threading.Event()
        real = indexed_photos.read_photos

        def read(*args: Any, **kwargs: Any) -> Any:
            self.started.set()
            assert self.release.wait(TIMEOUT)
            return real(*args, **kwargs)

        monkeypatch.setattr(indexed_photos, "read_photos", read)


def threaded_indexed(tmp_path: Path, photos: dict[str, Path]) -> tuple[PhotoLibrary, list[e.Event]]:
    paths = resolve_paths(tmp_path / "data").ensure()
    model = PixelEmbedder()
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=True, batch_size=4, decode_workers=1)
    events: list[e.Event] = []
    library.subscribe(events.append)
    library.start()
    library.call(c.IndexNow((str(photos["a"].parent),)), timeout=TIMEOUT)
    return library, events


def test_a_search_is_answered_while_duplicates_are_looked_for(tmp_path: Path, photos, monkeypatch) -> None:
    library, events = threaded_indexed(tmp_path, photos)
    try:
        blocker = BlockingReader(monkeypatch)
        running = library.submit(c.FindDuplicates(channel="view"))
        assert blocker.started.wait(TIMEOUT)
        assert len(library.call(c.Search("anything", None, 10), timeout=TIMEOUT)) == 5
        assert not running.done()
        blocker.release.set()
        assert len(running.result(TIMEOUT).groups) == 2
        stages = [ev.stage for ev in events if isinstance(ev, e.DuplicatesProgress)]
        assert stages[0] == "reading" and "hashing" in stages and stages[-1] == "grouping"
    finally:
        blocker.release.set()
        library.close()


def test_a_search_for_duplicates_is_cancelled_on_request_or_by_a_newer_one(tmp_path: Path, photos, monkeypatch) -> None:
    library, _ = threaded_indexed(tmp_path, photos)
    blocker = BlockingReader(monkeypatch)
    try:
        first = library.submit(c.FindDuplicates(channel="view"))
        assert blocker.started.wait(TIMEOUT)
        assert library.call(c.CancelDuplicates("view"), timeout=TIMEOUT) == 1
        blocker.release.set()
        with pytest.raises(DuplicatesCancelled):
            first.result(TIMEOUT)
        blocker.release.clear()
        blocker.started.clear()
        second = library.submit(c.FindDuplicates(channel="view"))
        assert blocker.started.wait(TIMEOUT)
        third = library.submit(c.FindDuplicates(channel="view"))  # replaces the second
        blocker.release.set()
        with pytest.raises(DuplicatesCancelled):
            second.result(TIMEOUT)
        assert len(third.result(TIMEOUT).groups) == 2
    finally:
        blocker.release.set()
        library.close()


def test_answers_cross_the_wire_unchanged(tmp_path: Path, photos) -> None:
    library = indexed(tmp_path, photos)
    found = library.call(c.FindDuplicates())
    wire = protocol.encode_value(found)
    assert protocol.decode_result(c.FindDuplicates(), wire) == found
    command = protocol.decode_command("TrashPhotos", {"paths": ["/x/a.jpg"], "confirmed": True})
    assert command == c.TrashPhotos(("/x/a.jpg",), confirmed=True)
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_command("TrashPhotos", {"paths": ["/x/a.jpg"], "confirmed": "yes"})
