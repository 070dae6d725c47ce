"""The viewer's details as a two-column item model (label, value): only the known details are rows."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from xmr_desktop.ui.photo_details import DetailRow, PhotoDetails

_Index = QModelIndex | QPersistentModelIndex


class DetailsModel(QAbstractTableModel):
    """Rows of ``PhotoDetails.rows()``: column 0 the label, column 1 the value.

    Roles: ``DisplayRole`` and ``ToolTipRole`` the text, ``KeyRole`` the field's name ("name", "camera", …).

    Attributes:
        details: what is shown (None: no photo).
    """

    KeyRole = Qt.ItemDataRole.UserRole + 1
    LABEL, VALUE = 0, 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.details: PhotoDetails | None = None
        self._rows: list[DetailRow] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 2

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows) or index.column() > self.VALUE:
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.label if index.column() == self.LABEL else row.text
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == self.VALUE:
            return row.text
        if role == Qt.ItemDataRole.TextAlignmentRole:
            vertical = Qt.AlignmentFlag.AlignTop
            horizontal = Qt.AlignmentFlag.AlignRight if index.column() == self.LABEL else Qt.AlignmentFlag.AlignLeft
            return int(vertical | horizontal)
        if role == self.KeyRole:
            return row.key
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        # Selectable so a value can be copied (Ctrl+C in the view); never editable.
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names[self.KeyRole] = b"key"
        return names

    def set_details(self, details: PhotoDetails | None) -> None:
        """Show ``details`` (None: nothing)."""
        rows = details.rows() if details is not None else []
        self.details = details
        if rows == self._rows:
            return  # nothing the user sees changed (the decode confirmed what the index said)
        if [row.key for row in rows] == [row.key for row in self._rows]:
            self._rows = rows  # same rows, new values (a refresh while indexing): keep the view's scroll
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, self.VALUE))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def text(self, key: str) -> str | None:
        """The shown value of the row ``key``, or None when that row is hidden."""
        return next((row.text for row in self._rows if row.key == key), None)

    def keys(self) -> list[str]:
        return [row.key for row in self._rows]
