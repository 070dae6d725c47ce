"""Where xmr keeps its files: private by default, but an existing folder the user chose keeps its permissions."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from xmr_desktop.config import create_private_file, is_private, make_private_dir, resolve_paths
from xmr_desktop.errors import DataDirError, XmrError
from xmr_desktop.logs import setup_logging

posix_modes = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_modes
def test_an_existing_data_dir_keeps_its_mode_and_setgid_bit(tmp_path: Path) -> None:
    shared = tmp_path / "shared photos index"
    shared.mkdir()
    shared.chmod(0o2775)  # a group-shared folder: rwxrwsr-x
    paths = resolve_paths(shared).ensure()
    assert mode(shared) == 0o2775
    for created in (paths.cache_dir, paths.log_dir, paths.config_dir, paths.models_dir):
        assert mode(created) & 0o777 == 0o700, created  # (setgid is inherited from the parent by Linux)


@posix_modes
def test_missing_parents_are_created_private_too(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "xmr"
    make_private_dir(target)
    for directory in (tmp_path / "new", tmp_path / "new" / "deeper", target):
        assert mode(directory) == 0o700, directory
    make_private_dir(target)  # existing: nothing changes
    (tmp_path / "new").chmod(0o755)
    make_private_dir(target)
    assert mode(tmp_path / "new") == 0o755


@posix_modes
def test_files_xmr_creates_are_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual desktop umask, which would make files 0644
    try:
        paths = resolve_paths(tmp_path / "data").ensure()
        assert mode(paths.cache_dir / "CACHEDIR.TAG") == 0o600
        db = paths.index_db
        assert create_private_file(db) and not create_private_file(db)
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t(x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        for name in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert name.exists() and mode(name) == 0o600, name
        conn.close()
        log_file = setup_logging(paths.log_dir, console=False)
        logging.getLogger("xmr_desktop.test").warning("a line naming a photo")
        assert mode(log_file) == 0o600
    finally:
        os.umask(old_umask)
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_xmr", False):
                logging.getLogger().removeHandler(handler)
                handler.close()
    assert is_private(db)


def test_a_data_dir_that_cannot_be_created_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not a folder"
    blocker.write_text("a file where the data folder should go")
    with pytest.raises(DataDirError) as raised:
        resolve_paths(blocker / "xmr").ensure()
    message = str(raised.value)
    assert isinstance(raised.value, XmrError) and "\n" not in message
    assert str(blocker / "xmr") in message and "--data-dir" in message


_READ_ONLY_SCRIPT = r"""
import subprocess, sys
folder = sys.argv[1]
subprocess.run(["mount", "--bind", folder, folder], check=True)
subprocess.run(["mount", "-o", "remount,ro,bind", folder], check=True)
from xmr_desktop.config import resolve_paths
from xmr_desktop.errors import DataDirError
try:
    resolve_paths(folder + "/xmr").ensure()
except DataDirError as error:
    print("DataDirError:", error)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="needs root for a read-only mount")
def test_a_read_only_disk_is_one_clear_error(tmp_path: Path) -> None:
    """On a read-only mount (made in a private mount namespace) even root cannot create the data dir."""
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("private mount namespaces are not allowed here")
    folder = tmp_path / "ro"
    folder.mkdir()
    result = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", _READ_ONLY_SCRIPT,
                             str(folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("DataDirError: cannot use") and "Read-only file system" in result.stdout
