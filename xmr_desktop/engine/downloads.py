"""Installing a hub model into the models folder: under its lock, in its staging folder, resumably, verified
against its pin (or its first download), converted, prepared, and only then renamed into place.

One model, one lock: a second process downloading the same model waits and then finds it complete, and nothing
ever deletes a finished model folder. The staging folder ``models/.partial-<folder>`` is the same on every
attempt, so a download cut short by Cancel, a crash or a lost connection resumes where it stopped. Files are
checked before conversion; files that fail the check are deleted, never kept or resumed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from xmr_desktop.engine import hub_client, integrity
from xmr_desktop.engine.loading import MODEL_MARKER, convert_pt_checkpoint, write_model_marker
from xmr_desktop.engine.open_clip_layout import OPEN_CLIP_CONFIG, TOKENIZER_FILES, convert_open_clip_folder
from xmr_desktop.engine.progress import (
    STAGE_CONVERT,
    STAGE_DOWNLOAD,
    STAGE_PREPARE,
    STAGE_VERIFY,
    STAGE_WAIT,
    StageProgress,
    TransferProgress,
    format_bytes,
)
from xmr_desktop.engine.registry import WEIGHTS_FILES, ModelSpec
from xmr_desktop.engine.staging import Owner, claim, download_staging, model_lock, staged_bytes
from xmr_desktop.errors import ModelIntegrityError, ModelLoadError, ModelUnavailableError

log = logging.getLogger(__name__)

# A step run on the converted folder before it is marked complete (the LiteRT export): it reports through the
# progress callable and may return extra fields for the model's marker.
PrepareStep = Callable[[Path, StageProgress], Mapping[str, Any] | None]

_CONFIGS = {"tf_h5": "config.json", "pt_safetensors": "config.json", "open_clip_safetensors": OPEN_CLIP_CONFIG}
_SIDE_FILES = ["preprocessor_config.json", *TOKENIZER_FILES]
_POLL_S = 0.5


def _ignore(*_: object) -> None:
    return None


def planned_stages(spec: ModelSpec, *, prepare: bool) -> list[str]:
    """The stages an install of ``spec`` goes through, in order (what the dialog lists before it starts)."""
    stages = [STAGE_DOWNLOAD, STAGE_VERIFY]
    if spec.dim == 0 or spec.weights != "tf_h5":
        stages.append(STAGE_CONVERT)
    if prepare:
        stages.append(STAGE_PREPARE)
    return stages


def partial_download_bytes(models_dir: Path, spec: ModelSpec) -> int:
    """Bytes an earlier, unfinished download of ``spec`` left to resume from."""
    return staged_bytes(download_staging(models_dir, spec.folder_name) / "download")


def install_model(
    spec: ModelSpec,
    models_dir: Path,
    *,
    endpoint: str | None = None,
    on_stage: StageProgress | None = None,
    on_transfer: TransferProgress | None = None,
    prepare: PrepareStep | None = None,
    tqdm_class: Any = None,
) -> Path:
    """Download, verify, convert and prepare ``spec`` into ``models_dir``; return its complete folder.

    Raises ModelUnavailableError with a one-line message (offline, not found, disk full), ModelIntegrityError
    when files fail their checksum, ModelLoadError when they cannot be converted. The hub client's exception
    goes to the log whole. ``on_stage`` and ``on_transfer`` may be called from a helper thread.
    """
    on_stage = on_stage or _ignore
    target = models_dir / spec.folder_name
    models_dir.mkdir(parents=True, exist_ok=True)
    with model_lock(models_dir, spec.folder_name, on_wait=lambda: on_stage(STAGE_WAIT, 0.0)):
        if (target / MODEL_MARKER).is_file():
            return target  # another process finished it while we waited
        if target.exists():
            raise ModelUnavailableError(
                f"{target} exists but is not a complete model (it has no {MODEL_MARKER}); move it away and try again"
            )
        staging = download_staging(models_dir, spec.folder_name)
        claim(staging, Owner.current("download", spec.folder_name))
        trust = None if spec.pinned else integrity.trusted(models_dir, spec.hub_id)
        snapshot, files, weights_format = _download(
            spec, models_dir, staging / "download", trust, endpoint, on_stage, on_transfer, tqdm_class
        )
        on_stage(STAGE_VERIFY, 0.0)
        digests = _verify(spec, models_dir, snapshot, files, trust, staging)
        on_stage(STAGE_VERIFY, 1.0)
        ready = staging / "ready"
        shutil.rmtree(ready, ignore_errors=True)  # a conversion cut short last time
        _convert(weights_format, staging, files, ready, on_stage)
        extras = dict(prepare(ready, on_stage) or {}) if prepare is not None else {}
        write_model_marker(ready, **{**extras, **_marker(spec, snapshot, weights_format, files, digests, trust)})
        os.rename(ready, target)
        shutil.rmtree(staging, ignore_errors=True)
    if not spec.pinned and trust is None:
        integrity.record_trust(models_dir, spec.hub_id, snapshot.revision, digests)
    log.info("installed %s (%s at %s) in %s", spec.name, spec.hub_id, snapshot.revision, target)
    return target


def _download(
    spec: ModelSpec,
    models_dir: Path,
    download_dir: Path,
    trust: integrity.TrustRecord | None,
    endpoint: str | None,
    on_stage: StageProgress,
    on_transfer: TransferProgress | None,
    tqdm_class: Any,
) -> tuple[hub_client.RemoteSnapshot, dict[str, Path], str]:
    revision = spec.revision or (trust.revision if trust else None)
    on_stage(STAGE_DOWNLOAD, 0.0)
    try:
        snapshot = hub_client.list_files(spec.hub_id, revision, endpoint=endpoint)
        if revision is not None and snapshot.revision != revision:
            raise ModelIntegrityError(
                f"the hub answered for '{spec.hub_id}' with commit {snapshot.revision} instead of {revision}; "
                "nothing was downloaded"
            )
        weights_format = _weights_format(spec, snapshot)
        names = _files_to_fetch(spec, snapshot, weights_format)
        total = sum(snapshot.files[name].size or 0 for name in names)
        with _metering(download_dir, total, on_stage, on_transfer, tqdm_class):
            files = hub_client.fetch(snapshot, names, download_dir, endpoint=endpoint)
    except (OSError, ValueError) as error:  # requests' and the hub client's errors derive from these
        log.info("the download of %s failed; the hub client said:", spec.hub_id, exc_info=error)
        raise ModelUnavailableError(unavailable_message(spec, models_dir, error, revision=revision)) from error
    on_stage(STAGE_DOWNLOAD, 1.0)
    return snapshot, files, weights_format


def _weights_format(spec: ModelSpec, snapshot: hub_client.RemoteSnapshot) -> str:
    """The registry's format, or for an unknown hub id the first readable one its repository has."""
    formats = [spec.weights] if spec.dim else list(WEIGHTS_FILES)
    for weights_format in formats:
        if WEIGHTS_FILES[weights_format] in snapshot.files and _CONFIGS[weights_format] in snapshot.files:
            return weights_format
    wanted = " or ".join(f"{WEIGHTS_FILES[f]} with {_CONFIGS[f]}" for f in formats)
    raise ModelLoadError(
        f"'{spec.hub_id}' at {snapshot.revision[:12]} has no weights xmr can read (it needs {wanted}); "
        "pickled PyTorch .bin files are never loaded"
    )


