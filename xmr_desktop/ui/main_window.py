"""The main window: search row, result grid, folders panel and status bar, glued to the indexing worker."""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QStackedWidget

from xmr_desktop.config import Paths
from xmr_desktop.library.indexer import IndexReport
from xmr_desktop.library.scanner import image_extensions
from xmr_desktop.library.watcher import FolderWatcher
from xmr_desktop.ui.concepts_dialog import ConceptsController
from xmr_desktop.ui.folder_info import FolderInfo
from xmr_desktop.ui.folders import FoldersPanel
from xmr_desktop.ui.menus import build_menus
from xmr_desktop.ui.model_dialog import ModelDialog
from xmr_desktop.ui.model_download import DownloadFn, hub_download
from xmr_desktop.ui.model_files import EmbedderFactory, ModelStatus, load_on_disk_embedder, model_status
from xmr_desktop.ui.pages import MessagePage, WelcomePage
from xmr_desktop.ui.results_model import ResultsModel, SortOrder
from xmr_desktop.ui.results_view import ResultsView
from xmr_desktop.ui.search_bar import SearchBar, image_query_text
from xmr_desktop.ui.settings import AppSettings
from xmr_desktop.ui.status import StatusPanel
from xmr_desktop.ui.thumbnails import ThumbnailCache
from xmr_desktop.ui.folder_monitor import WatcherFactory
from xmr_desktop.ui.worker_handle import WorkerHandle

log = logging.getLogger(__name__)

REFRESH_MS = 2000  # re-run the shown query at most this often while new photos are being indexed
ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "xmr.svg"


