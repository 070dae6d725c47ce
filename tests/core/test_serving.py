"""One writer per index: another process's writes reach the open app, and `xmr` is answered by the running app."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fakes import ColourEmbedder
from synthetic_shapes import make_folder
from xmr_desktop.config import Paths, resolve_paths
from xmr_desktop.core import commands as c
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.core.server import ENDPOINT_FILE, LibraryServer

TIMEOUT = 60
TESTS = str(Path(__file__).resolve().parents[1])


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return resolve_paths(tmp_path / "data").ensure()


@pytest.fixture
def app(paths: Paths) -> Iterator[PhotoLibrary]:
    """The window's core: threaded, model loaded."""
    model = ColourEmbedder()
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=True, served_by="app")
    library.start()
    library.call(c.LoadModel(None), timeout=TIMEOUT)
    yield library
    library.close()


def run_python(code: str, paths: Paths, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XMR_DATA_DIR": str(paths.data_dir), "PYTHONPATH": os.pathsep.join([TESTS, *sys.path])}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)


_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from fakes import ColourEmbedder
    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core import commands as c
    from xmr_desktop.core.library import PhotoLibrary

    model = ColourEmbedder()
    library = PhotoLibrary(resolve_paths().ensure(), lambda a, m: model, threaded=False)
    library.call(c.RemoveFolder(sys.argv[1]))
    print(library.call(c.IndexNow((sys.argv[2],))).summary())
    library.close()
    """
)


def test_another_processes_writes_appear_in_the_open_apps_results(app: PhotoLibrary, paths: Paths, tmp_path: Path) -> None:
    cats, scans = tmp_path / "cats", tmp_path / "scans"
    make_folder(cats, [("red", "circle")] * 6, ".png", np.random.default_rng(1), size=32)
    make_folder(scans, [("blue", "square")] * 6, ".png", np.random.default_rng(2), size=32)
    app.call(c.IndexNow((str(cats),)), timeout=TIMEOUT)
    assert {Path(r.path).parent for r in app.call(c.Search("red", top_k=6))} == {cats}

    done = run_python(_OTHER_PROCESS, paths, str(cats), str(scans))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("indexed 6 ")

    # The rows of the removed photos and of the new ones may share nothing but the database: the app sees the
    # other process's removal and additions, and never shows a removed photo or a stale score.
    found = app.call(c.Search("red", top_k=20), timeout=TIMEOUT)
    assert {Path(r.path).parent for r in found} == {scans}
    fresh_model = ColourEmbedder()
    fresh = PhotoLibrary(paths, lambda argument, models_dir: fresh_model, threaded=False)
    expected = fresh.call(c.Search("red", top_k=20))
    fresh.close()
    assert [(r.path, round(r.score, 4)) for r in found] == [(r.path, round(r.score, 4)) for r in expected]


_CLI = textwrap.dedent(
    """
    import json, sys
    from xmr_desktop.cli import main
    code = main(sys.argv[1:])
    heavy = [name for name in ("numpy", "PIL", "tensorflow", "faiss") if name in sys.modules]
    print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
    """
)


def cli(paths: Paths, *argv: str) -> tuple[int, str, list[str], str]:
    done = run_python(_CLI, paths, *argv)
    *messages, summary = done.stderr.strip().splitlines()
    result = json.loads(summary)
    return result["code"], done.stdout, result["heavy"], "\n".join(messages)


@pytest.fixture
def served(app: PhotoLibrary, paths: Paths, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "photos"
    make_folder(folder, [("red", "circle"), ("blue", "square"), ("green", "triangle")], ".png", np.random.default_rng(3), size=32)
    server = LibraryServer(app, paths.data_dir)
    server.start()
    yield folder
    server.close()


def test_xmr_is_answered_by_the_running_app_without_loading_anything_heavy(served: Path, paths: Paths) -> None:
    endpoint = paths.data_dir / ENDPOINT_FILE
    assert endpoint.stat().st_mode & 0o077 == 0
    code, out, heavy, err = cli(paths, "index", str(served))
    assert code == 0, err
    assert out.startswith("indexed 3 (3 embedded")
    code, out, heavy, err = cli(paths, "search", "red", "--json", "--top", "1")
    assert code == 0, err
    assert Path(json.loads(out)["path"]).name == "red_circle_0.png"
    assert heavy == []  # no numpy, Pillow, faiss or TensorFlow in the `xmr search` process
    code, out, _, err = cli(paths, "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["served_by"] == "app" and status["folders"][0]["indexed"] == 3


def test_without_a_running_app_or_with_a_stale_endpoint_the_cli_opens_the_index_itself(paths: Paths) -> None:
    code, out, _, err = cli(paths, "status", "--json")
    assert code == 0, err
    assert json.loads(out)["served_by"] == "cli"
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    stale = {"version": 1, "pid": dead_pid, "family": "unix", "address": str(paths.data_dir / "app.sock"), "key": "x"}
    endpoint = paths.data_dir / ENDPOINT_FILE
    endpoint.write_text(json.dumps(stale))
    endpoint.chmod(0o600)
    code, out, _, err = cli(paths, "status", "--json")
    assert code == 0, err
    assert json.loads(out)["served_by"] == "cli"


def test_an_app_that_dies_mid_request_is_one_line_and_read_only_commands_fall_back(paths: Paths, tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    address = str(tmp_path / "dying.sock")
    listener.bind(address)
    listener.listen(4)

    def die_on_every_request() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)  # read the request, then vanish without an answer

    threading.Thread(target=die_on_every_request, daemon=True).start()
    endpoint = paths.data_dir / ENDPOINT_FILE
    endpoint.write_text(json.dumps({"version": 1, "pid": os.getpid(), "family": "unix", "address": address, "key": "k"}))
    endpoint.chmod(0o600)
    try:
        code, out, _, err = cli(paths, "remove", str(tmp_path / "photos"))
        assert code == 1
        assert err.count("\n") == 0 and "quit before answering" in err
        code, out, _, err = cli(paths, "status", "--json")
        assert code == 0, err
        assert json.loads(out)["served_by"] == "cli"
    finally:
        listener.close()


def test_a_request_without_the_key_is_refused(served: Path, paths: Paths) -> None:
    record: dict[str, Any] = json.loads((paths.data_dir / ENDPOINT_FILE).read_text())
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(record["address"])
        sock.sendall(json.dumps({"version": 1, "key": "guess", "command": "ListSkipped", "args": {}}).encode() + b"\n")
        answer = json.loads(sock.makefile("rb").readline())
    assert answer == {"ok": False, "error": "not authorised", "reason": "auth"}
