"""The window's searching: the query on screen, asking the core, showing the newest answer, refreshing it.

Only the answer to the newest question is shown: each search gets a generation number and older answers are
dropped here, in one place (the core already drops searches that were typed over before they ran). While photos
are being indexed the shown query is asked again at most every ``REFRESH_MS``, keeping the scroll position.
"""

from __future__ import annotations

import enum
import html
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from xmr_desktop.core.commands import FindSimilar, Search
from xmr_desktop.search.answer import SearchAnswer, SearchFilters
from xmr_desktop.ui.library_bridge import LibraryBridge
from xmr_desktop.ui.results_model import ResultsModel
from xmr_desktop.ui.results_view import ResultsView
from xmr_desktop.ui.thumbnails import ThumbnailCache

REFRESH_MS = 2000
CHANNEL = "results-grid"


class SearchStatus(enum.Enum):
    """Why the grid shows what it shows when it has no results."""

    NONE = "none"
    WAITING_FOR_MODEL = "waiting for the model"
    NO_MATCHES = "no matches"
    FAILED = "failed"


@dataclass(frozen=True)
class Query:
    """What is being searched: a text in xmr's syntax, or an image file (``kind`` "image")."""

    kind: str
    text: str


class SearchController(QObject):
    """Asks the core for the query on screen and puts the newest answer into the results model.

    Signals:
        shown(generation): the grid now shows the answer to search ``generation`` (results or a failure).
        answered(SearchAnswer | None): the answer shown (how the query was read, the results), None when cleared.
        status_changed(): ``status`` or ``message`` changed (the window updates its page).

    Attributes:
        query: the current query (None when the box is empty).
        folder: the folder filter (None: all folders).
        filters: the filter bar's filters.
        literal: spans of the query to read as plain words (chips the user removed); reset by a new text.
        strictness: where the strong matches end (0 loose … 1 strict; None: the core's default).
        answer: the answer shown, or None.
        status, message: why there are no results, and the failure's text.
        generation: the newest search's number.
    """

    shown = Signal(int)
    answered = Signal(object)
    status_changed = Signal()

    def __init__(
        self, bridge: LibraryBridge, model: ResultsModel, view: ResultsView, thumbnails: ThumbnailCache,
        result_limit: int, parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._bridge, self._model, self._view, self._thumbnails = bridge, model, view, thumbnails
        self._limit = result_limit
        self.query: Query | None = None
        self.folder: str | None = None
        self.filters = SearchFilters()
        self.literal: tuple[tuple[int, int], ...] = ()
        self.strictness: float | None = None
        self.answer: SearchAnswer | None = None
        self.status = SearchStatus.NONE
        self.message = ""
        self.generation = 0
        self._model_state = "none"
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)

    def set_text(self, text: str) -> None:
        self.literal = ()
        self._set_query(Query("text", text) if text else None)

    def remove_part(self, index: int) -> None:
        """Drop the filter the shown query's part ``index`` became (its chip): ask again reading it as words."""
        if self.answer is None or self.answer.reading is None or self.query is None:
            return
        self.literal = self.answer.reading.without(index)
        self._ask(refresh=False)

    def set_filters(self, filters: SearchFilters) -> None:
        self.filters = filters
        if self.query is not None:
            self._ask(refresh=False)

    def set_strictness(self, strictness: float | None) -> None:
        """Move the line between strong and weaker matches; the shown query is asked again."""
        if strictness == self.strictness:
            return
        self.strictness = strictness
        if self.query is not None:
            self._ask(refresh=False)

    def set_image(self, path: str) -> None:
        self._set_query(Query("image", path))

    def set_folder(self, folder: str | None) -> None:
        self.folder = folder
        if self.query is not None:
            self._ask(refresh=False)

    def set_model_state(self, state: str) -> None:
        """The core's model state ("none", "loading", "ready", "failed"): a query waiting for it is asked now."""
        was, self._model_state = self._model_state, state
        if state == "ready" and was != "ready" and self.query is not None:
            self._ask(refresh=False)

    @Slot()
    def searchable_changed(self) -> None:
        """New photos are searchable: ask the shown query again soon (at most every ``REFRESH_MS``)."""
        if self.query is not None and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    @Slot()
    def refresh(self) -> None:
        if self.query is not None:
            self._ask(refresh=True)

    def stop(self) -> None:
        self._refresh_timer.stop()

    def _set_query(self, query: Query | None) -> None:
        self.query = query
        if query is None:
            self.generation += 1  # anything in flight is stale now
            self._model.set_results(self.generation, [])
            self.answer = None
            self.answered.emit(None)
            self._set_status(SearchStatus.NONE)
            return
        self._ask(refresh=False)

    def _ask(self, *, refresh: bool) -> None:
        assert self.query is not None
        self.generation += 1
        generation = self.generation
        if self.query.kind == "image":
            command: Search | FindSimilar = FindSimilar(
                self.query.text, self.folder, self._limit, channel=CHANNEL, filters=self.filters,
                strictness=self.strictness,
            )
        else:
            command = Search(
                self.query.text, self.folder, self._limit, channel=CHANNEL, literal=self.literal, filters=self.filters,
                strictness=self.strictness,
            )
        if self._model_state in ("none", "loading"):
            self._set_status(SearchStatus.WAITING_FOR_MODEL)
        if self._model_state == "none":
            return  # no model asked for yet (the first-run dialog is open): asked again when one is ready
        self._bridge.call(command, partial(self._on_results, generation, refresh), partial(self._on_failed, generation))

    def _on_results(self, generation: int, refresh: bool, answer: SearchAnswer) -> None:
        if generation != self.generation:
            return  # an older question's answer
        scroll = self._view.verticalScrollBar().value()
        if not refresh or self._model.paths() != [r.path for r in answer]:
            self._thumbnails.cancel_pending()
        self._model.set_results(generation, list(answer))
        if refresh:
            self._view.verticalScrollBar().setValue(scroll)
        self.answer = answer
        self.answered.emit(answer)
        self._set_status(SearchStatus.NONE if answer else SearchStatus.NO_MATCHES)
        self.shown.emit(generation)

    def _on_failed(self, generation: int, message: str) -> None:
        if generation != self.generation:
            return
        self._model.set_results(generation, [])
        self.answer = None
        self.answered.emit(None)
        self._set_status(SearchStatus.FAILED, html.escape(message))
        self.shown.emit(generation)

    def _set_status(self, status: SearchStatus, message: str = "") -> None:
        self.status, self.message = status, message
        self.status_changed.emit()
