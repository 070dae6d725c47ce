"""The result grid in date order, grouped by day or month under headers ("14 July 2023", "July 2023").

The grid's model and its rows stay as they are (selection, the viewer and the context menu see the same
indexes); only where the cells sit changes: in date order the view places each group's photos on rows of
their own below a header strip, and a transparent overlay paints the headers. In relevance order the view lays
itself out as before.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QTimer, Slot
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QListView, QWidget

from xmr_desktop.ui.date_groups import DateGroup, date_groups
from xmr_desktop.ui.results_model import ResultsModel

HEADER_PADDING = 6


class DateGroupedGrid(QObject):
    """Groups ``view``'s cells by date while enabled.

    Attributes:
        enabled: whether the grid is grouped (date order).
        groups: the groups laid out, with their header strips (contents coordinates).
    """

    def __init__(self, view: QListView, model: ResultsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self._model = model
        self.enabled = False
        self.groups: list[tuple[DateGroup, QRect]] = []
        self._overlay = _Headers(view, self)
        self._overlay.hide()
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self.relayout)
        for signal in (model.modelReset, model.layoutChanged, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._relayout_soon)
        self._viewport = view.viewport()
        self._viewport.installEventFilter(self)
        view.verticalScrollBar().valueChanged.connect(self._overlay.update)

    def set_enabled(self, enabled: bool) -> None:
        if enabled == self.enabled:
            return
        self.enabled = enabled
        self._view.setMovement(QListView.Movement.Free if enabled else QListView.Movement.Static)
        self._overlay.setVisible(enabled)
        self.groups = []
        if enabled:
            self.relayout()
        else:
            self._view.doItemsLayout()

    def headers(self) -> list[tuple[str, QRect]]:
        """The header labels and where they are drawn now (viewport coordinates)."""
        offset = QPoint(self._view.horizontalScrollBar().value(), self._view.verticalScrollBar().value())
        return [(group.label, rect.translated(-offset)) for group, rect in self.groups]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Compared with the viewport kept at start: events may still come while the view is being destroyed.
        if self.enabled and watched is self._viewport and event.type() == QEvent.Type.Resize:
            self._relayout_soon()
        return super().eventFilter(watched, event)

    @Slot()
    def _relayout_soon(self) -> None:
        if self.enabled:
            self._pending.start()

    @Slot()
    def relayout(self) -> None:
        """Place the cells group by group (call after the thumbnail size changed)."""
        if not self.enabled:
            return
        view, model = self._view, self._model
        results = [model.data(model.index(row), ResultsModel.ResultRole) for row in range(model.rowCount())]
        cell = view.gridSize()
        width = max(cell.width(), view.viewport().width())
        columns = max(1, width // max(1, cell.width()))
        header = view.fontMetrics().height() + 2 * HEADER_PADDING
        self.groups = []
        y = 0
        for group in date_groups(results):
            self.groups.append((group, QRect(0, y, width, header)))
            y += header
            for k in range(group.count):
                position = QPoint((k % columns) * cell.width(), y + (k // columns) * cell.height())
                view.setPositionForIndex(position, model.index(group.first + k))
            y += math.ceil(group.count / columns) * cell.height()
        self._overlay.setGeometry(view.viewport().geometry())
        self._overlay.raise_()
        self._overlay.update()


class _Headers(QWidget):
    """Paints the group headers over the grid's viewport; the mouse goes through to the cells."""

    def __init__(self, view: QListView, grid: DateGroupedGrid) -> None:
        super().__init__(view)  # a child of the view, not the viewport: scrolling the viewport moves its children
        self._grid = grid
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        for label, rect in self._grid.headers():
            if not rect.intersects(self.rect()):
                continue
            painter.fillRect(rect, palette.window())
            painter.setPen(palette.windowText().color())
            painter.drawText(rect.adjusted(HEADER_PADDING, 0, -HEADER_PADDING, 0),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
            painter.setPen(palette.mid().color())
            painter.drawLine(rect.bottomLeft(), rect.bottomRight())
