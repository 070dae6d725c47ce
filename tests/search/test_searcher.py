"""The app's query path: a real store, vectors streamed into the index, metadata fetched for the winners only."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.engine.preprocess import ImageSpec
from xmr_desktop.errors import UnknownFolderError
from xmr_desktop.library.store import Embedded, FileRecord, Folder, Skipped, Store
from xmr_desktop.search.searcher import Searcher

DIM = 32


class WordEmbedder:
    """Texts are looked up in a table; image queries in these tests are always indexed, so never embedded."""

    model_id = "fake-words"
    image_spec = ImageSpec(shortest_edge=32, crop=(32, 32))

    def __init__(self, words: dict[str, np.ndarray]) -> None:
        self.words = words

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.words[text] for text in texts])

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        raise AssertionError("an indexed query image is not embedded again")


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.standard_normal((n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "index.sqlite3") as opened:
        yield opened


def add_photos(
    store: Store, folder: Folder, names: Sequence[str], vectors: np.ndarray, hashes: Sequence[bytes]
) -> dict[str, int]:
    """Index ``names`` below ``folder`` with these vectors; returns path -> file id."""
    paths = [os.path.join(folder.path, name) for name in names]
    store.record_scan(folder.id, [(p, 1000 + i, 2_000_000_000 * (i + 1)) for i, p in enumerate(paths)], [])
    records = {r.path: r for r in store.pending(WordEmbedder.model_id)}
    store.commit_batch(
        WordEmbedder.model_id,
        [entry(records[p], h, v) for p, v, h in zip(paths, vectors, hashes)],
        [],
    )
    return {p: records[p].id for p in paths}


def entry(record: FileRecord, content_hash: bytes, vector: np.ndarray | None, width: int = 40) -> Embedded:
    return Embedded(record.id, record.size, record.mtime_ns, content_hash, width, 30, vector)


Library = tuple[dict[str, int], np.ndarray, WordEmbedder]


@pytest.fixture
def library(store: Store, tmp_path: Path) -> Library:
    """300 photos in ``photos`` (two subfolders) and 50 in its sibling ``photos2``; one text query, "q"."""
    rng = np.random.default_rng(1)
    vectors = unit(rng, 350)
    photos = store.add_folder(str(tmp_path / "photos"))
    sibling = store.add_folder(str(tmp_path / "photos2"))
    names = [os.path.join("a" if i % 2 else "b", f"{i}.jpg") for i in range(300)]
    ids = add_photos(store, photos, names, vectors[:300], [bytes([1, i % 256, i // 256]) for i in range(300)])
    sibling_names = [f"{i}.jpg" for i in range(50)]
    ids |= add_photos(store, sibling, sibling_names, vectors[300:], [bytes([2, i]) for i in range(50)])
    return ids, vectors, WordEmbedder({"q": unit(rng, 1)[0]})


def expected_paths(
    ids: dict[str, int], vectors: np.ndarray, query: np.ndarray, k: int, keep: Callable[[str], bool] = lambda p: True
) -> list[str]:
    """Brute force in float32 over the stored float16 vectors, best first, ties by file id."""
    paths = [p for p in ids if keep(p)]
    stored = vectors.astype(np.float16).astype(np.float32)
    scores = {p: float(stored[i] @ query) for i, p in enumerate(ids)}
    return sorted(paths, key=lambda p: (-scores[p], ids[p]))[:k]


def test_results_are_the_brute_force_ranking_with_their_metadata(store: Store, library: Library) -> None:
    ids, vectors, embedder = library
    results = Searcher(store, embedder).search("q", 20)
    assert [r.path for r in results] == expected_paths(ids, vectors, embedder.words["q"], 20)
    best = results[0]
    record = store.records_by_ids([ids[best.path]])[ids[best.path]]
    assert (best.size, best.mtime, best.width, best.height) == (
        record.size, record.mtime_ns / 1e9, record.width, record.height
    )
    assert best.score == pytest.approx(float(vectors[list(ids).index(best.path)] @ embedder.words["q"]), abs=1e-3)


def test_folder_filter_keeps_the_folder_and_not_its_namesake_sibling(
    store: Store, library: Library, tmp_path: Path
) -> None:
    ids, vectors, embedder = library
    searcher = Searcher(store, embedder)
    inside = str(tmp_path / "photos") + os.sep
    results = searcher.search("q", 400, folder=str(tmp_path / "photos"))
    expected = expected_paths(ids, vectors, embedder.words["q"], 400, lambda p: p.startswith(inside))
    assert [r.path for r in results] == expected
    sub = str(tmp_path / "photos" / "a")
    assert {os.path.dirname(r.path) for r in searcher.search("q", 400, folder=sub)} == {sub}
    with pytest.raises(UnknownFolderError):
        searcher.search("q", 5, folder=str(tmp_path / "elsewhere"))


def test_an_image_query_leaves_out_the_query_image(store: Store, library: Library) -> None:
    ids, vectors, embedder = library
    query_path = next(iter(ids))
    Path(query_path).parent.mkdir(parents=True, exist_ok=True)
    Path(query_path).write_bytes(b"only its indexed vector is used")
    stored_query = vectors[0].astype(np.float16).astype(np.float32)
    expected = [p for p in expected_paths(ids, vectors, stored_query, 11) if p != query_path][:10]
    assert [r.path for r in Searcher(store, embedder).similar(query_path, 10)] == expected
    assert [r.path for r in Searcher(store, embedder).search(query_path, 10)] == expected


def test_a_file_deleted_after_the_vectors_loaded_is_left_out(store: Store, library: Library) -> None:
    _, _, embedder = library
    searcher = Searcher(store, embedder)
    before = [r.path for r in searcher.search("q", 10)]
    store.remove_paths([before[0]])
    after = [r.path for r in searcher.search("q", 10)]
    assert after[:9] == before[1:] and before[0] not in after and len(after) == 10


def test_identical_photos_rank_by_file_id(store: Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    target = unit(rng, 1)[0]
    folder = store.add_folder(str(tmp_path / "copies"))
    names = [f"copy{i:02d}.jpg" for i in range(40)] + [f"other{i}.jpg" for i in range(20)]
    vectors = np.concatenate([np.tile(target, (40, 1)), unit(rng, 20)])
    # All 40 copies share one content hash, so one stored vector and exactly equal scores.
    ids = add_photos(store, folder, names, vectors, [b"same"] * 40 + [bytes([9, i]) for i in range(20)])
    results = Searcher(store, WordEmbedder({"q": target})).search("q", 25)
    assert [r.path for r in results] == sorted(list(ids)[:40], key=ids.__getitem__)[:25]


def test_an_empty_index_finds_nothing(store: Store) -> None:
    assert Searcher(store, WordEmbedder({"q": np.ones(DIM, np.float32)})).search("q", 5) == []


def test_new_photos_are_found_and_folder_filters_recomputed(store: Store, library: Library, tmp_path: Path) -> None:
    _, _, embedder = library
    searcher = Searcher(store, embedder)
    folder = str(tmp_path / "photos")
    assert len(searcher.search("q", 1000, folder=folder)) == 300
    late = add_photos(store, store.folder(folder), ["late.jpg"], embedder.words["q"][np.newaxis], [b"late"])
    results = searcher.search("q", 1000, folder=folder)
    assert len(results) == 301
    assert results[0].path == next(iter(late))


def test_catching_up_reads_only_what_changed_and_ranks_as_a_fresh_load(
    store: Store, library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, _, embedder = library
    query = embedder.words["q"]
    searcher = Searcher(store, embedder)
    searcher.search("q", 10)
    paths = list(ids)
    changed, deleted, unreadable = paths[5], paths[6], paths[7]
    records = store.records_by_ids(ids.values())
    store.commit_batch(WordEmbedder.model_id, [entry(records[ids[changed]], b"edited", query)], [])  # re-embedded
    store.remove_paths([deleted])
    bad = records[ids[unreadable]]
    store.commit_batch(WordEmbedder.model_id, [], [Skipped(bad.id, bad.size, bad.mtime_ns, "truncated")])
    (new,) = add_photos(store, store.folder(str(tmp_path / "photos")), ["new.jpg"], -query[np.newaxis], [b"new"])

    streamed: list[int] = []
    read_vectors = store.iter_vectors

    def counting(*args: object, **kwargs: object) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for chunk_ids, rows in read_vectors(*args, **kwargs):  # type: ignore[arg-type]
            streamed.append(len(chunk_ids))
            yield chunk_ids, rows

    monkeypatch.setattr(store, "iter_vectors", counting)
    results = searcher.search("q", 400)
    assert sum(streamed) == 2  # the edited photo and the new one; not the 348 others
    assert results[0].path == changed and results[-1].path == new
    assert deleted not in {r.path for r in results} and unreadable not in {r.path for r in results}
    fresh = Searcher(store, embedder).search("q", 400)
    assert [(r.path, round(r.score, 4)) for r in results] == [(r.path, round(r.score, 4)) for r in fresh]


def test_a_removed_folder_leaves_its_photos_out(store: Store, library: Library, tmp_path: Path) -> None:
    _, _, embedder = library
    searcher = Searcher(store, embedder)
    assert len(searcher.search("q", 400)) == 350
    store.remove_folder(str(tmp_path / "photos2"))
    results = searcher.search("q", 400)
    assert len(results) == 300
    assert not any(r.path.startswith(str(tmp_path / "photos2") + os.sep) for r in results)


def test_writes_of_another_connection_are_seen_and_never_attach_a_vector_to_another_photo(
    store: Store, tmp_path: Path
) -> None:
    # The window's searcher (``store``) and `xmr` in another process (``other``): the old bug was that the
    # window's list of changes lived in its own memory, and SQLite handed the removed photos' ids to new ones.
    rng = np.random.default_rng(5)
    cat, invoice = unit(rng, 2)
    cats = store.add_folder(str(tmp_path / "cats"))
    add_photos(store, cats, [f"cat{i}.jpg" for i in range(3)], np.tile(cat, (3, 1)), [bytes([1, i]) for i in range(3)])
    searcher = Searcher(store, WordEmbedder({"cat": cat, "invoice": invoice}))
    assert all("cat" in r.path for r in searcher.search("cat", 3))
    with Store.open(store.path) as other:
        other.remove_folder(cats.path)
        scans = other.add_folder(str(tmp_path / "scans"))
        add_photos(other, scans, [f"invoice{i}.jpg" for i in range(3)], np.tile(invoice, (3, 1)), [bytes([2, i]) for i in range(3)])
    found = searcher.search("cat", 10)
    assert all("invoice" in r.path for r in found) and all(r.score < 0.9 for r in found)
    assert [r.score for r in searcher.search("invoice", 1)] == [pytest.approx(1.0, abs=1e-3)]
