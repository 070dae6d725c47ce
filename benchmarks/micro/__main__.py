"""``python -m benchmarks.micro``: the micro-benchmarks behind the recommended core changes (~10 min).

1. decode ahead of TF inference: threads vs processes (``decode_pool.py``);
2. TF towers: ``tf.function`` vs XLA at image batch 8/16/32, text query encode, padding length (``tf_towers.py``),
   next to rclip's ONNX Runtime image tower (``peer/ort_tower.py``), and oneDNN's bfloat16 rewrite (``bf16_tower.py``);
3. top-50 search over 1M×512: numpy float32 vs faiss-cpu, memory (``search_backends.py``, in its own venv);
4. cold start of a search: where the seconds go, and a text-tower SavedModel instead (``cold_start.py``);
5. duplicates: model calls spent on byte-identical copies (``duplicates.py``, counts only).

Each prints a readable summary and a JSON line; everything is also appended to ``benchmarks/.work/micro.log``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from benchmarks import setup
from benchmarks.common import MODELS, PROJECT_PYTHON, RCLIP_DATA, RCLIP_PYTHON, REPO, WORK, machine, wait_for_quiet


def _run(command: list[str]) -> None:
    wait_for_quiet()
    print(f"$ {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    with open(WORK / "micro.log", "a") as log:
        log.write(f"$ {' '.join(command)}\n{result.stdout}\n")
    print("\n".join(line for line in result.stdout.splitlines() if not line.startswith("{")), flush=True)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.micro", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("decode", "towers", "search", "cold", "duplicates"), action="append")
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors for the search benchmark")
    args = parser.parse_args()
    only = args.only or ["decode", "towers", "search", "cold", "duplicates"]
    log = WORK / "bench.log"
    photos = setup.prepare(192, log)
    print(f"machine: {machine()}", flush=True)
    if "decode" in only:
        _run([str(PROJECT_PYTHON), "-m", "benchmarks.micro.decode_pool", str(photos), str(MODELS / "vit-b-32-256")])
    if "towers" in only:
        for name in ("vit-b-32-256", "vit-b-32-224"):
            _run([str(PROJECT_PYTHON), "-m", "benchmarks.micro.tf_towers", str(MODELS / name)])
        _run([str(RCLIP_PYTHON), str(REPO / "benchmarks" / "peer" / "ort_tower.py"), str(RCLIP_DATA)])
        _run([str(PROJECT_PYTHON), "-m", "benchmarks.micro.bf16_tower", str(MODELS / "vit-b-32-256"), str(photos)])
    if "search" in only:
        python = setup.ensure_bench_venv(log)
        _run([str(python), str(REPO / "benchmarks" / "micro" / "search_backends.py"), "--n", str(args.n)])
    if "duplicates" in only:
        _run([str(PROJECT_PYTHON), "-m", "benchmarks.micro.duplicates"])
    if "cold" in only:
        _run([str(PROJECT_PYTHON), "-m", "benchmarks.micro.cold_start", str(MODELS / "vit-b-32-256")])
    db = WORK / "query-db" / "xmr-1000000" / "index.db"
    if "search" in only and db.is_file():
        # The 1M store from `python -m benchmarks --only query`; its model id is the 256-px model's.
        model_id = subprocess.run(
            [str(PROJECT_PYTHON), "-c", "import sys; from pathlib import Path; from xmr_desktop.engine.loading import read_model_id; print(read_model_id(Path(sys.argv[1])))", str(MODELS / "vit-b-32-256")],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        for backend in ("faiss-sq-fp16", "numpy-f16"):
            _run([str(setup.ensure_bench_venv(log)), str(REPO / "benchmarks" / "micro" / "lean_index.py"), str(db), model_id, "--backend", backend])


if __name__ == "__main__":
    sys.exit(main())
