"""Per-model locks and owned staging folders under the models folder, so concurrent xmr processes never step on
each other's downloads or saves.

Every writer of a model folder (a hub download, ``xmr finetune``, ``xmr two-tower``) holds that model's lock
(``models/.locks/<name>.lock``, an OS file lock the kernel releases when the process dies) and writes into a
staging folder named ``.partial-<name>…`` that carries ``owner.json`` (pid, host, process start, purpose). Only
leftovers whose owner is provably gone are removed, by :func:`clean_stale_staging`, which the CLI and the app
both call at start. A dead download's folder is kept for a while because the next download resumes from it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)

LOCKS_DIR = ".locks"
STAGING_PREFIX = ".partial-"
OWNER_FILE = "owner.json"
# A dead download's partial files are what the next download resumes from; after this long untouched they are
# more likely forgotten than wanted.
KEEP_RESUMABLE_SECONDS = 7 * 24 * 3600
# Staging folders written by versions before owner records existed: their writer wrote continuously, so one
# untouched for an hour belongs to a process that is gone.
LEGACY_STALE_SECONDS = 3600


class ModelBusyError(XmrError):
    """Another xmr process holds the model's lock for longer than the caller was willing to wait."""


@dataclass(frozen=True)
class Owner:
    """Who is writing a staging folder.

    Attributes:
        pid: process id of the writer.
        host: host name of the writer (a models folder on a network drive can be shared).
        started: the writer's process start, as the kernel reports it (tells a reused pid apart); None where the
            platform cannot say.
        purpose: "download" or "save".
        model: name of the lock it holds (the model folder's name).
        created: when the staging folder was claimed (epoch seconds).
    """

    pid: int
    host: str
    started: str | None
    purpose: str
    model: str
    created: float = field(default_factory=time.time)

    @classmethod
    def current(cls, purpose: str, model: str) -> Owner:
        return cls(os.getpid(), socket.gethostname(), process_start(os.getpid()), purpose, model)

    def is_alive(self) -> bool | None:
        """True or False for a writer on this host; None when it cannot be known (another host)."""
        if self.host != socket.gethostname():
            return None
        if self.pid == os.getpid():
            return self.started is None or self.started == process_start(self.pid)
        started = process_start(self.pid)
        if started is not None:
            return self.started is None or self.started == started
        return _pid_exists(self.pid)


def process_start(pid: int) -> str | None:
    """An identity of process ``pid``'s start (Linux: boot id + start tick), or None if unknown or not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def _pid_exists(pid: int) -> bool | None:
    if sys.platform == "win32":
        return None  # os.kill would terminate it; the lock alone decides there
    if Path("/proc/self").exists():
        return Path(f"/proc/{pid}").exists()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_path(models_dir: Path, name: str) -> Path:
    return models_dir / LOCKS_DIR / f"{name}.lock"


@contextlib.contextmanager
def model_lock(
    models_dir: Path, name: str, *, on_wait: Callable[[], None] | None = None, timeout: float | None = None
) -> Iterator[None]:
    """Hold model ``name``'s lock; ``on_wait`` runs once if another process holds it and we have to wait.

    ``timeout`` None waits as long as it takes (a second download of the same model waits for the first, then
    finds the model complete). Raises ModelBusyError when ``timeout`` runs out.
    """
    from filelock import FileLock, Timeout

    path = lock_path(models_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another xmr process that holds %s", path)
        if on_wait is not None:
            on_wait()
        try:
            lock.acquire(timeout=-1 if timeout is None else timeout)
        except Timeout as error:
            raise ModelBusyError(
                f"another xmr process is still writing the model '{name}' in {models_dir}; try again when it is done"
            ) from error
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def try_model_lock(models_dir: Path, name: str) -> Iterator[bool]:
    """Take ``name``'s lock only if nobody holds it; the context's value says whether it was taken."""
    from filelock import FileLock, Timeout

    path = lock_path(models_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def claim(staging: Path, owner: Owner) -> None:
    """Record ``owner`` in a staging folder (written anew by each process that takes it over)."""
    staging.mkdir(parents=True, exist_ok=True)
    temporary = staging / f".{OWNER_FILE}.{owner.pid}"
    temporary.write_text(json.dumps(asdict(owner), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, staging / OWNER_FILE)


def read_owner(staging: Path) -> Owner | None:
    try:
        record = json.loads((staging / OWNER_FILE).read_text(encoding="utf-8"))
        return Owner(**record)
    except (OSError, ValueError, TypeError):
        return None


def download_staging(models_dir: Path, folder_name: str) -> Path:
    """The one staging folder of a model's download: stable, so a later download resumes the files in it."""
    return models_dir / f"{STAGING_PREFIX}{folder_name}"


