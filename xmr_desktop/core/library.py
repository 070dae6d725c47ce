"""``PhotoLibrary``: the one owner, for one data directory, of the index, the model, the indexing pipeline,
the searcher, the folder watcher and the personal concepts.

The window and the ``xmr`` command are thin shells over it: they submit typed commands (``core/commands.py``)
and get each answer through one channel, a future carrying the result or the error; they listen to typed
events (``core/events.py``) for everything else. In threaded mode (the app) one worker thread owns the store
connection and the model and serves commands between indexing batches, so a search waits for at most one batch
and nothing in flight is torn down. In inline mode (the CLI, and tests that want no threads) commands run on
the caller's thread and background work runs when a command needs it (``IndexNow``) or ``run_pending()`` says.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from xmr_desktop.config import Paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core.background import Background
from xmr_desktop.core.folder_io import FolderIO, Outcome
from xmr_desktop.core.models import EmbedderFactory
from xmr_desktop.core.requests import STOP, Inbox, Request
from xmr_desktop.core.session import Session
from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)

Listener = Callable[[e.Event], None]
# (on_changes, on_status=...) -> an object with watch(path) -> WatchStatus, unwatch(path), rewatch(path), stop();
# both callbacks are called on the watcher's threads (library/watcher.py's FolderWatcher is the real one).
WatcherFactory = Callable[..., Any]


class PhotoLibrary:
    """Owner of one index; see the module docstring.

    Attributes:
        paths: where the index, models and learning data live.
        threaded: whether a worker thread of its own serves commands.
        served_by: what ``GetStatus`` reports: "app" in the window, "cli" on the command line.
    """

    def __init__(
        self,
        paths: Paths,
        embedder_factory: EmbedderFactory,
        *,
        model: str | None = None,
        threaded: bool = True,
        watcher_factory: WatcherFactory | None = None,
        batch_size: int | None = None,
        decode_workers: int | None = None,
        served_by: str = "cli",
    ) -> None:
        self.paths = paths
        self.threaded = threaded
        self.served_by = served_by
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()
        self._inbox = Inbox()
        self._inline_outcomes: deque[Outcome] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._session = Session(
            paths, embedder_factory, model, self._emit, served_by=served_by,
            pipeline_options={k: v for k, v in (("batch_size", batch_size), ("decode_workers", decode_workers)) if v},
        )
        self._watcher_factory = watcher_factory
        self._background = Background(self._session, self._emit, should_yield=self._should_yield)

    # -- public API (any thread) -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive (threaded mode)."""
        return self._thread is not None and self._thread.is_alive()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns the function that unsubscribes."""
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def start(self) -> None:
        """Open the index, watch the folders and rescan them all (stat-only for unchanged photos).

        Threaded: returns at once; a failure to open the index arrives as a fatal ``Problem`` event and as the
        error of every command. Inline: raises it.
        """
        if self._started:
            return
        self._started = True
        if self.threaded:
            self._thread = threading.Thread(target=self._loop, name="xmr-library", daemon=True)
            self._thread.start()
        else:
            self._open(inline=True)

    def submit(self, command: c.Command) -> Future[Any]:
        """Queue a command; its future gets the result or the ``XmrError`` to show the user."""
        future: Future[Any] = Future()
        request = Request(command, future)
        if not self._started:
            self.start()
        if self.threaded:
            if self._stop.is_set():
                future.set_exception(XmrError("xmr_desktop is shutting down."))
            else:
                self._inbox.put(request)
        else:
            self._serve(request)
        return future

    def call(self, command: c.Command, timeout: float | None = None) -> Any:
        """``submit`` and wait for the answer; raises the command's error."""
        return self.submit(command).result(timeout)

    def run_pending(self, until: Callable[[], bool] | None = None) -> None:
        """Inline mode: do background work (scans' outcomes, indexing) until nothing is left or ``until()``."""
        assert not self.threaded, "the worker thread runs background work by itself"
        while until is None or not until():
            self._drain_inline_outcomes()
            if not self._background.step():
                self._drain_inline_outcomes()
                if not self._background.has_work():
                    return

    def close(self, timeout: float = 5.0) -> bool:
        """Finish the batch in hand, release the model, the watcher and the index; True if it ended in time.

        A worker still loading a model cannot be interrupted; then this waits on (logged), because the
        process must not exit while TensorFlow is half-initialised on another thread.
        """
        if not self._started or self._stop.is_set():
            return True
        self._stop.set()
        if not self.threaded:
            self._session.close()
            return True
        self._inbox.put(STOP)
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the library's worker is still busy after %.1f s (loading the model?); waiting for it", timeout)
            self._thread.join()
            return False
        return True

    # -- the worker ------------------------------------------------------------------------------------------

    def _open(self, *, inline: bool) -> None:
        def make_io(store: Any) -> FolderIO:
            return FolderIO(self.paths.index_db, self._post_outcome, threaded=not inline, store=store)

        watcher = None
        if self._watcher_factory is not None and not inline:
            watcher = self._watcher_factory(self._on_watched, on_status=self._on_watch_status)
        self._session.open(make_io, watcher)
        if not inline:
            self._background.start_session()

    def _loop(self) -> None:
        try:
            self._open(inline=False)
        except XmrError as error:
            log.error("cannot open the index: %s", error)
            self._emit(e.Problem(str(error), fatal=True))
            self._refuse_all(str(error))
            return
        try:
            while True:
                timeout = 0.0 if self._background.has_work() else self._background.idle_timeout()
                item = self._inbox.get(timeout)
                if item is STOP:
                    break
                if item is None:
                    self._background.step()
                elif isinstance(item, Request):
                    self._serve(item)
                else:
                    self._guarded(item)  # type: ignore[arg-type]
        finally:
            for leftover in self._inbox.drain():
                if isinstance(leftover, Request):
                    leftover.future.set_exception(XmrError("xmr_desktop is shutting down."))
            self._session.close()

    def _refuse_all(self, message: str) -> None:
        while True:
            item = self._inbox.get(None)
            if item is STOP:
                return
            if isinstance(item, Request) and item.future.set_running_or_notify_cancel():
                item.future.set_exception(XmrError(message))

    def _serve(self, request: Request) -> None:
        if not request.future.set_running_or_notify_cancel():
            return  # replaced by a newer search on its channel
        try:
            if not self.threaded:
                self._drain_inline_outcomes()
            if isinstance(request.command, c.IndexNow):
                result = self._background.index_now(request.command, request.future)
                if result is None:  # answered when the run ends
                    if not self.threaded:
                        self.run_pending(until=request.future.done)
                    return
            else:
                result = self._session.handle(request.command, self._background)
        except XmrError as error:
            request.future.set_exception(error)
        except Exception as error:  # noqa: BLE001  a failed command must not end the worker
            log.exception("command %r failed", request.command)
            request.future.set_exception(XmrError(f"{type(error).__name__}: {error}"))
        else:
            request.future.set_result(result)

    def _guarded(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # noqa: BLE001  keep the worker alive; the traceback is in the log
            log.exception("internal job failed")

    def _should_yield(self) -> bool:
        return self._stop.is_set() or self._inbox.waiting()

    def _post_outcome(self, outcome: Outcome) -> None:
        if self.threaded:
            self._inbox.put(lambda: self._background.on_outcome(outcome))
        else:
            self._inline_outcomes.append(outcome)

    def _drain_inline_outcomes(self) -> None:
        while self._inline_outcomes:
            self._background.on_outcome(self._inline_outcomes.popleft())

    def _on_watched(self, changes: Any) -> None:
        # The watcher's thread: the folder thread applies the changes, the worker hears the outcome.
        io = self._session.io
        if io is not None:
            io.apply(changes)

    def _on_watch_status(self, status: Any) -> None:
        # The watcher's thread: watching became incomplete (inotify limit) or complete again later.
        self._post_outcome_job(lambda: self._background.watch_status(status))

    def _post_outcome_job(self, job: Callable[[], None]) -> None:
        if self.threaded:
            self._inbox.put(job)

    def _emit(self, event: e.Event) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001  one broken listener must not stop the others or the core
                log.exception("event listener failed on %s", type(event).__name__)
