"""Hub downloads against a local fake hub: pinned and verified, locked, resumable, no token, plain failures."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_hub import FakeHub, FakeRepo, online
from xmr_desktop.engine import integrity
from xmr_desktop.engine.downloads import install_model, partial_download_bytes
from xmr_desktop.engine.loading import MODEL_MARKER, ensure_model, read_model_id
from xmr_desktop.engine.progress import STAGE_DOWNLOAD, STAGE_VERIFY, STAGE_WAIT
from xmr_desktop.engine.registry import ModelRef, ModelSpec, resolve_model_argument
from xmr_desktop.engine.staging import LOCKS_DIR, download_staging
from xmr_desktop.errors import ModelIntegrityError, ModelUnavailableError

COMMIT = "0123456789abcdef0123456789abcdef01234567"
WEIGHTS = os.urandom(1 << 20)  # served as an LFS object; never loaded (a tf_h5 model is installed without TF)
SECRET_TOKEN = "hf_this_must_never_leave_the_machine"


def _repo(weights: bytes = WEIGHTS) -> FakeRepo:
    return FakeRepo(
        COMMIT,
        {
            "config.json": b'{"model_type": "clip"}',
            "tokenizer.json": b'{"model": {}}',
            "tf_model.h5": weights,
            "pytorch_model.bin": b"a pickle xmr must never download",
        },
    )


def _spec(name: str = "tiny", *, sha256: str | None = None, pinned: bool = True) -> ModelSpec:
    return ModelSpec(
        name,
        f"test/{name}",
        16,
        "tf_h5",
        revision=COMMIT if pinned else None,
        weights_sha256=(sha256 or hashlib.sha256(WEIGHTS).hexdigest()) if pinned else None,
        download_bytes=len(WEIGHTS),
    )


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    monkeypatch.setenv("HF_TOKEN", SECRET_TOKEN)  # a logged-in user: the client would send this if allowed
    server = FakeHub({"test/tiny": _repo()})
    with online():
        yield server
    server.close()


def test_a_pinned_download_is_verified_and_sends_nothing_but_the_requests(hub: FakeHub, tmp_path: Path) -> None:
    models = tmp_path / "models"
    stages: list[tuple[str, float]] = []
    transfers: list[tuple[int, int]] = []
    folder = install_model(
        _spec(), models, endpoint=hub.url, on_stage=lambda s, f: stages.append((s, f)),
        on_transfer=lambda d, t: transfers.append((d, t)),
    )
    marker = json.loads((folder / MODEL_MARKER).read_text())
    assert marker["revision"] == COMMIT
    assert marker["image_model_id"] == read_model_id(folder) == f"test/tiny@{COMMIT}"
    assert marker["source"]["files"]["tf_model.h5"]["sha256"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert marker["verified"] == "pinned by xmr"
    assert (folder / "tf_model.h5").read_bytes() == WEIGHTS and not (folder / "pytorch_model.bin").exists()
    assert sorted(p.name for p in models.iterdir()) == [LOCKS_DIR, "test--tiny"]  # no staging left behind

    assert hub.requests, "the fake hub saw no request"
    for request in hub.requests:
        headers = {key.lower(): value for key, value in request.headers.items()}
        assert "authorization" not in headers and SECRET_TOKEN not in json.dumps(request.headers)
        assert "tensorflow/" not in headers.get("user-agent", "")  # telemetry off: no library inventory
        assert "/main" not in request.path and COMMIT in request.path  # every request names the pinned commit
    assert {r.path.split("?")[0].rsplit("/", 1)[-1] for r in hub.requests if r.method == "GET"} >= {"config.json", "tf_model.h5"}
    assert not any("pytorch_model.bin" in r.path for r in hub.requests)
    assert [s for s, _ in stages if s in (STAGE_DOWNLOAD, STAGE_VERIFY)][0] == STAGE_DOWNLOAD
    assert (STAGE_VERIFY, 1.0) in stages and transfers[-1][0] >= len(WEIGHTS)


def test_weights_that_do_not_match_the_pin_are_refused_and_nothing_is_kept(hub: FakeHub, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(ModelIntegrityError) as raised:
        install_model(_spec(sha256="ab" * 32), models, endpoint=hub.url)
    message = str(raised.value)
    assert "\n" not in message
    assert "tf_model.h5" in message and "'tiny'" in message and "not the one this version of xmr pins" in message
    assert "nothing was installed" in message
    assert [p.name for p in models.iterdir()] == [LOCKS_DIR]
    assert not integrity.trusted(models, "test/tiny")


def test_a_file_that_differs_from_the_hubs_own_listing_is_refused(hub: FakeHub, tmp_path: Path) -> None:
    hub.repos["test/tiny"].listed_sha256["tf_model.h5"] = "cd" * 32  # bytes damaged between hub and disk
    with pytest.raises(ModelIntegrityError, match="not the one the hub lists"):
        install_model(_spec(pinned=False), tmp_path / "models", endpoint=hub.url)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [LOCKS_DIR]


def test_an_unpinned_model_is_trusted_on_first_use_and_then_held_to_it(hub: FakeHub, tmp_path: Path) -> None:
    models = tmp_path / "models"
    spec = _spec(pinned=False)
    folder = install_model(spec, models, endpoint=hub.url)
    record = integrity.trusted(models, "test/tiny")
    assert record is not None and record.revision == COMMIT
    assert record.files["tf_model.h5"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert json.loads((folder / MODEL_MARKER).read_text())["verified"] == "first download, recorded"

    # The user deletes the model; the hub now serves other bytes under the same commit and file name.
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    hub.repos["test/tiny"] = _repo(weights=os.urandom(len(WEIGHTS)))
    with pytest.raises(ModelIntegrityError) as raised:
        install_model(spec, models, endpoint=hub.url)
    assert "not the one its first download recorded" in str(raised.value)
    assert integrity.TRUST_FILE in str(raised.value)
    assert not folder.exists()


def test_a_second_download_of_the_same_model_waits_and_reuses_the_first(hub: FakeHub, tmp_path: Path) -> None:
    models = tmp_path / "models"
    first_inside, release_first = threading.Event(), threading.Event()

    def slow_prepare(directory: Path, progress: Any) -> dict[str, Any]:
        first_inside.set()
        assert release_first.wait(60)
        return {"prepared": True}

    results: dict[str, Any] = {}
    second_stages: list[str] = []

    def first() -> None:
        results["first"] = install_model(_spec(), models, endpoint=hub.url, prepare=slow_prepare)

    def second() -> None:
        results["second"] = install_model(_spec(), models, endpoint=hub.url, on_stage=lambda s, f: second_stages.append(s))

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert first_inside.wait(60)
    threads.append(threading.Thread(target=second))
    threads[1].start()
    deadline = time.monotonic() + 60
    while STAGE_WAIT not in second_stages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert second_stages == [STAGE_WAIT]  # it waits for the lock instead of downloading alongside
    release_first.set()
    for thread in threads:
        thread.join(60)
    assert results["first"] == results["second"]
    marker = json.loads((results["first"] / MODEL_MARKER).read_text())
    assert marker["prepared"] is True  # the second never replaced the first's folder
    weight_gets = [r for r in hub.requests if r.method == "GET" and r.path.endswith("/tf_model.h5")]
    assert len(weight_gets) == 1


def _interrupted_child(endpoint: str, models_dir: str) -> None:
    """Child process: a download the test kills mid-transfer (the window's Cancel, or a crash)."""
    os.environ["HF_HUB_OFFLINE"] = "0"
    from huggingface_hub import constants

    constants.DOWNLOAD_CHUNK_SIZE = 64 * 1024  # land bytes on disk as they arrive, like a slow real connection
    install_model(_spec(), Path(models_dir), endpoint=endpoint)


def test_a_download_killed_mid_transfer_resumes_where_it_stopped(hub: FakeHub, tmp_path: Path) -> None:
    models = tmp_path / "models"
    cut = 512 * 1024
    release = hub.stall("tf_model.h5", cut)
    child = multiprocessing.get_context("spawn").Process(target=_interrupted_child, args=(hub.url, str(models)), daemon=True)
    child.start()
    deadline = time.monotonic() + 120
    while partial_download_bytes(models, _spec()) < cut and time.monotonic() < deadline and child.is_alive():
        time.sleep(0.1)
    child.kill()
    child.join(30)
    release.set()
    landed = partial_download_bytes(models, _spec())
    assert landed >= cut, "the child never got the first part of the file"
    assert not (models / "test--tiny").exists()

    before = len(hub.requests)
    folder = install_model(_spec(), models, endpoint=hub.url)
    assert (folder / "tf_model.h5").read_bytes() == WEIGHTS
    resumed = [r for r in hub.requests[before:] if r.method == "GET" and r.path.endswith("/tf_model.h5")]
    assert len(resumed) == 1
    start = int(resumed[0].headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert start >= cut - 64 * 1024  # it asked only for the rest
    assert not download_staging(models, "test--tiny").exists()


def test_offline_the_message_names_the_model_its_size_and_both_ways_forward(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xmr_desktop.engine.downloads")
    with pytest.raises(ModelUnavailableError) as raised:  # the test session is offline (HF_HUB_OFFLINE=1)
        ensure_model(resolve_model_argument("datacomp-b32"), tmp_path / "models")
    message = str(raised.value)
    assert message.startswith("You appear to be offline: the model 'datacomp-b32' (about 605 MB)")
    assert "Connect to the internet once" in message
    assert "Choose a local model folder" in message and "--model /path/to/folder" in message
    assert "\n" not in message and "OfflineModeIsEnabled" not in message
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and "OfflineModeIsEnabled" in logged[0].exc_info[0].__name__ + repr(logged[0].exc_info[1])


def test_an_unreachable_hub_reads_as_offline_too(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connection refused, like a network that is down
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with online(), pytest.raises(ModelUnavailableError, match="^You appear to be offline: the model 'tiny'"):
        install_model(_spec(), tmp_path / "models", endpoint=closed)


def test_an_unknown_repository_says_so(hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="has no model 'test/absent'"):
        ensure_model(ModelRef("test/absent", spec=ModelSpec("test/absent", "test/absent", 0, "tf_h5")), tmp_path / "models", endpoint=hub.url)


def test_a_repository_with_only_pickled_weights_is_refused(hub: FakeHub, tmp_path: Path) -> None:
    hub.repos["test/pickles"] = FakeRepo(COMMIT, {"config.json": b"{}", "pytorch_model.bin": b"\x80\x04 not for us"})
    with pytest.raises(Exception, match="pickled PyTorch .bin files are never loaded"):
        install_model(ModelSpec("test/pickles", "test/pickles", 0, "tf_h5"), tmp_path / "models", endpoint=hub.url)
    assert not any(r.path.endswith("pytorch_model.bin") for r in hub.requests)
