"""How the query was read, under the search box: one removable chip per recognised part ("2023", "in Paris").

Removing a chip asks again with that part read as plain words, so a misreading ("china" the dishes taken for
the country) is undone in one click. The words left for the image model and the reader's notes are shown
beside the chips.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from xmr_desktop.search.answer import QueryReading

_KIND_NAMES = {"date": "Date", "place": "Place", "camera": "Camera", "type": "Type"}


class QueryChips(QWidget):
    """The recognised parts of the shown query as chips.

    Signals:
        removed(index): the user removed the chip of part ``index`` of the reading.

    Attributes:
        chips: the chip buttons, in the order of the parts.
        words: what the image model and the keyword index searched for.
    """

    removed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chips: list[QToolButton] = []
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.words = QLabel(self)
        self.words.setTextFormat(Qt.TextFormat.RichText)
        self._layout.addWidget(self.words)
        self._layout.addStretch(1)
        self.set_reading(None)

    def set_reading(self, reading: QueryReading | None) -> None:
        """Show how ``reading``'s query was read (nothing when None or when nothing was recognised)."""
        for chip in self.chips:
            self._layout.removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        if reading is None or not reading.parts:
            self.words.clear()
            self.setVisible(False)
            return
        for index, part in enumerate(reading.parts):
            chip = QToolButton(self)
            chip.setText(f"{part.label}  ✕")
            chip.setAutoRaise(False)
            chip.setToolTip(f"{_KIND_NAMES.get(part.kind, part.kind)}: {part.description}\nClick to search for "
                            f"“{reading.text[part.start:part.end]}” as words instead")
            chip.setAccessibleName(f"Remove filter {part.label}")
            chip.clicked.connect(lambda _checked=False, index=index: self.removed.emit(index))
            self._layout.insertWidget(index, chip)
            self.chips.append(chip)
        words = html.escape(reading.semantic) if reading.semantic else "<i>all photos</i>"
        notes = "".join(f"<br><span style='color:gray'>{html.escape(note)}</span>" for note in reading.notes)
        self.words.setText(f"<span style='color:gray'>searching for</span> {words}{notes}")
        self.setVisible(True)

    def labels(self) -> list[str]:
        """The parts shown, as their chip labels (for tests and accessibility)."""
        return [chip.text().removesuffix("  ✕") for chip in self.chips]
