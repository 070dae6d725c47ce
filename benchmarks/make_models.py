"""Random-weight TF CLIP model folders with the architectures the benchmark compares.

Runs in the project venv. Each folder is what ``xmr --model DIR`` loads: ``tf_model.h5`` + ``config.json``
(``TFCLIPModel(CLIPConfig(...))``, ``build_in_name_scope()``, ``save_pretrained``), a CLIP BPE tokenizer and a
``preprocessor_config.json`` (``CLIPImageProcessor``, bicubic resize + centre crop).

The tokenizer is the real CLIP vocabulary (49,408 tokens), rebuilt from the ``bpe_simple_vocab_16e6.txt.gz`` that
rclip's model folder holds (open_clip ships the same file), so both tools tokenise queries identically and the
text towers have the same embedding table. Without that file a small BPE is trained with ``tokenizers``.

Usage: python -m benchmarks.make_models OUT_DIR [--vocab bpe_simple_vocab_16e6.txt.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# name -> vision (image size); both are ViT-B/32 with OpenCLIP's text tower (width 512, 8 heads, 12 layers).
ARCHITECTURES = {
    "vit-b-32-256": 256,  # rclip's ViT-B-32-256 (datacomp_s34b_b86k)
    "vit-b-32-224": 224,  # our default model's architecture (datacomp-b32)
}
CONTEXT_LENGTH = 77
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def clip_config(image_size: int, vocab_size: int):
    from transformers import CLIPConfig

    text = dict(
        vocab_size=vocab_size,
        hidden_size=512,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=8,
        max_position_embeddings=CONTEXT_LENGTH,
        hidden_act="gelu",  # LAION/DataComp models use GELU (OpenAI's used quick_gelu)
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )
    vision = dict(
        image_size=image_size,
        patch_size=32,
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        hidden_act="gelu",
    )
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=512)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return dict(zip(bs, map(chr, cs)))


def write_clip_tokenizer(vocab_gz: Path, out_dir: Path) -> None:
    """vocab.json + merges.txt exactly as OpenAI's CLIP tokenizer builds them from the BPE merges file."""
    from transformers import CLIPTokenizer, CLIPTokenizerFast

    merges = gzip.open(vocab_gz).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    pairs = [tuple(m.split()) for m in merges]
    vocab = list(_bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(p) for p in pairs]
    vocab += [BOS, EOS]
    (out_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(p) for p in pairs) + "\n", encoding="utf-8")
    slow = CLIPTokenizer(str(out_dir / "vocab.json"), str(out_dir / "merges.txt"), model_max_length=CONTEXT_LENGTH)
    fast = CLIPTokenizerFast(
        vocab_file=str(out_dir / "vocab.json"), merges_file=str(out_dir / "merges.txt"), model_max_length=CONTEXT_LENGTH
    )
    assert slow("a photo of a dog")["input_ids"] == fast("a photo of a dog")["input_ids"]
    fast.save_pretrained(out_dir)


def write_trained_tokenizer(out_dir: Path) -> None:
    """Fallback without the CLIP vocabulary: the tests' small CLIP-style BPE."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.tiny_models import default_texts, train_clip_bpe_tokenizer

    train_clip_bpe_tokenizer(default_texts(), out_dir)


def make_model(out_dir: Path, image_size: int, vocab_gz: Path | None, seed: int = 0) -> Path:
    """Write one random-weight model folder (skipped when already complete)."""
    marker = out_dir / "benchmark_model.json"
    if marker.is_file():
        return out_dir
    import tf_keras
    from transformers import CLIPImageProcessor, TFCLIPModel

    out_dir.mkdir(parents=True, exist_ok=True)
    if vocab_gz is not None and vocab_gz.is_file():
        write_clip_tokenizer(vocab_gz, out_dir)
    else:
        write_trained_tokenizer(out_dir)
    vocab_size = len(json.loads((out_dir / "vocab.json").read_text(encoding="utf-8")))
    tf_keras.utils.set_random_seed(seed)
    model = TFCLIPModel(clip_config(image_size, vocab_size))
    model.build_in_name_scope()
    model.save_pretrained(out_dir)
    CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    ).save_pretrained(out_dir)
    marker.write_text(json.dumps({"image_size": image_size, "vocab_size": vocab_size, "seed": seed}) + "\n")
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--vocab", type=Path, default=None, help="bpe_simple_vocab_16e6.txt.gz")
    args = parser.parse_args()
    for name, size in ARCHITECTURES.items():
        print(f"model {name}: {make_model(args.out_dir / name, size, args.vocab)}", flush=True)


if __name__ == "__main__":
    main()
