"""xmr vs rclip, side by side: prepare everything, measure, print one table with ratios.

    .venv/bin/python -m benchmarks            # full run (~30 min on 2 cores after the first set-up)
    .venv/bin/python -m benchmarks --quick    # smaller run (~8 min): 48 photos, 1 round, 10k/100k, 10k-file rescan

xmr runs on LiteRT (its CPU runtime), from exports setup prepares once; ``--with-tensorflow`` adds a TensorFlow
indexing row.

Sections: indexing (vs rclip, interleaved, fresh index each run), query latency at 10k/100k/1M synthetic vectors,
unchanged rescan, cold start. Results also go to ``benchmarks/.work/results-*.json`` and ``.md``; the logs of
every command to ``benchmarks/.work/bench.log``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import coldstart, indexing, rescan, setup
from benchmarks.common import MODELS, PROJECT_PYTHON, RCLIP_DATA, RCLIP_PYTHON, WORK, ForeignLoad, machine, run_json, wait_for_quiet

SECTIONS = ("indexing", "query", "rescan", "coldstart")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def query_section(sizes: list[int], queries: int, log: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"ours": {}, "rclip": {}}
    foreign = []
    model = MODELS / "vit-b-32-256"
    for n in sizes:
        # rclip re-reads every vector per query: seconds at 1M, so fewer repetitions there.
        rclip_queries = max(5, queries // 3) if n >= 1_000_000 else queries
        wait_for_quiet()
        with ForeignLoad() as load:
            ours = run_json([str(PROJECT_PYTHON), "-m", "benchmarks.query_ours", str(model), str(n), "--queries", str(queries)], log=log)
        foreign.append(load.share)
        wait_for_quiet()
        with ForeignLoad() as load:
            theirs = run_json(
                [str(RCLIP_PYTHON), str(setup.PEER / "rclip_query.py"), str(n), "--queries", str(rclip_queries)],
                env={"RCLIP_DATADIR": str(RCLIP_DATA), "HF_HUB_OFFLINE": "1"},
                log=log,
            )
        foreign.append(load.share)
        results["ours"][n], results["rclip"][n] = ours, theirs
        _say(
            f"  query {n:>9,}: xmr p50 {ours['p50_ms']:.0f} ms p95 {ours['p95_ms']:.0f} ms | "
            f"rclip p50 {theirs['p50_ms']:.0f} ms (in-memory {theirs['in_memory_p50_ms']:.0f} ms)"
        )
    results["foreign_cpu_max"] = max(foreign)
    return results


def _f(value: float, digits: int = 1) -> str:
    return "—" if value != value else f"{value:,.{digits}f}"


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    if "indexing" in results:
        ix = results["indexing"]
        peer = ix["tools"][indexing.PEER]
        ours_names = [name for name in ix["tools"] if name != indexing.PEER]
        for name in ours_names:
            ours = ix["tools"][name]
            arch = "same arch as rclip" if "256" in name else "our default arch vs rclip's"
            label = name[4:]
            rows.append(
                (
                    f"Indexing, steady state, img/s ({label}, {arch})",
                    _f(ours["steady_img_s"]),
                    _f(peer["steady_img_s"]),
                    f"{ours['steady_img_s'] / peer['steady_img_s']:.2f}× (xmr/rclip)",
                )
            )
            rows.append(
                (
                    f"Indexing, end to end, img/s ({label}; {ix['photos']} photos incl. start-up)",
                    _f(ours["end_to_end_img_s"]),
                    _f(peer["end_to_end_img_s"]),
                    f"{ours['end_to_end_img_s'] / peer['end_to_end_img_s']:.2f}× (xmr/rclip)",
                )
            )
        for name in ours_names:
            ours = ix["tools"][name]
            rows.append(
                (
                    f"Indexing, CPU-seconds per image, steady ({name[4:]}; lower is better)",
                    _f(ours["steady_cpu_s_per_img"], 3),
                    _f(peer["steady_cpu_s_per_img"], 3),
                    f"{peer['steady_cpu_s_per_img'] / ours['steady_cpu_s_per_img']:.2f}× less CPU",
                )
            )
        for name in ours_names:
            rows.append(
                (
                    f"Indexing start-up + model load, s (intercept; {name[4:]})",
                    _f(ix["tools"][name]["startup_s"]),
                    _f(peer["startup_s"]),
                    "",
                )
            )
        for name in ours_names:
            ours = ix["tools"][name]
            if "peak_rss_mib" in ours:
                rows.append(
                    (
                        f"Memory, peak resident while indexing {ix['photos']} photos, MiB ({name[4:]})",
                        _f(ours["peak_rss_mib"], 0),
                        _f(peer["peak_rss_mib"], 0),
                        f"{ours['peak_rss_mib'] / peer['peak_rss_mib']:.2f}× (xmr/rclip)",
                    )
                )
    if "query" in results:
        q = results["query"]
        for n in sorted(q["ours"], key=int):
            ours, theirs = q["ours"][n], q["rclip"][n]
            rows.append(
                (
                    f"Query → top-50 at {int(n):,} vectors, p50 / p95 ms (incl. text encoding)",
                    f"{_f(ours['p50_ms'], 0)} / {_f(ours['p95_ms'], 0)}",
                    f"{_f(theirs['p50_ms'], 0)} / {_f(theirs['p95_ms'], 0)}",
                    f"{theirs['p50_ms'] / ours['p50_ms']:.1f}× (rclip p50 / xmr p50)",
                )
            )
            rows.append(
                (
                    f"  parts at {int(n):,}: text encode / rank (rclip: encode / load / rank) ms",
                    f"{_f(ours['encode_p50_ms'], 0)} / {_f(ours['rank_p50_ms'], 1)}",
                    f"{_f(theirs['encode_p50_ms'], 0)} / {_f(theirs['load_vectors_p50_ms'], 0)} / {_f(theirs['rank_in_memory_p50_ms'], 0)}",
                    "",
                )
            )
            if "search_after_batch_p50_ms" in ours:
                rows.append(
                    (
                        f"  at {int(n):,}: query right after a 16-photo indexing batch, p50 ms (rclip: every query)",
                        _f(ours["search_after_batch_p50_ms"], 0),
                        _f(theirs["p50_ms"], 0),
                        "",
                    )
                )
            rows.append(
                (
                    f"  memory at {int(n):,}: index in RAM MiB (float16 size {ours['float16_mib']:.0f})",
                    f"{_f(ours['index_rss_mib'], 0)} (matrix {_f(ours['matrix_mib'], 0)})",
                    f"{_f(theirs['matrix_mib'], 0)} (matrix, per query)",
                    f"{ours['index_rss_mib'] / ours['float16_mib']:.2f}× float16 size",
                )
            )
    if "rescan" in results:
        r = results["rescan"]
        rows.append(
            (
                f"Unchanged rescan of {r['files']:,} files, s (`xmr index` / `rclip` incl. its query)",
                _f(r["xmr_index_s"]),
                _f(r["rclip_s"]),
                f"{r['rclip_s'] / r['xmr_index_s']:.2f}× (rclip time / xmr time)",
            )
        )
        rows.append(("  of which the scan itself (in-process, no model), s", _f(r["xmr_scan_only_s"], 2), "", ""))
    if "coldstart" in results:
        c = results["coldstart"]
        rows.append(
            (
                "Cold start → first answer, s (`xmr search` / `rclip --no-indexing`)",
                _f(c["xmr_search_s"], 2),
                _f(c["rclip_search_s"], 2),
                f"{c['xmr_search_s'] / c['rclip_search_s']:.2f}× rclip's time",
            )
        )
        if "xmr_search_cpu_s" in c:
            rows.append(
                (
                    "  CPU-seconds of that cold search (contention-proof)",
                    _f(c["xmr_search_cpu_s"], 2),
                    _f(c["rclip_search_cpu_s"], 2),
                    f"{c['xmr_search_cpu_s'] / c['rclip_search_cpu_s']:.2f}× rclip's",
                )
            )
            rows.append(
                (
                    "  memory: peak resident of that cold search, MiB",
                    _f(c["xmr_search_peak_rss_mib"], 0),
                    _f(c["rclip_search_peak_rss_mib"], 0),
                    f"{c['xmr_search_peak_rss_mib'] / c['rclip_search_peak_rss_mib']:.2f}× (xmr/rclip)",
                )
            )
        window = c.get("window", {})
        rows.append(
            (
                "Cold start → desktop window on screen, s",
                _f(window["window_s"], 2) if "window_s" in window else f"pending: {window.get('pending', 'not run')}",
                "(no GUI)",
                "",
            )
        )
    head = ("measure", "xmr", "rclip 3.3.0", "ratio")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run (~8 min): 48 photos, 1 round, no 1M, 10k-file rescan")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)")
    parser.add_argument("--photos", type=int, help="photos to index (default 200, quick 48)")
    parser.add_argument("--rounds", type=int, help="interleaved indexing rounds (default 3, quick 1)")
    parser.add_argument("--with-tensorflow", action="store_true", help="add an indexing row for xmr on TensorFlow")
    args = parser.parse_args(argv)
    quick = args.quick
    photo_count = args.photos or (48 if quick else 200)
    rounds = args.rounds or (1 if quick else 3)
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    queries = 10 if quick else 30
    rescan_files = 10_000 if quick else 100_000
    repeats = 1 if quick else 3
    sections = args.only or list(SECTIONS)

    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "bench.log"
    started = time.time()
    photos = setup.prepare(photo_count, log, _say)
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {"machine": machine(), "command": command.strip(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    _say(f"machine: {results['machine']}  (log: {log})")
    if "indexing" in sections:
        _say(f"indexing {photo_count} photos, {rounds} round(s)…")
        results["indexing"] = indexing.run(photos, rounds, log, _say, with_tensorflow=args.with_tensorflow)
    if "query" in sections:
        _say(f"query latency at {', '.join(f'{n:,}' for n in sizes)} vectors…")
        results["query"] = query_section(sizes, queries, log)
    if "rescan" in sections:
        _say(f"unchanged rescan of {rescan_files:,} files…")
        results["rescan"] = rescan.run(rescan_files, MODELS / "vit-b-32-256", repeats, log, _say)
    if "coldstart" in sections:
        _say("cold start…")
        small = indexing.subset_folder(photos, max(1, photo_count // 4))
        # Cold searches take about a second each and vary more than the rest: more of them.
        results["coldstart"] = coldstart.first_answer(small, MODELS / "vit-b-32-256", 2 if quick else 5, log, _say)
        results["coldstart"]["window"] = coldstart.time_to_window(MODELS / "vit-b-32-256", repeats, log)
    results["elapsed_s"] = time.time() - started

    m = results["machine"]
    text = table(results)
    header = (
        f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory_gib']} GiB RAM, {m['os']}, Python {m['python']}\n"
        f"Command: {results['command']}   ({results['elapsed_s'] / 60:.0f} min)\n"
    )
    notes = []
    if "indexing" in results:
        ix = results["indexing"]
        notes.append(
            f"Indexing: {ix['photos']} distinct 4 MP JPEGs (steady state from {ix['photos']} vs {ix['subset']} photos), "
            f"median of {ix['rounds']} interleaved round(s)."
        )
    if "query" in results:
        notes.append(
            f"Query: {queries} distinct queries per size (rclip: fewer at 1M), warm; xmr = app path (vectors held in memory); "
            "rclip = its RClip.search, which re-reads all vectors from SQLite every query."
        )
    noise = ", ".join(f"{name} ≤{results[name]['foreign_cpu_max']:.0%}" for name in SECTIONS if name in results)
    notes.append(
        f"Noise: CPU used by other processes during the timed runs (share of the whole machine): {noise}. "
        "Above ~5% the wall-clock figures are inflated; CPU-seconds per image are not."
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (WORK / f"results-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    (WORK / f"results-{stamp}.md").write_text(header + "\n" + text + "\n\n" + "\n".join(notes) + "\n")
    print(header)
    print(text)
    print()
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
