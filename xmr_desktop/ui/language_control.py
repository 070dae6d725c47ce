"""The window's languages: the first-run question, the Language menu and the "answered by" line.

- **First run** asks which languages the user searches in (``LanguageDialog``) and picks the model pair.
- **Language → Languages you search in…** asks again; a pair with another image space re-embeds every photo, so
  a confirmation says so first, with an estimate of the time (``core.language_choice.plan_switch``); a pair of
  the same image space (``openai-b32`` → ``mclip-b32``) switches at once and says nothing is embedded again.
- **Language → Automatic / English / Multilingual** sets the query-language setting of a multilingual model
  (``SetLanguage``: the core swaps the searcher's text side, nothing is reloaded), persisted.
- After each text search with a multilingual model, the status bar says which tower answered each term
  (``QueryTowers``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton

from xmr_desktop.core.commands import QueryTowers, SetLanguage
from xmr_desktop.core.language_choice import LanguageChoice, plan_switch
from xmr_desktop.core.state import ModelInfo
from xmr_desktop.ui.language_dialog import LanguageDialog
from xmr_desktop.ui.menus import menu_before

if TYPE_CHECKING:
    from xmr_desktop.ui.main_window import MainWindow

log = logging.getLogger(__name__)

LANGUAGE_ACTIONS = (
    ("auto", "&Automatic: each term by its language"),
    ("en", "&English: CLIP's own text tower"),
    ("multi", "&Multilingual tower for every term"),
)


class LanguageController(QObject):
    """See the module docstring.

    Signals:
        language_set(language): the core routes by ``language`` now (after ``SetLanguage``).
        towers_shown(text): the "answered by" line changed ("" when hidden).

    Attributes:
        menu: the Language menu; actions: its three settings by language; ask_action: "Languages you search in…".
        towers_label: the status bar's "answered by" line.
        dialog: the question while it is open; confirm_box, confirm_button: the re-embed confirmation while open.
    """

    language_set = Signal(str)
    towers_shown = Signal(str)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.dialog: LanguageDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self.confirm_button: QPushButton | None = None
        self.menu = menu_before(window, "&Language", ("Library", "Help"))
        group = QActionGroup(self)
        group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for language, text in LANGUAGE_ACTIONS:
            action = QAction(text, window)
            action.setCheckable(True)
            action.setEnabled(False)  # until a multilingual model is ready
            action.triggered.connect(lambda _checked=False, lang=language: self.set_language(lang))
            group.addAction(action)
            self.menu.addAction(action)
            self.actions[language] = action
        self.actions[window.settings.query_language].setChecked(True)
        self.menu.addSeparator()
        self.ask_action = QAction("Languages you &search in…", window)
        self.ask_action.triggered.connect(lambda: self.ask(first_run=False))
        self.menu.addAction(self.ask_action)
        self.towers_label = QLabel(window)
        self.towers_label.hide()
        window.statusBar().addWidget(self.towers_label)
        window.search.shown.connect(self._show_towers)

    # -- the question ------------------------------------------------------------------------------------------

    def ask(self, *, first_run: bool, then: Callable[[], None] | None = None) -> None:
        """Show the question; on the first run ``then`` continues the start-up once it is answered (or closed:
        the default stays)."""
        window = self._window
        dialog = LanguageDialog(window.paths.models_dir, current=window.settings.search_languages, first_run=first_run,
                                parent=window)
        dialog.chosen.connect(lambda option: self._chosen(option, first_run, then))
        if first_run and then is not None:
            dialog.rejected.connect(lambda: self._first_run_closed(then))
        dialog.finished.connect(lambda _result: self._forget_dialog(dialog))
        self.dialog = dialog
        dialog.open()

    def _forget_dialog(self, dialog: LanguageDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _first_run_closed(self, then: Callable[[], None]) -> None:
        self._window.settings.search_languages = "english"  # asked once; the default model stays
        then()

    def _chosen(self, option: LanguageChoice, first_run: bool, then: Callable[[], None] | None) -> None:
        window = self._window
        window.settings.search_languages = option.key
        if first_run:
            window.use_model(option.model)
            if then is not None:
                then()
            return
        if option.model == window.model_argument:
            return
        photos = sum(info.total for info in window.folders or [])
        plan = plan_switch(window.model_argument, option, photos, window.settings.seconds_per_photo, window.paths.models_dir)
        if plan.reembeds and plan.photos:
            self._confirm(option, plan.message)
            return
        window.switch_model(option.model)
        window.show_message(plan.message)

    def _confirm(self, option: LanguageChoice, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Embed the photos again?", message, parent=self._window)
        self.confirm_button = box.addButton("Embed again and switch", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self._confirmed(option, button))
        self.confirm_box = box
        box.open()

    def _confirmed(self, option: LanguageChoice, button: Any) -> None:
        confirmed = button is self.confirm_button
        self.confirm_box = self.confirm_button = None
        if confirmed:
            self._window.switch_model(option.model)
        else:
            log.info("switch to %s cancelled: it would embed every photo again", option.model)

    # -- the setting -------------------------------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        """Route query terms by ``language`` from now on (persisted); the search on screen is asked again."""
        window = self._window
        window.settings.query_language = language
        window.bridge.call(SetLanguage(language), lambda info: self._language_set(info), window.show_message)

    def _language_set(self, info: ModelInfo) -> None:
        self.language_set.emit(info.language)
        self._window.search.refresh()

    def on_model(self, model: ModelInfo) -> None:
        """Enable the settings only where they mean something (a multilingual model), checked as the core says."""
        usable = model.state == "ready" and model.multilingual
        for language, action in self.actions.items():
            action.setEnabled(usable)
            if usable and language == model.language:
                action.setChecked(True)
        if not model.multilingual:
            self._set_towers("")

    # -- which tower answered --------------------------------------------------------------------------------------

    @Slot(int)
    def _show_towers(self, generation: int) -> None:
        window = self._window
        query = window.search.query
        if query is None or query.kind != "text" or not window.model_info.multilingual:
            self._set_towers("")
            return
        text = query.text
        window.bridge.call(QueryTowers(text), lambda towers: self._towers_answered(text, towers), lambda _m: self._set_towers(""))

    def _towers_answered(self, text: str, towers: list[tuple[str, str]]) -> None:
        query = self._window.search.query
        if query is None or query.text != text:
            return  # typed over meanwhile
        self._set_towers("Answered by: " + " · ".join(f"{term} → {tower}" for term, tower in towers))

    def _set_towers(self, text: str) -> None:
        self.towers_label.setText(text)
        self.towers_label.setVisible(bool(text))
        self.towers_shown.emit(text)

