"""Find photos cheaply and bring the index in line with a folder (mark and sweep).

An unchanged photo costs one ``stat`` from ``os.scandir`` and is never opened; photos are recognised by
extension only, and the indexer finds out later whether they really decode.
"""

from __future__ import annotations

import bisect
import functools
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from xmr_desktop.library.store import Folder, Store

log = logging.getLogger(__name__)

_BASE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
_HEIF_EXTENSIONS = frozenset({".heic", ".heif"})

# Compared lower-cased: Windows and macOS volumes are case-insensitive ('$Recycle.Bin' on current Windows).
# Dot-names ('.Trash-1000', '.thumbnails', '.git') are already skipped as hidden.
SKIPPED_DIR_NAMES: frozenset[str] = frozenset(
    {
        "$recycle.bin",  # Windows recycle bin
        "recycler",  # the same on Windows XP
        "system volume information",  # Windows restore points
        "lost+found",  # fsck leftovers
        "@eadir",  # Synology thumbnails: thousands of small copies of every photo
        "#recycle",  # Synology recycle bin
        "@recycle",  # QNAP recycle bin
        "#snapshot",  # Synology snapshots: every photo again per snapshot
        "__macosx",  # resource forks from zip files made on macOS
    }
)

# Never walked, whatever links or folders lead there: the kernel's views of processes, devices and drivers
# (a link to / inside a photo folder once made a scan record thousands of system files).
SYSTEM_TREES: tuple[str, ...] = () if os.name == "nt" else ("/proc", "/sys", "/dev")

OUTSIDE_LINK_REASON = "links outside the folder; add it as its own folder"
SYSTEM_TREE_REASON = "a system folder (/proc, /sys, /dev), never indexed"
DANGLING_LINK_REASON = "the link's target is missing; is its drive connected?"
EMPTY_SUBFOLDER_REASON = (
    "the folder is empty but the index has photos in it; is its drive connected? (delete the folder to forget them)"
)

IMAGE_EXTENSIONS: frozenset[str]  # computed on first access by __getattr__ below


@functools.cache
def image_extensions() -> frozenset[str]:
    """Lower-case extensions (with the dot) we index; HEIC/HEIF only when they decode here (pillow-heif)."""
    from xmr_desktop.engine.preprocess import heif_enabled  # numpy and Pillow: imported on first use only

    return _BASE_EXTENSIONS | _HEIF_EXTENSIONS if heif_enabled() else _BASE_EXTENSIONS


def __getattr__(name: str) -> object:
    # Lazy module attribute (PEP 562): importing the scanner must not import pillow_heif.
    if name == "IMAGE_EXTENSIONS":
        return image_extensions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class ScannedFile:
    """A regular file with a photo extension, as seen by one ``stat``."""

    path: str
    size: int
    mtime_ns: int


@dataclass
class ScanReport:
    """What one ``sync_folder`` changed.

    Attributes:
        new, changed, unchanged: photos found, by comparison with the index (size and mtime_ns).
        removed: index entries swept because their file is gone.
        errors: ``(path, reason)`` of what could not be read; index entries under those paths were kept.
        root_unavailable: the folder itself is missing, unreadable or empty (an unplugged drive's
            mount point): the index was left untouched.
    """

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    root_unavailable: bool = False


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _hidden_on_windows(st: os.stat_result) -> bool:
    # Windows marks hidden entries with an attribute rather than a leading dot; elsewhere it is absent.
    return bool(getattr(st, "st_file_attributes", 0) & stat.FILE_ATTRIBUTE_HIDDEN)


def _within(path: str, base: str) -> bool:
    """Whether ``path`` is ``base`` or below it (both absolute, normalised)."""
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def _system_tree(real_path: str) -> bool:
    return any(_within(real_path, tree) for tree in SYSTEM_TREES)


