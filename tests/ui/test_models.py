"""The item models on their own: Qt's model tester, roles, stale generations, sorting, per-row updates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from xmr_desktop.search.results import SearchResult
from xmr_desktop.core.state import FolderInfo, FolderState
from xmr_desktop.ui.folders import FoldersModel
from xmr_desktop.ui.results_model import ResultsModel, SortOrder
from xmr_desktop.ui.thumbnails import ThumbnailCache


def results(*names: str) -> list[SearchResult]:
    # Scores fall with the position; mtimes rise, so date order is the reverse of relevance order.
    return [SearchResult(f"/p/{name}", 0.9 - i / 10, 1000 + i, 1_700_000_000.0 + i, 64, 48) for i, name in enumerate(names)]


def test_results_model_passes_the_model_tester(qtmodeltester: Any) -> None:
    model = ResultsModel()
    model.set_results(1, results("a.jpg", "b.jpg", "c.jpg"))
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)


def test_results_model_roles(qtbot: Any) -> None:
    model = ResultsModel()
    model.set_results(1, results("a.jpg", "b.jpg"))
    index = model.index(0)
    assert model.data(index) == "a.jpg"
    assert model.data(index, ResultsModel.PathRole) == "/p/a.jpg"
    assert model.data(index, ResultsModel.ScoreRole) == 0.9
    assert model.data(index, ResultsModel.ResultRole) == results("a.jpg")[0]
    tooltip = model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "a.jpg" in tooltip and "0.900" in tooltip and "64 × 48" in tooltip
    assert model.roleNames()[ResultsModel.PathRole] == b"path"


def test_an_older_generation_is_dropped(qtbot: Any) -> None:
    model = ResultsModel()
    assert model.set_results(5, results("new.jpg"))
    assert not model.set_results(4, results("old1.jpg", "old2.jpg"))
    assert model.paths() == ["/p/new.jpg"]


def test_sorting_by_date_keeps_the_selection_on_its_photo(qtbot: Any, qtmodeltester: Any) -> None:
    model = ResultsModel()
    model.set_results(1, results("a.jpg", "b.jpg", "c.jpg"))
    qtmodeltester.check(model)  # the tester stays attached and checks the layout change below
    from PySide6.QtCore import QPersistentModelIndex

    kept = QPersistentModelIndex(model.index(0))
    model.set_sort_order(SortOrder.DATE)
    assert model.paths() == ["/p/c.jpg", "/p/b.jpg", "/p/a.jpg"]
    assert kept.row() == 2 and model.data(model.index(kept.row()), ResultsModel.PathRole) == "/p/a.jpg"
    model.set_sort_order(SortOrder.RELEVANCE)
    assert model.paths() == ["/p/a.jpg", "/p/b.jpg", "/p/c.jpg"]


def test_a_thumbnail_updates_only_its_row(qtbot: Any, tmp_path: Path) -> None:
    from PIL import Image

    files = []
    for i, colour in enumerate(("red", "green", "blue")):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (300, 200), colour).save(path)
        files.append(SearchResult(str(path), 1.0 - i / 10, path.stat().st_size, path.stat().st_mtime))
    cache = ThumbnailCache(tmp_path / "thumbs")
    model = ResultsModel(cache)
    model.set_results(1, files)
    changes: list[tuple[int, int, list[int]]] = []
    model.dataChanged.connect(lambda top, bottom, roles: changes.append((top.row(), bottom.row(), list(roles))))
    placeholder = model.data(model.index(1), Qt.ItemDataRole.DecorationRole)
    assert placeholder is cache.placeholder()
    with qtbot.waitSignal(cache.ready, timeout=10_000):
        pass
    assert changes == [(1, 1, [Qt.ItemDataRole.DecorationRole])]
    icon = model.data(model.index(1), Qt.ItemDataRole.DecorationRole)
    assert icon is not cache.placeholder()
    assert icon.availableSizes()[0].width() == 256  # scaled to fit 256 px, aspect kept
    assert len(list((tmp_path / "thumbs").rglob("*.jpg"))) == 1
    cache.wait()


def test_folders_model_passes_the_model_tester(qtmodeltester: Any) -> None:
    model = FoldersModel()
    model.set_folders(
        [
            FolderInfo("/a", 10, 10, 0, 0, FolderState.UP_TO_DATE),
            FolderInfo("/b", 5, 2, 3, 0, FolderState.INDEXING),
            FolderInfo("/c", 7, 7, 0, 1, FolderState.OFFLINE, paused=True),
        ]
    )
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)
    assert model.data(model.index(1, 1)) == "2 / 5"
    assert model.data(model.index(2, 2)) == "offline"
    assert "unplugged" in model.data(model.index(2, 0), Qt.ItemDataRole.ToolTipRole)
    model.set_folders([FolderInfo("/a", 11, 11, 0, 0, FolderState.UP_TO_DATE)])
    assert model.rowCount() == 1


def test_the_same_results_again_update_in_place(qtbot: Any, qtmodeltester: Any) -> None:
    model = ResultsModel()
    model.set_results(1, results("a.jpg", "b.jpg"))
    qtmodeltester.check(model)
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    assert model.set_results(2, results("a.jpg", "b.jpg"))
    assert resets == [] and model.generation == 2
    model.set_results(3, results("b.jpg", "c.jpg"))
    assert resets == [1]
