"""`xmr --lang ... search` with a multilingual text tower over an `openai-b32` index, on tiny checkpoints laid out
like the hub's (a tiny CLIP installed as `openai-b32`, a tiny M-CLIP downloaded from a local fake hub as
`mclip-b32`): through the real command line, and through a running app's core."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fake_hub import FakeHub, FakeRepo, online
from multilingual_models import make_tiny_mclip
from synthetic_shapes import all_items, make_folder
from xmr_desktop.cli import main
from xmr_desktop.config import Paths, resolve_paths
from xmr_desktop.engine.loading import write_model_marker
from xmr_desktop.engine.registry import REGISTRY
from xmr_desktop.engine.text_towers import TEXT_TOWERS, ensure_text_tower

pytestmark = pytest.mark.slow  # builds and loads TF towers (and one command-line process loads TensorFlow)

OPENAI_B32 = "openai/clip-vit-base-patch32"
QUERY = "红色的车"


@pytest.fixture(scope="module")
def library_paths(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Paths:
    """A data dir whose models folder has `openai-b32` (the tiny CLIP) and `mclip-b32` (a tiny M-CLIP, downloaded
    and compacted by the real installer from a local hub)."""
    paths = resolve_paths(tmp_path_factory.mktemp("xmr-multilingual")).ensure()
    clip = paths.models_dir / REGISTRY["openai-b32"].folder_name
    shutil.copytree(tiny_model_dir, clip)
    write_model_marker(clip, name="openai-b32", hub_id=OPENAI_B32, image_model_id=OPENAI_B32)
    hub_dir = make_tiny_mclip(tmp_path_factory.mktemp("hub") / "XLM-Roberta-Large-Vit-B-32",
                              [QUERY, "一个红色的圆形", "a red circle", "蓝色的正方形", "雪山日落"])
    files = {str(p.relative_to(hub_dir)): p.read_bytes() for p in hub_dir.rglob("*") if p.is_file() and p.name != "expected.npz"}
    server = FakeHub({TEXT_TOWERS["mclip-b32"].hub_id: FakeRepo("a" * 40, files)})
    try:
        with online():
            ensure_text_tower(TEXT_TOWERS["mclip-b32"], paths.models_dir, endpoint=server.url)
    finally:
        server.close()
    return paths


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    make_folder(folder, all_items()[:8], ext=".png", rng=np.random.default_rng(11))
    return folder


def run(capsys: pytest.CaptureFixture[str], paths: Paths, *argv: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(paths.data_dir), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def expected_ranking(paths: Paths, query_vector: np.ndarray, top: int) -> list[tuple[str, float]]:
    """Rank the index's stored `openai-b32` vectors by hand."""
    from xmr_desktop.library.store import Store

    with Store.open(paths.index_db) as store:
        chunks = list(store.iter_vectors(OPENAI_B32))
        ids = np.concatenate([i for i, _ in chunks])
        vectors = np.concatenate([v for _, v in chunks]).astype(np.float32)
        scores = vectors @ query_vector
        order = np.argsort(-scores)[:top]
        records = store.records_by_ids(int(ids[i]) for i in order)
        return [(records[int(ids[i])].path, float(scores[i])) for i in order]


def assert_same_ranking(hits: list[dict], expected: list[tuple[str, float]]) -> None:
    assert [h["path"] for h in hits] == [path for path, _ in expected]
    assert np.allclose([h["score"] for h in hits], [score for _, score in expected], atol=2e-3)


@pytest.fixture(scope="module")
def towers(library_paths: Paths) -> Iterator[tuple[object, object]]:
    """(mclip-b32, openai-b32) loaded the way the command line loads them, to compute what each should answer."""
    from xmr_desktop.engine.embedder import load_embedder

    tower = load_embedder("mclip-b32", library_paths.models_dir)
    yield tower, tower.image_model
    tower.close()


def test_lang_multi_searches_an_openai_b32_index_through_mclip_b32(capsys, library_paths: Paths, photos: Path, towers) -> None:
    code, out, err = run(capsys, library_paths, "--model", "openai-b32", "index", str(photos))
    assert code == 0 and out.startswith("indexed 8 (8 embedded"), err

    code, out, err = run(capsys, library_paths, "--model", "mclip-b32", "--lang", "multi", "search", QUERY, "--top", "5", "--json")
    assert code == 0, err
    tower, _ = towers
    assert_same_ranking(json_lines(out), expected_ranking(library_paths, tower.embed_texts([QUERY])[0], 5))

    # The tower reuses openai-b32's image vectors: nothing is embedded again.
    code, out, err = run(capsys, library_paths, "--model", "mclip-b32", "index", str(photos))
    assert code == 0 and out.startswith("indexed 0 (0 embedded, 0 reused), unchanged 8"), err
    code, out, err = run(capsys, library_paths, "--model", "mclip-b32", "--lang", "multi", "status", "--json")
    status = json.loads(out)
    assert (status["model_name"], status["image_model"], status["language"], status["model_id"]) == (
        "mclip-b32", "openai-b32", "multi", OPENAI_B32)
    assert status["folders"][0]["indexed"] == 8
    code, out, _ = run(capsys, library_paths, "--model", "mclip-b32", "status")
    assert "language: auto (each term by its language: mclip-b32 for other languages, openai-b32's own text tower for English)" in out


