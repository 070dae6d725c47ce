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
from xmr_desktop.search.vocabulary import CameraName
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

_NO_VALUE = np.iinfo(np.int64).min  # NULL in an integer column
_INT_COLUMNS = ("file_id", "taken_local", "taken_month", "city_id")
_FLOAT_COLUMNS = ("latitude", "longitude")
# Few distinct values each: kept as codes. Town, region and country *names* are not kept: only explicit
# ``--place`` names the gazetteer does not know test them, and those are asked of the index.
_TEXT_COLUMNS = ("country_code", "region_code", "camera", "camera_make", "camera_model", "kind", "file_format")
_KEYS_PER_QUERY = 500


class _Texts:
    """A text column as int32 codes into ``values`` (code 0 is NULL)."""

    def __init__(self, values: list[str | None], codes: np.ndarray) -> None:
        self.values = values
        self.codes = codes
        self._code = {v: i for i, v in enumerate(values)}

    @classmethod
    def of(cls, texts: Sequence[str | None]) -> "_Texts":
        """Code a column given as values; None or "" is NULL."""
        distinct = sorted(set(texts) - {None, ""})
        table: dict[str | None, int] = {None: 0, "": 0, **{v: i + 1 for i, v in enumerate(distinct)}}
        codes = np.fromiter(map(table.__getitem__, texts), dtype=np.int32, count=len(texts))
        return cls([None, *distinct], codes)

    def subset_then(self, keep: np.ndarray, more: "_Texts") -> "_Texts":
        """This column's ``keep`` rows followed by ``more``'s rows, codes of one table."""
        values = list(self.values)
        table = dict(self._code)
        remap = np.empty(len(more.values), dtype=np.int32)
        for i, value in enumerate(more.values):
            if value not in table:
                table[value] = len(values)
                values.append(value)
            remap[i] = table[value]
        return _Texts(values, np.concatenate([self.codes[keep], remap[more.codes]]))

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

    def __init__(self, ints: Sequence[np.ndarray], floats: Sequence[np.ndarray], texts: dict[str, _Texts]) -> None:
        self.file_ids, self._taken, self._month, self._city_id = ints
        self._latitude, self._longitude = floats
        self._texts = texts
        days = self._taken.astype("datetime64[s]").astype("datetime64[D]")
        self._day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> "FilterColumns":
        """Every row of the connection's ``photo_metadata``, never a Python object per row and column.

        Numbers: one string per column that numpy parses (a narrow ``SELECT x … ORDER BY file_id``; positions
        as integer 1e-7 degrees, since SQLite formats REALs slowly). Texts: from their indexes, grouped by
        value (``camera → ids``), so no table row is read for them; a camera's brand and model come with it.
        Measured against one pass concatenating the texts of each row: several times faster.
        """

        def numbers(expression: str) -> np.ndarray:
            sql = f"SELECT group_concat(x) FROM (SELECT ifnull({expression}, {_NO_VALUE}) AS x FROM {TABLE} ORDER BY file_id)"
            joined = conn.execute(sql).fetchone()[0]
            return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, dtype=np.int64)

        ints = [numbers(column) for column in _INT_COLUMNS]
        file_ids = ints[0]
        floats = []
        for column in _FLOAT_COLUMNS:
            scaled = numbers(f"CAST(round({column} * 1e7) AS INTEGER)")
            floats.append(np.where(scaled == _NO_VALUE, np.nan, scaled / 1e7))

        def grouped(columns: str) -> list[tuple[object, ...]]:
            sql = f"SELECT {columns}, group_concat(file_id) FROM {TABLE} GROUP BY {columns}"
            return conn.execute(sql).fetchall()

        def coded(groups: list[tuple[str | None, str]]) -> _Texts:
            values: list[str | None] = [None]
            codes = np.zeros(len(file_ids), dtype=np.int32)
            index: dict[str | None, int] = {None: 0}
            for value, joined in groups:
                if value is None or value == "":
                    continue
                code = index.setdefault(value, len(values))
                if code == len(values):
                    values.append(value)
                codes[np.searchsorted(file_ids, np.fromstring(joined, dtype=np.int64, sep=","))] = code
            return _Texts(values, codes)

        places = grouped("country_code, region_code")
        cameras = grouped("camera")
        makers = {camera: conn.execute(f"SELECT camera_make, camera_model FROM {TABLE} WHERE camera = ? LIMIT 1", (camera,)).fetchone()
                  for camera, _ in cameras if camera is not None}
        texts = {
            "country_code": coded([(cc, ids) for cc, _, ids in places]),  # type: ignore[misc]
            "region_code": coded([(region, ids) for _, region, ids in places]),  # type: ignore[misc]
            "camera": coded(cameras),  # type: ignore[arg-type]
            "camera_make": coded([(makers[c][0] if c is not None else None, ids) for c, ids in cameras]),  # type: ignore[misc]
            "camera_model": coded([(makers[c][1] if c is not None else None, ids) for c, ids in cameras]),  # type: ignore[misc]
            "kind": coded(grouped("kind")),  # type: ignore[arg-type]
            "file_format": coded(grouped("file_format")),  # type: ignore[arg-type]
        }
        return cls(ints, floats, texts)

    @classmethod
    def _rows(cls, conn: sqlite3.Connection, file_ids: Sequence[int]) -> "FilterColumns":
        columns = ", ".join(_INT_COLUMNS + _FLOAT_COLUMNS + _TEXT_COLUMNS)
        rows: list[Sequence[object]] = []
        for start in range(0, len(file_ids), _KEYS_PER_QUERY):
            part = list(file_ids[start : start + _KEYS_PER_QUERY])
            sql = f"SELECT {columns} FROM {TABLE} WHERE file_id IN ({','.join('?' * len(part))})"
            rows += conn.execute(sql, part).fetchall()
        by_column = list(zip(*rows)) if rows else [() for _ in range(len(_INT_COLUMNS) + len(_FLOAT_COLUMNS) + len(_TEXT_COLUMNS))]
        n_int, n_float = len(_INT_COLUMNS), len(_FLOAT_COLUMNS)
        ints = [np.array([_NO_VALUE if v is None else v for v in col], dtype=np.int64) for col in by_column[:n_int]]
        floats = [np.array([math.nan if v is None else v for v in col], dtype=np.float64) for col in by_column[n_int : n_int + n_float]]
        texts = {name: _Texts.of(list(col)) for name, col in zip(_TEXT_COLUMNS, by_column[n_int + n_float :])}  # type: ignore[arg-type]
        return cls(ints, floats, texts)

    def __len__(self) -> int:
        return len(self.file_ids)

    def refresh(self, conn: sqlite3.Connection, changed: Iterable[int]) -> "FilterColumns":
        """Columns with the rows of ``changed`` files re-read (gone ones dropped); returns the new columns."""
        changed_ids = np.unique(np.fromiter((int(i) for i in changed), dtype=np.int64))
        keep = ~np.isin(self.file_ids, changed_ids)
        fresh = FilterColumns._rows(conn, changed_ids.tolist())
        ints = [np.concatenate([old[keep], new]) for old, new in zip(
            (self.file_ids, self._taken, self._month, self._city_id), (fresh.file_ids, fresh._taken, fresh._month, fresh._city_id))]
        floats = [np.concatenate([self._latitude[keep], fresh._latitude]), np.concatenate([self._longitude[keep], fresh._longitude])]
        texts = {name: column.subset_then(keep, fresh._texts[name]) for name, column in self._texts.items()}
        return FilterColumns(ints, floats, texts)

    def vocabulary(self) -> "ColumnsVocabulary":
        """The library's cameras and places from these columns (no SQL), for the query reader."""
        return ColumnsVocabulary(self)

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
            return self._place(filter_, conn)
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
        known = self._taken != _NO_VALUE
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

    def _place(self, filter_: PlaceFilter, conn: sqlite3.Connection | None = None) -> np.ndarray:
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
        if filter_.names:
            if conn is None:
                raise ValueError("place names need the index connection")
            named = allowed_ids(conn, [[PlaceFilter(names=filter_.names)]])
            mask |= np.isin(self.file_ids, named)  # type: ignore[arg-type]
        return mask


