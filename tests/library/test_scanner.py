from __future__ import annotations

import builtins
import io
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xmr_desktop.engine import preprocess
from xmr_desktop.library import scanner
from xmr_desktop.library.scanner import ScannedFile, sync_folder, walk_photos
from xmr_desktop.library.store import Embedded, Folder, Store

MODEL = "openai/clip-vit-base-patch32"
needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")


def photo(path: Path, data: bytes = b"jpeg bytes") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def walk(root: Path, errors: list[tuple[str, str]] | None = None) -> set[str]:
    """Relative paths yielded by walk_photos, run on a thread so a blocking walk fails instead of hanging."""
    found: list[ScannedFile] = []
    on_error = None if errors is None else lambda path, reason: errors.append((path, reason))
    worker = threading.Thread(target=lambda: found.extend(walk_photos(str(root), on_error)), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "walk_photos did not finish within 5 s"
    return {Path(os.path.relpath(f.path, root)).as_posix() for f in found}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "Photos"
    path.mkdir()
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data" / "index.sqlite3") as opened:
        yield opened


@pytest.fixture
def folder(store: Store, root: Path) -> Folder:
    return store.add_folder(str(root))


@pytest.fixture
def fresh_extensions() -> Iterator[None]:
    scanner.image_extensions.cache_clear()
    preprocess.heif_enabled.cache_clear()
    yield
    scanner.image_extensions.cache_clear()
    preprocess.heif_enabled.cache_clear()


def scandir_failing_for(monkeypatch: pytest.MonkeyPatch, *blocked: Path) -> None:
    """Make os.scandir raise PermissionError for ``blocked``, as a 000 directory does for a normal user."""
    real_scandir = os.scandir
    blocked_paths = {str(p) for p in blocked}

    def scandir(path: str) -> object:
        if str(path) in blocked_paths:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(scanner.os, "scandir", scandir)


# --- what the walk finds ----------------------------------------------------------------------------


def test_finds_nested_photos_whatever_the_case_of_their_extension(root: Path, fresh_extensions: None) -> None:
    for name in ["a.jpg", "2019/Summer/B.JPG", "2019/c.Jpeg", "d.png", "e.WebP", "f.tiff", "g.jpe", "h.gif"]:
        photo(root / name)
    for name in ["notes.txt", "clip.mp4", "jpg", "raw.CR2"]:
        photo(root / name)
    (root / "empty dir").mkdir()
    assert walk(root) == {
        "a.jpg", "2019/Summer/B.JPG", "2019/c.Jpeg", "d.png", "e.WebP", "f.tiff", "g.jpe", "h.gif"
    }


def test_yields_size_and_mtime_from_one_stat(root: Path) -> None:
    path = photo(root / "a.jpg", b"12345")
    os.utime(path, ns=(1_600_000_000_123_456_700, 1_600_000_000_123_456_700))
    (found,) = walk_photos(str(root))
    assert found == ScannedFile(str(path), 5, 1_600_000_000_123_456_700)


def test_heic_is_indexed_only_when_it_decodes(root: Path, fresh_extensions: None, monkeypatch: pytest.MonkeyPatch) -> None:
    photo(root / "IMG_0001.HEIC")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # None in sys.modules makes the import fail
    assert ".heic" not in scanner.IMAGE_EXTENSIONS
    assert walk(root) == set()

    # A pillow_heif that cannot register its decoder with Pillow does not make HEIC indexable either.
    scanner.image_extensions.cache_clear()
    preprocess.heif_enabled.cache_clear()
    monkeypatch.setitem(sys.modules, "pillow_heif", types.ModuleType("pillow_heif"))
    assert ".heic" not in scanner.IMAGE_EXTENSIONS


def test_heic_is_indexed_with_pillow_heif(root: Path, fresh_extensions: None) -> None:
    pytest.importorskip("pillow_heif")
    photo(root / "IMG_0001.HEIC")
    photo(root / "b.heif")
    assert {".heic", ".heif", ".jpg"} <= scanner.IMAGE_EXTENSIONS
    assert walk(root) == {"IMG_0001.HEIC", "b.heif"}


def test_skips_hidden_entries_and_system_folders(root: Path) -> None:
    photo(root / "kept.jpg")
    for name in [
        ".hidden.jpg",
        ".thumbnails/a.jpg",
        ".Trash-1000/files/a.jpg",
        "$RECYCLE.BIN/S-1-5-21/a.jpg",
        "$Recycle.Bin/a.jpg",
        "System Volume Information/a.jpg",
        "lost+found/a.jpg",
        "2020/@eaDir/a.jpg/SYNOPHOTO_THUMB_XL.jpg",
        "__MACOSX/a.jpg",
    ]:
        photo(root / name)
    assert walk(root) == {"kept.jpg"}


@needs_symlinks
def test_follows_directory_symlinks_inside_the_folder_without_looping(root: Path) -> None:
    photo(root / "a/1.jpg")
    photo(root / "store/2019/2.jpg")
    (root / "a/back to root").symlink_to(root)
    (root / "a/self").symlink_to(root / "a")
    (root / "by year").symlink_to(root / "store")
    (root / "store/loop").symlink_to(root / "by year")
    # Each directory is walked once, under whichever name the walk meets first.
    found = walk(root)
    assert "a/1.jpg" in found and len(found) == 2
    assert found & {"store/2019/2.jpg", "by year/2019/2.jpg"}


@needs_symlinks
def test_a_directory_link_leaving_the_folder_is_reported_not_followed(root: Path, tmp_path: Path) -> None:
    photo(root / "mine.jpg")
    photo(tmp_path / "elsewhere/theirs.jpg")
    (root / "card").symlink_to(tmp_path / "elsewhere")
    (root / "everything").symlink_to("/")
    refused: list[tuple[str, str]] = []
    found: list[ScannedFile] = []
    worker = threading.Thread(
        target=lambda: found.extend(walk_photos(str(root), on_refused=lambda p, r: refused.append((p, r)))), daemon=True
    )
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the walk went into the link to /"
    assert [Path(f.path).name for f in found] == ["mine.jpg"]
    assert sorted(refused) == [
        (str(root / "card"), "links outside the folder; add it as its own folder"),
        (str(root / "everything"), "links outside the folder; add it as its own folder"),
    ]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_system_trees_are_never_walked_nor_linked_to(root: Path) -> None:
    (root / "env.jpg").symlink_to("/proc/self/environ")  # a regular file, for stat
    photo(root / "real.jpg")
    refused: list[str] = []
    assert {Path(f.path).name for f in walk_photos(str(root), on_refused=lambda p, r: refused.append(p))} == {"real.jpg"}
    assert refused == [str(root / "env.jpg")]
    refused.clear()
    assert list(walk_photos("/proc/self", on_refused=lambda p, r: refused.append(p))) == []
    assert refused == ["/proc/self"]


@needs_symlinks
def test_a_symlinked_photo_is_found_and_a_dangling_one_ignored(root: Path, tmp_path: Path) -> None:
    target = photo(tmp_path / "outside.jpg")
    (root / "link.jpg").symlink_to(target)
    (root / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    (root / "broken dir").symlink_to(tmp_path / "gone")
    errors: list[tuple[str, str]] = []
    assert walk(root, errors) == {"link.jpg"}
    assert errors == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_photo_is_never_opened(root: Path) -> None:
    os.mkfifo(root / "x.jpg")
    photo(root / "y.jpg")
    assert walk(root) == {"y.jpg"}  # walk() fails if this blocks for 5 s


@pytest.mark.skipif(os.name == "nt", reason="Windows names are UTF-16, never undecodable bytes")
def test_a_non_utf8_file_name_is_found(root: Path) -> None:
    raw_path = os.path.join(os.fsencode(root), b"caf\xe9.jpg")  # Latin-1 'café': not valid UTF-8
    try:
        fd = os.open(raw_path, os.O_CREAT | os.O_WRONLY, 0o600)
    except OSError as error:  # e.g. macOS file systems refuse such names
        pytest.skip(f"file system refuses non-UTF-8 names: {error}")
    os.write(fd, b"jpeg bytes")
    os.close(fd)
    (found,) = walk_photos(str(root))
    assert os.fsencode(found.path) == raw_path
    with open(found.path, "rb") as handle:
        assert handle.read() == b"jpeg bytes"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads 000 directories")
def test_an_unreadable_folder_is_reported_and_the_walk_goes_on(root: Path) -> None:
    photo(root / "private/a.jpg")
    photo(root / "public/b.jpg")
    (root / "private").chmod(0)
    try:
        errors: list[tuple[str, str]] = []
        assert walk(root, errors) == {"public/b.jpg"}
        assert [path for path, _ in errors] == [str(root / "private")]
    finally:
        (root / "private").chmod(0o700)


def test_a_folder_failing_to_list_is_reported_and_the_walk_goes_on(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo(root / "private/a.jpg")
    photo(root / "public/b.jpg")
    scandir_failing_for(monkeypatch, root / "private")
    errors: list[tuple[str, str]] = []
    assert walk(root, errors) == {"public/b.jpg"}
    assert errors == [(str(root / "private"), "Permission denied")]


def test_a_missing_root_is_reported_not_raised(tmp_path: Path) -> None:
    errors: list[tuple[str, str]] = []
    assert walk(tmp_path / "unplugged", errors) == set()
    assert [path for path, _ in errors] == [str(tmp_path / "unplugged")]


# --- syncing the index ------------------------------------------------------------------------------


def test_first_sync_records_everything_as_pending(store: Store, folder: Folder, root: Path) -> None:
    photo(root / "a.jpg")
    photo(root / "sub/b.png")
    report = sync_folder(store, folder)
    assert (report.new, report.changed, report.unchanged, report.removed, report.errors) == (2, 0, 0, 0, [])
    assert sorted(r.path for r in store.pending(MODEL)) == [str(root / "a.jpg"), str(root / "sub/b.png")]


def test_an_unchanged_tree_is_rescanned_without_opening_any_file(
    store: Store, folder: Folder, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(20):
        photo(root / f"day{i % 3}/{i}.jpg")
    sync_folder(store, folder)

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a file was opened during a rescan: {args[:1]}")

    monkeypatch.setattr(builtins, "open", no_open)
    monkeypatch.setattr(io, "open", no_open)
    monkeypatch.setattr(os, "open", no_open)
    report = sync_folder(store, folder)
    monkeypatch.undo()
    assert (report.new, report.changed, report.unchanged, report.removed) == (0, 0, 20, 0)


def test_a_modified_photo_becomes_pending_again(store: Store, folder: Folder, root: Path) -> None:
    path = photo(root / "a.jpg", b"first")
    sync_folder(store, folder)
    (record,) = store.pending(MODEL)
    store.commit_batch(MODEL, [Embedded(record.id, record.size, record.mtime_ns, b"h" * 32, 4, 3, None)], [])
    assert store.pending(MODEL)[0].state == "ok"

    path.write_bytes(b"edited in an image editor")
    report = sync_folder(store, folder)
    assert (report.new, report.changed, report.unchanged) == (0, 1, 0)
    (again,) = store.pending(MODEL)
    assert (again.id, again.state, again.content_hash, again.size) == (record.id, "pending", None, 25)


def test_deleted_photos_are_swept(store: Store, folder: Folder, root: Path) -> None:
    photo(root / "keep.jpg")
    gone = photo(root / "old/gone.jpg")
    sync_folder(store, folder)
    gone.unlink()
    gone.parent.rmdir()
    report = sync_folder(store, folder)
    assert (report.unchanged, report.removed) == (1, 1)
    assert list(store.file_stats(folder.id)) == [str(root / "keep.jpg")]


def test_a_missing_root_removes_nothing(store: Store, folder: Folder, root: Path, tmp_path: Path) -> None:
    photo(root / "a.jpg")
    sync_folder(store, folder)
    root.rename(tmp_path / "unplugged")
    report = sync_folder(store, folder)
    assert report.root_unavailable and report.removed == 0
    assert [path for path, _ in report.errors] == [str(root)]
    assert list(store.file_stats(folder.id)) == [str(root / "a.jpg")]


def test_an_empty_root_with_indexed_files_removes_nothing(store: Store, folder: Folder, root: Path) -> None:
    photo(root / "a.jpg")
    sync_folder(store, folder)
    (root / "a.jpg").unlink()  # what an unmounted mount point looks like
    report = sync_folder(store, folder)
    assert report.root_unavailable and report.removed == 0
    assert "empty" in report.errors[0][1]
    assert len(store.file_stats(folder.id)) == 1


def test_an_empty_new_folder_is_fine(store: Store, folder: Folder) -> None:
    report = sync_folder(store, folder)
    assert not report.root_unavailable and report.errors == []


def test_files_under_an_unreadable_folder_are_kept(
    store: Store, folder: Folder, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo(root / "private/a.jpg")
    photo(root / "public/b.jpg")
    photo(root / "public/c.jpg")
    sync_folder(store, folder)
    (root / "public/b.jpg").unlink()
    scandir_failing_for(monkeypatch, root / "private")
    report = sync_folder(store, folder)
    assert report.removed == 1 and not report.root_unavailable
    assert report.errors == [(str(root / "private"), "Permission denied")]
    assert sorted(store.file_stats(folder.id)) == [str(root / "private/a.jpg"), str(root / "public/c.jpg")]


def test_a_drive_unplugged_during_the_walk_removes_nothing(
    store: Store, folder: Folder, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo(root / "a.jpg")
    photo(root / "b.jpg")
    sync_folder(store, folder)
    photo(root / "new.jpg")
    real_walk = scanner._Walk.__iter__

    def walk_then_unplug(self: scanner._Walk) -> Iterator[ScannedFile]:
        for found in real_walk(self):
            if found.path.endswith("new.jpg"):
                yield found
        root.rename(tmp_path / "unplugged")

    monkeypatch.setattr(scanner._Walk, "__iter__", walk_then_unplug)
    report = sync_folder(store, folder)
    assert report.root_unavailable and report.removed == 0 and report.new == 1
    assert len(store.file_stats(folder.id)) == 3


# --- unreachable parts of a folder keep their entries ----------------------------------------------


@needs_symlinks
def test_a_subfolder_linked_to_an_unplugged_drive_keeps_its_entries(
    store: Store, folder: Folder, root: Path, tmp_path: Path
) -> None:
    photo(root / "keep.jpg")
    (root / "phone").symlink_to(tmp_path / "media/card")  # the card's mount point is gone with the card
    # What an earlier scan recorded while the link led somewhere (for example a version that followed it).
    store.record_scan(folder.id, [(str(root / f"phone/DCIM/{i}.jpg"), 10, 1) for i in range(5)], [])
    report = sync_folder(store, folder)
    assert report.removed == 0 and not report.root_unavailable and report.new == 1
    assert report.errors == [(str(root / "phone"), "the link's target is missing; is its drive connected?")]
    assert len(store.file_stats(folder.id)) == 6


@needs_symlinks
def test_a_dangling_link_the_index_knows_nothing_about_is_not_an_error(
    store: Store, folder: Folder, root: Path, tmp_path: Path
) -> None:
    photo(root / "a.jpg")
    (root / "old link").symlink_to(tmp_path / "gone")
    report = sync_folder(store, folder)
    assert report.errors == [] and report.new == 1


def test_a_subfolder_that_is_now_empty_keeps_its_entries_until_it_is_deleted(
    store: Store, folder: Folder, root: Path
) -> None:
    photo(root / "keep.jpg")
    for i in range(3):
        photo(root / f"card/DCIM/{i}.jpg")
    sync_folder(store, folder)
    for i in range(3):
        (root / f"card/DCIM/{i}.jpg").unlink()
    (root / "card/DCIM").rmdir()  # "card" is now an empty directory: an unmounted mount point looks so
    report = sync_folder(store, folder)
    assert report.removed == 0
    assert [path for path, _ in report.errors] == [str(root / "card")]
    assert "empty" in report.errors[0][1] and "drive" in report.errors[0][1]
    assert len(store.file_stats(folder.id)) == 4

    (root / "card").rmdir()  # deleting the empty folder says the photos are really gone
    report = sync_folder(store, folder)
    assert report.removed == 3 and report.errors == []


@pytest.mark.parametrize("code", [5, 13], ids=["EIO", "EACCES"])
def test_a_subfolder_failing_with_an_io_error_keeps_its_entries(
    store: Store, folder: Folder, root: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    photo(root / "nas/a.jpg")
    photo(root / "nas/deeper/b.jpg")
    photo(root / "c.jpg")
    sync_folder(store, folder)
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if str(path) == str(root / "nas"):
            raise OSError(code, os.strerror(code), str(path))
        return real_scandir(path)

    monkeypatch.setattr(scanner.os, "scandir", scandir)
    report = sync_folder(store, folder)
    assert report.removed == 0 and report.errors == [(str(root / "nas"), os.strerror(code))]
    assert len(store.file_stats(folder.id)) == 3


def test_a_photo_whose_stat_fails_with_an_io_error_is_kept(
    store: Store, folder: Folder, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo(root / "bad sector.jpg")
    photo(root / "fine.jpg")
    sync_folder(store, folder)
    real_scandir = os.scandir

    class Entry:
        def __init__(self, entry: os.DirEntry[str]) -> None:
            self._entry = entry
            self.name, self.path = entry.name, entry.path

        def __getattr__(self, name: str) -> object:
            return getattr(self._entry, name)

        def stat(self) -> os.stat_result:
            if self.name == "bad sector.jpg":
                raise OSError(5, "Input/output error", self.path)
            return self._entry.stat()

    class Listing:
        def __init__(self, path: str) -> None:
            self._listing = real_scandir(path)

        def __enter__(self) -> Iterator[Entry]:
            return (Entry(e) for e in self._listing.__enter__())

        def __exit__(self, *exc: object) -> None:
            self._listing.__exit__(*exc)

    monkeypatch.setattr(scanner.os, "scandir", Listing)
    report = sync_folder(store, folder)
    assert report.removed == 0 and report.errors == [(str(root / "bad sector.jpg"), "Input/output error")]
    assert len(store.file_stats(folder.id)) == 2


_MOUNT_SCRIPT = r"""
import os, subprocess, sys
from pathlib import Path
from xmr_desktop.library.scanner import sync_folder
from xmr_desktop.library.store import Store

root, card, data = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
mount_point = root / "SD card"
subprocess.run(["mount", "--bind", str(card), str(mount_point)], check=True)
with Store.open(data / "index.sqlite3") as store:
    folder = store.add_folder(str(root))
    first = sync_folder(store, folder)
    subprocess.run(["umount", str(mount_point)], check=True)
    again = sync_folder(store, folder)
    print(first.new, again.removed, len(store.file_stats(folder.id)), again.errors)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux mount namespaces")
def test_an_unmounted_card_inside_the_folder_keeps_its_entries(root: Path, tmp_path: Path) -> None:
    """A real mount point, bind-mounted in a private mount namespace (needs root or user namespaces)."""
    import shutil
    import subprocess

    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1)")
    probe = [unshare, "-m", "--propagation", "private", "true"]
    if os.geteuid() != 0:
        probe[1:1] = ["-r"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("private mount namespaces are not allowed here")
    photo(root / "home.jpg")
    (root / "SD card").mkdir()
    card = tmp_path / "card"
    for i in range(4):
        photo(card / f"DCIM/100/{i}.jpg")
    command = [*probe[:-1], sys.executable, "-c", _MOUNT_SCRIPT, str(root), str(card), str(tmp_path / "data")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    new, removed, kept, errors = result.stdout.strip().split(" ", 3)
    assert (new, removed, kept) == ("5", "0", "5")
    assert str(root / "SD card") in errors and "empty" in errors
