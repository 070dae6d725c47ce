"""When a model gets its LiteRT files: right after a download, right after training saves it, else at first load.

Exporting takes tens of seconds for ViT-B/32 (TensorFlow converts both towers and checks them), so it runs where
the user already waits for the model: as the last stage of a download (``prepare_for_litert``, the
``PrepareStep`` that ``downloads.install_model`` runs before it writes the marker), and after ``xmr finetune``
saves a model (``export_saved_model``). A model that got neither (a local folder, an export that failed, a
precision asked for later) is exported by ``load_embedder`` on first load, with the same progress report.

Nothing here imports TensorFlow until an export really runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xmr_desktop.engine.progress import STAGE_PREPARE, StageProgress
from xmr_desktop.errors import ModelLoadError

log = logging.getLogger(__name__)

# What the CLI prints and the window shows while a model is exported (``{name}`` is the model's short name).
PREPARING_LINE = "Preparing {name} for this CPU (LiteRT, once)…"


def litert_prepare_step() -> Any:
    """The download's prepare step where LiteRT computes, else None (TensorFlow needs no preparation).

    A module-level function, so the first-run dialog's download child process can receive it.
    """
    from xmr_desktop.engine.runtime import choose_runtime, litert_installed

    return prepare_for_litert if litert_installed() and choose_runtime() == "litert" else None


def prepare_for_litert(ready: Path, on_stage: StageProgress) -> Mapping[str, Any] | None:
    """Export a freshly downloaded, converted model folder to LiteRT; returns the marker's ``litert`` record.

    Runs before ``install_model`` writes the marker and renames the folder into place, so the record travels
    in the marker with the folder. A failed export does not fail the download: the model loads on TensorFlow
    or is exported again at first load, and the reason is in the log.
    """
    from xmr_desktop.engine.litert_export import export_litert
    from xmr_desktop.engine.litert_files import LITERT_SUBDIR, MARKER_KEY
    from xmr_desktop.engine.precision import litert_image_precision
    from xmr_desktop.engine.runtime import litert_installed

    if not litert_installed():
        return None
    ready = Path(ready)
    try:
        record = export_litert(
            ready, ready / LITERT_SUBDIR, None, precisions=(litert_image_precision(),),
            progress=lambda _stage, fraction: on_stage(STAGE_PREPARE, fraction),
        )
    except (ModelLoadError, OSError, ValueError, RuntimeError) as error:
        log.warning("could not export %s to LiteRT after its download (%s); it is tried again at first load", ready, error)
        return None
    return {MARKER_KEY: record}


def export_saved_model(model_dir: Path, models_dir: Path, progress: StageProgress | None = None) -> bool:
    """Export a model training just saved (``xmr finetune``), when LiteRT is the runtime; True if it is ready.

    Training has TensorFlow and the weights loaded already, so this costs the conversion only, and the first
    search with the new model starts at LiteRT's speed. False (reason in the log) when TensorFlow computes
    here or the export was rejected; the model then loads on TensorFlow.
    """
    from xmr_desktop.engine.runtime import choose_runtime, litert_installed

    if not litert_installed() or choose_runtime() != "litert":
        return False
    from xmr_desktop.engine.litert_export import ensure_litert
    from xmr_desktop.engine.precision import litert_image_precision

    return ensure_litert(Path(model_dir), Path(models_dir), precision=litert_image_precision(), progress=progress) is not None
