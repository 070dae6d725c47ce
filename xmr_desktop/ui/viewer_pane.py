"""The viewer pane beside the grid: the selected photo large, its actions, and its details."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from xmr_desktop.ui.details_model import DetailsModel
from xmr_desktop.ui.photo_canvas import PhotoCanvas, claims_shortcut, navigation_step

NO_PHOTO = "Select a photo to see it here."
BUTTON_COLUMNS = 3  # six actions in two rows: their full names fit the pane's default width
DETAILS_MAX_LINES = 14
_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter)


class ViewerPane(QWidget):
    """The photo, a row of action buttons and the details table; keys move through the results.

    Keys (when the pane has focus): arrows, Page Up/Down, Home/End move; Space opens the full-window preview;
    Enter opens the photo; Escape gives the focus back to the grid.

    Signals:
        step_requested(int): move this many results (negative: back).
        preview_requested(): show the photo full-window.
        open_requested(): open the photo in the default application.
        return_requested(): Escape: the grid should take the focus back.
        menu_requested(QPoint): a context menu at this global position.

    Attributes:
        canvas: the photo.
        details_model, details_view: the details.
        buttons: the action buttons by action key ("open", "reveal", "copy", "similar", "teach", "preview").
    """

    step_requested = Signal(int)
    preview_requested = Signal()
    open_requested = Signal()
    return_requested = Signal()
    menu_requested = Signal(QPoint)

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewer-pane")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.canvas = PhotoCanvas(self)
        self.canvas.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.canvas.setFocusProxy(self)
        self.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.canvas.customContextMenuRequested.connect(lambda pos: self.menu_requested.emit(self.canvas.mapToGlobal(pos)))
        self.canvas.show_message(NO_PHOTO)
        self.buttons: dict[str, QToolButton] = {}
        bar = QGridLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(2)
        for number, (key, action) in enumerate(actions.items()):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            bar.addWidget(button, number // BUTTON_COLUMNS, number % BUTTON_COLUMNS)
            self.buttons[key] = button
        self.details_model = DetailsModel(self)
        self.details_view = QTableView(self)
        self.details_view.setModel(self.details_model)
        self.details_view.horizontalHeader().hide()
        self.details_view.verticalHeader().hide()
        self.details_view.setShowGrid(False)
        self.details_view.setWordWrap(True)
        self.details_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long names keep their extension; tooltip has all
        self.details_view.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        self.details_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.details_view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.details_view.setFrameShape(QTableView.Shape.NoFrame)
        self.details_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.details_view.horizontalHeader()
        header.setSectionResizeMode(DetailsModel.LABEL, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(DetailsModel.VALUE, QHeaderView.ResizeMode.Stretch)
        self.details_view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.details_view.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.details_model.modelReset.connect(self.fit_details)
        self.details_model.dataChanged.connect(self.fit_details)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(bar)
        layout.addWidget(self.details_view)

    def event(self, event: QEvent) -> bool:
        if claims_shortcut(event, _KEYS):
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = navigation_step(event)
        key = event.key()
        if step is not None:
            self.step_requested.emit(step)
        elif key == Qt.Key.Key_Space and not event.modifiers():
            self.preview_requested.emit()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_requested.emit()
        elif key == Qt.Key.Key_Escape:
            self.return_requested.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    @Slot()
    def fit_details(self) -> None:
        """Rows as tall as their (wrapped) text, the table as tall as its rows: the photo gets the rest."""
        self.details_view.resizeRowsToContents()
        rows = sum(self.details_view.rowHeight(row) for row in range(self.details_model.rowCount()))
        limit = self.fontMetrics().height() * DETAILS_MAX_LINES
        self.details_view.setFixedHeight(min(rows, limit) + 2 * self.details_view.frameWidth())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_details()  # a narrower pane wraps the folder onto more lines

    @Slot()
    def clear(self) -> None:
        self.canvas.show_message(NO_PHOTO)
        self.details_model.set_details(None)
