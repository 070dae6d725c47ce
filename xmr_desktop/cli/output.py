"""What ``xmr`` prints: paths made safe for a terminal, JSON lines, progress bars."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from xmr_desktop.core.runs import IndexProgress
from xmr_desktop.text_safety import printable, printable_text

__all__ = ["printable", "printable_text", "json_line", "error", "warning", "ProgressPrinter", "TrainingProgress", "PreparationPrinter"]

def json_line(record: dict[str, Any]) -> str:
    """JSON with readable Unicode, except that undecodable file names fall back to \\u escapes (still valid JSON)."""
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record)
    return text


def error(message: str) -> None:
    print(f"xmr: error: {printable_text(message)}", file=sys.stderr)


def warning(message: str) -> None:
    print(f"xmr: warning: {printable_text(message)}", file=sys.stderr)


class ProgressPrinter:
    """A progress bar on a terminal; on a pipe or log, a plain line every few seconds."""

    _PLAIN_INTERVAL = 5.0

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._bar: Any = None
        self._last_line = 0.0

    def __enter__(self) -> ProgressPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, progress: IndexProgress) -> None:
        if self._tty:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=progress.total, unit="photo", file=self._stream, dynamic_ncols=True)
            self._bar.total = progress.total
            self._bar.n = progress.done
            self._bar.set_postfix(skipped=progress.skipped, refresh=False)
            self._bar.refresh()
            return
        now = time.monotonic()
        if now - self._last_line >= self._PLAIN_INTERVAL or progress.done == progress.total:
            self._last_line = now
            print(f"indexing: {progress.done}/{progress.total} ({progress.rate:.1f} photos/s)", file=self._stream, flush=True)


class TrainingProgress:
    """A tqdm bar on a terminal, nothing otherwise (the summary is printed at the end either way)."""

    def __init__(self, unit: str) -> None:
        self._unit = unit
        self._tty = sys.stderr.isatty()
        self._bar: Any = None
        self._epoch = 0

    def __enter__(self) -> TrainingProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, done: int, total: int) -> None:
        if not self._tty:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=self._unit, file=sys.stderr, dynamic_ncols=True)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def distill(self, p: Any) -> None:
        """``epoch`` for distillation, whose epochs end with a validation error (MSE) instead of a recall."""
        if p.val_mse is not None:
            if self._bar is not None:
                self._bar.set_postfix(loss=f"{p.loss:.5f}", val_mse=f"{p.val_mse:.5f}")
                self._bar.close()
                self._bar = None
            else:
                print(f"epoch {p.epoch}/{p.epochs}: loss {p.loss:.5f}, validation MSE {p.val_mse:.5f}", file=sys.stderr)
            return
        self._step(p)

    def epoch(self, p: Any) -> None:
        """Per-epoch bars for fine-tuning; a plain line per epoch when not on a terminal."""
        if p.val_r1 is not None:
            if self._bar is not None:
                self._bar.set_postfix(loss=f"{p.loss:.3f}", val_r1=f"{100 * p.val_r1:.1f}")
                self._bar.close()
                self._bar = None
            else:
                print(f"epoch {p.epoch}/{p.epochs}: loss {p.loss:.3f}, validation R@1 {100 * p.val_r1:.1f}", file=sys.stderr)
            return
        self._step(p)

    def _step(self, p: Any) -> None:
        if not self._tty:
            return
        if self._bar is None or p.epoch != self._epoch:
            from tqdm import tqdm

            self._epoch = p.epoch
            self._bar = tqdm(total=p.steps, unit=self._unit, desc=f"epoch {p.epoch}/{p.epochs}", file=sys.stderr, dynamic_ncols=True)
        self._bar.n = p.step
        self._bar.set_postfix(loss=f"{p.loss:.3f}", refresh=False)
        self._bar.refresh()


class PreparationPrinter:
    """The one-time LiteRT export as the CLI shows it: one line when it starts, the stage and percentage on a
    terminal while it runs, and how long it took at the end. Called with ``(name, stage, fraction)``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._started: float | None = None
        self._name = ""

    def update(self, name: str, stage: str, fraction: float) -> None:
        from xmr_desktop.engine.litert_prepare import PREPARING_LINE

        line = PREPARING_LINE.format(name=name)
        if self._started is None or name != self._name:
            self._started, self._name = time.monotonic(), name
            if not self._tty:
                print(line, file=self._stream, flush=True)
        if fraction >= 1.0:
            seconds = time.monotonic() - self._started
            print(f"{chr(13) if self._tty else ''}{line} done in {seconds:.0f} s" + (" " * 20 if self._tty else ""),
                  file=self._stream, flush=True)
            self._started = None
        elif self._tty:
            print(f"\r{line} {100 * fraction:3.0f}% {stage}"[:160].ljust(100), end="", file=self._stream, flush=True)
