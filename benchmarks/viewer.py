"""Does the window stay responsive while you step through 40-megapixel photos as a batch is being embedded?

The real window (``MainWindow`` over the core) runs with a stand-in model that spends real CPU per photo in
numpy's BLAS (which, like TensorFlow, releases the GIL), so the core's decoders and "model" compete with the
viewer for the cores as in the real app. A 5 ms ``QTimer`` ticks on the GUI thread throughout; a long gap between
two ticks is a time the window could not repaint or react to a key. Variants, each in a fresh process, run
round-robin:

- ``idle``: nothing happens (the event loop's own baseline);
- ``indexing``: a folder is being embedded, nobody browses;
- ``viewer``: the same indexing, while the pane steps through 100 results (``Right`` key presses on the pane):
  first **held** (a key every 33 ms, as auto-repeat sends, without waiting), then **one by one** (each press
  waits until the photo is decoded and shown, which is the latency a user waits for a sharp photo, then the
  photo is looked at for ``--look-ms``); the decode cache is emptied between the two;
- ``gui-decode``: the same, with the viewer's decode done on the GUI thread (the baseline it must beat);
- ``viewer-gui-first``: ``viewer`` with every thread but the GUI thread 10 nice levels lower (Linux), re-applied every
  0.5 s to new threads: what running the core's and the decoders' threads at a lower priority would give.

Besides the gaps, each phase reports the CPU time the GUI thread itself used (``time.thread_time``), which
other programs on the machine barely change.

Usage: ``python -m benchmarks.viewer [--quick] [--rounds 3]``. Photos are generated once under
``benchmarks/.work/viewer/`` (100 JPEGs of 40 MP, ~0.4 GB, and 800 of 2 MP; ``--quick``: 20 of 12 MP and 200).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import REPO, WORK, ForeignLoad, machine, median, percentile, wait_for_quiet

VARIANTS = ("idle", "indexing", "viewer", "gui-decode", "viewer-gui-first")
HOLD_INTERVAL_MS = 33
LOOK_MS = 300
TICK_MS = 5
SIZES = {"full": {"browse": 100, "browse_px": (7728, 5152), "index": 800, "index_px": (1600, 1200)},
         "quick": {"browse": 20, "browse_px": (4000, 3000), "index": 200, "index_px": (1600, 1200)}}


# -- photos -----------------------------------------------------------------------------------------------


def _photo(rng: np.random.Generator, size: tuple[int, int], tint: tuple[int, int, int], noise: np.ndarray) -> Any:
    """A smooth random scene tinted towards ``tint``, with fine grain (so JPEG decoding costs what photos cost)."""
    from PIL import Image

    low = rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)
    low = (0.45 * low + 0.55 * np.asarray(tint, np.float32)).astype(np.uint8)
    base = np.asarray(Image.fromarray(low).resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    reps = (-(-size[1] // noise.shape[0]), -(-size[0] // noise.shape[1]))
    grain = np.tile(noise, reps)[: size[1], : size[0]]
    return Image.fromarray(np.clip(base + grain[..., None], 0, 255).astype(np.uint8))


def make_photos(folder: Path, count: int, size: tuple[int, int], tint: tuple[int, int, int], seed: int) -> Path:
    """``count`` distinct JPEGs of ``size`` in ``folder`` (kept between runs)."""
    marker = folder / f".complete-{count}-{size[0]}x{size[1]}"
    if marker.is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    noise = rng.integers(-6, 7, (509, 509), dtype=np.int16)
    for number in range(count):
        _photo(rng, size, tint, np.roll(noise, number * 37, axis=1)).save(folder / f"{number:04d}.jpg", quality=88)
    marker.touch()
    return folder


# -- the stand-in model ------------------------------------------------------------------------------------


def busy_embedder(ms_per_image: float) -> Any:
    """``tests/fakes.ColourEmbedder`` that also spends about ``ms_per_image`` of BLAS work per photo."""
    sys.path.insert(0, str(REPO / "tests"))
    from fakes import ColourEmbedder

    a = np.random.default_rng(0).standard_normal((384, 384)).astype(np.float32)
    started = time.perf_counter()
    for _ in range(20):
        a @ a
    per_matmul_ms = (time.perf_counter() - started) * 1000 / 20
    reps = max(1, round(ms_per_image / max(per_matmul_ms, 1e-3)))

    class BusyEmbedder(ColourEmbedder):
        def embed_images(self, pixels: np.ndarray) -> np.ndarray:
            for _ in range(reps * len(pixels)):
                a @ a
            return super().embed_images(pixels)

    return BusyEmbedder()


# -- one variant, in its own process -------------------------------------------------------------------------


def _gaps(ticks: list[tuple[float, float]]) -> dict[str, float]:
    """Gaps between ticks (wall), and the GUI thread's own CPU time within each gap (``busy``): a long gap with
    little busy time is the thread waiting for a core; a long busy time is work done on the GUI thread."""
    gaps = [(b[0] - a[0]) * 1000 for a, b in zip(ticks, ticks[1:])]
    busy = [(b[1] - a[1]) * 1000 for a, b in zip(ticks, ticks[1:])]
    if not gaps:
        return {}
    return {
        "max_busy_ms": round(max(busy), 1),
        "p99_busy_ms": round(percentile(busy, 99), 1),
        "max_gap_ms": round(max(gaps), 1),
        "p99_gap_ms": round(percentile(gaps, 99), 1),
        "p50_gap_ms": round(percentile(gaps, 50), 1),
        "gaps_over_50ms": sum(gap > 50 for gap in gaps),
        "seconds": round(ticks[-1][0] - ticks[0][0], 2),
    }


def _renice_background(step: int = 10) -> None:
    """Every thread of this process except the GUI thread to ``step`` above the GUI thread's nice (Linux: nice is
    per thread)."""
    import threading

    gui = threading.main_thread().native_id
    try:
        tids = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return
    nice = min(19, os.getpriority(os.PRIO_PROCESS, gui) + step)
    for tid in tids:
        if tid != gui:
            try:
                if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                    os.setpriority(os.PRIO_PROCESS, tid, nice)
            except OSError:
                pass


def run_variant(
    variant: str, template: Path, browse_dir: Path, index_dir: Path, ms_per_image: float, idle_s: float, look_ms: float = LOOK_MS,
    phase: str = "held",
) -> dict[str, Any]:
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core import events as e
    from xmr_desktop.ui import viewer as viewer_module
    from xmr_desktop.ui.main_window import MainWindow
    from xmr_desktop.ui.viewer_loader import ViewerLoader, _DecodeTask

    class GuiThreadLoader(ViewerLoader):
        """The baseline: the same decode, run inline on the GUI thread, no look-ahead."""

        def request(self, path: str, box: tuple[int, int]) -> int:
            self.cancel()
            _DecodeTask(self._shared, path, (max(1, box[0]), max(1, box[1])), True).run()
            return self.generation

        def prefetch(self, paths: list[str], box: tuple[int, int]) -> None:
            pass

    if variant == "gui-decode":
        viewer_module.ViewerLoader = GuiThreadLoader  # type: ignore[misc]

    data = Path(tempfile.mkdtemp(prefix="xmr-viewer-bench-"))
    shutil.copytree(template, data, dirs_exist_ok=True)
    paths = resolve_paths(data).ensure()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    model = busy_embedder(ms_per_image)
    window = MainWindow(paths, embedder_factory=lambda argument, models_dir: model, watcher_factory=None, batch_size=16)
    window.resize(1280, 800)
    window.show()

    def spin(seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)

    def wait(signal: Any, seconds: float, until: Any = None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            loop = QEventLoop()
            signal.connect(loop.quit)
            QTimer.singleShot(int(min(1.0, seconds) * 1000), loop.quit)
            loop.exec()
            signal.disconnect(loop.quit)
            if until is None or until():
                return

    embedded = [0]

    def on_events(batch: list[Any]) -> None:
        embedded[0] += sum(event.embedded for event in batch if isinstance(event, e.BatchCommitted))

    window.bridge.events.connect(on_events)
    window.start()
    wait(window.model_ready, 120)
    wait(window.folders_updated, 120, lambda: bool(window.folders) and all(f.state.value == "up to date" for f in window.folders))
    window.search_bar.set_query("something red")
    wait(window.results_shown, 60)
    ticks: list[tuple[float, float]] = []
    ticker = QTimer()
    ticker.setTimerType(Qt.TimerType.PreciseTimer)
    ticker.setInterval(TICK_MS)
    ticker.timeout.connect(lambda: ticks.append((time.perf_counter(), time.thread_time())))
    result: dict[str, Any] = {"variant": variant}
    if variant != "idle":
        window.add_folder(str(index_dir))
        wait(window.bridge.events, 60, lambda: embedded[0] > 0)  # the indexing is under way
    pane, view, viewer = window.viewer.pane, window.results_view, window.viewer
    renice = QTimer()
    if variant == "viewer-gui-first":
        renice.setInterval(500)
        renice.timeout.connect(_renice_background)
        renice.start()
        _renice_background()
    ticker.start()
    with ForeignLoad() as load:
        if variant in ("idle", "indexing"):
            cpu = time.thread_time()
            wait(window.bridge.events, idle_s, lambda: False)
            result["ticks"] = {**_gaps(ticks), "gui_cpu_s": round(time.thread_time() - cpu, 3)}
        else:
            view.setCurrentIndex(window.results_model.index(0))
            wait(viewer.photo_shown, 30)
            pane.setFocus()
            count = min(100, window.results_model.rowCount() - 1)
            viewer.loader.cache.clear()
        if phase == "held" and variant not in ("idle", "indexing"):
            # Held key: presses every 33 ms without waiting; then the last photo's decode.
            before, ticks[:], cpu = embedded[0], [], time.thread_time()
            started = time.perf_counter()
            for _ in range(count):
                QTest.keyClick(pane, Qt.Key.Key_Right)
                spin(HOLD_INTERVAL_MS / 1000)
            last = viewer.shown_path
            wait(viewer.photo_shown, 30, lambda: viewer.shown_image is not None and viewer.shown_path == last)
            result["held"] = {**_gaps(ticks), "steps": count, "seconds_to_last_sharp": round(time.perf_counter() - started, 2),
                              "embedded_meanwhile": embedded[0] - before, "gui_cpu_s": round(time.thread_time() - cpu, 3)}
        if phase == "one_by_one" and variant not in ("idle", "indexing"):
            # One by one: each press waits for its sharp photo, which is then looked at for a moment.
            spin(look_ms / 1000)
            before, ticks[:], cpu = embedded[0], [], time.thread_time()
            latencies: list[float] = []
            for _ in range(count):
                pressed = time.perf_counter()
                QTest.keyClick(pane, Qt.Key.Key_Right)
                target = viewer.shown_path
                if not (viewer.shown_image is not None and viewer.shown_path == target):
                    wait(viewer.photo_shown, 30, lambda: viewer.shown_path == target and viewer.shown_image is not None)
                latencies.append((time.perf_counter() - pressed) * 1000)
                spin(look_ms / 1000)
            result["one_by_one"] = {
                **_gaps(ticks), "steps": count, "embedded_meanwhile": embedded[0] - before,
                "gui_cpu_s": round(time.thread_time() - cpu, 3),
                "latency_p50_ms": round(percentile(latencies, 50), 1), "latency_p95_ms": round(percentile(latencies, 95), 1),
                "latency_max_ms": round(max(latencies), 1),
            }
        if variant not in ("idle", "indexing"):
            shown = viewer.shown_image
            result["last_photo"] = {"full": shown.full_size, "shown": [shown.image.width(), shown.image.height()],
                                    "decoded": shown.decoded_size} if shown is not None else None
    ticker.stop()
    result["foreign_cpu_share"] = round(load.share, 3)
    window.close()
    app.processEvents()
    shutil.rmtree(data, ignore_errors=True)
    return result


# -- the driver ----------------------------------------------------------------------------------------------


def prepare(size: str) -> tuple[Path, Path, Path]:
    """The photos, and a data dir in which the browse set is already indexed (copied for every run)."""
    spec = SIZES[size]
    root = WORK / "viewer"
    browse = make_photos(root / f"browse-{size}", spec["browse"], spec["browse_px"], (235, 40, 30), 1)
    index = make_photos(root / f"index-{size}", spec["index"], spec["index_px"], (40, 80, 200), 2)
    template = root / f"template-{size}"
    if not (template / "index.sqlite3").is_file():
        shutil.rmtree(template, ignore_errors=True)
        _index_template(template, browse)
    return browse, index, template


def _index_template(template: Path, browse: Path) -> None:
    """Index the browse set with the colour stand-in through the core, inline (no window, no threads)."""
    sys.path.insert(0, str(REPO / "tests"))
    from fakes import ColourEmbedder

    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core.commands import IndexNow, LoadModel
    from xmr_desktop.core.library import PhotoLibrary

    paths = resolve_paths(template).ensure()
    model = ColourEmbedder()
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=False, watcher_factory=None)
    library.start()
    library.call(LoadModel(None))
    library.call(IndexNow((str(browse),)))
    library.close()
    shutil.rmtree(template / "cache", ignore_errors=True)  # every run starts without thumbnails


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.viewer", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 photos of 12 MP instead of 100 of 40 MP")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ms-per-image", type=float, default=80.0, help="stand-in model CPU per photo (ViT-B/32 on 1 core: ~80)")
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    parser.add_argument("--look-ms", type=float, default=LOOK_MS, help="time each photo is looked at, one by one")
    parser.add_argument("--only", choices=VARIANTS, action="append", help="run only these variants (repeatable)")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=("held", "one_by_one"), default="held", help=argparse.SUPPRESS)  # one run, in a child process
    parser.add_argument("--dirs", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.variant:
        browse, index, template = (Path(d) for d in args.dirs)
        print(json.dumps(run_variant(args.variant, template, browse, index, args.ms_per_image, args.idle_seconds, args.look_ms, args.phase)))
        return 0
    size = "quick" if args.quick else "full"
    browse, index, template = prepare(size)
    print(f"machine: {machine()}", flush=True)
    chosen = tuple(v for v in VARIANTS if not args.only or v in args.only)
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in chosen}
    # Each browsing phase in a fresh process that has just started indexing, so every phase browses under load.
    jobs = [(variant, phase) for variant in chosen for phase in (("held",) if variant in ("idle", "indexing") else ("held", "one_by_one"))]
    for round_number in range(args.rounds):
        order = jobs[round_number % len(jobs):] + jobs[: round_number % len(jobs)]
        for variant, phase in order:
            wait_for_quiet()
            command = [sys.executable, "-m", "benchmarks.viewer", "--variant", variant, "--phase", phase, "--dirs", str(browse),
                       str(index), str(template), "--ms-per-image", str(args.ms_per_image), "--idle-seconds",
                       str(args.idle_seconds), "--look-ms", str(args.look_ms)]
            done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
            run = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps(run), flush=True)
            runs[variant].append(run)
    summary = summarise(runs)
    print(format_summary(summary), flush=True)
    print(json.dumps({"viewer_benchmark": summary, "machine": machine(), "size": size}))
    return 0


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over rounds of each variant's figures."""
    def med(variant: str, phase: str, key: str) -> float:
        values = [run[phase][key] for run in runs.get(variant, []) if phase in run and key in run[phase]]
        return round(median([float(v) for v in values]), 3) if values else float("nan")

    keys = ("max_busy_ms", "p99_busy_ms", "max_gap_ms", "p99_gap_ms", "gaps_over_50ms", "seconds", "gui_cpu_s", "latency_p50_ms", "latency_p95_ms",
            "embedded_meanwhile", "seconds_to_last_sharp")
    rows: dict[str, Any] = {variant: {key: med(variant, "ticks", key) for key in keys} for variant in ("idle", "indexing") if variant in runs}
    for variant in ("viewer", "gui-decode", "viewer-gui-first"):
        for phase in ("held", "one_by_one"):
            if variant in runs:
                rows[f"{variant} {phase}"] = {key: med(variant, phase, key) for key in keys}
    foreign = [run.get("foreign_cpu_share", 0.0) for variant_runs in runs.values() for run in variant_runs]
    rows["foreign_cpu_share_max"] = max(foreign) if foreign else 0.0
    return rows


def format_summary(summary: dict[str, Any]) -> str:
    lines = ["| run | longest GUI-thread busy stretch, ms (max / p99) | max gap, ms | p99 gap, ms | gaps > 50 ms | GUI-thread CPU, ms/s "
             "| step → sharp p50 / p95, ms | photos embedded meanwhile |",
             "|---|---|---|---|---|---|---|---|"]
    for name, row in summary.items():
        if not isinstance(row, dict):
            continue
        latency = f"{row['latency_p50_ms']} / {row['latency_p95_ms']}" if "one_by_one" in name else ""
        cpu = round(1000 * row["gui_cpu_s"] / row["seconds"]) if row["seconds"] and row["seconds"] == row["seconds"] else ""
        embedded = "" if name == "idle" else row["embedded_meanwhile"] if name != "indexing" else ""
        lines.append(f"| {name} | {row['max_busy_ms']} / {row['p99_busy_ms']} | {row['max_gap_ms']} | {row['p99_gap_ms']} | {row['gaps_over_50ms']} | {cpu} | {latency} | {embedded} |")
    lines.append(f"foreign CPU during the runs: at most {summary['foreign_cpu_share_max']:.0%} of the machine")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
