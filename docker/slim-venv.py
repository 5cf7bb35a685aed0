"""Shrinks the image's virtualenv (run in the build stage only).

Third-party packages are kept as bytecode only: their sources are compiled
to legacy .pyc files next to where the .py files were, then removed. Our own
packages keep their sources, so tracebacks through sandbox code show lines.
Also removes what only installing or building needs: pip, setuptools, type
stubs and C/Cython sources.
"""

from __future__ import annotations

import compileall
import shutil
import sys
from pathlib import Path

OWN = {"sandbox_common", "user_service", "catalog_service", "activity_service", "sandbox_worker"}
BUILD_ONLY = {"pip", "setuptools", "pkg_resources", "_distutils_hack", "wheel"}
SOURCE_SUFFIXES = {".pyi", ".pyx", ".pxd", ".c", ".h", ".cpp"}


def main(venv: Path) -> None:
    (site,) = venv.glob("lib/python3*/site-packages")
    for entry in site.iterdir():
        name = entry.name.split("-")[0]
        if name in BUILD_ONLY or entry.name == "distutils-precedence.pth":
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    for path in list(site.rglob("*")):
        if path.is_file() and path.suffix in SOURCE_SUFFIXES:
            path.unlink()
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache)
    for entry in site.iterdir():
        if entry.name in OWN or entry.name.endswith((".dist-info", ".pth")):
            continue
        if entry.is_dir():
            if not compileall.compile_dir(entry, quiet=1, legacy=True, workers=0):
                raise SystemExit(f"compiling {entry} failed")
            sources = list(entry.rglob("*.py"))
        elif entry.suffix == ".py":
            if not compileall.compile_file(entry, quiet=1, legacy=True):
                raise SystemExit(f"compiling {entry} failed")
            sources = [entry]
        else:
            continue
        for source in sources:
            source.unlink()
    # Our packages: ordinary __pycache__ next to their sources.
    for name in OWN:
        if (site / name).is_dir():
            compileall.compile_dir(site / name, quiet=1, workers=0)
    for script in (venv / "bin").iterdir():
        if script.name.startswith(("pip", "easy_install", "wheel")):
            script.unlink()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
