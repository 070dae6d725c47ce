"""The search row: query box (debounced, Enter searches now), folder filter, sort order, match strictness and
thumbnail size."""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QSlider, QWidget

from xmr_desktop.ui.results_model import SortOrder
from xmr_desktop.ui.strictness_control import StrictnessControl

DEBOUNCE_MS = 300
THUMB_MIN, THUMB_MAX, THUMB_STEP = 64, 256, 32


def image_query_text(path: str) -> str:
    """How an image query appears in the box: quoted, so the query parser never splits the path."""
    return f'"{path}"'


class SearchBar(QWidget):
    """Search box with its filters.

    Signals:
        query_changed(text): search for ``text`` (debounced while typing; at once on Enter); "" clears.
        folder_changed(folder): the folder filter changed (None: all folders).
        sort_changed(SortOrder): relevance or date.
        strictness_changed(float): the Loose ↔ Strict slider moved (0 … 1).
        thumb_size_changed(px): the thumbnail size slider moved.
        down_pressed(): the Down arrow in the box, to move into the results.

    Attributes:
        edit: the query ``QLineEdit``.
        folder_combo, sort_combo, size_slider: the controls beside it.
        strictness: the Loose ↔ Strict control (where the strong matches end).
    """

    query_changed = Signal(str)
    folder_changed = Signal(object)
    sort_changed = Signal(object)
    strictness_changed = Signal(float)
    thumb_size_changed = Signal(int)
    down_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText('Describe a photo: "dog on a beach", "sunset - people", or drop an image here')
        self.edit.setClearButtonEnabled(True)
        self.edit.setToolTip(
            "Type what you remember. Combine with + and -: beach + sunset - people; weigh terms: 2:dog.\n"
            "An image path (or a dropped image) finds similar photos. Enter searches now, Escape clears."
        )
        self.edit.installEventFilter(self)
        self.folder_combo = QComboBox(self)
        self.folder_combo.setToolTip("Search in all folders or in one")
        self.folder_combo.addItem("All folders", None)
        self.folder_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.folder_combo.setMaximumWidth(280)
        self.sort_combo = QComboBox(self)
        self.sort_combo.addItem("Best match", SortOrder.RELEVANCE)
        self.sort_combo.addItem("Newest taken first", SortOrder.DATE)
        self.sort_combo.setToolTip("Order of the results")
        self.strictness = StrictnessControl(self)
        self.size_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.size_slider.setRange(THUMB_MIN, THUMB_MAX)
        self.size_slider.setSingleStep(THUMB_STEP // 2)
        self.size_slider.setPageStep(THUMB_STEP)
        self.size_slider.setMaximumWidth(120)
        self.size_slider.setToolTip("Thumbnail size (Ctrl + / Ctrl -)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.folder_combo)
        layout.addWidget(self.sort_combo)
        layout.addWidget(self.strictness)
        layout.addWidget(self.size_slider)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._emit_query)
        self.edit.textEdited.connect(self._text_edited)
        self.edit.returnPressed.connect(self._emit_query)
        # The clear button changes the text without textEdited.
        self.edit.textChanged.connect(self._text_changed)
        self.folder_combo.currentIndexChanged.connect(self._folder_index_changed)
        self.sort_combo.currentIndexChanged.connect(self._sort_index_changed)
        self.size_slider.valueChanged.connect(self.thumb_size_changed)
        self.strictness.strictness_changed.connect(self.strictness_changed)
        self._last_emitted = ""

    # -- public --------------------------------------------------------------------------------------

    def text(self) -> str:
        return self.edit.text().strip()

    def folder(self) -> str | None:
        return self.folder_combo.currentData()

    def sort_order(self) -> SortOrder:
        return SortOrder(self.sort_combo.currentData())

    def set_query(self, text: str) -> None:
        """Put ``text`` in the box and search for it now."""
        self.edit.setText(text)
        self._emit_query()

    def focus_search(self) -> None:
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def clear(self) -> None:
        self.edit.clear()
        self._emit_query()

    def set_folders(self, paths: Sequence[str]) -> None:
        """Offer these folders in the filter, keeping the current choice if it still exists."""
        current = self.folder()
        known = [self.folder_combo.itemData(i) for i in range(1, self.folder_combo.count())]
        if known == list(paths):
            return
        self.folder_combo.blockSignals(True)
        self.folder_combo.clear()
        self.folder_combo.addItem("All folders", None)
        for path in paths:
            self.folder_combo.addItem(os.path.basename(os.path.normpath(path)) or path, path)
            self.folder_combo.setItemData(self.folder_combo.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        index = self.folder_combo.findData(current) if current else 0
        self.folder_combo.setCurrentIndex(max(index, 0))
        self.folder_combo.blockSignals(False)
        if current and index < 0:
            self.folder_changed.emit(None)

    def set_sort_order(self, order: SortOrder) -> None:
        self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(order)))

    def set_thumb_size(self, px: int) -> None:
        self.size_slider.setValue(px)

    def step_thumb_size(self, steps: int) -> None:
        self.size_slider.setValue(self.size_slider.value() + steps * THUMB_STEP)

    # -- internals -----------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Escape and self.edit.text():
                self.clear()
                return True
            if event.key() == Qt.Key.Key_Down:
                self.down_pressed.emit()
                return True
        return super().eventFilter(watched, event)

    @Slot(str)
    def _text_edited(self, _text: str) -> None:
        self._timer.start()

    @Slot(str)
    def _text_changed(self, text: str) -> None:
        if not text and self._last_emitted:
            self._emit_query()

    @Slot()
    def _emit_query(self) -> None:
        self._timer.stop()
        text = self.text()
        self._last_emitted = text
        self.query_changed.emit(text)

    @Slot(int)
    def _folder_index_changed(self, _index: int) -> None:
        self.folder_changed.emit(self.folder())

    @Slot(int)
    def _sort_index_changed(self, _index: int) -> None:
        self.sort_changed.emit(self.sort_order())
