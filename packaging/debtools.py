"""Steps of ``packaging/build-deb`` that briefcase does not do itself (run with the briefcase venv's Python).

``python packaging/debtools.py check-config``
    Fail when ``[tool.briefcase]`` carries its own ``requires`` list: briefcase adds ``[project]``
    dependencies to it, so a second list could only drift (an unmarked ``pyside6-essentials`` once slipped
    past the ``python_version < '3.12'`` pin that keeps Python 3.11 off PySide6 6.12.0).
``python packaging/debtools.py console-scripts ROOT``
    Write ``ROOT/usr/bin/<name>`` for every ``[project.scripts]`` entry (``xmr``). Briefcase makes one
    launcher per app, the window's; these run the same bundle with the system Python the package targets.
``python packaging/debtools.py system-packages``
    Print the Debian packages the build needs: compilers and Python headers for briefcase's launcher, plus
    the app's ``system_requires`` and ``system_runtime_requires`` (briefcase checks those are installed too).
``python packaging/debtools.py compile ROOT``
    Compile the bundle's Python files to bytecode, as pip does on install. Briefcase removes every
    __pycache__, and the installed package cannot write one (root owns /usr): without them each start
    compiles TensorFlow's and transformers' Python modules again (their imports took 2.1x as long here).
``python packaging/debtools.py libraries ROOT``
    Run ``ldd`` on every shared library and program of the package; print the ones that need a library
    neither the package nor this system has (a missing Debian dependency, or a plugin to leave out).
``python packaging/debtools.py sizes ROOT [--deb FILE]``
    Print what makes up the installed package: the biggest top-level folders of ``app_packages`` and the rest.
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Ubuntu 22.04's system Python): briefcase brings tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
APP_NAME = "xmr-desktop"

# -I: no PYTHONPATH, user site or current directory; -S: not the system's dist-packages either (the bundle
# brings its own, as the briefcase launcher does); -B: never write .pyc under /usr (dpkg would not remove them).
_LAUNCHER = """\
#!/usr/bin/python{python} -IBS
# {name}: installed by the {app} package (packaging/debtools.py writes it from [project.scripts]).
import site
import sys

sys.path.append("/usr/lib/{app}/app")
site.addsitedir("/usr/lib/{app}/app_packages")

from {module} import {function}

sys.exit({function}())
"""


def load_pyproject() -> dict:
    with (REPO / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _requires_keys(table: dict, where: str) -> Iterator[str]:
    for key, value in table.items():
        if key == "requires":
            yield f"{where}.requires"
        elif isinstance(value, dict):
            yield from _requires_keys(value, f"{where}.{key}")


def check_config(pyproject: dict) -> list[str]:
    """Problems with the briefcase configuration that would make the package differ from ``pip install .``."""
    problems = [
        f"[{key}] is set: list dependencies once, in [project] dependencies (briefcase adds them)"
        for key in _requires_keys(pyproject.get("tool", {}).get("briefcase", {}), "tool.briefcase")
    ]
    if "dependencies" not in pyproject.get("project", {}):
        problems.append("[project] has no dependencies: the package would hold no TensorFlow, Qt or faiss")
    if APP_NAME not in pyproject.get("tool", {}).get("briefcase", {}).get("app", {}):
        problems.append(f"[tool.briefcase.app.{APP_NAME}] is missing: build-deb packages that app")
    return problems


# What briefcase's `linux system` build checks for on Debian (build-essential compiles the launcher against
# the system Python's headers), with python3-venv for build-deb's own venv.
BUILD_PACKAGES = ["python3-dev", "python3-venv", "build-essential", "dpkg-dev"]


def system_packages(pyproject: dict) -> list[str]:
    """Debian packages a build needs installed: ours, then the app's build and runtime requirements."""
    debian = pyproject["tool"]["briefcase"]["app"][APP_NAME].get("linux", {}).get("system", {}).get("debian", {})
    packages = BUILD_PACKAGES + debian.get("system_requires", []) + debian.get("system_runtime_requires", [])
    return list(dict.fromkeys(packages))


def write_console_scripts(pyproject: dict, root: Path, python: str) -> list[Path]:
    """Write a launcher in ``root/usr/bin`` for each ``[project.scripts]`` entry; return their paths."""
    written = []
    for name, target in pyproject["project"].get("scripts", {}).items():
        module, _, function = target.partition(":")
        if not function or "." in function:
            raise SystemExit(f"[project.scripts] {name} = {target!r}: expected 'package.module:function'")
        path = root / "usr" / "bin" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_LAUNCHER.format(python=python, name=name, app=APP_NAME, module=module, function=function))
        path.chmod(0o755)
        written.append(path)
    return written


