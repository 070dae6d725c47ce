"""`xmr duplicates` as a user runs it: groups with the keeper first and why, sizes, what would be freed; the
copies go to the (patched) system trash only with --yes; the same answers from a running app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from duplicate_photos import FolderTrash, PixelEmbedder, copies_folder

from xmr_desktop.cli import main
from xmr_desktop.config import Paths, resolve_paths
from xmr_desktop.core import commands as c
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.core.server import LibraryServer

TIMEOUT = 60
TESTS = str(Path(__file__).resolve().parents[1])


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return resolve_paths(tmp_path / "data").ensure()


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    return copies_folder(tmp_path / "photos")


@pytest.fixture
def local(paths: Paths, photos: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Paths:
    """The photos indexed; `xmr --local` in this process gets the same stand-in model."""
    model = PixelEmbedder()
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=False)
    library.call(c.IndexNow((str(photos["a"].parent),)))
    library.close()
    monkeypatch.setattr("xmr_desktop.core.models.lazy_embedder", lambda argument, models_dir: model)
    return paths


def xmr(capsys: pytest.CaptureFixture[str], paths: Paths, *argv: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(paths.data_dir), "--local", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def shown(capsys: pytest.CaptureFixture[str], paths: Paths) -> set[str]:
    """What `xmr search` finds: every indexed photo (the stand-in model ranks any text the same)."""
    code, out, err = xmr(capsys, paths, "search", "anything", "--json", "--top", "10")
    assert code == 0, err
    return {json.loads(line)["path"] for line in out.splitlines()}


def test_groups_are_listed_with_the_keeper_first_and_why(capsys, local: Paths, photos) -> None:
    code, out, err = xmr(capsys, local, "duplicates")
    assert code == 0, err
    lines = out.splitlines()
    first_a = next(i for i, line in enumerate(lines) if str(photos["a"]) in line)
    assert lines[first_a].lstrip().startswith("keep") and "because: most pixels (480×360)" in lines[first_a]
    assert lines[first_a + 1].lstrip().startswith("copy") and str(photos["a-small"]) in lines[first_a + 1]
    keep_b = next(line for line in lines if str(photos["b"]) + "  " in line)
    assert keep_b.lstrip().startswith("keep") and "not named as a copy" in keep_b
    assert str(photos["c"]) not in out
    assert "2 same-shot groups, 0 similar groups among 5 photos" in lines[-1] and "reclaimable" in lines[-1]


def test_json_is_one_object_per_group_and_level_and_folder_narrow_it(capsys, local: Paths, photos) -> None:
    code, out, err = xmr(capsys, local, "duplicates", "--json")
    assert code == 0, err
    groups = [json.loads(line) for line in out.splitlines()]
    assert [g["level"] for g in groups] == ["same shot", "same shot"]
    for group in groups:
        assert [p["keep"] for p in group["photos"]] == [True, False]
        assert group["reclaimable"] == group["photos"][1]["size"] == os.path.getsize(group["photos"][1]["path"])
        assert group["keeper_reason"]
    assert {g["photos"][0]["path"] for g in groups} == {str(photos["a"]), str(photos["b"])}
    code, out, _ = xmr(capsys, local, "duplicates", "--json", "--level", "similar")
    assert code == 0 and out == ""
    code, out, _ = xmr(capsys, local, "duplicates", "--folder", str(photos["a-small"].parent))
    assert code == 0 and out.strip() == "no duplicates among 1 photos"


def test_trash_without_yes_says_what_it_would_move_and_moves_nothing(capsys, local: Paths, photos, monkeypatch, tmp_path) -> None:
    trash = FolderTrash(tmp_path / "trash")
    monkeypatch.setattr("send2trash.send2trash", trash)
    code, _, err = xmr(capsys, local, "duplicates", "--trash")
    assert code != 0
    assert f"would move to the trash: {photos['a-small']}" in err and f"would move to the trash: {photos['b copy']}" in err
    assert "add --yes" in err
    assert trash.sent == [] and all(p.exists() for p in photos.values())
    assert shown(capsys, local) == {str(p) for p in photos.values()}


def test_trash_with_yes_moves_all_but_the_keepers_and_the_index_follows(capsys, local: Paths, photos, monkeypatch, tmp_path) -> None:
    trash = FolderTrash(tmp_path / "trash")
    monkeypatch.setattr("send2trash.send2trash", trash)
    code, out, err = xmr(capsys, local, "duplicates", "--trash", "--yes")
    assert code == 0, err
    assert sorted(trash.sent) == sorted([str(photos["a-small"]), str(photos["b copy"])])
    assert "moved 2 photos" in out and "to the system trash" in out
    assert photos["a"].exists() and photos["b"].exists() and not photos["b copy"].exists()
    assert shown(capsys, local) == {str(photos[k]) for k in ("a", "b", "c")}
    code, out, _ = xmr(capsys, local, "duplicates")
    assert code == 0 and out.strip() == "no duplicates among 3 photos"


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
    env = {**os.environ, "XMR_DATA_DIR": str(paths.data_dir), "PYTHONPATH": os.pathsep.join([TESTS, *sys.path])}
    done = subprocess.run([sys.executable, "-c", _CLI, *argv], capture_output=True, text=True, env=env, timeout=300, check=False)
    *messages, summary = done.stderr.strip().splitlines()
    result = json.loads(summary)
    return result["code"], done.stdout, result["heavy"], "\n".join(messages)


@pytest.fixture
def app(paths: Paths, photos: dict[str, Path]) -> Iterator[PhotoLibrary]:
    """The window's core (threaded, its model loaded) serving `xmr` on its socket, the photos indexed."""
    model = PixelEmbedder()
    library = PhotoLibrary(paths, lambda argument, models_dir: model, threaded=True, served_by="app")
    library.start()
    library.call(c.IndexNow((str(photos["a"].parent),)), timeout=TIMEOUT)
    server = LibraryServer(library, paths.data_dir)
    server.start()
    yield library
    server.close()
    library.close()


def test_a_running_app_answers_and_trashes_without_the_cli_loading_anything_heavy(
    app: PhotoLibrary, paths: Paths, photos, monkeypatch, tmp_path
) -> None:
    trash = FolderTrash(tmp_path / "trash")
    monkeypatch.setattr("send2trash.send2trash", trash)  # in this process: the app moves the files
    code, out, heavy, err = cli(paths, "duplicates", "--json")
    assert code == 0, err
    assert heavy == []
    assert sorted(json.loads(line)["photos"][0]["path"] for line in out.splitlines()) == sorted([str(photos["a"]), str(photos["b"])])
    code, _, heavy, err = cli(paths, "duplicates", "--trash")
    assert code != 0 and "add --yes" in err and trash.sent == []
    code, out, heavy, err = cli(paths, "duplicates", "--trash", "--yes", "--json")
    assert code == 0, err
    assert heavy == []
    moved = json.loads(out.splitlines()[-1])
    assert sorted(moved["trashed"]) == sorted(trash.sent) == sorted([str(photos["a-small"]), str(photos["b copy"])])
    assert {r.path for r in app.call(c.Search("anything", top_k=10), timeout=TIMEOUT)} == {str(photos[k]) for k in ("a", "b", "c")}