def _files_to_fetch(spec: ModelSpec, snapshot: hub_client.RemoteSnapshot, weights_format: str) -> list[str]:
    # Small files first: the weights are what a resumed download mostly continues.
    side = [name for name in (*_SIDE_FILES, *spec.extra_files) if name in snapshot.files]
    return [_CONFIGS[weights_format], *side, WEIGHTS_FILES[weights_format]]


@contextlib.contextmanager
def _metering(
    folder: Path, total: int, on_stage: StageProgress, on_transfer: TransferProgress | None, tqdm_class: Any
) -> Iterator[None]:
    """Report the bytes under ``folder`` every half second while the body runs (resumed bytes included)."""
    stop = threading.Event()
    bar = tqdm_class(total=total or None, unit="B", unit_scale=True, desc="model") if tqdm_class else None

    def report() -> None:
        done = staged_bytes(folder)
        if on_transfer is not None:
            on_transfer(done, total)
        if total:
            on_stage(STAGE_DOWNLOAD, min(1.0, done / total))
        if bar is not None:
            bar.n = min(done, total) if total else done
            bar.refresh()

    def loop() -> None:
        while not stop.wait(_POLL_S):
            report()

    report()
    thread = threading.Thread(target=loop, name="xmr-download-meter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        report()
        if bar is not None:
            bar.close()


def _verify(
    spec: ModelSpec,
    models_dir: Path,
    snapshot: hub_client.RemoteSnapshot,
    files: dict[str, Path],
    trust: integrity.TrustRecord | None,
    staging: Path,
) -> dict[str, str]:
    """sha256 of every file, checked against the pin, the first download's record and the hub's own claim."""
    digests: dict[str, str] = {}
    for name, path in files.items():
        remote = snapshot.files[name]
        digest = digests[name] = integrity.sha256_of(path)
        checks: list[tuple[str, str, str]] = []  # (what the file hashes to, what it must be, who says so)
        if spec.pinned and name == spec.weights_file:
            checks.append((digest, str(spec.weights_sha256), "this version of xmr pins"))
        elif trust is not None and name in trust.files:
            checks.append((digest, trust.files[name], "its first download recorded"))
        if remote.sha256:
            checks.append((digest, remote.sha256, "the hub lists"))
        elif remote.blob_id:
            checks.append((integrity.git_blob_sha1(path), remote.blob_id, "the hub lists"))
        for actual, expected, source in checks:
            if actual != expected:
                shutil.rmtree(staging, ignore_errors=True)  # bad bytes must not be resumed or kept
                raise ModelIntegrityError(_mismatch_message(spec, models_dir, snapshot, name, actual, expected, source))
    return digests


def _mismatch_message(
    spec: ModelSpec,
    models_dir: Path,
    snapshot: hub_client.RemoteSnapshot,
    name: str,
    digest: str,
    expected: str,
    source: str,
) -> str:
    head = (
        f"The file {name} downloaded for the model '{spec.name}' ({spec.hub_id} at {snapshot.revision[:12]}) is not "
        f"the one {source} (checksum {digest[:12]}…, expected {expected[:12]}…); it was deleted and nothing was "
        "installed."
    )
    if source == "its first download recorded":
        return (
            f"{head} The weights on the hub have changed since then; to accept them, remove the entry for "
            f"'{spec.hub_id}' from {models_dir / integrity.TRUST_FILE} and download again."
        )
    return f"{head} Try again; if it happens again, copy the model folder from another computer and choose it."


def _convert(weights_format: str, staging: Path, files: dict[str, Path], ready: Path, on_stage: StageProgress) -> None:
    download_dir = staging / "download"
    try:
        if weights_format == "tf_h5":
            ready.mkdir(parents=True)
            for name in files:
                (ready / name).parent.mkdir(parents=True, exist_ok=True)  # extra files may sit in subfolders
                # Linked, not moved: until the model is complete, a retry still finds its verified files.
                try:
                    os.link(download_dir / name, ready / name)
                except OSError:
                    shutil.copy2(download_dir / name, ready / name)
            return
        on_stage(STAGE_CONVERT, 0.0)
        source = download_dir
        if weights_format == "open_clip_safetensors":
            source = staging / "transformers"
            shutil.rmtree(source, ignore_errors=True)
            convert_open_clip_folder(download_dir, source)
            on_stage(STAGE_CONVERT, 0.3)
        convert_pt_checkpoint(source, ready)
        if source != download_dir:
            shutil.rmtree(source, ignore_errors=True)
        on_stage(STAGE_CONVERT, 1.0)
    except ModelLoadError:
        shutil.rmtree(ready, ignore_errors=True)
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        shutil.rmtree(ready, ignore_errors=True)
        raise ModelLoadError(f"cannot convert the downloaded model in {download_dir}: {error}") from error


def _marker(
    spec: ModelSpec,
    snapshot: hub_client.RemoteSnapshot,
    weights_format: str,
    files: dict[str, Path],
    digests: dict[str, str],
    trust: integrity.TrustRecord | None,
) -> dict[str, Any]:
    if spec.pinned:
        verified = "pinned by xmr"
    elif trust is not None:
        verified = "same files as its first download"
    else:
        verified = "first download, recorded"
    return {
        "name": spec.name,
        "hub_id": spec.hub_id,
        "revision": snapshot.revision,
        # The image space is these exact weights: a new revision is a new space, never mixed with old vectors.
        "image_model_id": f"{spec.hub_id}@{snapshot.revision}",
        "source": {
            "format": weights_format,
            "files": {name: {"sha256": digests[name], "size": snapshot.files[name].size} for name in files},
        },
        "verified": verified,
        "downloaded": time.time(),
    }


def unavailable_message(spec: ModelSpec, models_dir: Path, error: BaseException, *, revision: str | None = None) -> str:
    """One plain line for a failed download: what happened, the model and its size, and the ways forward.

    ``revision`` is the commit that was asked for (the pin, or the one an unpinned model's first download saw).
    """
    revision = revision or spec.revision
    size = f" (about {format_bytes(spec.download_bytes)})" if spec.download_bytes else ""
    kept = partial_download_bytes(models_dir, spec)
    resume = f" The {format_bytes(kept)} already downloaded are kept; the download continues from there." if kept >= 10**6 else ""
    ways = (
        " Connect to the internet once and try again, or copy a model folder from another computer and choose it "
        "(in the window: Choose a local model folder…; on the command line: --model /path/to/folder)."
    )
    kind, status = _classify(error)
    if kind == "offline":
        head = (
            f"You appear to be offline: the model '{spec.name}'{size} is not on this computer yet and could not be "
            f"downloaded from the Hugging Face hub ({spec.hub_id})."
        )
    elif kind == "not found":
        head = f"The Hugging Face hub has no model '{spec.hub_id}'" + (f" at revision {revision}." if revision else ".")
        ways = " Check the name, or copy a model folder from another computer and choose it (--model /path/to/folder)."
    elif kind == "refused":
        head = (
            f"The Hugging Face hub refused the download of '{spec.hub_id}' (HTTP {status}); xmr downloads only "
            "public models and never sends a hub token."
        )
    elif kind == "server":
        head = f"The Hugging Face hub could not send the model '{spec.name}'{size} just now (HTTP {status})."
    elif kind == "disk full":
        head = f"There is not enough free space in {models_dir} for the model '{spec.name}'{size}."
        ways = " Free some space and try again, or choose a model folder on another disk (--model /path/to/folder)."
    else:
        head = (
            f"The model '{spec.name}'{size} could not be downloaded from the Hugging Face hub ({type(error).__name__}; "
            "the log has the details)."
        )
    return head + resume + ways


def _classify(error: BaseException) -> tuple[str, int | None]:
    """"offline", "not found", "refused", "server", "disk full" or "other", with the HTTP status if any."""
    import errno

    import requests

    hub_client.hub()
    from huggingface_hub import errors as hub_errors
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for item in chain:
        if isinstance(item, OSError) and item.errno == errno.ENOSPC:
            return "disk full", None
        if isinstance(item, hub_errors.GatedRepoError):
            return "refused", 401
        if isinstance(item, (hub_errors.RepositoryNotFoundError, hub_errors.RevisionNotFoundError)):
            return "not found", 404
        if isinstance(item, hub_errors.EntryNotFoundError) and not isinstance(item, hub_errors.LocalEntryNotFoundError):
            return "not found", 404
        if isinstance(item, hub_errors.HfHubHTTPError) and item.response is not None:
            status = item.response.status_code
            if status in (401, 403):
                return "refused", status
            if status == 429 or status >= 500:
                return "server", status
    for item in chain:
        if isinstance(item, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
            return "offline", None
        if isinstance(item, hub_errors.LocalEntryNotFoundError):
            return "offline", None  # the hub could not be reached and nothing is cached
    return "other", None
