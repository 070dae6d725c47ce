"""Take a screenshot of the real app after indexing a folder and running a query (for the README).

Runs the actual window, worker and model (nothing mocked), waits for indexing and the thumbnails, then saves
``window.grab()``. Works under Xvfb or with ``QT_QPA_PLATFORM=offscreen``::

    QT_QPA_PLATFORM=offscreen python tests/ui/screenshot.py --photos ~/Pictures --query "a dog on the beach" \\
        --out resources/screenshot.png [--model datacomp-b32] [--data-dir /tmp/xmr-shot] [--select 3] [--preview]

``--select N`` selects the N-th result (1 = the best) so the viewer pane shows it; ``--preview`` then opens the
full-window preview (Space) before the picture is taken.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", required=True, help="folder of photos to index")
    parser.add_argument("--query", required=True)
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--model", default=None, help="model name, hub id or local folder (default: the app's)")
    parser.add_argument("--data-dir", default=None, help="index and cache here (default: a temporary dir)")
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--thumb", type=int, default=160)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for indexing")
    parser.add_argument("--select", type=int, default=0, help="select this result (1 = best) for the viewer pane")
    parser.add_argument("--preview", action="store_true", help="open the full-window preview of the selection")
    parser.add_argument("--hide-folders", action="store_true", help="close the folders panel (more room for the grid)")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from xmr_desktop.config import resolve_paths
    from xmr_desktop.logs import setup_logging
    from xmr_desktop.ui.main_window import MainWindow

    paths = resolve_paths(args.data_dir or tempfile.mkdtemp(prefix="xmr-shot-")).ensure()
    setup_logging(paths.log_dir, verbosity=1)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(paths, model=args.model)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()

    def wait_for(signal: object, seconds: float) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)  # type: ignore[attr-defined]
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def up_to_date() -> bool:
        infos = window.folders_panel.model.folders()
        return bool(infos) and all(info.state.value == "up to date" for info in infos)

    window.start()
    window.add_folder(str(Path(args.photos).expanduser()))
    deadline = time.monotonic() + args.timeout
    while not up_to_date() and time.monotonic() < deadline:  # an index reused from --data-dir may have no run
        wait_for(window.folders_updated, 5)
    window.search_bar.set_thumb_size(args.thumb)
    window.search_bar.set_query(args.query)
    wait_for(window.results_shown, 300)
    for _ in range(40):  # let the visible thumbnails decode
        wait_for(window.thumbnails.ready, 0.25)
    if args.hide_folders:
        window.folders_dock.hide()
    if args.select:
        window.results_view.setCurrentIndex(window.results_model.index(args.select - 1))
        wait_for(window.viewer.photo_shown, 30)
        if args.preview:
            window.viewer.open_preview()
            shown = window.viewer.shown_image
            if shown is None or not shown.covers(window.viewer.preview.canvas.box()):
                wait_for(window.viewer.photo_shown, 30)  # the sharper decode for the larger view
        app.processEvents()
    window.grab().save(args.out)
    print(f"saved {args.out}")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
