"""Chinese keyword search: character bigrams (ours) vs FTS5's trigram tokenizer vs jieba word segmentation.

``python -m benchmarks.keyword_chinese [--docs 20000]`` (jieba's row only when ``pip install jieba`` is done)

Corpus: Chinese captions and file names made of ``text_corpus.CHINESE_WORDS`` (2–5 words run together, as people
write, with dates and some English mixed in). Queries: 1, 2, 3 and 4 characters long, cut from those words and
from pairs of adjacent words. Ground truth is substring containment: a person typing 北京 expects every file whose
text contains 北京. Per query length: recall (the share of containing files found at all), P@10 (the share of the
first k hits that contain the query, k = min(10, files containing it)), index size and build time, query time
p50 (every hit returned, so LIKE and MATCH compare; the app asks for the best 1,000).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.text_corpus import CHINESE_WORDS
from xmr_desktop.textsearch import keyword_index as ki
from xmr_desktop.textsearch.tokens import fold


def corpus(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        words = rng.sample(CHINESE_WORDS, rng.randint(2, 5))
        if rng.random() < 0.3:
            words.insert(rng.randint(0, len(words)), f"{rng.randint(2015, 2024)}年{rng.randint(1, 12)}月")
        if rng.random() < 0.2:
            words.append(rng.choice(["IMG", "trip", "Beijing", "photo"]))
        texts.append("".join(words) if rng.random() < 0.7 else "_".join(words))
    return texts


def queries(texts: list[str], per_length: int, seed: int = 1) -> dict[int, list[str]]:
    rng = random.Random(seed)
    words = [w for w in CHINESE_WORDS if len(w) >= 2]
    by_length: dict[int, list[str]] = {1: [], 2: [], 3: [], 4: []}
    while min(len(v) for v in by_length.values()) < per_length:
        source = rng.choice(words) if rng.random() < 0.6 else rng.choice(words) + rng.choice(words)
        length = rng.randint(1, 4)
        if len(source) < length:
            continue
        start = rng.randint(0, len(source) - length)
        query = source[start : start + length]
        if len(by_length[length]) < per_length and any(query in t for t in texts[:2000]):
            by_length[length].append(query)
    return by_length


class Method:
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.path = path

    def build(self, texts: list[str]) -> float:
        started = time.perf_counter()
        self.conn.execute("BEGIN")
        self._insert(texts)
        self.conn.execute("COMMIT")
        return time.perf_counter() - started

    def size_mib(self) -> float:
        self.conn.execute("VACUUM")
        return os.path.getsize(self.path) / 2**20

    def _insert(self, texts: list[str]) -> None:
        raise NotImplementedError

    def search(self, query: str) -> list[int]:
        raise NotImplementedError


class Bigrams(Method):
    def __init__(self, path: Path) -> None:
        super().__init__("bigrams + characters into unicode61 (ours)", path)
        ki.create_keyword_tables(self.conn)

    def _insert(self, texts: list[str]) -> None:
        for file_id, text in enumerate(texts, start=1):
            ki.set_fields(self.conn, file_id, {"caption": text})

    def search(self, query: str) -> list[int]:
        return [hit.file_id for hit in ki.search(self.conn, query, limit=100_000)]


class Trigram(Method):
    def __init__(self, path: Path, like_fallback: bool) -> None:
        name = "FTS5 trigram, LIKE scan under 3 characters" if like_fallback else "FTS5 trigram (MATCH)"
        super().__init__(name, path)
        self.like_fallback = like_fallback
        self.conn.execute("CREATE VIRTUAL TABLE t USING fts5(caption, tokenize = 'trigram')")

    def _insert(self, texts: list[str]) -> None:
        self.conn.executemany("INSERT INTO t(rowid, caption) VALUES (?, ?)", ((i, fold(t)) for i, t in enumerate(texts, 1)))

    def search(self, query: str) -> list[int]:
        if len(query) >= 3:
            phrase = '"' + query.replace('"', '""') + '"'
            return [r[0] for r in self.conn.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rank", (phrase,))]
        if not self.like_fallback:
            return []  # a trigram index has no entry shorter than three characters
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return [r[0] for r in self.conn.execute("SELECT rowid FROM t WHERE caption LIKE ? ESCAPE '\\'", (f"%{escaped}%",))]


class Jieba(Method):
    def __init__(self, path: Path, jieba) -> None:  # noqa: ANN001
        super().__init__("jieba cut_for_search into unicode61", path)
        self.jieba = jieba
        self.conn.execute("CREATE VIRTUAL TABLE j USING fts5(caption, tokenize = 'unicode61')")

    def _tokens(self, text: str) -> str:
        return " ".join(w for w in self.jieba.cut_for_search(fold(text)) if w.strip() and w != "_")

    def _insert(self, texts: list[str]) -> None:
        self.conn.executemany("INSERT INTO j(rowid, caption) VALUES (?, ?)", ((i, self._tokens(t)) for i, t in enumerate(texts, 1)))

    def search(self, query: str) -> list[int]:
        tokens = self._tokens(query).split()
        if not tokens:
            return []
        match = " AND ".join('"' + t.replace('"', '""') + '"' for t in tokens)
        return [r[0] for r in self.conn.execute("SELECT rowid FROM j WHERE j MATCH ? ORDER BY rank", (match,))]


def measure(method: Method, texts: list[str], by_length: dict[int, list[str]]) -> dict[str, object]:
    build = method.build(texts)
    size = method.size_mib()
    row: dict[str, object] = {"method": method.name, "build_s": build, "size_mib": size}
    times: list[float] = []
    for length, qs in by_length.items():
        recalls, precisions = [], []
        for query in qs:
            truth = {i for i, t in enumerate(texts, start=1) if query in fold(t)}
            started = time.perf_counter()
            found = method.search(query)
            times.append(time.perf_counter() - started)
            recalls.append(len(truth & set(found)) / len(truth) if truth else 1.0)
            top = found[: min(10, len(truth))]
            precisions.append(sum(1 for f in top if f in truth) / len(top) if top else 0.0)
        row[f"R {length}"] = statistics.mean(recalls)
        row[f"P@10 {length}"] = statistics.mean(precisions)
    row["p50_ms"] = statistics.median(times) * 1000
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=25, help="queries per length")
    args = parser.parse_args(argv)
    texts = corpus(args.docs)
    by_length = queries(texts, args.queries)
    with tempfile.TemporaryDirectory() as work:
        methods: list[Method] = [
            Bigrams(Path(work, "bigrams.db")),
            Trigram(Path(work, "trigram.db"), like_fallback=False),
            Trigram(Path(work, "trigram-like.db"), like_fallback=True),
        ]
        try:
            import jieba

            jieba.setLogLevel(60)
            jieba.initialize()
            methods.append(Jieba(Path(work, "jieba.db"), jieba))
        except ImportError:
            print("(jieba not installed: pip install jieba for its row)")
        rows = [measure(m, texts, by_length) for m in methods]
    print(f"\n{args.docs} Chinese captions/names, {args.queries} queries per length (1-4 characters)\n")
    columns = ["R 1", "R 2", "R 3", "R 4", "P@10 1", "P@10 2", "P@10 3", "P@10 4"]
    print("| method | " + " | ".join(columns) + " | index MiB | build s | query p50 ms |")
    print("| --- |" + " ---: |" * (len(columns) + 3))
    for row in rows:
        cells = " | ".join(f"{row[c]:.2f}" for c in columns)
        print(f"| {row['method']} | {cells} | {row['size_mib']:.1f} | {row['build_s']:.1f} | {row['p50_ms']:.1f} |")


if __name__ == "__main__":
    main()
