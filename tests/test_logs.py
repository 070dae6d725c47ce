"""The user's log file: our messages, not the start-up chatter of the libraries we load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_loading_search_libraries_leaves_no_lines_in_the_log(tmp_path: Path) -> None:
    script = (
        "import logging; from pathlib import Path; from xmr_desktop.logs import setup_logging; "
        f"setup_logging(Path({str(tmp_path)!r}), console=False); import faiss; "
        "logging.getLogger('xmr_desktop').info('ours')"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    lines = (tmp_path / "xmr.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].endswith("xmr_desktop: ours")
