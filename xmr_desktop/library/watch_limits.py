"""How complete a folder watch is: inotify's watch limit, and events the kernel dropped.

inotify needs one watch per directory, up to a per-user limit (``fs.inotify.max_user_watches``); watchdog
skips the subdirectories it cannot watch without saying so, and reports an overflowing event queue only in a
log line. This module turns both into something the watcher can report: a ``WatchStatus``, a probe of the
limit, and a listener for the overflow line.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

LIVE_UPDATES_OFF = "live updates off (raise fs.inotify.max_user_watches)"

WatchState = Literal["watching", "incomplete", "off"]


@dataclass(frozen=True)
class WatchStatus:
    """How well one root is watched.

    Attributes:
        root: the watched folder (absolute).
        state: ``"watching"`` (every subfolder), ``"incomplete"`` (some subfolders unwatched: show ``reason``
            and rescan the folder periodically), ``"off"`` (not watched at all: missing folder, or refused).
        reason: what to tell the user when not ``"watching"``.

    Truthy unless ``"off"``, as ``watch()``'s old bool was; check ``complete`` for "every change is seen".
    """

    root: str
    state: WatchState
    reason: str | None = None

    @property
    def complete(self) -> bool:
        return self.state == "watching"

    def __bool__(self) -> bool:
        return self.state != "off"


def inotify_limit_problem(path: str) -> str | None:
    """``LIVE_UPDATES_OFF`` if one more inotify watch cannot be added now (the per-user limit is used up).

    watchdog skips subfolders it cannot watch silently; this asks the kernel directly with a watch of our own
    (added and dropped at once) on ``path``.
    """
    try:
        from watchdog.observers import inotify_c
    except (ImportError, OSError):  # not Linux
        return None
    fd = inotify_c.inotify_init()
    if fd < 0:
        return LIVE_UPDATES_OFF if ctypes.get_errno() in (errno.EMFILE, errno.ENFILE) else None
    try:
        if inotify_c.inotify_add_watch(fd, os.fsencode(path), inotify_c.InotifyConstants.IN_DELETE_SELF) < 0:
            return LIVE_UPDATES_OFF if ctypes.get_errno() == errno.ENOSPC else None
        return None
    finally:
        os.close(fd)


def is_inotify(observer: Any) -> bool:
    return any(cls.__name__ == "InotifyObserver" for cls in type(observer).__mro__)


class _OverflowListener(logging.Handler):
    """watchdog reports an inotify queue overflow only in a log line; this turns that line into a call."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        logging.getLogger("watchdog.observers.inotify_c").addHandler(self)

    def subscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" not in record.getMessage().lower():
            return
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()


# One per process: watchdog's log line does not say which observer overflowed, so every watcher hears it.
OVERFLOWS = _OverflowListener()
