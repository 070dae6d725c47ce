"""Words for the keyword index, the same way for what is stored and what is typed.

- Latin (and any other spaced script): NFKC (full-width ``ＩＭＧ`` becomes ``img``), case-folded, diacritics
  removed (``Müller`` → ``muller``, ``ß`` → ``ss``); a German umlaut also gives its two-letter spelling
  (``muller`` *and* ``mueller``), so ``Mueller`` and ``Müller`` find each other.
- Letters and digits are separate words (``IMG1234`` → ``img 1234``); any other character separates words.
- File and folder names are also split at camelCase (``TripToRome`` → ``trip to rome`` plus ``triptorome``,
  so ``iPhone`` stays findable as ``iphone``).
- Chinese, Japanese and Korean runs become overlapping character bigrams followed by the single characters:
  ``护照扫描`` → ``护照 照扫 扫描 护 照 扫 描``. A one-character query looks up a single character, a two-character
  query one bigram, a longer one each of its bigrams (all of them for an exact substring, some for a partial
  match). Measured against FTS5's trigram tokenizer (no 1–2 character queries) and jieba segmentation (misses
  words it cuts differently in the text and in the query) in ``benchmarks/keyword_chinese.py``.

Tokens contain only letters and digits, so no FTS5 query syntax can be built from user text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Han (with extension A and compatibility ideographs), kana, Hangul syllables: scripts written without spaces
# (Korean has spaces, and bigrams serve it as well).
_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK_CHARS}]+")
# A CJK run, a run of other letters, or a run of digits; everything else separates.
_WORD = re.compile(f"([{_CJK_CHARS}]+)|((?:(?![{_CJK_CHARS}])[^\\W\\d_])+)|(\\d+)")
# camelCase and acronym boundaries: "tripToRome", "IMGTest" -> "IMG Test"; applied to names only.
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
# Function words of English queries that would otherwise match the odd file name ("Plan A.jpg" for "a dog").
# Only used for queries; stored text keeps every word. Common content words ("photo", "img") are left to
# the rarity weighting instead: in one collection they are everywhere, in another they are the one clue.
QUERY_STOP_WORDS = frozenset(
    "a an and are as at be by for from in is it of on or the to with my me our this that".split()
)


@dataclass(frozen=True)
class QueryTerm:
    """One thing a query looks for.

    Attributes:
        text: the word as shown back to the user (folded: ``invoice``, ``4711``, ``护照``).
        tokens: the index tokens that must appear in this order (one token, or a CJK bigram).
    """

    text: str
    tokens: tuple[str, ...]


def fold(text: str) -> str:
    """Case- and diacritic-folded NFC text: ``"Ｍüller ÉCOLE"`` → ``"muller ecole"``."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def is_cjk(text: str) -> bool:
    """Whether ``text`` is one run of CJK characters."""
    return _CJK_RUN.fullmatch(text) is not None


def _cjk_tokens(run: str) -> list[str]:
    bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
    # Bigrams first, then the characters: consecutive bigrams of one run stay adjacent positions.
    return bigrams + list(run) if len(run) > 1 else [run]


def _spaced_words(text: str) -> list[tuple[str, bool]]:
    """``(word, is_cjk_run)`` pairs of folded ``text``, umlaut spellings added after the word they belong to."""
    found: list[tuple[str, bool]] = []
    cased = unicodedata.normalize("NFKC", text).casefold()
    for match in _WORD.finditer(cased):
        cjk, letters, digits = match.groups()
        if cjk:
            found.append((cjk, True))
        elif letters:
            found.append((fold(letters), False))
            spelled = letters.translate(_UMLAUTS)
            if spelled != letters:
                found.append((fold(spelled), False))
        else:
            found.append((digits, False))
    return found


def text_tokens(text: str) -> list[str]:
    """Index tokens of free text (tags, captions, text read from a photo)."""
    tokens: list[str] = []
    for word, cjk in _spaced_words(text):
        tokens.extend(_cjk_tokens(word) if cjk else [word])
    return tokens


def name_tokens(name: str) -> list[str]:
    """Index tokens of a file or folder name: words, camelCase parts and the camelCase word as a whole."""
    tokens: list[str] = []
    for piece in re.split(r"[\W_]+", unicodedata.normalize("NFKC", name)):
        parts = [p for p in _CAMEL.split(piece) if p]
        tokens.extend(text_tokens(" ".join(parts)))
        if len(parts) > 1:
            tokens.extend(text_tokens(piece))
    return tokens


def query_terms(query: str) -> list[QueryTerm]:
    """What a typed query looks for, in order, without repeats.

    Single Latin letters and :data:`QUERY_STOP_WORDS` are dropped; a CJK run of three or more characters becomes
    one term per bigram, so a file that has only some of them still scores (fewer terms matched, lower score).
    """
    terms: dict[QueryTerm, None] = {}
    for word, cjk in _spaced_words(query):
        if cjk:
            pieces = [word] if len(word) <= 2 else [word[i : i + 2] for i in range(len(word) - 1)]
            for piece in pieces:
                terms[QueryTerm(piece, (piece,))] = None
        elif (len(word) > 1 or word.isdigit()) and word not in QUERY_STOP_WORDS:
            terms[QueryTerm(word, (word,))] = None
    return list(terms)


def fts_phrase(term: QueryTerm) -> str:
    """``term`` as an FTS5 phrase string. Tokens hold only letters and digits; quotes are doubled regardless."""
    return '"' + " ".join(token.replace('"', '""') for token in term.tokens) + '"'
