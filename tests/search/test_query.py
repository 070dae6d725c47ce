from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest

from xmr_desktop.errors import QueryError, XmrError
from xmr_desktop.search.query import MAX_WEIGHT, QueryTerm, combine, parse_query
from xmr_desktop.search.ranking import VectorIndex


def no_files(path: str) -> bool:
    return False


def files(*existing: str) -> Callable[[str], bool]:
    return lambda path: path in existing


def parse(text: str) -> list[tuple[float, str, str]]:
    return [(t.weight, t.kind, t.value) for t in parse_query(text, image_exists=no_files)]


# --- separators ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("beach", [(1.0, "text", "beach")]),
        ("beach + sunset - people", [(1.0, "text", "beach"), (1.0, "text", "sunset"), (-1.0, "text", "people")]),
        ("  beach   +   sunset  ", [(1.0, "text", "beach"), (1.0, "text", "sunset")]),
        ("- people", [(-1.0, "text", "people")]),
        ("+ dog", [(1.0, "text", "dog")]),
        ("dog\t-\ncat", [(1.0, "text", "dog"), (-1.0, "text", "cat")]),
        ("red car - blue sky + trees", [(1.0, "text", "red car"), (-1.0, "text", "blue sky"), (1.0, "text", "trees")]),
    ],
)
def test_separators(text: str, expected: list[tuple[float, str, str]]) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["t-shirt", "2-year-old child", "c++ book", "dog-cat", "a+b", "well -known", "foo- bar", "x ++ y", "-people"],
)
def test_operators_inside_words_are_text(text: str) -> None:
    assert parse(text) == [(1.0, "text", text)]


def test_hyphenated_words_next_to_separators() -> None:
    assert parse("t-shirt - 2-year-old + c++") == [
        (1.0, "text", "t-shirt"),
        (-1.0, "text", "2-year-old"),
        (1.0, "text", "c++"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dog +", [(1.0, "text", "dog")]),
        ("dog + ", [(1.0, "text", "dog")]),
        ("dog - ", [(1.0, "text", "dog")]),
        ("dog + + cat", [(1.0, "text", "dog"), (1.0, "text", "cat")]),
        ("dog + - cat", [(1.0, "text", "dog"), (-1.0, "text", "cat")]),
        ("+ - dog", [(-1.0, "text", "dog")]),
    ],
)
def test_empty_terms_are_ignored(text: str, expected: list[tuple[float, str, str]]) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\t\n", "+", "-", " + - + ", '""', "'  '", "2:''"])
def test_empty_query_raises(text: str) -> None:
    with pytest.raises(QueryError, match="empty query"):
        parse_query(text, image_exists=no_files)


def test_query_error_is_an_xmr_error() -> None:
    with pytest.raises(XmrError):
        parse_query("", image_exists=no_files)


# --- unicode and quoting ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["雪山日落", "café au lait", "Ünïcödé 🐕", "собака на пляже", "東京 タワー"])
def test_unicode_passes_through(text: str) -> None:
    assert parse(text) == [(1.0, "text", text)]


def test_unicode_with_separators() -> None:
    assert parse("雪山日落 - 人 + 🐕") == [(1.0, "text", "雪山日落"), (-1.0, "text", "人"), (1.0, "text", "🐕")]


def test_quotes_protect_separators_and_are_unwrapped() -> None:
    assert parse('"rock - paper" + scissors') == [(1.0, "text", "rock - paper"), (1.0, "text", "scissors")]
    assert parse("'red car'") == [(1.0, "text", "red car")]


def test_unbalanced_or_inner_quotes_stay_literal() -> None:
    assert parse("dog's toy + ball") == [(1.0, "text", "dog's toy"), (1.0, "text", "ball")]
    assert parse('a "b + c') == [(1.0, "text", 'a "b'), (1.0, "text", "c")]
    assert parse("'80s car") == [(1.0, "text", "'80s car")]


def test_quoting_a_weight_makes_it_text() -> None:
    assert parse('"2:dog"') == [(1.0, "text", "2:dog")]


