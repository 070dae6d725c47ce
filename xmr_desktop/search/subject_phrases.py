"""Types, cameras and places in a search box, English and Chinese.

- Types: "screenshots", "panoramas", file formats ("pngs"), "截图", "全景"; "videos" / "视频" are recognised
  so that the answer can say xmr does not index videos.
- Cameras: only cameras the library has. A family word that is also an everyday word ("apple", "pixel",
  "fuji", "galaxy", "苹果", "小米", "富士") needs a cue: "with the Fuji", "shot on Pixel", "用苹果拍的".
- Places: countries, regions and towns (15,000 people or more) by any of their GeoNames names, and only those
  where the library has photos — "nice sunset" is no search in Nice unless you have been there.
  Place names that are everyday English words (``AMBIGUOUS_PLACES``: china the dishes, turkey the bird, nice,
  bath, reading, orange…) are places only when typed with a capital: "China", "Turkey", "Nice". Towns under
  100,000 people typed in lower case need a cue ("in", "at", "near", "from", "to").
  Chinese: names in Chinese characters anywhere in the text ("在东京", "日本"), except when an adjective-like
  suffix makes them a kind of thing ("中国菜", "日本料理", "英国人").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xmr_desktop.metadata.camera import AMBIGUOUS_CAMERA_WORDS
from xmr_desktop.search.camera_words import compact, family_in_han, match_at
from xmr_desktop.search.filters import CameraFilter, CityArea, Filter, PlaceFilter, TypeFilter

if TYPE_CHECKING:
    from xmr_desktop.metadata.places import Gazetteer, NamedPlace
    from xmr_desktop.search.vocabulary import Vocabulary

AMBIGUOUS_PLACES = frozenset(
    """china turkey jordan georgia jersey chad guinea chile nice split bath reading mobile orange florence
    victoria phoenix buffalo aurora independence surprise hope sandy spring sunrise plantation pearl normal temple
    paradise enterprise marathon colon mercedes van batman man sale deal hull derby bury rugby tours worms essen
    mons spa hue bello concordia soledad troy austin tyler jackson eugene charlotte madison lincoln logan chelsea
    long beach riverside garden grove green bay palm bay ocean city cape coral white plains sugar land santa
    cruz mission rose moon ocean forest lakes park valley hills wells ely
    march may mary""".split()
) | {"long beach", "garden grove", "green bay", "palm bay", "ocean city", "cape coral", "white plains", "sugar land",
     "santa cruz"}
_HAN_AMBIGUOUS = frozenset({"东方", "中山", "和平", "安宁", "太平", "长城", "新城", "城关", "开平", "永安", "福山", "龙山"})
_HAN_SUFFIXES = ("菜", "料理", "风", "式", "人", "字", "话", "语", "文", "画", "味", "产", "制", "造", "茶", "酒", "结")
_PLACE_CUES = frozenset({"in", "at", "near", "around", "from", "to", "visiting", "across"})
_HAN_PLACE_CUES = "在于去到从"
BARE_TOWN_MIN_POPULATION = 100_000
MAX_PLACE_WORDS = 4

_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f\u1e00-\u1eff](?:[A-Za-z0-9\u00c0-\u024f\u1e00-\u1eff'’\-.]*[A-Za-z0-9\u00c0-\u024f\u1e00-\u1eff])?")
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_CAMERA_CUE = re.compile(
    r"(?:(?:shot|taken|photographed|captured)\s+)?(?:with|on|using|by)\s+(?:(?:the|my|a|an|our|his|her)\s+)?$",
    re.IGNORECASE,
)
_TYPES_EN = re.compile(
    r"(?<![\w-])(screen\s?shots?|screen\s?caps?|screengrabs?|panoramas?|panos?|panoramic(?:\s+(?:photos?|pictures?|shots?))?|"
    r"videos|movies|video\s+clips|pngs?|jpe?gs?|heics?|gifs?|tiffs?|webps?)(?![\w-])",
    re.IGNORECASE,
)
_TYPES_ZH = re.compile(r"屏幕截图|屏幕快照|截图|截屏|全景(?:照片|图片|图)?|视频(?!截)")


@dataclass(frozen=True)
class Phrase:
    """A recognised part: characters ``[start, end)``, its filter and chip label."""

    start: int
    end: int
    filter: Filter
    label: str


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int


def words_of(text: str) -> list[Word]:
    words = []
    for match in _WORD.finditer(text):
        value, end = match.group(0), match.end()
        if value.lower().endswith(("'s", "’s")):
            value, end = value[:-2], end - 2
        words.append(Word(value, match.start(), end))
    return words


# -- types -------------------------------------------------------------------------------------------------

def find_types(text: str, is_free: Callable[[int, int], bool]) -> Iterator[Phrase]:
    for match in list(_TYPES_EN.finditer(text)) + list(_TYPES_ZH.finditer(text)):
        start, end = match.span()
        if not is_free(start, end):
            continue
        word = re.sub(r"\s+", "", match.group(0).lower())
        if word.startswith(("screen", "截", "屏幕")):
            yield Phrase(start, end, TypeFilter(kinds=frozenset({"screenshot"})), "screenshots")
        elif word.startswith(("pano", "全景")):
            yield Phrase(start, end, TypeFilter(kinds=frozenset({"panorama"})), "panoramas")
        elif word.startswith(("video", "movie", "视频")):
            yield Phrase(start, end, TypeFilter(unindexed="videos"), "videos (not indexed)")
        else:
            fmt = {"jpg": "jpeg", "jpgs": "jpeg"}.get(word, word.rstrip("s") if word not in ("tiff",) else word)
            fmt = "jpeg" if fmt.startswith("jp") else fmt
            yield Phrase(start, end, TypeFilter(formats=frozenset({fmt})), fmt.upper())


# -- cameras -----------------------------------------------------------------------------------------------

def find_cameras(
    text: str, vocabulary: "Vocabulary | None", is_free: Callable[[int, int], bool], notes: list[str]
) -> Iterator[Phrase]:
    cameras = list(vocabulary.cameras()) if vocabulary is not None else []
    if not cameras:
        return
    words = words_of(text)
    i = 0
    while i < len(words):
        match = match_at([w.text for w in words], i, cameras)
        if match is None:
            i += 1
            continue
        start, end = words[i].start, words[i + match.words - 1].end
        cue = _CAMERA_CUE.search(text[:start])
        if compact(words[i].text) in AMBIGUOUS_CAMERA_WORDS and match.words == 1 and not cue:
            notes.append(f'"{words[i].text}" stays words; "with the {words[i].text}" means the camera {match.label}')
            i += 1
            continue
        if cue:
            start = cue.start()
        if is_free(start, end):
            yield Phrase(start, end, CameraFilter(cameras=match.cameras), match.label)
            i += match.words
        else:
            i += 1
    for start, end, match in family_in_han(text, cameras):
        word = text[start:end]
        before, after = text[max(0, start - 1) : start], text[end : end + 3]
        cued = before == "用" or after.startswith(("手机", "拍", "相机"))
        if word in AMBIGUOUS_CAMERA_WORDS and not cued:
            continue
        if word.startswith("富士") and after.startswith("山"):  # Mount Fuji
            continue
        if before == "用":
            start -= 1
        for tail in ("手机", "相机"):
            if text.startswith(tail, end):
                end += len(tail)
        if is_free(start, end):
            yield Phrase(start, end, CameraFilter(cameras=match.cameras), match.label)


# -- places ------------------------------------------------------------------------------------------------

def _present(place: "NamedPlace", vocabulary: "Vocabulary | None") -> bool:
    if vocabulary is None:
        return True
    if place.kind == "country":
        return vocabulary.has_country(place.country_code)
    if place.kind == "region":
        return place.region_code is not None and vocabulary.has_region(place.country_code, place.region_code)
    assert place.city_id is not None and place.latitude is not None and place.longitude is not None
    return vocabulary.has_city(place.city_id, place.latitude, place.longitude, place.radius_km)


def place_filter(places: Sequence["NamedPlace"]) -> PlaceFilter:
    return PlaceFilter(
        countries=frozenset(p.country_code for p in places if p.kind == "country"),
        regions=frozenset((p.country_code, p.region_code) for p in places if p.kind == "region" and p.region_code),
        cities=tuple(
            CityArea(p.city_id, p.name, p.latitude, p.longitude, p.radius_km)  # type: ignore[arg-type]
            for p in places if p.kind == "city"
        ),
    )


def _capitalised(typed: str) -> bool:
    return typed[:1].isupper() and not typed.isupper()


def find_places(
    text: str,
    gazetteer: "Gazetteer | None",
    vocabulary: "Vocabulary | None",
    is_free: Callable[[int, int], bool],
    notes: list[str],
) -> Iterator[Phrase]:
    """Place names of ``text``; names that are places but left as words are explained in ``notes``."""
    if gazetteer is None:
        return
    words = words_of(text)
    i = 0
    while i < len(words):
        taken = 0
        for n in range(min(MAX_PLACE_WORDS, len(words) - i), 0, -1):
            run = words[i : i + n]
            start, end = run[0].start, run[-1].end
            typed = text[start:end]
            if not is_free(start, end) or any(ch in typed for ch in '"+'):
                continue
            if typed.replace(" ", "").isdigit():
                continue
            places = gazetteer.named(typed)
            if not places:
                continue
            cue = words[i - 1] if i > 0 and words[i - 1].text.lower() in _PLACE_CUES else None
            if cue is not None and not is_free(cue.start, cue.end):
                cue = None
            capital = all(_capitalised(w.text) for w in run if len(w.text) > 2)
            key = typed.lower()
            if key in AMBIGUOUS_PLACES and not capital:
                if any(_present(p, vocabulary) for p in places):
                    notes.append(f'"{typed}" stays words; type "{typed.title()}" for the place {places[0].name}')
                continue
            if not (capital or cue):
                places = [p for p in places if p.kind != "city" or p.population >= BARE_TOWN_MIN_POPULATION]
            present = [p for p in places if _present(p, vocabulary)]
            if not present:
                if places and (capital or cue):
                    notes.append(f'"{typed}" stays words: no photo of the library was taken in {places[0].name}')
                continue
            phrase_start = cue.start if cue is not None else start
            label = f"in {present[0].name}"
            yield Phrase(phrase_start, end, place_filter(present), label)
            taken = n
            break
        i += taken or 1
    yield from _han_places(text, gazetteer, vocabulary, is_free, notes)


def _han_places(
    text: str, gazetteer: "Gazetteer", vocabulary: "Vocabulary | None", is_free: Callable[[int, int], bool],
    notes: list[str],
) -> Iterator[Phrase]:
    runs = list(_HAN_RUN.finditer(text))
    if not runs:
        return
    names = gazetteer.han_names()
    longest = gazetteer.longest_han_name()
    for run in runs:
        pos = run.start()
        while pos < run.end():
            found = None
            for length in range(min(longest, run.end() - pos), 1, -1):
                candidate = text[pos : pos + length]
                if candidate in names and is_free(pos, pos + length):
                    found = candidate
                    break
            if found is None:
                pos += 1
                continue
            end = pos + len(found)
            cue = pos > 0 and text[pos - 1] in _HAN_PLACE_CUES and is_free(pos - 1, pos)
            if text.startswith(_HAN_SUFFIXES, end) or (found in _HAN_AMBIGUOUS and not cue):
                pos = end
                continue
            present = [p for p in gazetteer.named(found) if _present(p, vocabulary)]
            if not present:
                notes.append(f'"{found}" stays words: no photo of the library was taken there')
                pos = end
                continue
            yield Phrase(pos - 1 if cue else pos, end, place_filter(present), f"in {present[0].name}")
            pos = end
