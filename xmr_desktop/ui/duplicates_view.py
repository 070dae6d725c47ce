"""The Duplicates view (Library → Find duplicates…): groups of the same shot and of similar shots as rows of
thumbnails, the suggested keeper marked, the others preselected for the trash; one button moves them, after a
confirmation.

All the work is the core's: ``FindDuplicates`` runs on its own thread there (its ``DuplicatesProgress`` events
drive the progress bar, ``CancelDuplicates`` stops it) and ``TrashPhotos`` moves the confirmed photos to the
system trash and drops them from the index; the window's grid follows the core's ``SearchableChanged``. The view
only shows answers and keeps the user's ticks. Thumbnails decode on a pool of their own (memory only), so the
window's grid cancelling its queue never leaves this view without pictures.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from xmr_desktop.core import events as e
from xmr_desktop.core.commands import CancelDuplicates, FindDuplicates, TrashPhotos
from xmr_desktop.core.duplicate_state import (
    SAME_SHOT,
    DuplicateGroupInfo,
    DuplicatePhoto,
    DuplicatesFound,
    TrashedPhotos,
    readable_size,
)
from xmr_desktop.ui.library_bridge import LibraryBridge
from xmr_desktop.ui.thumbnails import ThumbnailCache

log = logging.getLogger(__name__)

CHANNEL = "duplicates-view"
THUMB_PX = 128
# Widgets per photo are fine for hundreds of groups; beyond this the view asks for a folder instead.
MAX_GROUPS_SHOWN = 500
_STAGES = {
    "reading": "Reading the index…",
    "comparing": "Comparing photos",
    "hashing": "Checking candidate pairs",
    "grouping": "Grouping…",
}

Confirm = Callable[[QWidget, str], bool]


def ask(parent: QWidget, text: str) -> bool:
    """The confirmation dialog: Move to trash / Cancel, Cancel the default."""
    box = QMessageBox(QMessageBox.Icon.Question, "Move to trash", text, QMessageBox.StandardButton.Cancel, parent)
    move = box.addButton("Move to trash", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is move


def selection_problem(groups: Sequence[DuplicateGroupInfo], chosen: set[str]) -> str:
    """Why the chosen photos cannot go ("" when they can): every group keeps at least one photo."""
    for group in groups:
        if all(p.path in chosen for p in group.photos):
            return f"Keep at least one photo of the group of {os.path.basename(group.keeper.path)}."
    return ""


class DuplicatesView(QDialog):
    """The view; see the module docstring.

    Signals:
        found(DuplicatesFound): a search ended and its groups are shown.
        trashed(TrashedPhotos): photos went to the trash (the view searches again afterwards).
        failed(str): a search or a move failed (the message is shown in the view too).

    Attributes:
        result: the groups shown (None while searching or before the first search).
        checks: path -> its "Move to trash" box, for the photos shown.
        folder: the folder searched (None: the whole library).
        confirm: asks the user before anything moves (tests replace it).
    """

    found = Signal(object)
    trashed = Signal(object)
    failed = Signal(str)

    def __init__(self, bridge: LibraryBridge, parent: QWidget | None = None, *, confirm: Confirm = ask) -> None:
        super().__init__(parent)
        self.setWindowTitle("Duplicates")
        self.resize(QSize(900, 640))
        self.bridge = bridge
        self.confirm = confirm
        self.folder: str | None = None
        self.result: DuplicatesFound | None = None
        self.checks: dict[str, QCheckBox] = {}
        self._thumbs: dict[str, QLabel] = {}
        self._searching = False
        self._thumbnails = ThumbnailCache(None, px=THUMB_PX, threads=2, parent=self)
        self._thumbnails.ready.connect(self._on_thumbnail)
        self._build()
        bridge.events.connect(self._on_events)

    def _build(self) -> None:
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.again_button = QPushButton("Search again", self)
        self.again_button.clicked.connect(lambda: self.find(self.folder))
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)
        top.addWidget(self.again_button)
        self.groups_box = QWidget(self)
        self.groups_layout = QVBoxLayout(self.groups_box)
        self.groups_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.groups_box)
        self.note = QLabel("", self)
        self.trash_button = QPushButton("Move 0 photos to trash", self)
        self.trash_button.clicked.connect(self.move_to_trash)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.trash_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        self._update_button()

    # -- searching -------------------------------------------------------------------------------------------

    def find(self, folder: str | None = None) -> None:
        """Look for duplicates (inside ``folder``, None: everywhere); a search still running is replaced."""
        self.folder = folder
        self._searching = True
        self._clear()
        self.status.setText(_STAGES["reading"])
        self.progress.setRange(0, 0)  # busy until the first counted stage
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.again_button.setEnabled(False)
        self._update_button()
        self.bridge.call(FindDuplicates(folder, CHANNEL), self._show, self._search_failed)

    @Slot()
    def cancel(self) -> None:
        if self._searching:
            self.bridge.call(CancelDuplicates(CHANNEL))

    @Slot(object)
    def _on_events(self, batch: list[e.Event]) -> None:
        for event in batch:
            if isinstance(event, e.DuplicatesProgress) and event.channel == CHANNEL and self._searching:
                label = _STAGES.get(event.stage, event.stage)
                if event.total:
                    self.progress.setRange(0, event.total)
                    self.progress.setValue(event.done)
                    self.status.setText(f"{label} ({event.done:,} of {event.total:,})")
                else:
                    self.progress.setRange(0, 0)
                    self.status.setText(label)

    def _search_failed(self, message: str) -> None:
        self._searching = False
        self._idle()
        self.status.setText(message)
        self.failed.emit(message)

    def _idle(self) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.again_button.setEnabled(True)

    def _show(self, found: DuplicatesFound) -> None:
        self._searching = False
        self._idle()
        self._clear()
        self.result = found
        same = len(found.level(SAME_SHOT))
        similar = len(found.groups) - same
        if not found.groups:
            self.status.setText(f"No duplicates among {found.photos:,} photos.")
        else:
            self.status.setText(
                f"{same} same-shot and {similar} similar groups among {found.photos:,} photos; "
                f"{readable_size(found.reclaimable)} reclaimable. The suggested keeper of each group is marked; "
                "similar shots are other moments and are not ticked."
            )
        for group in found.groups[:MAX_GROUPS_SHOWN]:
            self.groups_layout.insertWidget(self.groups_layout.count() - 1, self._group_row(group))
        if len(found.groups) > MAX_GROUPS_SHOWN:
            more = QLabel(f"{len(found.groups) - MAX_GROUPS_SHOWN} more groups: look in one folder at a time "
                          "(xmr duplicates --folder, or the folder filter) to see them.", self.groups_box)
            self.groups_layout.insertWidget(self.groups_layout.count() - 1, more)
        self._update_button()
        self.found.emit(found)

    def _clear(self) -> None:
        self.result = None
        self.checks.clear()
        self._thumbs.clear()
        self._thumbnails.cancel_pending()
        while self.groups_layout.count() > 1:
            widget = self.groups_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()

    # -- a group -------------------------------------------------------------------------------------------------

    def _group_row(self, group: DuplicateGroupInfo) -> QFrame:
        row = QFrame(self.groups_box)
        row.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(row)
        if group.level == SAME_SHOT:
            heading = f"Same shot · {len(group.photos)} photos · {readable_size(group.reclaimable)} reclaimable"
        else:
            heading = f"Similar · {len(group.photos)} photos · other moments of one place"
        layout.addWidget(QLabel(f"<b>{heading}</b>", row))
        cells = QHBoxLayout()
        for photo in group.photos:
            cells.addWidget(self._photo_cell(row, group, photo))
        cells.addStretch(1)
        layout.addLayout(cells)
        return row

    def _photo_cell(self, parent: QWidget, group: DuplicateGroupInfo, photo: DuplicatePhoto) -> QWidget:
        cell = QWidget(parent)
        layout = QVBoxLayout(cell)
        thumb = QLabel(cell)
        thumb.setFixedSize(THUMB_PX, THUMB_PX)
        thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        thumb.setToolTip(photo.path)
        self._thumbs[photo.path] = thumb
        icon = self._thumbnails.icon(photo.path, photo.size, photo.mtime)
        thumb.setPixmap((icon or self._thumbnails.placeholder()).pixmap(THUMB_PX, THUMB_PX))
        layout.addWidget(thumb)
        name = QLabel(os.path.basename(photo.path), cell)
        name.setToolTip(photo.path)
        layout.addWidget(name)
        size = f"{photo.width}×{photo.height} · {readable_size(photo.size)}" if photo.width else readable_size(photo.size)
        layout.addWidget(QLabel(size, cell))
        if photo.keep:
            keeper = QLabel("★ Keep" + (f": {group.keeper_reason}" if group.keeper_reason else ""), cell)
            keeper.setObjectName("keeper")
            keeper.setWordWrap(True)
            keeper.setMaximumWidth(THUMB_PX + 40)
            layout.addWidget(keeper)
        check = QCheckBox("Move to trash", cell)
        check.setChecked(photo.path in group.suggested_removals())
        check.toggled.connect(self._update_button)
        self.checks[photo.path] = check
        layout.addWidget(check)
        return cell

    @Slot(str)
    def _on_thumbnail(self, path: str) -> None:
        label = self._thumbs.get(path)
        icon = self._thumbnails.icon(path) if label is not None else None
        if label is not None and icon is not None:
            label.setPixmap(icon.pixmap(THUMB_PX, THUMB_PX))

    # -- moving to the trash -------------------------------------------------------------------------------------

    def selected(self) -> list[str]:
        """The ticked photos, in the order shown."""
        return [path for path, check in self.checks.items() if check.isChecked()]

    def _selected_bytes(self) -> int:
        chosen = set(self.selected())
        groups = self.result.groups if self.result is not None else ()
        return sum(p.size for g in groups for p in g.photos if p.path in chosen)

    @Slot()
    def _update_button(self) -> None:
        chosen = self.selected()
        problem = selection_problem(self.result.groups if self.result else (), set(chosen))
        self.trash_button.setText(f"Move {len(chosen)} photos to trash ({readable_size(self._selected_bytes())})")
        self.trash_button.setEnabled(bool(chosen) and not problem and not self._searching)
        self.note.setText(problem)

    @Slot()
    def move_to_trash(self) -> None:
        """After the user confirms: the ticked photos go to the system trash, then the view searches again."""
        chosen = self.selected()
        if not chosen or selection_problem(self.result.groups if self.result else (), set(chosen)):
            return
        text = (f"Move {len(chosen)} photos ({readable_size(self._selected_bytes())}) to the system trash? "
                "They leave the library; you can restore them from the trash.")
        if not self.confirm(self, text):
            return
        self.trash_button.setEnabled(False)
        self.bridge.call(TrashPhotos(tuple(chosen), confirmed=True), self._on_trashed, self._trash_failed)

    def _on_trashed(self, result: TrashedPhotos) -> None:
        message = f"Moved {len(result.trashed)} photos to the trash."
        if result.failed:
            message += f" {len(result.failed)} could not be moved: " + "; ".join(f"{os.path.basename(p)}: {r}" for p, r in result.failed[:3])
        self.trashed.emit(result)
        self.find(self.folder)
        self.note.setText(message)

    def _trash_failed(self, message: str) -> None:
        self.note.setText(message)
        self._update_button()
        self.failed.emit(message)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel()
        self._thumbnails.cancel_pending()
        super().closeEvent(event)


def add_duplicates_action(window: QMainWindow, bridge: LibraryBridge) -> Callable[[], DuplicatesView]:
    """"Find duplicates…" in the window's Library menu; returns what it triggers (it opens the one view and
    starts a search)."""
    view: list[DuplicatesView] = []

    def open_view() -> DuplicatesView:
        if not view:
            view.append(DuplicatesView(bridge, window))
        view[0].show()
        view[0].find(None)
        return view[0]

    menu = next((a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Library"), None)
    if not isinstance(menu, QMenu):
        menu = window.menuBar().addMenu("&Library")
    action = QAction("Find &duplicates…", window)
    action.triggered.connect(lambda _checked=False: open_view())
    menu.addAction(action)
    return open_view
