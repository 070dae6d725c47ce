"""What sits under the search box: how the query was read (removable chips) and the filter bar.

Both follow the answer the grid shows (``SearchController.answered``) and change the question through the
controller: removing a chip re-reads the query with that part as words, a filter narrows the search.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from xmr_desktop.search.answer import SearchAnswer
from xmr_desktop.ui.filter_bar import FilterBar
from xmr_desktop.ui.query_chips import QueryChips
from xmr_desktop.ui.search_controller import SearchController


class SearchExtras(QWidget):
    """The chips row and the filter bar.

    Attributes:
        chips: the recognised parts of the query shown.
        filter_bar: date range with its histogram, place, camera, type.
    """

    def __init__(self, search: SearchController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chips = QueryChips(self)
        self.filter_bar = FilterBar(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(2)
        layout.addWidget(self.chips)
        layout.addWidget(self.filter_bar)
        search.answered.connect(self._show)
        self.chips.removed.connect(search.remove_part)
        self.filter_bar.filters_changed.connect(search.set_filters)

    @Slot(object)
    def _show(self, answer: SearchAnswer | None) -> None:
        self.chips.set_reading(answer.reading if answer is not None else None)
        self.filter_bar.set_answer(answer)
