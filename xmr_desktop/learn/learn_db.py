"""The learning side's own SQLite file next to the index: cached image vectors of evaluation/training sets,
and personal concepts.

It is separate from the index (``index.sqlite3``) on purpose: evaluation sets are usually not indexed folders,
and their vectors must survive ``Store.prune_embeddings`` (which drops vectors no indexed file refers to), so that
evaluating a big set twice does not embed it twice. Vectors are float16 like the index's, and freshly computed
vectors are rounded the same way before use, so a first and a second run report identical numbers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from xmr_desktop.config import create_private_file
from xmr_desktop.errors import XmrError
from xmr_desktop.library.store import VECTOR_DTYPE, transaction, vectors_by_hash

log = logging.getLogger(__name__)

LEARN_DB_NAME = "learn.sqlite3"


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE image_vectors (
            model_id TEXT NOT NULL,
            content_hash BLOB NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model_id, content_hash)
        )"""
    )
    # name_key is the case-folded name: "Rex" and "rex" are one concept, shown as first typed.
    conn.execute(
        """CREATE TABLE concepts (
            model_id TEXT NOT NULL,
            name_key TEXT NOT NULL,
            name TEXT NOT NULL,
            prototype BLOB NOT NULL,
            photos TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (model_id, name_key)
        )"""
    )


_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_to_1]
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True)
class StoredConcept:
    """A taught name: the mean of its photos' unit vectors in one model's image space.

    Attributes:
        name: as the user typed it.
        model_id: the image space the prototype lives in (shared by a base model and its text-tuned models).
        prototype: unit float32 vector.
        photos: the photo paths it was taught from.
        created: Unix time.
    """

    name: str
    model_id: str
    prototype: np.ndarray
    photos: list[str]
    created: float


class LearnDB:
    """The learning database (one connection; create one per thread, like ``Store``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> LearnDB:
        """Open (creating and migrating) the database at ``path``; a directory means ``path/learn.sqlite3``."""
        if path.is_dir():
            path = path / LEARN_DB_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with contextlib.suppress(OSError):  # if it cannot be created, sqlite3 says why below
                create_private_file(path)  # 0600, and SQLite gives its -wal and -shm the same mode
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise XmrError(f"{path} was written by a newer xmr_desktop (schema {version}); update xmr_desktop")
            while version < SCHEMA_VERSION:
                with transaction(conn):
                    _MIGRATIONS[version](conn)
                    version += 1
                    conn.execute(f"PRAGMA user_version={version}")
        except sqlite3.DatabaseError as error:
            raise XmrError(f"cannot open {path}: {error}") from error
        return cls(conn, path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LearnDB:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._conn)

    # -- image vectors -------------------------------------------------------------------------------------

    def vectors(self, model_id: str, hashes: Iterable[bytes]) -> dict[bytes, np.ndarray]:
        """Cached float32 vectors for those of ``hashes`` that have one."""
        return vectors_by_hash(self._conn, "image_vectors", model_id, hashes)

    def put_vectors(self, model_id: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO image_vectors(model_id, content_hash, vector) VALUES (?, ?, ?)",
                ((model_id, digest, np.asarray(vector, VECTOR_DTYPE).tobytes()) for digest, vector in items),
            )

    # -- concepts ------------------------------------------------------------------------------------------

    def put_concept(self, concept: StoredConcept) -> None:
        with self._write() as conn:
            conn.execute(
                """INSERT OR REPLACE INTO concepts(model_id, name_key, name, prototype, photos, created)
                VALUES (?, ?, ?, ?, ?, ?)""",
                (
                    concept.model_id,
                    concept.name.casefold(),
                    concept.name,
                    np.asarray(concept.prototype, "<f4").tobytes(),
                    json.dumps(concept.photos),
                    concept.created,
                ),
            )

    def concepts(self, model_id: str) -> list[StoredConcept]:
        rows = self._conn.execute(
            "SELECT name, model_id, prototype, photos, created FROM concepts WHERE model_id = ? ORDER BY name_key",
            (model_id,),
        )
        return [
            StoredConcept(name, mid, np.frombuffer(blob, "<f4").copy(), json.loads(photos), created)
            for name, mid, blob, photos, created in rows
        ]

    def remove_concept(self, model_id: str, name: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM concepts WHERE model_id = ? AND name_key = ?", (model_id, name.casefold())
            )
            return cursor.rowcount > 0
