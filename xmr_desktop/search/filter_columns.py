"""Filters evaluated on in-memory columns: milliseconds at a million photos, for a long-lived searcher.

``allowed_ids`` (one SQL query per filter group) suits a one-shot ``xmr search``; at a million photos a filter
that keeps many of them costs a second there, because every id is read out of SQLite. ``FilterColumns`` loads
the filtered columns of ``photo_metadata`` once (ints and floats as numpy arrays, texts as category codes;
about 40 MB per million photos) and answers the same filters with numpy, giving the same ids. ``refresh``
re-reads only the rows of files that changed, as the searcher does with its vectors.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from xmr_desktop.metadata.storage import TABLE
from xmr_desktop.search.filters import (
    _KM_PER_DEGREE,
    CameraFilter,
    DateFilter,
    Filter,
    FolderFilter,
    PlaceFilter,
    TypeFilter,
    allowed_ids,
)

_NO_DATE = np.iinfo(np.int64).min
_INT_COLUMNS = ("file_id", "taken_local", "taken_month", "city_id")
_FLOAT_COLUMNS = ("latitude", "longitude")
_TEXT_COLUMNS = ("country_code", "region_code", "camera", "camera_make", "kind", "file_format", "city", "region", "country")
_KEYS_PER_QUERY = 500


class _Texts:
    """A text column as codes into ``values`` (code 0 is NULL)."""

    def __init__(self, values: list[str | None]) -> None:
        self.values: list[str | None] = [None]
        self._code: dict[str | None, int] = {None: 0}
        self.codes = np.fromiter((self.code(v) for v in values), dtype=np.int32, count=len(values))

    def code(self, value: str | None) -> int:
        found = self._code.get(value)
        if found is None:
            found = self._code[value] = len(self.values)
            self.values.append(value)
        return found

    def isin(self, wanted: Iterable[str]) -> np.ndarray:
        codes = [self._code[w] for w in wanted if w in self._code]
        return np.isin(self.codes, codes) if codes else np.zeros(len(self.codes), dtype=bool)

    def where(self, test: Callable[[str], bool]) -> np.ndarray:
        codes = [i for i, v in enumerate(self.values) if v is not None and test(v)]
        return np.isin(self.codes, codes) if codes else np.zeros(len(self.codes), dtype=bool)


class FilterColumns:
    """The filter columns of every ``photo_metadata`` row.

    Attributes:
        file_ids: int64 id of each row (in no particular order).
    """

    def __init__(self, rows: Sequence[Sequence[object]]) -> None:
        columns = list(zip(*rows)) if rows else [() for _ in _INT_COLUMNS + _FLOAT_COLUMNS + _TEXT_COLUMNS]
        ints = [np.array([_NO_DATE if v is None else v for v in col], dtype=np.int64) for col in columns[: len(_INT_COLUMNS)]]
        floats = [np.array([math.nan if v is None else v for v in col], dtype=np.float64)
                  for col in columns[len(_INT_COLUMNS) : len(_INT_COLUMNS) + len(_FLOAT_COLUMNS)]]
        self.file_ids, self._taken, self._month, self._city_id = ints
        self._latitude, self._longitude = floats
        self._texts = {name: _Texts(list(col)) for name, col in zip(_TEXT_COLUMNS, columns[len(_INT_COLUMNS) + len(_FLOAT_COLUMNS) :])}
        days = self._taken.astype("datetime64[s]").astype("datetime64[D]")
        self._day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1

    @classmethod
    def load(cls, conn: sqlite3.Connection, file_ids: Iterable[int] | None = None) -> "FilterColumns":
        """Every row (or those of ``file_ids``) of the connection's ``photo_metadata``."""
        columns = ", ".join(_INT_COLUMNS + _FLOAT_COLUMNS + _TEXT_COLUMNS)
        if file_ids is None:
            return cls(conn.execute(f"SELECT {columns} FROM {TABLE}").fetchall())
        ids = sorted({int(i) for i in file_ids})
        rows: list[Sequence[object]] = []
        for start in range(0, len(ids), _KEYS_PER_QUERY):
            part = ids[start : start + _KEYS_PER_QUERY]
            rows += conn.execute(f"SELECT {columns} FROM {TABLE} WHERE file_id IN ({','.join('?' * len(part))})", part).fetchall()
        return cls(rows)

    def __len__(self) -> int:
        return len(self.file_ids)

    def refresh(self, conn: sqlite3.Connection, changed: Iterable[int]) -> "FilterColumns":
        """Columns with the rows of ``changed`` files re-read (gone ones dropped); returns the new columns."""
        changed_ids = np.unique(np.fromiter((int(i) for i in changed), dtype=np.int64))
        keep = ~np.isin(self.file_ids, changed_ids)
        fresh = FilterColumns.load(conn, changed_ids.tolist())
        merged = FilterColumns([])
        merged.file_ids = np.concatenate([self.file_ids[keep], fresh.file_ids])
        for name in ("_taken", "_month", "_city_id", "_latitude", "_longitude", "_day"):
            setattr(merged, name, np.concatenate([getattr(self, name)[keep], getattr(fresh, name)]))
        merged._texts = {}
        for name, old in self._texts.items():
            values = [old.values[c] for c in old.codes[keep]] + [fresh._texts[name].values[c] for c in fresh._texts[name].codes]
            merged._texts[name] = _Texts(values)
        return merged

    def allowed_ids(self, groups: Sequence[Sequence[Filter]], conn: sqlite3.Connection | None = None) -> np.ndarray | None:
        """The same ids as ``filters.allowed_ids`` over the same rows (sorted int64; None without filters).

        ``conn`` is needed for folder filters only (paths live in ``files``); a folder filter alone also keeps
        files that have no metadata row yet, exactly as the SQL evaluation does.
        """
        groups = [group for group in groups if group]
        if not groups:
            return None
        if all(f.kind == "folder" for group in groups for f in group):
            return _folder_ids(conn, groups)  # files without a metadata row count here
        mask = np.ones(len(self.file_ids), dtype=bool)
        for group in groups:
            either = np.zeros(len(self.file_ids), dtype=bool)
            for filter_ in group:
                either |= self._mask(filter_, conn)
            mask &= either
        return np.sort(self.file_ids[mask])

    def _mask(self, filter_: Filter, conn: sqlite3.Connection | None) -> np.ndarray:
        if isinstance(filter_, DateFilter):
            return self._date(filter_)
        if isinstance(filter_, PlaceFilter):
            return self._place(filter_)
        if isinstance(filter_, CameraFilter):
            texts = self._texts
            mask = texts["camera"].isin(filter_.cameras) | texts["camera_make"].isin(filter_.brands)
            for text in filter_.texts:
                mask |= texts["camera"].where(lambda value, text=text: text in value.lower())
            return mask
        if isinstance(filter_, TypeFilter):
            return self._texts["kind"].isin(filter_.kinds) | self._texts["file_format"].isin(filter_.formats)
        assert isinstance(filter_, FolderFilter)
        return np.isin(self.file_ids, _folder_ids(conn, [[filter_]]))

    def _date(self, filter_: DateFilter) -> np.ndarray:
        known = self._taken != _NO_DATE
        mask = np.zeros(len(self.file_ids), dtype=bool)
        for start, end in filter_.ranges:
            inside = known.copy()
            if start is not None:
                inside &= self._taken >= start
            if end is not None:
                inside &= self._taken < end
            mask |= inside
        if filter_.months:
            mask |= known & np.isin(self._month, sorted(filter_.months))
        if filter_.month_day:
            mask |= known & (self._month == filter_.month_day[0]) & (self._day == filter_.month_day[1])
        return mask

    def _place(self, filter_: PlaceFilter) -> np.ndarray:
        texts = self._texts
        mask = texts["country_code"].isin(filter_.countries)
        for country, region in filter_.regions:
            mask |= texts["country_code"].isin([country]) & texts["region_code"].isin([region])
        lat, lon = self._latitude, self._longitude
        for city in filter_.cities:
            dlat = city.radius_km / _KM_PER_DEGREE
            scale = max(math.cos(math.radians(city.latitude)), 0.01)
            dlon = min(180.0, dlat / scale)
            near = np.zeros(len(lat), dtype=bool)
            for centre in {city.longitude, city.longitude - 360, city.longitude + 360}:
                if centre - dlon > 180 or centre + dlon < -180:
                    continue
                with np.errstate(invalid="ignore"):
                    near |= (np.abs(lon - centre) <= dlon) & ((lat - city.latitude) ** 2 + (lon - centre) ** 2 * scale * scale <= dlat * dlat)
            with np.errstate(invalid="ignore"):
                near &= np.abs(lat - city.latitude) <= dlat
            mask |= near | (self._city_id == city.city_id)
        for name in filter_.names:
            for column in ("city", "region", "country"):
                mask |= texts[column].where(lambda value, name=name: value.lower() == name)
        return mask


def _folder_ids(conn: sqlite3.Connection | None, groups: Sequence[Sequence[Filter]]) -> np.ndarray:
    if conn is None:
        raise ValueError("folder filters need the index connection")
    ids = allowed_ids(conn, groups)  # a range scan of the path index
    assert ids is not None
    return ids
