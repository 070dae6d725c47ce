"""What a multilingual text tower is made of, read from its folder as data (no TensorFlow here).

A text tower is a transformers text encoder, pooling over its tokens, and a linear projection into the text
space of the CLIP model whose image tower it shares. Three folder layouts hold one:

- **M-CLIP** (``M-CLIP/XLM-Roberta-Large-Vit-B-32``): ``config.json`` with ``modelBase``, ``numDims`` and
  ``transformerDimensions``; ``tf_model.h5`` written by the repository's ``MultiLingualCLIP`` TF class, whose
  weights are ``sentence_model_with_linear_transformation/<tf model>/roberta/...`` plus
  ``.../LinearTransformation/kernel:0`` and ``bias:0``; mean pooling over the attention mask. The official class
  downloads ``modelBase``'s checkpoint in its constructor only to build the encoder; its architecture comes from
  :data:`KNOWN_BASES` here instead (or from a local folder named by ``modelBase``), and every weight from the h5.
- **sentence-transformers** (``sentence-transformers/clip-ViT-B-32-multilingual-v1``): the encoder at the top
  (``config.json`` + ``tf_model.h5`` or PyTorch-layout ``model.safetensors``), ``modules.json``,
  ``1_Pooling/config.json`` and ``2_Dense/config.json`` with ``model.safetensors`` (or ``pytorch_model.bin``,
  read as data by :mod:`torch_zip`, never unpickled).
- **xmr** (what :func:`save_tower` writes: a downloaded tower after compaction, or a distilled student):
  ``xmr_model.json`` with ``"format": "text-tower"`` and the whole recipe, ``text_tower.safetensors`` (float16 or
  float32) and the tokenizer.

Encoder weights are named canonically as the TF model's variables below its top model, e.g.
``roberta/encoder/layer_._0/attention/self/query/kernel:0``; the projection as ``projection/kernel`` (in, out)
and ``projection/bias``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from xmr_desktop.engine.loading import MODEL_MARKER
from xmr_desktop.errors import ModelLoadError

TowerKind = Literal["m-clip", "sentence-transformers", "xmr"]
TOWER_FORMAT = "text-tower"
TOWER_WEIGHTS = "text_tower.safetensors"
PROJECTION_KERNEL = "projection/kernel"
PROJECTION_BIAS = "projection/bias"

# The encoders a tower may use: model_type -> (transformers TF class, the main layer's name in its weights).
# Anything else is refused: a model folder is data, and only these classes are built from it.
ENCODER_TYPES: dict[str, tuple[str, str]] = {
    "xlm-roberta": ("TFXLMRobertaModel", "roberta"),
    "roberta": ("TFRobertaModel", "roberta"),
    "bert": ("TFBertModel", "bert"),
    "distilbert": ("TFDistilBertModel", "distilbert"),
}
# Architectures of the encoders published M-CLIP towers name in ``modelBase`` (from the hub configs of
# FacebookAI/xlm-roberta-large and -base), so that building one needs no download.
_XLMR = dict(
    model_type="xlm-roberta", vocab_size=250002, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
    bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-05, hidden_act="gelu", hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1, position_embedding_type="absolute",
)
KNOWN_BASES: dict[str, dict[str, Any]] = {
    "xlm-roberta-large": _XLMR | dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
    "xlm-roberta-base": _XLMR | dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}
KNOWN_BASES["FacebookAI/xlm-roberta-large"] = KNOWN_BASES["xlm-roberta-large"]
KNOWN_BASES["FacebookAI/xlm-roberta-base"] = KNOWN_BASES["xlm-roberta-base"]
_ST_MODULES = {
    "sentence_transformers.models.Transformer": "transformer",
    "sentence_transformers.models.Pooling": "pooling",
    "sentence_transformers.models.Dense": "dense",
    "sentence_transformers.models.Normalize": "normalize",
}
_ACTIVATIONS = {"torch.nn.modules.linear.Identity": "identity", "torch.nn.modules.activation.Tanh": "tanh"}


@dataclass(frozen=True)
class TowerLayout:
    """A text tower's recipe, read from its files.

    Attributes:
        kind: which folder layout it came from.
        encoder_config: the encoder's transformers config as a dict (``model_type`` in :data:`ENCODER_TYPES`).
        dim: output size (the CLIP text space's).
        pooling: ``mean`` (over the attention mask) or ``cls`` (first token).
        projection_bias: whether the projection adds a bias.
        activation: applied after the projection (``identity`` or ``tanh``).
        max_length: longest input in tokens.
        record: the ``xmr_model.json`` of an xmr-layout tower (empty otherwise).
    """

    kind: TowerKind
    encoder_config: dict[str, Any]
    dim: int
    pooling: Literal["mean", "cls"] = "mean"
    projection_bias: bool = True
    activation: Literal["identity", "tanh"] = "identity"
    max_length: int = 128
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def main_layer(self) -> str:
        return ENCODER_TYPES[self.encoder_config["model_type"]][1]

    @property
    def usable_length(self) -> int:
        """The longest input the encoder's position table allows (RoBERTa-style positions start after the pad id)."""
        config = self.encoder_config
        positions = int(config.get("max_position_embeddings", 512))
        if self.main_layer == "roberta":
            positions -= int(config.get("pad_token_id", 1)) + 1
        return min(self.max_length, positions)


def tower_kind(directory: Path) -> TowerKind | None:
    """Which text-tower layout a folder holds, or None when it is not a text tower (e.g. a CLIP)."""
    directory = Path(directory)
    record = _read_json(directory / MODEL_MARKER, optional=True)
    if record.get("format") == TOWER_FORMAT:
        return "xmr"
    if (directory / "modules.json").is_file():
        return "sentence-transformers"
    config = _read_json(directory / "config.json", optional=True)
    if "modelBase" in config and "numDims" in config:
        return "m-clip"
    return None


def read_layout(directory: Path) -> TowerLayout:
    """The recipe of the text tower in ``directory``; ModelLoadError naming what is wrong."""
    directory = Path(directory)
    kind = tower_kind(directory)
    if kind == "xmr":
        record = _read_json(directory / MODEL_MARKER)
        tower = record.get("text_tower") or {}
        try:
            layout = TowerLayout("xmr", dict(tower["encoder_config"]), int(tower["dim"]), tower.get("pooling", "mean"),
                                 bool(tower.get("projection_bias", True)), tower.get("activation", "identity"),
                                 int(tower.get("max_length", 128)), record)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelLoadError(f"{directory / MODEL_MARKER} does not describe a text tower: {error}") from error
    elif kind == "m-clip":
        layout = _mclip_layout(directory)
    elif kind == "sentence-transformers":
        layout = _sentence_transformers_layout(directory)
    else:
        raise ModelLoadError(f"{directory} holds no text tower (no M-CLIP config, modules.json or xmr record)")
    _check_encoder_config(layout.encoder_config, directory)
    return layout


def _mclip_layout(directory: Path) -> TowerLayout:
    config = _read_json(directory / "config.json")
    base = str(config["modelBase"])
    if base in KNOWN_BASES:
        encoder = dict(KNOWN_BASES[base])
    else:
        # Like the official class, modelBase may name a local folder (relative to the tower's, or absolute);
        # only its config.json is read.
        folder = (directory / base).resolve() if not Path(base).is_absolute() else Path(base)
        if not (folder / "config.json").is_file():
            known = ", ".join(sorted(KNOWN_BASES))
            raise ModelLoadError(f"{directory}: unknown modelBase '{base}' (known: {known}; or a folder with a config.json)")
        encoder = _read_json(folder / "config.json")
    try:
        dim, width = int(config["numDims"]), int(config.get("transformerDimensions", encoder.get("hidden_size", 0)))
    except (TypeError, ValueError) as error:
        raise ModelLoadError(f"{directory / 'config.json'}: numDims/transformerDimensions are not numbers") from error
    if width != int(encoder.get("hidden_size", -1)):
        raise ModelLoadError(f"{directory}: transformerDimensions {width} does not match {base}'s width {encoder.get('hidden_size')}")
    # The training code capped captions at 32 tokens; queries are short, 128 leaves room for long ones.
    return TowerLayout("m-clip", encoder, dim, "mean", True, "identity", 128)


def _sentence_transformers_layout(directory: Path) -> TowerLayout:
    modules = _read_json(directory / "modules.json", expect=list)
    roles: dict[str, Path] = {}
    for module in modules:
        role = _ST_MODULES.get(str(module.get("type")))
        if role is None:
            raise ModelLoadError(f"{directory}: sentence-transformers module {module.get('type')} is not supported")
        roles[role] = directory / str(module.get("path", ""))
    if roles.get("transformer") != directory or "pooling" not in roles:
        raise ModelLoadError(f"{directory}: expected a Transformer at the top and a Pooling module (modules.json)")
    encoder = _read_json(directory / "config.json")
    pooling_config = _read_json(roles["pooling"] / "config.json")
    pooling = _pooling_mode(pooling_config, directory)
    width = int(encoder.get("hidden_size", encoder.get("dim", 0)))
    dim, bias, activation = width, False, "identity"
    if "dense" in roles:
        dense = _read_json(roles["dense"] / "config.json")
        if int(dense.get("in_features", -1)) != width:
            raise ModelLoadError(f"{roles['dense']}: in_features {dense.get('in_features')} is not the encoder's width {width}")
        activation = _ACTIVATIONS.get(str(dense.get("activation_function", "torch.nn.modules.activation.Tanh")))
        if activation is None:
            raise ModelLoadError(f"{roles['dense']}: activation {dense.get('activation_function')} is not supported")
        dim, bias = int(dense["out_features"]), bool(dense.get("bias", True))
    st_config = _read_json(directory / "sentence_bert_config.json", optional=True)
    return TowerLayout("sentence-transformers", encoder, dim, pooling, bias, activation, int(st_config.get("max_seq_length", 128)))


def _pooling_mode(config: dict[str, Any], directory: Path) -> Literal["mean", "cls"]:
    mode = config.get("pooling_mode")
    if mode is None:  # the legacy boolean keys, as 2021 repositories have them
        modes = [key for key in ("pooling_mode_mean_tokens", "pooling_mode_cls_token", "pooling_mode_max_tokens",
                                 "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                                 "pooling_mode_lasttoken") if config.get(key)]
        mode = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(modes[0]) if len(modes) == 1 else None
    if mode not in ("mean", "cls"):
        raise ModelLoadError(f"{directory}: pooling {config} is not supported (mean or cls only)")
    return mode  # type: ignore[return-value]


def _check_encoder_config(config: dict[str, Any], directory: Path) -> None:
    model_type = config.get("model_type")
    if model_type not in ENCODER_TYPES:
        raise ModelLoadError(
            f"{directory}: text encoder type '{model_type}' is not supported (supported: {', '.join(ENCODER_TYPES)})"
        )
    if config.get("auto_map"):
        raise ModelLoadError(f"{directory}: the encoder config asks for custom code (auto_map); that is never run")


# -- weights ---------------------------------------------------------------------------------------------


@dataclass
class TowerWeights:
    """A tower's weights as NumPy arrays.

    Attributes:
        encoder: canonical TF names -> arrays; or, with ``encoder_pt``, PyTorch names (a safetensors encoder).
        projection: ``projection/kernel`` (in, out) and, with a bias, ``projection/bias``.
        encoder_pt: whether ``encoder`` uses PyTorch names and layouts (converted when loaded into TF).
    """

    encoder: dict[str, np.ndarray]
    projection: dict[str, np.ndarray]
    encoder_pt: bool = False


def read_weights(directory: Path, layout: TowerLayout) -> TowerWeights:
    """Every weight of the tower in ``directory`` (any layout), checked for presence; no TensorFlow."""
    directory = Path(directory)
    if layout.kind == "xmr":
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(directory / TOWER_WEIGHTS))
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"cannot read {directory / TOWER_WEIGHTS}: {error}") from error
        projection = {k: tensors.pop(k) for k in (PROJECTION_KERNEL, PROJECTION_BIAS) if k in tensors}
        weights = TowerWeights(tensors, projection)
    elif layout.kind == "m-clip":
        weights = _mclip_weights(directory / "tf_model.h5", layout)
    else:
        weights = _sentence_transformers_weights(directory, layout)
    kernel = weights.projection.get(PROJECTION_KERNEL)
    width = int(layout.encoder_config.get("hidden_size", layout.encoder_config.get("dim", 0)))
    if kernel is None and layout.dim == width and layout.kind == "sentence-transformers":
        weights.projection[PROJECTION_KERNEL] = np.eye(width, dtype=np.float32)  # no Dense module: identity
    elif kernel is None or kernel.shape != (width, layout.dim):
        raise ModelLoadError(f"{directory}: the projection is missing or not {width}x{layout.dim}")
    if layout.projection_bias and PROJECTION_BIAS not in weights.projection:
        raise ModelLoadError(f"{directory}: the projection's bias is missing")
    return weights


def _mclip_weights(h5_path: Path, layout: TowerLayout) -> TowerWeights:
    encoder, projection = {}, {}
    for name, array in _h5_datasets(h5_path).items():
        if "/LinearTransformation/" in f"/{name}":
            key = PROJECTION_KERNEL if name.endswith("kernel:0") else PROJECTION_BIAS if name.endswith("bias:0") else None
            if key is None:
                raise ModelLoadError(f"{h5_path}: unexpected projection weight {name}")
            projection[key] = array
        else:
            encoder[canonical_name(name, layout.main_layer, h5_path)] = array
    return TowerWeights(encoder, projection)


def _sentence_transformers_weights(directory: Path, layout: TowerLayout) -> TowerWeights:
    if (directory / "tf_model.h5").is_file():
        encoder = {canonical_name(n, layout.main_layer, directory): a for n, a in _h5_datasets(directory / "tf_model.h5").items()}
        weights = TowerWeights(encoder, {})
    elif (directory / "model.safetensors").is_file():
        from safetensors.numpy import load_file

        weights = TowerWeights(load_file(str(directory / "model.safetensors")), {}, encoder_pt=True)
    else:
        raise ModelLoadError(f"{directory} has neither tf_model.h5 nor model.safetensors for its encoder")
    modules = _read_json(directory / "modules.json", expect=list)
    dense_dir = next((directory / m["path"] for m in modules if str(m.get("type", "")).endswith(".Dense")), None)
    if dense_dir is not None:
        if (dense_dir / "model.safetensors").is_file():
            from safetensors.numpy import load_file

            tensors = load_file(str(dense_dir / "model.safetensors"))
        elif (dense_dir / "pytorch_model.bin").is_file():
            from xmr_desktop.engine.torch_zip import read_state_dict

            tensors = read_state_dict(dense_dir / "pytorch_model.bin")
        else:
            raise ModelLoadError(f"{dense_dir} has neither model.safetensors nor pytorch_model.bin")
        if "linear.weight" not in tensors:
            raise ModelLoadError(f"{dense_dir}: no linear.weight among {sorted(tensors)[:5]}")
        weights.projection[PROJECTION_KERNEL] = np.ascontiguousarray(tensors["linear.weight"].T)  # torch: (out, in)
        if "linear.bias" in tensors:
            weights.projection[PROJECTION_BIAS] = tensors["linear.bias"]
    return weights


def canonical_name(name: str, main_layer: str, source: Path) -> str:
    """``any/prefix/roberta/encoder/...:0`` -> ``roberta/encoder/...:0`` (the prefix depends on how it was saved)."""
    parts = name.split("/")
    if main_layer not in parts:
        raise ModelLoadError(f"{source}: weight {name} is not under the encoder's '{main_layer}' layer")
    # The last occurrence: a transformers h5 repeats the main layer's name as its group ("bert/tf_bert_model/bert/...").
    start = len(parts) - 1 - parts[::-1].index(main_layer)
    return "/".join(parts[start:])


def _h5_datasets(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as handle:
            def visit(name: str, item: Any) -> None:
                if isinstance(item, h5py.Dataset):
                    out[name] = np.asarray(item[()])

            handle.visititems(visit)
    except OSError as error:
        raise ModelLoadError(f"cannot read {path}: {error}") from error
    return out


def _read_json(path: Path, *, optional: bool = False, expect: type = dict) -> Any:
    if optional and not path.is_file():
        return expect()
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot read {path}: {error}") from error
    if not isinstance(value, expect):
        raise ModelLoadError(f"{path} is not a JSON {expect.__name__}")
    return value
