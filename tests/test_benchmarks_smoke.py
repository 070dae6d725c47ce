"""The benchmark harness's own logic, without running any benchmark: no timings are asserted here."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import indexing, photos, query_ours, run  # noqa: E402
from benchmarks.common import percentile  # noqa: E402


def _load_peer_query_module():
    spec = importlib.util.spec_from_file_location("rclip_query", REPO / "benchmarks" / "peer" / "rclip_query.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_percentile_matches_numpy() -> None:
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_both_tools_query_the_same_synthetic_vectors() -> None:
    peer = _load_peer_query_module()
    ours, theirs = query_ours.synthetic_vectors(1000), peer.synthetic_vectors(1000)
    assert ours.dtype == np.float32 and ours.shape == (1000, 512)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    assert query_ours.queries(20) == peer.queries(20)
    assert len(set(query_ours.queries(20))) == 20  # distinct: the text cache must never answer


def test_photo_set_is_distinct_even_from_flat_sources(tmp_path: Path) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    Image.new("RGB", (800, 600), (30, 90, 200)).save(sources / "flat.png")  # crops of it would all be equal
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (700, 900, 3), dtype=np.uint8)).save(sources / "noise.jpg")
    out = photos.make_set(tmp_path / "set", 5, sources)
    files = sorted(out.glob("*.jpg"))
    assert len(files) == 5
    assert len({hashlib.md5(f.read_bytes()).hexdigest() for f in files}) == 5
    sizes = [Image.open(f).size for f in files]
    assert sizes[0] == photos.SIZE and sizes[3] == photos.SIZE[::-1]  # every 4th is portrait
    assert photos.make_set(tmp_path / "set", 5, sources) == out  # kept, not rebuilt


def test_subset_folder_links_the_first_photos(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        (folder / f"photo_{i:05d}.jpg").write_bytes(bytes([i]) * 10)
    subset = indexing.subset_folder(folder, 2)
    assert sorted(p.name for p in subset.iterdir()) == ["photo_00000.jpg", "photo_00001.jpg"]
    assert (subset / "photo_00001.jpg").stat().st_ino == (folder / "photo_00001.jpg").stat().st_ino


def _tool(steady: float, e2e: float, cpu: float) -> dict:
    return {"steady_img_s": steady, "end_to_end_img_s": e2e, "steady_cpu_s_per_img": cpu, "startup_s": 9.0}


def test_table_prints_ratios() -> None:
    query = {"p50_ms": 40.0, "p95_ms": 45.0, "encode_p50_ms": 30.0, "rank_p50_ms": 9.0, "index_rss_mib": 110.0, "matrix_mib": 195.3, "float16_mib": 97.7}
    peer_query = {"p50_ms": 400.0, "p95_ms": 500.0, "encode_p50_ms": 50.0, "load_vectors_p50_ms": 300.0, "rank_in_memory_p50_ms": 50.0, "matrix_mib": 195.3}
    results = {
        "indexing": {
            "photos": 192,
            "subset": 48,
            "rounds": 3,
            "foreign_cpu_max": 0.02,
            "tools": {
                "xmr ViT-B/32-256": _tool(14.0, 9.0, 0.14),
                "xmr ViT-B/32-224": _tool(16.0, 10.0, 0.12),
                "rclip ViT-B-32-256": _tool(7.0, 6.0, 0.28),
            },
        },
        "query": {"ours": {100000: query}, "rclip": {100000: peer_query}},
        "rescan": {"files": 100000, "xmr_index_s": 5.0, "xmr_scan_only_s": 1.5, "rclip_s": 10.0},
        "coldstart": {"xmr_search_s": 8.0, "rclip_search_s": 2.0, "window": {"pending": "no app yet"}},
    }
    text = run.table(results)
    assert "2.00× (xmr/rclip)" in text  # 14 / 7 steady-state images per second
    assert "10.0× (rclip p50 / xmr p50)" in text
    assert "1.13× float16 size" in text
    assert "pending: no app yet" in text
    assert len({len(line) for line in text.splitlines()}) == 1  # an aligned Markdown table


def test_decode_memory_bombs_are_what_they_claim(tmp_path: Path) -> None:
    """The size-bomb folder of benchmarks.decode_memory, with small 'near cap' images: each file is refused or
    decoded as the benchmark expects, and the aspect-ratio bombs are tiny on disk."""
    from benchmarks import decode_memory
    from xmr_desktop.engine.preprocess import ImageRejected, ImageSpec, load_for_embedding

    files = {path.name: path for path in decode_memory.make_bombs(tmp_path, near_cap_side=300)}
    assert files["aspect_1x100000.png"].stat().st_size < 2000
    with Image.open(files["aspect_100000x1.png"]) as image:
        assert image.size == (100_000, 1)
    for name in ("aspect_1x12000.png", "near_cap_palette.png", "near_cap_rgb.png", "near_cap.jpg"):
        assert load_for_embedding(str(files[name]), ImageSpec()).pixels is not None
    with pytest.raises(ImageRejected, match="too large"):
        load_for_embedding(str(files["over_cap.png"]), ImageSpec())
    with pytest.raises(ImageRejected, match="EPS"):
        load_for_embedding(str(files["holiday.jpg"]), ImageSpec())
