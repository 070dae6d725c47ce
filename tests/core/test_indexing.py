"""Indexing through the core (inline mode, no threads): incremental, duplicate-aware, unbothered by hostile files."""

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
from xmr_desktop.config import resolve_paths
from xmr_desktop.core import events
from xmr_desktop.core.commands import IndexNow, LoadModel, Search
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.core.runs import IndexReport
from xmr_desktop.library.store import Store

COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}


def _photo(path: Path, colour: str, size: tuple[int, int] = (64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, COLOURS[colour]).save(path)
    return path


class Library:
    """An inline ``PhotoLibrary`` on a private data dir whose models are the given stand-ins (by name)."""

    def __init__(self, tmp_path: Path, *models: ColourEmbedder, **options: object) -> None:
        self.paths = resolve_paths(tmp_path / "data").ensure()
        self.models = {m.model_id: m for m in models}
        first = models[0].model_id
        factory = lambda argument, models_dir: self.models[argument or first]  # noqa: E731
        options = {"batch_size": 4, "decode_workers": 2, **options}
        self.core = PhotoLibrary(self.paths, factory, threaded=False, **options)  # type: ignore[arg-type]
        self.core.start()

    def index(self, *folders: Path) -> IndexReport:
        return self.core.call(IndexNow(tuple(str(f) for f in folders)))

    def use(self, model_id: str) -> None:
        self.core.call(LoadModel(model_id))

    def top_paths(self, query: str, k: int = 10, folder: Path | None = None) -> list[str]:
        return [r.path for r in self.core.call(Search(query, str(folder) if folder else None, k))]

    @property
    def store(self) -> Store:
        return self.core._session.store  # type: ignore[return-value]


def test_indexed_photos_are_found_by_search(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    red = _photo(folder / "a.png", "red")
    _photo(folder / "sub" / "b.jpg", "blue")
    library = Library(tmp_path, ColourEmbedder())
    report = library.index(folder)
    assert (report.embedded, report.skipped) == (2, 0)
    assert library.top_paths("red")[0] == str(red)


def test_unchanged_reindex_embeds_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(5):
        _photo(folder / f"{i}.png", "green", (40 + i, 30))
    embedder = ColourEmbedder()
    library = Library(tmp_path, embedder)
    library.index(folder)
    report = library.index()
    assert embedder.images_embedded == 5
    assert (report.embedded, report.reused, report.unchanged) == (0, 0, 5)


def test_renamed_and_duplicated_photos_reuse_their_vector(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    original = _photo(folder / "a.png", "red")
    embedder = ColourEmbedder()
    library = Library(tmp_path, embedder)
    library.index(folder)
    renamed = folder / "moved" / "renamed.png"
    renamed.parent.mkdir()
    original.rename(renamed)
    (folder / "copy.png").write_bytes(renamed.read_bytes())
    report = library.index()
    assert embedder.images_embedded == 1
    assert (report.embedded, report.reused, report.removed) == (0, 2, 1)
    assert sorted(library.top_paths("red")) == sorted([str(renamed), str(folder / "copy.png")])


def test_deleted_photo_disappears_from_results(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    gone = _photo(folder / "a.png", "red")
    _photo(folder / "b.png", "blue")
    library = Library(tmp_path, ColourEmbedder())
    library.index(folder)
    assert str(gone) in library.top_paths("red")
    gone.unlink()
    assert library.index().removed == 1
    assert str(gone) not in library.top_paths("red")


def test_changed_photo_is_embedded_again(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    photo = _photo(folder / "a.png", "red")
    embedder = ColourEmbedder()
    library = Library(tmp_path, embedder)
    library.index(folder)
    _photo(photo, "blue", (80, 60))
    library.index()
    assert embedder.images_embedded == 2
    assert library.top_paths("blue")[0] == str(photo)


def test_each_model_keeps_its_own_vectors(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photo(folder / "a.png", "red")
    first, second = ColourEmbedder("model-a"), ColourEmbedder("model-b")
    library = Library(tmp_path, first, second)
    library.index(folder)
    library.use("model-b")
    library.index()
    library.use("model-a")
    library.index()
    assert (first.images_embedded, second.images_embedded) == (1, 1)


def _png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A valid PNG header announcing 10 gigapixels; decoding it would exhaust memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))


def test_hostile_files_are_skipped_with_reasons_and_good_ones_indexed(tmp_path: Path) -> None:
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

    outcome: dict[str, object] = {}

    def index_in_thread() -> None:  # SQLite connections belong to the thread that opens them
        library = Library(tmp_path, ColourEmbedder())
        outcome["report"] = library.index(folder)
        outcome["found"] = set(library.top_paths("red", k=100))
        outcome["reasons"] = dict(library.store.skipped_files())
        library.core.close()

    worker = threading.Thread(target=index_in_thread)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "indexing hostile files did not finish in bounded time"

    assert outcome["report"].embedded == len(good)
    assert outcome["found"] == {str(p) for p in good}
    reasons = outcome["reasons"]
    assert set(reasons) == {str(folder / name) for name in [*bad, "bomb.png"]}
    assert "too large" in reasons[str(folder / "bomb.png")]
    assert "truncated" in reasons[str(folder / "truncated.jpg")]
    assert all(reasons.values())


def test_a_file_that_cannot_be_read_now_stays_pending_and_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Gone between the scan and the read (a drive unplugged), or unreadable for now (permission, I/O error):
    # none of that says the photo is bad, so it is not marked skipped for ever.
    from xmr_desktop.library import pipeline

    folder = tmp_path / "photos"
    flaky = _photo(folder / "a.png", "red")
    _photo(folder / "b.png", "blue")
    real = pipeline.load_for_embedding
    failing = {"now": True}

    def load(path: str, *args: object, **kwargs: object) -> object:
        if path == str(flaky) and failing["now"]:
            raise PermissionError(13, "Permission denied", path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "load_for_embedding", load)
    library = Library(tmp_path, ColourEmbedder())
    report = library.index(folder)
    assert (report.embedded, report.skipped, report.deferred) == (1, 0, 1)
    assert library.store.skipped_files() == []
    assert [r.path for r in library.store.pending("fake-colour")] == [str(flaky)]
    failing["now"] = False
    report = library.index()
    assert (report.embedded, report.deferred) == (1, 0)
    assert library.top_paths("red")[0] == str(flaky)


def test_an_interrupted_run_keeps_committed_batches(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(20):
        _photo(folder / f"{i:02}.png", "red", (30 + i, 30))

    class Interrupted(ColourEmbedder):
        def embed_images(self, pixels: object) -> object:
            if self.calls >= 2:
                raise KeyboardInterrupt  # Ctrl-C during the third batch
            return super().embed_images(pixels)  # type: ignore[arg-type]

    library = Library(tmp_path, Interrupted())
    with pytest.raises(KeyboardInterrupt):
        library.index(folder)
    assert 8 <= library.store.counts("fake-colour").indexed < 20
    library.core.close()
    embedder = ColourEmbedder()
    again = Library(tmp_path, embedder)
    again.index()
    assert again.store.counts("fake-colour").indexed == 20
    assert embedder.images_embedded == 20 - 8


_SLOW_INDEXER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from fakes import ColourEmbedder
    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core import events
    from xmr_desktop.core.commands import IndexNow
    from xmr_desktop.core.library import PhotoLibrary

    class Slow(ColourEmbedder):
        def embed_images(self, pixels):
            time.sleep(0.05)
            return super().embed_images(pixels)

    model = Slow()
    library = PhotoLibrary(resolve_paths(Path({data!r})).ensure(), lambda a, m: model, threaded=False, batch_size=4)
    library.subscribe(lambda e: print("committed", e.progress.done, flush=True) if isinstance(e, events.IndexingProgress) else None)
    library.call(IndexNow(({folder!r},)))
    """
)


def test_killed_indexer_leaves_a_sound_index_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(200):
        _photo(folder / f"{i:03}.png", "blue", (20 + i % 50, 20 + i // 50))
    data = tmp_path / "data"
    script = _SLOW_INDEXER.format(tests=str(Path(__file__).parents[1]), data=str(data), folder=str(folder))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("committed") and int(line.split()[1]) >= 12:
            break
    child.kill()
    child.wait(10)

    with Store.open(data / "index.sqlite3") as store:
        assert store.integrity_ok()
        committed = store.counts("fake-colour").indexed
        assert 12 <= committed < 200
    embedder = ColourEmbedder()
    library = Library(tmp_path, embedder)
    library.index()
    assert embedder.images_embedded == 200 - committed
    assert library.store.counts("fake-colour").indexed == 200


def test_many_identical_photos_are_embedded_once(tmp_path: Path) -> None:
    folder = tmp_path / "copies"
    original = _photo(folder / "0.png", "green")
    for i in range(1, 60):
        (folder / f"{i}.png").write_bytes(original.read_bytes())
    embedder = ColourEmbedder()
    report = Library(tmp_path, embedder).index(folder)
    assert embedder.images_embedded == 1
    assert (report.embedded, report.reused) == (1, 59)


def test_folder_filtered_search_sees_photos_indexed_later(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photo(folder / "a.png", "red")
    library = Library(tmp_path, ColourEmbedder())
    library.index(folder)
    assert library.top_paths("red", folder=folder) == [str(folder / "a.png")]
    late = _photo(folder / "b.png", "red", (50, 40))
    library.index()
    assert sorted(library.top_paths("red", folder=folder)) == [str(folder / "a.png"), str(late)]


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
    from xmr_desktop.library import pipeline

    decoded: list[str] = []
    real = pipeline.load_for_embedding

    def counting(path: str, *args: object, **kwargs: object) -> object:
        loaded = real(path, *args, **kwargs)
        decoded.append(path)
        return loaded

    monkeypatch.setattr(pipeline, "load_for_embedding", counting)
    return decoded


def test_photos_decode_while_the_model_starts_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "photos"
    for i in range(120):
        _photo(folder / f"{i:03}.png", "red", (40 + i, 30))
    decoded = _counting_decodes(monkeypatch)
    # Far more than two batches: decoding does not wait for the model to be ready.
    embedder = _SlowLoadingEmbedder(decoded, until=100)
    report = Library(tmp_path, embedder).index(folder)
    assert embedder.decoded_when_ready >= 100
    assert (report.embedded, embedder.images_embedded) == (120, 120)
    assert len(decoded) == 120  # and each photo was decoded once


def test_a_model_that_fails_to_load_stops_the_run_and_keeps_files_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xmr_desktop.errors import ModelLoadError

    folder = tmp_path / "photos"
    for i in range(10):
        _photo(folder / f"{i}.png", "blue", (40 + i, 30))
    embedder = _SlowLoadingEmbedder(_counting_decodes(monkeypatch), until=0, failure=ModelLoadError("weights are damaged"))
    library = Library(tmp_path, embedder)
    with pytest.raises(ModelLoadError, match="weights are damaged"):
        library.index(folder)
    assert embedder.images_embedded == 0
    assert len(library.store.pending(embedder.model_id)) == 10


def test_progress_reports_each_count_once(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(8):  # exactly two batches of 4
        _photo(folder / f"{i}.png", "green", (40 + i, 30))
    library = Library(tmp_path, ColourEmbedder())
    seen: list[tuple[int, int]] = []
    library.core.subscribe(lambda e: seen.append((e.progress.done, e.progress.total)) if isinstance(e, events.IndexingProgress) else None)
    library.index(folder)
    assert seen == [(4, 8), (8, 8)]


def test_the_report_names_each_skipped_file_with_its_reason(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photo(folder / "good.png", "red")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not a picture")
    library = Library(tmp_path, ColourEmbedder())
    report = library.index(folder)
    assert sorted(path for path, _ in report.skipped_files) == [str(folder / "empty.jpg"), str(folder / "text.png")]
    assert dict(report.skipped_files) == {path: reason for path, reason in library.store.skipped_files()}
