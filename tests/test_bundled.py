"""Child processes of the installed package: its launcher is not a Python, so spawned children use the system one."""

from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import sys
from pathlib import Path

import pytest

from xmr_desktop import bundled

SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")


def test_a_python_executable_keeps_starting_the_children() -> None:
    assert bundled.interpreter_for_children("/home/me/.venv/bin/python", "linux") is None
    assert bundled.interpreter_for_children("C:\\Python311\\pythonw.exe", "win32") is None


def test_a_launcher_outside_linux_has_no_system_python_to_use() -> None:
    assert bundled.interpreter_for_children("/Applications/xmr desktop.app/Contents/MacOS/xmr desktop", "darwin") is None


@pytest.mark.skipif(not SYSTEM_PYTHON.is_file(), reason=f"needs {SYSTEM_PYTHON}, the Python the package targets")
def test_a_spawned_child_runs_its_function_when_the_launcher_cannot(tmp_path: Path, monkeypatch) -> None:
    # Like briefcase's launcher: whatever the arguments, it does its own thing (here: fails).
    launcher = tmp_path / "xmr-desktop"
    launcher.write_text("#!/bin/sh\nexit 3\n")
    launcher.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(launcher))
    previous = multiprocessing.spawn.get_executable()
    multiprocessing.set_executable(str(launcher))
    try:
        assert bundled.use_interpreter_for_children() == SYSTEM_PYTHON
        context = multiprocessing.get_context("spawn")
        queue = context.SimpleQueue()
        child = context.Process(target=bundled._child_report, args=(queue,))
        child.start()
        child.join(120)
        assert child.exitcode == 0
        assert queue.get().startswith(f"child ran on {SYSTEM_PYTHON} with xmr_desktop from ")
    finally:
        multiprocessing.set_executable(previous)
