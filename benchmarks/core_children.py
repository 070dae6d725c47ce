"""The measured programs of ``python -m benchmarks.core`` (each run in a fresh process, one JSON line out).

    python -m benchmarks.core_children window MODEL PHOTOS DATA [--query TEXT]   # the app indexing a folder
    python -m benchmarks.core_children cli MODEL PHOTOS DATA                     # xmr index's path, in-process
    python -m benchmarks.core_children during MODEL PHOTOS DB_VECTORS           # search latency while indexing
    python -m benchmarks.core_children serve MODEL DATA READY_FILE               # a running app's core + socket

``window`` and ``cli`` use only what the code before the photo-library core also had (``MainWindow`` with
``add_folder`` / ``search_bar.set_query`` / ``indexing_finished``, and the indexer), so the same script measures
an old checkout (``PYTHONPATH=OLD_TREE``) and this one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

WORDS = ["beach", "dog", "sunset", "mountain", "city", "snow", "cat", "car", "tree", "lake", "bridge", "market"]


def _print(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def window(model: str, photos: str, data: str, query: str | None) -> None:
    """Seconds from adding the folder to the window's "finished", model loaded before; a query on screen or not."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from xmr_desktop.config import resolve_paths
    from xmr_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(resolve_paths(data).ensure(), model=model)
    window.show()

    def wait(signal: Any, timeout_s: float) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()

    QTimer.singleShot(0, window.start)
    wait(window.model_ready, 300)
    end = time.monotonic() + 3  # the window warms search up after the model loads; let that finish
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    if query:
        window.search_bar.set_query(query)  # results shown; re-run every 2 s while photos are indexed
    started = time.monotonic()
    window.add_folder(photos)
    wait(window.indexing_finished, 1800)
    seconds = time.monotonic() - started
    window.close()
    _print({"seconds": seconds})


def cli(model: str, photos: str, data: str) -> None:
    """Seconds for ``xmr index``'s core to index the folder, the model loaded and traced before."""
    from xmr_desktop.config import resolve_paths
    from xmr_desktop.engine.embedder import load_embedder

    paths = resolve_paths(data).ensure()
    embedder = load_embedder(model, paths.models_dir)
    embedder.prepare_images()
    try:
        from xmr_desktop.core.commands import IndexNow
        from xmr_desktop.core.library import PhotoLibrary
    except ImportError:  # the code before the core
        from xmr_desktop.library.indexer import Indexer
        from xmr_desktop.library.store import Store

        with Store.open(paths.index_db) as store:
            folder = store.add_folder(photos)
            started = time.monotonic()
            Indexer(store, embedder).run([folder])
    else:
        library = PhotoLibrary(paths, lambda argument, models_dir: embedder, threaded=False)
        library.start()
        started = time.monotonic()
        library.call(IndexNow((photos,)))
        library.close()
    _print({"seconds": time.monotonic() - started})


def during(model: str, photos: str, db_vectors: int, interval: float) -> None:
    """Latency of searches sent every ``interval`` s while ``photos`` are indexed, over an index of N vectors."""
    import tempfile

    from benchmarks.common import percentile
    from benchmarks.query_ours import FOLDER, build_store
    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core import commands as c
    from xmr_desktop.core.library import PhotoLibrary
    from xmr_desktop.core.models import on_disk_embedder
    from xmr_desktop.engine.loading import read_model_id

    model_id = read_model_id(Path(model))
    cache = Path(tempfile.gettempdir()) / f"xmr-bench-during-{db_vectors}-{model_id.replace(':', '_')}.sqlite3"
    build_store(cache, db_vectors, model_id)
    data = Path(tempfile.mkdtemp(prefix="xmr-during-"))
    paths = resolve_paths(data).ensure()
    import shutil

    shutil.copy(cache, paths.index_db)  # a copy: this run adds photos to it
    library = PhotoLibrary(paths, on_disk_embedder, model=model, threaded=True, served_by="app")
    library.start()
    library.call(c.LoadModel(model))
    idle = [_timed(library, c.Search(f"a {random.choice(WORDS)} {i}", top_k=50)) for i in range(10)]
    run = library.submit(c.IndexNow((photos,)))
    latencies = []
    i = 0
    while not run.done():
        latencies.append(_timed(library, c.Search(f"a photo of a {random.choice(WORDS)} {i}", top_k=50)))
        i += 1
        time.sleep(interval)
    report = run.result()
    library.close()
    assert FOLDER  # the synthetic photos live under a folder that is not on disk: kept, never swept
    _print({
        "vectors": db_vectors, "photos_indexed": report.embedded, "queries": len(latencies),
        "p50_ms": 1000 * percentile(latencies, 50), "p95_ms": 1000 * percentile(latencies, 95),
        "max_ms": 1000 * max(latencies), "idle_p50_ms": 1000 * percentile(idle, 50),
    })


def _timed(library: Any, command: Any) -> float:
    started = time.perf_counter()
    library.call(command)
    return time.perf_counter() - started


def serve(model: str, data: str, ready_file: str) -> None:
    """The app's core with the model loaded and the CLI socket open, until READY_FILE is deleted."""
    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core import commands as c
    from xmr_desktop.core.library import PhotoLibrary
    from xmr_desktop.core.models import on_disk_embedder
    from xmr_desktop.core.server import LibraryServer

    paths = resolve_paths(data).ensure()
    library = PhotoLibrary(paths, on_disk_embedder, model=model, threaded=True, served_by="app")
    library.start()
    library.call(c.LoadModel(model))
    library.call(c.Search("warm up", top_k=1))
    server = LibraryServer(library, paths.data_dir)
    server.start()
    ready = Path(ready_file)
    ready.write_text("ready\n")
    while ready.exists():
        time.sleep(0.1)
    server.close()
    library.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    w = sub.add_parser("window")
    w.add_argument("model"), w.add_argument("photos"), w.add_argument("data"), w.add_argument("--query")
    k = sub.add_parser("cli")
    k.add_argument("model"), k.add_argument("photos"), k.add_argument("data")
    d = sub.add_parser("during")
    d.add_argument("model"), d.add_argument("photos"), d.add_argument("vectors", type=int)
    d.add_argument("--interval", type=float, default=0.25)
    s = sub.add_parser("serve")
    s.add_argument("model"), s.add_argument("data"), s.add_argument("ready_file")
    args = parser.parse_args(argv)
    if args.what == "window":
        window(args.model, args.photos, args.data, args.query)
    elif args.what == "cli":
        cli(args.model, args.photos, args.data)
    elif args.what == "during":
        during(args.model, args.photos, args.vectors, args.interval)
    else:
        serve(args.model, args.data, args.ready_file)


if __name__ == "__main__":
    sys.exit(main())
