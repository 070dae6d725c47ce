"""Personal concepts in the window: "Teach a name…" for the selected photos, and "Names…" to see and forget them.

The teaching itself runs in the core (``TeachConcept``); this module only asks for the name, sends the command
and shows the answer.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from xmr_desktop.core.commands import ForgetConcept, ListConcepts, TeachConcept
from xmr_desktop.core.state import ConceptInfo
from xmr_desktop.learn.concepts import ConceptError, check_name
from xmr_desktop.ui.library_bridge import LibraryBridge
from xmr_desktop.ui.results_view import ResultsView

NO_SELECTION = "Select the photos that show who or what to name, then choose Teach a name…"


class TeachDialog(QDialog):
    """Asks for the name to teach from ``count`` photos; refuses an unusable name in place (the dialog stays open).

    Signals:
        name_chosen(name): the user confirmed a valid name (whitespace tidied).
    """

    name_chosen = Signal(str)

    def __init__(self, count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Teach a name")
        photos = "this photo" if count == 1 else f"these {count} photos"
        self.intro = QLabel(f"Who or what is in {photos}? Searches can then use the name, e.g. <i>Rex on the beach</i>.")
        self.intro.setWordWrap(True)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("e.g. Rex")
        self.edit.setMaxLength(40)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Teach")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.intro, self.edit, self.problem, self.buttons):
            layout.addWidget(widget)
        self.edit.textChanged.connect(self._on_text)
        self._on_text("")

    def accept(self) -> None:
        try:
            name = check_name(self.edit.text())
        except ConceptError as error:
            self.problem.setText(str(error))
            self.problem.show()
            return
        super().accept()
        self.name_chosen.emit(name)

    @Slot(str)
    def _on_text(self, text: str) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip()))
        self.problem.hide()


class NamesDialog(QDialog):
    """The names taught for the current model, with a Remove button.

    Signals:
        remove_requested(name): the user asked to forget ``name``.
    """

    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Names")
        self.list = QListWidget(self)
        self.empty = QLabel("No names yet. Select photos in the results and choose <b>Edit → Teach a name…</b>")
        self.empty.setWordWrap(True)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.remove_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.list, self.empty, buttons):
            layout.addWidget(widget)
        self.list.itemSelectionChanged.connect(lambda: self.remove_button.setEnabled(bool(self.list.selectedItems())))
        self.remove_button.clicked.connect(self._remove_selected)
        self.set_concepts([])

    def set_concepts(self, infos: list[ConceptInfo]) -> None:
        self.list.clear()
        for info in infos:
            item = QListWidgetItem(f"{info.name}  ({info.photos} photo{'' if info.photos == 1 else 's'})")
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            self.list.addItem(item)
        self.empty.setVisible(not infos)
        self.remove_button.setEnabled(bool(self.list.selectedItems()))

    def names(self) -> list[str]:
        return [self.list.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.list.count())]

    @Slot()
    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.remove_requested.emit(item.data(Qt.ItemDataRole.UserRole))


class ConceptsController(QObject):
    """Glue between the window's actions, the two dialogs and the core's concept commands and events.

    Signals (on the GUI thread):
        taught(name, photos): the core taught ``name`` from that many photos.
        names_changed(list[ConceptInfo]): the names reported by the core.
        search_stale(): a name was taught or removed; the shown query should run again.

    Attributes:
        names: the last reported names (None before the model loaded).
        teach_dialog, names_dialog: the open dialogs, if any.
    """

    taught = Signal(str, int)
    names_changed = Signal(object)
    search_stale = Signal()

    def __init__(
        self, bridge: LibraryBridge, results_view: ResultsView, show_message: Callable[[str], None], parent: QWidget
    ) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._view = results_view
        self._show_message = show_message
        self._parent = parent
        self.names: list[ConceptInfo] | None = None
        self.teach_dialog: TeachDialog | None = None
        self.names_dialog: NamesDialog | None = None
        results_view.teach_requested.connect(self.teach)

    @Slot(object)
    def teach(self, paths: list[str] | None = None) -> bool:
        """Ask for a name for ``paths`` (default: the selected photos); False if there is nothing to name."""
        paths = list(paths or self._view.selected_paths())
        if not paths:
            self._show_message(NO_SELECTION)
            return False
        dialog = TeachDialog(len(paths), self._parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.name_chosen.connect(lambda name: self._post_teach(name, paths))
        dialog.open()
        self.teach_dialog = dialog
        return True

    @Slot()
    def show_names(self) -> None:
        if self.names_dialog is None:
            self.names_dialog = NamesDialog(self._parent)
            self.names_dialog.remove_requested.connect(self._forget)
        self.names_dialog.set_concepts(self.names or [])
        if self.names_dialog.isVisible():
            self.names_dialog.activateWindow()
        else:
            self.names_dialog.show()
        self._bridge.call(ListConcepts(), self.set_names, self._show_message)

    def set_names(self, infos: list[ConceptInfo] | tuple[ConceptInfo, ...]) -> None:
        """The core's names (a ``ConceptsChanged`` event or an answer)."""
        infos = list(infos)
        stale = self.names is not None and infos != self.names
        self.names = infos
        if self.names_dialog is not None:
            self.names_dialog.set_concepts(self.names)
        self.names_changed.emit(self.names)
        if stale:
            self.search_stale.emit()

    def _post_teach(self, name: str, paths: list[str]) -> None:
        self._show_message(f"Teaching “{name}” from {len(paths)} photos…")
        self._bridge.call(TeachConcept(name, tuple(paths)), self._on_taught, self._show_message)

    @Slot(str)
    def _forget(self, name: str) -> None:
        self._bridge.call(ForgetConcept(name), None, self._show_message)

    def _on_taught(self, info: ConceptInfo) -> None:
        self._show_message(
            f"Taught “{info.name}” from {info.photos} photo{'' if info.photos == 1 else 's'}. Try: {info.name} on the beach"
        )
        self.taught.emit(info.name, info.photos)
        self.search_stale.emit()  # re-teaching may leave the list as it was, yet changes results
