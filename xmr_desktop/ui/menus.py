"""The main window's menus and keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from xmr_desktop.ui.main_window import MainWindow


def build_menus(window: MainWindow) -> None:
    """File / Edit / View / Help menus, plus Ctrl+L (search), Ctrl+= (larger) and Escape (clear the search)."""
    bar = window.search_bar
    file_menu = window.menuBar().addMenu("&File")
    _action(window, file_menu, "&Add folder…", window.choose_folder, QKeySequence.StandardKey.Open)
    _action(window, file_menu, "Get &model…", lambda: window.show_model_dialog())
    file_menu.addSeparator()
    _action(window, file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    edit_menu = window.menuBar().addMenu("&Edit")
    _action(window, edit_menu, "Teach a &name…", lambda: window.concepts.teach())
    _action(window, edit_menu, "Na&mes…", window.concepts.show_names)
    view_menu = window.menuBar().addMenu("&View")
    view_menu.addAction(window.folders_dock.toggleViewAction())
    _action(window, view_menu, "&Search", bar.focus_search, QKeySequence.StandardKey.Find)
    _action(window, view_menu, "&Larger thumbnails", lambda: bar.step_thumb_size(1), QKeySequence.StandardKey.ZoomIn)
    _action(window, view_menu, "S&maller thumbnails", lambda: bar.step_thumb_size(-1), QKeySequence.StandardKey.ZoomOut)
    help_menu = window.menuBar().addMenu("&Help")
    log_url = QUrl.fromLocalFile(str(window.paths.log_dir))
    _action(window, help_menu, "Open &log folder", lambda: QDesktopServices.openUrl(log_url))
    for keys, slot in (("Ctrl+L", bar.focus_search), ("Ctrl+=", lambda: bar.step_thumb_size(1))):
        QShortcut(QKeySequence(keys), window).activated.connect(slot)
    QShortcut(QKeySequence(Qt.Key.Key_Escape), window).activated.connect(bar.clear)


def _action(
    window: MainWindow, menu: QMenu, text: str, slot: Callable[[], object], shortcut: QKeySequence.StandardKey | None = None
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action
