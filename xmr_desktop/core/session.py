"""What the core's worker thread holds for one index, and the handlers of the commands that use it.

The store connection, the folder book, the model with its searcher and indexing pipeline, the watcher and the
personal concepts all live here and are touched only on the worker thread (the caller's, in inline mode).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from xmr_desktop.config import Paths
from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core.duplicate_jobs import DuplicateJobs
from xmr_desktop.core.duplicate_state import TrashedPhotos
from xmr_desktop.core.folder_book import FolderBook
from xmr_desktop.core.folder_io import FolderIO
from xmr_desktop.core.language import (
    LanguageError, check_language, effective_language, image_model_name, language_problem, text_side,
)
from xmr_desktop.core.models import EmbedderFactory, is_loaded, model_status, peek_model, reporting_preparation
from xmr_desktop.core.state import ConceptInfo, LibraryStatus, ModelInfo
from xmr_desktop.engine.protocol import Embedder
from xmr_desktop.errors import UnknownFolderError, XmrError
from xmr_desktop.library.photo_facts import FactWriter, MetadataBackfill
from xmr_desktop.library.photo_paths import is_under, normalise_folder
from xmr_desktop.library.pipeline import IndexPipeline
from xmr_desktop.library.store import AddedFolder, Store
from xmr_desktop.metadata.place_lookup import PlaceLookup
from xmr_desktop.search.library_search import LibrarySearch
from xmr_desktop.search.searcher import Searcher

if TYPE_CHECKING:
    from xmr_desktop.core.background import Background

log = logging.getLogger(__name__)

NO_MODEL = "Searching needs the model; it is not loaded."


class Session:
    """The worker thread's state; see the module docstring.

    Attributes:
        store, io, book: the index connection, the folder thread, the folders with their counts.
        duplicates: searches for duplicates (on a thread of their own in threaded mode) and what they found.
        model: what the shells are told about the model.
        embedder, searcher, search, pipeline: present once a model is ready (``search`` answers the box:
            filters, keywords and meaning together, over ``searcher``'s vectors; the searcher embeds queries
            through ``core.language.text_side``: per-term routing for a multilingual model).
        places: the offline place names (loaded when something needs them).
        facts: writes photos' metadata and tag words (with indexing batches, and for the backfill).
        backfill: reads metadata of photos indexed before it existed (present while the index is open).
        language: the query-language setting (``auto``, ``en``, ``multi``; None: ``auto``).
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
        language: str | None = None,
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
        self.search: LibrarySearch | None = None
        self.pipeline: IndexPipeline | None = None
        self.places = PlaceLookup.shared(paths.cache_dir)
        self.facts = FactWriter(self.places)
        self.backfill: MetadataBackfill | None = None
        self.indexing_paused = False
        self.language = check_language(language) if language is not None else None
        self.duplicates: DuplicateJobs | None = None
        self._first_open = True

    # -- lifecycle -------------------------------------------------------------------------------------------

    def open(self, make_io: Callable[[Store], FolderIO], watcher: Any) -> None:
        self.store = Store.open(self.paths.index_db)
        self.backfill = MetadataBackfill(self.store, self.facts)
        self.io = make_io(self.store)
        self.duplicates = DuplicateJobs(self.paths.index_db, self._emit, threaded=self.io.threaded)
        if self.model.state == "none":
            peeked = peek_model(self.model.argument, self.paths.models_dir)
            self.model = replace(peeked, language=(self.language or "auto") if peeked.multilingual else "en")
        self.watcher = watcher
        clean = self.store.get_meta("clean_shutdown")
        self.store.set_meta("clean_shutdown", "0")
        self._unclean_before = clean == "0"
        self.book.load(self.store, self.model.model_id)

    @property
    def previous_run_was_unclean(self) -> bool:
        return getattr(self, "_unclean_before", False)

    def close(self) -> None:
        if self.duplicates is not None:
            self.duplicates.close()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self._drop_model()
        if self.backfill is not None:
            self.backfill.close()
            self.backfill = None
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

    def load_model(self, argument: str | None, language: str | None = None) -> ModelInfo:
        """Load (or switch to) a model; blocks this thread for seconds, never the window. ``language`` replaces
        the query-language setting first (None keeps it)."""
        if language is not None:
            self.language = check_language(language)
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
        language_now = effective_language(embedder, self.language)
        self.searcher = Searcher(store, text_side(embedder, language_now))
        self.search = LibrarySearch(self.searcher, self.places)
        self.pipeline = IndexPipeline(
            store, embedder, eligible_folders=self.book.indexable_ids, facts=self.facts, **self._pipeline_options
        )
        self.book.load(store, embedder.model_id)
        self.attach_concepts()
        device = str(embedder.device) if is_loaded(embedder) else ""
        self._set_model(ModelInfo("ready", argument, str(getattr(embedder, "name", argument or "")), embedder.model_id, device,
                                  image_model=image_model_name(embedder), language=language_now))
        return self.model

    def set_language(self, language: str) -> ModelInfo:
        """Route query terms by ``language`` from now on: the searcher gets a new text side over the same image
        vectors (its cached term vectors go); nothing is loaded or embedded again."""
        language = check_language(language)
        if self.embedder is not None:
            problem = language_problem(self.embedder, language)
            if problem:
                raise LanguageError(problem)
        self.language = language
        if self.embedder is not None and self.searcher is not None:
            language_now = effective_language(self.embedder, language)
            self.searcher.use_embedder(text_side(self.embedder, language_now))
            self._set_model(replace(self.model, language=language_now))
        elif self.model.multilingual:
            self._set_model(replace(self.model, language=language))
        log.info("query language: %s", language)
        return self.model

    def require_searcher(self) -> Searcher:
        """The searcher, with the model loaded now if needed; LanguageError if the setting cannot be answered."""
        embedder = self.require_model()
        problem = language_problem(embedder, self.language)
        if problem:
            raise LanguageError(problem)
        assert self.searcher is not None
        return self.searcher

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
        self.pipeline = self.searcher = self.search = None
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
            self.require_searcher()  # the model, and a language setting it can answer
            assert self.search is not None
            return self.search.search(
                command.query, command.top_k, folder=command.folder, literal=command.literal,
                filters=command.filters, sort=_sort(command.sort), strictness=command.strictness,
            )
        if isinstance(command, c.QueryTowers):
            return self.require_searcher().towers(command.query)
        if isinstance(command, c.FindSimilar):
            self.require_model()
            assert self.search is not None
            return self.search.similar(
                command.image_path, command.top_k, folder=command.folder, filters=command.filters,
                sort=_sort(command.sort), strictness=command.strictness,
            )
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
            info = self.load_model(command.argument, command.language)
            background.model_loaded()
            return info
        if isinstance(command, c.SetLanguage):
            return self.set_language(command.language)
        if isinstance(command, c.TeachConcept):
            return self._teach(command)
        if isinstance(command, c.ForgetConcept):
            return self._forget(command)
        if isinstance(command, c.ListConcepts):
            self.require_model()
            return self.attach_concepts()
        if isinstance(command, c.SetOcrMode):
            from xmr_desktop.ocr.jobs import parse_mode

            background.set_ocr(parse_mode(command.mode))
            return None
        if isinstance(command, c.GetStatus):
            return self.status(background.activity, background.ocr.mode.value, background.ocr.problem)
        if isinstance(command, c.ListSkipped):
            return store.skipped_files()
        if isinstance(command, c.CancelDuplicates):
            return self._duplicates().cancel(command.channel)
        if isinstance(command, c.TrashPhotos):
            return self._trash(command, background)
        raise XmrError(f"unknown command {type(command).__name__}")

    # -- duplicates --------------------------------------------------------------------------------------------

    def find_duplicates(self, command: c.FindDuplicates, future: Any) -> None:
        """Start ``command``; ``future`` is answered when it ends (inline: before this returns)."""
        store = self.require_store()
        folder = None
        if command.folder is not None:
            folder = normalise_folder(command.folder)
            if not any(is_under(folder, f.path) or is_under(f.path, folder) for f in self.book.folders()):
                raise UnknownFolderError(f"not an indexed folder: {command.folder}")
        self._duplicates().find(command, folder, self._vectors_model_id(), future, store)

    def _vectors_model_id(self) -> str:
        """The image space whose stored vectors are compared; known without loading the model when it is on disk."""
        if self.embedder is not None:
            return self.embedder.model_id
        return self.model.model_id or self.require_model().model_id

    def _duplicates(self) -> DuplicateJobs:
        if self.duplicates is None:
            raise XmrError("The index is not open.")
        return self.duplicates

    def _trash(self, command: c.TrashPhotos, background: Background) -> TrashedPhotos:
        store = self.require_store()
        result = self._duplicates().trash(store, command)
        if result.trashed:
            ids = [f.id for f in self.book.folders() if any(is_under(p, f.path) for p in result.trashed)]
            self.book.recount(store, self.model.model_id, ids)
            background.folders_changed()
            self._emit(e.SearchableChanged())
            self._emit(e.PhotosTrashed(result.trashed))
        return result

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

    def status(self, activity: str, ocr: str = "off", ocr_problem: str = "") -> LibraryStatus:
        paths = {
            "data_dir": str(self.paths.data_dir), "index": str(self.paths.index_db),
            "models_dir": str(self.paths.models_dir), "log_dir": str(self.paths.log_dir),
            "cache_dir": str(self.paths.cache_dir),
        }
        infos = self.book.infos(model_ready=self.embedder is not None, indexing_paused=self.indexing_paused)
        return LibraryStatus(infos, self.model, activity, paths, self._served_by, ocr, ocr_problem)


def _sort(order: str) -> str:
    from xmr_desktop.errors import QueryError
    from xmr_desktop.search.answer import SORT_ORDERS

    if order not in SORT_ORDERS:
        raise QueryError(f"sort by {order!r}? Use one of {', '.join(SORT_ORDERS)}")
    return order
