"""Handing photos to the rest of the desktop: open in the default viewer, reveal in the file manager, copy paths."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Sequence

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

log = logging.getLogger(__name__)


def open_file(path: str) -> bool:
    """Open ``path`` with the system's default application."""
    ok = QDesktopServices.openUrl(QUrl.fromLocalFile(path))
    if not ok:
        log.warning("no application opened %s", path)
    return bool(ok)


def reveal_in_file_manager(path: str) -> bool:
    """Show ``path`` selected in the file manager, or at least open its folder."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])[0]
    if sys.platform == "win32":
        return QProcess.startDetached("explorer", [f"/select,{os.path.normpath(path)}"])[0]
    dbus_send = shutil.which("dbus-send")
    if dbus_send is not None:
        # The freedesktop FileManager1 interface (Nautilus, Dolphin, Nemo, Thunar...) selects the file.
        url = QUrl.fromLocalFile(path).toString(QUrl.ComponentFormattingOption.FullyEncoded)
        started = QProcess.startDetached(
            dbus_send,
            [
                "--session",
                "--dest=org.freedesktop.FileManager1",
                "--type=method_call",
                "/org/freedesktop/FileManager1",
                "org.freedesktop.FileManager1.ShowItems",
                f"array:string:{url}",
                "string:",
            ],
        )[0]
        if started:
            return True
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path))))


def copy_paths(paths: Sequence[str]) -> None:
    """Put the paths on the clipboard, one per line."""
    QGuiApplication.clipboard().setText("\n".join(paths))
