"""The library's cameras and places, asked of the index, for the query reader (``search.vocabulary``).

Answers are cached per instance: make a new ``LibraryVocabulary`` when metadata was written (the core does so
after a metadata batch), so queries typed meanwhile cost no SQL beyond the first of each kind.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Sequence

from xmr_desktop.metadata.storage import TABLE
from xmr_desktop.search.filters import CityArea, PlaceFilter, filter_sql
from xmr_desktop.search.vocabulary import CameraName


class LibraryVocabulary:
    """What ``conn``'s index holds. Attributes: conn (the caller's connection, used from its thread)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self._cameras: list[CameraName] | None = None
        self._countries: set[str] | None = None
        self._regions: set[tuple[str, str]] | None = None
        self._cities: dict[int, bool] = {}

    def cameras(self) -> Sequence[CameraName]:
        if self._cameras is None:
            # Counted from the camera index alone; brand and model read once per camera.
            counts = self.conn.execute(
                f"SELECT camera, COUNT(*) FROM {TABLE} WHERE camera IS NOT NULL GROUP BY camera ORDER BY 2 DESC"
            ).fetchall()
            names = []
            for camera, count in counts:
                brand, model = self.conn.execute(
                    f"SELECT camera_make, camera_model FROM {TABLE} WHERE camera = ? LIMIT 1", (camera,)
                ).fetchone()
                names.append(CameraName(camera, brand, model, count))
            self._cameras = names
        return self._cameras

    def has_country(self, code: str) -> bool:
        if self._countries is None:
            rows = self.conn.execute(f"SELECT DISTINCT country_code FROM {TABLE} WHERE country_code IS NOT NULL")
            self._countries = {r[0] for r in rows}
        return code in self._countries

    def has_region(self, country_code: str, region_code: str) -> bool:
        if self._regions is None:
            rows = self.conn.execute(
                f"SELECT DISTINCT country_code, region_code FROM {TABLE} WHERE region_code IS NOT NULL"
            )
            self._regions = {(r[0], r[1]) for r in rows}
        return (country_code, region_code) in self._regions

    def has_city(self, city_id: int, latitude: float, longitude: float, radius_km: float) -> bool:
        with self._lock:
            known = self._cities.get(city_id)
        if known is None:
            if not (math.isfinite(latitude) and math.isfinite(longitude)):
                return False
            query = filter_sql([[PlaceFilter(cities=(CityArea(city_id, "", latitude, longitude, radius_km),))]])
            assert query is not None
            known = self.conn.execute(query[0] + " LIMIT 1", query[1]).fetchone() is not None
            with self._lock:
                self._cities[city_id] = known
        return known
