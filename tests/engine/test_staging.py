"""Model locks and owned staging folders: only a dead writer's leftovers are cleaned, never a live one's."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from xmr_desktop.engine.staging import (
    OWNER_FILE,
    ModelBusyError,
    Owner,
    clean_stale_staging,
    claim,
    download_staging,
    model_lock,
    process_start,
    staged_model_folder,
)
from xmr_desktop.errors import XmrError


def _dead_pid() -> int:
    """The pid of a process that has already exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def _staging(models_dir: Path, name: str, owner: Owner | None, *, age_s: float = 0.0) -> Path:
    folder = models_dir / f".partial-{name}"
    (folder / "download").mkdir(parents=True)
    (folder / "download" / "tf_model.h5.incomplete").write_bytes(b"\0" * 1000)
    if owner is not None:
        claim(folder, owner)
    if age_s:
        past = time.time() - age_s
        for path in [*folder.rglob("*"), folder]:
            os.utime(path, (past, past))
    return folder


def _hold_lock(models_dir: str, name: str, ready: object, release: object) -> None:
    """Child process: hold ``name``'s lock until told to stop (a live download in another process)."""
    with model_lock(Path(models_dir), name):
        ready.set()
        release.wait(60)


def test_a_dead_writers_staging_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    models = tmp_path / "models"
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    live_writer = context.Process(target=_hold_lock, args=(str(models), "live-model", ready, release), daemon=True)
    live_writer.start()
    try:
        assert ready.wait(60)
        live_owner = Owner(live_writer.pid, os.uname().nodename, process_start(live_writer.pid), "save", "live-model")
        live = _staging(models, "live-model-save-abc", live_owner, age_s=30 * 24 * 3600)
        dead_pid = _dead_pid()
        dead_save = _staging(models, "mine-finetune-x1", Owner(dead_pid, os.uname().nodename, "gone", "save", "mine"))
        report = clean_stale_staging(models)
        assert live.exists() and live in report.in_use
        assert not dead_save.exists() and dead_save in report.removed
    finally:
        release.set()
        live_writer.join(30)


def test_a_reused_pid_does_not_make_a_dead_owner_look_alive(tmp_path: Path) -> None:
    models = tmp_path / "models"
    me = Owner.current("save", "reused")
    assert me.is_alive() is True
    # Same pid, another start: the process that wrote the folder is gone and this one only inherited its number.
    reused = _staging(models, "reused-save-1", replace(me, pid=os.getppid(), started="another-boot:1"))
    clean_stale_staging(models)
    assert not reused.exists()


def test_a_dead_download_is_kept_to_resume_until_it_is_old(tmp_path: Path) -> None:
    models = tmp_path / "models"
    dead = Owner(_dead_pid(), os.uname().nodename, "gone", "download", "org--fresh")
    fresh = _staging(models, "org--fresh", dead)
    old = _staging(models, "org--old", replace(dead, model="org--old"), age_s=8 * 24 * 3600)
    report = clean_stale_staging(models)
    assert fresh.exists() and fresh in report.resumable
    assert not old.exists() and old in report.removed


def test_staging_from_older_versions_is_removed_once_untouched_for_an_hour(tmp_path: Path) -> None:
    models = tmp_path / "models"
    recent = _staging(models, "legacy-recent-k2j3", None)
    stale = _staging(models, "legacy-stale-p9q8", None, age_s=2 * 3600)
    clean_stale_staging(models)
    assert recent.exists() and not stale.exists()


def test_another_hosts_staging_is_left_alone(tmp_path: Path) -> None:
    models = tmp_path / "models"
    elsewhere = _staging(models, "shared-save-1", Owner(1, "some-other-host", None, "save", "shared"))
    assert clean_stale_staging(models).in_use == [elsewhere]


def test_a_save_becomes_the_model_atomically_and_holds_its_lock(tmp_path: Path) -> None:
    models = tmp_path / "models"
    target = models / "mine"
    with staged_model_folder(target, purpose="finetune") as staging:
        record = json.loads((staging / OWNER_FILE).read_text())
        assert record["pid"] == os.getpid() and record["purpose"] == "finetune"
        (staging / "config.json").write_text("{}")
        # While the save runs, start-up cleaning in another process (or thread) leaves it alone...
        found: list[object] = []
        cleaner = threading.Thread(target=lambda: found.append(clean_stale_staging(models)))
        cleaner.start()
        cleaner.join()
        assert staging.exists() and found[0].in_use == [staging]
        # ...and nobody else can take the lock of this name meanwhile.
        with pytest.raises(ModelBusyError):
            with model_lock(models, "mine", timeout=0.2):
                pass
    assert (target / "config.json").is_file() and not (target / OWNER_FILE).exists()
    assert not list(models.glob(".partial-*"))


def test_a_failed_save_leaves_nothing_and_never_replaces_a_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(RuntimeError):
        with staged_model_folder(models / "broken"):
            raise RuntimeError("training crashed")
    assert not (models / "broken").exists() and not list(models.glob(".partial-*"))
    (models / "taken").mkdir()
    (models / "taken" / "keep.txt").write_text("the user's model")
    with pytest.raises(XmrError, match="already exists"):
        with staged_model_folder(models / "taken") as staging:
            (staging / "config.json").write_text("{}")
    assert (models / "taken" / "keep.txt").read_text() == "the user's model"


def test_owner_records_round_trip(tmp_path: Path) -> None:
    folder = download_staging(tmp_path, "org--model")
    owner = Owner.current("download", "org--model")
    claim(folder, owner)
    assert json.loads((folder / OWNER_FILE).read_text()) == asdict(owner)
