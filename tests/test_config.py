"""Where xmr keeps its files: private by default, but an existing folder the user chose keeps its permissions."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from xmr_desktop.config import create_private_file, is_private, make_private_dir, resolve_paths
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
