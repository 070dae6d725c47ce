"""The status bar's permanent part: indexing progress with count and ETA, the compute device, pause/resume.

Progress arrives once per batch (dozens per second with a fast model); it is applied at most every
``UPDATE_MS`` by a single-shot timer (qutebrowser's throttle), never once per file.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from xmr_desktop.core.runs import IndexProgress

UPDATE_MS = 250


def format_eta(seconds: float | None) -> str:
    """``"about 3 min left"`` style; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min left"
    return f"about {minutes / 60:.1f} h left"


class StatusPanel(QWidget):
    """Progress, device and pause control, added to the window's status bar as a permanent widget.

    Signals:
        pause_toggled(paused): the user pressed pause or resume.

    Attributes:
        progress_bar: visible while indexing.
        device_label: the model and device once loaded ("Loading model…" before).
        pause_button: checkable; checked means paused.
    """

    pause_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.activity_label = QLabel(self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        self.device_label = QLabel("Loading model…", self)
        self.pause_button = QToolButton(self)
        self.pause_button.setCheckable(True)
        self.pause_button.setText("Pause")
        self.pause_button.setToolTip("Pause or resume indexing (searching keeps working)")
        self.pause_button.toggled.connect(self._pause_toggled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.activity_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.pause_button)
        layout.addWidget(self.device_label)
        self._latest: IndexProgress | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UPDATE_MS)
        self._timer.timeout.connect(self._apply)

    def set_progress(self, progress: IndexProgress) -> None:
        """Remember the newest progress; it is shown within ``UPDATE_MS``."""
        self._latest = progress
        if not self._timer.isActive():
            self._timer.start()

    def set_state(self, state: str) -> None:
        """Worker state: "loading", "scanning", "indexing", "paused" or "idle"."""
        if state == "scanning":
            self.activity_label.setText("Looking for new photos…")
        elif state == "indexing":
            self.activity_label.setText("Indexing")
            self.progress_bar.show()
            if self._latest is None:
                self.progress_bar.setRange(0, 0)  # busy until the first batch reports
        elif state == "paused":
            self.activity_label.setText("Indexing paused")
        elif state == "loading":
            self.activity_label.setText("")
        else:
            self._timer.stop()
            self._latest = None
            self.activity_label.setText("")
            self.progress_bar.hide()
            self.progress_bar.setRange(0, 1)

    def set_model(self, name: str, device: str) -> None:
        self.device_label.setText(device)
        self.device_label.setToolTip(f"Model {name}, computing on {device}")

    def set_model_problem(self, text: str, detail: str) -> None:
        self.device_label.setText(text)
        self.device_label.setToolTip(detail)

    @Slot()
    def _apply(self) -> None:
        progress = self._latest
        if progress is None:
            return
        total = max(progress.total, progress.done, 1)
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(progress.done)
        self.progress_bar.setFormat(f"{progress.done:,} / {progress.total:,}")
        eta = format_eta(progress.eta)
        self.progress_bar.setToolTip(f"{progress.rate:.1f} photos/s" + (f", {eta}" if eta else ""))
        self.activity_label.setText(f"Indexing, {eta}" if eta else "Indexing")

    @Slot(bool)
    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_toggled.emit(paused)
