"""The only code that talks to the Hugging Face hub: list a model repository at a commit, fetch files resumably.

Every request goes out without a token (``token=False``, and implicit tokens disabled), with telemetry off, and
over plain HTTP rather than the Xet protocol, so that partial files stay in the download folder and the next
attempt resumes them with a ``Range`` request. Nothing else is sent: no usage reports, no library versions.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

# How long to wait for the hub to answer a file's metadata request before treating it as unreachable.
ETAG_TIMEOUT_S = 15.0
_QUIET_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    # Xet transfers keep their own chunk cache outside our folder and do not resume from our partial files.
    "HF_HUB_DISABLE_XET": "1",
}


def hub() -> ModuleType:
    """``huggingface_hub``, imported with telemetry, implicit tokens and Xet off (also if imported before)."""
    os.environ.update(_QUIET_ENV)
    import huggingface_hub
    from huggingface_hub import constants

    # The client reads these once, at import; another library may have imported it first.
    constants.HF_HUB_DISABLE_TELEMETRY = True
    constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
    constants.HF_HUB_DISABLE_XET = True
    return huggingface_hub


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repository at a commit, as the hub describes it.

    Attributes:
        name: path inside the repository.
        size: bytes (None if the hub did not say).
        sha256: the LFS object id for large files (weights), else None.
        blob_id: the git object id (small files are checked against it).
    """

    name: str
    size: int | None
    sha256: str | None
    blob_id: str | None


@dataclass(frozen=True)
class RemoteSnapshot:
    """A repository at one commit.

    Attributes:
        hub_id: repository id.
        revision: the commit (a 40-hex-digit hash, also when a branch was asked for).
        files: its files by name.
    """

    hub_id: str
    revision: str
    files: dict[str, RemoteFile]


def list_files(hub_id: str, revision: str | None, *, endpoint: str | None = None) -> RemoteSnapshot:
    """The files of ``hub_id`` at ``revision`` (None: the default branch, resolved to its commit)."""
    info = hub().HfApi(endpoint=endpoint).model_info(hub_id, revision=revision, files_metadata=True, token=False)
    files = {
        sibling.rfilename: RemoteFile(
            sibling.rfilename,
            sibling.size if sibling.size is not None else (sibling.lfs.size if sibling.lfs else None),
            sibling.lfs.sha256 if sibling.lfs else None,
            sibling.blob_id,
        )
        for sibling in info.siblings or []
    }
    if not info.sha:
        raise ValueError(f"the hub did not name the commit of {hub_id} at {revision or 'its default branch'}")
    return RemoteSnapshot(hub_id, info.sha, files)


def fetch(snapshot: RemoteSnapshot, names: list[str], local_dir: Path, *, endpoint: str | None = None) -> dict[str, Path]:
    """Download ``names`` of ``snapshot`` into ``local_dir``; files already there at that commit are skipped and
    partial ones (``.cache/huggingface/download/*.incomplete``) are resumed."""
    client = hub()
    paths = {}
    for name in names:
        log.info("fetching %s from %s at %s", name, snapshot.hub_id, snapshot.revision)
        paths[name] = Path(
            client.hf_hub_download(
                snapshot.hub_id,
                name,
                revision=snapshot.revision,
                local_dir=local_dir,
                endpoint=endpoint,
                token=False,
                etag_timeout=ETAG_TIMEOUT_S,
            )
        )
    return paths
