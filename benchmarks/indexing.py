"""Indexing speed: ``xmr index`` vs ``rclip`` on the same photos, fresh index each run, interleaved.

Each tool indexes the full set (N photos) and a subset (the first N/4, hard links to the same files) into a
fresh data directory. Two numbers per tool:

* end-to-end: N / wall time of the whole command (start-up, model load, scan, embedding, commit);
* steady state: the marginal rate (N - N/4) / (wall(N) - wall(N/4)), which cancels start-up and model load and is
  what a large library sees (a 40,000-photo first index is all steady state);
* CPU-seconds per image in steady state (same slope, on CPU time of the process tree): nearly immune to other
  programs running at the same time, so a second opinion when the machine was not quiet.

Runs go round-robin over the tools with the starting tool rotated each round; medians over the rounds. The peak
resident memory of each full run is recorded too.

xmr runs on LiteRT (the CPU runtime), float32 and int8 image towers, from exports prepared once by setup; with
``--with-tensorflow`` a TensorFlow row is added for comparison.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import (
    MODELS,
    RCLIP_DATA,
    RCLIP_MODEL_SUBDIR,
    RCLIP_VENV,
    WORK,
    XMR,
    ForeignLoad,
    RunStats,
    fresh_xmr_datadir,
    median,
    timed_run_stats,
    wait_for_quiet,
)


def subset_folder(photos: Path, count: int) -> Path:
    """A folder with hard links to the first ``count`` photos (same bytes, no copy)."""
    target = photos.parent / f"{photos.name}-first{count}"
    names = sorted(p.name for p in photos.glob("*.jpg"))[:count]
    if target.is_dir() and sorted(p.name for p in target.glob("*.jpg")) == names:
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for name in names:
        os.link(photos / name, target / name)
    return target


def fresh_rclip_datadir(parent: Path) -> Path:
    """An empty rclip data dir whose model files are links to the exported ones (so its DB starts empty)."""
    datadir = Path(tempfile.mkdtemp(prefix="rclip-", dir=parent))
    (datadir / RCLIP_MODEL_SUBDIR).symlink_to(RCLIP_DATA / RCLIP_MODEL_SUBDIR)
    (datadir / "tokenizer").symlink_to(RCLIP_DATA / "tokenizer")
    return datadir


def rclip_env(datadir: Path) -> dict[str, str]:
    return {"RCLIP_DATADIR": str(datadir), "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


def run_rclip_index(photos: Path, scratch: Path, log: Path) -> RunStats:
    datadir = fresh_rclip_datadir(scratch)
    try:
        # rclip indexes the working directory, then answers the query (one text encoding, ~0.1 s).
        return timed_run_stats([str(RCLIP_VENV / "bin" / "rclip"), "--top", "1", "a photo"], cwd=photos, env=rclip_env(datadir), log=log)
    finally:
        shutil.rmtree(datadir, ignore_errors=True)


def run_xmr_index(photos: Path, model: Path, scratch: Path, log: Path, env: dict[str, str] | None = None) -> RunStats:
    datadir = fresh_xmr_datadir(scratch)
    try:
        return timed_run_stats([str(XMR), "--data-dir", str(datadir), "--model", str(model), "index", str(photos)], env=env, log=log)
    finally:
        shutil.rmtree(datadir, ignore_errors=True)


# xmr rows: (model folder, environment). The runtime and precision are spelled out, so a row means the same
# thing whatever the defaults are.
LITERT = {"XMR_RUNTIME": "litert", "XMR_PRECISION": "float32"}
XMR_ROWS: dict[str, tuple[str, dict[str, str]]] = {
    "xmr ViT-B/32-256": ("vit-b-32-256", LITERT),
    "xmr ViT-B/32-256 int8": ("vit-b-32-256", {"XMR_RUNTIME": "litert", "XMR_PRECISION": "int8"}),
    "xmr ViT-B/32-224": ("vit-b-32-224", LITERT),
}
TENSORFLOW_ROW = ("xmr ViT-B/32-256 TensorFlow", ("vit-b-32-256", {"XMR_RUNTIME": "tensorflow", "XMR_PRECISION": "auto"}))
PEER = "rclip ViT-B-32-256"


def tools(with_tensorflow: bool = False) -> dict[str, Any]:
    """name -> callable(photos, scratch, log) -> RunStats."""
    rows = dict(XMR_ROWS)
    if with_tensorflow:
        rows[TENSORFLOW_ROW[0]] = TENSORFLOW_ROW[1]
    runners: dict[str, Any] = {
        name: (lambda photos, scratch, log, model=model, env=env: run_xmr_index(photos, MODELS / model, scratch, log, env))
        for name, (model, env) in rows.items()
    }
    runners[PEER] = run_rclip_index
    return runners


def run(photos: Path, rounds: int, log: Path, say=print, *, with_tensorflow: bool = False) -> dict[str, Any]:
    count = len(list(photos.glob("*.jpg")))
    small_count = max(1, count // 4)
    small = subset_folder(photos, small_count)
    scratch = WORK / "scratch"
    scratch.mkdir(exist_ok=True)
    runners = tools(with_tensorflow)
    names = list(runners)
    times: dict[str, dict[str, list[float]]] = {name: {"full": [], "small": []} for name in names}
    cpu: dict[str, dict[str, list[float]]] = {name: {"full": [], "small": []} for name in names}
    peak: dict[str, list[float]] = {name: [] for name in names}
    foreign: list[float] = []
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            for size, folder in (("full", photos), ("small", small)):
                wait_for_quiet()
                with ForeignLoad() as load:
                    stats = runners[name](folder, scratch, log)
                seconds, cpu_s = stats.wall_s, stats.cpu_s
                foreign.append(load.share)
                times[name][size].append(seconds)
                cpu[name][size].append(cpu_s)
                if size == "full":
                    peak[name].append(stats.peak_rss_mib)
                say(
                    f"  indexing round {r + 1}/{rounds}: {name:20} {size:5} {seconds:6.1f} s, {cpu_s:6.1f} CPU-s"
                    f"  (other processes: {load.share:.0%} CPU)"
                )
    result: dict[str, Any] = {"photos": count, "subset": small_count, "rounds": rounds, "tools": {}}
    for name in names:
        full, sub = times[name]["full"], times[name]["small"]
        marginal = [(count - small_count) / (f - s) if f > s else float("nan") for f, s in zip(full, sub)]
        cpu_full, cpu_sub = cpu[name]["full"], cpu[name]["small"]
        result["tools"][name] = {
            "wall_full_s": full,
            "wall_subset_s": sub,
            "cpu_full_s": cpu_full,
            "cpu_subset_s": cpu_sub,
            # CPU-seconds per image in steady state: the contention-proof view of the same slope.
            "steady_cpu_s_per_img": median([(f - s) / (count - small_count) for f, s in zip(cpu_full, cpu_sub)]),
            "end_to_end_img_s": median([count / f for f in full]),
            "steady_img_s": median(marginal),
            "startup_s": median([f - (count / m) for f, m in zip(full, marginal)]),
            "peak_rss_mib": median(peak[name]),
        }
    result["foreign_cpu_max"] = max(foreign) if foreign else 0.0
    result["foreign_cpu_median"] = median(foreign)
    return result