# --- weights ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2:dog + 0.5:grass", [(2.0, "text", "dog"), (0.5, "text", "grass")]),
        ("dog - 2:cat", [(1.0, "text", "dog"), (-2.0, "text", "cat")]),
        ("-1.5:cat", [(-1.5, "text", "cat")]),
        ("dog - -2:cat", [(1.0, "text", "dog"), (2.0, "text", "cat")]),
        ("+3:dog", [(3.0, "text", "dog")]),
        (".5:fog", [(0.5, "text", "fog")]),
        ("1.:fog", [(1.0, "text", "fog")]),
        ("100:dog", [(100.0, "text", "dog")]),
        ("2:red car", [(2.0, "text", "red car")]),
        ("2:雪山", [(2.0, "text", "雪山")]),
        ('2:"rock - paper"', [(2.0, "text", "rock - paper")]),
    ],
)
def test_weights(text: str, expected: list[tuple[float, str, str]]) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "10:30 sunset",  # a time, not weight 10
        "16:9 landscape",  # an aspect ratio
        "2: dog",  # space after the colon
        "2:",  # nothing to weight
        "x:dog",
        "nan:dog",
        "inf:dog",
        "1e3:dog",
        "2 :dog",
        "dog:2",
        "note: remember",
    ],
)
def test_not_a_weight_stays_text(text: str) -> None:
    assert parse(text) == [(1.0, "text", text)]


@pytest.mark.parametrize("text", ["0:dog", "0.0:dog", "-0:dog", "101:dog", "dog + 1000:cat", f"{MAX_WEIGHT * 2}:x"])
def test_weight_out_of_range_raises(text: str) -> None:
    with pytest.raises(QueryError, match="weight"):
        parse_query(text, image_exists=no_files)


# --- image terms --------------------------------------------------------------------------------------


def test_image_term_by_absolute_path() -> None:
    path = os.path.abspath("/photos/a.jpg")
    terms = parse_query(f"{path} - people", image_exists=files(path))
    assert terms == [QueryTerm(1.0, "image", path), QueryTerm(-1.0, "text", "people")]


def test_image_term_relative_path_becomes_absolute() -> None:
    terms = parse_query("a.jpg", image_exists=files("a.jpg"))
    assert terms == [QueryTerm(1.0, "image", os.path.abspath("a.jpg"))]
    assert os.path.isabs(terms[0].value)


def test_image_term_expands_user(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    expected = os.path.join(str(tmp_path), "p.jpg")
    asked: list[str] = []

    def exists(path: str) -> bool:
        asked.append(path)
        return path == os.path.expanduser("~/p.jpg")

    assert parse_query("~/p.jpg", image_exists=exists) == [QueryTerm(1.0, "image", os.path.abspath(expected))]
    assert asked == [os.path.expanduser("~/p.jpg")]


def test_image_term_quoted_path_with_separator_and_weight() -> None:
    path = os.path.abspath("/photos/Rome - 2019/a b.jpg")
    terms = parse_query(f'2:"{path}" + sunset', image_exists=files(path))
    assert terms == [QueryTerm(2.0, "image", path), QueryTerm(1.0, "text", "sunset")]
    plain = os.path.abspath("/photos/a b.jpg")
    assert parse_query(f"'{plain}'", image_exists=files(plain)) == [QueryTerm(1.0, "image", plain)]


def test_single_quotes_do_not_protect_separators() -> None:
    # Apostrophes are common in text, so only double quotes group.
    assert parse("'rock - paper'") == [(1.0, "text", "'rock"), (-1.0, "text", "paper'")]


def test_negative_weighted_image_term() -> None:
    path = os.path.abspath("/p/x.png")
    assert parse_query(f"cat - 0.5:{path}", image_exists=files(path))[1] == QueryTerm(-0.5, "image", path)


@pytest.mark.parametrize(
    "text", ["/no/such.jpg", "~/missing.jpg", "./x.jpg", "../x.jpg", "C:\\x.jpg", "dog + /nope.png"]
)
def test_path_like_term_without_file_raises(text: str) -> None:
    with pytest.raises(QueryError, match="no such image"):
        parse_query(text, image_exists=no_files)


def test_plain_word_not_a_file_is_text() -> None:
    assert parse_query("a.jpg", image_exists=no_files) == [QueryTerm(1.0, "text", "a.jpg")]


def test_default_predicate_uses_real_files(tmp_path: os.PathLike[str]) -> None:
    photo = os.path.join(str(tmp_path), "shot - 1.jpg")
    with open(photo, "wb") as f:
        f.write(b"\xff\xd8")
    assert parse_query(f'"{photo}" - dog') == [QueryTerm(1.0, "image", photo), QueryTerm(-1.0, "text", "dog")]
    with pytest.raises(QueryError, match="no such image"):
        parse_query(f'"{tmp_path}"')  # a directory is not an image


# --- combine ------------------------------------------------------------------------------------------


def unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_combine_single_term_is_identity() -> None:
    v = unit([3.0, 4.0])
    out = combine([(1.0, v)])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, v, atol=1e-6)


