"""The core's inbox: commands waiting for the worker thread, each with the future that carries its answer.

Searches from one channel (the window's search box) replace each other while they wait: typing "red car"
quickly queues seven searches, and only the last one is worth running. The indexing pipeline asks
``waiting()`` between photos, so a command never waits for more than one model batch.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from xmr_desktop.core.commands import Command


@dataclass
class Request:
    """A command and the future its handler's result (or error) goes to."""

    command: Command
    future: Future[Any]


# What the worker takes from the inbox: a request, an internal job (run on the worker thread), or STOP.
Item = Request | Callable[[], None] | object
STOP = object()


class Inbox:
    """A thread-safe FIFO of ``Item``s with channel replacement for searches."""

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._ready = threading.Condition()

    def put(self, item: Item) -> None:
        with self._ready:
            channel = _channel(item)
            if channel is not None:
                for older in [i for i in self._items if _channel(i) == channel]:
                    self._items.remove(older)
                    assert isinstance(older, Request)
                    older.future.cancel()
            self._items.append(item)
            self._ready.notify()

    def get(self, timeout: float | None) -> Item | None:
        """The next item, waiting up to ``timeout`` seconds (None: for ever); None when nothing came."""
        with self._ready:
            if not self._items:
                self._ready.wait(timeout)
            return self._items.popleft() if self._items else None

    def waiting(self) -> bool:
        """Whether a command or job is waiting (read without the lock: a stale answer costs one photo)."""
        return bool(self._items)

    def drain(self) -> list[Item]:
        with self._ready:
            items = list(self._items)
            self._items.clear()
            return items


def _channel(item: Item) -> str | None:
    if isinstance(item, Request):
        return getattr(item.command, "channel", None)
    return None