def test_auto_sends_the_chinese_term_to_the_tower_and_the_english_one_to_clip(capsys, library_paths: Paths, photos: Path, towers) -> None:
    from xmr_desktop.search.query import combine

    assert run(capsys, library_paths, "--model", "openai-b32", "index", str(photos))[0] == 0
    # English words no photo's name holds: this is about which tower reads each term, not about names matching.
    query = f"{QUERY} + a crimson disc"
    code, out, err = run(capsys, library_paths, "--model", "mclip-b32", "--lang", "auto", "search", query, "--top", "4", "--json")
    assert code == 0, err
    tower, clip = towers
    vector = combine([(1.0, tower.embed_texts([QUERY])[0]), (1.0, clip.embed_texts(["a crimson disc"])[0])])
    assert_same_ranking(json_lines(out), expected_ranking(library_paths, vector, 4))
    # --lang en: CLIP's own tower reads both terms.
    code, out, err = run(capsys, library_paths, "--model", "mclip-b32", "--lang", "en", "search", query, "--top", "4", "--json")
    vector = combine([(1.0, clip.embed_texts([QUERY])[0]), (1.0, clip.embed_texts(["a crimson disc"])[0])])
    assert_same_ranking(json_lines(out), expected_ranking(library_paths, vector, 4))
    # A CLIP alone cannot do --lang multi, and says what to use instead.
    code, out, err = run(capsys, library_paths, "--model", "openai-b32", "--lang", "multi", "search", QUERY)
    assert code == 1 and "--lang multi needs a multilingual model" in err and "mclip-b32" in err


def test_models_lists_the_text_towers_with_their_image_space_and_disk_state(capsys, library_paths: Paths) -> None:
    code, out, _ = run(capsys, library_paths, "models", "--json")
    towers = {e["name"]: e for e in json_lines(out) if e["kind"] == "text-tower"}
    assert set(towers) == {"mclip-b32", "mclip-l14", "multilingual-b32-small"}
    assert (towers["mclip-b32"]["on_disk"], towers["mclip-b32"]["image_model"], towers["mclip-b32"]["image_model_on_disk"]) == (
        True, "openai-b32", True)
    assert (towers["mclip-l14"]["on_disk"], towers["mclip-l14"]["image_model_on_disk"], towers["mclip-l14"]["download_mb"]) == (
        False, False, 2240)
    code, out, _ = run(capsys, library_paths, "models")
    assert " d mclip-b32 " in out and "images of openai-b32 (on disk)" in out and "images of openai-l14 (downloaded with it)" in out


def test_a_running_app_with_the_tower_answers_in_its_language_and_the_cli_answers_other_ones(
    library_paths: Paths, photos: Path, towers
) -> None:
    from tests.core.test_serving import cli
    from xmr_desktop.core import commands as c
    from xmr_desktop.core.library import PhotoLibrary
    from xmr_desktop.core.models import on_disk_embedder
    from xmr_desktop.core.server import LibraryServer

    app = PhotoLibrary(library_paths, on_disk_embedder, model="mclip-b32", threaded=True, served_by="app", language="multi")
    app.start()
    server = LibraryServer(app, library_paths.data_dir)
    try:
        info = app.call(c.LoadModel("mclip-b32"), timeout=120)
        assert (info.image_model, info.language) == ("openai-b32", "multi")
        app.call(c.IndexNow((str(photos),)), timeout=120)
        server.start()
        tower, clip = towers
        code, out, heavy, err = cli(library_paths, "--model", "mclip-b32", "--lang", "multi", "search", QUERY, "--top", "5", "--json")
        assert code == 0 and heavy == [], err  # the window answered: nothing heavy loaded in this process
        assert_same_ranking(json_lines(out), expected_ranking(library_paths, tower.embed_texts([QUERY])[0], 5))
        # The window routes by "multi"; asked for "en", this process answers itself with CLIP's own text tower.
        code, out, heavy, err = cli(library_paths, "--model", "mclip-b32", "--lang", "en", "search", QUERY, "--top", "5", "--json")
        assert code == 0 and "tensorflow" in heavy, err
        assert_same_ranking(json_lines(out), expected_ranking(library_paths, clip.embed_texts([QUERY])[0], 5))
    finally:
        server.close()
        app.close()
