"""Write random-weight OpenCLIP ViT-B-32-256 towers as ONNX where rclip 3.3.0 looks for its model.

Runs inside the rclip venv (torch, open_clip_torch, onnx), never the project's. rclip reads, under
``$RCLIP_DATADIR``:

    ViT-B-32-256-datacomp_s34b_b86k/visual.onnx    input "input" float32 (N, 3, 256, 256) -> (N, 512)
    ViT-B-32-256-datacomp_s34b_b86k/textual.onnx   input "input" int64   (N, 77)          -> (N, 512)
    tokenizer/bpe_simple_vocab_16e6.txt.gz          the CLIP BPE vocabulary (open_clip ships the same file)

(``rclip/model_download.py``: MODEL_SUBDIR, VISUAL_ONNX, TEXTUAL_ONNX, TOKENIZER_VOCAB; ``rclip/model.py``:
``session.run(None, {"input": batch})``.) Random weights: speed does not depend on weight values.

Usage: python export_rclip_models.py RCLIP_DATADIR
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
import torch.library

MODEL_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"


def _import_open_clip():
    # The CPU torch wheel cannot load torchvision's C++ ops; torchvision's import then fails registering a fake
    # kernel for `torchvision::nms`. open_clip needs none of those ops, so skip their registration.
    original = torch.library.register_fake

    def register_fake(op, *args, **kwargs):
        if isinstance(op, str) and op.startswith("torchvision::"):
            return lambda fn: fn
        return original(op, *args, **kwargs)

    torch.library.register_fake = register_fake
    try:
        import open_clip
    finally:
        torch.library.register_fake = original
    return open_clip


class _Tower(torch.nn.Module):
    """One tower of the CLIP model as its own module (the model is a submodule, so its weights export)."""

    def __init__(self, model: torch.nn.Module, kind: str) -> None:
        super().__init__()
        self.model = model
        self.kind = kind

    def forward(self, input):  # noqa: A002  (the input name rclip feeds)
        return self.model.encode_image(input) if self.kind == "image" else self.model.encode_text(input)


def export(datadir: Path) -> None:
    open_clip = _import_open_clip()
    # The fused MHA fast path does not trace with the legacy exporter.
    torch.backends.mha.set_fastpath_enabled(False)
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32-256", pretrained=None).eval().requires_grad_(False)
    target = datadir / MODEL_SUBDIR
    target.mkdir(parents=True, exist_ok=True)
    image = torch.randn(2, 3, 256, 256)
    text = torch.randint(1, 49000, (2, 77), dtype=torch.int64)
    for name, kind, example in (("visual.onnx", "image", image), ("textual.onnx", "text", text)):
        with torch.no_grad():
            torch.onnx.export(
                _Tower(model, kind),
                (example,),
                str(target / name),
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
    vocab = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    (datadir / "tokenizer").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(vocab, datadir / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz")


if __name__ == "__main__":
    export(Path(sys.argv[1]))