def staged_bytes(folder: Path) -> int:
    """Bytes in files under ``folder`` (what a download has landed so far); 0 if it does not exist."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a file renamed while we count is counted next time
                total += os.stat(os.path.join(root, name)).st_size
    return total


@contextlib.contextmanager
def staged_model_folder(target: Path, *, purpose: str = "save") -> Iterator[Path]:
    """A staging folder for writing the model ``target`` that becomes ``target`` atomically on success.

    Holds ``target.name``'s lock throughout, so a download or another save of the same name cannot interleave;
    the folder is removed again if the body fails. Raises XmrError if ``target`` exists when the save completes.
    """
    models_dir = target.parent
    models_dir.mkdir(parents=True, exist_ok=True)
    with model_lock(models_dir, target.name):
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{target.name}-{purpose}-", dir=models_dir))
        try:
            claim(staging, Owner.current(purpose, target.name))
            yield staging
            (staging / OWNER_FILE).unlink()
            if target.exists():
                raise XmrError(f"a model named '{target.name}' already exists in {models_dir}; choose another name")
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


@dataclass
class CleanupReport:
    """What :func:`clean_stale_staging` did.

    Attributes:
        removed: staging folders deleted (their owner was gone).
        resumable: dead downloads kept because the next download of that model resumes from them.
        in_use: folders a live process is writing.
    """

    removed: list[Path] = field(default_factory=list)
    resumable: list[Path] = field(default_factory=list)
    in_use: list[Path] = field(default_factory=list)


def clean_stale_staging(models_dir: Path, *, keep_resumable_seconds: float = KEEP_RESUMABLE_SECONDS) -> CleanupReport:
    """Remove staging folders under ``models_dir`` whose writer is gone; never one a live process holds.

    A folder is removed only while its model's lock is free and its owner record names a process that no
    longer runs on this host (or the record is missing and the folder has been untouched for an hour: left by
    versions before owner records). A dead download younger than ``keep_resumable_seconds`` is kept: the next
    download of that model resumes from it. Owners on another host are kept until as old as that.
    """
    report = CleanupReport()
    try:
        candidates = sorted(p for p in models_dir.iterdir() if p.name.startswith(STAGING_PREFIX) and p.is_dir())
    except OSError:
        return report
    for staging in candidates:
        owner = read_owner(staging)
        if owner is None:
            if _untouched_for(staging) >= LEGACY_STALE_SECONDS:
                _remove(staging, report, "left by an earlier xmr version")
            else:
                report.in_use.append(staging)
            continue
        with try_model_lock(models_dir, owner.model) as free:
            alive = owner.is_alive() if free else True
            if alive is True:
                report.in_use.append(staging)
            elif owner.purpose == "download" and _untouched_for(staging) < keep_resumable_seconds:
                report.resumable.append(staging)
            elif alive is None and _untouched_for(staging) < keep_resumable_seconds:
                report.in_use.append(staging)
            else:
                _remove(staging, report, f"its writer (pid {owner.pid} on {owner.host}) is gone")
    return report


def _remove(staging: Path, report: CleanupReport, why: str) -> None:
    log.info("removing the staging folder %s: %s", staging, why)
    shutil.rmtree(staging, ignore_errors=True)
    if not staging.exists():
        report.removed.append(staging)


def _untouched_for(folder: Path) -> float:
    newest = 0.0
    for root, _dirs, files in os.walk(folder):
        for name in [*files, "."]:
            with contextlib.suppress(OSError):
                newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
    return time.time() - newest
