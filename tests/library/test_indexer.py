"""The indexing pipeline: incremental, duplicate-aware, and unbothered by hostile files."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from fakes import ColourEmbedder
from xmr_desktop.library.indexer import Indexer
from xmr_desktop.library.store import Store
from xmr_desktop.search.searcher import Searcher

COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}


def _photo(path: Path, colour: str, size: tuple[int, int] = (64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, COLOURS[colour]).save(path)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "index.sqlite3") as opened:
        yield opened


def _index(store: Store, embedder: ColourEmbedder, folder: Path) -> object:
    store.add_folder(str(folder))
    return Indexer(store, embedder, batch_size=4, decode_workers=2).run()


def _top_paths(store: Store, embedder: ColourEmbedder, query: str, k: int = 10) -> list[str]:
    return [r.path for r in Searcher(store, embedder).search(query, k)]


def test_indexed_photos_are_found_by_search(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    red = _photo(folder / "a.png", "red")
    _photo(folder / "sub" / "b.jpg", "blue")
    embedder = ColourEmbedder()
    report = _index(store, embedder, folder)
    assert (report.embedded, report.skipped) == (2, 0)
    assert _top_paths(store, embedder, "red")[0] == str(red)


def test_unchanged_reindex_embeds_nothing(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(5):
        _photo(folder / f"{i}.png", "green", (40 + i, 30))
    embedder = ColourEmbedder()
    _index(store, embedder, folder)
    report = Indexer(store, embedder).run()
    assert embedder.images_embedded == 5
    assert (report.embedded, report.reused, report.unchanged) == (0, 0, 5)


def test_renamed_and_duplicated_photos_reuse_their_vector(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    original = _photo(folder / "a.png", "red")
    embedder = ColourEmbedder()
    _index(store, embedder, folder)
    renamed = folder / "moved" / "renamed.png"
    renamed.parent.mkdir()
    original.rename(renamed)
    (folder / "copy.png").write_bytes(renamed.read_bytes())
    report = Indexer(store, embedder).run()
    assert embedder.images_embedded == 1
    assert (report.embedded, report.reused, report.removed) == (0, 2, 1)
    assert sorted(_top_paths(store, embedder, "red")) == sorted([str(renamed), str(folder / "copy.png")])


def test_deleted_photo_disappears_from_results(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    gone = _photo(folder / "a.png", "red")
    _photo(folder / "b.png", "blue")
    embedder = ColourEmbedder()
    _index(store, embedder, folder)
    gone.unlink()
    assert Indexer(store, embedder).run().removed == 1
    assert str(gone) not in _top_paths(store, embedder, "red")


def test_changed_photo_is_embedded_again(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    photo = _photo(folder / "a.png", "red")
    embedder = ColourEmbedder()
    _index(store, embedder, folder)
    _photo(photo, "blue", (80, 60))
    Indexer(store, embedder).run()
    assert embedder.images_embedded == 2
    assert _top_paths(store, embedder, "blue")[0] == str(photo)


def test_each_model_keeps_its_own_vectors(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photo(folder / "a.png", "red")
    first, second = ColourEmbedder("model-a"), ColourEmbedder("model-b")
    _index(store, first, folder)
    Indexer(store, second).run()
    Indexer(store, first).run()
    assert (first.images_embedded, second.images_embedded) == (1, 1)


def _png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A valid PNG header announcing 10 gigapixels; decoding it would exhaust memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))


def test_hostile_files_are_skipped_with_reasons_and_good_ones_indexed(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    good = [
        _photo(folder / "red one.png", "red"),
        _photo(folder / "ünïcødé 雪山.jpg", "blue"),
        _photo(folder / "-starts-with-dash.png", "green"),
        _photo(folder / "deep" / "er" / "x.webp", "red"),
    ]
    raw_name = os.path.join(os.fsencode(folder), b"caf\xe9.png")
    Image.new("RGB", (30, 30), COLOURS["green"]).save(os.fsdecode(raw_name), format="PNG")
    good.append(Path(os.fsdecode(raw_name)))
    jpeg = (folder / "red one.png").read_bytes()
    Image.new("RGB", (400, 300), COLOURS["blue"]).save(folder / "full.jpg", quality=90)
    truncated = (folder / "full.jpg").read_bytes()
    (folder / "full.jpg").unlink()
    bad = {
        "zero.jpg": b"",
        "truncated.jpg": truncated[: len(truncated) // 2],
        "random.png": os.urandom(4096),
        "notes.jpg": b"this is a text file with an image extension\n" * 20,
        "png-as-gif.gif": jpeg[:100],
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    _png_bomb(folder / "bomb.png")
    os.mkfifo(folder / "pipe.jpg")
    os.symlink(folder, folder / "deep" / "loop")
    os.symlink(folder / "missing.jpg", folder / "dangling.jpg")

    embedder = ColourEmbedder()
    outcome: dict[str, object] = {}

    def index_in_thread() -> None:  # SQLite connections belong to the thread that opens them
        with Store.open(store.path) as own:
            outcome["report"] = _index(own, embedder, folder)

    worker = threading.Thread(target=index_in_thread)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "indexing hostile files did not finish in bounded time"

    assert outcome["report"].embedded == len(good)
    found = set(_top_paths(store, embedder, "red", k=100))
    assert found == {str(p) for p in good}
    reasons = dict(store.skipped_files())
    assert set(reasons) == {str(folder / name) for name in [*bad, "bomb.png"]}
    assert "too large" in reasons[str(folder / "bomb.png")]
    assert "truncated" in reasons[str(folder / "truncated.jpg")]
    assert all(reasons.values())


def test_file_vanishing_between_scan_and_read_is_skipped(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    doomed = _photo(folder / "a.png", "red")
    _photo(folder / "b.png", "blue")
    embedder = ColourEmbedder()
    store.add_folder(str(folder))
    indexer = Indexer(store, embedder)
    indexer.scan()
    doomed.unlink()
    report = indexer.index_pending()
    assert (report.embedded, report.skipped) == (1, 1)
    assert dict(store.skipped_files())[str(doomed)] == "file vanished before it could be read"


def test_stop_request_keeps_committed_batches(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(20):
        _photo(folder / f"{i:02}.png", "red", (30 + i, 30))
    embedder = ColourEmbedder()
    store.add_folder(str(folder))
    report = Indexer(store, embedder, batch_size=4).run(should_stop=lambda: embedder.calls >= 2)
    assert report.stopped
    assert 8 <= store.counts(embedder.model_id).indexed < 20
    Indexer(store, embedder, batch_size=4).run()
    assert store.counts(embedder.model_id).indexed == 20
    assert embedder.images_embedded == 20


_SLOW_INDEXER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from fakes import ColourEmbedder
    from xmr_desktop.library.indexer import Indexer
    from xmr_desktop.library.store import Store

    class Slow(ColourEmbedder):
        def embed_images(self, pixels):
            time.sleep(0.05)
            return super().embed_images(pixels)

    store = Store.open(__import__("pathlib").Path({db!r}))
    store.add_folder({folder!r})
    embedder = Slow()
    Indexer(store, embedder, batch_size=4).run(progress=lambda p: print("committed", p.done, flush=True))
    """
)


