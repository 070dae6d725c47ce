"""First run without a model: the download dialog (progress, cancel, offline) and choosing a local folder."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel

from fake_hub import FakeHub, FakeRepo
from fakes import ColourEmbedder
from tests.ui.helpers import INDEX_TIMEOUT_MS
from xmr_desktop.engine.downloads import unavailable_message
from xmr_desktop.engine.loading import MODEL_MARKER
from xmr_desktop.engine.progress import STAGE_CONVERT, STAGE_DOWNLOAD, STAGE_PREPARE, STAGE_VERIFY
from xmr_desktop.engine.registry import DEFAULT_MODEL, REGISTRY
from xmr_desktop.errors import ModelUnavailableError, XmrError
from xmr_desktop.ui.model_dialog import ModelDialog
from xmr_desktop.ui.model_download import DownloadCancelled, DownloadControl, _child_download, hub_download
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
    """What the engine raises when the hub cannot be reached (the message the CLI prints too)."""
    spec = REGISTRY[status.argument or DEFAULT_MODEL]
    raise ModelUnavailableError(unavailable_message(spec, models_dir, ConnectionError("Name or service not known")))


def shown(label: QLabel) -> str:
    """A label's text as read (without the invisible break opportunities added after path separators)."""
    return label.text().replace("\u200b", "").replace("\u2060", "").replace("\u00a0", " ")


def assert_text_fits(dialog: ModelDialog) -> None:
    """Every visible label wraps within the dialog and gets the height its wrapped text needs: nothing clipped."""
    labels = [label for label in dialog.findChildren(QLabel) if label.isVisibleTo(dialog) and label.text()]
    assert labels
    for label in labels:
        assert label.wordWrap()
        assert label.height() >= label.heightForWidth(label.width()), label.text()
        corner = label.mapTo(dialog, QPoint(0, 0))
        assert dialog.rect().contains(QRect(corner, label.size())), label.text()
        needed = QFontMetrics(label.font()).boundingRect(
            QRect(0, 0, label.width(), 1_000_000), int(Qt.TextFlag.TextWordWrap), label.text()
        )
        assert needed.width() <= label.width() and needed.height() <= label.height(), label.text()


# Child-process targets for hub_download (module level: the spawned child imports them by name).


def child_writes_model(argument: str | None, models_dir: str, queue: Any, *_: Any) -> None:
    queue.put(("total", WEIGHTS_BYTES))
    write_model(Path(models_dir), argument)
    queue.put(("done", ""))


def child_hangs(argument: str | None, models_dir: str, queue: Any, *_: Any) -> None:
    (Path(models_dir) / ".partial-hanging" / "download").mkdir(parents=True, exist_ok=True)
    (Path(models_dir) / ".partial-hanging" / "download" / "tf_model.h5.incomplete").write_bytes(b"\0" * 100)
    queue.put(("total", WEIGHTS_BYTES))
    time.sleep(600)


def child_online_small_chunks(*args: Any) -> None:
    """The real child download, against the local fake hub, landing bytes on disk as they arrive."""
    os.environ["HF_HUB_OFFLINE"] = "0"  # the test session is offline; the fake hub is on this machine
    from huggingface_hub import constants

    constants.DOWNLOAD_CHUNK_SIZE = 64 * 1024
    _child_download(*args)


def child_fails(argument: str | None, models_dir: str, queue: Any, *_: Any) -> None:
    queue.put(("failed", "no route to the hub (offline)", "Traceback: ConnectionError(the whole story)"))


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


def test_cancel_kills_the_child_and_deletes_nothing(paths: Any) -> None:
    """Cancel stops the download; its partial files stay for the resume, and other writers' folders are not touched."""
    models = paths.models_dir
    other_download = models / ".partial-someone--else"
    finetune_save = models / ".partial-mine-finetune-a1b2"
    for folder in (other_download, finetune_save):
        folder.mkdir(parents=True)
        (folder / "tf_model.h5").write_bytes(b"\0" * 10)
    control = DownloadControl(lambda total: control.cancel())  # cancel as soon as the child has started
    started = time.monotonic()
    with pytest.raises(DownloadCancelled):
        hub_download(model_status(None, models), models, control, target=child_hangs)
    assert time.monotonic() - started < 30
    assert (models / ".partial-hanging" / "download" / "tf_model.h5.incomplete").is_file()
    assert other_download.is_dir() and finetune_save.is_dir()


