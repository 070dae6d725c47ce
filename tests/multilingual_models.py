"""Tiny multilingual text towers built offline in the exact hub layouts, with their reference outputs.

- ``make_tiny_mclip``: what ``M-CLIP/XLM-Roberta-Large-Vit-B-32`` ships, at toy size. The ``tf_model.h5`` is
  written by a copy of the structure of the repository's own TF class (multilingual_clip/tf_multilingual_clip.py:
  ``MultiLingualCLIP`` -> ``SentenceModelWithLinearTransformation`` with ``TFAutoModel.from_pretrained(modelBase)``
  and ``Dense(numDims, name="LinearTransformation")``), so its weight names are the ones that code produces.
  ``modelBase`` is a local folder holding the tiny XLM-R (the official class would download xlm-roberta-large).
  ``expected.npz`` holds that class's own outputs for fixed inputs.
- ``make_tiny_sentence_transformer``: what ``sentence-transformers/clip-ViT-B-32-multilingual-v1`` ships: a
  DistilBERT at the top (``tf_model.h5``, ``config.json``, tokenizer), ``modules.json``, ``1_Pooling`` with the
  legacy boolean keys, ``2_Dense`` (768->512 without bias there) as ``model.safetensors`` or as a PyTorch
  ``pytorch_model.bin`` written in torch.save's zip format.
- ``train_unigram_tokenizer``: an XLM-R-style (SentencePiece unigram, Metaspace) fast tokenizer trained on the
  fly whose vocabulary covers every character of its texts, Chinese included.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import pickle
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHINESE_COLOURS = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色"}
CHINESE_SHAPES = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "bar": "长条"}
PROBE = ["a red circle", "一个红色的圆形", "Oma mit dem roten Fahrrad", "猫"]


def chinese_caption(colour: str, shape: str) -> str:
    """``a red circle`` in Chinese: ``一个红色的圆形``."""
    return f"一个{CHINESE_COLOURS[colour]}的{CHINESE_SHAPES[shape]}"


def train_unigram_tokenizer(texts: list[str], out_dir: Path, vocab_size: int = 400, model_max_length: int = 64):
    """An XLM-R-style fast tokenizer (``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>`` last), saved."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    alphabet = sorted({ch for text in texts for ch in text.lower() if not ch.isspace()})
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>",
        initial_alphabet=alphabet, shrinking_factor=0.75,
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.add_special_tokens(["<mask>"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tokenizer.token_to_id("<s>")), ("</s>", tokenizer.token_to_id("</s>"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>",
        cls_token="<s>", pad_token="<pad>", mask_token="<mask>", model_max_length=model_max_length,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    config = json.loads((out_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["tokenizer_class"] = "XLMRobertaTokenizer"  # as the hub's M-CLIP repositories say
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return fast


def _official_mclip_classes():
    """The structure of multilingual_clip/tf_multilingual_clip.py and Config_MCLIP.py (same classes, same names),
    with ``from_pt=False`` because there is no torch here."""
    import tensorflow as tf
    import transformers

    class MCLIPConfig(transformers.PretrainedConfig):
        model_type = "M-CLIP"

        def __init__(self, modelBase="xlm-roberta-large", transformerDimSize=1024, imageDimSize=768, **kwargs):
            self.transformerDimensions = transformerDimSize
            self.numDims = imageDimSize
            self.modelBase = modelBase
            super().__init__(**kwargs)

    class SentenceModel(tf.keras.Model):
        def __init__(self, modelBase, from_pt=False, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.transformer = transformers.TFAutoModel.from_pretrained(modelBase, from_pt=from_pt)

        def generateMeanPooledSentenceEmbs(self, input, training=False):
            output = self.transformer(input, training=training)
            hiddenStates = output["last_hidden_state"]
            outAtt = tf.cast(input["attention_mask"], tf.float32)
            sampleLength = tf.reduce_sum(outAtt, axis=-1, keepdims=True)
            maskedEmbs = hiddenStates * tf.expand_dims(outAtt, axis=-1)
            return tf.reduce_sum(maskedEmbs, axis=1) / tf.cast(sampleLength, tf.float32)

        def call(self, inputs, training=False, mask=None):
            return self.generateMeanPooledSentenceEmbs(inputs, training)

    class SentenceModelWithLinearTransformation(SentenceModel):
        def __init__(self, modelBase, embeddingSize=640, *args, **kwargs):
            super().__init__(modelBase, *args, **kwargs)
            self.postTransformation = tf.keras.layers.Dense(embeddingSize, activation="linear", name="LinearTransformation")

        def call(self, inputs, training=False, mask=None):
            return self.postTransformation(self.generateMeanPooledSentenceEmbs(inputs, training))

    class MultiLingualCLIP(transformers.TFPreTrainedModel):
        config_class = MCLIPConfig

        @property
        def dummy_inputs(self):
            return {"input_ids": tf.ones((4, 12), tf.int32), "attention_mask": tf.ones((4, 12), tf.int32)}

        def __init__(self, config, *args, **kwargs):
            super().__init__(config, *args, **kwargs)
            self.sentenceModel = SentenceModelWithLinearTransformation(config.modelBase, config.numDims)

        def call(self, inputs, training=False, mask=None):
            return self.sentenceModel.call(inputs, training)

    return MCLIPConfig, MultiLingualCLIP


def make_tiny_mclip(out_dir: Path, texts: list[str], *, dim: int = 32, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A tiny M-CLIP repository in ``out_dir`` (config.json, tf_model.h5, tokenizer files, expected.npz)."""
    import tensorflow as tf
    import tf_keras
    from transformers import TFXLMRobertaModel, XLMRobertaConfig

    out_dir = Path(out_dir)
    tokenizer = train_unigram_tokenizer(texts, out_dir)
    base_dir = out_dir.parent / f"{out_dir.name}-base"
    tf_keras.utils.set_random_seed(seed)
    base_config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=66, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )
    base = TFXLMRobertaModel(base_config)
    base(base.dummy_inputs)
    base.save_pretrained(str(base_dir))
    config_cls, model_cls = _official_mclip_classes()
    model = model_cls(config_cls(modelBase=str(base_dir), transformerDimSize=hidden, imageDimSize=dim))
    model(model.dummy_inputs)
    # Trained weights are not all near zero like a fresh init: give the projection bias something to carry.
    dense = model.sentenceModel.postTransformation
    dense.bias.assign(np.random.default_rng(seed).normal(0, 0.05, size=dim).astype(np.float32))
    model.save_pretrained(str(out_dir))
    config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = ["MultilingualCLIP"]  # what the hub's config.json says (the PyTorch class)
    (out_dir / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    enc = tokenizer(PROBE, padding=True, return_tensors="np")
    expected = model({"input_ids": tf.constant(enc["input_ids"]), "attention_mask": tf.constant(enc["attention_mask"])})
    np.savez(out_dir / "expected.npz", input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], features=expected.numpy())
    return out_dir


# -- sentence-transformers -----------------------------------------------------------------------------------


def _wordpiece_vocab(texts: list[str]) -> list[str]:
    words = set()
    for text in texts:
        for token in text.lower().replace(",", " ").split():
            if any("\u4e00" <= ch <= "\u9fff" for ch in token):
                words.update(ch for ch in token)  # BERT splits CJK characters one by one
            else:
                words.add(token)
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]


@contextlib.contextmanager
def _fake_torch() -> Iterator[tuple[type, object]]:
    """Stand-ins named like torch's storage class and tensor rebuild function, so that the standard pickler
    writes the same GLOBALs ``torch.save`` does. Removed again at once."""
    torch_module = types.ModuleType("torch")
    utils_module = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):  # pragma: no cover - never called: nothing unpickles these files
        raise AssertionError

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch_module.FloatStorage = FloatStorage
    torch_module._utils = utils_module
    utils_module._rebuild_tensor_v2 = _rebuild_tensor_v2
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch_module, "torch._utils": utils_module})
    try:
        yield FloatStorage, _rebuild_tensor_v2
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def write_torch_state_dict(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """A state dict in torch.save's zip format (protocol-2 pickle with persistent storage ids, raw storages)."""
    with _fake_torch() as (storage_type, rebuild):
        class _Storage:
            def __init__(self, key: str, array: np.ndarray) -> None:
                self.key, self.array = key, array

        class _Tensor:
            def __init__(self, storage: _Storage, shape: tuple[int, ...]) -> None:
                self.storage, self.shape = storage, shape

            def __reduce_ex__(self, protocol):
                stride, step = [], 1
                for dim in reversed(self.shape):
                    stride.append(step)
                    step *= dim
                return rebuild, (self.storage, 0, self.shape, tuple(reversed(stride)), False, collections.OrderedDict())

        class _Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Storage):
                    return ("storage", storage_type, obj.key, "cpu", obj.array.size)
                return None

        state = collections.OrderedDict()
        storages = []
        for i, (name, array) in enumerate(tensors.items()):
            storage = _Storage(str(i), np.ascontiguousarray(array, dtype=np.float32).reshape(-1))
            storages.append(storage)
            state[name] = _Tensor(storage, tuple(array.shape))
        state._metadata = collections.OrderedDict([("", {"version": 1}), ("linear", {"version": 1})])
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=2).dump(state)
    root = path.stem
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{root}/data.pkl", buffer.getvalue())
        archive.writestr(f"{root}/byteorder", "little")
        for storage in storages:
            archive.writestr(f"{root}/data/{storage.key}", storage.array.astype("<f4").tobytes())
        archive.writestr(f"{root}/version", "3\n")


def make_tiny_sentence_transformer(
    out_dir: Path, texts: list[str], *, dim: int = 24, hidden: int = 32, dense_format: str = "safetensors", seed: int = 0
) -> Path:
    """A tiny clip-ViT-B-32-multilingual-v1-style repository, with ``expected.npz`` (ST's forward in NumPy)."""
    import tensorflow as tf
    import tf_keras
    from safetensors.numpy import save_file
    from transformers import BertTokenizerFast, DistilBertConfig, TFDistilBertModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.txt").write_text("\n".join(_wordpiece_vocab(texts)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(str(out_dir / "vocab.txt"), do_lower_case=True, model_max_length=128)
    tokenizer.save_pretrained(str(out_dir))
    tf_keras.utils.set_random_seed(seed)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=hidden, hidden_dim=2 * hidden, n_layers=2, n_heads=2, max_position_embeddings=130)
    model = TFDistilBertModel(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(out_dir))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    (out_dir / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (out_dir / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}), encoding="utf-8")
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    (out_dir / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": hidden, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
    }, indent=2), encoding="utf-8")
    (out_dir / "2_Dense").mkdir(exist_ok=True)
    (out_dir / "2_Dense" / "config.json").write_text(json.dumps({
        "in_features": hidden, "out_features": dim, "bias": False, "activation_function": "torch.nn.modules.linear.Identity",
    }, indent=2), encoding="utf-8")
    weight = np.random.default_rng(seed).normal(0, hidden ** -0.5, size=(dim, hidden)).astype(np.float32)  # torch: (out, in)
    if dense_format == "safetensors":
        save_file({"linear.weight": weight}, str(out_dir / "2_Dense" / "model.safetensors"), metadata={"format": "pt"})
    else:
        write_torch_state_dict(out_dir / "2_Dense" / "pytorch_model.bin", {"linear.weight": weight})
    enc = tokenizer(PROBE, padding=True, return_tensors="np")
    hidden_states = model(input_ids=tf.constant(enc["input_ids"]), attention_mask=tf.constant(enc["attention_mask"])).last_hidden_state.numpy()
    mask = enc["attention_mask"][:, :, None].astype(np.float32)
    pooled = (hidden_states * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)  # ST's mean pooling
    np.savez(out_dir / "expected.npz", input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], features=pooled @ weight.T)
    return out_dir


def make_tiny_student(out_dir: Path, texts: list[str], *, hidden: int = 48, layers: int = 2, seed: int = 0) -> Path:
    """A random tiny XLM-R encoder folder, as ``transformers`` saves one (config.json, tf_model.h5, tokenizer): the
    kind of ``--student`` a user passes, at toy size, with a vocabulary covering ``texts`` (Chinese included)."""
    import tf_keras
    from transformers import TFXLMRobertaModel, XLMRobertaConfig

    out_dir = Path(out_dir)
    tokenizer = train_unigram_tokenizer(texts, out_dir)
    tf_keras.utils.set_random_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=66, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )
    model = TFXLMRobertaModel(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(out_dir))
    return out_dir


def bilingual_caption_rows(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(English caption, Chinese translation)`` rows, several phrasings of each translation."""
    rows = []
    for colour, shape in items:
        english = f"a {colour} {shape}"
        c, s = CHINESE_COLOURS[colour], CHINESE_SHAPES[shape]
        rows += [(english, f"一个{c}的{s}"), (english, f"{c}的{s}"), (english, f"{c}{s}"), (english, f"一个{c}{s}")]
    return rows
