"""The filter bar under the search box: when (a histogram of the results over time: drag across it to keep a
range), where, with which camera, what type. Each filter narrows whatever the box asked for; the folder
filter stays beside the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from PySide6.QtCore import QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QToolTip, QWidget

from xmr_desktop.search.answer import SearchAnswer, SearchFilters
from xmr_desktop.ui.date_groups import Bucket, histogram

ANY_PLACE, ANY_CAMERA, ANY_TYPE = "Any place", "Any camera", "Any type"
TYPES = (("Photos", "photo"), ("Screenshots", "screenshot"), ("Panoramas", "panorama"))
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def bucket_label(bucket: Bucket) -> str:
    yearly = bucket.end.year > bucket.start.year and bucket.start.month == 1 and bucket.end.month == 1
    return str(bucket.start.year) if yearly else f"{_MONTHS[bucket.start.month - 1]} {bucket.start.year}"


class DateHistogram(QWidget):
    """Bars of the results per month (or year); press and drag across bars to keep that stretch of time.

    Signals:
        range_selected(start, end): photos taken from ``start`` up to (not including) ``end`` (``date``\\ s).

    Attributes:
        buckets: the bars, oldest first.
    """

    range_selected = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buckets: list[Bucket] = []
        self._drag: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setMinimumWidth(120)
        self.setToolTip("Photos over time; drag across the bars to keep only that stretch")

    def sizeHint(self) -> QSize:
        return QSize(260, 30)

    def set_buckets(self, buckets: Sequence[Bucket]) -> None:
        self.buckets = list(buckets)
        self._drag = None
        self.update()

    def select(self, first: int, last: int) -> None:
        """Keep the photos of bars ``first`` to ``last`` (as a drag across them does)."""
        first, last = sorted((max(0, first), min(len(self.buckets) - 1, last)))
        self._drag = None
        self.update()
        if self.buckets:
            self.range_selected.emit(self.buckets[first].start, self.buckets[last].end)

    def _bar_at(self, x: int) -> int:
        if not self.buckets:
            return -1
        return min(len(self.buckets) - 1, max(0, x * len(self.buckets) // max(1, self.width())))

    def _bar_rect(self, index: int, count: int, top: int) -> QRect:
        width = self.width() / max(1, len(self.buckets))
        left = round(index * width)
        right = round((index + 1) * width) - 1
        height = self.height() - 2
        bar = max(1, round(height * count / top)) if count else 0
        return QRect(left, self.height() - 1 - bar, max(1, right - left), bar)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        if not self.buckets:
            painter.setPen(palette.placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no dates")
            return
        top = max(bucket.count for bucket in self.buckets) or 1
        chosen = sorted(self._drag) if self._drag else None
        for index, bucket in enumerate(self.buckets):
            colour = palette.highlight().color() if chosen and chosen[0] <= index <= chosen[1] else QColor(palette.mid().color())
            painter.fillRect(self._bar_rect(index, bucket.count, top), colour)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.buckets:
            index = self._bar_at(event.position().toPoint().x())
            self._drag = (index, index)
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self._bar_at(event.position().toPoint().x())
        if index < 0:
            return
        if self._drag is not None:
            self._drag = (self._drag[0], index)
            self.update()
        bucket = self.buckets[index]
        QToolTip.showText(event.globalPosition().toPoint(), f"{bucket_label(bucket)}: {bucket.count} photos", self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._drag is not None:
            first, last = self._drag
            self.select(first, last)


class FilterBar(QWidget):
    """Date range (with the histogram), place, camera and type filters.

    Signals:
        filters_changed(SearchFilters): the user changed a filter.

    Attributes:
        histogram, dates_label, clear_dates: the date range's parts.
        place_combo, camera_combo, type_combo: editable choices (places and cameras of the results shown).
    """

    filters_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._range: tuple[date, date] | None = None
        self.histogram = DateHistogram(self)
        self.dates_label = QLabel("Any date", self)
        self.clear_dates = QToolButton(self)
        self.clear_dates.setText("✕")
        self.clear_dates.setToolTip("Any date")
        self.clear_dates.setVisible(False)
        self.place_combo = self._combo(ANY_PLACE, "Only photos taken here (a town, region or country, any language)")
        self.camera_combo = self._combo(ANY_CAMERA, "Only photos taken with this camera")
        self.type_combo = QComboBox(self)
        self.type_combo.addItem(ANY_TYPE, None)
        for label, value in TYPES:
            self.type_combo.addItem(label, value)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 4)
        for widget in (self.histogram, self.dates_label, self.clear_dates, self.place_combo, self.camera_combo, self.type_combo):
            layout.addWidget(widget)
        layout.setStretch(0, 1)
        self.histogram.range_selected.connect(self.set_date_range)
        self.clear_dates.clicked.connect(lambda: self.set_date_range(None, None))
        self.type_combo.currentIndexChanged.connect(lambda _index: self._changed())

    def _combo(self, anything: str, tip: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.addItem(anything)
        combo.setToolTip(tip)
        combo.setMinimumContentsLength(10)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.activated.connect(lambda _index: self._changed())
        assert combo.lineEdit() is not None
        combo.lineEdit().returnPressed.connect(self._changed)
        return combo

    # -- what is shown ------------------------------------------------------------------------------------------

    def set_answer(self, answer: SearchAnswer | None) -> None:
        """The results over time, and their places and cameras as choices (the current choices stay)."""
        results = list(answer) if answer is not None else []
        self.histogram.set_buckets(histogram(results))
        self._offer(self.place_combo, ANY_PLACE, [r.place for r in results])
        self._offer(self.camera_combo, ANY_CAMERA, [r.camera for r in results])

    def _offer(self, combo: QComboBox, anything: str, values: Sequence[str | None]) -> None:
        current = combo.currentText()
        counts: dict[str, int] = {}
        for value in values:
            if value:
                counts[value] = counts.get(value, 0) + 1
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(anything)
        for value in sorted(counts, key=lambda v: (-counts[v], v)):
            combo.addItem(value)
        combo.setEditText(current)
        combo.blockSignals(False)

    # -- what is asked --------------------------------------------------------------------------------------------

    def filters(self) -> SearchFilters:
        start, end = self._range if self._range else (None, None)
        return SearchFilters(
            taken_after=start.isoformat() if start else None,
            taken_before=end.isoformat() if end else None,
            place=_chosen(self.place_combo, ANY_PLACE),
            camera=_chosen(self.camera_combo, ANY_CAMERA),
            photo_type=self.type_combo.currentData(),
        )

    @Slot(object, object)
    def set_date_range(self, start: date | None, end: date | None) -> None:
        """Keep photos taken from ``start`` up to (not including) ``end``; None and None: any date."""
        self._range = (start, end) if start is not None and end is not None else None
        if self._range is None:
            self.dates_label.setText("Any date")
        else:
            last = date.fromordinal(end.toordinal() - 1)  # type: ignore[union-attr]
            self.dates_label.setText(f"{start.isoformat()} – {last.isoformat()}")  # type: ignore[union-attr]
        self.clear_dates.setVisible(self._range is not None)
        self._changed()

    def set_place(self, text: str | None) -> None:
        self.place_combo.setEditText(text or ANY_PLACE)
        self._changed()

    def set_camera(self, text: str | None) -> None:
        self.camera_combo.setEditText(text or ANY_CAMERA)
        self._changed()

    def _changed(self) -> None:
        self.filters_changed.emit(self.filters())


def _chosen(combo: QComboBox, anything: str) -> str | None:
    text = combo.currentText().strip()
    return None if not text or text == anything else text

