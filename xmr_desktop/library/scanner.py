"""Find photos cheaply and bring the index in line with a folder (mark and sweep).

An unchanged photo costs one ``stat`` from ``os.scandir`` and is never opened; photos are recognised by
extension only, and the indexer finds out later whether they really decode.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
from collections.abc import Callable, Iterator
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

IMAGE_EXTENSIONS: frozenset[str]  # computed on first access by __getattr__ below


@functools.cache
def image_extensions() -> frozenset[str]:
    """Lower-case extensions (with the dot) we index; HEIC/HEIF only when ``pillow_heif`` imports."""
    try:
        import pillow_heif  # noqa: F401  (imported only to learn whether HEIF decodes here)
    except (ImportError, OSError) as error:
        log.debug("HEIC/HEIF not indexed: pillow_heif unavailable (%s)", error)
        return _BASE_EXTENSIONS
    return _BASE_EXTENSIONS | _HEIF_EXTENSIONS


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


def walk_photos(root: str, on_error: Callable[[str, str], None] | None = None) -> Iterator[ScannedFile]:
    """Yield every photo under ``root``, depth first, following directory symlinks without looping.

    Hidden entries and ``SKIPPED_DIR_NAMES`` are skipped. Only regular files are yielded (a FIFO named
    ``x.jpg`` would block whoever opens it). Directories that cannot be read are passed to
    ``on_error(path, reason)`` and the walk goes on; ``root`` itself failing is reported the same way.
    """

    def report(path: str, reason: str) -> None:
        log.info("Cannot read %s: %s", path, reason)
        if on_error is not None:
            on_error(path, reason)

    extensions = image_extensions()
    try:
        root_stat = os.stat(root)
    except OSError as error:
        report(root, _reason(error))
        return
    visited = {(root_stat.st_dev, root_stat.st_ino)}
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            # Listed whole so the directory handle is closed before we yield to a slow consumer.
            with os.scandir(directory) as iterator:
                entries = list(iterator)
        except OSError as error:
            report(directory, _reason(error))
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                if entry.is_dir():  # follows symlinks
                    if name.lower() in SKIPPED_DIR_NAMES:
                        continue
                    # os.stat, not entry.stat(): on Windows DirEntry.stat() leaves st_dev/st_ino zero.
                    dir_stat = os.stat(entry.path)
                    key = (dir_stat.st_dev, dir_stat.st_ino)
                    if key not in visited and not _hidden_on_windows(dir_stat):
                        visited.add(key)
                        stack.append(entry.path)
                    continue
                if os.path.splitext(name)[1].lower() not in extensions:
                    continue
                file_stat = entry.stat()  # follows symlinks; never opens the file
            except FileNotFoundError:
                continue  # a dangling symlink, or deleted while we looked
            except OSError as error:
                report(entry.path, _reason(error))
                continue
            if stat.S_ISREG(file_stat.st_mode) and not _hidden_on_windows(file_stat):
                yield ScannedFile(entry.path, file_stat.st_size, file_stat.st_mtime_ns)


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
    return any(path == d or path.startswith(d.rstrip(os.sep) + os.sep) for d in directories)


def sync_folder(store: Store, folder: Folder) -> ScanReport:
    """Walk ``folder``, record new and changed photos as pending, and sweep index entries whose file is gone.

    Nothing is swept when the folder itself is unavailable before or after the walk (``root_unavailable``:
    an unplugged drive must not empty the index), nor under subfolders that could not be read (``errors``).
    An empty folder counts as unavailable while the index still holds files for it (an unmounted mount
    point looks exactly like that); remove the folder to forget them.
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

    new_or_changed: list[tuple[str, int, int]] = []
    for found in walk_photos(folder.path, on_error):
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
        # What is left in `known` was not seen: gone, unless it sits under a directory we could not read.
        removed_ids = [file_id for path, (file_id, _, _) in known.items() if not _inside(path, unreadable)]
    report.removed = len(removed_ids)
    if new_or_changed or removed_ids:  # an unchanged tree takes no write lock
        store.record_scan(folder.id, new_or_changed, removed_ids)
    log.info(
        "Scanned %s: %d new, %d changed, %d unchanged, %d removed, %d errors",
        folder.path, report.new, report.changed, report.unchanged, report.removed, len(report.errors),
    )
    return report
