"""The full-window preview: one photo over the whole window, with its name, position and actions along the bottom.

It is a child widget laid over the main window (covering menu, toolbar, docks and status bar), not a top-level
window of its own: it opens and closes instantly without a window-manager round trip, behaves the same on every
platform and under Xvfb, never lands on another screen or behind the app, and keeps the keyboard focus inside the
app's one window, so Escape simply hands it back to the grid. Making the window itself full-screen is left to
the window manager.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from xmr_desktop.ui.photo_canvas import PhotoCanvas, claims_shortcut, navigation_step

_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter)
_BAR_STYLE = (
    "QWidget#preview-bar { background: rgba(20, 20, 20, 220); }"
    "QLabel, QToolButton { color: #e6e6e6; }"
    "QToolButton { padding: 3px 6px; } QToolButton:hover { background: rgba(255, 255, 255, 40); }"
)


class PhotoPreview(QWidget):
    """The photo filling the window.

    Keys: arrows, Page Up/Down, Home/End move through the results; Escape or Space close; Enter opens the photo.
    A double click closes too.

    Signals:
        step_requested(int): move this many results.
        close_requested(): Escape, Space or the Close button.
        open_requested(): Enter.
        menu_requested(QPoint): a context menu at this global position.

    Attributes:
        canvas: the photo.
        title: the photo's name and its place in the results ("3 of 40").
        buttons: the action buttons by action key, plus "close".
    """

    step_requested = Signal(int)
    close_requested = Signal()
    open_requested = Signal()
    menu_requested = Signal(QPoint)

    def __init__(self, window: QWidget, actions: dict[str, QAction]) -> None:
        super().__init__(window)
        self.setObjectName("photo-preview")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), Qt.GlobalColor.black)
        self.setPalette(palette)
        self.canvas = PhotoCanvas(self, dark=True)
        self.canvas.setFocusProxy(self)
        self.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.canvas.customContextMenuRequested.connect(lambda pos: self.menu_requested.emit(self.canvas.mapToGlobal(pos)))
        bar = QWidget(self)
        bar.setObjectName("preview-bar")
        bar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        bar.setStyleSheet(_BAR_STYLE)
        self.title = QLabel(bar)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout(bar)
        row.setContentsMargins(10, 4, 6, 4)
        row.addWidget(self.title, 1)
        self.buttons: dict[str, QToolButton] = {}
        close_action = QAction("Close", self)
        close_action.setToolTip("Back to the results (Escape)")
        close_action.triggered.connect(self.close_requested)
        for key, action in [*actions.items(), ("close", close_action)]:
            button = QToolButton(bar)
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay with the preview
            row.addWidget(button)
            self.buttons[key] = button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(bar)
        self.hide()
        window.installEventFilter(self)

    def open(self) -> None:
        """Cover the window and take the keyboard focus."""
        self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_title(self, name: str, position: int, count: int) -> None:
        self.title.setText(f"{name}    {position} of {count}" if count else name)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self.parentWidget().rect())
        return False

    def event(self, event: QEvent) -> bool:
        if claims_shortcut(event, _KEYS):
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = navigation_step(event)
        key = event.key()
        if step is not None:
            self.step_requested.emit(step)
        elif key in (Qt.Key.Key_Escape, Qt.Key.Key_Space) and not event.modifiers():
            self.close_requested.emit()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_requested.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.close_requested.emit()
        event.accept()
