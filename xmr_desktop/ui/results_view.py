"""The thumbnail grid: a virtualised ``QListView`` in icon mode, with open, reveal, copy and find-similar."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QWidget

from xmr_desktop.ui import desktop
from xmr_desktop.ui.results_model import ResultsModel

MAX_OPEN_AT_ONCE = 20


class ResultsView(QListView):
    """Grid of result thumbnails; only the visible rows are ever asked for data (uniform item sizes).

    Signals:
        similar_requested(path): the user chose "Find similar" on a photo.
        teach_requested(list[str]): the user chose "Teach a name…" for these photos.

    Attributes:
        thumb_size: the current icon edge in pixels.
    """

    similar_requested = Signal(str)
    teach_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
            self._open_paths(self.selected_paths() or [self.current_path() or ""])
            return
        if event.matches(QKeySequence.StandardKey.Copy):
            desktop.copy_paths(self.selected_paths())
            return
        super().keyPressEvent(event)

    def context_menu_for(self, index: QModelIndex) -> QMenu | None:
        """The menu for the photo at ``index`` (built separately so tests can trigger its actions)."""
        if not index.isValid():
            return None
        if not self.selectionModel().isSelected(index):
            self.setCurrentIndex(index)
        path = self.model().data(index, ResultsModel.PathRole)
        paths = self.selected_paths() or [path]
        menu = QMenu(self)
        open_action = QAction("Open", menu)
        open_action.triggered.connect(lambda: self._open_paths(paths))
        reveal_action = QAction("Show in folder", menu)
        reveal_action.triggered.connect(lambda: desktop.reveal_in_file_manager(path))
        copy_action = QAction("Copy path" if len(paths) == 1 else f"Copy {len(paths)} paths", menu)
        copy_action.triggered.connect(lambda: desktop.copy_paths(paths))
        similar_action = QAction("Find similar", menu)
        similar_action.triggered.connect(lambda: self.similar_requested.emit(path))
        teach_action = QAction("Teach a name…", menu)
        teach_action.triggered.connect(lambda: self.teach_requested.emit(paths))
        for action in (open_action, reveal_action, copy_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(similar_action)
        menu.addAction(teach_action)
        return menu

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
            self._open_paths([path])

    def _open_paths(self, paths: list[str]) -> None:
        for path in [p for p in paths if p][:MAX_OPEN_AT_ONCE]:
            desktop.open_file(path)
