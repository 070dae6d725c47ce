"""The "Text in photos" choice in the window's menu: off, documents, or all photos.

The choice is the index's (the core keeps it with the library, so ``xmr index --ocr`` and the window agree and
it survives restarts); the menu sends ``SetOcrMode`` and shows what the core says (``OcrChanged``), including
why reading text is not possible here (Tesseract not installed).
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMainWindow, QMenu

from xmr_desktop.core.commands import SetOcrMode
from xmr_desktop.ui.library_bridge import LibraryBridge
from xmr_desktop.ui.menus import menu_before

CHOICES = (
    ("off", "&Off", "Do not read text in photos"),
    ("documents", "&Documents, screenshots, receipts, signs",
     "Read text only in photos the image model takes for documents, screenshots, receipts, signs or whiteboards"),
    ("all", "&All photos", "Read text in every photo (slow: up to 20 s a photo, in the background)"),
)


class OcrMenu:
    """A checkable submenu with the three modes.

    Attributes:
        menu: the "Text in photos" submenu.
        actions: mode -> its action.
    """

    def __init__(self, window: QMainWindow, bridge: LibraryBridge, parent_menu: QMenu | None = None) -> None:
        self._bridge = bridge
        self.menu = QMenu("&Text in photos", window)
        self.menu.setToolTipsVisible(True)
        group = QActionGroup(self.menu)
        group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for mode, text, tip in CHOICES:
            action = QAction(text, self.menu)
            action.setCheckable(True)
            action.setToolTip(tip)
            action.triggered.connect(lambda _checked=False, mode=mode: self.choose(mode))
            group.addAction(action)
            self.menu.addAction(action)
            self.actions[mode] = action
        (parent_menu or menu_before(window, "&Library")).addMenu(self.menu)

    def choose(self, mode: str) -> None:
        """Ask the core to read text in ``mode`` from now on (the menu follows the core's answer)."""
        self._bridge.call(SetOcrMode(mode))

    def show_mode(self, mode: str, problem: str) -> None:
        """What the core reads now; a mode that cannot run here is shown disabled, with the reason."""
        for name, action in self.actions.items():
            action.setChecked(name == mode)
            action.setEnabled(name == "off" or not problem)
            if problem and name != "off":
                action.setToolTip(problem)
        self.menu.setToolTip(problem)

    def checked(self) -> str | None:
        return next((mode for mode, action in self.actions.items() if action.isChecked()), None)
