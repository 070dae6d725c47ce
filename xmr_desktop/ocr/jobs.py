"""The OCR background job: which photos still need reading, one small batch at a time, resumable.

OCR runs after embedding: a photo is a candidate once its content hash has a vector for the current model
(``files``/``embeddings`` tables of the index). Results are kept per content hash in ``ocr_results``, like
vectors, so duplicates are read once and a renamed photo keeps its text. A row records the languages and the
Tesseract version; a hash counts as done for the current settings when

- ``status = 'done'`` with the same languages (a new Tesseract version does not re-read the library),
- ``status = 'not_selected'`` (the image model says it is no document) and the mode is ``documents``,
- ``status = 'failed'`` (undecodable, too slow, Tesseract error) with the same Tesseract version.

So stopping at any point loses at most the photo being read, switching ``documents`` → ``all`` reads the
photos skipped so far, and adding a language re-reads what was read without it.

The text read becomes the ``ocr`` field of every file with that hash in the keyword index.
Connections: the index's own, from the thread that uses it; each write is one short ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import enum
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from xmr_desktop.errors import XmrError
from xmr_desktop.ocr.documents import DOCUMENT_THRESHOLD, select_documents
from xmr_desktop.textsearch import keyword_index

log = logging.getLogger(__name__)

# Candidates scored per step in documents mode: one vector read and one matrix product for many photos.
_SCORE_CHUNK = 512


class OcrMode(str, enum.Enum):
    """Which photos are read: none, those the image model scores as documents (default), or all."""

    OFF = "off"
    DOCUMENTS = "documents"
    ALL = "all"


def parse_mode(text: str) -> OcrMode:
    """``"off"``, ``"documents"`` or ``"all"`` (any case) as an :class:`OcrMode`; XmrError for anything else."""
    try:
        return OcrMode(text.strip().lower())
    except ValueError:
        raise XmrError(f"--ocr must be off, documents or all, not {text!r}") from None


def default_mode(langs: tuple[str, ...] = ("eng",)) -> OcrMode:
    """``documents`` where Tesseract can read ``langs`` here, else ``off``."""
    from xmr_desktop.ocr.engine import ocr_available

    return OcrMode.DOCUMENTS if ocr_available(langs) is None else OcrMode.OFF


@dataclass(frozen=True)
class OcrSettings:
    """What the job reads with.

    Attributes:
        mode: :class:`OcrMode`.
        langs: Tesseract languages, e.g. ``("eng", "chi_sim")``; recorded per result.
        engine_version: Tesseract's version line (``OcrEngine.engine_version()``); recorded per result.
        model_id: the image model whose stored vectors decide candidates and documents.
        timeout_s: time limit per photo.
    """

    mode: OcrMode
    langs: tuple[str, ...]
    engine_version: str
    model_id: str
    timeout_s: float = 20.0


@dataclass(frozen=True)
class DocumentPrompts:
    """The model's text vectors for the document prompts and the other prompts (``ocr.documents``)."""

    documents: np.ndarray
    others: np.ndarray
    threshold: float = DOCUMENT_THRESHOLD


@dataclass(frozen=True)
class OcrTask:
    """One photo to read: a content hash, one path that has it, its document probability (None in ``all``)."""

    content_hash: bytes
    path: str
    document_probability: float | None


def create_ocr_tables(conn: sqlite3.Connection) -> None:
    """Create ``ocr_results`` (a schema migration step of the index; idempotent)."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS ocr_results (
            content_hash BLOB PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('done', 'not_selected', 'failed')),
            langs TEXT NOT NULL,
            engine TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            tokens TEXT NOT NULL DEFAULT '',
            document_probability REAL,
            reason TEXT,
            done_at REAL NOT NULL
        )"""
    )


def follow_content_changes(conn: sqlite3.Connection) -> None:
    """Keep each file's keyword ``ocr`` field equal to what was read from its current content (idempotent).

    A trigger on ``files``: when a file's content hash changes (a rescan resets it, embedding sets the new one),
    its ``ocr`` field takes the stored words of the new content, or is cleared until that content is read.
    It updates files that have a keyword row (written with their names at scan time), and only when the words
    differ: a newly embedded photo whose content was never read costs one row lookup, no FTS5 rewrite.
    """
    conn.execute(
        """CREATE TRIGGER IF NOT EXISTS ocr_file_content_changed AFTER UPDATE OF content_hash ON files
        WHEN OLD.content_hash IS NOT NEW.content_hash BEGIN
            UPDATE keyword_fts SET ocr = COALESCE((SELECT tokens FROM ocr_results
                WHERE content_hash = NEW.content_hash AND status = 'done'), '')
            WHERE rowid = NEW.id AND coalesce(ocr, '') != COALESCE((SELECT tokens FROM ocr_results
                WHERE content_hash = NEW.content_hash AND status = 'done'), '');
        END"""
    )


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    # IMMEDIATE: take the write lock up front, as the store does, so a concurrent writer waits instead of failing.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _pending_sql(settings: OcrSettings) -> tuple[str, list[object]]:
    langs = "+".join(settings.langs)
    sql = """SELECT f.content_hash, min(f.path), e.vector FROM files f
        JOIN folders d ON d.id = f.folder_id AND d.paused = 0
        JOIN embeddings e ON e.model_id = ? AND e.content_hash = f.content_hash
        LEFT JOIN ocr_results o ON o.content_hash = f.content_hash
        WHERE f.state = 'ok' AND (o.content_hash IS NULL
            OR (o.status = 'done' AND o.langs != ?)
            OR (o.status = 'failed' AND o.engine != ?)
            OR (o.status = 'not_selected' AND ? = 'all'))
        GROUP BY f.content_hash ORDER BY min(f.id) LIMIT ?"""
    return sql, [settings.model_id, langs, settings.engine_version, settings.mode.value]


