"""The `xmr` command as a user and a script see it: exit codes, one-line errors, JSON lines, real semantics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from synthetic_shapes import all_items, make_folder
from xmr_desktop.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shapes")
    make_folder(folder, all_items() * 3, ext=".jpg", rng=np.random.default_rng(7))
    return folder


def test_search_finds_what_the_caption_says(capsys, trained_model_dir: Path, shapes_folder: Path) -> None:
    code, out, err = run(capsys, "--model", str(trained_model_dir), "index", str(shapes_folder))
    assert code == 0, err
    assert out.startswith(f"indexed {len(all_items()) * 3} ")
    for colour, shape in [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("yellow", "circle")]:
        code, out, err = run(capsys, "--model", str(trained_model_dir), "search", f"a {colour} {shape}", "--top", "3", "--json")
        assert code == 0, err
        hits = json_lines(out)
        assert len(hits) == 3
        assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
        assert Path(hits[0]["path"]).name.startswith(f"{colour}_{shape}_"), hits


def test_index_summary_search_status_and_skipped(capsys, tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_folder(folder, all_items()[:4], rng=np.random.default_rng(1))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    code, out, _ = run(capsys, "--model", str(tiny_model_dir), "index", str(folder))
    assert code == 0
    assert "indexed 4 (4 embedded, 0 reused), unchanged 0, skipped 1, removed 0" in out

    code, out, _ = run(capsys, "--model", str(tiny_model_dir), "index", str(folder))
    assert "indexed 0 (0 embedded, 0 reused), unchanged 5" in out

    code, out, _ = run(capsys, "skipped", "--json")
    assert code == 0
    assert [entry["path"] for entry in json_lines(out)] == [str(folder / "broken.jpg")]

    code, out, _ = run(capsys, "--model", str(tiny_model_dir), "status", "--json")
    status = json.loads(out)
    assert code == 0
    assert status["folders"] == [
        {"path": str(folder), "indexed": 4, "skipped": 1, "pending": 0, "paused": False, "online": True,
         "state": "up to date", "note": ""}
    ]
    assert status["served_by"] == "cli"
    assert status["device"].startswith(("CPU", "GPU"))
    assert status["data_dir"] == os.environ["XMR_DATA_DIR"]

    code, out, _ = run(capsys, "--model", str(tiny_model_dir), "search", "--image", str(folder / "red_circle_0.png"), "--json")
    assert code == 0
    paths = [hit["path"] for hit in json_lines(out)]
    assert len(paths) == 3 and str(folder / "red_circle_0.png") not in paths


def test_folder_filter_and_unknown_folder(capsys, tiny_model_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    make_folder(first, all_items()[:2], rng=np.random.default_rng(2))
    make_folder(second, all_items()[2:4], rng=np.random.default_rng(3))
    assert run(capsys, "--model", str(tiny_model_dir), "index", str(first), str(second))[0] == 0
    code, out, _ = run(capsys, "--model", str(tiny_model_dir), "search", "a shape", "--folder", str(second), "--json")
    assert code == 0
    assert {Path(hit["path"]).parent for hit in json_lines(out)} == {second}
    code, out, err = run(capsys, "--model", str(tiny_model_dir), "search", "x", "--folder", str(tmp_path / "nope"))
    assert code == 1 and out == ""
    assert err.strip() == f"xmr: error: not an indexed folder: {tmp_path / 'nope'}"


def test_errors_are_one_line_without_traceback(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "index", str(tmp_path / "missing"))
    assert code == 1 and err.strip() == f"xmr: error: not a folder: {tmp_path / 'missing'}"

    code, _, err = run(capsys, "--model", "no-such-model-name", "search", "dog")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "unknown model 'no-such-model-name'" in err

    (tmp_path / "photos").mkdir()
    code, _, err = run(capsys, "--model", "openai-b32", "index", str(tmp_path / "photos"))
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "could not be downloaded" in err and "--model /path/to/folder" in err

    index = Path(os.environ["XMR_DATA_DIR"]) / "index.sqlite3"
    index.write_bytes(os.urandom(8192))
    code, _, err = run(capsys, "status")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "index" in err


def test_help_is_instant_and_does_not_import_tensorflow() -> None:
    script = "import sys; from xmr_desktop import cli; assert 'tensorflow' not in sys.modules, 'tf imported'"
    subprocess.run([sys.executable, "-c", script], check=True)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "xmr_desktop.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "index" in result.stdout
    assert time.monotonic() - started < 30  # a hang guard, not a benchmark


def test_progress_is_plain_lines_when_not_a_terminal(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_folder(folder, all_items()[:3], rng=np.random.default_rng(4))
    env = {**os.environ, "XMR_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "xmr_desktop.cli", "--model", str(tiny_model_dir), "index", str(folder)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["indexing: 3/3 (%s photos/s)" % result.stderr.split("(")[1].split()[0]]
    assert result.stdout.startswith("indexed 3 ")


def test_reindexing_an_unchanged_folder_does_not_load_the_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_folder(folder, all_items()[:2], rng=np.random.default_rng(5))
    script = (
        "import sys; from xmr_desktop.cli import main;"
        f"code = main(['--model', {str(tiny_model_dir)!r}, 'index', {str(folder)!r}]);"
        "print(code, 'tensorflow' in sys.modules)"
    )
    env = {**os.environ, "XMR_DATA_DIR": str(tmp_path / "data")}
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300) for _ in range(2)]
    assert [r.stdout.splitlines()[-1] for r in runs] == ["0 True", "0 False"], [r.stderr for r in runs]
    assert runs[1].stdout.startswith("indexed 0 (0 embedded, 0 reused), unchanged 2")


def test_nested_folders_are_explained(capsys, tiny_model_dir: Path, tmp_path: Path) -> None:
    outer = tmp_path / "Pictures"
    make_folder(outer / "2023", all_items()[:2], rng=np.random.default_rng(6))
    assert run(capsys, "--model", str(tiny_model_dir), "index", str(outer / "2023"))[0] == 0
    code, out, err = run(capsys, "--model", str(tiny_model_dir), "index", str(outer))
    assert code == 0, err
    assert f"{outer} now includes {outer / '2023'}" in out
    assert "indexed 0 (0 embedded, 0 reused), unchanged 2" in out  # nothing embedded again
    code, _, err = run(capsys, "--model", str(tiny_model_dir), "index", str(outer / "2023"))
    assert code == 1 and err.strip() == f"xmr: error: {outer / '2023'} is already indexed as part of {outer}."
