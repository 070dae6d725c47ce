"""A widget that shows one photo fitted to its size, or why there is none; and the keys that move between photos."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPaintEvent, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

# Steps through the results: arrows by one, Page Up/Down by ten, Home/End to the ends (the viewer clamps).
PAGE_STEP = 10
_FAR = 1 << 30
NAVIGATION_KEYS: dict[Qt.Key, int] = {
    Qt.Key.Key_Left: -1,
    Qt.Key.Key_Up: -1,
    Qt.Key.Key_Right: 1,
    Qt.Key.Key_Down: 1,
    Qt.Key.Key_PageUp: -PAGE_STEP,
    Qt.Key.Key_PageDown: PAGE_STEP,
    Qt.Key.Key_Home: -_FAR,
    Qt.Key.Key_End: _FAR,
}


def navigation_step(event: QKeyEvent) -> int | None:
    """How far a key press moves through the results (None: not a navigation key, or with modifiers)."""
    if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
        return None
    return NAVIGATION_KEYS.get(Qt.Key(event.key()))


def claims_shortcut(event: QEvent, keys: tuple[Qt.Key, ...]) -> bool:
    """Accept a ShortcutOverride for ``keys`` and the navigation keys, so the window's shortcuts (Escape clears the
    search) do not take them from the focused viewer."""
    if event.type() != QEvent.Type.ShortcutOverride or not isinstance(event, QKeyEvent):
        return False
    if navigation_step(event) is not None or (Qt.Key(event.key()) in keys and not event.modifiers()):
        event.accept()
        return True
    return False


class PhotoCanvas(QWidget):
    """Paints an image scaled to fit (aspect kept, centred), or a message in its place.

    Signals:
        resized(): the widget's size changed (the viewer may decode a sharper copy).

    Attributes:
        state: "empty", "loading" (a stand-in such as the thumbnail is shown), "image" or "problem".
        message: the text shown for "empty" and "problem".
        image: the image painted (null for "empty" and "problem").
    """

    resized = Signal()

    def __init__(self, parent: QWidget | None = None, *, dark: bool = False) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(QSize(120, 90))
        self.state = "empty"
        self.message = ""
        self.image = QImage()
        self._dark = dark
        self._scaled: QPixmap | None = None

    def box(self) -> tuple[int, int]:
        """The canvas in device pixels: the size a decode must fit to look sharp here."""
        ratio = self.devicePixelRatioF()
        return max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio))

    def show_image(self, image: QImage, *, final: bool = True) -> None:
        """Paint ``image``; ``final`` False marks a stand-in (a thumbnail) until the decode arrives."""
        self.image = image
        self.state = "image" if final else "loading"
        self.message = ""
        self._scaled = None
        self.update()

    def show_message(self, text: str, *, problem: bool = False) -> None:
        self.image = QImage()
        self.state = "problem" if problem else "empty"
        self.message = text
        self._scaled = None
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(360, 300)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._scaled = None
        self.resized.emit()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        background = QColor(24, 24, 24) if self._dark else self.palette().color(QPalette.ColorRole.Base).darker(108)
        painter.fillRect(self.rect(), background)
        if not self.image.isNull():
            pixmap = self._pixmap()
            ratio = pixmap.devicePixelRatio()
            size = QSize(round(pixmap.width() / ratio), round(pixmap.height() / ratio))
            target = QRect((self.width() - size.width()) // 2, (self.height() - size.height()) // 2, size.width(), size.height())
            painter.drawPixmap(target, pixmap)
        elif self.message:
            colour = QColor(220, 220, 220) if self._dark else self.palette().color(QPalette.ColorRole.Text)
            if self.state == "problem":
                colour = QColor(230, 120, 110) if self._dark else QColor(170, 40, 30)
            painter.setPen(colour)
            margin = 16
            painter.drawText(
                self.rect().adjusted(margin, margin, -margin, -margin),
                int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                self.message,
            )
        painter.end()

    def _pixmap(self) -> QPixmap:
        """The image scaled to fit, made once per image and size (painting never rescales)."""
        if self._scaled is None:
            ratio = self.devicePixelRatioF()
            width, height = self.box()
            image = self.image
            fits = image.width() <= width and image.height() <= height
            if not (fits and (width - image.width() <= 1 or height - image.height() <= 1)):
                image = image.scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(ratio)
            self._scaled = pixmap
        return self._scaled