def compile_bytecode(root: Path) -> tuple[int, list[str]]:
    """Write __pycache__/*.pyc for every .py under usr/lib; returns (files compiled, files that failed).

    The .pyc files name their sources by installed path (/usr/lib/...), and check them by modification time
    and size, which dpkg keeps. Some wheels ship .py files that are not Python 3 (templates, py2 examples);
    those fail here as they would on import, and are listed.
    """
    lib = root / "usr" / "lib" / APP_NAME
    sources = [p for p in lib.rglob("*.py") if p.is_file()]
    failed = []
    for source in sources:
        ok = compileall.compile_file(str(source), quiet=2, stripdir=str(root), prependdir="/")
        if not ok:
            failed.append(str(source.relative_to(root)))
    return len(sources) - len(failed), failed


def _elf_files(root: Path) -> Iterator[Path]:
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not (".so" in name or os.access(path, os.X_OK)):
                continue
            with path.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def unresolved_libraries(root: Path) -> dict[Path, list[str]]:
    """{ELF file: the libraries ``ldd`` cannot find for it} for every file of the package that has some."""
    unresolved = {}
    for path in _elf_files(root):
        # Wheels vendor libraries that name their siblings without a search path; the loader finds those
        # already loaded by the extension that pulled them in, so look beside the file too.
        env = {**os.environ, "LD_LIBRARY_PATH": str(path.parent)}
        result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
        missing = [line.split()[0] for line in result.stdout.splitlines() if "not found" in line]
        if missing:
            unresolved[path] = missing
    return unresolved


def _tree_bytes(path: Path) -> int:
    """Bytes on disk of a file or a folder (symlinks counted as themselves, not followed)."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        total += sum((Path(folder) / name).lstat().st_size for name in files)
    return total


def size_rows(root: Path, top: int = 15) -> list[tuple[str, int]]:
    """(label, bytes) for the ``top`` biggest entries of app_packages, then the rest of the package."""
    packages = root / "usr" / "lib" / APP_NAME / "app_packages"
    rows = sorted(((entry.name, _tree_bytes(entry)) for entry in packages.iterdir()), key=lambda r: -r[1])
    shown, others = rows[:top], rows[top:]
    result = [(f"app_packages/{name}", size) for name, size in shown]
    result.append((f"app_packages: {len(others)} others", sum(size for _, size in others)))
    result.append((f"usr/lib/{APP_NAME}/app (our code)", _tree_bytes(root / "usr" / "lib" / APP_NAME / "app")))
    rest = _tree_bytes(root / "usr") - _tree_bytes(root / "usr" / "lib" / APP_NAME)
    result.append(("usr/bin, usr/share (launchers, icons, docs)", rest))
    return result


def print_sizes(root: Path, deb: Path | None) -> None:
    rows = size_rows(root)
    total = sum(size for _, size in rows)
    print(f"Installed size {total / 1e6:,.0f} MB" + (f"; .deb file {deb.stat().st_size / 1e6:,.0f} MB" if deb else ""))
    for label, size in rows:
        print(f"  {size / 1e6:9,.1f} MB  {100 * size / total:5.1f}%  {label}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check-config")
    commands.add_parser("system-packages")
    scripts = commands.add_parser("console-scripts")
    scripts.add_argument("root", type=Path, help="the package root (the folder holding usr/)")
    compiling = commands.add_parser("compile")
    compiling.add_argument("root", type=Path)
    libraries = commands.add_parser("libraries")
    libraries.add_argument("root", type=Path)
    sizes = commands.add_parser("sizes")
    sizes.add_argument("root", type=Path)
    sizes.add_argument("--deb", type=Path)
    args = parser.parse_args(argv)

    pyproject = load_pyproject()
    if args.command == "check-config":
        problems = check_config(pyproject)
        for problem in problems:
            print(f"pyproject.toml: {problem}", file=sys.stderr)
        return 1 if problems else 0
    if args.command == "system-packages":
        print(" ".join(system_packages(pyproject)))
        return 0
    if args.command == "console-scripts":
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        for path in write_console_scripts(pyproject, args.root, python):
            print(f"wrote /{path.relative_to(args.root)}")
        return 0
    if args.command == "compile":
        compiled, failed = compile_bytecode(args.root)
        print(f"compiled {compiled} Python files; {len(failed)} are not Python 3 and stay uncompiled: {failed}")
        return 0
    if args.command == "libraries":
        unresolved = unresolved_libraries(args.root)
        for path, missing in sorted(unresolved.items()):
            print(f"/{path.relative_to(args.root)} needs {', '.join(missing)}")
        print(f"{len(unresolved)} files of the package need libraries this system lacks")
        return 0
    print_sizes(args.root, args.deb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
