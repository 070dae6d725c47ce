"""Rescan of an unchanged library: N tiny photo files in 1,000-file folders, indexed once, then indexed again.

The files are one tiny JPEG copied N times (a real first index of N distinct photos would take hours on this
box; identical content lets the first run embed one image and reuse its vector for the rest, so the index ends
up complete, as after a real first run). The second ``xmr index`` finds every file unchanged (one ``stat``
each) and is timed; so is the scan alone in-process (``sync_folder``: walk + compare, no model), which tells
start-up from stat work.

rclip's rescan runs on every query (it walks the folder and looks each file up in its DB). Its index for the
same folder is written directly in rclip's own schema with the files' real size and mtime, exactly what its
first run would leave (its first run itself is infeasible here: rclip looks up duplicates by hash and re-reads
every earlier match, quadratic with N identical files). Timed: ``rclip --top 1 QUERY`` in that folder.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from benchmarks.common import PROJECT_PYTHON, RCLIP_VENV, WORK, XMR, ForeignLoad, fresh_xmr_datadir, median, run_json, timed_run, wait_for_quiet
from benchmarks.indexing import LITERT, fresh_rclip_datadir, rclip_env


def make_library(root: Path, count: int) -> Path:
    done = root / ".complete"
    if done.is_file() and done.read_text().strip() == str(count):
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 120, 40)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    for i in range(count):
        folder = root / f"{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir()
        (folder / f"IMG_{i:07d}.jpg").write_bytes(data)
    done.write_text(f"{count}\n")
    return root


def write_rclip_index(library: Path, datadir: Path) -> None:
    """rclip's DB for ``library`` as its own first run would leave it (real paths, sizes and mtimes)."""
    timed_run(
        [
            str(RCLIP_VENV / "bin" / "python"),
            "-c",
            "import sys; from rclip import db; db.DB(sys.argv[1]).close()",
            str(datadir / "db.sqlite3"),
        ]
    )
    con = sqlite3.connect(datadir / "db.sqlite3")
    vector = bytes(2048)
    rows = []
    for entry_dir in sorted(os.scandir(library), key=lambda e: e.name):
        if not entry_dir.is_dir():
            continue
        for entry in os.scandir(entry_dir.path):
            stat = entry.stat()
            rows.append((entry.path, stat.st_mtime, stat.st_size, vector, "0" * 64))
    con.executemany(
        "INSERT INTO images(deleted, indexing, filepath, modified_at, size, vector, hash) VALUES (NULL, NULL, ?, ?, ?, ?, ?)",
        rows,
    )
    con.commit()
    con.close()


_SCAN_ONLY = """
import json, sys, time
from xmr_desktop.config import resolve_paths
from xmr_desktop.library.store import Store
from xmr_desktop.library.scanner import sync_folder
with Store.open(resolve_paths(sys.argv[1]).index_db) as store:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        reports = [sync_folder(store, folder) for folder in store.folders()]
        times.append(time.perf_counter() - t)
    print(json.dumps({"scan_s": sorted(times)[1], "unchanged": sum(r.unchanged for r in reports)}))
"""


def run(count: int, model: Path, repeats: int, log: Path, say=print) -> dict[str, Any]:
    library = make_library(WORK / f"rescan-{count}", count)
    scratch = WORK / "scratch"
    scratch.mkdir(exist_ok=True)
    xmr_data = fresh_xmr_datadir(scratch, "xmr-rescan-")
    rclip_data = fresh_rclip_datadir(scratch)
    try:
        command = [str(XMR), "--data-dir", str(xmr_data), "--model", str(model), "index", str(library)]
        first = timed_run(command, env=LITERT, log=log)
        say(f"  rescan: first xmr index of {count} files {first:.1f} s")
        write_rclip_index(library, rclip_data)
        ours, theirs, foreign = [], [], []
        for r in range(repeats):
            wait_for_quiet()
            with ForeignLoad() as load:
                ours.append(timed_run(command, env=LITERT, log=log))
            foreign.append(load.share)
            wait_for_quiet()
            with ForeignLoad() as load:
                theirs.append(
                    timed_run([str(RCLIP_VENV / "bin" / "rclip"), "--top", "1", "a photo"], cwd=library, env=rclip_env(rclip_data), log=log)
                )
            foreign.append(load.share)
            say(f"  rescan {r + 1}/{repeats}: xmr index {ours[-1]:.1f} s, rclip {theirs[-1]:.1f} s")
        wait_for_quiet()
        scan = run_json([str(PROJECT_PYTHON), "-c", _SCAN_ONLY, str(xmr_data)], log=log)
    finally:
        shutil.rmtree(xmr_data, ignore_errors=True)
        shutil.rmtree(rclip_data, ignore_errors=True)
    return {
        "files": count,
        "repeats": repeats,
        "first_index_s": first,
        "xmr_index_s": median(ours),
        "xmr_scan_only_s": scan["scan_s"],
        "xmr_unchanged": scan["unchanged"],
        "rclip_s": median(theirs),
        "foreign_cpu_max": max(foreign) if foreign else 0.0,
    }
