"""Logging set-up shared by the CLI and the desktop app: a rotating file in the user's log dir, quiet console."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import IO, Any

LOG_FILE_NAME = "xmr.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"


def setup_logging(log_dir: Path, *, verbosity: int = 0, console: bool = True) -> Path:
    """Log INFO and up to ``log_dir/xmr.log`` (1 MiB × 3); the console gets warnings, or more with ``verbosity``.

    Returns the log file's path, which error dialogs and messages point the user to.
    """
    log_file = log_dir / LOG_FILE_NAME
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_xmr", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    # faiss announces at INFO which CPU build it loaded, on every start; that is not news for the user's log.
    logging.getLogger("faiss").setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    try:
        file_handler: logging.Handler = _PrivateRotatingFileHandler(
            log_file, maxBytes=1 << 20, backupCount=3, encoding="utf-8"
        )
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        _add(root, file_handler)
    except OSError as error:
        print(f"xmr: cannot write the log file {log_file}: {error}", file=sys.stderr)
    if console:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG))
        console_handler.setFormatter(logging.Formatter("xmr: %(levelname)s: %(message)s"))
        _add(root, console_handler)
    return log_file


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created readable only by the user (0600): they name photos and folders."""

    def _open(self) -> IO[Any]:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


def _add(root: logging.Logger, handler: logging.Handler) -> None:
    handler._xmr = True  # type: ignore[attr-defined]
    root.addHandler(handler)