class MainWindow(QMainWindow):
    """The app's window.

    Signals (all on the GUI thread, unlike the worker's, so tests and other widgets can wait on them):
        results_shown(generation): the grid now shows the answer to search ``generation``.
        indexing_finished(IndexReport): an indexing run ended.
        folders_updated(list[FolderInfo]): the folders panel shows new counts or states.
        model_ready(name, device): the model loaded on the worker thread.

    Attributes:
        handle: the indexing worker's handle (its ``worker`` emits progress, results…).
        search_bar, results_model, results_view, folders_panel, status_panel, thumbnails: the parts.
        concepts: "Teach a name…" and "Names…" (personal concepts).
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
        download_fn: DownloadFn = hub_download,
        batch_size: int | None = None,
        decode_workers: int | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings or AppSettings(paths.config_dir)
        self.model_argument = model if model is not None else self.settings.model
        self._check_model = check_model if check_model is not None else embedder_factory is None
        self._download_fn = download_fn
        self.handle = WorkerHandle(
            paths.index_db, paths.models_dir, embedder_factory or load_on_disk_embedder,
            watcher_factory=watcher_factory, batch_size=batch_size, decode_workers=decode_workers, parent=self,
        )
        self.thumbnails = ThumbnailCache(paths.thumbnails_dir, parent=self)
        self.results_model = ResultsModel(self.thumbnails, self)
        self._folders: list[FolderInfo] | None = None
        self._query = ""
        self._folder_filter: str | None = None
        self._generation = 0
        self._refresh_generations: set[int] = set()
        self._model_state = "loading"
        self._model_message = ""
        self._fatal_message = ""
        self._search_message = ""
        self._failed_files = 0
        self._closing = False
        self._build_ui()
        self._connect_worker()
        self._restore_settings()

    # -- construction --------------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.setWindowTitle("xmr — photo search")
        if ICON_PATH.is_file():
            self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.setAcceptDrops(True)
        self.search_bar = SearchBar(self)
        self.search_bar.edit.setAcceptDrops(False)  # dropped files go to the window, not into the text
        self.results_view = ResultsView(self)
        self.results_view.setModel(self.results_model)
        self.welcome_page = WelcomePage(self)
        self.message_page = MessagePage(self)
        self.pages = QStackedWidget(self)
        for page in (self.welcome_page, self.message_page, self.results_view):
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
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_results)
        self.concepts = ConceptsController(self)
        self.concepts.search_stale.connect(self._refresh_results)
        build_menus(self)
        self.search_bar.query_changed.connect(self._on_query_changed)
        self.search_bar.folder_changed.connect(self._on_folder_filter)
        self.search_bar.sort_changed.connect(self._on_sort_changed)
        self.search_bar.thumb_size_changed.connect(self.results_view.set_thumb_size)
        self.search_bar.down_pressed.connect(self._focus_results)
        self.results_view.similar_requested.connect(self.find_similar)
        self.welcome_page.add_requested.connect(self.choose_folder)
        self.folders_panel.add_requested.connect(self.choose_folder)
        self.folders_panel.remove_requested.connect(self.handle.remove_folder)
        self.folders_panel.pause_requested.connect(self.handle.set_folder_paused)
        self.status_panel.pause_toggled.connect(self.handle.set_paused)

    def _connect_worker(self) -> None:
        worker = self.handle.worker
        worker.model_ready.connect(self._on_model_ready)
        worker.model_failed.connect(self._on_model_failed)
        worker.progress.connect(self.status_panel.set_progress)
        worker.state_changed.connect(self.status_panel.set_state)
        worker.index_changed.connect(self._on_index_changed)
        worker.finished.connect(self._on_finished)
        worker.file_failed.connect(self._on_file_failed)
        worker.results.connect(self._on_results)
        worker.search_failed.connect(self._on_search_failed)
        worker.folders_changed.connect(self._on_folders)
        worker.error.connect(self._on_error)

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
        self.results_model.set_sort_order(self.settings.sort_order)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker (rescans the folders) and load the model, or ask for one if none is on disk."""
        if self._closing or self.handle.running:
            return
        self.handle.start()
        if self._check_model:
            status = model_status(self.model_argument, self.paths.models_dir)
            if not status.on_disk:
                self._model_state = "missing"
                self.status_panel.set_model_problem("No model", status.problem or "The model is not downloaded yet.")
                self._update_page()
                QTimer.singleShot(0, lambda: self.show_model_dialog(status))
                return
        self.handle.load_model(self.model_argument)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self.settings.geometry = self.saveGeometry()
            self.settings.window_state = self.saveState()
            self.settings.thumb_size = self.results_view.thumb_size
            self.settings.sort_order = self.results_model.sort_order
            self.settings.sync()
            self._refresh_timer.stop()
            self.hide()
            self.handle.stop()
            self.thumbnails.wait()
        event.accept()

    # -- user actions --------------------------------------------------------------------------------------

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folder(folder)

    def add_folder(self, path: str) -> None:
        path = os.path.abspath(path)
        self.statusBar().showMessage(f"Adding {path}…", 5000)
        self.handle.add_folder(path)

    @Slot(str)
    def find_similar(self, path: str) -> None:
        """Search for photos that look like ``path``."""
        if '"' in path:  # cannot be quoted in the box; ask the worker directly
            self.search_bar.edit.setText(os.path.basename(path))
            self._query = ""
            self._post_search("image", path)
            return
        self.search_bar.set_query(image_query_text(path))

    def show_model_dialog(self, status: ModelStatus | None = None) -> None:
        dialog = ModelDialog(status or model_status(self.model_argument, self.paths.models_dir), self.paths.models_dir,
                             download_fn=self._download_fn, parent=self)
        dialog.model_chosen.connect(self._on_model_chosen)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.model_dialog = dialog

    @Slot()
    def _focus_results(self) -> None:
        if self.results_model.rowCount():
            self.results_view.setFocus(Qt.FocusReason.ShortcutFocusReason)
            if not self.results_view.currentIndex().isValid():
                self.results_view.setCurrentIndex(self.results_model.index(0))

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
        if os.path.splitext(path)[1].lower() in image_extensions() and os.path.isfile(path):
            return "image"
        return None

    # -- searching -----------------------------------------------------------------------------------------

    @Slot(str)
    def _on_query_changed(self, text: str) -> None:
        self._query = text
        if not text:
            self._generation = self.handle.invalidate_searches()  # anything in flight is stale now
            self.results_model.set_results(self._generation, [])
            self._search_message = ""
            self._update_page()
            return
        self._post_search("text", text)

    @Slot(object)
    def _on_folder_filter(self, folder: str | None) -> None:
        self._folder_filter = folder
        if self._query:
            self._post_search("text", self._query)

    @Slot(object)
    def _on_sort_changed(self, order: SortOrder) -> None:
        self.results_model.set_sort_order(order)

    def _post_search(self, kind: str, query: str, refresh: bool = False) -> None:
        limit = self.settings.result_limit
        if kind == "image":
            self._generation = self.handle.similar(query, self._folder_filter, limit)
        else:
            self._generation = self.handle.search(query, self._folder_filter, limit)
        if refresh:
            self._refresh_generations.add(self._generation)
        elif self._model_state != "ready":
            self._search_message = "Your search will run as soon as the model is ready."
            self._update_page()

    @Slot(int, object)
    def _on_results(self, generation: int, results: list) -> None:
        if generation < self._generation:
            return  # an older query's answer
        refresh = generation in self._refresh_generations
        self._refresh_generations.discard(generation)
        scroll = self.results_view.verticalScrollBar().value()
        if not refresh or self.results_model.paths() != [r.path for r in results]:
            self.thumbnails.cancel_pending()
        self.results_model.set_results(generation, results)
        if refresh:
            self.results_view.verticalScrollBar().setValue(scroll)
        self._search_message = "" if results else "No matching photos yet."
        self._update_page()
        self.results_shown.emit(generation)

    @Slot(int, str)
    def _on_search_failed(self, generation: int, message: str) -> None:
        if generation < self._generation:
            return
        self._search_message = html.escape(message)
        self.results_model.set_results(generation, [])
        self._update_page()
        self.results_shown.emit(generation)

    @Slot()
    def _on_index_changed(self) -> None:
        if self._query and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    @Slot()
    def _refresh_results(self) -> None:
        if self._query:
            self._post_search("text", self._query, refresh=True)

    # -- worker reports ------------------------------------------------------------------------------------

    @Slot(str, str)
    def _on_model_ready(self, name: str, device: str) -> None:
        self._model_state = "ready"
        self.status_panel.set_model(name, device)
        self.model_ready.emit(name, device)
        if self._search_message.startswith("Your search will run"):
            self._search_message = ""
        self._update_page()

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self._model_state, self._model_message = "failed", message
        self.status_panel.set_model_problem("Model unavailable", message)
        self.statusBar().showMessage(message, 15000)
        self._update_page()

    @Slot(object)
    def _on_model_chosen(self, argument: str | None) -> None:
        self.model_argument = argument
        if argument is not None:
            self.settings.model = argument
        self._model_state = "loading"
        self.status_panel.set_model_problem("Loading model…", "")
        self._update_page()
        self.handle.load_model(argument)

    @Slot(object)
    def _on_finished(self, report: IndexReport) -> None:
        text = f"Up to date: {report.summary()}"
        if self._failed_files:
            text += f"; {self._failed_files} files could not be read (`xmr skipped` lists them)"
            self._failed_files = 0
        self.statusBar().showMessage(text, 10000)
        self._refresh_timer.stop()
        self._refresh_results()
        self.indexing_finished.emit(report)

    @Slot(str, str)
    def _on_file_failed(self, path: str, reason: str) -> None:
        self._failed_files += 1
        log.info("could not index %s: %s", path, reason)

    @Slot(object)
    def _on_folders(self, infos: list[FolderInfo]) -> None:
        self._folders = list(infos)
        self.folders_panel.model.set_folders(infos)
        self.search_bar.set_folders([info.path for info in infos])
        self._update_page()
        self.folders_updated.emit(self._folders)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        log.warning("worker reported: %s", message)
        self.statusBar().showMessage(message, 15000)
        if self._folders is None:  # the index could not even be opened: nothing works until that is fixed
            self._fatal_message = html.escape(message)
            self._update_page()
            QMessageBox.critical(self, "xmr_desktop", message)

    def _update_page(self) -> None:
        if self._folders is not None and not self._folders and not self.results_model.rowCount():
            self.pages.setCurrentWidget(self.welcome_page)
        elif self.results_model.rowCount():
            self.pages.setCurrentWidget(self.results_view)
        else:
            self.message_page.set_text(self._message_text())
            self.pages.setCurrentWidget(self.message_page)

    def _message_text(self) -> str:
        if self._fatal_message:
            return self._fatal_message
        if self._model_state == "missing":
            return "No search model yet. Choose <b>File → Get model…</b> to download one; folders can be added meanwhile."
        if self._search_message:
            return self._search_message
        if self._model_state == "failed":
            return f"The model could not be loaded: {html.escape(self._model_message)}<br>Choose <b>File → Get model…</b>."
        if self._model_state == "loading":
            return "Loading the model… you can start typing."
        indexed = sum(info.indexed for info in self._folders or [])
        return f"Type what you remember, e.g. <i>a dog on the beach</i>.<br>{indexed:,} photos are searchable."
