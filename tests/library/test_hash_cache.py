"""Perceptual hashes kept in the index by content hash: a renamed photo decodes nothing, a hash of another
method or a damaged row is computed again, and rows of photos no longer indexed are pruned."""

from __future__ import annotations

import sqlite3

import pytest

from xmr_desktop.library import hash_cache
from xmr_desktop.library.hash_cache import HashCache, create_table, decode, encode, save
from xmr_desktop.library.photo_hash import PhotoHash

VALUE = PhotoHash(0x0123456789ABCDEF, 0xFEDCBA9876543210, tuple(range(12)))


@pytest.fixture
def conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE files (path BLOB, content_hash BLOB)")
    create_table(conn)
    create_table(conn)  # idempotent: a migration step may be run on a table that exists
    return conn


def test_rows_round_trip_and_flat_photos_are_remembered_as_none() -> None:
    assert decode(encode(VALUE)) == VALUE
    assert encode(None) is None and decode(None) is None
    with pytest.raises(ValueError):
        decode(b"\x00" * 5)


def test_a_hash_is_found_by_content_under_any_path(conn: sqlite3.Connection) -> None:
    first = HashCache(conn, {("/p/a.jpg", 10, 1): b"digest"})
    first[("/p/a.jpg", 10, 1)] = VALUE
    assert save(conn, first.new) == 1
    moved = HashCache(conn, {("/q/renamed.jpg", 10, 5): b"digest"})
    assert moved[("/q/renamed.jpg", 10, 5)] == VALUE
    with pytest.raises(KeyError):
        moved[("/q/other.jpg", 10, 5)]  # changed since indexed and not hashed in this run


def test_rows_of_another_method_or_damaged_are_not_read(conn: sqlite3.Connection, monkeypatch) -> None:
    save(conn, {b"old": VALUE, b"bad": VALUE})
    conn.execute("UPDATE photo_hashes SET value = x'00' WHERE content_hash = ?", (b"bad",))
    monkeypatch.setattr(hash_cache, "METHOD", hash_cache.METHOD + 1)
    cache = HashCache(conn, {("/a", 1, 1): b"old", ("/b", 1, 1): b"bad"})
    assert ("/a", 1, 1) not in cache
    monkeypatch.setattr(hash_cache, "METHOD", hash_cache.METHOD - 1)
    assert ("/b", 1, 1) not in HashCache(conn, {("/b", 1, 1): b"bad"})


def test_pruning_drops_hashes_of_photos_no_longer_indexed(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO files VALUES (?, ?)", (b"/a", b"kept"))
    save(conn, {b"kept": VALUE, b"gone": None}, prune=True)
    assert [row[0] for row in conn.execute("SELECT content_hash FROM photo_hashes")] == [b"kept"]
