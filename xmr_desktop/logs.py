"""Logging set-up shared by the CLI and the desktop app: a rotating file in the user's log dir, quiet console.

Log lines are one line each whatever a file name contains (``SafeFormatter`` escapes control characters in
the values a message quotes), and the warnings Pillow raises about damaged photos (corrupt EXIF, TIFF tags,
the decompression-bomb size warning) go to the log at DEBUG instead of the terminal: skipping such a photo
is already reported once, with its reason.
"""

from __future__ import annotations

import logging
import logging.handlers
import numbers
import os
import sys
import warnings
from pathlib import Path
from typing import IO, Any

from xmr_desktop.text_safety import printable_text

LOG_FILE_NAME = "xmr.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
DECODER_WARNINGS_LOGGER = "xmr_desktop.decoder_warnings"


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
    # Pillow logs every PNG chunk and TIFF tag at DEBUG: noise even in a -vv log.
    logging.getLogger("PIL").setLevel(logging.INFO)
    try:
        file_handler: logging.Handler = _PrivateRotatingFileHandler(
            log_file, maxBytes=1 << 20, backupCount=3, encoding="utf-8"
        )
        file_handler.setFormatter(SafeFormatter(_FORMAT))
        _add(root, file_handler)
    except OSError as error:
        print(f"xmr: cannot write the log file {printable_text(str(log_file))}: {error}", file=sys.stderr)
    if console:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG))
        console_handler.setFormatter(SafeFormatter("xmr: %(levelname)s: %(message)s"))
        _add(root, console_handler)
    route_decoder_warnings()
    return log_file


class SafeFormatter(logging.Formatter):
    """A Formatter whose messages stay on one line: control characters in the quoted values are escaped.

    The format string of a message is ours and may hold newlines; its arguments (paths, reasons, errors) are
    escaped with ``printable_text``. A message without arguments (``log.info(some_text)``) is escaped whole.
    Tracebacks (``exc_info``) are kept as they are.
    """

    def format(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(record.__dict__)
        if isinstance(record.args, dict):
            safe.args = {key: _safe_value(value) for key, value in record.args.items()}
        elif record.args:
            safe.args = tuple(_safe_value(value) for value in record.args)
        else:
            safe.msg = printable_text(str(record.msg))
        return super().format(safe)


def _safe_value(value: object) -> object:
    if value is None or isinstance(value, numbers.Number):  # kept for %d, %.1f and the like
        return value
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    elif isinstance(value, os.PathLike):
        value = os.fsdecode(os.fspath(value))
    return printable_text(str(value))


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created readable only by the user (0600): they name photos and folders."""

    def _open(self) -> IO[Any]:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


def route_decoder_warnings() -> None:
    """Send Pillow's warnings about damaged images to the log at DEBUG; other warnings are shown as before."""
    if getattr(warnings.showwarning, "_xmr", False):
        return
    previous = warnings.showwarning

    def showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: Any = None, line: str | None = None) -> None:
        if _from_pillow(category, filename):
            logging.getLogger(DECODER_WARNINGS_LOGGER).debug("%s: %s", category.__name__, message)
            return
        previous(message, category, filename, lineno, file, line)

    showwarning._xmr = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning


def _from_pillow(category: type[Warning], filename: str) -> bool:
    if category.__name__ == "DecompressionBombWarning":
        return True
    parts = Path(filename).parts
    return len(parts) >= 2 and parts[-2] == "PIL"


def _add(root: logging.Logger, handler: logging.Handler) -> None:
    handler._xmr = True  # type: ignore[attr-defined]
    root.addHandler(handler)
