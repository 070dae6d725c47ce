"""The central area's non-grid pages: the first-run welcome and a centred message (hints, no matches, errors)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    """Shown while no folder is indexed.

    Signals:
        add_requested(): the "Add folder…" button was pressed.
    """

    add_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h2>Find your photos by describing them</h2>", self)
        text = QLabel(
            "Add a folder of photos. xmr_desktop looks at each photo once, on this computer, "
            "and then finds them from a few words: <i>birthday cake with candles</i>, <i>snow + mountains</i>.",
            self,
        )
        text.setWordWrap(True)
        text.setMaximumWidth(520)
        self.add_button = QPushButton("Add folder…", self)
        self.add_button.setMinimumHeight(36)
        self.add_button.clicked.connect(self.add_requested)
        hint = QLabel("or drop a folder onto this window", self)
        hint.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (title, text, self.add_button, hint):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
            if isinstance(widget, QLabel):
                widget.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)


class MessagePage(QWidget):
    """A centred line of text (rich text allowed).

    Attributes:
        label: the text shown.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setMaximumWidth(560)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Wrapped text must be given its width, not asked for it: laid out with an alignment flag, a word-wrapping
        # label gets the width of its first words and clips the rest ("Loading the model" and nothing more).
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.label, 100)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)

    def set_text(self, text: str) -> None:
        self.label.setText(text)
