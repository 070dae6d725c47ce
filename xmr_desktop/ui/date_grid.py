"""The result grid in sections: the strong matches, then a "Weaker matches (N)" divider and the weak ones
(collapsed until the divider is clicked); in date order each side grouped by day or month under headers
("14 July 2023", "July 2023").

The grid's model and its rows stay as they are (selection, the viewer and the context menu see the same
indexes); only where the cells sit changes: the view places each section's photos on rows of their own below a
header strip, a transparent overlay paints the headers, and collapsed weak rows are hidden rows of the view (the
viewer's arrow keys skip them). In relevance order with nothing weak the view lays itself out as before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QListView, QWidget

from xmr_desktop.search.results import SearchResult
from xmr_desktop.ui.date_groups import DateGroup, by_day, date_groups
from xmr_desktop.ui.results_model import ResultsModel

HEADER_PADDING = 6


def divider_label(weak: int, strong: int, expanded: bool) -> str:
    """The divider's text: how many weaker matches, and whether clicking shows or hides them."""
    arrow = "▾" if expanded else "▸"
    if strong == 0:
        return f"{arrow} No strong match · closest photos ({weak})"
    action = "click to hide" if expanded else "click to show"
    return f"{arrow} Weaker matches ({weak}) · {action}"


class DateGroupedGrid(QObject):
    """Lays ``view``'s cells out in sections: date groups while ``enabled`` (date order), and the divider
    between strong and weak matches whenever the results have both (or only weak ones).

    Signals:
        weak_toggled(bool): the weaker matches were shown (True) or hidden by a click on the divider.

    Attributes:
        enabled: whether the grid is grouped by date (date order).
        groups: the date groups laid out, with their header strips (contents coordinates).
        weak_expanded: whether the weaker matches are shown; None until the user chooses for this query (they
            are hidden then, unless nothing is strong: an empty grid would say less).
    """

    weak_toggled = Signal(bool)

    def __init__(self, view: QListView, model: ResultsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self._model = model
        self.enabled = False
        self.groups: list[tuple[DateGroup, QRect]] = []
        self.weak_expanded: bool | None = None
        self._divider: tuple[str, QRect] | None = None
        self._laid_out = False
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
        """Group by date (date order) or not."""
        if enabled == self.enabled:
            return
        self.enabled = enabled
        self.relayout()

    def reset_weak(self) -> None:
        """A new query: its weaker matches start hidden again."""
        self.weak_expanded = None

    def set_weak_expanded(self, expanded: bool) -> None:
        """Show or hide the weaker matches (what a click on the divider does)."""
        self.weak_expanded = expanded
        self.relayout()
        self.weak_toggled.emit(expanded)

    def weak_shown(self) -> bool:
        strong = self._model.strong_count()
        return self.weak_expanded if self.weak_expanded is not None else strong == 0

    def headers(self) -> list[tuple[str, QRect]]:
        """The date headers' labels and where they are drawn now (viewport coordinates)."""
        offset = self._offset()
        return [(group.label, rect.translated(-offset)) for group, rect in self.groups]

    def divider(self) -> tuple[str, QRect] | None:
        """The weaker matches' divider and where it is drawn now (viewport coordinates); None without one."""
        if self._divider is None:
            return None
        label, rect = self._divider
        return label, rect.translated(-self._offset())

    def _offset(self) -> QPoint:
        return QPoint(self._view.horizontalScrollBar().value(), self._view.verticalScrollBar().value())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Compared with the viewport kept at start: events may still come while the view is being destroyed.
        if watched is self._viewport:
            if event.type() == QEvent.Type.Resize and self._laid_out:
                self._relayout_soon()
            elif event.type() == QEvent.Type.MouseButtonPress and self._divider is not None:
                assert isinstance(event, QMouseEvent)
                divider = self.divider()
                if event.button() == Qt.MouseButton.LeftButton and divider and divider[1].contains(event.position().toPoint()):
                    self.set_weak_expanded(not self.weak_shown())
                    return True
        return super().eventFilter(watched, event)

    @Slot()
    def _relayout_soon(self) -> None:
        self._pending.start()

    @Slot()
    def relayout(self) -> None:
        """Place the cells section by section (call after the thumbnail size changed)."""
        view, model = self._view, self._model
        results: list[SearchResult] = [model.result(row) for row in range(model.rowCount())]
        strong = model.strong_count()
        weak = len(results) - strong
        self.groups, self._divider = [], None
        if not self.enabled and weak == 0:
            self._plain()
            return
        shown = self.weak_shown()
        if view.movement() != QListView.Movement.Free:
            view.setMovement(QListView.Movement.Free)
        for row in range(len(results)):
            if view.isRowHidden(row) != (row >= strong and not shown):
                view.setRowHidden(row, row >= strong and not shown)
        # Run the view's own (pending) layout now, so it cannot move the cells after they are placed here.
        view.doItemsLayout()
        cell = view.gridSize()
        width = max(cell.width(), view.viewport().width())
        columns = max(1, width // max(1, cell.width()))
        header = view.fontMetrics().height() + 2 * HEADER_PADDING
        daily = by_day(results)  # one granularity for both sides
        y = self._section(results[:strong], 0, 0, columns, header, width, daily)
        if weak:
            self._divider = (divider_label(weak, strong, shown), QRect(0, y, width, header))
            y += header
            if shown:
                y = self._section(results[strong:], strong, y, columns, header, width, daily)
            else:
                for row in range(strong, len(results)):  # out of the way: hidden rows still count for the scroll range
                    view.setPositionForIndex(QPoint(0, max(0, y - header)), model.index(row))
        self._laid_out = True
        self._overlay.setGeometry(view.viewport().geometry())
        self._overlay.setVisible(True)
        self._overlay.raise_()
        self._overlay.update()

    def _section(
        self, results: Sequence[SearchResult], first: int, y: int, columns: int, header: int, width: int, daily: bool
    ) -> int:
        """Lay ``results`` (rows from ``first``) out from ``y``: under date headers in date order, else in rows;
        returns where the next section starts."""
        cell = self._view.gridSize()
        if self.enabled:
            groups = [DateGroup(g.label, g.first + first, g.count) for g in date_groups(results, daily)]
        else:
            groups = [DateGroup("", first, len(results))]
        for group in groups:
            if self.enabled:
                self.groups.append((group, QRect(0, y, width, header)))
                y += header
            for k in range(group.count):
                position = QPoint((k % columns) * cell.width(), y + (k // columns) * cell.height())
                self._view.setPositionForIndex(position, self._model.index(group.first + k))
            y += math.ceil(group.count / columns) * cell.height()
        return y

    def _plain(self) -> None:
        """Relevance order with nothing weak: the view's own layout."""
        for row in range(self._model.rowCount()):
            if self._view.isRowHidden(row):
                self._view.setRowHidden(row, False)
        self._overlay.setVisible(False)
        if self._laid_out:
            self._laid_out = False
            self._view.setMovement(QListView.Movement.Static)
            self._view.doItemsLayout()


class _Headers(QWidget):
    """Paints the date headers and the divider over the grid's viewport; the mouse goes through to the cells."""

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
        strips = [(label, rect, False) for label, rect in self._grid.headers()]
        divider = self._grid.divider()
        if divider is not None:
            strips.append((*divider, True))
        for label, rect, is_divider in strips:
            if not rect.intersects(self.rect()):
                continue
            painter.fillRect(rect, palette.alternateBase() if is_divider else palette.window())
            painter.setPen(palette.windowText().color() if not is_divider else palette.placeholderText().color())
            painter.drawText(rect.adjusted(HEADER_PADDING, 0, -HEADER_PADDING, 0),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
            painter.setPen(palette.mid().color())
            if is_divider:
                painter.drawLine(rect.topLeft(), rect.topRight())
            painter.drawLine(rect.bottomLeft(), rect.bottomRight())