class _Walk:
    """One depth-first walk of a folder; what it could not see is reported through the callbacks.

    ``unreachable(path, reason)``: nothing under ``path`` could be seen (unreadable, I/O error, dangling
    link, suspiciously empty); whatever the index holds there must be kept. ``refused(path, reason)``: a
    directory deliberately not walked (a link leaving the folder, a system tree); the index should not hold
    anything there. ``boundaries`` lists the mount points and linked directories walked: trees that can
    vanish on their own during a walk, so ``sync_folder`` looks at them again afterwards.
    """

    def __init__(
        self,
        root: str,
        unreachable: Callable[[str, str], None],
        refused: Callable[[str, str], None],
        indexed_under: Callable[[str], bool] | None,
    ) -> None:
        self.root = root
        self.boundaries: list[str] = []
        self._unreachable = unreachable
        self._refused = refused
        self._indexed_under = indexed_under

    def __iter__(self) -> Iterator[ScannedFile]:
        try:
            root_stat = os.stat(self.root)
            root_real = os.path.realpath(self.root)
        except OSError as error:
            self._unreachable(self.root, _reason(error))
            return
        if _system_tree(root_real):
            self._refused(self.root, SYSTEM_TREE_REASON)
            return
        self._root_real = root_real
        self._visited = {(root_stat.st_dev, root_stat.st_ino)}
        extensions = image_extensions()
        # (path as the index names it, its real path, its device) of each directory still to list
        stack = [(self.root, root_real, root_stat.st_dev)]
        while stack:
            directory, real, device = stack.pop()
            try:
                # Listed whole so the directory handle is closed before we yield to a slow consumer.
                with os.scandir(directory) as iterator:
                    entries = list(iterator)
            except OSError as error:
                self._unreachable(directory, _reason(error))
                continue
            if not entries and directory != self.root and self._has_index_entries(directory):
                # An unmounted card's mount point, or a network share's empty stub: keep what it held.
                self._unreachable(directory, EMPTY_SUBFOLDER_REASON)
                continue
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    found = self._entry(entry, real, device, extensions, stack)
                except FileNotFoundError:
                    continue  # deleted while we looked
                except OSError as error:
                    self._unreachable(entry.path, _reason(error))
                    continue
                if found is not None:
                    yield found

    def _entry(
        self, entry: os.DirEntry[str], parent_real: str, parent_device: int, extensions: frozenset[str],
        stack: list[tuple[str, str, int]],
    ) -> ScannedFile | None:
        link = entry.is_symlink()
        if link:
            try:
                os.stat(entry.path)
            except FileNotFoundError:
                # A link to an unplugged drive: nothing is known about what is behind it, so nothing there goes.
                if self._has_index_entries(entry.path):
                    self._unreachable(entry.path, DANGLING_LINK_REASON)
                return None
        if entry.is_dir():  # follows symlinks
            if entry.name.lower() in SKIPPED_DIR_NAMES:
                return None
            real = os.path.realpath(entry.path) if link else os.path.join(parent_real, entry.name)
            if _system_tree(real):
                self._refused(entry.path, SYSTEM_TREE_REASON)
                return None
            if link and not _within(real, self._root_real):
                log.debug("Not following %s: it links to %s, outside %s", entry.path, real, self.root)
                self._refused(entry.path, OUTSIDE_LINK_REASON)
                return None
            # os.stat, not entry.stat(): on Windows DirEntry.stat() leaves st_dev/st_ino zero.
            dir_stat = os.stat(entry.path)
            key = (dir_stat.st_dev, dir_stat.st_ino)
            if key not in self._visited and not _hidden_on_windows(dir_stat):
                self._visited.add(key)
                if link or dir_stat.st_dev != parent_device:
                    self.boundaries.append(entry.path)
                stack.append((entry.path, real, dir_stat.st_dev))
            return None
        if os.path.splitext(entry.name)[1].lower() not in extensions:
            return None
        if link and _system_tree(os.path.realpath(entry.path)):
            self._refused(entry.path, SYSTEM_TREE_REASON)
            return None
        file_stat = entry.stat()  # follows symlinks; never opens the file
        if stat.S_ISREG(file_stat.st_mode) and not _hidden_on_windows(file_stat):
            return ScannedFile(entry.path, file_stat.st_size, file_stat.st_mtime_ns)
        return None

    def _has_index_entries(self, path: str) -> bool:
        return self._indexed_under is not None and self._indexed_under(path)


def walk_photos(
    root: str,
    on_error: Callable[[str, str], None] | None = None,
    *,
    on_refused: Callable[[str, str], None] | None = None,
    indexed_under: Callable[[str], bool] | None = None,
) -> Iterator[ScannedFile]:
    """Yield every photo under ``root``, depth first, following directory symlinks that stay inside it.

    Hidden entries and ``SKIPPED_DIR_NAMES`` are skipped. Only regular files are yielded (a FIFO named
    ``x.jpg`` would block whoever opens it). What could not be seen goes to ``on_error(path, reason)`` and
    the walk goes on; ``root`` itself failing is reported the same way. A directory link whose target is
    outside ``root``, and anything in ``/proc``, ``/sys`` or ``/dev``, is not walked and goes to
    ``on_refused(path, reason)``. ``indexed_under(path)`` says whether the index holds files at or below
    ``path``; with it, a dangling link or an empty subfolder that the index has photos in is reported to
    ``on_error`` (an unplugged drive) instead of looking like deleted photos.
    """

    def unreachable(path: str, reason: str) -> None:
        log.debug("Cannot read %s: %s", path, reason)  # sync_folder logs the count; the CLI lists them
        if on_error is not None:
            on_error(path, reason)

    def refused(path: str, reason: str) -> None:
        if on_refused is not None:
            on_refused(path, reason)

    yield from _Walk(root, unreachable, refused, indexed_under)


