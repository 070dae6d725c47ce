"""The query-language setting in the core, on stand-in models: per-term routing, switching without reloading,
the language in the status, and which CLI requests a running app answers in which language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakes import ColourEmbedder, ColourTower
from xmr_desktop.config import Paths, resolve_paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core.language import LanguageError, serves_language
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.core.state import ModelInfo
from xmr_desktop.errors import XmrError

COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}
TIMEOUT = 60


def _photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rgb in COLOURS.items():
        Image.new("RGB", (48, 40), rgb).save(folder / f"{name}.png")
    return folder


class Models:
    """A CLIP stand-in and a multilingual tower bound to it, loaded by name; counts every factory call."""

    def __init__(self) -> None:
        self.clip = ColourEmbedder("fake-clip")
        self.tower = ColourTower(self.clip, name="fake-tower")
        self.loads: list[str | None] = []

    def __call__(self, argument: str | None, models_dir: Path) -> object:
        self.loads.append(argument)
        return self.tower if argument == "fake-tower" else self.clip


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return resolve_paths(tmp_path / "data").ensure()


def _library(paths: Paths, models: Models, **options: object) -> PhotoLibrary:
    library = PhotoLibrary(paths, models, threaded=False, batch_size=4, decode_workers=1, **options)  # type: ignore[arg-type]
    library.start()
    return library


def _names(results: list) -> list[str]:
    return [Path(r.path).stem for r in results]


def test_a_tower_searches_the_clips_index_and_auto_routes_each_term(paths: Paths, tmp_path: Path) -> None:
    models = Models()
    library = _library(paths, models)
    report = library.call(c.IndexNow((str(_photos(tmp_path / "photos")),)))
    assert report.embedded == 3  # with the CLIP

    info = library.call(c.LoadModel("fake-tower"))
    assert (info.name, info.image_model, info.language, info.model_id) == ("fake-tower", "fake-clip", "auto", "fake-clip")
    assert library.call(c.IndexNow()).embedded == 0  # the tower shares the CLIP's image vectors
    assert _names(library.call(c.Search("红色", top_k=1))) == ["red"]

    models.clip.texts.clear()
    results = library.call(c.Search("蓝色 + green", top_k=3))
    assert models.tower.texts[-1:] == ["蓝色"] and models.clip.texts == ["green"]  # one query, two towers
    assert set(_names(results[:2])) == {"blue", "green"}
    assert library.call(c.QueryTowers("蓝色 + green - 红")) == [("蓝色", "fake-tower"), ("green", "fake-clip"), ("红", "fake-tower")]
    library.close()


def test_switching_the_language_rebuilds_only_the_text_side(paths: Paths, tmp_path: Path) -> None:
    models = Models()
    library = _library(paths, models, model="fake-tower")
    library.call(c.IndexNow((str(_photos(tmp_path / "photos")),)))
    seen: list[e.Event] = []
    library.subscribe(seen.append)
    assert _names(library.call(c.Search("blue", top_k=1))) == ["blue"]
    loads, embedded = list(models.loads), models.clip.images_embedded

    info = library.call(c.SetLanguage("multi"))
    assert info.language == "multi" and library.call(c.GetStatus()).model.language == "multi"
    assert [ev.model.language for ev in seen if isinstance(ev, e.ModelChanged)] == ["multi"]
    models.tower.texts.clear()
    models.clip.texts.clear()
    assert _names(library.call(c.Search("blue", top_k=1))) == ["blue"]  # embedded again, by the tower this time
    assert models.tower.texts == ["blue"] and models.clip.texts == []
    assert library.call(c.QueryTowers("blue")) == [("blue", "fake-tower")]

    library.call(c.SetLanguage("en"))
    assert library.call(c.QueryTowers("红色 + blue")) == [("红色", "fake-clip"), ("blue", "fake-clip")]
    assert models.loads == loads and models.clip.images_embedded == embedded  # nothing loaded or embedded again
    with pytest.raises(LanguageError, match="must be one of auto, en, multi"):
        library.call(c.SetLanguage("fr"))
    library.close()


def test_a_clip_alone_answers_en_and_auto_but_multi_is_an_error(paths: Paths, tmp_path: Path) -> None:
    models = Models()
    library = _library(paths, models, language="multi")
    library.call(c.IndexNow((str(_photos(tmp_path / "photos")),)))  # indexing does not care about the language
    with pytest.raises(LanguageError, match="--lang multi needs a multilingual model.*mclip-b32"):
        library.call(c.Search("红色"))
    assert library.call(c.GetStatus()).model.language == "en"
    with pytest.raises(XmrError, match="multilingual"):
        library.call(c.SetLanguage("multi"))
    library.call(c.SetLanguage("auto"))
    assert library.call(c.QueryTowers("红色 + blue")) == [("红色", "fake-clip"), ("blue", "fake-clip")]
    library.close()


def test_the_language_setting_survives_a_model_switch_and_can_come_with_loadmodel(paths: Paths) -> None:
    models = Models()
    library = _library(paths, models, language="multi")
    assert library.call(c.LoadModel("fake-tower")).language == "multi"
    assert library.call(c.LoadModel("fake-tower", language="en")).language == "en"
    assert library.call(c.LoadModel(None)).language == "en"  # the CLIP alone
    assert library.call(c.LoadModel("fake-tower")).language == "en"  # the setting was kept
    library.close()


def test_concept_names_route_the_words_around_them(paths: Paths, tmp_path: Path) -> None:
    models = Models()
    library = _library(paths, models, model="fake-tower")
    photos = _photos(tmp_path / "photos")
    library.call(c.IndexNow((str(photos),)))
    library.call(c.TeachConcept("旺财", (str(photos / "green.png"),)))
    assert library.call(c.QueryTowers("旺财在海滩上 + 旺财 + Rex on the beach")) == [
        ("旺财在海滩上", "fake-tower"), ("旺财", "concept"), ("Rex on the beach", "fake-clip")
    ]
    models.tower.texts.clear()
    library.call(c.Search("旺财在红色的海滩上"))
    assert models.tower.texts == ["在红色的海滩上"]  # the words around the name, by the multilingual tower
    library.close()


@pytest.mark.parametrize(
    ("model", "requested", "served"),
    [
        (ModelInfo("ready", name="mclip-b32", image_model="openai-b32", language="auto"), None, True),
        (ModelInfo("ready", name="mclip-b32", image_model="openai-b32", language="auto"), "auto", True),
        (ModelInfo("ready", name="mclip-b32", image_model="openai-b32", language="auto"), "multi", False),
        (ModelInfo("none", name="mclip-b32", image_model="openai-b32", language="multi"), "multi", True),
        (ModelInfo("ready", name="datacomp-b32", language="en"), "auto", True),
        (ModelInfo("ready", name="datacomp-b32", language="en"), "en", True),
        (ModelInfo("ready", name="datacomp-b32", language="en"), "multi", False),
        (ModelInfo("ready", name="datacomp-b32", language="en"), "klingon", False),
    ],
)
def test_which_language_a_running_app_serves(model: ModelInfo, requested: str | None, served: bool) -> None:
    assert serves_language(model, requested) is served


@pytest.fixture
def app(paths: Paths) -> Iterator[PhotoLibrary]:
    models = Models()
    library = PhotoLibrary(paths, models, model="fake-tower", threaded=True, served_by="app", language="auto")
    library.start()
    library.call(c.LoadModel("fake-tower"), timeout=TIMEOUT)
    yield library
    library.close()


def test_a_running_app_answers_only_in_its_own_language_setting(app: PhotoLibrary, paths: Paths, tmp_path: Path) -> None:
    from xmr_desktop.cli.remote import NotServed, find_app, request
    from xmr_desktop.core.server import LibraryServer

    app.call(c.IndexNow((str(_photos(tmp_path / "photos")),)), timeout=TIMEOUT)
    server = LibraryServer(app, paths.data_dir)
    server.start()
    try:
        endpoint = find_app(paths.data_dir)
        assert endpoint is not None
        found = request(endpoint, c.Search("红色", top_k=1), model="fake-tower", lang="auto")
        assert _names(found) == ["red"]
        assert request(endpoint, c.QueryTowers("红色 + blue"), lang="auto") == [("红色", "fake-tower"), ("blue", "fake-clip")]
        assert request(endpoint, c.QueryTowers("blue")) == [("blue", "fake-clip")]  # no language asked: the app's
        with pytest.raises(NotServed, match="another language"):
            request(endpoint, c.Search("红色"), lang="multi")
        status = request(endpoint, c.GetStatus(), lang="multi")  # answers that embed no text are served
        assert (status.model.language, status.model.image_model) == ("auto", "fake-clip")
        app.call(c.SetLanguage("multi"), timeout=TIMEOUT)
        assert request(endpoint, c.QueryTowers("blue"), lang="multi") == [("blue", "fake-tower")]
    finally:
        server.close()


def test_the_cli_sends_its_language_and_answers_itself_when_the_app_would_not(app: PhotoLibrary, paths: Paths) -> None:
    from tests.core.test_serving import cli
    from xmr_desktop.core.server import LibraryServer

    server = LibraryServer(app, paths.data_dir)
    server.start()
    try:
        code, out, heavy, err = cli(paths, "--lang", "auto", "search", "红色", "--json")
        assert code == 0 and out == "" and heavy == [], err  # the app answered (nothing indexed yet)
        code, out, _, err = cli(paths, "status", "--json")
        assert code == 0, err
        record = json.loads(out)
        assert (record["language"], record["image_model"], record["model_name"]) == ("auto", "fake-clip", "fake-tower")
        # The app routes by "auto": this process opens the index itself, and here it has no model on disk.
        code, out, _, err = cli(paths, "--lang", "multi", "search", "红色")
        assert code == 1 and "datacomp-b32" in err and "download" in err
    finally:
        server.close()


def test_xmr_lang_from_the_environment_is_checked(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from xmr_desktop.cli import main

    monkeypatch.setenv("XMR_LANG", "fr")
    assert main(["status"]) == 1
    assert capsys.readouterr().err.strip() == "xmr: error: XMR_LANG='fr': the query language must be one of auto, en, multi"


def test_the_commands_language_list_is_the_routers() -> None:
    from xmr_desktop.search.language import LANGUAGES

    assert c.LANGUAGES == LANGUAGES
    assert np.array_equal(ColourTower().embed_texts(["红"]), ColourEmbedder().embed_texts(["red"]))
