"""Downloading a model for the first-run dialog, in a child process that Cancel can really stop.

The hub client downloads on its own threads and offers no way to stop them; a child process can be killed. Its
model lock dies with it, and its partial files stay where they are: the next download resumes them, and nothing
here ever deletes a staging folder (stale ones are cleaned at start, by ``engine.staging.clean_stale_staging``).
The child reports the plan of stages, each stage's progress and the bytes landed; the dialog turns the bytes into
size, speed and time left. A multilingual text tower (``mclip-b32``) comes in two parts, each with its own plan:
the CLIP whose image tower it uses (when missing), then the tower (``text_towers.ensure_text_tower``).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from xmr_desktop.errors import XmrError
from xmr_desktop.core.models import ModelStatus

log = logging.getLogger(__name__)


class DownloadCancelled(Exception):
    """The user pressed Cancel; what was downloaded so far is kept for the next attempt."""


class DownloadControl:
    """What a download function gets from the dialog: where to report progress, and whether to stop.

    Attributes:
        cancelled: set when the user cancels; ``on_cancel`` callbacks run at that moment.
    """

    def __init__(
        self,
        on_total: Callable[[int], None],
        *,
        on_plan: Callable[[list[str]], None] | None = None,
        on_stage: Callable[[str, float], None] | None = None,
        on_transfer: Callable[[int, int], None] | None = None,
        on_part: Callable[[str], None] | None = None,
    ) -> None:
        self.cancelled = threading.Event()
        self._on_total = on_total
        self._on_plan, self._on_stage, self._on_transfer = on_plan, on_stage, on_transfer
        self._on_part = on_part
        self._on_cancel: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def set_total(self, total_bytes: int) -> None:
        self._on_total(total_bytes)

    def set_plan(self, stages: list[str]) -> None:
        if self._on_plan is not None:
            self._on_plan(list(stages))

    def set_part(self, description: str) -> None:
        """A new part of the install begins (its own plan and bytes follow), e.g. the tower after its CLIP."""
        if self._on_part is not None:
            self._on_part(description)

    def set_stage(self, stage: str, fraction: float) -> None:
        if self._on_stage is not None:
            self._on_stage(stage, fraction)

    def set_transfer(self, done: int, total: int) -> None:
        if self._on_transfer is not None:
            self._on_transfer(done, total)
        if total:
            self._on_total(total)

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


def _child_download(
    argument: str | None, models_dir: str, queue: Any, endpoint: str | None = None, prepare: Any = None
) -> None:
    """Runs in the child process: announce the stages, then fetch, verify, convert and prepare the model."""
    try:
        from huggingface_hub.utils import disable_progress_bars

        from xmr_desktop.engine.downloads import planned_stages
        from xmr_desktop.engine.loading import ensure_model
        from xmr_desktop.engine.registry import resolve_model_argument

        from xmr_desktop.engine.text_towers import text_tower_spec

        disable_progress_bars()
        progress = {
            "on_stage": lambda stage, fraction: queue.put(("stage", stage, float(fraction))),
            "on_transfer": lambda done, total: queue.put(("transfer", int(done), int(total))),
        }
        tower = text_tower_spec(argument)
        if tower is not None:
            _install_tower(tower, Path(models_dir), queue, endpoint, prepare, progress)
            queue.put(("done", "", ""))
            return
        ref = resolve_model_argument(argument)
        if ref.spec is not None:
            queue.put(("plan", planned_stages(ref.spec, prepare=prepare is not None)))
        ensure_model(ref, Path(models_dir), endpoint=endpoint, prepare=prepare, **progress)
        queue.put(("done", "", ""))
    except XmrError as error:
        queue.put(("failed", str(error), _details(error)))
    except Exception as error:  # noqa: BLE001  the parent must hear about every failure
        queue.put(("failed", f"The download failed ({type(error).__name__}; the log has the details).", _details(error)))


def _install_tower(tower: Any, models_dir: Path, queue: Any, endpoint: str | None, prepare: Any, progress: dict[str, Any]) -> None:
    """The CLIP a text tower is bound to (when missing, with ``prepare``), then the tower, each announced as a part."""
    from xmr_desktop.engine.downloads import planned_stages
    from xmr_desktop.engine.loading import ensure_model, model_folder
    from xmr_desktop.engine.registry import resolve_model_argument
    from xmr_desktop.engine.text_towers import ensure_text_tower, tower_folder

    clip = resolve_model_argument(tower.image_model)
    clip_missing = not model_folder(clip, models_dir)[1]
    tower_missing = not tower_folder(tower, models_dir)[1]
    step = "Step 2 of 2: " if clip_missing and tower_missing else ""
    if clip_missing:
        assert clip.spec is not None
        queue.put(("part", f"{'Step 1 of 2: ' if tower_missing else ''}the image tower of {tower.image_model}"))
        queue.put(("plan", planned_stages(clip.spec, prepare=prepare is not None)))
        ensure_model(clip, models_dir, endpoint=endpoint, prepare=prepare, **progress)
    if tower_missing:
        queue.put(("part", f"{step}the multilingual text tower {tower.name}"))
        queue.put(("plan", planned_stages(tower.model_spec, prepare=True)))  # its compaction is the prepare step
    ensure_text_tower(tower, models_dir, endpoint=endpoint, **progress)


def _details(error: BaseException) -> str:
    """The whole exception, causes included: for the parent's log, never for the screen."""
    return "".join(traceback.format_exception(error))


