"""The main window: search row, result grid, folders panel and status bar, over the photo-library core.

The window keeps no copy of the core's state: it sends commands through ``LibraryBridge`` and shows what the
core's events say (the newest ``ModelInfo``, the newest folder list); the search on screen is the
``SearchController``'s.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QStackedWidget

from xmr_desktop.config import Paths
from xmr_desktop.core import events as e
from xmr_desktop.core.commands import AddFolder, LoadModel, PauseFolder, PauseIndexing, RemoveFolder
from xmr_desktop.core.library import PhotoLibrary, WatcherFactory
from xmr_desktop.core.models import EmbedderFactory, ModelStatus, model_status, on_disk_embedder
from xmr_desktop.core.state import FolderInfo, ModelInfo
from xmr_desktop.engine.litert_prepare import PREPARING_LINE
from xmr_desktop.library.photo_paths import is_photo_file, normalise_folder
from xmr_desktop.library.store import AddedFolder
from xmr_desktop.library.watcher import FolderWatcher
from xmr_desktop.search.query import SEARCH_BOX_MAX_CHARS
from xmr_desktop.ui.concepts_dialog import ConceptsController
from xmr_desktop.ui.date_grid import DateGroupedGrid
from xmr_desktop.ui.duplicates_view import add_duplicates_action
from xmr_desktop.ui.folders import FoldersPanel
from xmr_desktop.ui.language_control import LanguageController
from xmr_desktop.ui.library_bridge import LibraryBridge
from xmr_desktop.ui.menus import MenuActions, build_menus
from xmr_desktop.ui.model_dialog import ModelDialog
from xmr_desktop.ui.model_download import DownloadFn, prepared_hub_download
from xmr_desktop.ui.ocr_menu import OcrMenu
from xmr_desktop.ui.pages import MessagePage, WelcomePage
from xmr_desktop.ui.results_model import ResultsModel, SortOrder
from xmr_desktop.ui.results_view import ResultsView
from xmr_desktop.ui.search_bar import SearchBar, image_query_text
from xmr_desktop.ui.search_controller import SearchController, SearchStatus
from xmr_desktop.ui.search_extras import SearchExtras
from xmr_desktop.ui.settings import AppSettings
from xmr_desktop.ui.status import StatusPanel
from xmr_desktop.ui.thumbnails import ThumbnailCache
from xmr_desktop.ui.viewer import Viewer

log = logging.getLogger(__name__)

ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "xmr.svg"
STATUS_MS = 10_000


class MainWindow(QMainWindow):
    """The app's window.

    Signals (on the GUI thread, so tests and other widgets can wait on them):
        results_shown(generation): the grid now shows the answer to search ``generation``.
        indexing_finished(IndexReport): an indexing run ended.
        folders_updated(list[FolderInfo]): the folders panel shows new counts or states.
        model_ready(name, device): the model loaded.

    Attributes:
        library, bridge: the core and the window's connection to it.
        search: the query on screen and its answers.
        search_bar, results_model, results_view, folders_panel, status_panel, thumbnails: the parts.
        search_extras: how the query was read (chips) and the filter bar, under the search box.
        date_grid: lays the grid out in sections: strong matches, the "Weaker matches (N)" divider (click: show or
            hide them), and in date order day or month groups on each side; ocr_menu: the "Text in photos" choice.
        viewer, results_page: the photo shown large beside the grid (and full-window), and the page holding both.
        open_duplicates: opens the Duplicates view and starts a search (Library → Find duplicates…).
        concepts: "Teach a name…" and "Names…" (personal concepts).
        language: the first-run language question, the Language menu and the "answered by" line.
        settings: persisted preferences.
    """

    results_shown = Signal(int)
    indexing_finished = Signal(object)
    folders_updated = Signal(object)
    model_ready = Signal(str, str)

    def __init__(
        self,
        paths: Paths,
        *,
        settings: AppSettings | None = None,
        model: str | None = None,
        embedder_factory: EmbedderFactory | None = None,
        watcher_factory: WatcherFactory | None = FolderWatcher,
        check_model: bool | None = None,
        download_fn: DownloadFn = prepared_hub_download,
        batch_size: int | None = None,
        decode_workers: int | None = None,
        ask_languages: bool | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings or AppSettings(paths.config_dir)
        self.model_argument = model if model is not None else self.settings.model
        self._check_model = check_model if check_model is not None else embedder_factory is None
        # The first-run question picks the model, so it is asked only when nothing chose one yet.
        ask = ask_languages if ask_languages is not None else embedder_factory is None
        self._ask_languages = ask and model is None and self.settings.model is None and not self.settings.languages_asked
        self._download_fn = download_fn
        self.library = PhotoLibrary(
            paths, embedder_factory or on_disk_embedder, model=self.model_argument, threaded=True,
            watcher_factory=watcher_factory, batch_size=batch_size, decode_workers=decode_workers, served_by="app",
            language=self.settings.query_language,
        )
        self.bridge = LibraryBridge(self.library, self)
        self.thumbnails = ThumbnailCache(paths.thumbnails_dir, disk_bytes=self.settings.thumbnail_cache_bytes, parent=self)
        self.results_model = ResultsModel(self.thumbnails, self)
        self.model_info = ModelInfo("none", self.model_argument)
        self.folders: list[FolderInfo] | None = None
        self._model_missing = False
        self._fatal_message = ""
        self._started = False
        self._closing = False
        self._build_ui()
        self.language = LanguageController(self)
        self._restore_settings()
        self.bridge.events.connect(self._on_events)
        self.bridge.failed.connect(self.show_message)

    # -- construction --------------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.setWindowTitle("xmr — photo search")
        if ICON_PATH.is_file():
            self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.setAcceptDrops(True)
        self.search_bar = SearchBar(self)
        self.search_bar.edit.setAcceptDrops(False)  # dropped files go to the window, not into the text
        self.search_bar.edit.setMaxLength(SEARCH_BOX_MAX_CHARS)  # the core refuses longer queries anyway
        self.results_view = ResultsView(self)
        self.results_view.setModel(self.results_model)
        self.viewer = Viewer(self, self.results_view, self.results_model, self.thumbnails, self.settings)
        self.results_page = self.viewer.page
        self.welcome_page = WelcomePage(self)
        self.message_page = MessagePage(self)
        self.pages = QStackedWidget(self)
        for page in (self.welcome_page, self.message_page, self.results_page):
            self.pages.addWidget(page)
        self.pages.setCurrentWidget(self.message_page)
        self.setCentralWidget(self.pages)
        bar = self.addToolBar("Search")
        bar.setObjectName("search-toolbar")
        bar.setMovable(False)
        bar.addWidget(self.search_bar)
        self.folders_panel = FoldersPanel(self)
        dock = QDockWidget("Folders", self)
        dock.setObjectName("folders-dock")
        dock.setWidget(self.folders_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.folders_dock = dock
        self.status_panel = StatusPanel(self)
        self.statusBar().addPermanentWidget(self.status_panel)
        self.search = SearchController(
            self.bridge, self.results_model, self.results_view, self.thumbnails, self.settings.result_limit, self
        )
        self.search.shown.connect(self.results_shown)
        self.search.status_changed.connect(self._update_page)
        self.concepts = ConceptsController(self.bridge, self.results_view, self.show_message, self)
        self.concepts.search_stale.connect(self.search.refresh)
        actions = MenuActions(self.choose_folder, lambda: self.show_model_dialog(), lambda: self.concepts.teach(),
                              self.concepts.show_names)
        build_menus(self, self.search_bar, self.folders_dock, self.paths.log_dir, actions, [self.viewer.toggle_action])
        self._build_search_extras()
        self.search_bar.query_changed.connect(self.search.set_text)
        self.search_bar.folder_changed.connect(self.search.set_folder)
        self.search_bar.sort_changed.connect(self._on_sort_changed)
        self.search_bar.strictness_changed.connect(self._on_strictness_changed)
        self.search_bar.thumb_size_changed.connect(self.results_view.set_thumb_size)
        self.search_bar.down_pressed.connect(self._focus_results)
        self.results_view.similar_requested.connect(self.find_similar)
        self.welcome_page.add_requested.connect(self.choose_folder)
        self.folders_panel.add_requested.connect(self.choose_folder)
        self.folders_panel.remove_requested.connect(self.remove_folder)
        self.folders_panel.pause_requested.connect(lambda path, paused: self.bridge.call(PauseFolder(path, paused)))
        self.status_panel.pause_toggled.connect(lambda paused: self.bridge.call(PauseIndexing(paused)))

    def _build_search_extras(self) -> None:
        self.search_extras = SearchExtras(self.search, self)
        self.addToolBarBreak()
        bar = self.addToolBar("Filters")
        bar.setObjectName("filters-toolbar")
        bar.setMovable(False)
        bar.addWidget(self.search_extras)
        self.date_grid = DateGroupedGrid(self.results_view, self.results_model, self)
        self.search_bar.thumb_size_changed.connect(lambda _px: self.date_grid.relayout())
        self.search_bar.query_changed.connect(lambda _text: self.date_grid.reset_weak())
        self.ocr_menu = OcrMenu(self, self.bridge)
        self.open_duplicates = add_duplicates_action(self, self.bridge)  # Library → Find duplicates…

    def _restore_settings(self) -> None:
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)
        else:
            self.resize(QSize(1100, 720))
        if self.settings.window_state is not None:
            self.restoreState(self.settings.window_state)
        self.search_bar.set_thumb_size(self.settings.thumb_size)
        self.results_view.set_thumb_size(self.settings.thumb_size)
        self.search_bar.set_sort_order(self.settings.sort_order)
        self._on_sort_changed(self.settings.sort_order)
        self.search_bar.strictness.set_strictness(self.settings.strictness)
        self.search.set_strictness(self.settings.strictness)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the core (it rescans the folders) and load the model, or ask for one if none is on disk."""
        if self._closing or self._started:
            return
        self._started = True
        self.bridge.start()
        if self._ask_languages:
            self._ask_languages = False
            QTimer.singleShot(0, lambda: self.language.ask(first_run=True, then=self._check_and_load))
            return
        self._check_and_load()

    def _check_and_load(self) -> None:
        """Load the model, or open the download dialog when it is not on disk (the window never downloads
        without it)."""
        if self._closing:
            return
        if self._check_model:
            status = model_status(self.model_argument, self.paths.models_dir)
            if not status.on_disk:
                self._model_missing = True
                self.status_panel.set_model_problem("No model", status.problem or "The model is not downloaded yet.")
                self._update_page()
                QTimer.singleShot(0, lambda: self.show_model_dialog(status))
                return
        self._load_model(self.model_argument)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self.settings.geometry = self.saveGeometry()
            self.settings.window_state = self.saveState()
            self.settings.thumb_size = self.results_view.thumb_size
            self.settings.sort_order = self.results_model.sort_order
            self.settings.sync()
            self.search.stop()
            self.hide()
            self.bridge.close()
            self.viewer.close()
            self.thumbnails.wait()
        event.accept()

    # -- user actions --------------------------------------------------------------------------------------

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folder(folder)

    def add_folder(self, path: str) -> None:
        path = normalise_folder(path)
        self.show_message(f"Adding {path}…")
        self.bridge.call(AddFolder(path), self._on_folder_added)

    def remove_folder(self, path: str) -> None:
        """Forget a folder (the panel asked the user first); its thumbnails go from the cache too."""
        self.bridge.call(RemoveFolder(path), lambda removed: self.thumbnails.forget_under(path))

    def _on_folder_added(self, added: AddedFolder) -> None:
        if added.absorbed:
            inner = ", ".join(added.absorbed)
            self.show_message(f"Added {added.folder.path}; it includes {inner}, which is now part of it.")

    @Slot(str)
    def find_similar(self, path: str) -> None:
        """Search for photos that look like ``path``."""
        if '"' in path:  # cannot be quoted in the box; ask for the image directly
            self.search_bar.edit.setText(os.path.basename(path))
            self.search.set_image(path)
            return
        self.search_bar.set_query(image_query_text(path))

    def show_model_dialog(self, status: ModelStatus | None = None) -> None:
        dialog = ModelDialog(status or model_status(self.model_argument, self.paths.models_dir), self.paths.models_dir,
                             download_fn=self._download_fn, parent=self)
        dialog.model_chosen.connect(self._on_model_chosen)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.model_dialog = dialog

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    @Slot()
    def _focus_results(self) -> None:
        if self.results_model.rowCount():
            self.results_view.setFocus(Qt.FocusReason.ShortcutFocusReason)
            if not self.results_view.currentIndex().isValid():
                self.results_view.setCurrentIndex(self.results_model.index(0))

    @Slot(object)
    def _on_sort_changed(self, order: SortOrder) -> None:
        self.results_model.set_sort_order(order)
        self.date_grid.set_enabled(order == SortOrder.DATE)

    @Slot(float)
    def _on_strictness_changed(self, strictness: float) -> None:
        self.settings.strictness = strictness
        self.search.set_strictness(strictness)

    def use_model(self, argument: str | None) -> None:
        """Make ``argument`` the model from now on (persisted; None: the default), without loading it yet."""
        self.model_argument = argument
        self.settings.model = argument

    def switch_model(self, argument: str | None) -> None:
        """Use and load ``argument`` now, through the download dialog when it is not on disk yet."""
        self.use_model(argument)
        status = model_status(argument, self.paths.models_dir)
        if self._check_model and not status.on_disk:
            self.show_model_dialog(status)
            return
        self._load_model(argument)

    @Slot(object)
    def _on_model_chosen(self, argument: str | None) -> None:
        self.model_argument = argument
        if argument is not None:
            self.settings.model = argument
        self._model_missing = False
        self._load_model(argument)

    def _load_model(self, argument: str | None) -> None:
        # A failure arrives as a ModelChanged event too, which is what the window shows.
        self.bridge.call(LoadModel(argument), None, lambda message: log.info("model not loaded: %s", message))

    # -- drag and drop -------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(self._drop_kind(url) for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        image = None
        for url in event.mimeData().urls():
            kind = self._drop_kind(url)
            if kind == "folder":
                self.add_folder(url.toLocalFile())
            elif kind == "image" and image is None:
                image = url.toLocalFile()
        if image is not None:
            self.find_similar(image)
        event.acceptProposedAction()

    @staticmethod
    def _drop_kind(url: QUrl) -> str | None:
        if not url.isLocalFile():
            return None
        path = url.toLocalFile()
        if os.path.isdir(path):
            return "folder"
        return "image" if is_photo_file(path) else None

    # -- what the core says --------------------------------------------------------------------------------

    @Slot(object)
    def _on_events(self, batch: list[e.Event]) -> None:
        for event in batch:
            if isinstance(event, e.ModelChanged):
                self._on_model(event.model)
            elif isinstance(event, e.ModelPreparing):
                self._on_preparing(event)
            elif isinstance(event, e.ActivityChanged):
                self.status_panel.set_state(event.activity)
            elif isinstance(event, e.IndexingProgress):
                self.status_panel.set_progress(event.progress)
            elif isinstance(event, e.FoldersChanged):
                self._on_folders(list(event.folders))
            elif isinstance(event, e.SearchableChanged):
                self.search.searchable_changed()
            elif isinstance(event, e.IndexingFinished):
                self._on_finished(event)
            elif isinstance(event, e.ConceptsChanged):
                self.concepts.set_names(event.concepts)
            elif isinstance(event, e.OcrChanged):
                self.ocr_menu.show_mode(event.mode, event.problem)
            elif isinstance(event, e.Problem):
                self._on_problem(event)

    def _on_model(self, model: ModelInfo) -> None:
        self.model_info = model
        if model.state == "loading":
            self.status_panel.set_model_problem("Loading model…", "")
        elif model.state == "ready":
            self.status_panel.set_model(model.name, model.device)
            self.model_ready.emit(model.name, model.device)
        elif model.state == "failed":
            self.status_panel.set_model_problem("Model unavailable", model.message)
            self.statusBar().showMessage(model.message, 15000)
        self.search.set_model_state(model.state)
        self.language.on_model(model)
        self._update_page()

    def _on_preparing(self, event: e.ModelPreparing) -> None:
        # The one-time LiteRT export (tens of seconds): the reason the model is not ready yet.
        if self.model_info.state != "loading":
            return  # a late event of an export that has ended
        line = PREPARING_LINE.format(name=event.name)
        self.status_panel.set_model_problem(f"{line} {100 * event.fraction:.0f}%", event.stage)

    def _on_folders(self, infos: list[FolderInfo]) -> None:
        self.folders = infos
        self.folders_panel.model.set_folders(infos)
        self.search_bar.set_folders([info.path for info in infos])
        self._update_page()
        self.folders_updated.emit(infos)

    def _on_finished(self, event: e.IndexingFinished) -> None:
        report = event.report
        text = f"Up to date: {report.summary()}"
        if report.skipped:
            text += f"; {report.skipped} files could not be read (`xmr skipped` lists them)"
        self.statusBar().showMessage(text, STATUS_MS)
        if report.embedded >= 8:  # for the re-embedding estimate; a handful of photos measures start-up, not speed
            self.settings.seconds_per_photo = report.elapsed / report.embedded
        self.search.refresh()
        self.indexing_finished.emit(report)

    def _on_problem(self, problem: e.Problem) -> None:
        log.warning("the core reported: %s", problem.message)
        self.statusBar().showMessage(problem.message, 15000)
        if problem.fatal:  # the index could not even be opened: nothing works until that is fixed
            self._fatal_message = html.escape(problem.message)
            self._update_page()
            QMessageBox.critical(self, "xmr_desktop", problem.message)

    # -- the central page ------------------------------------------------------------------------------------

    def _update_page(self) -> None:
        if self.results_model.rowCount():
            self.pages.setCurrentWidget(self.results_page)
        elif self.folders is not None and not self.folders and not self._fatal_message:
            self.pages.setCurrentWidget(self.welcome_page)
        else:
            self.message_page.set_text(self._message_text())
            self.pages.setCurrentWidget(self.message_page)

    def _message_text(self) -> str:
        model = self.model_info
        if self._fatal_message:
            return self._fatal_message
        if self._model_missing:
            return "No search model yet. Choose <b>File → Get model…</b> to download one; folders can be added meanwhile."
        status = self.search.status
        if status is SearchStatus.FAILED:
            return self.search.message
        if status is SearchStatus.NO_MATCHES:
            return "No matching photos yet."
        if model.state == "failed":
            return f"The model could not be loaded: {html.escape(model.message)}<br>Choose <b>File → Get model…</b>."
        if status is SearchStatus.WAITING_FOR_MODEL:
            return "Your search will run as soon as the model is ready."
        if model.state in ("none", "loading"):
            return "Loading the model… you can start typing."
        indexed = sum(info.indexed for info in self.folders or [])
        return f"Type what you remember, e.g. <i>a dog on the beach</i>.<br>{indexed:,} photos are searchable."
