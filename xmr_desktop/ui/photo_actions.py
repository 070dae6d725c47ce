"""What can be done with photos, in one place for the grid's context menu, the viewer pane and the preview.

Opening, revealing and copying go straight to ``ui.desktop`` (called through the module, so tests can patch
it); "Find similar" and "Teach a name…" need the window's search and concepts, so they leave as signals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from xmr_desktop.ui import desktop

MAX_OPEN_AT_ONCE = 20

# (key, text) in menu order; None is a separator.
ACTION_TEXTS: tuple[tuple[str, str] | None, ...] = (
    ("open", "Open"),
    ("reveal", "Show in folder"),
    ("copy", "Copy path"),
    None,
    ("similar", "Find similar"),
    ("teach", "Teach a name…"),
)

# Photos an action applies to: (the photo acted on, all photos for multi-photo actions), or (None, []) for none.
Target = Callable[[], "tuple[str | None, list[str]]"]


class PhotoActions(QObject):
    """Open, Show in folder, Copy path, Find similar, Teach a name… for one photo or several.

    Signals:
        similar_requested(path): search for photos that look like ``path``.
        teach_requested(list[str]): ask for a name to teach from these photos.
    """

    similar_requested = Signal(str)
    teach_requested = Signal(object)

    def open(self, paths: Sequence[str]) -> None:
        """Open up to ``MAX_OPEN_AT_ONCE`` photos in the default application."""
        for path in [p for p in paths if p][:MAX_OPEN_AT_ONCE]:
            desktop.open_file(path)

    def reveal(self, path: str) -> None:
        desktop.reveal_in_file_manager(path)

    def copy(self, paths: Sequence[str]) -> None:
        desktop.copy_paths(list(paths))

    def find_similar(self, path: str) -> None:
        self.similar_requested.emit(path)

    def teach(self, paths: Sequence[str]) -> None:
        self.teach_requested.emit(list(paths))

    def trigger(self, key: str, path: str, paths: Sequence[str] | None = None) -> None:
        """Run the action ``key`` (see ``ACTION_TEXTS``) on ``path`` (and ``paths`` for multi-photo actions)."""
        many = list(paths) if paths else [path]
        if key == "open":
            self.open(many)
        elif key == "reveal":
            self.reveal(path)
        elif key == "copy":
            self.copy(many)
        elif key == "similar":
            self.find_similar(path)
        elif key == "teach":
            self.teach(many)
        else:
            raise ValueError(f"unknown photo action {key!r}")

    def make_actions(self, parent: QWidget, target: Target) -> dict[str, QAction]:
        """QActions that act on whatever ``target()`` names when triggered (for buttons and menus that persist)."""
        actions: dict[str, QAction] = {}
        for entry in ACTION_TEXTS:
            if entry is None:
                continue
            key, text = entry
            action = QAction(text, parent)

            def run(_checked: bool = False, key: str = key) -> None:
                path, paths = target()
                if path:
                    self.trigger(key, path, paths)

            action.triggered.connect(run)
            actions[key] = action
        return actions

    def menu(self, parent: QWidget, path: str, paths: Sequence[str] | None = None) -> QMenu:
        """A context menu acting on ``path`` (and on ``paths`` for Open, Copy and Teach)."""
        many = list(paths) if paths else [path]
        menu = QMenu(parent)
        for entry in ACTION_TEXTS:
            if entry is None:
                menu.addSeparator()
                continue
            key, text = entry
            if key == "copy" and len(many) > 1:
                text = f"Copy {len(many)} paths"
            action = QAction(text, menu)
            action.triggered.connect(lambda _checked=False, key=key: self.trigger(key, path, many))
            menu.addAction(action)
        return menu
