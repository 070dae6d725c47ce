"""rclip's image tower alone: ONNX Runtime on the exported ViT-B-32-256, batch 8/16/32 (runs in the rclip venv).

The same session options rclip uses (intra-op threads = cores, CPU provider). Interleaved rounds; wall and
process CPU per image, to put next to ``benchmarks/micro/tf_towers.py``.

Usage: python ort_tower.py RCLIP_DATADIR [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datadir", type=Path)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    import os

    os.environ["RCLIP_DATADIR"] = str(args.datadir)
    from rclip import model_download

    session = model_download.load_visual_query_session()
    rng = np.random.default_rng(0)
    batches = {b: rng.standard_normal((b, 3, 256, 256)).astype(np.float32) for b in (8, 16, 32)}
    for x in batches.values():
        session.run(None, {"input": x})
    walls: dict[int, list[float]] = {b: [] for b in batches}
    cpus: dict[int, list[float]] = {b: [] for b in batches}
    for _ in range(args.repeats):
        for b, x in batches.items():
            c0, t0 = time.process_time(), time.perf_counter()
            session.run(None, {"input": x})
            walls[b].append(time.perf_counter() - t0)
            cpus[b].append(time.process_time() - c0)
    result = {}
    for b in batches:
        wall, cpu = float(np.median(walls[b])), float(np.median(cpus[b]))
        result[b] = {"img_s": b / wall, "cpu_ms_per_img": 1000 * cpu / b}
        print(f"onnxruntime image tower batch {b:2}: {b / wall:5.1f} img/s, {1000 * cpu / b:5.0f} CPU-ms/img", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
