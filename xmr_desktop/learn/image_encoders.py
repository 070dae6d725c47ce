"""The two-tower recipe's image encoders, built from code we ship and filled with weights only.

A model folder or an ``--image-encoder`` file can come from anyone, so nothing in it may run. Whole Keras
models saved as HDF5 are never deserialised (a ``Lambda`` layer's bytecode runs as the model is rebuilt);
instead an architecture from the allow-list ``IMAGE_ENCODERS`` is built here and only its weights are read
from the file. A ``.keras`` archive is accepted when every object its config names is a built-in Keras
layer, initializer or function and none is a ``Lambda``; it is then loaded with ``safe_mode=True`` (which by
itself still imports any module the config names, hence the check first).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xmr_desktop.engine.tf_runtime import tensorflow
from xmr_desktop.errors import ModelLoadError, ModelUnavailableError

# name -> (keras.applications class, pixel preprocessing, default input size)
IMAGE_ENCODERS: dict[str, tuple[str, str, int]] = {
    "resnet50": ("ResNet50", "caffe", 224),
    "vgg16": ("VGG16", "caffe", 224),
    "mobilenet_v2": ("MobileNetV2", "tf", 224),
    "efficientnet_b0": ("EfficientNetB0", "raw", 224),
    "convnext_tiny": ("ConvNeXtTiny", "raw", 224),
}

# Layers whose config carries code or calls arbitrary TensorFlow ops by name.
_CODE_LAYERS = frozenset({"Lambda", "TFOpLambda", "SlicingOpLambda", "__lambda__"})
_KERAS_MODULES = ("keras", "tf_keras")
_CONFIG_BYTES = 64 * 2**20  # a model config is kilobytes; more is not a model
HDF5_SUFFIXES = (".h5", ".hdf5")


def split_weights_source(text: str) -> tuple[str, str | None]:
    """``"resnet50"`` -> ``("resnet50", None)``; ``"resnet50:/path/w.h5"`` -> ``("resnet50", "/path/w.h5")``.

    Anything else is returned as ``(text, None)`` (a file path, or an unknown name).
    """
    name, colon, rest = text.partition(":")
    if colon and name.lower() in IMAGE_ENCODERS and rest:
        return name.lower(), rest
    return text, None


def build_architecture(name: str, size: int, weights: str | Path | None) -> Any:
    """A pooled ``keras.applications`` CNN: ImageNet weights (``weights="imagenet"``), a weights file, or none."""
    tensorflow()
    import tf_keras

    cls, _, _ = IMAGE_ENCODERS[name]
    constructor = getattr(tf_keras.applications, cls)
    if weights == "imagenet":
        try:
            return constructor(include_top=False, pooling="avg", weights="imagenet", input_shape=(size, size, 3))
        except Exception as error:  # noqa: BLE001  (keras wraps download failures in plain Exception)
            raise ModelUnavailableError(
                f"cannot get the ImageNet weights of {cls} ({str(error).splitlines()[0][:120]}); connect once, "
                f"or pass a weights file with --image-encoder {name}:FILE"
            ) from error
    model = constructor(include_top=False, pooling="avg", weights=None, input_shape=(size, size, 3))
    if weights is not None:
        load_weights_only(model, Path(weights), what=f"{cls} weights")
    return model


def load_weights_only(model: Any, path: Path, *, what: str) -> None:
    """Read only the weight arrays of ``path`` into ``model`` (an HDF5 file, whole-model or weights-only)."""
    if not path.is_file():
        raise ModelLoadError(f"no {what} file at {path}")
    try:
        # Weight arrays matched layer by layer; a whole model's config in the same file is never read.
        model.load_weights(str(path))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"{path} does not hold {what}: {str(error).splitlines()[0][:200]}") from error


def refuse_whole_model_hdf5(path: Path) -> ModelLoadError:
    """The error for a Keras model saved whole as HDF5, which xmr never deserialises."""
    names = ", ".join(IMAGE_ENCODERS)
    return ModelLoadError(
        f"{path} is a Keras HDF5 file; xmr reads only weights from those, because loading a whole model from "
        f"HDF5 can run code (Lambda layers). Pass its architecture with it (--image-encoder NAME:{path.name}, "
        f"NAME one of {names}) or save the model as .keras (loaded in safe mode, no Lambda layers)"
    )


def load_keras_archive(path: Path) -> Any:
    """A ``.keras`` model whose config names built-in Keras objects only; loaded in safe mode, uncompiled."""
    check_keras_archive(path)
    tensorflow()
    import tf_keras

    try:
        return tf_keras.models.load_model(str(path), compile=False, safe_mode=True)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ModelLoadError(f"cannot load the Keras model {path}: {str(error).splitlines()[0][:200]}") from error


def check_keras_archive(path: Path) -> None:
    """Raise ModelLoadError unless every object named in ``path``'s config is a built-in Keras one."""
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo("config.json").file_size > _CONFIG_BYTES:
                raise ModelLoadError(f"{path}: its config.json is too large to be a model config")
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile) as error:
        raise ModelLoadError(f"{path} is not a .keras model archive ({type(error).__name__})") from error
    for entry in _objects(config):
        class_name = str(entry.get("class_name"))
        module = entry.get("module")
        if class_name in _CODE_LAYERS:
            raise ModelLoadError(f"{path} contains a {class_name} layer, which is code; xmr does not load it")
        if class_name == "function":
            # Keras looks functions up by name, in 'builtins' too: only its own activations may be named.
            if not _is_keras_activation(entry.get("config")):
                raise ModelLoadError(f"{path} refers to the function '{entry.get('config')}', which is not a Keras activation")
        elif module is not None and not _is_keras_module(str(module)):
            raise ModelLoadError(f"{path} refers to '{module}.{class_name}', which is not part of Keras; xmr does not load it")
        registered = entry.get("registered_name")
        if registered not in (None, class_name) and ">" in str(registered):
            raise ModelLoadError(f"{path} needs the custom object '{registered}' (code); xmr does not load it")


def _is_keras_activation(name: object) -> bool:
    tensorflow()
    import tf_keras

    return isinstance(name, str) and name.isidentifier() and callable(getattr(tf_keras.activations, name, None))


def _is_keras_module(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in _KERAS_MODULES)


def _objects(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every dict with a ``class_name`` in a Keras config, however deeply nested (bounded)."""
    if depth > 200:
        raise ModelLoadError("the model config is nested too deeply to check")
    if isinstance(node, dict):
        if "class_name" in node:
            yield node
        for value in node.values():
            yield from _objects(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value, depth + 1)
