"""The worker's side of personal concepts: teach, list and forget names, and hand the searcher its expander.

Qt-free on purpose: the worker's slots call it with their searcher, and it reports through the callables it was
built with (the worker's signals' ``emit``), one channel for result or error. Everything here runs on the worker
thread; the learning database (``learn.sqlite3`` next to the index, shared with ``xmr concept``) is opened per
request, because SQLite connections belong to the thread that made them and requests are rare.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmr_desktop.errors import XmrError
from xmr_desktop.learn.concepts import load_expander, remove_concept, teach_concept
from xmr_desktop.learn.learn_db import LearnDB, StoredConcept

log = logging.getLogger(__name__)

NO_SEARCHER = "Names need the search model and the index; try again when the model has loaded."


@dataclass(frozen=True)
class ConceptInfo:
    """What the GUI shows of a taught name: the name as typed and how many photos taught it."""

    name: str
    photos: int


class ConceptBook:
    """Personal concepts of the worker's searcher (its ``store`` and ``embedder`` say where and for which model).

    Attributes:
        data_dir: the folder of the index, where ``learn.sqlite3`` lives.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        taught: Callable[[str, int], None],
        changed: Callable[[list[ConceptInfo]], None],
        error: Callable[[str], None],
    ) -> None:
        self.data_dir = Path(data_dir)
        self._taught, self._changed, self._error = taught, changed, error

    def teach(self, searcher: Any, name: str, photos: Sequence[str]) -> None:
        """Teach (or re-teach) ``name`` from ``photos``; bad input is reported as a one-line error."""

        def action() -> StoredConcept:
            with LearnDB.open(self.data_dir) as db:
                return teach_concept(db, name, list(photos), searcher.embedder, store=searcher.store)

        self._run(searcher, action)

    def remove(self, searcher: Any, name: str) -> None:
        def action() -> None:
            with LearnDB.open(self.data_dir) as db:
                remove_concept(db, searcher.embedder.model_id, name)

        self._run(searcher, action)

    def refresh(self, searcher: Any) -> None:
        """Load the concepts of ``searcher``'s model into it and report them (after a model load, or on request)."""
        self._run(searcher, lambda: None)

    def _run(self, searcher: Any, action: Callable[[], StoredConcept | None]) -> None:
        if searcher is None:
            self._error(NO_SEARCHER)
            return
        try:
            taught = action()
            infos = attach(searcher, self.data_dir)
        except XmrError as error:  # ConceptError included: its str() is the user's message
            self._error(str(error))
            return
        except Exception as error:  # noqa: BLE001  a failed request must not end the worker
            log.exception("concept request failed")
            self._error(f"The name could not be changed ({type(error).__name__}: {error}).")
            return
        if taught is not None:
            self._taught(taught.name, len(taught.photos))
        self._changed(infos)


def attach(searcher: Any, data_dir: Path) -> list[ConceptInfo]:
    """Give ``searcher`` the concepts of its model (None when there are none); returns them for the GUI.

    Set as an attribute, which works whether or not ``Searcher.__init__`` takes ``concepts``.
    """
    expander = load_expander(data_dir, searcher.embedder.model_id)
    searcher.concepts = expander
    concepts = expander.concepts if expander else []
    return sorted((ConceptInfo(c.name, len(c.photos)) for c in concepts), key=lambda info: info.name.casefold())
