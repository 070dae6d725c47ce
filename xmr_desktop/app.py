"""``xmr-desktop``: paths -> logging -> excepthook -> QApplication -> window; the model loads after the window shows.

Nothing here imports TensorFlow: the worker thread does, once the window is on screen.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from xmr_desktop import __version__
from xmr_desktop.config import resolve_paths
from xmr_desktop.errors import DataDirError
from xmr_desktop.logs import setup_logging
from xmr_desktop.text_safety import printable, printable_text

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xmr-desktop", description="Search your photos by describing them.")
    parser.add_argument("--version", action="version", version=f"xmr-desktop {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="keep the index, models, settings and logs here (env XMR_DATA_DIR)")
    parser.add_argument("--model", metavar="NAME|HUB_ID|PATH", help="model to use (default: the saved choice, else datacomp-b32)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output on stderr")
    return parser


class ExceptionDialogHook:
    """``sys.excepthook`` / ``threading.excepthook``: log the traceback, then show a dialog naming the log file.

    A Python exception in a Qt slot would otherwise only print to a console the user never sees. Exceptions
    from other threads are handed to the GUI thread through a queued signal; no widget is touched off it.
    """

    def __init__(self, log_file: Path) -> None:
        from PySide6.QtCore import QObject, Signal

        class _Bridge(QObject):
            raised = Signal(str)

        self.log_file = log_file
        self._bridge = _Bridge()
        self._bridge.raised.connect(self._show)
        self._showing = False

    def install(self) -> None:
        sys.excepthook = self
        threading.excepthook = self._thread_hook

    def __call__(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        log.critical("uncaught exception", exc_info=(kind, error, tb))
        self._bridge.raised.emit(printable_text(f"{kind.__name__}: {error}"))

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        self(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    def _show(self, summary: str) -> None:
        from PySide6.QtWidgets import QApplication, QMessageBox

        if self._showing or QApplication.instance() is None:
            return
        self._showing = True
        try:
            QMessageBox.critical(
                None,
                "xmr_desktop: unexpected error",
                f"Something went wrong that xmr_desktop did not expect:\n\n{summary}\n\n"
                f"The details are in the log file:\n{printable(self.log_file)}\n\n"
                "When you report the problem, the log helps. It names folders and photos xmr has indexed: "
                "read it first, and remove what you would rather not share.",
            )
        finally:
            self._showing = False


def show_startup_error(message: str) -> None:
    """Say why the app cannot start, on stderr and in a dialog (before any window, log file or excepthook)."""
    print(f"xmr-desktop: error: {message}", file=sys.stderr)
    from PySide6.QtWidgets import QApplication, QMessageBox

    _app = QApplication.instance() or QApplication(sys.argv[:1])  # kept alive while the dialog shows
    QMessageBox.critical(None, "xmr_desktop cannot start", message)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = resolve_paths(args.data_dir).ensure()
    except DataDirError as error:
        show_startup_error(str(error))
        return 1
    log_file = setup_logging(paths.log_dir, verbosity=args.verbose)
    log.info("xmr-desktop %s starting; data in %s", __version__, paths.data_dir)

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from xmr_desktop.ui.main_window import ICON_PATH, MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("xmr_desktop")
    app.setApplicationDisplayName("xmr")
    app.setDesktopFileName("xmr-desktop")
    if ICON_PATH.is_file():
        app.setWindowIcon(QIcon(str(ICON_PATH)))
    hook = ExceptionDialogHook(log_file)
    hook.install()
    if _already_open(paths.data_dir):
        return 0
    from xmr_desktop.engine.staging import clean_stale_staging

    clean_stale_staging(paths.models_dir)  # leftovers of downloads and saves whose process died
    window = MainWindow(paths, model=args.model)
    window.show()
    # After the first paint: the core starts (and imports TensorFlow) only once the window is up.
    from PySide6.QtCore import QTimer

    from xmr_desktop.core.server import LibraryServer

    server = LibraryServer(window.library, paths.data_dir)
    QTimer.singleShot(0, window.start)
    QTimer.singleShot(0, server.start)  # `xmr` commands on this data dir are answered by this window from now on
    status = int(app.exec())
    server.close()
    window.close()  # stops the core if the loop ended without closing the window (e.g. SIGTERM via quit)
    return status


def _already_open(data_dir: Path) -> bool:
    """One window per index: a second one would be a second writer. Says so and returns True."""
    from xmr_desktop.cli.remote import find_app

    endpoint = find_app(data_dir)
    if endpoint is None:
        return False
    from PySide6.QtWidgets import QMessageBox

    log.info("xmr-desktop is already running for %s (pid %d)", data_dir, endpoint.pid)
    QMessageBox.information(
        None, "xmr_desktop", f"xmr_desktop is already open for this library ({data_dir}).\nSwitch to its window."
    )
    return True


if __name__ == "__main__":
    sys.exit(main())