def test_killed_indexer_leaves_a_sound_index_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(200):
        _photo(folder / f"{i:03}.png", "blue", (20 + i % 50, 20 + i // 50))
    db = tmp_path / "index.sqlite3"
    script = _SLOW_INDEXER.format(tests=str(Path(__file__).parents[1]), db=str(db), folder=str(folder))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("committed") and int(line.split()[1]) >= 12:
            break
    child.kill()
    child.wait(10)

    with Store.open(db) as store:
        assert store.integrity_ok()
        committed = store.counts("fake-colour").indexed
        assert 12 <= committed < 200
        embedder = ColourEmbedder()
        Indexer(store, embedder).run()
        assert embedder.images_embedded == 200 - committed
        assert store.counts("fake-colour").indexed == 200


def test_many_identical_photos_are_embedded_once(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "copies"
    original = _photo(folder / "0.png", "green")
    for i in range(1, 60):
        (folder / f"{i}.png").write_bytes(original.read_bytes())
    embedder = ColourEmbedder()
    report = _index(store, embedder, folder)
    assert embedder.images_embedded == 1
    assert (report.embedded, report.reused) == (1, 59)


def test_folder_filtered_search_sees_photos_indexed_after_a_refresh(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photo(folder / "a.png", "red")
    embedder = ColourEmbedder()
    _index(store, embedder, folder)
    searcher = Searcher(store, embedder)
    assert [r.path for r in searcher.search("red", 10, folder=str(folder))] == [str(folder / "a.png")]
    late = _photo(folder / "b.png", "red", (50, 40))
    Indexer(store, embedder).run()
    searcher.refresh()
    assert sorted(r.path for r in searcher.search("red", 10, folder=str(folder))) == [str(folder / "a.png"), str(late)]


class _SlowLoadingEmbedder(ColourEmbedder):
    """A model whose start-up only ends once it has seen ``until`` photos decoded, or ``timeout_s`` passed."""

    def __init__(self, decoded: list[str], until: int, failure: Exception | None = None) -> None:
        super().__init__()
        self.decoded, self.until, self.failure = decoded, until, failure
        self.decoded_when_ready = -1

    def prepare_images(self) -> None:
        deadline = time.monotonic() + 20
        while len(self.decoded) < self.until and time.monotonic() < deadline:
            time.sleep(0.01)
        self.decoded_when_ready = len(self.decoded)
        if self.failure is not None:
            raise self.failure


def _counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from xmr_desktop.library import indexer

    decoded: list[str] = []
    real = indexer.load_for_embedding

    def counting(path: str, *args: object) -> object:
        loaded = real(path, *args)
        decoded.append(path)
        return loaded

    monkeypatch.setattr(indexer, "load_for_embedding", counting)
    return decoded


def test_photos_decode_while_the_model_starts_up(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "photos"
    for i in range(120):
        _photo(folder / f"{i:03}.png", "red", (40 + i, 30))
    decoded = _counting_decodes(monkeypatch)
    # Far more than the old look-ahead of two batches: decoding does not wait for the model to be ready.
    embedder = _SlowLoadingEmbedder(decoded, until=100)
    report = _index(store, embedder, folder)
    assert embedder.decoded_when_ready >= 100
    assert (report.embedded, embedder.images_embedded) == (120, 120)


def test_a_model_that_fails_to_load_stops_the_run_and_keeps_files_pending(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xmr_desktop.errors import ModelLoadError

    folder = tmp_path / "photos"
    for i in range(10):
        _photo(folder / f"{i}.png", "blue", (40 + i, 30))
    embedder = _SlowLoadingEmbedder(_counting_decodes(monkeypatch), until=0, failure=ModelLoadError("weights are damaged"))
    with pytest.raises(ModelLoadError, match="weights are damaged"):
        _index(store, embedder, folder)
    assert embedder.images_embedded == 0
    assert len(store.pending(embedder.model_id)) == 10


def test_progress_reports_each_count_once(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(8):  # exactly two batches of 4
        _photo(folder / f"{i}.png", "green", (40 + i, 30))
    store.add_folder(str(folder))
    seen: list[tuple[int, int]] = []
    Indexer(store, ColourEmbedder(), batch_size=4, decode_workers=2).run(progress=lambda p: seen.append((p.done, p.total)))
    assert seen == [(4, 8), (8, 8)]


def test_the_report_names_each_skipped_file_with_its_reason(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photo(folder / "good.png", "red")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not a picture")
    report = _index(store, ColourEmbedder(), folder)
    assert sorted(path for path, _ in report.skipped_files) == [str(folder / "empty.jpg"), str(folder / "text.png")]
    assert dict(report.skipped_files) == {path: reason for path, reason in store.skipped_files()}
