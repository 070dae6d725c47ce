"""First run without a model: download the default one with progress and cancel, or pick a local model folder.

The download itself (``model_download``) runs in a child process watched by a plain thread. The dialog lists the
install's stages (download, check, convert, prepare for this CPU) and shows size, speed and time left while
bytes arrive. Cancel stops the child and keeps what it downloaded, so the next Download resumes; nothing of
another process is ever touched. Its text wraps at every size: the dialog never gets smaller than its text.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, Signal, Slot
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

from xmr_desktop.engine.progress import STAGE_DOWNLOAD, TransferMeter, format_bytes, stage_label
from xmr_desktop.ui.model_download import DownloadFn, ModelDownload, prepared_hub_download
from xmr_desktop.core.models import ModelStatus, model_status

log = logging.getLogger(__name__)

_ZERO_WIDTH_SPACE = "\u200b"
_WORD_JOINER = "\u2060"
_OPTION = re.compile(r"(?<!\S)--(?=\w)")
_UNIT = re.compile(r"(\d) (MB|GB|MB/s|s|min)\b")
_NO_BREAK_SPACE = "\u00a0"


def breakable(text: str) -> str:
    """``text`` as a label shows it: long paths and hub ids may wrap after their separators, so they never clip,
    while a command-line option (``--model``) stays in one piece."""
    text = text.replace("/", "/" + _ZERO_WIDTH_SPACE).replace("\\", "\\" + _ZERO_WIDTH_SPACE)
    text = _UNIT.sub(r"\1" + _NO_BREAK_SPACE + r"\2", text)  # "605 MB" never splits over two lines
    return _OPTION.sub("-" + _WORD_JOINER + "-" + _WORD_JOINER, text)


def _wrapping_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label


class ModelDialog(QDialog):
    """Explains that a model is needed and gets one.

    Signals:
        model_chosen(argument): a model is on disk now; ``argument`` is what to load (None: the default).
        state_changed(state): "downloading", "failed", "cancelled" or "done".

    Attributes:
        status: the model the app wants.
        message: the explanation or error shown.
        stage_labels: one line per install stage, by stage name, in the order shown.
        progress: the current stage's progress bar.
        bytes_label: size, speed and time left of the transfer.
    """

    model_chosen = Signal(object)
    state_changed = Signal(str)

    def __init__(
        self, status: ModelStatus, models_dir: Path, *, download_fn: DownloadFn = prepared_hub_download, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Get the search model")
        self.status, self.models_dir = status, models_dir
        self._download_fn = download_fn
        self._download: ModelDownload | None = None
        self._cancelling: ModelDownload | None = None
        self._meter = TransferMeter()
        self._total = 0
        self._stage_order: list[str] = []
        self._stage_done: dict[str, float] = {}
        self.stage_labels: dict[str, QLabel] = {}
        self.message = _wrapping_label(self)
        self.stages_box = QWidget(self)
        self._stages_layout = QVBoxLayout(self.stages_box)
        self._stages_layout.setContentsMargins(0, 0, 0, 0)
        self.stages_box.hide()
        self.progress = QProgressBar(self)
        self.progress.hide()
        self.bytes_label = _wrapping_label(self)
        self.bytes_label.hide()
        self.download_button = QPushButton("Download", self)
        self.local_button = QPushButton("Choose a local model folder…", self)
        self.cancel_button = QPushButton("Cancel download", self)
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.download_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.local_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button.hide()  # after addButton, which shows the buttons it takes
        self.later_button = buttons.addButton("Not now", QDialogButtonBox.ButtonRole.RejectRole)
        self.download_button.clicked.connect(self.start_download)
        self.local_button.clicked.connect(self.choose_local_folder)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.later_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.stages_box)
        layout.addWidget(self.progress)
        layout.addWidget(self.bytes_label)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self.resize(max(520, self.sizeHint().width()), self.sizeHint().height())
        self._intro()

    # ---------------------------------------------------------------------------------------------- layout

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Resize, QEvent.Type.Show):
            self._fit_text()
        return handled

    def _fit_text(self) -> None:
        """Keep the dialog as wide as its buttons and as tall as its wrapped text needs at the current width.

        Qt does not apply height-for-width to a top-level window, so without this a narrow or short window
        would cut the message off; both bounds are set together so the buttons' width keeps following them.
        """
        layout = self.layout()
        if layout is None:
            return
        width = layout.totalMinimumSize().width()
        needed = QSize(width, self._height_for(max(width, self.width())))
        if needed != self.minimumSize():
            self.setMinimumSize(needed)

    def _height_for(self, width: int) -> int:
        layout = self.layout()
        if layout is None:
            return 0
        return layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.totalMinimumSize().height()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(hint.width(), max(hint.height(), self._height_for(hint.width())))

    def _say(self, text: str) -> None:
        self.message.setText(breakable(text))

    # ---------------------------------------------------------------------------------------------- states

    def _intro(self) -> None:
        if self.status.problem:
            self._say(f"{self.status.problem}\n\nChoose a local model folder instead.")
            self.download_button.setEnabled(False)
            return
        size = self._size_text()
        if self.status.image_model:  # a multilingual text tower and the CLIP whose image tower it uses
            self._say(
                f"Searching in other languages needs the multilingual text tower {self.status.name} and the image "
                f"tower of {self.status.image_model}{size}. They are downloaded once from the Hugging Face hub "
                f"({self.status.hub_id}, and {self.status.image_model}'s repository if it is not here yet) into "
                f"{self.models_dir}, checked, and then work offline; your photos never leave this computer."
            )
            return
        self._say(
            f"xmr_desktop needs an image-text model to understand your photos. The model {self.status.name}{size} "
            f"is downloaded once from the Hugging Face hub ({self.status.hub_id}) into {self.models_dir}, checked, "
            "and then works offline; your photos never leave this computer.\n\n"
            "You can also use a CLIP model folder you already have."
        )

    def _size_text(self) -> str:
        from xmr_desktop.engine.registry import REGISTRY

        if self.status.download_bytes:
            return f" (about {format_bytes(self.status.download_bytes)} to download)" if self.status.image_model else \
                f" (about {format_bytes(self.status.download_bytes)})"
        spec = next((s for s in REGISTRY.values() if s.hub_id == self.status.hub_id), None)
        return f" (about {format_bytes(spec.download_bytes)})" if spec is not None and spec.download_bytes else ""

    @Slot()
    def start_download(self) -> None:
        self.download_button.setEnabled(False)
        self.local_button.setEnabled(False)
        self.cancel_button.show()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.bytes_label.setText("")
        self.bytes_label.show()
        self._meter = TransferMeter()
        self._total = 0
        self._set_plan([STAGE_DOWNLOAD])
        self._say(f"Getting the model {self.status.name}…")
        # No Qt parent: the download thread keeps the object alive even if the dialog is closed meanwhile.
        self._download = ModelDownload(self.status, self.models_dir, self._download_fn)
        self._download.total.connect(self._on_total)
        self._download.plan.connect(self._on_plan)
        self._download.stage.connect(self._on_stage)
        self._download.transfer.connect(self._on_transfer)
        self._download.part.connect(self._on_part)
        self._download.succeeded.connect(self._on_succeeded)
        self._download.failed.connect(self._on_failed)
        self._download.start()
        self.state_changed.emit("downloading")

    @Slot()
    def cancel_download(self) -> None:
        """Stop the download; the buttons come back once it has stopped (``cancelled`` state)."""
        download, self._download = self._download, None
        self._hide_progress()
        if download is None:
            return
        self._say("Cancelling…")
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
        kept = self._meter.done
        if kept:
            self.download_button.setText("Resume download")
            self._say(
                f"Download paused. The {format_bytes(kept)} already downloaded are kept in {self.models_dir}; "
                "Resume download continues from there. You can also choose a local model folder, or close."
            )
        else:
            self._say("Download cancelled. You can start it again, choose a local model folder, or close.")
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
            self._say(f"{folder} does not look like a CLIP model folder (it has no config.json).")
            return False
        self.model_chosen.emit(folder)
        self.accept()
        return True

    def reject(self) -> None:
        if self._download is not None:
            self.cancel_download()
        super().reject()

    # ---------------------------------------------------------------------------------------------- progress

    @Slot(object)
    def _on_total(self, total: int) -> None:
        if self.sender() is self._download and total > 0:
            self._total = int(total)

    @Slot(object)
    def _on_plan(self, stages: list[str]) -> None:
        if self.sender() is self._download:
            self._set_plan(stages)

    def _set_plan(self, stages: list[str]) -> None:
        for label in self.stage_labels.values():
            self._stages_layout.removeWidget(label)
            label.deleteLater()
        self.stage_labels, self._stage_order, self._stage_done = {}, [], {}
        for stage in stages:
            self._add_stage(stage)
        self.stages_box.setVisible(bool(stages))

    def _add_stage(self, stage: str) -> None:
        label = _wrapping_label(self.stages_box)
        self._stages_layout.addWidget(label)
        self.stage_labels[stage] = label
        self._stage_order.append(stage)
        self._stage_done[stage] = 0.0
        self._show_stage(stage, None)

    @Slot(str, float)
    def _on_stage(self, stage: str, fraction: float) -> None:
        if self.sender() is self._download:
            self._advance(stage, fraction)

    def _advance(self, stage: str, fraction: float) -> None:
        if stage not in self.stage_labels:  # a stage the plan did not name (a waiting step, the export's own)
            self._add_stage(stage)
        for earlier in self._stage_order[: self._stage_order.index(stage)]:
            if self._stage_done[earlier] < 1.0:
                self._stage_done[earlier] = 1.0
                self._show_stage(earlier, None)
        self._stage_done[stage] = max(self._stage_done[stage], fraction)
        self._show_stage(stage, fraction)
        if stage != STAGE_DOWNLOAD:
            self.bytes_label.hide()
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(1.0, max(0.0, fraction))))

    def _show_stage(self, stage: str, fraction: float | None) -> None:
        done = self._stage_done[stage]
        mark = "✓" if done >= 1.0 else ("▸" if fraction is not None else "○")
        text = stage_label(stage)
        if stage == STAGE_DOWNLOAD and self._total:
            text += f" ({format_bytes(self._total)})"
        if fraction is not None and 0.0 < fraction < 1.0:
            text += f" — {fraction:.0%}"
        self.stage_labels[stage].setText(f"{mark} {text}")

    @Slot(str)
    def _on_part(self, description: str) -> None:
        """A text tower's install goes in parts (its CLIP, then the tower): each has its own bytes and stages."""
        if self.sender() is not self._download:
            return
        self._meter = TransferMeter()
        self._total = 0
        self._say(f"Getting {self.status.name}: {description}…")

    @Slot(object, object)
    def _on_transfer(self, done: int, total: int) -> None:
        if self.sender() is not self._download:
            return
        self._meter.update(int(done), int(total))
        if total:
            self._total = int(total)
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, int(1000 * done / total)))
        self.bytes_label.setText(self._meter.describe())
        self.bytes_label.show()
        if total:
            self._advance(STAGE_DOWNLOAD, min(1.0, done / total))

    @Slot()
    def _on_succeeded(self) -> None:
        if self.sender() is not self._download:
            return  # a cancelled download finishing late
        self._download = None
        self.state_changed.emit("done")
        self.model_chosen.emit(self.status.argument)
        self.accept()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self.sender() is not self._download:
            return
        self._download = None
        self._reset_buttons()
        self._hide_progress()
        self.download_button.setText("Try again")
        self._say(
            f"{message}\n\nYou can keep using the window to add folders; they are indexed once a model is available "
            "(File → Get model…)."
        )
        self.state_changed.emit("failed")

    def _hide_progress(self) -> None:
        self.cancel_button.hide()
        self.progress.hide()
        self.bytes_label.hide()
        self.stages_box.hide()

    def _reset_buttons(self) -> None:
        self.download_button.setEnabled(not self.status.problem)
        self.local_button.setEnabled(True)
        self.cancel_button.hide()
