"""The folders panel: indexed folders with their photo counts and states; add, remove, pause."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from xmr_desktop.core.state import FolderInfo, FolderState

_Index = QModelIndex | QPersistentModelIndex


class FoldersModel(QAbstractTableModel):
    """Indexed folders as a table: folder, photos (indexed of total), state.

    Roles: ``DisplayRole`` per column, ``ToolTipRole`` the full path and counts, ``PathRole`` the folder path,
    ``InfoRole`` the ``FolderInfo``.
    """

    PathRole = Qt.ItemDataRole.UserRole + 1
    InfoRole = Qt.ItemDataRole.UserRole + 2
    COLUMNS = ("Folder", "Photos", "State")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[FolderInfo] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < 3:
            return self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        info = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return info.path
            if column == 1:
                return f"{info.indexed:,}" if info.indexed == info.total else f"{info.indexed:,} / {info.total:,}"
            return f"{info.state.value}; {info.note}" if info.note else info.state.value
        if role == Qt.ItemDataRole.ToolTipRole:
            text = f"{info.path}\n{info.indexed:,} of {info.total:,} photos searchable"
            if info.pending:
                text += f", {info.pending:,} to index"
            if info.skipped:
                text += f", {info.skipped:,} unreadable"
            if info.state is FolderState.OFFLINE:
                text += "\nThe folder cannot be reached (unplugged drive?); its photos stay in the index."
            if info.note:
                text += f"\n{info.note}"
            return text
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.PathRole:
            return info.path
        if role == self.InfoRole:
            return info
        return None

    def set_folders(self, infos: Sequence[FolderInfo]) -> None:
        """Show new counts; rows are updated in place when the folder list itself did not change."""
        infos = list(infos)
        if [i.path for i in infos] == [i.path for i in self._rows]:
            self._rows = infos
            if infos:
                self.dataChanged.emit(self.index(0, 0), self.index(len(infos) - 1, len(self.COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = infos
        self.endResetModel()

    def folders(self) -> list[FolderInfo]:
        return list(self._rows)


class FoldersPanel(QWidget):
    """The folder list with Add, Remove and Pause buttons.

    Signals:
        add_requested(): the user wants to pick a folder to add.
        remove_requested(path): the user confirmed removing ``path`` from the index.
        pause_requested(path, paused): pause or resume indexing of one folder.

    Attributes:
        model: the ``FoldersModel`` shown.
        view: its ``QTreeView``.
    """

    add_requested = Signal()
    remove_requested = Signal(str)
    pause_requested = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FoldersModel(self)
        self.view = QTreeView(self)
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setTextElideMode(Qt.TextElideMode.ElideLeft)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.add_button = QPushButton("Add folder…", self)
        self.remove_button = QPushButton("Remove", self)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setCheckable(True)
        self.add_button.clicked.connect(self.add_requested)
        self.remove_button.clicked.connect(self._remove_clicked)
        self.pause_button.clicked.connect(self._pause_clicked)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)
        self.model.dataChanged.connect(self._update_buttons)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.pause_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view)
        layout.addLayout(buttons)
        self._update_buttons()

    def selected(self) -> FolderInfo | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.data(rows[0], FoldersModel.InfoRole) if rows else None

    def select(self, path: str) -> None:
        for row, info in enumerate(self.model.folders()):
            if info.path == path:
                self.view.setCurrentIndex(self.model.index(row, 0))

    def confirm_remove(self, info: FolderInfo) -> bool:
        """Ask before forgetting a folder (tests replace this)."""
        answer = QMessageBox.question(
            self,
            "Remove folder",
            f"Stop watching {info.path} and remove its {info.total:,} photos from the index?\n\n"
            "The photos themselves are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def _remove_clicked(self) -> None:
        info = self.selected()
        if info is not None and self.confirm_remove(info):
            self.remove_requested.emit(info.path)

    @Slot(bool)
    def _pause_clicked(self, checked: bool) -> None:
        info = self.selected()
        if info is not None:
            self.pause_requested.emit(info.path, checked)

    @Slot()
    def _update_buttons(self) -> None:
        info = self.selected()
        self.remove_button.setEnabled(info is not None)
        self.pause_button.setEnabled(info is not None)
        self.pause_button.setChecked(bool(info and info.paused))
        self.pause_button.setText("Resume" if info and info.paused else "Pause")
