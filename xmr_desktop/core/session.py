"""What the core's worker thread holds for one index, and the handlers of the commands that use it.

The store connection, the folder book, the model with its searcher and indexing pipeline, the watcher and the
personal concepts all live here and are touched only on the worker thread (the caller's, in inline mode).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xmr_desktop.config import Paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core.folder_book import FolderBook
from xmr_desktop.core.folder_io import FolderIO
from xmr_desktop.core.models import EmbedderFactory, is_loaded, model_status, peek_model, reporting_preparation
from xmr_desktop.core.state import ConceptInfo, LibraryStatus, ModelInfo
from xmr_desktop.engine.protocol import Embedder
from xmr_desktop.errors import UnknownFolderError, XmrError
from xmr_desktop.library.photo_paths import normalise_folder
from xmr_desktop.library.pipeline import IndexPipeline
from xmr_desktop.library.store import AddedFolder, Store
from xmr_desktop.search.searcher import Searcher

if TYPE_CHECKING:
    from xmr_desktop.core.background import Background

log = logging.getLogger(__name__)

NO_MODEL = "Searching needs the model; it is not loaded."


class Session:
    """The worker thread's state; see the module docstring.

    Attributes:
        store, io, book: the index connection, the folder thread, the folders with their counts.
        model: what the shells are told about the model.
        embedder, searcher, pipeline: present once a model is ready.
        indexing_paused: the user paused all indexing.
    """

    def __init__(
        self,
        paths: Paths,
        factory: EmbedderFactory,
        model_argument: str | None,
        emit: Callable[[e.Event], None],
        *,
        served_by: str,
        pipeline_options: dict[str, Any],
    ) -> None:
        self.paths = paths
        self._factory = factory
        self._emit = emit
        self._served_by = served_by
        self._pipeline_options = pipeline_options
        self.model = ModelInfo("none", model_argument)
        self.store: Store | None = None
        self.io: FolderIO | None = None
        self.watcher: Any = None
        self.book = FolderBook()
        self.embedder: Embedder | None = None
        self.searcher: Searcher | None = None
        self.pipeline: IndexPipeline | None = None
        self.indexing_paused = False
        self._first_open = True

    # -- lifecycle -------------------------------------------------------------------------------------------

    def open(self, make_io: Callable[[Store], FolderIO], watcher: Any) -> None:
        self.store = Store.open(self.paths.index_db)
        self.io = make_io(self.store)
        if self.model.state == "none":
            self.model = peek_model(self.model.argument, self.paths.models_dir)
        self.watcher = watcher
        clean = self.store.get_meta("clean_shutdown")
        self.store.set_meta("clean_shutdown", "0")
        self._unclean_before = clean == "0"
        self.book.load(self.store, self.model.model_id)

    @property
    def previous_run_was_unclean(self) -> bool:
        return getattr(self, "_unclean_before", False)

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self._drop_model()
        if self.io is not None:
            self.io.close()
            self.io = None
        if self.store is not None:
            try:
                self.store.set_meta("clean_shutdown", "1")
            except XmrError as error:
                log.warning("could not record a clean shutdown: %s", error)
            self.store.close()
            self.store = None

    def require_store(self) -> Store:
        if self.store is None:
            raise XmrError("The index is not open.")
        return self.store

    # -- the model ---------------------------------------------------------------------------------------------

    def load_model(self, argument: str | None) -> ModelInfo:
        """Load (or switch to) a model; blocks this thread for seconds, never the window."""
        self._drop_model()
        self._set_model(ModelInfo("loading", argument))
        name = model_status(argument, self.paths.models_dir).name

        def preparing(stage: str, fraction: float) -> None:
            self._emit(e.ModelPreparing(argument, name, stage, float(fraction)))

        try:
            with reporting_preparation(preparing):
                embedder = self._factory(argument, self.paths.models_dir)
        except XmrError as error:
            log.info("model %s unavailable: %s", argument, error)
            self._set_model(ModelInfo("failed", argument, message=str(error)))
            raise
        except Exception as error:  # TensorFlow raises many unrelated types; the user needs one message
            log.exception("loading model %s failed", argument)
            message = f"The model could not be loaded ({type(error).__name__}: {error})."
            self._set_model(ModelInfo("failed", argument, message=message))
            raise XmrError(message) from error
        store = self.require_store()
        self.embedder = embedder
        self.searcher = Searcher(store, embedder)
        self.pipeline = IndexPipeline(store, embedder, eligible_folders=self.book.indexable_ids, **self._pipeline_options)
        self.book.load(store, embedder.model_id)
        self.attach_concepts()
        device = str(embedder.device) if is_loaded(embedder) else ""
        self._set_model(ModelInfo("ready", argument, str(getattr(embedder, "name", argument or "")), embedder.model_id, device))
        return self.model

    def require_model(self) -> Embedder:
        """The model, loaded now if nobody asked for one yet (the CLI); XmrError if it cannot be."""
        if self.embedder is None and self.model.state == "none":
            self.load_model(self.model.argument)
        if self.embedder is None:
            raise XmrError(self.model.message or NO_MODEL)
        return self.embedder

    def _set_model(self, model: ModelInfo) -> None:
        self.model = model
        self._emit(e.ModelChanged(model))

    def _drop_model(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close()
        self.pipeline = self.searcher = None
        if self.embedder is not None:
            close = getattr(self.embedder, "close", None)
            if close is not None:
                close()
            self.embedder = None

    # -- concepts ----------------------------------------------------------------------------------------------

    def attach_concepts(self) -> list[ConceptInfo]:
        from xmr_desktop.learn.concepts import load_expander

        if self.searcher is None:
            return []
        expander = load_expander(self.paths.data_dir, self.searcher.embedder.model_id)
        self.searcher.concepts = expander
        found = expander.concepts if expander else []
        infos = sorted((ConceptInfo(x.name, len(x.photos)) for x in found), key=lambda i: i.name.casefold())
        self._emit(e.ConceptsChanged(tuple(infos)))
        return infos

    def _teach(self, command: c.TeachConcept) -> ConceptInfo:
        from xmr_desktop.learn.concepts import teach_concept
        from xmr_desktop.learn.learn_db import LearnDB

        embedder = self.require_model()
        with LearnDB.open(self.paths.data_dir) as db:
            taught = teach_concept(db, command.name, list(command.photos), embedder, store=self.store)
        self.attach_concepts()
        return ConceptInfo(taught.name, len(taught.photos))

    def _forget(self, command: c.ForgetConcept) -> None:
        from xmr_desktop.learn.concepts import remove_concept
        from xmr_desktop.learn.learn_db import LearnDB

        embedder = self.require_model()
        with LearnDB.open(self.paths.data_dir) as db:
            remove_concept(db, embedder.model_id, command.name)
        self.attach_concepts()

    # -- commands ----------------------------------------------------------------------------------------------

    def handle(self, command: c.Command, background: Background) -> Any:
        """Run one command (not ``IndexNow``, which ``Background`` answers when its run ends)."""
        store = self.require_store()
        if isinstance(command, c.Search):
            self.require_model()
            assert self.searcher is not None
            return self.searcher.search(command.query, command.top_k, folder=command.folder)
        if isinstance(command, c.FindSimilar):
            self.require_model()
            assert self.searcher is not None
            return self.searcher.similar(command.image_path, command.top_k, folder=command.folder)
        if isinstance(command, c.AddFolder):
            return self.add_folder(command.path, background)
        if isinstance(command, c.RemoveFolder):
            return self._remove_folder(command.path, background)
        if isinstance(command, c.PauseFolder):
            folder = store.folder(normalise_folder(command.path))
            store.set_folder_paused(folder.path, command.paused)
            self.book.set_paused(folder.id, command.paused)
            if not command.paused and self.pipeline is not None:
                self.pipeline.rewind()
            background.folders_changed()
            return None
        if isinstance(command, c.PauseIndexing):
            self.indexing_paused = command.paused
            background.folders_changed()
            background.update_activity()
            return None
        if isinstance(command, c.Rescan):
            chosen = [normalise_folder(p) for p in command.paths] or [f.path for f in self.book.folders()]
            for path in chosen:
                background.scan(store.folder(path))
            return None
        if isinstance(command, c.LoadModel):
            info = self.load_model(command.argument)
            background.model_loaded()
            return info
        if isinstance(command, c.TeachConcept):
            return self._teach(command)
        if isinstance(command, c.ForgetConcept):
            return self._forget(command)
        if isinstance(command, c.ListConcepts):
            self.require_model()
            return self.attach_concepts()
        if isinstance(command, c.GetStatus):
            return self.status(background.activity)
        if isinstance(command, c.ListSkipped):
            return store.skipped_files()
        raise XmrError(f"unknown command {type(command).__name__}")

    def add_folder(self, path: str, background: Background) -> AddedFolder:
        path = normalise_folder(path)
        if not os.path.isdir(path):
            raise UnknownFolderError(f"not a folder: {path}")
        store = self.require_store()
        added = store.register_folder(path)
        if added.absorbed:
            self.book.load(store, self.model.model_id)
            for inner in added.absorbed:
                self._unwatch(inner)
        else:
            self.book.add(added.folder)
        if self.watcher is not None and added.created:
            background.watch(added.folder)
        if added.created or added.absorbed:
            background.scan(added.folder)
        background.folders_changed()
        return added

    def _remove_folder(self, path: str, background: Background) -> int:
        store = self.require_store()
        folder = store.folder(normalise_folder(path))
        self.book.set_condition(folder.id, removing=True)
        if self.pipeline is not None:
            self.pipeline.drop_folder(folder.id)
        self._unwatch(folder.path)
        background.forget_scan(folder.id)
        removed = store.remove_folder(folder.path)
        self.book.remove(folder.id)
        log.info("removed folder %s (%d files)", folder.path, removed)
        background.folders_changed()
        self._emit(e.SearchableChanged())
        return removed

    def _unwatch(self, path: str) -> None:
        if self.watcher is not None:
            self.watcher.unwatch(path)

    def status(self, activity: str) -> LibraryStatus:
        paths = {
            "data_dir": str(self.paths.data_dir), "index": str(self.paths.index_db),
            "models_dir": str(self.paths.models_dir), "log_dir": str(self.paths.log_dir),
            "cache_dir": str(self.paths.cache_dir),
        }
        infos = self.book.infos(model_ready=self.embedder is not None, indexing_paused=self.indexing_paused)
        return LibraryStatus(infos, self.model, activity, paths, self._served_by)
