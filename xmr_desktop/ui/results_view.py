"""The thumbnail grid: a virtualised ``QListView`` in icon mode; its photo actions are ``ui.photo_actions``'s."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QWidget

from xmr_desktop.ui.photo_actions import PhotoActions
from xmr_desktop.ui.results_model import ResultsModel


class ResultsView(QListView):
    """Grid of result thumbnails; only the visible rows are ever asked for data (uniform item sizes).

    Signals:
        similar_requested(path): the user chose "Find similar" on a photo (here, in the viewer or the preview).
        teach_requested(list[str]): the user chose "Teach a name…" for these photos.
        preview_requested(): Space on the grid: show the current photo full-window.

    Attributes:
        thumb_size: the current icon edge in pixels.
        photo_actions: Open, Show in folder, Copy path, Find similar, Teach a name…, shared with the viewer.
    """

    similar_requested = Signal(str)
    teach_requested = Signal(object)
    preview_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.photo_actions = PhotoActions(self)
        self.photo_actions.similar_requested.connect(self.similar_requested)
        self.photo_actions.teach_requested.connect(self.teach_requested)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_menu)
        self.doubleClicked.connect(self._open_index)
        self.thumb_size = 160
        self.set_thumb_size(self.thumb_size)

    def set_thumb_size(self, px: int) -> None:
        self.thumb_size = px
        self.setIconSize(QSize(px, px))
        line = self.fontMetrics().height()
        self.setGridSize(QSize(px + 16, px + line + 14))
        self.verticalScrollBar().setSingleStep(max(8, px // 4))

    def selected_paths(self) -> list[str]:
        rows = sorted(index.row() for index in self.selectionModel().selectedIndexes())
        return [self.model().data(self.model().index(row, 0), ResultsModel.PathRole) for row in rows]

    def current_path(self) -> str | None:
        index = self.currentIndex()
        return self.model().data(index, ResultsModel.PathRole) if index.isValid() else None

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.photo_actions.open(self.selected_paths() or [self.current_path() or ""])
            return
        if event.key() == Qt.Key.Key_Space and not event.modifiers() and self.currentIndex().isValid():
            self.preview_requested.emit()
            return
        if event.matches(QKeySequence.StandardKey.Copy):
            self.photo_actions.copy(self.selected_paths())
            return
        super().keyPressEvent(event)

    def context_menu_for(self, index: QModelIndex) -> QMenu | None:
        """The menu for the photo at ``index`` (built separately so tests can trigger its actions)."""
        if not index.isValid():
            return None
        if not self.selectionModel().isSelected(index):
            self.setCurrentIndex(index)
        path = self.model().data(index, ResultsModel.PathRole)
        return self.photo_actions.menu(self, path, self.selected_paths() or [path])

    @Slot(QPoint)
    def _show_menu(self, position: QPoint) -> None:
        menu = self.context_menu_for(self.indexAt(position))
        if menu is not None:
            menu.exec(self.viewport().mapToGlobal(position))
            menu.deleteLater()

    @Slot(QModelIndex)
    def _open_index(self, index: QModelIndex) -> None:
        path = self.model().data(index, ResultsModel.PathRole)
        if path:
            self.photo_actions.open([path])
