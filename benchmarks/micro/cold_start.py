"""Where ``xmr search``'s cold start goes, and what a text-tower SavedModel would save.

Each phase runs in a fresh process (``--phase``) so imports are really cold (page cache warm):

* ``current``: import TensorFlow (+ tf_keras, transformers) through ``tf_runtime.tensorflow()``, build and load the
  model with ``load_embedder`` (``TFCLIPModel.from_pretrained`` on ``tf_model.h5``), first ``embed_texts`` (traces).
* ``savedmodel``: import TensorFlow only, ``tf.saved_model.load`` of the text tower alone (a ``[1, 77]`` int32
  signature exported once next to the model, e.g. at download/conversion time), first call. Tokenising needs the
  ``tokenizers`` package only (``Tokenizer.from_file``), not transformers.

Usage: python -m benchmarks.micro.cold_start MODEL_DIR [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import REPO, WORK, machine, median

QUERY = "children playing on a red slide"


def phase_current(model: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    from xmr_desktop.engine.tf_runtime import tensorflow

    tensorflow()
    t1 = time.perf_counter()
    from xmr_desktop.engine.embedder import load_embedder

    embedder = load_embedder(str(model), Path("/nonexistent-models-dir"))
    t2 = time.perf_counter()
    embedder.embed_texts([QUERY])
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "load_model_s": t2 - t1, "first_encode_s": t3 - t2, "total_s": t3 - t0}


def export_text_savedmodel(model: Path, target: Path) -> None:
    from xmr_desktop.engine.loading import load_clip
    from xmr_desktop.engine.tf_runtime import tensorflow

    tf = tensorflow()
    clip, _, _ = load_clip(model)
    length = int(clip.config.text_config.max_position_embeddings)

    class TextTower(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        @tf.function(input_signature=[tf.TensorSpec([1, length], tf.int32)] * 2)
        def encode(self, ids, mask):
            return self.clip.get_text_features(input_ids=ids, attention_mask=mask)

    tf.saved_model.save(TextTower(), str(target))


def phase_savedmodel(model: Path, saved: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf
    from tokenizers import Tokenizer

    t1 = time.perf_counter()
    tower = tf.saved_model.load(str(saved))
    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    t2 = time.perf_counter()
    ids = tokenizer.encode(QUERY).ids[:77]  # tokenizer.json adds <|startoftext|> ... <|endoftext|>
    padded = np.array([ids + [ids[-1]] * (77 - len(ids))], np.int32)  # CLIP pads with <|endoftext|>
    mask = np.array([[1] * len(ids) + [0] * (77 - len(ids))], np.int32)
    tower.encode(tf.constant(padded), tf.constant(mask)).numpy()
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "load_model_s": t2 - t1, "first_encode_s": t3 - t2, "total_s": t3 - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--phase", choices=("current", "savedmodel", "export"))
    args = parser.parse_args()
    saved = WORK / "text-savedmodel" / args.model.name
    if args.phase == "current":
        print(json.dumps(phase_current(args.model)))
        return
    if args.phase == "savedmodel":
        print(json.dumps(phase_savedmodel(args.model, saved)))
        return
    if args.phase == "export":
        export_text_savedmodel(args.model, saved)
        return
    if not (saved / "saved_model.pb").is_file():
        subprocess.run([sys.executable, "-m", "benchmarks.micro.cold_start", str(args.model), "--phase", "export"], cwd=REPO, check=True)
    runs: dict[str, list[dict[str, float]]] = {"current": [], "savedmodel": []}
    for _ in range(args.repeats):
        for phase in runs:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.micro.cold_start", str(args.model), "--phase", phase],
                cwd=REPO, capture_output=True, text=True, check=True,
            )
            runs[phase].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {phase: {key: median([r[key] for r in rs]) for key in rs[0]} for phase, rs in runs.items()}
    for phase, parts in summary.items():
        print(f"{phase:10}: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    print(json.dumps({"machine": machine(), "repeats": args.repeats, "phases": summary}))


if __name__ == "__main__":
    main()