class ColumnsVocabulary:
    """``search.vocabulary.Vocabulary`` answered from ``FilterColumns``; build a new one after ``refresh``."""

    def __init__(self, columns: FilterColumns) -> None:
        self._columns = columns
        self._cameras: list[CameraName] | None = None
        texts = columns._texts
        present = lambda name: {texts[name].values[c] for c in np.unique(texts[name].codes)} - {None}  # noqa: E731
        self._countries = present("country_code")
        width = len(texts["region_code"].values)
        pairs = np.unique(texts["country_code"].codes.astype(np.int64) * width + texts["region_code"].codes)
        self._regions = {
            (texts["country_code"].values[a], texts["region_code"].values[b])
            for a, b in zip((pairs // width).tolist(), (pairs % width).tolist()) if a and b
        }
        self._city_ids = set(np.unique(columns._city_id).tolist())

    def cameras(self) -> Sequence[CameraName]:
        if self._cameras is None:
            texts = self._columns._texts
            camera = texts["camera"]
            counts = np.bincount(camera.codes, minlength=len(camera.values))
            names = []
            for code in np.argsort(-counts):
                if code == 0 or not counts[code]:
                    continue
                row = int(np.flatnonzero(camera.codes == code)[0])
                names.append(CameraName(
                    camera.values[code], texts["camera_make"].values[texts["camera_make"].codes[row]],  # type: ignore[arg-type]
                    texts["camera_model"].values[texts["camera_model"].codes[row]], int(counts[code]),
                ))
            self._cameras = names
        return self._cameras

    def has_country(self, code: str) -> bool:
        return code in self._countries

    def has_region(self, country_code: str, region_code: str) -> bool:
        return (country_code, region_code) in self._regions

    def has_city(self, city_id: int, latitude: float, longitude: float, radius_km: float) -> bool:
        if city_id in self._city_ids:
            return True
        from xmr_desktop.search.filters import CityArea

        area = PlaceFilter(cities=(CityArea(city_id, "", latitude, longitude, radius_km),))
        return bool(self._columns._place(area).any())


def _folder_ids(conn: sqlite3.Connection | None, groups: Sequence[Sequence[Filter]]) -> np.ndarray:
    if conn is None:
        raise ValueError("folder filters need the index connection")
    ids = allowed_ids(conn, groups)  # a range scan of the path index
    assert ids is not None
    return ids