def hub_download(
    status: ModelStatus,
    models_dir: Path,
    control: DownloadControl,
    *,
    target: Callable[..., None] = _child_download,
    endpoint: str | None = None,
    prepare: Any = None,
) -> None:
    """Download ``status``'s model in a child process; Cancel kills it and keeps its partial files.

    ``prepare`` is the step that readies a converted model for this computer (the LiteRT export); it runs in the
    child, so it must be a module-level function.
    """
    context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt threads
    queue = context.SimpleQueue()
    child = context.Process(
        target=target,
        args=(status.argument, str(models_dir), queue, endpoint, prepare),
        name="xmr-model-download",
        daemon=True,
    )
    child.start()
    control.on_cancel(child.kill)
    outcome: tuple[str, str, str] | None = None
    while outcome is None and (child.is_alive() or not queue.empty()):
        if queue.empty():
            child.join(0.2)
            continue
        message = queue.get()
        kind = message[0]
        if kind == "total":
            control.set_total(int(message[1]))
        elif kind == "plan":
            control.set_plan(list(message[1]))
        elif kind == "stage":
            control.set_stage(str(message[1]), float(message[2]))
        elif kind == "part":
            control.set_part(str(message[1]))
        elif kind == "transfer":
            control.set_transfer(int(message[1]), int(message[2]))
        else:
            outcome = (kind, str(message[1]), str(message[2]) if len(message) > 2 else "")
    child.join(5)
    if control.cancelled.is_set():
        raise DownloadCancelled()
    if outcome is None:
        raise XmrError(f"The download process ended unexpectedly (exit code {child.exitcode}).")
    kind, text, details = outcome
    if kind == "failed":
        log.info("the model download failed: %s\n%s", text, details)
        raise XmrError(text)


def prepared_hub_download(status: ModelStatus, models_dir: Path, control: DownloadControl) -> None:
    """``hub_download`` ending with this computer's preparation: the LiteRT export where LiteRT computes (its
    own stage in the dialog), nothing where TensorFlow does."""
    from xmr_desktop.engine.litert_prepare import litert_prepare_step

    hub_download(status, models_dir, control, prepare=litert_prepare_step())


class ModelDownload(QObject):
    """One download on a background thread (which may itself wait on a child process).

    Signals:
        total(bytes): the size to expect, once known.
        plan(stages): the stages the install goes through, in order.
        stage(name, fraction): progress of one stage.
        transfer(done, total): bytes landed so far and bytes expected.
        part(description): a new part of the install begins (a text tower's CLIP, then the tower).
        succeeded(): the model is complete on disk.
        failed(message): it could not be fetched (offline, unknown id, disk full, checksum).
        ended(): the download thread is done, whatever the outcome.
    """

    total = Signal(object)
    plan = Signal(object)
    stage = Signal(str, float)
    transfer = Signal(object, object)
    part = Signal(str)
    succeeded = Signal()
    failed = Signal(str)
    ended = Signal()

    def __init__(self, status: ModelStatus, models_dir: Path, download_fn: DownloadFn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status, self.models_dir = status, models_dir
        self._download_fn = download_fn
        self.control = DownloadControl(
            self.total.emit, on_plan=self.plan.emit, on_stage=self.stage.emit, on_transfer=self.transfer.emit,
            on_part=self.part.emit,
        )
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
            log.info("model download cancelled; its partial files are kept for the next attempt")
            return
        except XmrError as error:
            log.warning("model download failed: %s", error)
            self.failed.emit(str(error))
            return
        except Exception as error:  # noqa: BLE001  the thread must always report back
            log.exception("model download failed")
            self.failed.emit(f"The download failed ({type(error).__name__}; the log has the details).")
            return
        if not self.control.cancelled.is_set():
            self.succeeded.emit()
