"""`xmr` on LiteRT, as a user runs it: the first load prepares the model once and says so, and after that
indexing, searching and `xmr status` import neither TensorFlow nor transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from synthetic_shapes import all_items, make_folder

HEAVY = ("tensorflow", "transformers", "tf_keras", "keras")

# Runs `xmr` in this process and reports which heavy packages it imported, as the last line of stdout.
_RUN_XMR = textwrap.dedent(
    """
    import json, sys
    from xmr_desktop.cli import main
    code = main(sys.argv[1:])
    heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
    print(json.dumps({"code": code, "heavy": heavy}))
    """ % (HEAVY,)
)


def _xmr(env: dict[str, str], *argv: str) -> tuple[dict, list[str], str]:
    done = subprocess.run([sys.executable, "-c", _RUN_XMR, *argv], capture_output=True, text=True, env=env, timeout=600)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, done.stderr
    return json.loads(lines[-1]), lines[:-1], done.stderr


def test_after_the_one_time_export_index_search_and_status_need_no_tensorflow(
    trained_model_dir: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "photos-2023", tmp_path / "photos-2024"
    make_folder(first, all_items()[:4], rng=np.random.default_rng(1))
    make_folder(second, all_items(), rng=np.random.default_rng(2))
    env = {**os.environ, "XMR_DATA_DIR": str(tmp_path / "data"), "XMR_RUNTIME": "auto", "XMR_PRECISION": "float32",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    model = str(trained_model_dir)
    preparing = f"Preparing {model} for this CPU (LiteRT, once)…"

    # First use: the export runs (TensorFlow converts the towers), announced on stderr.
    result, out, err = _xmr(env, "--model", model, "index", str(first))
    assert result["code"] == 0 and out[0].startswith("indexed 4 "), err
    assert preparing in err and "done in" in err

    # New photos: indexed on LiteRT, nothing prepared again, no TensorFlow or transformers imported.
    result, out, err = _xmr(env, "--model", model, "index", str(second))
    assert result == {"code": 0, "heavy": []}, err
    assert out[0].startswith(f"indexed {len(all_items())} ") and "Preparing" not in err

    result, out, err = _xmr(env, "--model", model, "search", "a red circle", "--top", "3", "--json")
    assert result == {"code": 0, "heavy": []}, err
    hits = [json.loads(line) for line in out]
    assert len(hits) == 3 and Path(hits[0]["path"]).name.startswith("red_circle_"), hits

    result, out, err = _xmr(env, "--model", model, "status", "--json")
    assert result == {"code": 0, "heavy": []}, err
    status = json.loads(out[-1])
    assert "LiteRT" in status["device"] and status["image_precision"] == "float32"
