"""The window's languages: the first-run question picks the model pair, changing it later re-embeds only when
the image space changes (after a confirmation with an estimate), and the Language menu switches auto/en/multi
without reloading anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fakes import ColourEmbedder, ColourTower
from tests.ui.helpers import INDEX_TIMEOUT_MS
from xmr_desktop.engine.loading import MODEL_MARKER
from xmr_desktop.engine.registry import REGISTRY
from xmr_desktop.engine.text_towers import TEXT_TOWERS
from xmr_desktop.ui.model_download import DownloadControl
from xmr_desktop.ui.settings import AppSettings


class Models:
    """Stand-ins by model argument: the default CLIP, and towers bound to another CLIP ("openai-b32"'s space)."""

    def __init__(self) -> None:
        self.default = ColourEmbedder("fake-datacomp")
        self.openai = ColourEmbedder("fake-openai")
        self.towers = {name: ColourTower(self.openai, name=name) for name in ("mclip-b32", "multilingual-b32-small")}
        self.loads: list[str | None] = []

    def __call__(self, argument: str | None, models_dir: Path) -> Any:
        self.loads.append(argument)
        return self.towers.get(argument or "", self.default)


def _complete(folder: Path, record: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / MODEL_MARKER).write_text(json.dumps(record))


def fake_tower_download(status: Any, models_dir: Path, control: DownloadControl) -> None:
    """What a finished install of a tower leaves: its folder and its CLIP's, complete."""
    tower = TEXT_TOWERS[status.argument]
    control.set_part(f"the image tower of {tower.image_model}")
    clip = REGISTRY[tower.image_model]
    _complete(models_dir / clip.folder_name, {"image_model_id": clip.hub_id})
    control.set_part(f"the multilingual text tower {tower.name}")
    _complete(models_dir / tower.folder_name, {"image_model": tower.image_model, "bound_image_model_id": clip.hub_id})


def _window(qtbot: Any, paths: Any, models: Models, **options: Any) -> Any:
    from xmr_desktop.ui.main_window import MainWindow

    options.setdefault("batch_size", 8)
    options.setdefault("decode_workers", 2)
    window = MainWindow(paths, embedder_factory=models, watcher_factory=None, **options)
    qtbot.addWidget(window)
    window.show()
    return window


def test_the_first_run_asks_which_languages_and_picks_the_pair(qtbot: Any, paths: Any) -> None:
    models = Models()
    window = _window(qtbot, paths, models, check_model=True, ask_languages=True, download_fn=fake_tower_download)
    window.start()
    qtbot.waitUntil(lambda: window.language.dialog is not None and window.language.dialog.isVisible())
    question = window.language.dialog
    assert question.buttons["english"].isChecked()  # today's default unless the user says otherwise
    english, chinese = question.details["english"].text(), question.details["multilingual"].text()
    assert "datacomp-b32" in english and "605\u00a0MB to download" in english.replace("\u200b", "")
    assert "openai-b32 images (606\u00a0MB) + mclip-b32 text tower (2.24\u00a0GB" in chinese.replace("\u200b", "")
    assert "4.5-23x CLIP's own text tower" in chinese
    assert "8x slower" in question.details["multilingual-best"].text()
    assert models.loads == []  # nothing is loaded before the answer

    question.select("multilingual")
    question.ok_button.click()
    settings = AppSettings(paths.config_dir)
    assert (settings.search_languages, settings.model, settings.languages_asked) == ("multilingual", "mclip-b32", True)
    # Neither tower nor CLIP is on disk: the download dialog gets both, with the same stages and progress.
    qtbot.waitUntil(lambda: getattr(window, "model_dialog", None) is not None and window.model_dialog.isVisible())
    dialog = window.model_dialog
    intro = dialog.message.text().replace("\u200b", "").replace("\u00a0", " ")
    assert "multilingual text tower mclip-b32 and the image tower of openai-b32 (about 2.85 GB to download)" in intro
    said: list[str] = []
    dialog.message.setText = lambda text: said.append(text.replace("\u200b", ""))  # type: ignore[method-assign]
    with qtbot.waitSignal(window.model_ready, timeout=INDEX_TIMEOUT_MS):
        dialog.download_button.click()
    assert said[1:] == ["Getting mclip-b32: the image tower of openai-b32…",
                        "Getting mclip-b32: the multilingual text tower mclip-b32…"]  # each part announced
    assert models.loads == ["mclip-b32"]
    assert window.model_info.multilingual and window.model_info.language == "auto"
    assert window.language.actions["auto"].isEnabled() and window.language.actions["auto"].isChecked()
    window.close()

    # Asked once: the next start loads the chosen pair at once.
    again = _window(qtbot, paths, models, check_model=True, ask_languages=True, download_fn=fake_tower_download)
    with qtbot.waitSignal(again.model_ready, timeout=INDEX_TIMEOUT_MS):
        again.start()
    assert again.language.dialog is None and models.loads[-1] == "mclip-b32"
    again.close()


def test_closing_the_first_run_question_keeps_the_default(qtbot: Any, paths: Any) -> None:
    models = Models()
    window = _window(qtbot, paths, models, check_model=False, ask_languages=True)
    window.start()
    qtbot.waitUntil(lambda: window.language.dialog is not None and window.language.dialog.isVisible())
    with qtbot.waitSignal(window.model_ready, timeout=INDEX_TIMEOUT_MS):
        window.language.dialog.reject()
    assert models.loads == [None] and AppSettings(paths.config_dir).search_languages == "english"
    assert not window.language.actions["multi"].isEnabled()  # a CLIP alone: the setting means nothing
    window.close()


def _answer(qtbot: Any, window: Any, key: str) -> None:
    window.language.ask(first_run=False)
    qtbot.waitUntil(lambda: window.language.dialog is not None and window.language.dialog.isVisible())
    window.language.dialog.select(key)
    window.language.dialog.ok_button.click()


def test_changing_languages_re_embeds_only_when_the_image_space_changes_and_says_so_first(
    qtbot: Any, paths: Any, photo_dir: Path
) -> None:
    models = Models()
    window = _window(qtbot, paths, models, check_model=False)
    with qtbot.waitSignal(window.model_ready, timeout=INDEX_TIMEOUT_MS):
        window.start()
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS):
        window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: bool(window.folders) and window.folders[0].indexed == 5)
    window.settings.seconds_per_photo = 2.0  # as if the last indexing run had measured it

    # datacomp-b32 -> mclip-b32 (openai-b32's images): every photo is embedded again, so ask first.
    _answer(qtbot, window, "multilingual")
    qtbot.waitUntil(lambda: window.language.confirm_box is not None and window.language.confirm_box.isVisible())
    text = window.language.confirm_box.text()
    assert "all 5 photos are embedded again, which takes about 10 s (2.00 s per photo, as measured in the last indexing run)" in text
    assert "datacomp-b32" in text and "openai-b32" in text
    assert models.loads == [None]
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS):
        window.language.confirm_button.click()
    assert models.loads == [None, "mclip-b32"] and models.openai.images_embedded == 5

    # mclip-b32 -> multilingual-b32-small: the same image space, so no question and nothing embedded.
    embedded = models.openai.images_embedded
    with qtbot.waitSignal(window.model_ready, timeout=INDEX_TIMEOUT_MS):
        _answer(qtbot, window, "multilingual-small")
    assert window.language.confirm_box is None
    assert "nothing is embedded again" in window.statusBar().currentMessage()
    assert models.loads[-1] == "multilingual-b32-small" and models.openai.images_embedded == embedded

    # Back to English: asked again; Cancel keeps everything as it is.
    _answer(qtbot, window, "english")
    qtbot.waitUntil(lambda: window.language.confirm_box is not None and window.language.confirm_box.isVisible())
    window.language.confirm_box.button(window.language.confirm_box.StandardButton.Cancel).click()
    assert models.loads[-1] == "multilingual-b32-small" and window.settings.model == "multilingual-b32-small"
    window.close()


