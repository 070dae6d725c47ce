from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.errors import (
    DiskFullError,
    FolderOverlapError,
    IndexBusyError,
    IndexCorruptError,
    IndexTooNewError,
    UnknownFolderError,
)
from xmr_desktop.library.store import SCHEMA_VERSION, Embedded, FileRecord, Folder, FolderCounts, Skipped, Store
from xmr_desktop.library.store import schema as schema_module
from xmr_desktop.library.store import store as store_module
from stored import stored_vectors

MODEL_A = "openai/clip-vit-base-patch32"
MODEL_B = "local:finetuned"
ROOT = os.path.abspath("/photos")
OTHER = os.path.abspath("/other")
NOWHERE = os.path.abspath("/nowhere")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "index.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as opened:
        yield opened


@pytest.fixture
def folder(store: Store) -> Folder:
    return store.add_folder(ROOT)


def emb(record: FileRecord, content_hash: bytes, width: int, height: int, vec: object) -> Embedded:
    """A batch entry for ``record`` as it was read (its size and mtime)."""
    return Embedded(record.id, record.size, record.mtime_ns, content_hash, width, height, vec)  # type: ignore[arg-type]


def skip(record: FileRecord, reason: str) -> Skipped:
    return Skipped(record.id, record.size, record.mtime_ns, reason)


def add_files(store: Store, folder: Folder, *names: str) -> list[FileRecord]:
    """Scan ``names`` into ``folder`` and return their records, in the order given."""
    paths = [os.path.join(folder.path, name) for name in names]
    store.record_scan(folder.id, [(p, 100, 1_000) for p in paths], [])
    by_path = {r.path: r for r in store.pending(MODEL_A, [folder.id])}
    return [by_path[p] for p in paths]


