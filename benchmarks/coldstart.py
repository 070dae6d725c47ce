"""Cold start: a new process until the first answer (CLI), and until the desktop window is on screen.

* ``xmr search "QUERY" --json --top 50`` on an index of the benchmark photos, on LiteRT: wall time of the process
  (import, opening the text tower, text encoding, loading vectors, ranking, printing), its CPU time and peak memory. rclip's equivalent is
  ``rclip --no-indexing --top 50 QUERY`` on its index of the same photos.
* ``xmr-desktop``: time from launch until its main window is mapped on an X display (Xvfb, no window manager),
  polled with ``xwininfo`` every 10 ms. Needs the ``xvfb`` and ``x11-utils`` Debian packages (installed on
  demand when we are root) and ``xmr_desktop/app.py``; otherwise the row says why it is pending.

The page cache is warm (files were read by the indexing step): this is a warm-disk cold start, the usual
case for an app launched more than once per boot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PROJECT_PYTHON,
    REPO,
    RCLIP_VENV,
    WORK,
    XMR,
    ForeignLoad,
    RunStats,
    fresh_xmr_datadir,
    median,
    timed_run,
    timed_run_stats,
    wait_for_quiet,
)
from benchmarks.indexing import LITERT, fresh_rclip_datadir, rclip_env

QUERY = "children playing on a red slide"
WINDOW_TITLE = "xmr"


def _ensure_x_tools() -> str | None:
    """None when Xvfb and xwininfo are there (installing them if possible), else the reason they are not."""
    if shutil.which("Xvfb") and shutil.which("xwininfo"):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "needs Xvfb and xwininfo (apt-get install xvfb x11-utils)"
    subprocess.run(["apt-get", "install", "-y", "xvfb", "x11-utils"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return None if shutil.which("Xvfb") and shutil.which("xwininfo") else "could not install xvfb x11-utils"


def _window_mapped(display: str) -> bool:
    env = {**os.environ, "DISPLAY": display}
    tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
    for line in tree.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[0].startswith("0x") and f'"{WINDOW_TITLE}' in line and "1x1+" not in line:
            info = subprocess.run(["xwininfo", "-id", parts[0]], env=env, capture_output=True, text=True).stdout
            if "IsViewable" in info:
                return True
    return False


def time_to_window(model: Path, repeats: int, log: Path) -> dict[str, Any]:
    if not (REPO / "xmr_desktop" / "app.py").is_file():
        return {"pending": "xmr_desktop/app.py does not exist yet"}
    desktop = XMR.parent / "xmr-desktop"
    if not desktop.exists():
        return {"pending": f"{desktop} not installed (pip install -e . in the project venv)"}
    problem = _ensure_x_tools()
    if problem:
        return {"pending": problem}
    display = ":93"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    try:
        time.sleep(1.0)
        for _ in range(repeats):
            data = fresh_xmr_datadir(WORK / "scratch", "xmr-window-")
            wait_for_quiet()
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
            with open(log, "ab") as out:
                started = time.perf_counter()
                app = subprocess.Popen([str(desktop), "--data-dir", str(data), "--model", str(model)], env=env, stdout=out, stderr=out)
                shown = None
                while time.perf_counter() - started < 30 and app.poll() is None:
                    if _window_mapped(display):
                        shown = time.perf_counter() - started
                        break
                    time.sleep(0.01)
                app.terminate()
                try:
                    app.wait(10)
                except subprocess.TimeoutExpired:
                    app.kill()
                    app.wait()
            shutil.rmtree(data, ignore_errors=True)
            if shown is None:
                return {"pending": f"no window within 30 s (exit code {app.returncode}; see {log})"}
            times.append(shown)
    finally:
        server.terminate()
        server.wait()
    return {"window_s": median(times), "runs": times}


def first_answer(photos: Path, model: Path, repeats: int, log: Path, say=print) -> dict[str, Any]:
    """Cold ``xmr search`` (LiteRT, no app running) vs ``rclip --no-indexing``: wall, CPU and peak memory.

    The two alternate which goes first from round to round, so neither always runs on the other's warm caches.
    """
    scratch = WORK / "scratch"
    scratch.mkdir(exist_ok=True)
    xmr_data = fresh_xmr_datadir(scratch, "xmr-cold-")
    rclip_data = fresh_rclip_datadir(scratch)
    # Both start from compiled bytecode, as an installed program does: rclip's venv was byte-compiled by pip,
    # while this editable checkout's modules have .pyc files only once Python wrote them, which it never does
    # where PYTHONDONTWRITEBYTECODE is set (0.2 s of compiling per cold search on this machine).
    subprocess.run([str(PROJECT_PYTHON), "-m", "compileall", "-q", str(REPO / "xmr_desktop")], check=True)
    try:
        timed_run([str(XMR), "--data-dir", str(xmr_data), "--model", str(model), "index", str(photos)], env=LITERT, log=log)
        rclip_cmd = [str(RCLIP_VENV / "bin" / "rclip"), "--top", "50"]
        timed_run(rclip_cmd + ["a photo"], cwd=photos, env=rclip_env(rclip_data), log=log)  # builds its index
        ours: list[RunStats] = []
        theirs: list[RunStats] = []
        foreign = []
        search = [str(XMR), "--data-dir", str(xmr_data), "--model", str(model), "search", QUERY, "--json", "--top", "50"]
        for r in range(repeats):
            wait_for_quiet()
            with ForeignLoad() as load:
                runs = [
                    lambda: ours.append(timed_run_stats(search, env=LITERT, log=log)),
                    lambda: theirs.append(
                        timed_run_stats(rclip_cmd + ["--no-indexing", QUERY], cwd=photos, env=rclip_env(rclip_data), log=log)
                    ),
                ]
                for run in runs if r % 2 == 0 else runs[::-1]:
                    run()
            foreign.append(load.share)
            say(f"  cold start {r + 1}/{repeats}: xmr search {ours[-1].wall_s:.2f} s, rclip --no-indexing {theirs[-1].wall_s:.2f} s")
    finally:
        shutil.rmtree(xmr_data, ignore_errors=True)
        shutil.rmtree(rclip_data, ignore_errors=True)
    return {
        "xmr_search_s": median([s.wall_s for s in ours]),
        "rclip_search_s": median([s.wall_s for s in theirs]),
        "xmr_search_cpu_s": median([s.cpu_s for s in ours]),
        "rclip_search_cpu_s": median([s.cpu_s for s in theirs]),
        "xmr_search_peak_rss_mib": median([s.peak_rss_mib for s in ours]),
        "rclip_search_peak_rss_mib": median([s.peak_rss_mib for s in theirs]),
        "xmr_runs_s": [s.wall_s for s in ours],
        "rclip_runs_s": [s.wall_s for s in theirs],
        "repeats": repeats,
        "foreign_cpu_max": max(foreign),
    }