def test_the_language_menu_switches_auto_en_multi_without_reloading(qtbot: Any, paths: Any, photo_dir: Path) -> None:
    models = Models()
    window = _window(qtbot, paths, models, model="mclip-b32", check_model=False)
    with qtbot.waitSignal(window.model_ready, timeout=INDEX_TIMEOUT_MS):
        window.start()
    with qtbot.waitSignal(window.indexing_finished, timeout=INDEX_TIMEOUT_MS):
        window.add_folder(str(photo_dir))
    controller = window.language
    with qtbot.waitSignal(controller.towers_shown, timeout=INDEX_TIMEOUT_MS,
                          check_params_cb=lambda text: text == "Answered by: 红色 → mclip-b32 · blue → fake-openai"):
        window.search_bar.set_query("红色 + blue")
    assert controller.towers_label.isVisible()

    loads, embedded = list(models.loads), models.openai.images_embedded
    with qtbot.waitSignal(controller.towers_shown, timeout=INDEX_TIMEOUT_MS,
                          check_params_cb=lambda text: text == "Answered by: 红色 → mclip-b32 · blue → mclip-b32"):
        controller.actions["multi"].trigger()
    qtbot.waitUntil(lambda: window.model_info.language == "multi")  # the core's ModelChanged event
    assert window.settings.query_language == "multi"
    with qtbot.waitSignal(controller.towers_shown, timeout=INDEX_TIMEOUT_MS,
                          check_params_cb=lambda text: text == "Answered by: 红色 → fake-openai · blue → fake-openai"):
        controller.actions["en"].trigger()
    assert models.loads == loads and models.openai.images_embedded == embedded  # nothing reloaded or re-embedded
    window.close()

    # The setting is kept: the next window routes by it from the start.
    again = _window(qtbot, paths, models, model="mclip-b32", check_model=False)
    with qtbot.waitSignal(again.model_ready, timeout=INDEX_TIMEOUT_MS):
        again.start()
    assert again.model_info.language == "en" and again.language.actions["en"].isChecked()
    again.close()
