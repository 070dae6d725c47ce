"""Prepare everything the benchmark needs under ``benchmarks/.work`` (idempotent; each step is skipped when done).

1. rclip 3.3.0 in its own venv (``.work/rclip-venv``), never in the project's: torch 2.13.0 first (the CPU wheel;
   any other version pulls a multi-GB CUDA build), torchvision 0.28.0 without dependencies, then rclip,
   open_clip_torch, onnx and onnxscript under ``peer/constraints.txt`` so torch stays put.
2. rclip's model files: random-weight OpenCLIP ViT-B-32-256 towers exported to ONNX (``peer/export_rclip_models.py``).
3. Our models: random-weight TF CLIPs, ViT-B/32 at 256 px and 224 px (``make_models.py``).
4. Their LiteRT exports (float32 and int8 image towers) into ``.work/litert-models``, by the app's own
   ``ensure_litert``, in a subprocess (the one TensorFlow import of a benchmark run); each xmr data dir of the
   run links to them (``common.fresh_xmr_datadir``).
5. Photos: ``../shared/data/get-photos`` enlarged to N distinct 4 MP JPEGs (``photos.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks import photos
from benchmarks.common import BENCH_VENV, LITERT_MODELS, MODELS, PROJECT_PYTHON, RCLIP_DATA, RCLIP_MODEL_SUBDIR, RCLIP_VENV, RCLIP_VOCAB, REPO, WORK

PEER = REPO / "benchmarks" / "peer"


def _run(command: list[str], log: Path) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {result.returncode}); see {log}")


def _base_python() -> str:
    """A Python of the same version as the project's, outside any venv (for new venvs)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def ensure_rclip(log: Path, say=print) -> None:
    pip = [str(RCLIP_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if not (RCLIP_VENV / "bin" / "rclip").exists():
        say("setup: installing rclip 3.3.0 into its own venv (benchmarks/.work/rclip-venv)")
        _run([_base_python(), "-m", "venv", str(RCLIP_VENV)], log)
        constraints = str(PEER / "constraints.txt")
        _run(pip + ["torch==2.13.0"], log)
        _run(pip + ["--no-deps", "torchvision==0.28.0"], log)
        _run(pip + ["-c", constraints, "rclip==3.3.0", "open_clip_torch", "onnx", "onnxscript"], log)
    if not (RCLIP_DATA / RCLIP_MODEL_SUBDIR / "textual.onnx").is_file() or not RCLIP_VOCAB.is_file():
        say("setup: exporting random-weight OpenCLIP ViT-B-32-256 to ONNX for rclip")
        _run([str(RCLIP_VENV / "bin" / "python"), str(PEER / "export_rclip_models.py"), str(RCLIP_DATA)], log)


def ensure_models(log: Path, say=print) -> None:
    if all((MODELS / name / "benchmark_model.json").is_file() for name in ("vit-b-32-256", "vit-b-32-224")):
        return
    say("setup: writing random-weight TF CLIP models (ViT-B/32 at 256 and 224 px)")
    _run([str(PROJECT_PYTHON), "-m", "benchmarks.make_models", str(MODELS), "--vocab", str(RCLIP_VOCAB)], log)


LITERT_PRECISIONS = ("float32", "int8")
_EXPORT = """
import sys, time
from pathlib import Path
from xmr_desktop.engine.litert_export import ensure_litert
started = time.monotonic()
files = ensure_litert(Path(sys.argv[1]), Path(sys.argv[2]), precision=sys.argv[3])
if files is None:
    sys.exit("the LiteRT export was rejected or failed; see the log above")
print(f"{sys.argv[1]} {sys.argv[3]}: {time.monotonic() - started:.0f} s, cosine to TF {files.image_cosine:.6f}")
"""


def ensure_litert_exports(log: Path, say=print) -> None:
    """Export both models' towers to LiteRT once (minutes per model on 2 cores; nothing when done)."""
    from xmr_desktop.engine.litert_files import find_litert

    for name in ("vit-b-32-256", "vit-b-32-224"):
        for precision in LITERT_PRECISIONS:
            if find_litert(MODELS / name, LITERT_MODELS, precision) is None:
                say(f"setup: exporting {name} to LiteRT ({precision}; once, a few minutes)")
                _run([str(PROJECT_PYTHON), "-c", _EXPORT, str(MODELS / name), str(LITERT_MODELS), precision], log)


def ensure_photos(count: int, say=print) -> Path:
    target = WORK / f"photos-{count}"
    if not (target / ".complete").is_file():
        say(f"setup: making {count} distinct 4 MP JPEGs from ../shared/data/get-photos")
    return photos.make_set(target, count, WORK / "photos-src")


def ensure_bench_venv(log: Path, say=print) -> Path:
    """numpy + faiss-cpu for the search micro-benchmark, outside the project's dependencies."""
    python = BENCH_VENV / "bin" / "python"
    check = subprocess.run([str(python), "-c", "import faiss, numpy"], capture_output=True) if python.exists() else None
    if check is None or check.returncode != 0:
        say("setup: installing numpy + faiss-cpu into benchmarks/.work/bench-venv")
        _run([_base_python(), "-m", "venv", str(BENCH_VENV)], log)
        _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "numpy", "faiss-cpu"], log)
    return python


def prepare(photo_count: int, log: Path, say=print) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_rclip(log, say)
    ensure_models(log, say)
    ensure_litert_exports(log, say)
    return ensure_photos(photo_count, say)