def vector(seed: int, dim: int = 512) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def raw(db_path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- opening, versions, damage -----------------------------------------------------------------------


def test_new_index_gets_schema_version_wal_and_private_parent(store: Store, db_path: Path) -> None:
    assert db_path.exists()
    assert db_path.parent.stat().st_mode & 0o077 == 0
    assert raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]
    tables = {name for (name,) in raw(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"folders", "files", "embeddings"} <= tables


def test_reopening_keeps_folders_files_and_vectors(db_path: Path) -> None:
    with Store.open(db_path) as first:
        folder = first.add_folder(ROOT)
        (record,) = add_files(first, folder, "a.jpg")
        first.commit_batch(MODEL_A, [emb(record, digest("a"), 4, 3, vector(1))], [])
    with Store.open(db_path) as second:
        assert [f.path for f in second.folders()] == [ROOT]
        records, matrix = stored_vectors(second, MODEL_A)
        assert [(r.path, r.width, r.height) for r in records] == [(os.path.join(ROOT, "a.jpg"), 4, 3)]
        assert matrix.shape == (1, 512)


def test_an_empty_sqlite_file_is_migrated_step_by_step(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_path.parent.mkdir(parents=True)
    sqlite3.connect(db_path).close()
    with Store.open(db_path):
        pass
    assert raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]

    def migrate_next(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE folders ADD COLUMN label TEXT")

    monkeypatch.setattr(schema_module, "MIGRATIONS", [*schema_module.MIGRATIONS, migrate_next])
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store.open(db_path):
        pass
    assert raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]
    assert "label" in {row[1] for row in raw(db_path, "PRAGMA table_info(folders)")}


def test_a_failing_migration_leaves_the_previous_version(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(db_path) as store:
        store.add_folder(ROOT)

    def broken_migration(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE folders ADD COLUMN label TEXT")
        raise RuntimeError("bug in migration")

    monkeypatch.setattr(schema_module, "MIGRATIONS", [*schema_module.MIGRATIONS, broken_migration])
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError):
        Store.open(db_path)
    assert raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert "label" not in {row[1] for row in raw(db_path, "PRAGMA table_info(folders)")}


def test_an_index_from_a_newer_version_is_refused(db_path: Path) -> None:
    Store.open(db_path).close()
    raw(db_path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(IndexTooNewError, match="newer"):
        Store.open(db_path)


def test_a_file_that_is_not_sqlite_is_reported_and_left_alone(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    garbage = np.random.default_rng(0).bytes(64 * 1024)
    db_path.write_bytes(garbage)
    with pytest.raises(IndexCorruptError) as caught:
        Store.open(db_path)
    message = str(caught.value)
    assert str(db_path) in message and "move it aside" in message and "\n" not in message
    assert "copy" in message  # never advised to throw the only copy away
    assert db_path.read_bytes() == garbage


def test_a_foreign_sqlite_database_is_not_taken_over(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    raw(db_path, "CREATE TABLE contacts (name TEXT)")
    with pytest.raises(IndexCorruptError):
        Store.open(db_path)
    assert raw(db_path, "SELECT name FROM sqlite_master") == [("contacts",)]


def test_a_connection_belongs_to_its_thread(store: Store) -> None:
    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.folders()
        except sqlite3.ProgrammingError as error:
            errors.append(error)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join(5)
    assert len(errors) == 1


def test_a_reader_sees_commits_of_a_writer(db_path: Path) -> None:
    with Store.open(db_path) as writer, Store.open(db_path) as reader:
        folder = writer.add_folder(ROOT)
        add_files(writer, folder, "a.jpg")
        assert reader.counts(MODEL_A).total == 1
        assert reader.integrity_ok()


# --- folders ----------------------------------------------------------------------------------------


def test_add_folder_is_idempotent_and_wants_absolute_paths(store: Store) -> None:
    first = store.register_folder(ROOT)
    again = store.register_folder(ROOT + os.sep)
    assert first.created and not again.created and again.folder == first.folder
    assert store.folders() == [first.folder]
    with pytest.raises(ValueError):
        store.add_folder("relative/photos")


def test_unknown_folders_raise(store: Store) -> None:
    with pytest.raises(UnknownFolderError):
        store.folder(NOWHERE)
    with pytest.raises(UnknownFolderError):
        store.remove_folder(NOWHERE)
    with pytest.raises(UnknownFolderError):
        store.set_folder_paused(NOWHERE, True)


def test_remove_folder_removes_its_files_and_only_those(store: Store, folder: Folder) -> None:
    other = store.add_folder(OTHER)
    add_files(store, folder, "a.jpg", "b.jpg")
    add_files(store, other, "c.jpg")
    assert store.remove_folder(ROOT) == 2
    assert [f.path for f in store.folders()] == [OTHER]
    assert [r.path for r in store.pending(MODEL_A)] == [os.path.join(OTHER, "c.jpg")]


def test_paused_folders_are_not_offered_for_indexing(store: Store, folder: Folder) -> None:
    add_files(store, folder, "a.jpg")
    store.set_folder_paused(ROOT, True)
    assert store.folder(ROOT).paused
    assert store.pending(MODEL_A) == []
    assert store.counts(MODEL_A).pending == 1
    store.set_folder_paused(ROOT, False)
    assert len(store.pending(MODEL_A)) == 1


# --- paths ------------------------------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="Windows names are UTF-16, never undecodable bytes")
def test_non_utf8_names_round_trip(store: Store) -> None:
    folder_path = os.fsdecode(b"/photos/\xe9t\xe9")  # Latin-1 bytes: not valid UTF-8
    name = os.fsdecode(b"caf\xe9.jpg")
    folder = store.add_folder(folder_path)
    assert store.folder(folder_path).path == folder_path
    (record,) = add_files(store, folder, name)
    assert os.fsencode(record.path) == b"/photos/\xe9t\xe9/caf\xe9.jpg"
    assert list(store.file_stats(folder.id)) == [record.path]
    store.commit_batch(MODEL_A, [], [skip(record, "not an image")])
    assert store.skipped_files() == [(record.path, "not an image")]
    assert store.remove_paths([record.path]) == 1


# --- scanning ---------------------------------------------------------------------------------------


def test_record_scan_inserts_updates_and_deletes(store: Store, folder: Folder) -> None:
    a, b = add_files(store, folder, "a.jpg", "b.jpg")
    store.commit_batch(MODEL_A, [emb(a, digest("a"), 4, 3, vector(1))], [skip(b, "truncated")])

    store.record_scan(folder.id, [(a.path, 200, 2_000), (os.path.join(ROOT, "c.jpg"), 5, 6)], [b.id])

    stats = store.file_stats(folder.id)
    assert stats[a.path] == (a.id, 200, 2_000)
    assert set(stats) == {a.path, os.path.join(ROOT, "c.jpg")}
    changed = {r.path: r for r in store.pending(MODEL_A)}[a.path]
    assert (changed.state, changed.content_hash, changed.skip_reason) == ("pending", None, None)


def test_a_folder_inside_an_indexed_one_is_refused(store: Store, folder: Folder) -> None:
    add_files(store, folder, os.path.join("2020", "a.jpg"))
    with pytest.raises(FolderOverlapError, match="already indexed as part of"):
        store.add_folder(os.path.join(ROOT, "2020"))
    assert [f.path for f in store.folders()] == [ROOT]


def test_adding_a_parent_absorbs_the_folders_inside_it(store: Store, db_path: Path) -> None:
    inner = store.add_folder(os.path.join(ROOT, "2023"))
    (photo,) = add_files(store, inner, "a.jpg")
    store.commit_batch(MODEL_A, [emb(photo, digest("a"), 4, 3, vector(1))], [])
    added = store.register_folder(ROOT)
    assert added.absorbed == [os.path.join(ROOT, "2023")]
    assert [f.path for f in store.folders()] == [ROOT]
    # The photo kept its row, its hash and its vector; it now belongs to the outer folder.
    assert store.counts(MODEL_A, added.folder.id) == FolderCounts(indexed=1, skipped=0, pending=0, total=1)
    # Removing the outer folder is the only way to forget it, and nothing else is touched.
    other = store.add_folder(OTHER)
    add_files(store, other, "b.jpg")
    assert store.remove_folder(ROOT) == 1
    assert store.counts(MODEL_A).total == 1


# --- indexing ---------------------------------------------------------------------------------------


def test_identical_photos_share_one_vector(store: Store, folder: Folder, db_path: Path) -> None:
    a, b = add_files(store, folder, "a.jpg", "copy of a.jpg")
    same = digest("same bytes")
    store.commit_batch(MODEL_A, [emb(a, same, 4, 3, vector(1))], [])
    assert same in store.known_hashes(MODEL_A)
    # The indexer skips inference for a known hash and passes no vector.
    store.commit_batch(MODEL_A, [emb(b, same, 4, 3, None)], [])
    assert raw(db_path, "SELECT COUNT(*) FROM embeddings") == [(1,)]
    records, matrix = stored_vectors(store, MODEL_A)
    assert [r.path for r in records] == [a.path, b.path]
    np.testing.assert_array_equal(matrix[0], matrix[1])


def test_being_embedded_is_per_model(store: Store, folder: Folder) -> None:
    (record,) = add_files(store, folder, "a.jpg")
    store.commit_batch(MODEL_A, [emb(record, digest("a"), 4, 3, vector(1))], [])
    assert store.pending(MODEL_A) == []
    (still_pending,) = store.pending(MODEL_B)
    assert (still_pending.id, still_pending.state, still_pending.content_hash) == (record.id, "ok", digest("a"))
    assert store.counts(MODEL_A) == FolderCounts(indexed=1, skipped=0, pending=0, total=1)
    assert store.counts(MODEL_B) == FolderCounts(indexed=0, skipped=0, pending=1, total=1)
    assert store.known_hashes(MODEL_B) == set()
    store.commit_batch(MODEL_B, [emb(record, digest("a"), 4, 3, vector(2, dim=768))], [])
    assert store.pending(MODEL_B) == []
    assert stored_vectors(store, MODEL_B)[1].shape == (1, 768)


def test_pending_filters_by_folder_and_limits_in_id_order(store: Store, folder: Folder) -> None:
    other = store.add_folder(OTHER)
    records = add_files(store, folder, "a.jpg", "b.jpg", "c.jpg")
    add_files(store, other, "d.jpg")
    assert [r.id for r in store.pending(MODEL_A, limit=2)] == [records[0].id, records[1].id]
    assert [r.path for r in store.pending(MODEL_A, [other.id])] == [os.path.join(OTHER, "d.jpg")]
    assert store.pending(MODEL_A, []) == []


@pytest.mark.parametrize(
    "bad_vector",
    [np.zeros((2, 256), np.float32), np.zeros(0, np.float32), np.full(512, 1e6, np.float32)],
    ids=["2-D", "empty", "overflows float16"],
)
def test_a_bad_vector_mid_batch_writes_nothing(store: Store, folder: Folder, bad_vector: np.ndarray) -> None:
    a, b, c = add_files(store, folder, "a.jpg", "b.jpg", "c.jpg")
    with pytest.raises(ValueError):
        store.commit_batch(
            MODEL_A,
            [emb(a, digest("a"), 4, 3, vector(1)), emb(b, digest("b"), 4, 3, bad_vector)],
            [skip(c, "truncated")],
        )
    assert [r.state for r in store.pending(MODEL_A)] == ["pending"] * 3
    assert store.known_hashes(MODEL_A) == set()


def test_a_vector_of_another_dimension_is_refused(store: Store, folder: Folder) -> None:
    a, b = add_files(store, folder, "a.jpg", "b.jpg")
    store.commit_batch(MODEL_A, [emb(a, digest("a"), 4, 3, vector(1))], [])
    with pytest.raises(ValueError, match="dimensions"):
        store.commit_batch(MODEL_A, [emb(b, digest("b"), 4, 3, vector(2, dim=768))], [])
    assert stored_vectors(store, MODEL_A)[1].shape == (1, 512)


def test_a_database_error_mid_batch_rolls_back(store: Store, folder: Folder) -> None:
    a, b = add_files(store, folder, "a.jpg", "b.jpg")
    unbindable = object()
    with pytest.raises(sqlite3.Error):
        store.commit_batch(
            MODEL_A, [emb(a, digest("a"), 4, 3, vector(1)), emb(b, digest("b"), unbindable, 3, vector(2))], []
        )
    assert store.counts(MODEL_A) == FolderCounts(indexed=0, skipped=0, pending=2, total=2)
    # The connection is usable afterwards.
    store.commit_batch(MODEL_A, [emb(a, digest("a"), 4, 3, vector(1))], [])
    assert store.counts(MODEL_A).indexed == 1


def test_files_deleted_meanwhile_are_ignored(store: Store, folder: Folder, db_path: Path) -> None:
    a, b = add_files(store, folder, "a.jpg", "b.jpg")
    store.remove_paths([a.path, b.path])
    outcome = store.commit_batch(MODEL_A, [emb(a, digest("a"), 4, 3, vector(1))], [skip(b, "truncated")])
    assert outcome.committed == [] and sorted(outcome.stale) == sorted([a.id, b.id])
    assert store.counts(MODEL_A).total == 0
    assert raw(db_path, "SELECT COUNT(*) FROM embeddings") == [(0,)]


def test_a_photo_edited_after_it_was_read_keeps_waiting_for_its_new_version(db_path: Path) -> None:
    # Two connections: the indexer's, and a scan (or another process) that records the edit meanwhile.
    with Store.open(db_path) as indexer, Store.open(db_path) as scanner:
        folder = indexer.add_folder(ROOT)
        (as_read,) = add_files(indexer, folder, "a.jpg")
        scanner.record_scan(folder.id, [(as_read.path, 999, 2_000)], [])
        outcome = indexer.commit_batch(MODEL_A, [emb(as_read, digest("old bytes"), 4, 3, vector(1))], [])
        assert outcome.stale == [as_read.id] and outcome.committed == []
        (pending,) = indexer.pending(MODEL_A)
        assert (pending.id, pending.state, pending.size, pending.content_hash) == (as_read.id, "pending", 999, None)
        assert indexer.known_hashes(MODEL_A) == set()


def test_skipped_files_are_listed_by_path_with_reasons(store: Store, folder: Folder) -> None:
    a, b, c = add_files(store, folder, "z.jpg", "b.jpg", "ok.jpg")
    store.commit_batch(MODEL_A, [emb(c, digest("c"), 1, 1, vector(1))], [skip(a, "truncated"), skip(b, "empty")])
    assert store.skipped_files() == [(b.path, "empty"), (a.path, "truncated")]
    assert store.pending(MODEL_A) == []
    assert store.counts(MODEL_A, folder.id) == FolderCounts(indexed=1, skipped=2, pending=0, total=3)


# --- reading vectors --------------------------------------------------------------------------------


def test_vectors_come_back_as_float32_within_float16_precision(store: Store, folder: Folder) -> None:
    (record,) = add_files(store, folder, "a.jpg")
    original = vector(7)
    store.commit_batch(MODEL_A, [emb(record, digest("a"), 4, 3, original)], [])
    loaded = store.vector_for_path(record.path, MODEL_A)
    assert loaded is not None and loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, original, atol=1e-3)
    assert abs(float(loaded @ original) - 1.0) < 1e-3
    assert store.vector_for_path(record.path, MODEL_B) is None
    assert store.vector_for_path(os.path.join(ROOT, "unknown.jpg"), MODEL_A) is None


def test_stored_vectors_rows_match_records(store: Store, folder: Folder) -> None:
    records = add_files(store, folder, "c.jpg", "a.jpg", "b.jpg", "skipped.jpg")
    vectors = {r.id: vector(i) for i, r in enumerate(records[:3])}
    # Committed out of id order, to show the order comes from the files, not from insertion.
    store.commit_batch(MODEL_A, [emb(r, digest(r.path), 8, 6, vectors[r.id]) for r in reversed(records[:3])], [])
    store.commit_batch(MODEL_A, [], [skip(records[3], "truncated")])

    loaded, matrix = stored_vectors(store, MODEL_A)
    assert [r.id for r in loaded] == sorted(vectors)
    assert matrix.dtype == np.float32 and matrix.shape == (3, 512)
    for row, record in zip(matrix, loaded):
        np.testing.assert_allclose(row, vectors[record.id], atol=1e-3)
    assert all(r.state == "ok" and (r.width, r.height) == (8, 6) for r in loaded)


def test_stored_vectors_of_an_empty_index(store: Store) -> None:
    records, matrix = stored_vectors(store, MODEL_A)
    assert records == [] and matrix.shape == (0, 0) and matrix.dtype == np.float32


def test_vectors_stream_in_chunks_as_float16(store: Store, folder: Folder) -> None:
    records = add_files(store, folder, *(f"{i}.jpg" for i in range(10)), "skipped.jpg")
    store.commit_batch(MODEL_A, [emb(r, digest(r.path), 8, 6, vector(i)) for i, r in enumerate(records[:10])], [])
    store.commit_batch(MODEL_A, [], [skip(records[10], "truncated")])
    chunks = list(store.iter_vectors(MODEL_A, chunk_rows=4))
    assert [len(ids) for ids, _ in chunks] == [4, 4, 2]
    ids = np.concatenate([ids for ids, _ in chunks])
    vectors = np.concatenate([rows for _, rows in chunks])
    assert ids.dtype == np.int64 and ids.tolist() == [r.id for r in records[:10]]
    assert vectors.dtype == np.float16 and vectors.shape == (10, 512)
    np.testing.assert_allclose(vectors.astype(np.float32), [vector(i) for i in range(10)], atol=1e-3)


def test_streaming_an_empty_index_yields_nothing(store: Store) -> None:
    assert list(store.iter_vectors(MODEL_A)) == []


def test_streaming_vectors_of_different_lengths_names_the_damage(store: Store, folder: Folder, db_path: Path) -> None:
    a, b = add_files(store, folder, "a.jpg", "b.jpg")
    store.commit_batch(MODEL_A, [emb(a, digest("a"), 4, 3, vector(1)), emb(b, digest("b"), 4, 3, vector(2))], [])
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE embeddings SET vector = substr(vector, 1, 1020) WHERE content_hash = ?", (digest("b"),))
    conn.close()
    for chunk_rows in (1, 2):  # the odd row in a later chunk or in the same chunk
        with pytest.raises(IndexCorruptError, match=f"vectors of model {MODEL_A} differ in length"):
            list(store.iter_vectors(MODEL_A, chunk_rows=chunk_rows))


def test_records_by_ids_leaves_out_deleted_files(store: Store, folder: Folder) -> None:
    records = add_files(store, folder, *(f"{i}.jpg" for i in range(1200)))
    store.remove_paths([records[5].path])
    wanted = [r.id for r in records[::-1]] + [records[0].id]  # more than one IN list, a repeat
    found = store.records_by_ids(wanted)
    assert set(found) == {r.id for r in records} - {records[5].id}
    assert found[records[7].id] == records[7]
    assert store.records_by_ids([]) == {}


def test_file_ids_under_a_folder_stop_at_its_separator(store: Store) -> None:
    root = store.add_folder(ROOT)
    inside = add_files(store, root, "a.jpg", os.path.join("sub", "b.jpg"), os.path.join("sub", "deeper", "c.jpg"))
    # Names sorting just around the folder's own: a sibling with a longer name and one with a lower byte.
    for name in (ROOT + "2", ROOT + "-x", ROOT + " x"):
        sibling = store.add_folder(name)
        add_files(store, sibling, "d.jpg")
    assert sorted(store.file_ids_under(ROOT).tolist()) == sorted(r.id for r in inside)
    assert store.file_ids_under(ROOT + os.sep).tolist() == store.file_ids_under(ROOT).tolist()
    assert sorted(store.file_ids_under(os.path.join(ROOT, "sub")).tolist()) == [inside[1].id, inside[2].id]
    assert store.file_ids_under(os.path.join(ROOT, "su")).dtype == np.int64
    assert store.file_ids_under(os.path.join(ROOT, "su")).size == 0


def test_file_id_for_path(store: Store, folder: Folder) -> None:
    (record,) = add_files(store, folder, "a.jpg")
    assert store.file_id_for_path(record.path) == record.id
    assert store.file_id_for_path(os.path.join(ROOT, "unknown.jpg")) is None


# --- cleaning up ------------------------------------------------------------------------------------


def test_prune_keeps_unreferenced_vectors_for_the_grace_period(store: Store, folder: Folder) -> None:
    a, b = add_files(store, folder, "a.jpg", "b.jpg")
    store.commit_batch(MODEL_A, [emb(a, digest("a"), 4, 3, vector(1)), emb(b, digest("b"), 4, 3, vector(2))], [])
    store.commit_batch(MODEL_B, [emb(a, digest("a"), 4, 3, vector(3))], [])
    assert store.remove_paths([b.path, os.path.join(ROOT, "never-indexed.jpg")]) == 1
    start = 1_000_000.0
    # The step that finds a vector unreferenced only marks it, however long the grace.
    assert store.prune_embeddings(grace_s=0.0, now=start) == 0
    assert store.known_hashes(MODEL_A) == {digest("a"), digest("b")}
    assert store.prune_embeddings(now=start + 3600) == 0
    assert store.prune_embeddings(now=start + store_module.VECTOR_GRACE_S + 1) == 1
    assert store.known_hashes(MODEL_A) == {digest("a")}
    assert store.known_hashes(MODEL_B) == {digest("a")}


def test_a_vector_referenced_again_within_the_grace_period_is_kept(store: Store, folder: Folder) -> None:
    (a,) = add_files(store, folder, "a.jpg")
    store.commit_batch(MODEL_A, [emb(a, digest("a"), 4, 3, vector(1))], [])
    store.remove_folder(ROOT)  # say, a drive unplugged during a scan
    store.prune_embeddings(now=1_000.0)
    # The photos come back (same content): their vector is reused without embedding.
    again = store.add_folder(ROOT)
    (back,) = add_files(store, again, "a.jpg")
    assert digest("a") in store.known_hashes(MODEL_A)
    store.commit_batch(MODEL_A, [emb(back, digest("a"), 4, 3, None)], [])
    assert store.prune_embeddings(now=1_000.0 + 10 * store_module.VECTOR_GRACE_S) == 0
    assert store.counts(MODEL_A).indexed == 1


def test_integrity_check_of_a_healthy_index(store: Store, folder: Folder) -> None:
    add_files(store, folder, "a.jpg")
    assert store.integrity_ok()
    assert store.quick_check() == "ok"


# --- the change feed --------------------------------------------------------------------------------


def test_the_change_feed_lists_what_any_connection_changed(db_path: Path) -> None:
    with Store.open(db_path) as searcher_side, Store.open(db_path) as writer:
        folder = writer.add_folder(ROOT)
        a, b, c = add_files(writer, folder, "a.jpg", "b.jpg", "c.jpg")
        mark = searcher_side.change_mark()
        writer.commit_batch(MODEL_A, [emb(a, digest("a"), 4, 3, vector(1))], [skip(b, "truncated")])
        later, ids = searcher_side.changed_since(mark)
        assert ids is not None and ids.tolist() == [a.id]  # a skipped file was never searchable
        writer.remove_paths([c.path, a.path])
        newest, ids = searcher_side.changed_since(later)
        assert ids is not None and ids.tolist() == [a.id]
        assert searcher_side.changed_since(newest)[1].tolist() == []
        # Another model's vector for the same file is a change too (its searcher must read it).
        (d,) = add_files(writer, folder, "d.jpg")
        writer.commit_batch(MODEL_A, [emb(d, digest("d"), 4, 3, vector(4))], [])
        mark = searcher_side.change_mark()
        writer.commit_batch(MODEL_B, [emb(d, digest("d"), 4, 3, vector(5))], [])
        assert searcher_side.changed_since(mark)[1].tolist() == [d.id]


def test_the_change_feed_gives_up_past_its_cap_and_after_trimming(store: Store, folder: Folder, monkeypatch: pytest.MonkeyPatch) -> None:
    from xmr_desktop.library.store import changes

    records = add_files(store, folder, *(f"{i}.jpg" for i in range(5)))
    mark = store.change_mark()
    store.commit_batch(MODEL_A, [emb(r, digest(r.path), 4, 3, vector(i)) for i, r in enumerate(records)], [])
    monkeypatch.setattr(changes, "CAP", 3)
    assert store.changed_since(mark)[1] is None
    monkeypatch.setattr(changes, "CAP", 100)
    assert store.changed_since(mark)[1] is not None
    monkeypatch.setattr(changes, "KEEP_ROWS", 2)
    store.trim_changes()
    newest, ids = store.changed_since(mark)
    assert ids is None and newest == store.change_mark()
    assert store.changed_since(newest)[1].tolist() == []


def test_file_ids_are_never_reused(store: Store, folder: Folder) -> None:
    # SQLite reuses the largest rowid of a table without AUTOINCREMENT; a searcher holding the old vector
    # under that id would then show it for another photo.
    (first,) = add_files(store, folder, "cat.jpg")
    store.remove_paths([first.path])
    (second,) = add_files(store, folder, "invoice.jpg")
    assert second.id > first.id


# --- opening safely -----------------------------------------------------------------------------------


def test_an_index_whose_schema_this_sqlite_cannot_parse_is_refused_as_too_new_and_untouched(db_path: Path) -> None:
    Store.open(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE folders (id INTEGER PRIMARY KEY, x FUTURE SYNTAX (' "
                 "WHERE name = 'folders'")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(IndexTooNewError, match="newer"):
        Store.open(db_path)
    assert db_path.read_bytes() == before


def test_an_index_from_version_1_is_migrated_keeping_its_photos_and_vectors(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    schema_module.MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO folders(id, path, added_at) VALUES (1, ?, 0), (2, ?, 0)",
                 (os.fsencode(ROOT), os.fsencode(os.path.join(ROOT, "2023"))))
    conn.execute("INSERT INTO files(id, folder_id, path, size, mtime_ns, content_hash, state) VALUES "
                 "(7, 2, ?, 1, 1, ?, 'ok')", (os.fsencode(os.path.join(ROOT, "2023", "a.jpg")), digest("a")))
    conn.execute("INSERT INTO embeddings(model_id, content_hash, vector) VALUES (?, ?, ?)",
                 (MODEL_A, digest("a"), vector(1).astype("<f2").tobytes()))
    conn.close()
    with Store.open(db_path) as store:
        assert [f.path for f in store.folders()] == [ROOT]  # the nested folder was absorbed by its parent
        records, matrix = stored_vectors(store, MODEL_A)
        assert [(r.id, r.path) for r in records] == [(7, os.path.join(ROOT, "2023", "a.jpg"))]
        (photo,) = add_files(store, store.folders()[0], "b.jpg")
        assert photo.id > 7


def test_a_locked_index_is_one_clear_line(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_module, "BUSY_TIMEOUT_S", 0.1)
    with Store.open(db_path) as store:
        holder = sqlite3.connect(db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(IndexBusyError) as caught:
                store.add_folder(ROOT)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert "busy" in str(caught.value) and "\n" not in str(caught.value)
        assert store.register_folder(ROOT).created  # usable afterwards


def test_a_full_disk_is_one_clear_line_and_writes_nothing(store: Store, folder: Folder, db_path: Path) -> None:
    records = add_files(store, folder, *(f"{i}.jpg" for i in range(3)))
    (pages,) = raw(db_path, "PRAGMA page_count")[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # the disk "fills" after one more page
    big = [emb(r, digest(r.path), 4, 3, vector(i, dim=4096)) for i, r in enumerate(records)]
    with pytest.raises(DiskFullError, match="full"):
        store.commit_batch(MODEL_A, big, [])
    assert store.counts(MODEL_A).indexed == 0
