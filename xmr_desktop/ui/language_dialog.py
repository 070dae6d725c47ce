"""The first-run question: which languages does the user search in? One answer per model pair, each with what
it downloads and what a query costs (``core/language_choice.py`` says what; this only shows it)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QButtonGroup, QDialog, QDialogButtonBox, QLabel, QRadioButton, QVBoxLayout, QWidget

from xmr_desktop.core.language_choice import CHOICES, LanguageChoice, choice, describe
from xmr_desktop.ui.model_dialog import breakable


def _label(text: str, parent: QWidget, *, indent: int = 0) -> QLabel:
    label = QLabel(breakable(text), parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setIndent(indent)
    return label


class LanguageDialog(QDialog):
    """Asks which languages the user searches in and says what each answer downloads and costs.

    Signals:
        chosen(LanguageChoice): the user confirmed an answer.

    Attributes:
        buttons: one radio button per answer, by its key.
        details: the sizes-and-speed line under each, by key.
        ok_button: confirms the selected answer.
    """

    chosen = Signal(object)

    def __init__(self, models_dir: Path, *, current: str | None = None, first_run: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Languages you search in")
        layout = QVBoxLayout(self)
        intro = (
            "Which languages will you type your searches in? xmr_desktop picks the models for that. "
            "Everything runs on this computer; the models are downloaded once."
        )
        if not first_run:
            intro += " Switching between models that share one image tower embeds nothing again."
        layout.addWidget(_label(intro, self))
        self.buttons: dict[str, QRadioButton] = {}
        self.details: dict[str, QLabel] = {}
        self._group = QButtonGroup(self)
        selected = choice(current) or CHOICES[0]
        for option in CHOICES:
            button = QRadioButton(option.label, self)
            button.setChecked(option.key == selected.key)
            self._group.addButton(button)
            self.buttons[option.key] = button
            detail = _label(describe(option, models_dir), self, indent=24)
            self.details[option.key] = detail
            layout.addWidget(button)
            layout.addWidget(detail)
        layout.addWidget(_label("You can change this later: Language → Languages you search in….", self))
        layout.addStretch(1)
        box = QDialogButtonBox(self)
        self.ok_button = box.addButton("Continue" if first_run else "Switch", QDialogButtonBox.ButtonRole.AcceptRole)
        if not first_run:
            box.addButton(QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self.resize(max(560, self.sizeHint().width()), self.sizeHint().height())

    @property
    def selected(self) -> LanguageChoice:
        return next(option for option in CHOICES if self.buttons[option.key].isChecked())

    def select(self, key: str) -> None:
        self.buttons[key].setChecked(True)

    @Slot()
    def accept(self) -> None:
        option = self.selected
        super().accept()
        self.chosen.emit(option)
