"""First run without a model: download the default one with progress and cancel, or pick a local model folder.

The download itself (``model_download``) runs in a child process watched by a plain thread; the dialog polls
how many bytes have landed, and Cancel kills the child and removes its partial folder.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from xmr_desktop.ui.model_download import DownloadFn, ModelDownload, hub_download, partial_bytes, remove_partials
from xmr_desktop.core.models import ModelStatus, model_status

log = logging.getLogger(__name__)


class ModelDialog(QDialog):
    """Explains that a model is needed and gets one.

    Signals:
        model_chosen(argument): a model is on disk now; ``argument`` is what to load (None: the default).
        state_changed(state): "downloading", "failed", "cancelled" or "done".

    Attributes:
        status: the model the app wants.
        message: the explanation or error shown.
        progress: the download progress bar.
    """

    model_chosen = Signal(object)
    state_changed = Signal(str)

    def __init__(
        self, status: ModelStatus, models_dir: Path, *, download_fn: DownloadFn = hub_download, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Get the search model")
        self.setMinimumWidth(480)
        self.status, self.models_dir = status, models_dir
        self._download_fn = download_fn
        self._download: ModelDownload | None = None
        self._cancelling: ModelDownload | None = None
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.hide()
        self.bytes_label = QLabel(self)
        self.bytes_label.hide()
        self.download_button = QPushButton("Download", self)
        self.local_button = QPushButton("Choose a local model folder…", self)
        self.cancel_button = QPushButton("Cancel download", self)
        self.cancel_button.hide()
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.download_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.local_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.later_button = buttons.addButton("Not now", QDialogButtonBox.ButtonRole.RejectRole)
        self.download_button.clicked.connect(self.start_download)
        self.local_button.clicked.connect(self.choose_local_folder)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.later_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.bytes_label)
        layout.addWidget(buttons)
        self._poll = QTimer(self)
        self._poll.setInterval(500)
        self._poll.timeout.connect(self._show_bytes)
        self._intro()

    def _intro(self) -> None:
        if self.status.problem:
            self.message.setText(f"{self.status.problem}\n\nChoose a local model folder instead.")
            self.download_button.setEnabled(False)
            return
        self.message.setText(
            f"xmr_desktop needs an image-text model to understand your photos. The model "
            f"<b>{self.status.name}</b> is downloaded once from the Hugging Face hub ({self.status.hub_id}) "
            f"into {self.models_dir} and then works offline; your photos never leave this computer.<br><br>"
            "You can also use a CLIP model folder you already have."
        )

    @Slot()
    def start_download(self) -> None:
        self.download_button.setEnabled(False)
        self.local_button.setEnabled(False)
        self.cancel_button.show()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.bytes_label.show()
        self.message.setText(f"Downloading {self.status.name}…")
        remove_partials(self.models_dir)  # leftovers of an earlier session that ended mid-download
        # No Qt parent: the download thread keeps the object alive even if the dialog is closed meanwhile.
        self._download = ModelDownload(self.status, self.models_dir, self._download_fn)
        self._total = 0
        self._download.total.connect(self._on_total)
        self._download.succeeded.connect(self._on_succeeded)
        self._download.failed.connect(self._on_failed)
        self._download.start()
        self._poll.start()
        self.state_changed.emit("downloading")

    @Slot()
    def cancel_download(self) -> None:
        """Stop the download; the buttons come back once it has cleaned up (``cancelled`` state)."""
        download, self._download = self._download, None
        self._poll.stop()
        self.cancel_button.hide()
        self.progress.hide()
        self.bytes_label.hide()
        if download is None:
            return
        self.message.setText("Cancelling…")
        self._cancelling = download
        download.ended.connect(self._on_cancelled)
        download.cancel()
        if download.done.is_set():  # it ended before we listened
            self._on_cancelled()

    @Slot()
    def _on_cancelled(self) -> None:
        if self._cancelling is None:
            return
        self._cancelling = None
        self._reset_buttons()
        self.message.setText("Download cancelled. You can start it again, choose a local model folder, or close.")
        self.state_changed.emit("cancelled")

    @Slot()
    def choose_local_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a CLIP model folder")
        if folder:
            self.use_local_folder(folder)

    def use_local_folder(self, folder: str) -> bool:
        """Accept ``folder`` if it holds a model (config.json); otherwise say why not."""
        status = model_status(folder, self.models_dir)
        if not status.on_disk:
            self.message.setText(f"{folder} does not look like a CLIP model folder (it has no config.json).")
            return False
        self.model_chosen.emit(folder)
        self.accept()
        return True

    def reject(self) -> None:
        if self._download is not None:
            self.cancel_download()
        super().reject()

    @Slot(int)
    def _on_total(self, total: int) -> None:
        if self.sender() is self._download and total > 0:
            self._total = total
            self._show_bytes()

    @Slot()
    def _on_succeeded(self) -> None:
        if self.sender() is not self._download:
            return  # a cancelled download finishing late
        self._download = None
        self._poll.stop()
        self.state_changed.emit("done")
        self.model_chosen.emit(self.status.argument)
        self.accept()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self.sender() is not self._download:
            return
        self._download = None
        self._poll.stop()
        self._reset_buttons()
        self.progress.hide()
        self.bytes_label.hide()
        self.download_button.setText("Try again")
        self.message.setText(
            f"<b>The model could not be downloaded.</b> Are you offline?<br><br>{html.escape(message)}<br><br>"
            "You can keep using the window to add folders; they are indexed once a model is available "
            "(File → Get model…)."
        )
        self.state_changed.emit("failed")

    def _reset_buttons(self) -> None:
        self.download_button.setEnabled(not self.status.problem)
        self.local_button.setEnabled(True)
        self.cancel_button.hide()

    @Slot()
    def _show_bytes(self) -> None:
        landed = partial_bytes(self.models_dir)
        mib = 2**20
        if self._total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, int(1000 * landed / self._total)))
            self.progress.setFormat(f"{landed / mib:,.0f} of {self._total / mib:,.0f} MB")
            self.bytes_label.setText("")
        else:
            self.bytes_label.setText(f"{landed / mib:,.0f} MB downloaded")