def root_problem(root: str, has_files: bool) -> str | None:
    """Why ``root`` cannot be trusted for a sweep (missing, unreadable, not a folder, suspiciously empty)."""
    try:
        with os.scandir(root) as iterator:
            empty = next(iterator, None) is None
    except OSError as error:
        return _reason(error)
    if empty and has_files:
        return "the folder is empty; is its drive connected?"
    return None


def _inside(path: str, directories: list[str]) -> bool:
    return any(_within(path, d) for d in directories)


class _IndexedPaths:
    """The index's paths of one folder, sorted, to ask cheaply whether any lies at or under a path."""

    def __init__(self, paths: Iterable[str]) -> None:
        self._sorted = sorted(paths)

    def __call__(self, path: str) -> bool:
        position = bisect.bisect_left(self._sorted, path)
        if position < len(self._sorted) and self._sorted[position] == path:
            return True
        prefix = path.rstrip(os.sep) + os.sep
        position = bisect.bisect_left(self._sorted, prefix, position)
        return position < len(self._sorted) and self._sorted[position].startswith(prefix)


def sync_folder(store: Store, folder: Folder) -> ScanReport:
    """Walk ``folder``, record new and changed photos as pending, and sweep index entries whose file is gone.

    Nothing is swept when the folder itself is unavailable before or after the walk (``root_unavailable``:
    an unplugged drive must not empty the index), nor under what the walk could not see (``errors``): an
    unreadable subfolder, a link to a missing target, a subfolder (an unmounted card's mount point) that is
    empty while the index holds photos in it, or a mount point or linked folder that went away during the
    walk. An empty folder counts as unavailable while the index still holds files for it; remove the folder
    to forget them. Links leaving the folder are reported in ``errors`` and not followed; what the index
    held under them is swept (add the target as its own folder instead).
    """
    report = ScanReport()
    known = store.file_stats(folder.id)
    had_files = bool(known)
    problem = root_problem(folder.path, had_files)
    if problem is not None:
        log.warning("Not scanning %s: %s", folder.path, problem)
        report.errors.append((folder.path, problem))
        report.root_unavailable = True
        return report

    unreadable: list[str] = []

    def on_error(path: str, reason: str) -> None:
        unreadable.append(path)
        report.errors.append((path, reason))

    def on_refused(path: str, reason: str) -> None:
        report.errors.append((path, reason))

    walk = _Walk(folder.path, on_error, on_refused, _IndexedPaths(known))
    new_or_changed: list[tuple[str, int, int]] = []
    for found in walk:
        before = known.pop(found.path, None)
        if before is None:
            report.new += 1
        elif (before[1], before[2]) != (found.size, found.mtime_ns):
            report.changed += 1
        else:
            report.unchanged += 1
            continue
        new_or_changed.append((found.path, found.size, found.mtime_ns))

    # Checked again: a drive unplugged mid-walk makes the rest of the tree look deleted.
    problem = root_problem(folder.path, had_files)
    if problem is not None:
        log.warning("%s went away during the scan: %s", folder.path, problem)
        report.errors.append((folder.path, problem))
        report.root_unavailable = True
        removed_ids: list[int] = []
    else:
        # The same for every mount point and linked folder inside, which can go away on their own.
        for boundary in walk.boundaries:
            if _inside(boundary, unreadable):
                continue
            problem = root_problem(boundary, any(_within(path, boundary) for path in known))
            if problem is not None:
                log.warning("%s went away during the scan: %s", boundary, problem)
                on_error(boundary, problem)
        # What is left in `known` was not seen: gone, unless it sits under a path we could not see.
        removed_ids = [file_id for path, (file_id, _, _) in known.items() if not _inside(path, unreadable)]
    report.removed = len(removed_ids)
    if new_or_changed or removed_ids:  # an unchanged tree takes no write lock
        store.record_scan(folder.id, new_or_changed, removed_ids)
    log.info(
        "Scanned %s: %d new, %d changed, %d unchanged, %d removed, %d errors",
        folder.path, report.new, report.changed, report.unchanged, report.removed, len(report.errors),
    )
    return report