def pending_count(conn: sqlite3.Connection, settings: OcrSettings) -> int:
    """Photos (distinct content hashes) not yet settled for ``settings``: read, skipped or failed."""
    if settings.mode is OcrMode.OFF:
        return 0
    sql, params = _pending_sql(settings)
    (count,) = conn.execute(f"SELECT count(*) FROM ({sql})", [*params, -1]).fetchone()
    return int(count)


def next_ocr_batch(
    conn: sqlite3.Connection, settings: OcrSettings, prompts: DocumentPrompts | None = None, limit: int = 2
) -> list[OcrTask]:
    """Up to ``limit`` photos to read next (oldest files first); empty when everything is settled.

    In ``documents`` mode ``prompts`` is required: candidates are scored from their stored vectors, and those
    below the threshold are recorded as ``not_selected`` here (committed), so they are never scored again.
    """
    if settings.mode is OcrMode.OFF:
        return []
    if settings.mode is OcrMode.DOCUMENTS and prompts is None:
        raise ValueError("documents mode needs the model's prompt vectors (DocumentPrompts)")
    sql, params = _pending_sql(settings)
    if settings.mode is OcrMode.ALL:
        rows = conn.execute(sql, [*params, limit]).fetchall()
        return [OcrTask(bytes(digest), _path(path), None) for digest, path, _ in rows]
    assert prompts is not None
    while True:
        rows = conn.execute(sql, [*params, _SCORE_CHUNK]).fetchall()
        if not rows:
            return []
        vectors = np.stack([np.frombuffer(blob, dtype="<f2").astype(np.float32) for _, _, blob in rows])
        selected, probability = select_documents(vectors, prompts.documents, prompts.others, prompts.threshold)
        tasks = [
            OcrTask(bytes(row[0]), _path(row[1]), float(p)) for row, chosen, p in zip(rows, selected, probability) if chosen
        ]
        skipped = [(bytes(row[0]), float(p)) for row, chosen, p in zip(rows, selected, probability) if not chosen]
        if skipped:
            with _write(conn):
                conn.executemany(
                    """INSERT OR REPLACE INTO ocr_results
                    (content_hash, status, langs, engine, document_probability, done_at)
                    VALUES (?, 'not_selected', ?, ?, ?, ?)""",
                    [(digest, "+".join(settings.langs), settings.engine_version, p, time.time()) for digest, p in skipped],
                )
        if tasks:
            return tasks[:limit]


def record_ocr_result(
    conn: sqlite3.Connection, settings: OcrSettings, task: OcrTask, text: str | None, reason: str | None = None
) -> list[int]:
    """Store what was read (``text``) or why not (``text=None``, ``reason``), and put the text into the keyword
    index of every file with this content hash. Returns those files' ids (one transaction)."""
    status = "done" if text is not None else "failed"
    with _write(conn):
        conn.execute(
            """INSERT OR REPLACE INTO ocr_results
            (content_hash, status, langs, engine, text, tokens, document_probability, reason, done_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (task.content_hash, status, "+".join(settings.langs), settings.engine_version, text or "",
             keyword_index.field_tokens("ocr", text or ""), task.document_probability, reason, time.time()),
        )
        file_ids = [row[0] for row in conn.execute("SELECT id FROM files WHERE content_hash = ?", (task.content_hash,))]
        for file_id in file_ids:
            keyword_index.set_fields(conn, file_id, {"ocr": text or ""})
    return file_ids


def ocr_texts(conn: sqlite3.Connection, file_ids: Iterable[int]) -> dict[int, str]:
    """``file_id -> text read from it`` for files whose content has been read (others are absent)."""
    found: dict[int, str] = {}
    ids = list(file_ids)
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        rows = conn.execute(
            f"""SELECT f.id, o.text FROM files f JOIN ocr_results o ON o.content_hash = f.content_hash
            WHERE o.status = 'done' AND f.id IN ({','.join('?' * len(part))})""",
            part,
        )
        found.update((file_id, text) for file_id, text in rows)
    return found


def refresh_ocr_fields(conn: sqlite3.Connection, file_ids: Iterable[int]) -> None:
    """Set the keyword ``ocr`` field of these files from their current content (cleared when not read yet).

    :func:`follow_content_changes` does this by itself on every hash change; this is for files whose keyword
    row was written after their hash (e.g. a migration that indexes existing files).
    """
    ids = list(file_ids)
    texts = ocr_texts(conn, ids)
    for file_id in ids:
        keyword_index.set_fields(conn, file_id, {"ocr": texts.get(file_id, "")})


def run_ocr_step(
    conn: sqlite3.Connection,
    settings: OcrSettings,
    read_file: Callable[[str, float], str],
    prompts: DocumentPrompts | None = None,
    limit: int = 1,
) -> list[tuple[OcrTask, str | None, str | None]]:
    """One step of the background job: pick up to ``limit`` photos, read each, record each (committed one by
    one, so a stop loses at most the photo in hand). Returns ``(task, text or None, failure reason or None)``.

    ``read_file(path, timeout) -> text`` is e.g. ``OcrEngine.read_file``; it raises ``OcrFailed`` for one photo.
    """
    from xmr_desktop.ocr.engine import OcrFailed

    done = []
    for task in next_ocr_batch(conn, settings, prompts, limit):
        try:
            text: str | None = read_file(task.path, settings.timeout_s)
            reason = None
        except OcrFailed as error:
            text, reason = None, str(error)
            log.info("OCR failed for %s: %s", task.path, reason)
        record_ocr_result(conn, settings, task, text, reason)
        done.append((task, text, reason))
    return done


def _path(raw: bytes | str) -> str:
    return os.fsdecode(raw)
