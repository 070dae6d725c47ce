"""The result grid's item model: ranked photos, best first (or newest taken first), with lazily loaded thumbnails."""

from __future__ import annotations

import html
import os
import time
from collections.abc import Sequence
from enum import Enum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Slot

from xmr_desktop.search.results import SearchResult
from xmr_desktop.ui.date_groups import sort_key as date_order
from xmr_desktop.ui.thumbnails import ThumbnailCache

_Index = QModelIndex | QPersistentModelIndex
WEAK = "weak"  # SearchResult.match of a result past the query's cutoff (search.cutoff.WEAK; numpy-free here)


class SortOrder(str, Enum):
    RELEVANCE = "relevance"
    DATE = "date"


class ResultsModel(QAbstractListModel):
    """A flat list of ``SearchResult``.

    Roles: ``DisplayRole`` file name, ``ToolTipRole`` name, score, size and folder, ``DecorationRole`` the
    thumbnail (a placeholder until decoded), plus ``PathRole``, ``ScoreRole``, ``MtimeRole`` and ``ResultRole``
    (the ``SearchResult`` object).

    Attributes:
        generation: the search generation the rows answer (0: none).
        sort_order: relevance (score, best first) or date (newest taken first, on the clock where each was taken;
            by file time until a photo's date taken is read). Either way the strong matches come first, then the
            weak ones (``SearchResult.match``), so the grid draws one divider between them.
    """

    PathRole = Qt.ItemDataRole.UserRole + 1
    ScoreRole = Qt.ItemDataRole.UserRole + 2
    MtimeRole = Qt.ItemDataRole.UserRole + 3
    ResultRole = Qt.ItemDataRole.UserRole + 4

    def __init__(self, thumbnails: ThumbnailCache | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.generation = 0
        self.sort_order = SortOrder.RELEVANCE
        self._rows: list[SearchResult] = []
        self._row_of: dict[str, int] = {}
        self._thumbnails = thumbnails
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnail_ready)

    # -- Qt model interface ------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows) or index.column() != 0:
            return None
        result = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(result.path)
        if role == Qt.ItemDataRole.DecorationRole:
            if self._thumbnails is None:
                return None
            icon = self._thumbnails.icon(result.path, result.size, result.mtime)
            return icon if icon is not None else self._thumbnails.placeholder()
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(result)
        if role == self.PathRole:
            return result.path
        if role == self.ScoreRole:
            return result.score
        if role == self.MtimeRole:
            return result.mtime
        if role == self.ResultRole:
            return result
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update({self.PathRole: b"path", self.ScoreRole: b"score", self.MtimeRole: b"mtime", self.ResultRole: b"result"})
        return names

    # -- our interface ---------------------------------------------------------------------------------

    def set_results(self, generation: int, results: Sequence[SearchResult]) -> bool:
        """Show ``results`` of search ``generation``; an older generation than the shown one is dropped (False)."""
        if generation < self.generation:
            return False
        self.generation = generation
        rows = self._sorted(results)
        if [(r.path, r.match) for r in rows] == [(r.path, r.match) for r in self._rows]:
            # The same photos in the same order (a refresh while indexing): keep selection and scrolling.
            self._rows = rows
            if rows:
                self.dataChanged.emit(self.index(0), self.index(len(rows) - 1), [Qt.ItemDataRole.ToolTipRole])
            return True
        self.beginResetModel()
        self._rows = rows
        self._row_of = {result.path: row for row, result in enumerate(self._rows)}
        self.endResetModel()
        return True

    def set_sort_order(self, order: SortOrder) -> None:
        """Re-sort in place; selections and the current item follow their photos."""
        if order == self.sort_order:
            return
        self.sort_order = order
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        paths = [self._rows[index.row()].path for index in persistent]
        self._rows = self._sorted(self._rows)
        self._row_of = {result.path: row for row, result in enumerate(self._rows)}
        self.changePersistentIndexList(persistent, [self.index(self._row_of[path]) for path in paths])
        self.layoutChanged.emit()

    def paths(self) -> list[str]:
        return [result.path for result in self._rows]

    def strong_count(self) -> int:
        """How many rows are strong matches (they are the first ones); all of them when none is marked weak."""
        return sum(1 for result in self._rows if result.match != WEAK)

    def result(self, row: int) -> SearchResult:
        """The result in ``row`` (the viewer shows it)."""
        return self._rows[row]

    def row_of(self, path: str) -> int | None:
        """Where ``path`` is now (the viewer follows its photo through refreshes and re-sorts)."""
        return self._row_of.get(path)

    def _sorted(self, results: Sequence[SearchResult]) -> list[SearchResult]:
        if self.sort_order == SortOrder.DATE:
            return sorted(results, key=lambda r: (r.match == WEAK, date_order(r)))
        return sorted(results, key=lambda r: (r.match == WEAK, -r.score, r.path))

    @Slot(str)
    def _thumbnail_ready(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def _tooltip(result: SearchResult) -> str:
    name = html.escape(os.path.basename(result.path))
    folder = html.escape(os.path.dirname(result.path))
    strength = {"strong": "strong match", "weak": "weaker match"}.get(result.match or "", "match")
    lines = [f"<b>{name}</b>", f"{strength} {result.score:.3f}"]
    if result.width and result.height:
        lines.append(f"{result.width} × {result.height}, {_size(result.size)}")
    else:
        lines.append(_size(result.size))
    if result.taken_at:
        source = " (file date)" if result.taken_at_source == "mtime" else ""
        lines.append(f"taken {html.escape(result.taken_at[:16].replace('T', ' '))}{source}")
    else:
        lines.append(time.strftime("%Y-%m-%d %H:%M", time.localtime(result.mtime)))
    lines += [html.escape(value) for value in (result.place, result.camera) if value]
    if result.reasons:  # the reasons line --explain prints: "beach +62% · sunset +33% · file name: beach"
        lines.append(f"<i>{html.escape(' · '.join(reason.label() for reason in result.reasons))}</i>")
    lines.append(f"<span style='color:gray'>{folder}</span>")
    return "<br>".join(lines)


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size:.1f} GB"
