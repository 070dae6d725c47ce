"""The ``xmr-desktop`` bootstrap: options, data dir, log file, the error dialog, the window before the model."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QMessageBox

from xmr_desktop import app as app_module
from xmr_desktop.app import ExceptionDialogHook, build_parser


def test_options() -> None:
    args = build_parser().parse_args(["--data-dir", "/tmp/x", "--model", "openai-b32", "-v"])
    assert (args.data_dir, args.model, args.verbose) == ("/tmp/x", "openai-b32", 1)


def test_an_uncaught_exception_shows_a_dialog_with_the_log_path(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    hook = ExceptionDialogHook(tmp_path / "xmr.log")
    try:
        raise ValueError("boom")
    except ValueError as error:
        hook(type(error), error, error.__traceback__)
    assert len(shown) == 1 and "ValueError: boom" in shown[0] and str(tmp_path / "xmr.log") in shown[0]
    assert "names folders and photos" in shown[0] and "Please include it" not in shown[0]

    # From another thread the dialog is still shown on the GUI thread.
    def fail() -> None:
        raise RuntimeError("from a thread")

    monkeypatch.setattr(threading, "excepthook", hook._thread_hook)
    thread = threading.Thread(target=fail)
    with qtbot.waitSignal(hook._bridge.raised, timeout=5000):
        thread.start()
        thread.join()
    assert "RuntimeError: from a thread" in shown[-1]


def test_main_shows_the_window_before_loading_anything(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    seen: dict[str, Any] = {}

    def fake_exec() -> int:
        windows = [w for w in QApplication.topLevelWidgets() if w.__class__.__name__ == "MainWindow" and w.isVisible()]
        seen["windows"] = windows
        seen["tensorflow_loaded"] = "tensorflow" in sys.modules
        for window in windows:
            window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(fake_exec))
    data_dir = tmp_path / "portable"
    tensorflow_before = "tensorflow" in sys.modules
    assert app_module.main(["--data-dir", str(data_dir)]) == 0
    assert len(seen["windows"]) == 1
    if not tensorflow_before:
        assert not seen["tensorflow_loaded"], "the window must show before TensorFlow is imported"
    assert (data_dir / "logs" / "xmr.log").is_file()
    assert isinstance(sys.excepthook, ExceptionDialogHook)
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_xmr", False):
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_a_data_dir_that_cannot_be_created_is_a_dialog_not_silence(qtbot: Any, tmp_path: Path, monkeypatch: Any,
                                                                     capsys: Any) -> None:
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append((title, text)))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert app_module.main(["--data-dir", str(blocker / "xmr")]) == 1
    assert len(shown) == 1 and str(blocker / "xmr") in shown[0][1] and "--data-dir" in shown[0][1]
    assert "cannot use" in capsys.readouterr().err
    assert not isinstance(sys.excepthook, ExceptionDialogHook)  # it never got that far
