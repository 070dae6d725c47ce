"""Text in photos as background work of the core: choose a photo, read it off the worker, record the words.

OCR runs after embedding, one photo at a time: the core's worker picks the next photo (``ocr.jobs``; in
``documents`` mode by scoring the stored vectors against the document prompts, embedded once per model),
Tesseract reads it on a thread of its own (``OcrEngine.read_file``: decoding here, recognition in a killable
child process, up to 20 s), and the result is recorded back on the worker, which serves searches meanwhile.
In inline mode (the command line, which serves no searches while it indexes) the read happens on the caller's
thread. Resumable: results are kept per content hash, so a stop loses at most the photo in hand.

The mode belongs to the index (meta ``ocr_mode``), so the window's choice and ``xmr index --ocr`` agree.
Without a choice it is ``$XMR_OCR``, else ``documents`` where Tesseract is installed (``default_mode``).
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from xmr_desktop.engine.protocol import Embedder
from xmr_desktop.errors import XmrError
from xmr_desktop.library.store import Store
from xmr_desktop.library.store.schema import translate
from xmr_desktop.ocr.jobs import DocumentPrompts, OcrMode, OcrSettings, OcrTask, default_mode, next_ocr_tasks, parse_mode

log = logging.getLogger(__name__)

OCR_ENV = "XMR_OCR"
META_KEY = "ocr_mode"
TIMEOUT_S = 20.0

Done = Callable[[Any, BaseException | None], None]
# Hands a job to the core's worker thread (threaded mode).
Post = Callable[[Callable[[], None]], None]


class _OcrThread:
    """One daemon thread running OCR jobs in order; each outcome is posted back to the core's worker."""

    def __init__(self, post: Post) -> None:
        self._post = post
        self._jobs: queue.Queue[tuple[Callable[[], Any], Done] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="xmr-ocr", daemon=True)
        self._thread.start()

    def run(self, job: Callable[[], Any], done: Done) -> None:
        self._jobs.put((job, done))

    def close(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, done = item
            try:
                result: Any = job()
            except Exception as error:  # noqa: BLE001  handed to the worker, which decides
                self._post(lambda done=done, error=error: done(None, error))
            else:
                self._post(lambda done=done, result=result: done(result, None))


class _Inline:
    """Runs a job on the caller's thread (inline mode)."""

    def run(self, job: Callable[[], Any], done: Done) -> None:
        try:
            result = job()
        except Exception as error:  # noqa: BLE001  as the thread does
            done(None, error)
        else:
            done(result, None)

    def close(self) -> None:
        pass


class OcrWork:
    """The OCR job of one session.

    Attributes:
        mode: what is read (``OcrMode``).
        problem: why OCR cannot run here although the mode asks for it ("" when it can).
        read: photos recorded in this session (read or failed).
        on_recorded: called on the worker after each recorded photo (the core counts it and tells the shells).
    """

    def __init__(self, post: Post | None) -> None:
        self._runner: _OcrThread | _Inline = _OcrThread(post) if post is not None else _Inline()
        self.mode = OcrMode.OFF
        self.problem = ""
        self.read = 0
        self.on_recorded: Callable[[OcrTask, str | None], None] = lambda task, text: None
        self._store: Store | None = None
        self._langs: tuple[str, ...] = ()
        self._engine: Any = None
        self._version: str | None = None
        self._prompts: tuple[str, DocumentPrompts] | None = None
        self._in_flight: OcrTask | None = None
        self._starting = False
        self._settled = False
        # Bumped whenever the engine stops: a read that was in flight then is not recorded as a failure.
        self._generation = 0

    # -- settings ----------------------------------------------------------------------------------------------

    def open(self, store: Store) -> None:
        """Take the index's mode (or the default) and check that Tesseract can serve it."""
        self._store = store
        chosen = store.get_meta(META_KEY) or os.environ.get(OCR_ENV)
        try:
            mode = parse_mode(chosen) if chosen else default_mode()
        except XmrError:
            log.warning("ignoring the OCR mode %r (not off, documents or all)", chosen)
            mode = default_mode()
        self._apply(mode)

    def set_mode(self, mode: OcrMode) -> None:
        """Use ``mode`` from now on and keep it in the index; XmrError if Tesseract cannot serve it (nothing
        changes then)."""
        if mode is not OcrMode.OFF:
            reason = _unavailable()
            if reason:
                raise XmrError(f"Text in photos cannot be read: {reason}.")
        assert self._store is not None
        self._store.set_meta(META_KEY, mode.value)
        self._apply(mode)

    def _apply(self, mode: OcrMode) -> None:
        from xmr_desktop.ocr.engine import DEFAULT_LANGS, installed_langs

        self.mode = mode
        self._langs = installed_langs(DEFAULT_LANGS) if mode is not OcrMode.OFF else ()
        self.problem = (_unavailable() or "") if mode is not OcrMode.OFF else ""
        self._settled = False
        if mode is OcrMode.OFF or self.problem:
            self._stop_engine()

    def rewind(self) -> None:
        """New photos were embedded (or the model changed): look for photos to read again."""
        self._settled = False

    # -- scheduling --------------------------------------------------------------------------------------------

    def due(self, embedder: Embedder | None) -> bool:
        """Whether a step would start something (never while a photo is being read)."""
        return (
            self.mode is not OcrMode.OFF and not self.problem and embedder is not None
            and not self._settled and self._in_flight is None and not self._starting
        )

    @property
    def busy(self) -> bool:
        """A photo is being read, or Tesseract is starting."""
        return self._in_flight is not None or self._starting

    def step(self, embedder: Embedder) -> bool:
        """Start reading the next photo (or start Tesseract); False when nothing is left to read."""
        store = self._store
        assert store is not None
        if self._version is None:
            self._start_engine()
            return True
        settings = OcrSettings(self.mode, self._langs, self._version, embedder.model_id, TIMEOUT_S)
        prompts = self._prompts_for(embedder) if self.mode is OcrMode.DOCUMENTS else None
        try:
            tasks, settled = next_ocr_tasks(store.connection, settings, prompts, limit=1, max_chunks=1)
        except sqlite3.OperationalError as error:
            raise translate(error, store.path) or error
        if not tasks:
            self._settled = settled
            return not settled
        task = self._in_flight = tasks[0]
        engine, generation = self._engine, self._generation
        self._runner.run(
            lambda: engine.read_file(task.path, TIMEOUT_S),
            lambda text, error: self._record(generation, settings, task, text, error),
        )
        return True

    def close(self) -> None:
        """Stop the OCR thread and the Tesseract child, without waiting for a photo in progress."""
        self._stop_engine()
        self._runner.close()

    # -- on the worker -------------------------------------------------------------------------------------------

    def _start_engine(self) -> None:
        from xmr_desktop.ocr.engine import OcrEngine, OcrUnavailableError

        try:
            self._engine = OcrEngine(self._langs)
        except OcrUnavailableError as error:
            self.problem = str(error)
            return
        self._starting = True
        generation = self._generation
        self._runner.run(self._engine.engine_version, lambda version, error: self._engine_started(generation, version, error))

    def _engine_started(self, generation: int, version: str | None, error: BaseException | None) -> None:
        if generation != self._generation:
            return
        self._starting = False
        if error is not None or version is None:
            self.problem = str(error) if error is not None else "Tesseract did not start"
            log.warning("OCR is off for this session: %s", self.problem)
            self._stop_engine()
            return
        log.info("reading text in photos with %s (%s, %s)", version, "+".join(self._langs), self.mode.value)
        self._version = version

    def _record(
        self, generation: int, settings: OcrSettings, task: OcrTask, text: str | None, error: BaseException | None
    ) -> None:
        from xmr_desktop.ocr.engine import OcrFailed
        from xmr_desktop.ocr.jobs import record_ocr_result

        if generation != self._generation:
            return  # read by an engine stopped since (closing, mode changed): the photo stays pending
        self._in_flight = None
        reason = None
        if error is not None:
            if not isinstance(error, OcrFailed):
                log.error("OCR of %s failed unexpectedly", task.path, exc_info=error)
            reason = str(error) or type(error).__name__
            log.info("OCR failed for %s: %s", task.path, reason)
        store = self._store
        assert store is not None
        try:
            record_ocr_result(store.connection, settings, task, text if error is None else None, reason)
        except sqlite3.OperationalError as error2:
            log.warning("could not record the text of %s now: %s", task.path, translate(error2, store.path) or error2)
            return  # still pending: read again later
        self.read += 1
        self.on_recorded(task, text if error is None else None)

    def _prompts_for(self, embedder: Embedder) -> DocumentPrompts:
        from xmr_desktop.ocr.documents import DOCUMENT_PROMPTS, OTHER_PROMPTS

        if self._prompts is None or self._prompts[0] != embedder.model_id:
            vectors = embedder.embed_texts(list(DOCUMENT_PROMPTS) + list(OTHER_PROMPTS))
            split = len(DOCUMENT_PROMPTS)
            self._prompts = (embedder.model_id, DocumentPrompts(vectors[:split], vectors[split:]))
        return self._prompts[1]

    def _stop_engine(self) -> None:
        engine, self._engine = self._engine, None
        busy = self.busy
        self._version, self._in_flight, self._starting = None, None, False
        self._generation += 1
        if engine is None:
            return
        if busy:
            engine.kill()  # a photo in progress: do not wait up to 20 s for Tesseract
        else:
            engine.close()


def _unavailable() -> str | None:
    from xmr_desktop.ocr.engine import DEFAULT_LANGS, installed_langs, ocr_available

    langs = installed_langs(DEFAULT_LANGS)
    return ocr_available(langs or ("eng",))
