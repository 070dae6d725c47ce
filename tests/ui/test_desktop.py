"""Open, Show in folder and Copy path name exactly the file shown, whatever bytes or commas its name holds."""

from __future__ import annotations

import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from xmr_desktop.ui import desktop

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the freedesktop launchers")


@pytest.fixture
def latin1_photo(tmp_path: Path) -> str:
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9, plage.jpg")  # Latin-1 'café, plage': not UTF-8
    try:
        with open(raw, "wb") as handle:
            handle.write(b"jpeg")
    except OSError as error:
        pytest.skip(f"file system refuses non-UTF-8 names: {error}")
    return os.fsdecode(raw)


class Launched:
    """Everything handed to another program: command lines (subprocess) and URLs (Qt)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: list[list[Any]] = []
        self.urls: list[QUrl] = []
        monkeypatch.setattr(desktop.subprocess, "Popen", lambda command, **kwargs: self.commands.append(command))
        monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: self.urls.append(url) or True)
        monkeypatch.setattr(desktop.shutil, "which", lambda name: f"/usr/bin/{name}")

    def paths(self) -> list[bytes]:
        """The file each launch refers to, as bytes: an argument that is a path, or a file URL decoded."""
        found: list[bytes] = []
        for command in self.commands:
            for argument in command:
                text = os.fsencode(argument)
                if text.startswith(b"/") and b"caf" in text:  # the photo's path itself (not a launcher's)
                    found.append(text)
                elif b"file://" in text:
                    found.append(urllib.parse.unquote_to_bytes(text.split(b"file://", 1)[1]))
        for url in self.urls:
            found.append(urllib.parse.unquote_to_bytes(bytes(url.toEncoded()).decode("ascii").split("file://", 1)[1]))
        return found


def test_open_passes_the_exact_bytes_of_a_non_utf8_name(latin1_photo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    launched = Launched(monkeypatch)
    assert desktop.open_file(latin1_photo)
    assert launched.paths() == [os.fsencode(latin1_photo)]


def test_show_in_folder_keeps_a_name_with_commas_in_one_piece(latin1_photo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    launched = Launched(monkeypatch)
    assert desktop.reveal_in_file_manager(latin1_photo)
    (command,) = launched.commands
    (items,) = [argument for argument in command if str(argument).startswith("array:string:")]
    assert "," not in items.removeprefix("array:string:")  # dbus-send would split the array at a comma
    assert launched.paths() == [os.fsencode(latin1_photo)]


def test_copy_path_puts_the_exact_names_on_the_clipboard(qtbot: Any, latin1_photo: str, tmp_path: Path) -> None:
    plain = str(tmp_path / "plain.jpg")
    desktop.copy_paths([latin1_photo, plain])
    mime = QGuiApplication.clipboard().mimeData()
    assert bytes(mime.data("text/plain")) == os.fsencode(latin1_photo) + b"\n" + os.fsencode(plain)
    urls = bytes(mime.data("text/uri-list")).decode("ascii").split("\r\n")[:2]
    assert [urllib.parse.unquote_to_bytes(u.removeprefix("file://")) for u in urls] == [os.fsencode(latin1_photo),
                                                                                       os.fsencode(plain)]


def test_file_urls_are_ascii_and_round_trip(latin1_photo: str) -> None:
    url = desktop.file_url(latin1_photo)
    assert url.isascii() and "%E9" in url and "%2C" in url
    assert urllib.parse.unquote_to_bytes(url.removeprefix("file://")) == os.fsencode(latin1_photo)
