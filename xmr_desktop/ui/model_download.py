"""Downloading a model for the first-run dialog, in a child process that Cancel can really stop.

The hub client downloads files on its own threads and offers no way to stop them; a child process can be
killed, and its partial folder removed. The child also asks the hub for the weights' size first, so the dialog
shows real progress (bytes landed in the partial folder out of the total) instead of a busy bar.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from xmr_desktop.errors import XmrError
from xmr_desktop.core.models import ModelStatus

log = logging.getLogger(__name__)


class DownloadCancelled(Exception):
    """The user pressed Cancel; nothing was kept."""


class DownloadControl:
    """What a download function gets from the dialog: where to report the size, and whether to stop.

    Attributes:
        cancelled: set when the user cancels; ``on_cancel`` callbacks run at that moment.
    """

    def __init__(self, on_total: Callable[[int], None]) -> None:
        self.cancelled = threading.Event()
        self._on_total = on_total
        self._on_cancel: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def set_total(self, total_bytes: int) -> None:
        self._on_total(total_bytes)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._on_cancel.append(callback)
            run_now = self.cancelled.is_set()
        if run_now:
            callback()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled.set()
            callbacks = list(self._on_cancel)
        for callback in callbacks:
            callback()


# (status, models_dir, control) -> None; raises XmrError (offline, unknown model) or DownloadCancelled.
DownloadFn = Callable[[ModelStatus, Path, DownloadControl], None]


def _child_download(argument: str | None, models_dir: str, queue: Any) -> None:
    """Runs in the child process: report the weights' size, then fetch (and convert) the model."""
    try:
        from huggingface_hub.utils import disable_progress_bars

        from xmr_desktop.engine.loading import ensure_model
        from xmr_desktop.engine.registry import resolve_model_argument

        disable_progress_bars()
        ref = resolve_model_argument(argument)
        if ref.spec is not None:
            queue.put(("total", _weights_size(ref.spec.hub_id)))
        ensure_model(ref, Path(models_dir))
        queue.put(("done", ""))
    except XmrError as error:
        queue.put(("failed", str(error)))
    except Exception as error:  # noqa: BLE001  the parent must hear about every failure
        queue.put(("failed", f"The download failed ({type(error).__name__}: {error})."))


def _weights_size(hub_id: str) -> int:
    """Bytes of the largest weights file in the hub repository (0 if the hub cannot say)."""
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(hub_id, files_metadata=True)
        sizes = [s.size or 0 for s in info.siblings or [] if s.rfilename.endswith((".h5", ".safetensors"))]
        return max(sizes, default=0)
    except Exception:  # noqa: BLE001  progress is a nicety; the download itself reports real errors
        return 0


def hub_download(
    status: ModelStatus, models_dir: Path, control: DownloadControl, *, target: Callable[..., None] = _child_download
) -> None:
    """Download ``status``'s model in a child process; Cancel kills it and removes the partial folder."""
    context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt threads
    queue = context.SimpleQueue()
    child = context.Process(
        target=target, args=(status.argument, str(models_dir), queue), name="xmr-model-download", daemon=True
    )
    child.start()
    control.on_cancel(child.kill)
    outcome: tuple[str, str] | None = None
    while outcome is None and (child.is_alive() or not queue.empty()):
        if not queue.empty():
            kind, value = queue.get()
            if kind == "total":
                control.set_total(int(value))
            else:
                outcome = (kind, str(value))
        else:
            child.join(0.2)
    child.join(5)
    if control.cancelled.is_set():
        remove_partials(models_dir)
        raise DownloadCancelled()
    if outcome is None:
        raise XmrError(f"The download process ended unexpectedly (exit code {child.exitcode}).")
    if outcome[0] == "failed":
        raise XmrError(outcome[1])


def remove_partials(models_dir: Path) -> None:
    """Delete partial download folders (left by a killed download or a crash); only while none runs."""
    for partial in models_dir.glob(".partial-*"):
        shutil.rmtree(partial, ignore_errors=True)


def partial_bytes(models_dir: Path) -> int:
    """Bytes already in partial download folders (the dialog polls this for its progress bar)."""
    landed = 0
    try:
        for partial in models_dir.glob(".partial-*"):
            landed += sum(f.stat().st_size for f in partial.rglob("*") if f.is_file())
    except OSError:  # files move while the download finishes; the next poll counts again
        pass
    return landed


class ModelDownload(QObject):
    """One download on a background thread (which may itself wait on a child process).

    Signals:
        total(bytes): the size to expect, once known.
        succeeded(): the model is complete on disk.
        failed(message): it could not be fetched (offline, unknown id, disk full).
        ended(): the download thread is done, whatever the outcome (a cancelled one has cleaned up).
    """

    total = Signal(int)
    succeeded = Signal()
    failed = Signal(str)
    ended = Signal()

    def __init__(self, status: ModelStatus, models_dir: Path, download_fn: DownloadFn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status, self.models_dir = status, models_dir
        self._download_fn = download_fn
        self.control = DownloadControl(self.total.emit)
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xmr-model-download", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.control.cancel()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._attempt()
        finally:
            self.done.set()
            self.ended.emit()

    def _attempt(self) -> None:
        try:
            self._download_fn(self.status, self.models_dir, self.control)
        except DownloadCancelled:
            log.info("model download cancelled")
            return
        except XmrError as error:
            log.warning("model download failed: %s", error)
            self.failed.emit(str(error))
            return
        except Exception as error:  # noqa: BLE001  the thread must always report back
            log.exception("model download failed")
            self.failed.emit(f"The download failed ({type(error).__name__}: {error}).")
            return
        if not self.control.cancelled.is_set():
            self.succeeded.emit()
