"""Where the matches end and why, through the real `xmr` command on a tiny CLIP trained on drawn shapes: --json
says strong or weak and each part's share, --strong-only keeps the strong ones, --strictness moves the line,
--explain prints the reasons and where the strong matches end; a running app answers the same."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from synthetic_shapes import all_items, make_folder

from xmr_desktop.cli import main


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, trained_model_dir: Path) -> tuple[list[str], dict[str, str]]:
    """Three drawings of every colour and shape under names that say nothing (the words must not find them)."""
    folder = tmp_path_factory.mktemp("shapes")
    drawn = make_folder(folder / "drawn", all_items() * 3, ext=".jpg", rng=np.random.default_rng(7))
    truth = {}
    for n, path in enumerate(drawn):
        target = folder / f"photo_{n:03}.jpg"
        path.rename(target)
        truth[target.name] = "_".join(path.stem.split("_")[:2])  # "red_circle"
    (folder / "drawn").rmdir()
    base = ["--data-dir", str(tmp_path_factory.mktemp("data")), "--model", str(trained_model_dir)]
    assert main([*base, "index", str(folder)]) == 0
    return base, truth


def xmr(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def hits(capsys: pytest.CaptureFixture[str], base: list[str], *argv: str) -> list[dict]:
    return [json.loads(line) for line in xmr(capsys, *base, "search", *argv, "--json").splitlines() if line.strip()]


def test_json_says_which_matches_are_strong_and_what_each_part_of_the_query_gave(capsys, indexed) -> None:
    base, truth = indexed
    found = hits(capsys, base, "a red circle", "--top", "20")
    marks = [h["match"] for h in found]
    assert marks[0] == "strong" and "weak" in marks and marks == sorted(marks, key=lambda m: m != "strong")
    strong = [Path(h["path"]).name for h in found if h["match"] == "strong"]
    assert all(truth[name] == "red_circle" for name in strong[:3])
    assert sum(truth[name] == "red_circle" for name in strong) >= 2
    reason = found[0]["reasons"][0]
    assert (reason["kind"], reason["text"], reason["weight"]) == ("term", "a red circle", 1.0) and "share" in reason
    # Two terms: each says its share, a '-' term with its weight.
    first = hits(capsys, base, "a red circle - a blue square", "--top", "1")[0]
    assert [(r["text"], r["weight"]) for r in first["reasons"][:2]] == [("a red circle", 1.0), ("a blue square", -1.0)]
    assert sum(abs(r["share"]) for r in first["reasons"][:2]) == pytest.approx(1.0, abs=1e-3)


def test_strong_only_and_strictness(capsys, indexed) -> None:
    base, _ = indexed
    everything = hits(capsys, base, "a red circle", "--top", "36")
    strong = hits(capsys, base, "a red circle", "--top", "36", "--strong-only")
    assert strong == [h for h in everything if h["match"] == "strong"] and 0 < len(strong) < len(everything)
    loose = hits(capsys, base, "a red circle", "--top", "36", "--strong-only", "--strictness", "0")
    strict = hits(capsys, base, "a red circle", "--top", "36", "--strong-only", "--strictness", "1")
    assert len(strict) <= len(strong) <= len(loose) and len(strict) < len(loose)
    for bad in ("1.5", "strict"):
        with pytest.raises(SystemExit) as exited:
            main([*base, "search", "a red circle", "--strictness", bad])
        assert exited.value.code == 2 and "--strictness" in capsys.readouterr().err


def test_explain_prints_why_each_matched_and_where_the_strong_matches_end(capsys, indexed) -> None:
    base, _ = indexed
    found = hits(capsys, base, "a red circle", "--top", "12")
    strong = sum(h["match"] == "strong" for h in found)
    lines = xmr(capsys, *base, "search", "a red circle", "--top", "12", "--explain").splitlines()
    results = [n for n, line in enumerate(lines) if line[:1].isdigit()]
    assert len(results) == 12
    assert all(re.search(r"(^|  —  )a red circle [+−]?\d+%$", lines[n + 1].strip()) for n in results), lines
    end = [n for n, line in enumerate(lines) if "strong matches end here" in line]
    assert len(end) == 1 and results[strong - 1] < end[0] < results[strong]
    assert f"({strong}; weaker matches below)" in lines[end[0]]


def test_a_running_app_answers_the_same(capsys, indexed, trained_model_dir: Path) -> None:
    from xmr_desktop.config import resolve_paths
    from xmr_desktop.core import commands as c
    from xmr_desktop.core.library import PhotoLibrary
    from xmr_desktop.core.models import lazy_embedder
    from xmr_desktop.core.server import LibraryServer

    base, _ = indexed
    queries = [("a red circle", "--top", "10"), ("a red circle", "--strong-only", "--strictness", "0.2")]
    local = {q: hits(capsys, base, *q) for q in queries}
    explained = xmr(capsys, *base, "search", "a red circle", "--explain")
    paths = resolve_paths(base[1]).ensure()
    app = PhotoLibrary(paths, lazy_embedder, model=str(trained_model_dir), threaded=True, served_by="app")
    app.start()
    app.call(c.LoadModel(str(trained_model_dir)), timeout=120)
    server = LibraryServer(app, paths.data_dir)
    server.start()
    try:
        assert json.loads(xmr(capsys, *base, "status", "--json"))["served_by"] == "app"
        for query in queries:
            served = hits(capsys, base, *query)
            assert [(h["path"], h["match"], [r["text"] for r in h["reasons"]]) for h in served] == [
                (h["path"], h["match"], [r["text"] for r in h["reasons"]]) for h in local[query]]
        assert xmr(capsys, *base, "search", "a red circle", "--explain") == explained
    finally:
        server.close()
        app.close()
