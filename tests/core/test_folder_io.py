"""Folder work off the search path: a mount that stops answering is reported offline, never waited for."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from xmr_desktop.core import folder_io


def test_a_probe_of_a_hung_mount_times_out_and_does_not_pile_up_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    calls: list[str] = []

    def hung_scandir(path: str, has_files: bool) -> str | None:
        calls.append(path)
        release.wait(30)  # what os.scandir does on an NFS mount whose server went away
        return None

    monkeypatch.setattr(folder_io, "root_problem", hung_scandir)
    prober = folder_io.Prober(timeout=0.2)
    first = prober.problem(str(tmp_path), has_files=True)
    assert first is not None and "does not answer" in first
    # Asked again while the first probe still hangs: reported at once, no second thread stuck on the mount.
    assert "does not answer" in (prober.problem(str(tmp_path), has_files=True) or "")
    assert calls == [str(tmp_path)]
    release.set()


def test_a_probe_that_answers_in_time_reports_the_folders_own_condition(tmp_path: Path) -> None:
    prober = folder_io.Prober(timeout=5)
    assert prober.problem(str(tmp_path), has_files=False) is None
    assert "empty" in (prober.problem(str(tmp_path), has_files=True) or "")  # an unmounted mount point looks empty
    assert prober.problem(str(tmp_path / "gone"), has_files=True) is not None
