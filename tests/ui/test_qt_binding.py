"""The installed Qt binding survives a long session of UI updates.

PySide6 6.12.0 on Python < 3.12 drops a reference to ``None`` on every void method call and aborts the process
after a few thousand (``none_dealloc``); pyproject.toml keeps that release out. This test fails if it returns.
"""

from __future__ import annotations

import subprocess
import sys


def test_many_void_calls_do_not_kill_the_process() -> None:
    # In a child process: the leak is process-global and would take the whole test run down with it.
    code = (
        "import os, sys; os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen');"
        "from PySide6.QtWidgets import QApplication, QLabel;"
        "app = QApplication([]); label = QLabel(); before = sys.getrefcount(None);"
        "[label.setText('x') for _ in range(20000)];"
        "print('alive', sys.getrefcount(None) - before >= -100)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "alive True"
