"""The query syntax: weighted ``+``/``-`` terms, each a text or an image, and how their vectors combine.

Syntax (modelled on rclip):

- Terms are separated by ``+`` or ``-`` standing alone between whitespace: ``beach + sunset - people``.
  Inside a word they are ordinary text, so ``t-shirt``, ``2-year-old`` and ``c++`` stay one term.
  A query may start with an operator (``- people``); empty terms (``dog +``, ``a + - b``) are ignored.
- A double-quoted span is never split, so a path such as ``"~/Photos/Rome - 2019/a.jpg"`` stays one term.
  Single quotes do not group (apostrophes are common in text), but a term wrapped in one pair of matching
  quotes (``"..."`` or ``'...'``) is unwrapped; quoting also turns off weights (``"2:dog"`` is text).
- ``W:term`` weights a term: ``2:dog + 0.5:grass``, ``dog - 2:cat`` (weight -2). ``W`` is a plain decimal
  number with an optional sign, ``0 < |W| <= MAX_WEIGHT``, and ``term`` follows the colon with no space
  and does not start with a digit, so times and ratios (``10:30 sunset``, ``16:9 wide``) stay text.
  A number out of range (``0:dog``, ``500:dog``) is a :class:`QueryError`, not silently text.
- A term naming an existing file (``~`` expanded) is an image query; a term that looks like a path
  (``/...``, ``~/...``, ``./...``, ``C:\\...``) but names no file is a :class:`QueryError`.
- A query holds at most ``MAX_QUERY_CHARS`` characters and ``MAX_QUERY_TERMS`` terms: each term costs a
  text-tower call, and a pasted list of thousands would block searching for minutes. The search box takes
  ``MAX_QUERY_CHARS`` as its maximum length.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from xmr_desktop.errors import QueryError

MAX_WEIGHT = 100.0
# Room for a long description or a query image's full path (PATH_MAX is 4096 on Linux, 1024 on macOS) plus a
# few words; CLIP reads only the first 77 tokens of a term anyway.
MAX_QUERY_CHARS = 4200
MAX_QUERY_TERMS = 16
SEARCH_BOX_MAX_CHARS = MAX_QUERY_CHARS  # for the window's search box (QLineEdit.setMaxLength)

# A quoted span is matched (and skipped) first so that operators inside it never split.
_SEPARATOR = re.compile(r'"[^"]*"|(?:(?<=\s)|^)([+-])(?=\s|$)')
_WEIGHT = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)):(?![\s\d])(.+)", re.DOTALL)
_PATH_LIKE = re.compile(r"(?:~[^\s/\\]*|\.{1,2})?[/\\]|[A-Za-z]:[/\\]")


@dataclass(frozen=True)
class QueryTerm:
    """One term of a query.

    Attributes:
        weight: signed weight; negative terms push results away.
        kind: ``"text"`` or ``"image"``.
        value: the text as typed, or the absolute path of the query image.
    """

    weight: float
    kind: Literal["text", "image"]
    value: str


def parse_query(text: str, *, image_exists: Callable[[str], bool] = os.path.isfile) -> list[QueryTerm]:
    """Split ``text`` into weighted terms (syntax in the module docstring).

    ``image_exists`` is asked about each term's ``~``-expanded path; tests inject it instead of making files.
    Raises :class:`QueryError` for an empty query, a weight out of range, a path naming no file, or a query
    over ``MAX_QUERY_CHARS`` characters or ``MAX_QUERY_TERMS`` terms.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is too long ({len(text):,} characters; at most {MAX_QUERY_CHARS:,})")
    terms: list[QueryTerm] = []
    sign = 1.0
    start = 0
    for match in _SEPARATOR.finditer(text):
        if match.group(1) is None:
            continue  # a quoted span
        _append_term(terms, text[start : match.start()], sign, image_exists)
        if len(terms) > MAX_QUERY_TERMS:  # before looking up thousands of terms as files
            break
        sign = -1.0 if match.group(1) == "-" else 1.0
        start = match.end()
    else:
        _append_term(terms, text[start:], sign, image_exists)
    if len(terms) > MAX_QUERY_TERMS:
        raise QueryError(f"the query has more than {MAX_QUERY_TERMS} terms; join words without ' + ' or ' - '")
    if not terms:
        raise QueryError("empty query")
    return terms


def _append_term(terms: list[QueryTerm], raw: str, sign: float, image_exists: Callable[[str], bool]) -> None:
    body = raw.strip()
    if not body:
        return
    weight = 1.0
    match = _WEIGHT.fullmatch(body)
    if match is not None:
        weight = float(match.group(1))
        if not 0.0 < abs(weight) <= MAX_WEIGHT:
            raise QueryError(f"weight {match.group(1)} in {body!r} must be non-zero and at most {MAX_WEIGHT:g}")
        body = match.group(2).strip()
        if not body:
            return
    body = _unquote(body)
    if not body:
        return
    path = os.path.expanduser(body)
    if image_exists(path):
        terms.append(QueryTerm(sign * weight, "image", os.path.abspath(path)))
    elif _PATH_LIKE.match(body):
        raise QueryError(f"no such image: {body}")
    else:
        terms.append(QueryTerm(sign * weight, "text", body))


def _unquote(body: str) -> str:
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "\"'":
        return body[1:-1].strip()
    return body


def combine(term_vectors: Sequence[tuple[float, np.ndarray]]) -> np.ndarray:
    """Weighted sum of the terms' vectors (each normalised first), returned as a float32 unit vector.

    Raises :class:`QueryError` when the terms cancel out (e.g. ``dog - dog``), ``ValueError`` for no terms,
    vectors that are not 1-D of one length, or a zero or non-finite vector or weight.
    """
    if not term_vectors:
        raise ValueError("combine() needs at least one term")
    total: np.ndarray | None = None
    weight_sum = 0.0
    for weight, vector in term_vectors:
        v = np.asarray(vector, dtype=np.float64)
        if v.ndim != 1:
            raise ValueError(f"term vectors must be 1-D, got shape {v.shape}")
        if total is not None and v.shape != total.shape:
            raise ValueError(f"term vectors differ in length: {v.shape[0]} vs {total.shape[0]}")
        norm = float(np.linalg.norm(v))
        if not (math.isfinite(weight) and math.isfinite(norm) and norm > 0.0):
            raise ValueError("term weights and vectors must be finite and vectors non-zero")
        contribution = (weight / norm) * v
        total = contribution if total is None else total + contribution
        weight_sum += abs(weight)
    assert total is not None
    norm = float(np.linalg.norm(total))
    # Relative threshold: what counts as "cancelled" scales with how much weight went in.
    if norm <= 1e-6 * weight_sum:
        raise QueryError("the query terms cancel each other out")
    return (total / norm).astype(np.float32)
