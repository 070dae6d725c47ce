"""The two rules every part of xmr_desktop must agree on: is this path inside that folder, and is this a photo.

The scanner, the watcher, the store, the searcher and the window all ask these questions; answering them in
one place keeps "/photos2/x.jpg is not inside /photos" and "x.JPG is a photo, .x.jpg is not" consistent.
"""

from __future__ import annotations

import os


def is_under(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` itself or lies below it (string rule on absolute paths; no filesystem)."""
    if path == root:
        return True
    return path.startswith(root.rstrip(os.sep) + os.sep)


def is_strictly_under(path: str, root: str) -> bool:
    """Whether ``path`` lies below ``root`` and is not ``root`` itself."""
    return path != root and is_under(path, root)


def normalise_folder(path: str) -> str:
    """An absolute, normalised folder path (``~`` expanded, no trailing separator, ``..`` resolved textually)."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def has_photo_extension(path: str) -> bool:
    """Whether the name ends in an extension xmr indexes (case-insensitive; HEIC only when it decodes here)."""
    from xmr_desktop.library.scanner import image_extensions

    return os.path.splitext(path)[1].lower() in image_extensions()


def is_photo_file(path: str) -> bool:
    """A regular file (symlinks followed) with a photo extension: what may be opened as a query image."""
    return has_photo_extension(path) and os.path.isfile(path)
