"""Handing photos to the rest of the desktop: open in the default viewer, reveal in the file manager, copy paths.

Paths cross this boundary as bytes. On POSIX a file name is any bytes; Python holds the ones that are not
UTF-8 as lone surrogates, which Qt's strings cannot carry (the bad byte was dropped, so another file could
open). So launchers get the path's own bytes (``os.fsencode``), and URLs are built from those bytes,
percent-encoded: pure ASCII, exact for any name, and with commas encoded too (``dbus-send`` splits its array
arguments at commas).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Sequence

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

log = logging.getLogger(__name__)


def file_url(path: str | bytes) -> str:
    """``file://`` URL of ``path`` made from its bytes and percent-encoded (everything but letters, digits,
    ``-._~`` and ``/``), so it is ASCII and names exactly this file."""
    if os.name == "nt":  # Windows names are UTF-16 and always valid: Qt's own conversion is exact
        return QUrl.fromLocalFile(os.fsdecode(path)).toString(QUrl.ComponentFormattingOption.FullyEncoded)
    return "file://" + urllib.parse.quote(os.fsencode(os.path.abspath(path)), safe="/")


def open_file(path: str) -> bool:
    """Open ``path`` with the system's default application."""
    if sys.platform == "win32":
        try:
            os.startfile(path)  # type: ignore[attr-defined]  # Windows only
            return True
        except OSError as error:
            log.warning("no application opened %s: %s", path, error)
            return False
    launcher = "open" if sys.platform == "darwin" else shutil.which("xdg-open")
    if launcher is not None and _launch([os.fsencode(launcher), os.fsencode(path)]):
        return True
    ok = QDesktopServices.openUrl(QUrl.fromEncoded(file_url(path).encode("ascii")))
    if not ok:
        log.warning("no application opened %s", path)
    return bool(ok)


def reveal_in_file_manager(path: str) -> bool:
    """Show ``path`` selected in the file manager, or at least open its folder."""
    if sys.platform == "darwin":
        return _launch([b"open", b"-R", os.fsencode(path)])
    if sys.platform == "win32":
        # One command line quoted by us: explorer parses '/select,' itself, and a path cannot hold '"'.
        return _launch(f'explorer /select,"{os.path.normpath(path)}"')
    dbus_send = shutil.which("dbus-send")
    if dbus_send is not None:
        # The freedesktop FileManager1 interface (Nautilus, Dolphin, Nemo, Thunar...) selects the file.
        started = _launch([
            dbus_send,
            "--session",
            "--dest=org.freedesktop.FileManager1",
            "--type=method_call",
            "/org/freedesktop/FileManager1",
            "org.freedesktop.FileManager1.ShowItems",
            f"array:string:{file_url(path)}",  # ASCII, commas encoded: one array element
            "string:",
        ])
        if started:
            return True
    return open_file(os.path.dirname(path) or os.sep)


def copy_paths(paths: Sequence[str]) -> None:
    """Put the paths on the clipboard, one per line: as file URLs and as text holding each name's own bytes."""
    mime = QMimeData()
    mime.setData("text/uri-list", "".join(f"{file_url(path)}\r\n" for path in paths).encode("ascii"))
    # Raw bytes, not setText(): Qt would re-encode the text as UTF-8 and lose a name's undecodable bytes.
    mime.setData("text/plain", b"\n".join(os.fsencode(path) for path in paths))
    QGuiApplication.clipboard().setMimeData(mime)


def _launch(command: list[str | bytes] | str) -> bool:
    """Start a helper program detached from us (its own session, no terminal); False if it cannot start."""
    try:
        subprocess.Popen(  # noqa: S603  (arguments are ours and a file's path, never a shell string on POSIX)
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=sys.platform != "win32",
            close_fds=True,
        )
    except OSError as error:
        log.warning("cannot start %s: %s", command if isinstance(command, str) else command[0], error)
        return False
    return True
