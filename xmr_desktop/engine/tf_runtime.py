"""Importing TensorFlow quietly and once, and telling which device it computes on.

TensorFlow, absl and transformers print several lines at import; a photo app's terminal and log stay clean, so
their C++ and Python loggers are turned down before the first import. Nothing here runs at module import:
``xmr --help`` and the window appear before TensorFlow is ever loaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from functools import cache
from types import ModuleType

log = logging.getLogger(__name__)


@cache
def tensorflow() -> ModuleType:
    """Import TensorFlow (and the transformers TF stack) with start-up noise silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # transformers' TF classes are written for Keras 2, which the tf-keras package provides.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    warnings.filterwarnings("ignore", module=r"(tensorflow|tf_keras|keras|transformers)(\.|$)")
    # TensorFlow's native libraries carry a SQLite of their own (3.50, built without FTS5) whose symbols Python's
    # sqlite3 extension binds to when it is loaded after them: the index's keyword search then fails with "no
    # such module: fts5". Loaded first, sqlite3 keeps the system's library.
    import sqlite3  # noqa: F401
    with native_stderr_silenced():
        import tensorflow as tf
        import tf_keras  # noqa: F401  (loads a second copy of TF's native logging, which prints again)
        import transformers
        from transformers import TFCLIPModel  # noqa: F401

    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return tf


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while native libraries load.

    TensorFlow 2.17+ logs through absl before ``InitializeLog`` runs, which ignores ``TF_CPP_MIN_LOG_LEVEL``;
    only the descriptor itself can be silenced (LiteRT's C++ logger too). Python exceptions still propagate.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. a GUI launched without a console)
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@cache
def has_gpu() -> bool:
    """Whether TensorFlow sees a GPU it will compute on."""
    return bool(tensorflow().config.list_physical_devices("GPU"))


@cache
def compute_device() -> str:
    """A human-readable name of the device TensorFlow will run the model on, e.g. ``GPU: NVIDIA L4`` or ``CPU``."""
    tf = tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", gpus[0].name)
        more = f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else ""
        device = f"GPU: {name}{more}"
    else:
        device = f"CPU ({os.cpu_count() or 1} cores)"
    log.info("TensorFlow %s computes on %s", tf.__version__, device)
    return device
