"""The viewer benchmark's own logic (no timings asserted): gap and busy figures, the generated photos."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import viewer  # noqa: E402


def test_gaps_separate_waiting_for_a_core_from_work_on_the_gui_thread() -> None:
    # (wall, GUI-thread CPU) per tick: a 100 ms gap with 2 ms of work, then a 60 ms gap that was all work.
    ticks = [(0.000, 0.000), (0.005, 0.001), (0.105, 0.003), (0.165, 0.063), (0.170, 0.064)]
    figures = viewer._gaps(ticks)
    assert figures["max_gap_ms"] == 100.0 and figures["max_busy_ms"] == 60.0
    assert figures["gaps_over_50ms"] == 2 and figures["seconds"] == 0.17


def test_generated_photos_are_distinct_jpegs_of_the_asked_size(tmp_path: Path) -> None:
    folder = viewer.make_photos(tmp_path / "set", 3, (320, 200), (235, 40, 30), 1)
    files = sorted(folder.glob("*.jpg"))
    assert len(files) == 3 and {Image.open(f).size for f in files} == {(320, 200)}
    assert len({hashlib.md5(f.read_bytes()).hexdigest() for f in files}) == 3
    red = Image.open(files[0]).convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert red[0] > red[2]  # tinted as asked: "something red" ranks the browse set first
    assert viewer.make_photos(tmp_path / "set", 3, (320, 200), (235, 40, 30), 1) == folder  # kept, not rebuilt


def test_the_summary_takes_medians_per_variant_and_phase() -> None:
    run = {"max_busy_ms": 10.0, "p99_busy_ms": 5.0, "max_gap_ms": 50.0, "p99_gap_ms": 20.0, "gaps_over_50ms": 1,
           "seconds": 10.0, "gui_cpu_s": 0.5, "embedded_meanwhile": 30}
    runs = {
        "idle": [{"ticks": run}],
        "viewer": [{"held": run}, {"held": {**run, "max_busy_ms": 30.0}}, {"one_by_one": {**run, "latency_p50_ms": 100.0, "latency_p95_ms": 200.0}}],
    }
    summary = viewer.summarise(runs)
    assert summary["viewer held"]["max_busy_ms"] == 20.0
    assert summary["viewer one_by_one"]["latency_p50_ms"] == 100.0
    table = viewer.format_summary(summary)
    assert "| viewer held | 20.0 / 5.0 |" in table and "100.0 / 200.0" in table
