"""The viewer: the grid's current photo shown large in a pane beside it and, on Space, over the whole window.

The grid's current index is the one source of truth: the pane and the preview show whatever it is, and moving
in them (arrow keys) moves it, so the grid's selection follows. Decoding happens in ``ViewerLoader`` off the
GUI thread; until it answers, the grid's thumbnail (already in memory) stands in, so stepping through photos
answers at once even for 40-megapixel files. When the results are refreshed while indexing, the shown photo
stays selected if it is still among them, wherever it moved.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QElapsedTimer, QModelIndex, QObject, QPoint, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QSplitter, QWidget

from xmr_desktop.search.results import SearchResult
from xmr_desktop.ui.photo_details import PhotoDetails
from xmr_desktop.ui.photo_preview import PhotoPreview
from xmr_desktop.ui.results_model import ResultsModel
from xmr_desktop.ui.results_view import ResultsView
from xmr_desktop.ui.settings import MIN_VIEWER_WIDTH, AppSettings
from xmr_desktop.ui.thumbnails import THUMBNAIL_PX, ThumbnailCache
from xmr_desktop.ui.viewer_loader import ViewerLoader, ViewImage, ViewProblem
from xmr_desktop.ui.viewer_pane import ViewerPane

log = logging.getLogger(__name__)

SHARPEN_DELAY_MS = 150  # after a resize settles, decode a sharper copy if the view outgrew the decoded one
# A key held down steps every ~33 ms, faster than a 40 MP photo decodes: while photos follow each other this
# quickly only the thumbnails are shown, and the decode starts once the stepping pauses this long.
RAPID_STEP_MS = 90
PREFETCH_NEIGHBOURS = 1  # photos decoded ahead on each side of the shown one


@dataclasses.dataclass
class _Shown:
    """The photo on screen: its result, what is known beyond it, and its decode (or why there is none)."""

    result: SearchResult
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    image: ViewImage | None = None
    problem: str | None = None

    @property
    def path(self) -> str:
        return self.result.path


class Viewer(QObject):
    """Shows the grid's current photo in the pane and the full-window preview.

    Signals (on the GUI thread):
        photo_selected(path): a different photo is being shown (a place to ask for its metadata, then call
            ``update_details``).
        photo_shown(path): the photo's decode, or the reason it cannot be shown, is now on screen.
        preview_toggled(bool): the full-window preview opened or closed.

    Attributes:
        page: the results page (grid and pane side by side) for the window's central stack.
        pane, preview: the two views of the photo.
        loader: the off-thread decoder.
        toggle_action: View → Viewer pane (checkable; persisted).
        preview_action: the pane's "Full window" button (Space).
        actions: Open, Show in folder, Copy path, Find similar, Teach a name… acting on the shown photo.
    """

    photo_selected = Signal(str)
    photo_shown = Signal(str)
    preview_toggled = Signal(bool)

    def __init__(
        self,
        window: QWidget,
        view: ResultsView,
        model: ResultsModel,
        thumbnails: ThumbnailCache | None,
        settings: AppSettings,
        loader: ViewerLoader | None = None,
    ) -> None:
        super().__init__(window)
        self._view, self._model, self._thumbnails, self._settings = view, model, thumbnails, settings
        self.loader = loader or ViewerLoader(parent=self)
        self._shown: _Shown | None = None
        self._return_focus: QWidget | None = None
        self.actions = view.photo_actions.make_actions(window, self._target)
        self.preview_action = QAction("Full window", window)
        self.preview_action.setToolTip("Show the photo over the whole window (Space)")
        self.preview_action.triggered.connect(self.open_preview)
        self.pane = ViewerPane({**self.actions, "preview": self.preview_action})
        self.preview = PhotoPreview(window, self.actions)
        self.page = QSplitter(Qt.Orientation.Horizontal)
        self.page.setObjectName("results-page")
        self.page.addWidget(view)
        self.page.addWidget(self.pane)
        self.page.setStretchFactor(0, 1)
        self.page.setStretchFactor(1, 0)
        self.page.setCollapsible(0, False)
        self.page.setCollapsible(1, False)  # hidden only through the View menu, so it always comes back
        self.pane.setMinimumWidth(MIN_VIEWER_WIDTH)
        self.toggle_action = QAction("&Viewer pane", window)
        self.toggle_action.setCheckable(True)
        self.toggle_action.setShortcut(QKeySequence("Ctrl+I"))
        self._sharpen_timer = QTimer(self)
        self._sharpen_timer.setSingleShot(True)
        self._sharpen_timer.setInterval(SHARPEN_DELAY_MS)
        self._sharpen_timer.timeout.connect(self._sharpen)
        self._request_timer = QTimer(self)
        self._request_timer.setSingleShot(True)
        self._request_timer.setInterval(RAPID_STEP_MS)
        self._request_timer.timeout.connect(self._request)
        self._last_show = QElapsedTimer()
        self._restore()
        self._connect()

    # -- set-up --------------------------------------------------------------------------------------------

    def _restore(self) -> None:
        visible = self._settings.viewer_visible
        self.toggle_action.setChecked(visible)
        self.pane.setVisible(visible)
        width = self._settings.viewer_width
        self.page.setSizes([max(1, self.page.width() - width), width])

    def _connect(self) -> None:
        self._view.selectionModel().currentChanged.connect(self._on_current_changed)
        self._view.preview_requested.connect(self.open_preview)
        self._model.modelReset.connect(self._after_reset)
        self._model.layoutChanged.connect(self._update_title)
        self._model.dataChanged.connect(self._on_data_changed)
        self.loader.ready.connect(self._on_ready)
        self.toggle_action.toggled.connect(self.set_pane_visible)
        self.page.splitterMoved.connect(self._on_splitter_moved)
        for source in (self.pane, self.preview):
            source.step_requested.connect(self.step)
            source.open_requested.connect(lambda: self._act("open"))
            source.menu_requested.connect(self._show_menu)
            source.canvas.resized.connect(self._sharpen_timer.start)
        self.pane.preview_requested.connect(self.open_preview)
        self.pane.return_requested.connect(lambda: self._view.setFocus(Qt.FocusReason.OtherFocusReason))
        self.preview.close_requested.connect(self.close_preview)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)

    # -- what the window and the tests call ----------------------------------------------------------------

    @property
    def shown_path(self) -> str | None:
        return self._shown.path if self._shown is not None else None

    @property
    def shown_image(self) -> ViewImage | None:
        """The decode on screen (None while loading, for a problem, or with no photo)."""
        return self._shown.image if self._shown is not None else None

    @property
    def shown_problem(self) -> str | None:
        return self._shown.problem if self._shown is not None else None

    @property
    def preview_open(self) -> bool:
        return self.preview.isVisible()

    def update_details(self, path: str, fields: Mapping[str, Any]) -> bool:
        """Add what was learnt about ``path`` (``PhotoDetails`` field names: ``date_taken``, ``place``, ``camera``,
        ``match_reasons``…) if it is still shown; False if another photo is shown by now. An unknown field name is
        a ValueError, and nothing is kept of it."""
        PhotoDetails(path).updated(fields)  # refuse unknown names before anything is stored
        if self._shown is None or self._shown.path != path:
            return False
        self._shown.extra.update(fields)
        self._show_details()
        return True

    @Slot()
    def open_preview(self) -> None:
        """Space: show the current photo over the whole window."""
        if self._shown is None:
            current = self._view.currentIndex()
            if not current.isValid():
                return
            self._show(self._model.result(current.row()))
        if self.preview.isVisible():
            return
        focus = QApplication.focusWidget()
        self._return_focus = focus if focus is not None and focus is not self.preview else None
        self._paint_current(self.preview)
        self._update_title()
        self.preview.open()
        self.preview_toggled.emit(True)
        self._sharpen()

    @Slot()
    def close_preview(self) -> None:
        """Escape: back to the grid (or the pane, if it had the focus)."""
        if not self.preview.isVisible():
            return
        self.preview.hide()
        target = self._return_focus if self._return_focus is not None and self._return_focus.isVisible() else self._view
        self._return_focus = None
        target.setFocus(Qt.FocusReason.OtherFocusReason)
        self.preview_toggled.emit(False)

    @Slot(int)
    def step(self, delta: int) -> None:
        """Move ``delta`` results (clamped to the list); the grid's current item and selection follow.

        Rows the grid hides (collapsed weaker matches, say) are skipped: the keys move through what is shown.
        """
        rows = [row for row in range(self._model.rowCount()) if not self._view.isRowHidden(row)]
        if not rows:
            return
        row = self._model.row_of(self._shown.path) if self._shown is not None else None
        if row is None:
            row = self._view.currentIndex().row() if self._view.currentIndex().isValid() else -1
        # Where the shown row is among the visible ones (a hidden shown row counts as just before the next).
        position = next((number for number, visible in enumerate(rows) if visible >= row), len(rows))
        if position < len(rows) and rows[position] != row and delta > 0:
            delta -= 1  # already past the shown row: the next visible one is one step away
        new = rows[min(max(position + delta, 0), len(rows) - 1)]
        if new != row:
            self._view.setCurrentIndex(self._model.index(new))

    @Slot(bool)
    def set_pane_visible(self, visible: bool) -> None:
        if self.toggle_action.isChecked() != visible:
            self.toggle_action.setChecked(visible)  # comes back here through toggled
            return
        had_focus = self.pane.isAncestorOf(QApplication.focusWidget()) or QApplication.focusWidget() is self.pane
        self.pane.setVisible(visible)
        self._settings.viewer_visible = visible
        if visible:
            self.page.setSizes([max(1, self.page.width() - self._settings.viewer_width), self._settings.viewer_width])
            if self._shown is not None and self._shown.image is None and self._shown.problem is None:
                self._request()
        elif had_focus:
            self._view.setFocus(Qt.FocusReason.OtherFocusReason)

    def close(self) -> None:
        """Stop decoding (the window is closing)."""
        self._sharpen_timer.stop()
        self._request_timer.stop()
        self.loader.wait()

    # -- following the grid ----------------------------------------------------------------------------------

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self._clear()
            return
        self._show(self._model.result(current.row()))

    @Slot()
    def _after_reset(self) -> None:
        """New results: keep the shown photo selected if it is among them; otherwise there is nothing to show."""
        if self._shown is None:
            return
        row = self._model.row_of(self._shown.path)
        if row is None:
            self._clear()
            return
        auto_scroll = self._view.hasAutoScroll()
        self._view.setAutoScroll(False)  # the search keeps (or resets) the scroll position, not us
        try:
            self._view.setCurrentIndex(self._model.index(row))
        finally:
            self._view.setAutoScroll(auto_scroll)
        self._update_title()

    @Slot(QModelIndex, QModelIndex)
    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        if self._shown is None:
            return
        row = self._model.row_of(self._shown.path)
        if row is not None and top_left.row() <= row <= bottom_right.row():
            self._shown.result = self._model.result(row)  # a refresh while indexing: the score may have moved
            self._show_details()

    def _show(self, result: SearchResult) -> None:
        if self._shown is not None and self._shown.path == result.path:
            self._shown.result = result  # the same photo again after a refresh: keep its decode
            self._show_details()
            return
        self._shown = _Shown(result)
        self._show_details()
        stand_in = self._thumbnail(result)
        for canvas in (self.pane.canvas, self.preview.canvas):
            if stand_in is not None:
                canvas.show_image(stand_in, final=False)
            else:
                canvas.show_message("")
        self._update_title()
        rapid = self._last_show.isValid() and self._last_show.elapsed() < RAPID_STEP_MS
        self._last_show.start()
        if rapid or self._request_timer.isActive():
            self.loader.cancel()  # nobody waits for the previous photo any more
            self._request_timer.start()
        else:
            self._request()
        self.photo_selected.emit(result.path)

    def _clear(self) -> None:
        self._shown = None
        self._request_timer.stop()
        self.loader.cancel()
        self.pane.clear()
        self.close_preview()

    # -- decoding ---------------------------------------------------------------------------------------------

    def _box(self) -> tuple[int, int] | None:
        """The size to decode for: the preview's when open, else the pane's; None when neither is visible."""
        if self.preview.isVisible():
            return self.preview.canvas.box()
        if self.pane.isVisibleTo(self.page):
            return self.pane.canvas.box()
        return None

    @Slot()
    def _request(self) -> None:
        self._request_timer.stop()
        box = self._box()
        if self._shown is not None and box is not None:
            self.loader.request(self._shown.path, box)

    @Slot()
    def _sharpen(self) -> None:
        """The view grew (or the preview opened): decode again if the shown copy has too few pixels for it."""
        shown, box = self._shown, self._box()
        if shown is None or box is None or shown.problem is not None:
            return
        if shown.image is None or not shown.image.covers(box):
            self.loader.request(shown.path, box)

    @Slot(object)
    def _on_ready(self, outcome: ViewImage | ViewProblem) -> None:
        shown = self._shown
        if shown is None or outcome.path != shown.path:
            return
        if isinstance(outcome, ViewProblem):
            shown.image, shown.problem = None, outcome.reason
            message = f"Cannot show this photo.\n{outcome.reason}"
            for canvas in (self.pane.canvas, self.preview.canvas):
                canvas.show_message(message, problem=True)
        else:
            shown.image, shown.problem = outcome, None
            for canvas in (self.pane.canvas, self.preview.canvas):
                canvas.show_image(outcome.image)
            self._prefetch(outcome.box)
        self._show_details()
        self.photo_shown.emit(outcome.path)

    def _prefetch(self, box: tuple[int, int]) -> None:
        row = self._model.row_of(self._shown.path) if self._shown is not None else None
        if row is None:
            return
        rows = [r for d in range(1, PREFETCH_NEIGHBOURS + 1) for r in (row + d, row - d) if 0 <= r < self._model.rowCount()]
        self.loader.prefetch([self._model.result(r).path for r in rows], box)

    def _thumbnail(self, result: SearchResult) -> QImage | None:
        if self._thumbnails is None:
            return None
        icon = self._thumbnails.icon(result.path, result.size, result.mtime)
        if icon is None:
            return None
        return icon.pixmap(QSize(THUMBNAIL_PX, THUMBNAIL_PX)).toImage()

    # -- what is shown beside the photo ------------------------------------------------------------------------

    def _show_details(self) -> None:
        shown = self._shown
        if shown is None:
            self.pane.details_model.set_details(None)
            return
        details = PhotoDetails.from_result(shown.result)
        if shown.image is not None:  # what the file says now beats what the index recorded
            width, height = shown.image.full_size
            version = shown.image.version
            details = details.updated({"width": width, "height": height, "size": version.size, "mtime": version.mtime_ns / 1e9})
        if shown.extra:
            details = details.updated(shown.extra)
        self.pane.details_model.set_details(details)

    @Slot()
    def _update_title(self) -> None:
        if self._shown is None:
            return
        row = self._model.row_of(self._shown.path)
        position = row + 1 if row is not None else 0
        self.preview.set_title(os.path.basename(self._shown.path), position, self._model.rowCount())

    def _paint_current(self, view: PhotoPreview | ViewerPane) -> None:
        shown = self._shown
        if shown is None:
            return
        if shown.image is not None:
            view.canvas.show_image(shown.image.image)
        elif shown.problem is not None:
            view.canvas.show_message(f"Cannot show this photo.\n{shown.problem}", problem=True)

    # -- actions ---------------------------------------------------------------------------------------------

    def _target(self) -> tuple[str | None, list[str]]:
        path = self.shown_path
        return path, [path] if path else []

    def _act(self, key: str) -> None:
        if self.shown_path:
            self._view.photo_actions.trigger(key, self.shown_path)

    @Slot(QPoint)
    def _show_menu(self, position: QPoint) -> None:
        if not self.shown_path:
            return
        parent = self.preview if self.preview.isVisible() else self.pane
        menu = self._view.photo_actions.menu(parent, self.shown_path)
        menu.exec(position)
        menu.deleteLater()

    @Slot(int, int)
    def _on_splitter_moved(self, _pos: int, _index: int) -> None:
        if self.pane.isVisible() and self.pane.width() > 0:
            self._settings.viewer_width = self.pane.width()

    @Slot(QWidget, QWidget)
    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        # Ctrl+F from the preview focuses the search box under it: step out of the way. Dialogs (Teach a name…)
        # are other windows and leave the preview open.
        if new is None or not self.preview.isVisible() or new.window() is not self.preview.window():
            return
        if new is not self.preview and not self.preview.isAncestorOf(new):
            self.close_preview()
