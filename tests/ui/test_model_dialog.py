"""First run without a model: the download dialog (progress, cancel, offline) and choosing a local folder."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fakes import ColourEmbedder
from tests.ui.helpers import INDEX_TIMEOUT_MS
from xmr_desktop.engine.loading import MODEL_MARKER
from xmr_desktop.engine.registry import DEFAULT_MODEL, REGISTRY
from xmr_desktop.errors import ModelUnavailableError, XmrError
from xmr_desktop.ui.model_dialog import ModelDialog
from xmr_desktop.ui.model_download import DownloadCancelled, DownloadControl, hub_download
from xmr_desktop.core.models import ModelStatus, model_status

WEIGHTS_BYTES = 4000


def write_model(models_dir: Path, name: str | None) -> None:
    spec = REGISTRY[name or DEFAULT_MODEL]
    partial = models_dir / f".partial-{spec.folder_name}-test"
    partial.mkdir(parents=True)
    (partial / "tf_model.h5").write_bytes(b"\0" * WEIGHTS_BYTES)
    (partial / "config.json").write_text("{}")
    (partial / MODEL_MARKER).write_text(json.dumps({"image_model_id": spec.hub_id}))
    partial.rename(models_dir / spec.folder_name)


def fake_download(gate: threading.Event | None = None) -> Any:
    """Stands in for the hub: reports the size, optionally waits, then writes a complete model folder."""

    def download(status: ModelStatus, models_dir: Path, control: DownloadControl) -> None:
        control.set_total(WEIGHTS_BYTES)
        if gate is not None:
            gate.wait(10)
            if control.cancelled.is_set():
                raise DownloadCancelled()
        write_model(models_dir, status.argument)

    return download


def offline_download(status: ModelStatus, models_dir: Path, control: DownloadControl) -> None:
    raise ModelUnavailableError(f"model '{status.name}' is not on disk and could not be downloaded (no network)")


# Child-process targets for hub_download (module level: the spawned child imports them by name).


def child_writes_model(argument: str | None, models_dir: str, queue: Any) -> None:
    queue.put(("total", WEIGHTS_BYTES))
    write_model(Path(models_dir), argument)
    queue.put(("done", ""))


def child_hangs(argument: str | None, models_dir: str, queue: Any) -> None:
    (Path(models_dir) / ".partial-hanging").mkdir(parents=True, exist_ok=True)
    (Path(models_dir) / ".partial-hanging" / "tf_model.h5.incomplete").write_bytes(b"\0" * 100)
    queue.put(("total", WEIGHTS_BYTES))
    time.sleep(600)


def child_fails(argument: str | None, models_dir: str, queue: Any) -> None:
    queue.put(("failed", "no route to the hub (offline)"))


def test_model_status_reads_the_disk_only(paths: Any, tmp_path: Path) -> None:
    status = model_status(None, paths.models_dir)
    assert (status.name, status.on_disk, status.problem) == (DEFAULT_MODEL, False, "")
    local = tmp_path / "my-clip"
    local.mkdir()
    assert not model_status(str(local), paths.models_dir).on_disk
    (local / "config.json").write_text("{}")
    assert model_status(str(local), paths.models_dir).on_disk
    assert model_status("no-such-model-name", paths.models_dir).problem


def test_download_in_a_child_process_succeeds(paths: Any) -> None:
    totals: list[int] = []
    hub_download(model_status(None, paths.models_dir), paths.models_dir, DownloadControl(totals.append), target=child_writes_model)
    assert totals == [WEIGHTS_BYTES]
    assert model_status(None, paths.models_dir).on_disk


def test_cancel_kills_the_child_process_and_removes_the_partial_folder(paths: Any) -> None:
    control = DownloadControl(lambda total: control.cancel())  # cancel as soon as the child has started
    started = time.monotonic()
    with pytest.raises(DownloadCancelled):
        hub_download(model_status(None, paths.models_dir), paths.models_dir, control, target=child_hangs)
    assert time.monotonic() - started < 30
    assert list(paths.models_dir.glob(".partial-*")) == []


def test_a_failing_child_reports_its_message(paths: Any) -> None:
    with pytest.raises(XmrError, match="offline"):
        hub_download(model_status(None, paths.models_dir), paths.models_dir, DownloadControl(lambda t: None), target=child_fails)


def test_download_with_progress_then_the_model_loads(qtbot: Any, paths: Any) -> None:
    dialog = ModelDialog(model_status(None, paths.models_dir), paths.models_dir, download_fn=fake_download())
    qtbot.addWidget(dialog)
    chosen: list[Any] = []
    dialog.model_chosen.connect(chosen.append)
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.download_button.click()
    assert chosen == [None]
    assert dialog._total == WEIGHTS_BYTES
    assert model_status(None, paths.models_dir).on_disk


def test_offline_says_so_and_cancel_stops(qtbot: Any, paths: Any) -> None:
    dialog = ModelDialog(model_status(None, paths.models_dir), paths.models_dir, download_fn=offline_download)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.state_changed, timeout=10_000, check_params_cb=lambda state: state == "failed"):
        dialog.download_button.click()
    assert "offline" in dialog.message.text() and "no network" in dialog.message.text()
    assert dialog.download_button.text() == "Try again" and dialog.download_button.isEnabled()

    gate = threading.Event()
    dialog._download_fn = fake_download(gate)
    dialog.download_button.click()
    assert not dialog.cancel_button.isHidden() and not dialog.progress.isHidden()
    assert not dialog.download_button.isEnabled()
    with qtbot.waitSignal(dialog.state_changed, timeout=10_000, check_params_cb=lambda state: state == "cancelled"):
        dialog.cancel_button.click()
        assert dialog.message.text() == "Cancelling…"
        gate.set()
    assert "cancelled" in dialog.message.text() and dialog.download_button.isEnabled()
    assert dialog.result() == 0
    assert not model_status(None, paths.models_dir).on_disk


def test_a_local_model_folder_can_be_chosen(qtbot: Any, paths: Any, tmp_path: Path) -> None:
    dialog = ModelDialog(model_status(None, paths.models_dir), paths.models_dir, download_fn=offline_download)
    qtbot.addWidget(dialog)
    chosen: list[Any] = []
    dialog.model_chosen.connect(chosen.append)
    assert not dialog.use_local_folder(str(tmp_path))
    assert "config.json" in dialog.message.text()
    (tmp_path / "config.json").write_text("{}")
    assert dialog.use_local_folder(str(tmp_path))
    assert chosen == [str(tmp_path)]


def test_without_a_model_the_window_opens_the_dialog_and_stays_usable(qtbot: Any, paths: Any, photo_dir: Path) -> None:
    from xmr_desktop.ui.main_window import MainWindow

    loaded: list[Any] = []
    fake = ColourEmbedder()

    def factory(argument: Any, models_dir: Path) -> ColourEmbedder:
        loaded.append(argument)
        return fake

    window = MainWindow(paths, embedder_factory=factory, check_model=True, download_fn=offline_download)
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: getattr(window, "model_dialog", None) is not None and window.model_dialog.isVisible())
    dialog = window.model_dialog
    with qtbot.waitSignal(dialog.state_changed, timeout=10_000, check_params_cb=lambda state: state == "failed"):
        dialog.download_button.click()
    dialog.reject()
    assert window.status_panel.device_label.text() == "No model"

    # Folders can still be added; they wait for the model.
    with qtbot.waitSignal(window.folders_updated, timeout=INDEX_TIMEOUT_MS, check_params_cb=lambda infos: len(infos) == 1 and infos[0].total == 5):
        window.add_folder(str(photo_dir))
    assert window.folders_panel.model.folders()[0].state.value == "waiting for the model"
    assert loaded == []

    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS):
        window._on_model_chosen(None)  # what the dialog does after a successful download
    assert loaded == [None] and fake.images_embedded == 5
    window.close()


def test_a_model_saved_under_a_name_counts_as_on_disk(tmp_path) -> None:
    """`xmr finetune --out mine` saves into the models folder; the window must accept `--model mine`."""
    from xmr_desktop.engine.loading import write_model_marker
    from xmr_desktop.core.models import model_status

    saved = tmp_path / "models" / "mine"
    saved.mkdir(parents=True)
    (saved / "config.json").write_text("{}")
    write_model_marker(saved, image_model_id="base")
    status = model_status("mine", tmp_path / "models")
    assert (status.on_disk, status.problem) == (True, "")