def test_combine_is_unit_and_weighted() -> None:
    x, y = unit([1, 0, 0]), unit([0, 1, 0])
    out = combine([(2.0, x), (1.0, y)])
    np.testing.assert_allclose(np.linalg.norm(out), 1.0, atol=1e-6)
    np.testing.assert_allclose(out, unit([2, 1, 0]), atol=1e-6)


def test_combine_normalises_inputs() -> None:
    out = combine([(1.0, np.array([10.0, 0.0])), (1.0, np.array([0.0, 0.1]))])
    np.testing.assert_allclose(out, unit([1, 1]), atol=1e-6)


def test_combine_negative_term_subtracts() -> None:
    out = combine([(1.0, unit([1, 1])), (-1.0, unit([0, 1]))])
    assert out[1] < out[0]


@pytest.mark.parametrize("weights", [(1.0, -1.0), (2.5, -2.5)])
def test_combine_cancelling_terms_raise(weights: tuple[float, float]) -> None:
    v = unit([0.3, -0.2, 0.9])
    with pytest.raises(QueryError, match="cancel"):
        combine([(weights[0], v), (weights[1], v.copy())])


def test_combine_bad_input_raises_value_error() -> None:
    with pytest.raises(ValueError):
        combine([])
    with pytest.raises(ValueError, match="1-D"):
        combine([(1.0, np.ones((1, 3)))])
    with pytest.raises(ValueError, match="length"):
        combine([(1.0, np.ones(3)), (1.0, np.ones(4))])
    with pytest.raises(ValueError):
        combine([(1.0, np.zeros(3))])
    with pytest.raises(ValueError):
        combine([(float("nan"), np.ones(3))])


def test_negative_term_pushes_aligned_photo_down() -> None:
    rng = np.random.default_rng(7)
    dim = 64
    beach, people = unit(list(rng.normal(size=dim))), unit(list(rng.normal(size=dim)))
    beach_with_people = unit(list(beach + people))
    empty_beach = unit(list(beach + 0.3 * rng.normal(size=dim) / np.sqrt(dim)))
    others = [unit(list(rng.normal(size=dim))) for _ in range(20)]
    index = VectorIndex(np.stack([beach_with_people, empty_beach, *others]), list(range(22)))

    def rank_of(doc_id: int, query: np.ndarray) -> int:
        return [i for i, _ in index.top_k(query, len(index))].index(doc_id)

    plain = combine([(1.0, beach)])
    minus_people = combine([(1.0, beach), (-1.0, people)])
    assert rank_of(0, minus_people) > rank_of(0, plain)
    assert rank_of(1, minus_people) == 0
    score = dict(index.top_k(minus_people, len(index)))[0]
    assert score < dict(index.top_k(plain, len(index)))[0]


# --- caps: a pasted list must not block searching -----------------------------------------------------------


def test_a_query_longer_than_the_cap_is_refused_with_a_clear_error() -> None:
    from xmr_desktop.search.query import MAX_QUERY_CHARS

    parse_query("x" * MAX_QUERY_CHARS, image_exists=lambda p: False)  # at the cap: fine
    with pytest.raises(QueryError, match="too long"):
        parse_query("x" * (MAX_QUERY_CHARS + 1), image_exists=lambda p: False)


def test_a_query_with_too_many_terms_is_refused_before_looking_them_up() -> None:
    from xmr_desktop.search.query import MAX_QUERY_TERMS

    looked_up: list[str] = []

    def exists(path: str) -> bool:
        looked_up.append(path)
        return False

    assert len(parse_query(" + ".join(["dog"] * MAX_QUERY_TERMS), image_exists=exists)) == MAX_QUERY_TERMS
    looked_up.clear()
    pasted = " + ".join(f"w{i}" for i in range(600))  # under the length cap
    with pytest.raises(QueryError, match=f"more than {MAX_QUERY_TERMS} terms"):
        parse_query(pasted, image_exists=exists)
    assert len(looked_up) <= MAX_QUERY_TERMS + 1


def test_the_search_box_limit_is_the_query_limit() -> None:
    from xmr_desktop.search import query

    assert query.SEARCH_BOX_MAX_CHARS == query.MAX_QUERY_CHARS
