"""Which core answers a command: a running app over its socket, or this process opening the index itself.

With the app running, the app is the one writer of the index and answers in the time of one text encoding.
Without it (or with ``--local``, or when the command names another model than the app's, or a search asks
for another query language than the app's setting), the command line opens a ``PhotoLibrary`` of its own in
inline mode.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from xmr_desktop.config import Paths
from xmr_desktop.core import commands as c
from xmr_desktop.core.runs import IndexProgress
from xmr_desktop.cli.remote import AppGoneError, Endpoint, NotServed, find_app, request

log = logging.getLogger(__name__)

# Safe to run again locally if the app went away mid-request: they change nothing.
_READ_ONLY = (c.Search, c.FindSimilar, c.GetStatus, c.ListSkipped, c.ListConcepts, c.FindDuplicates)

ProgressCallback = Callable[[IndexProgress], None]


class Library:
    """The command line's handle on a core: ``call(command)`` returns the typed result or raises XmrError.

    Attributes:
        served_by: "app" while a running app answers, "cli" once this process opened the index itself.
    """

    def __init__(
        self, paths: Paths, model: str | None, *, use_app: bool, options: dict[str, int] | None = None,
        language: str | None = None,
    ) -> None:
        self._paths = paths
        self._model = model
        self._language = language
        self._options = options or {}
        self._endpoint: Endpoint | None = find_app(paths.data_dir) if use_app else None
        self._local: Any = None
        self.served_by = "app" if self._endpoint is not None else "cli"

    def call(self, command: c.Command, on_progress: ProgressCallback | None = None) -> Any:
        if self._endpoint is not None:
            try:
                return request(self._endpoint, command, model=self._model, lang=self._language, on_progress=on_progress)
            except NotServed as reason:
                log.info("the app does not serve this request (%s); opening the index here", reason)
            except AppGoneError:
                if not isinstance(command, _READ_ONLY):
                    raise
                log.info("the app went away; answering here")
            self._endpoint = None
            self.served_by = "cli"
        return self._local_library().call(command, on_progress)

    def _local_library(self) -> Any:
        if self._local is None:
            self._local = _LocalLibrary(self._paths, self._model, self._options, self._language)
        return self._local

    def close(self) -> None:
        if self._local is not None:
            self._local.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LocalLibrary:
    """A ``PhotoLibrary`` in inline mode in this process (TensorFlow loads only if something needs a model)."""

    def __init__(self, paths: Paths, model: str | None, options: dict[str, int], language: str | None = None) -> None:
        from xmr_desktop.core.library import PhotoLibrary
        from xmr_desktop.core.models import lazy_embedder

        self._library = PhotoLibrary(paths, lazy_embedder, model=model, threaded=False, served_by="cli",
                                     language=language, **options)
        # The one-time LiteRT export of a model runs while it loads (tens of seconds): say so on stderr.
        from xmr_desktop.cli.output import PreparationPrinter
        from xmr_desktop.core import events as e

        printer = PreparationPrinter(sys.stderr)
        self._library.subscribe(
            lambda event: printer.update(event.name, event.stage, event.fraction) if isinstance(event, e.ModelPreparing) else None
        )
        self._library.start()

    def call(self, command: c.Command, on_progress: ProgressCallback | None) -> Any:
        from xmr_desktop.core import events as e

        unsubscribe = None
        if on_progress is not None:
            unsubscribe = self._library.subscribe(
                lambda event: on_progress(event.progress) if isinstance(event, e.IndexingProgress) else None
            )
        try:
            return self._library.call(command)
        finally:
            if unsubscribe is not None:
                unsubscribe()

    def close(self) -> None:
        self._library.close()