def test_a_failing_child_reports_its_message_and_logs_the_details(paths: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xmr_desktop.ui.model_download")
    with pytest.raises(XmrError) as raised:
        hub_download(model_status(None, paths.models_dir), paths.models_dir, DownloadControl(lambda t: None), target=child_fails)
    assert str(raised.value) == "no route to the hub (offline)"  # the one line for the screen
    assert "ConnectionError(the whole story)" in caplog.text  # the whole exception, for the log only


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
    assert shown(dialog.message).startswith("You appear to be offline: the model 'datacomp-b32' (about 605 MB)")
    assert "--model /path/to/folder" in shown(dialog.message) and "Choose a local model folder" in shown(dialog.message)
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


def staged_download(gate: threading.Event) -> Any:
    """A download that reports the plan, bytes over time and every stage, including the export's, then finishes."""

    def download(status: ModelStatus, models_dir: Path, control: DownloadControl) -> None:
        control.set_plan([STAGE_DOWNLOAD, STAGE_VERIFY, STAGE_CONVERT, STAGE_PREPARE])
        total = 605 * 10**6
        control.set_transfer(0, total)
        time.sleep(0.6)  # the meter needs two samples apart to tell a speed
        control.set_transfer(200 * 10**6, total)
        time.sleep(0.6)
        control.set_transfer(300 * 10**6, total)
        gate.wait(10)
        control.set_stage(STAGE_VERIFY, 1.0)
        control.set_stage(STAGE_CONVERT, 1.0)
        control.set_stage(STAGE_PREPARE, 0.5)  # what the LiteRT export reports through its progress callable
        gate.clear()
        gate.wait(10)
        write_model(models_dir, status.argument)

    return download


def test_progress_shows_size_speed_time_left_and_each_stage(qtbot: Any, paths: Any) -> None:
    gate = threading.Event()
    dialog = ModelDialog(model_status(None, paths.models_dir), paths.models_dir, download_fn=staged_download(gate))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.download_button.click()
    qtbot.waitUntil(lambda: "300 MB of 605 MB" in dialog.bytes_label.text(), timeout=10_000)
    text = dialog.bytes_label.text()
    assert "MB/s" in text and "left" in text
    assert [shown(dialog.stage_labels[s]) for s in (STAGE_DOWNLOAD, STAGE_PREPARE)] == [
        "▸ Download (605 MB) — 50%", "○ Prepare the model for this CPU"
    ]
    assert_text_fits(dialog)
    gate.set()
    qtbot.waitUntil(lambda: "50%" in dialog.stage_labels[STAGE_PREPARE].text(), timeout=10_000)
    assert shown(dialog.stage_labels[STAGE_DOWNLOAD]) == "✓ Download (605 MB)"
    assert shown(dialog.stage_labels[STAGE_CONVERT]) == "✓ Convert the weights for TensorFlow"
    assert shown(dialog.stage_labels[STAGE_PREPARE]) == "▸ Prepare the model for this CPU — 50%"
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        gate.set()


@pytest.mark.parametrize("size", [(200, 100), (480, 300), (1600, 1000), None])
def test_the_offline_message_is_plain_and_never_clipped(qtbot: Any, paths: Any, size: tuple[int, int] | None) -> None:
    dialog = ModelDialog(model_status(None, paths.models_dir), paths.models_dir, download_fn=offline_download)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.state_changed, timeout=10_000, check_params_cb=lambda state: state == "failed"):
        dialog.download_button.click()
    hint = dialog.minimumSizeHint()
    dialog.resize(*(size or (hint.width(), hint.height())))
    qtbot.waitUntil(lambda: dialog.height() >= dialog.minimumHeight())
    assert dialog.width() >= hint.width()
    assert_text_fits(dialog)
    message = shown(dialog.message)
    assert "\n\n" in message and "Traceback" not in message and "Error" not in message


def test_the_introduction_wraps_long_paths_too(qtbot: Any, tmp_path: Path) -> None:
    models = tmp_path / ("a-folder-with-a-rather-long-name-" * 4) / "models"
    dialog = ModelDialog(model_status(None, models), models, download_fn=offline_download)
    qtbot.addWidget(dialog)
    dialog.show()
    for size in [(200, 100), (700, 400)]:
        dialog.resize(*size)
        qtbot.waitUntil(lambda: dialog.height() >= dialog.minimumHeight())
        assert_text_fits(dialog)
    assert str(models) in shown(dialog.message) and "about 605 MB" in shown(dialog.message)


def test_cancel_then_resume_continues_the_download_where_it_stopped(qtbot: Any, paths: Any) -> None:
    """The real child process against a local hub: Cancel mid-transfer keeps the bytes, Resume asks for the rest."""
    commit = "c" * 40
    weights = os.urandom(2 << 20)
    server = FakeHub({"test/tiny-clip": FakeRepo(commit, {"config.json": b"{}", "tf_model.h5": weights})})
    cut = 512 * 1024
    release = server.stall("tf_model.h5", cut)
    download_fn = functools.partial(hub_download, endpoint=server.url, target=child_online_small_chunks)
    dialog = ModelDialog(model_status("test/tiny-clip", paths.models_dir), paths.models_dir, download_fn=download_fn)
    qtbot.addWidget(dialog)
    try:
        dialog.download_button.click()
        qtbot.waitUntil(lambda: dialog._meter.done >= cut, timeout=120_000)
        with qtbot.waitSignal(dialog.state_changed, timeout=30_000, check_params_cb=lambda state: state == "cancelled"):
            dialog.cancel_button.click()
        assert shown(dialog.message).startswith("Download paused.")
        assert dialog.download_button.text() == "Resume download" and dialog.download_button.isEnabled()
        release.set()
        server.unstall("tf_model.h5")
        before = len(server.requests)
        with qtbot.waitSignal(dialog.accepted, timeout=120_000):
            dialog.download_button.click()
    finally:
        release.set()
        server.close()
    resumed = [r for r in server.requests[before:] if r.method == "GET" and r.path.endswith("/tf_model.h5")]
    assert len(resumed) == 1 and int(resumed[0].headers["Range"].removeprefix("bytes=").rstrip("-")) >= cut - 64 * 1024
    installed = paths.models_dir / "test--tiny-clip"
    assert (installed / "tf_model.h5").read_bytes() == weights
