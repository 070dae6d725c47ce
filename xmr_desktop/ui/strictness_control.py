"""The strictness slider: where the strong matches of every query end, from loose to strict; never a cosine."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

STEPS = 10  # the slider's ticks: strictness 0.0, 0.1, ... 1.0
SETTLE_MS = 250  # dragging asks once it rests, not once per tick


class StrictnessControl(QWidget):
    """"Loose ─○─ Strict": moves the cutoff between strong and weaker matches (``search.cutoff``'s strictness).

    Signals:
        strictness_changed(float): the user moved it (0 loose … 1 strict); sent once the slider rests.

    Attributes:
        slider: the ``QSlider`` (0 … ``STEPS``).
    """

    strictness_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, STEPS)
        self.slider.setPageStep(1)
        self.slider.setMaximumWidth(110)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip(
            "Where the strong matches end. Strict: only photos about as good as the best match; loose: more photos\n"
            "count as matches. The line is drawn for each query from its own results, so one setting means the same\n"
            "for every query. Weaker matches stay below the divider in the grid."
        )
        self.slider.setAccessibleName("Match strictness")
        loose, strict = QLabel("Loose", self), QLabel("Strict", self)
        for label in (loose, strict):
            label.setEnabled(False)  # drawn as a hint, like a placeholder
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(loose)
        layout.addWidget(self.slider)
        layout.addWidget(strict)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._emit)
        self.slider.valueChanged.connect(self._settle.start)

    def strictness(self) -> float:
        return self.slider.value() / STEPS

    def set_strictness(self, value: float) -> None:
        """Show ``value`` (0 … 1) without asking anything (restoring the setting)."""
        self.slider.blockSignals(True)
        self.slider.setValue(round(min(max(value, 0.0), 1.0) * STEPS))
        self.slider.blockSignals(False)

    @Slot()
    def _emit(self) -> None:
        self.strictness_changed.emit(self.strictness())
