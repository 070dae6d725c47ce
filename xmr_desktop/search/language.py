"""Which text tower answers a query term: CLIP's own (English) or the multilingual one.

The language setting is ``auto``, ``en`` or ``multi``. ``en`` and ``multi`` send every text to one tower;
``auto`` decides per text, and the searcher embeds each term of ``a + b - c`` (and the words around a personal
concept's name) separately, so each term routes on its own. A text goes to the multilingual tower when

1. it contains a letter of a script other than Latin (CJK, kana, hangul, Cyrillic, Greek, Arabic, Hebrew, Thai,
   Devanagari, ...), or
2. a Latin letter with a diacritic or one English does not use (é, ü, ñ, ß, ø, ł, ı, ...), or
3. at least as many of its words are function words of another language (``mit``, ``dem``, ``avec``, ``och``,
   ``con``, ``della``...) as English ones, and at least one is.

Everything else goes to CLIP's own tower. Why a heuristic and not a language identifier: queries are one to a few
words, where identifiers guess (one word has no context), and a wrong guess costs little in one direction only:
the multilingual towers answer English about as well as CLIP's own (M-CLIP's published English R@10 on the XTD10
captions is at or above OpenAI CLIP's), so the rules above lean towards the multilingual tower whenever a term
shows any sign of another language. ``benchmarks/micro/language_routing.py`` measures them on a list of queries.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np

Language = Literal["auto", "en", "multi"]
LANGUAGES: tuple[Language, ...] = ("auto", "en", "multi")
ENGLISH_TOWER = "clip"
MULTILINGUAL_TOWER = "multilingual"

# Latin letters English writes without: the diacritics are caught by decomposition, these have none to strip.
_NON_ENGLISH_LATIN = set("ßøæœłđıþðŋħ")
_ENGLISH = set(
    "a an the of on in at with and or to for from by under over near next behind my our your his her their this "
    "that these those is are was some two three four five".split()
)
# Function words of other Latin-script languages. "die" and "am" are English words too, but as German articles
# ("die Katze", "am Strand") they are far more common in photo queries; "me", "so", "do" are left out.
_FOREIGN = set(
    # German
    "der die das und mit dem den des ein eine einen einem einer im am vom zum zur bei ist nicht mein meine meinem "
    "unter "
    "auf aus von neben hinter vor zwischen oder auch sehr "
    # French
    "le les des du une et avec dans sur sous chez au aux mon ma mes ton ta nos pour sans est sont près "
    # Spanish / Portuguese / Italian
    "el los las del una unos unas con y al mi mis sobre para por entre junto bajo "
    "os um uma do da dos das no na nos nas com em ao meu minha sob "
    "de il lo gli della dello delle degli dei nel nella nello nei sul sulla sullo sulle alla allo di per tra fra "
    "sotto "
    # Dutch / Scandinavian
    "het een en op bij voor naar zijn onder naast achter och med ett og til af av det vid hos "
    # Polish / Czech / Turkish / Indonesian / Malay
    "w z ze na pod nad przy dla oraz je se ve bir ile dan yang dengan dari seorang"
    .split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _is_latin(letter: str) -> bool:
    return unicodedata.name(letter, "").startswith("LATIN")


def detect_tower(text: str) -> str:
    """``"multilingual"`` or ``"clip"`` for one text, by the rules in the module docstring."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return ENGLISH_TOWER  # digits and symbols: nothing to translate
    for letter in letters:
        if not _is_latin(letter) or letter.lower() in _NON_ENGLISH_LATIN:
            return MULTILINGUAL_TOWER
        if len(unicodedata.normalize("NFD", letter)) > 1:
            return MULTILINGUAL_TOWER
    words = _WORD.findall(text.lower())
    foreign = sum(word in _FOREIGN for word in words)
    english = sum(word in _ENGLISH for word in words)
    # A tie ("hond in de sneeuw": "in" is English too) goes to the tower that reads both.
    return MULTILINGUAL_TOWER if foreign and foreign >= english else ENGLISH_TOWER


def tower_for(text: str, language: Language) -> str:
    """The tower that answers ``text`` under a language setting."""
    if language == "en":
        return ENGLISH_TOWER
    if language == "multi":
        return MULTILINGUAL_TOWER
    if language != "auto":
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    return detect_tower(text)


class _TextEmbedder(Protocol):
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


class RoutedEmbedder:
    """A model whose ``embed_texts`` sends each text to the tower :func:`tower_for` picks; images, ``model_id``,
    ``dim`` and the rest come from the multilingual model (a ``TextTowerEmbedder``), whose image tower both share.

    The searcher uses it unchanged: it embeds every query term (and every concept's remaining words) with one
    ``embed_texts([text])`` call, so every term routes on its own. ``tower_for(text)`` says which one answered,
    for ``--explain`` and the result details.

    Attributes:
        multilingual: the text-tower model (``TextTowerEmbedder``).
        english: CLIP's own text side (the bound ``ClipEmbedder``; it shares ``model_id``).
        language: the setting (``auto``, ``en``, ``multi``). To change it, make a new RoutedEmbedder and a new
            Searcher: the searcher caches term vectors by text.
    """

    def __init__(self, multilingual: object, english: _TextEmbedder | None = None, language: Language = "auto") -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
        self.multilingual = multilingual
        self.english = english if english is not None else getattr(multilingual, "image_model")
        self.language: Language = language

    def __getattr__(self, name: str) -> object:
        # model_id, name, dim, image_spec, device, embed_images, prepare_images, close...: the multilingual
        # model's (only called for attributes this class does not define itself).
        try:
            multilingual = self.__dict__["multilingual"]
        except KeyError:  # not initialised yet (copy, pickle): no delegation
            raise AttributeError(name) from None
        return getattr(multilingual, name)

    def tower_for(self, text: str) -> str:
        return tower_for(text, self.language)

    def tower_name(self, text: str) -> str:
        """The model that answers ``text``, by name, e.g. ``openai-b32`` or ``mclip-b32``."""
        tower = self.english if self.tower_for(text) == ENGLISH_TOWER else self.multilingual
        return str(getattr(tower, "name", self.tower_for(text)))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, row ``i`` from the tower that ``texts[i]`` routes to (one call per tower used)."""
        texts = list(texts)
        if not texts:
            return self.multilingual.embed_texts([])  # type: ignore[attr-defined]
        routes = [self.tower_for(text) for text in texts]
        out: np.ndarray | None = None
        for route, model in ((ENGLISH_TOWER, self.english), (MULTILINGUAL_TOWER, self.multilingual)):
            rows = [i for i, r in enumerate(routes) if r == route]
            if not rows:
                continue
            vectors = np.asarray(model.embed_texts([texts[i] for i in rows]), np.float32)  # type: ignore[attr-defined]
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), np.float32)
            out[rows] = vectors
        assert out is not None
        return out


__all__ = ["LANGUAGES", "Language", "RoutedEmbedder", "detect_tower", "tower_for"]
