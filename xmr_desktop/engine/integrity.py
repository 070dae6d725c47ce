"""Checking downloaded model files: checksums, and the trust-on-first-use record for models xmr has no pin for.

A registry model's weights must match the sha256 this release pins. A hub id xmr does not know has no pin, so the
first download records the commit and every file's sha256 in ``models/.trusted-downloads.json``; a later download
of the same id asks the hub for that same commit and refuses files whose bytes differ from the record. Replacing
the weights on purpose means forgetting the record first (:func:`forget_trusted`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from xmr_desktop.engine.staging import model_lock

log = logging.getLogger(__name__)

TRUST_FILE = ".trusted-downloads.json"
_TRUST_LOCK = ".trusted-downloads"  # a leading dot: no model name can take it


def sha256_of(path: Path, *, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file, which the hub reports for files not stored in LFS (configs, tokenizers)."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class TrustRecord:
    """What the first download of an unpinned hub model saw.

    Attributes:
        revision: the commit it downloaded.
        files: sha256 of every file it kept, by file name.
        recorded: when (epoch seconds).
    """

    revision: str
    files: Mapping[str, str]
    recorded: float


def _trust_path(models_dir: Path) -> Path:
    return models_dir / TRUST_FILE


def _read_all(models_dir: Path) -> dict[str, dict]:
    try:
        data = json.loads(_trust_path(models_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        # Never silently start trusting anew: a damaged record would otherwise accept changed weights.
        from xmr_desktop.errors import ModelUnavailableError

        raise ModelUnavailableError(
            f"cannot read {_trust_path(models_dir)} ({error}); fix or remove it to download unpinned models again"
        ) from error
    return data if isinstance(data, dict) else {}


def trusted(models_dir: Path, hub_id: str) -> TrustRecord | None:
    """The record of ``hub_id``'s first download, if there was one."""
    entry = _read_all(models_dir).get(hub_id)
    if not isinstance(entry, dict) or not isinstance(entry.get("revision"), str):
        return None
    return TrustRecord(entry["revision"], dict(entry.get("files", {})), float(entry.get("recorded", 0)))


def record_trust(models_dir: Path, hub_id: str, revision: str, files: Mapping[str, str]) -> None:
    """Remember what the first download of ``hub_id`` saw (kept if the model folder is later deleted)."""
    with model_lock(models_dir, _TRUST_LOCK):
        data = _read_all(models_dir)
        data[hub_id] = {"revision": revision, "files": dict(files), "recorded": time.time()}
        _write_all(models_dir, data)
    log.info("recorded %s at %s for trust on first use", hub_id, revision)


def forget_trusted(models_dir: Path, hub_id: str) -> bool:
    """Drop ``hub_id``'s record so the next download takes the hub's current commit; True if there was one."""
    with model_lock(models_dir, _TRUST_LOCK):
        data = _read_all(models_dir)
        if data.pop(hub_id, None) is None:
            return False
        _write_all(models_dir, data)
    return True


def _write_all(models_dir: Path, data: dict) -> None:
    path = _trust_path(models_dir)
    temporary = path.with_name(f"{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)
