"""The image tower in bfloat16 on CPUs that compute it natively (AVX512-BF16 or AMX: AMD Zen 4+, Intel Xeon 4th gen+).

Indexing is bound by the image tower. On such CPUs oneDNN runs bfloat16 matrix products at about 1.5× less CPU
per photo (benchmarks/micro/bf16_tower.py: 77 vs 116 CPU-ms for ViT-B/32 at 256 px), while the embeddings move
by a cosine of ~1e-4 — ten times less than the gap between neighbouring photos in a ranking. Elsewhere bfloat16
would be emulated and slower, so ``auto`` keeps float32 there and on GPUs.

``XMR_PRECISION=float32`` (or ``bfloat16``) overrides the choice. Vectors computed either way share one index:
they are the same model's embeddings within that small drift.

On the LiteRT runtime (``runtime.py``) the image tower runs in float32, or with ``XMR_PRECISION=int8`` from
dynamic-range int8 weights. Int8 vectors are a different image space: they get their own ``model_id``
(``image_space_id``), so they are never mixed with float32 vectors in one index.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

from xmr_desktop.engine.loading import building_for_loaded_weights
from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)

PRECISION_ENV = "XMR_PRECISION"
PRECISIONS = ("auto", "float32", "bfloat16", "int8")
# Appended to a model's image-space id when its image tower runs from int8 weights.
INT8_SPACE_SUFFIX = "+litert-int8"
_NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def requested_precision() -> str:
    """``auto``, ``float32``, ``bfloat16`` or ``int8`` from ``XMR_PRECISION``; anything else is an error worth
    stopping for."""
    value = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if value not in PRECISIONS:
        raise XmrError(f"{PRECISION_ENV}={value!r}: use one of {', '.join(PRECISIONS)}")
    return value


@cache
def cpu_has_native_bfloat16() -> bool:
    """Whether the CPU has bfloat16 dot-product instructions (read from ``/proc/cpuinfo``; False elsewhere)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return not _NATIVE_BF16_FLAGS.isdisjoint(line.split(":", 1)[1].split())
    except OSError:
        pass
    return False


def image_compute_dtype(on_gpu: bool) -> str:
    """``bfloat16`` or ``float32``: what TensorFlow's image tower should compute in on this machine."""
    requested = requested_precision()
    if requested == "int8":
        log.warning("%s=int8 needs the LiteRT runtime; TensorFlow computes the images in float32", PRECISION_ENV)
        return "float32"
    if requested != "auto":
        return requested
    return "bfloat16" if not on_gpu and cpu_has_native_bfloat16() else "float32"


def litert_image_precision() -> str:
    """``float32`` or ``int8``: the weights LiteRT's image tower runs from (``auto`` is float32, see the README's
    measurements); ``bfloat16`` never reaches here, it selects TensorFlow."""
    return "int8" if requested_precision() == "int8" else "float32"


def image_space_id(recorded_id: str, precision: str) -> str:
    """The ``model_id`` of image vectors computed in ``precision`` by a model whose marker records ``recorded_id``.

    Float32, bfloat16 (within 1e-4) and LiteRT float32 (within 1e-5) share one space; int8 weights get their
    own. A recorded id may already carry the int8 suffix (a model fine-tuned from an int8 index), so it is
    removed first: the result depends only on the base space and the precision.
    """
    base = recorded_id[: -len(INT8_SPACE_SUFFIX)] if recorded_id.endswith(INT8_SPACE_SUFFIX) else recorded_id
    return base + INT8_SPACE_SUFFIX if precision == "int8" else base


def bfloat16_image_features(model: Any) -> Callable[[Any], Any]:
    """``pixels -> float32 image features`` of a ``TFCLIPModel``, computed in bfloat16.

    A second copy of the vision transformer and its projection is built under Keras' ``mixed_bfloat16`` policy
    (float32 variables, bfloat16 arithmetic) and given the model's weights; the model itself is left as it is,
    so fine-tuning its text side and text queries still run in float32.
    """
    tf = tensorflow()
    import tf_keras
    from transformers.models.clip.modeling_tf_clip import TFCLIPVisionTransformer

    main = model.clip
    vision_config = model.config.vision_config
    with building_for_loaded_weights("mixed_bfloat16"):
        vision = TFCLIPVisionTransformer(vision_config, name="vision_model")
        projection = tf_keras.layers.Dense(
            units=int(model.config.projection_dim), use_bias=False, kernel_initializer="zeros", name="visual_projection"
        )
        # build() creates the variables without running a forward pass (an eager pass costs ~1.5 s more).
        with tf.name_scope(vision.name):
            vision.build(None)
        projection.build([None, int(vision_config.hidden_size)])
    vision.set_weights(main.vision_model.get_weights())
    projection.set_weights(main.visual_projection.get_weights())

    def image_features(pixels: Any) -> Any:
        return tf.cast(projection(_pooled(vision, pixels)), tf.float32)

    return image_features


def _pooled(vision: Any, pixels: Any) -> Any:
    outputs = vision(pixel_values=pixels, output_attentions=False, output_hidden_states=False, return_dict=False, training=False)
    return outputs[1]
