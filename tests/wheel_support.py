"""The wheel as pip builds it, installed where nothing of the checkout can be imported instead.

Used by tests/test_packaging.py and tests/test_imports.py; `.ci/check-wheel` does the slow
part (a fresh venv with the dependencies, a job, a running server).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "build_wheel", "install_wheel"]

ROOT = Path(__file__).resolve().parents[1]

# Left out of the copy that is built. build/ above all: setuptools' build/lib keeps modules
# deleted since the last build, and they would be packaged as if they still existed.
_NOT_SOURCE_AT_ROOT = {".git", ".venv", ".jobstream", "build", "dist", "tests"}
_NOT_SOURCE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache")


def _ignore(directory: str, names: list[str]) -> set[str]:
    ignored = set(_NOT_SOURCE(directory, names))
    if Path(directory) == ROOT:
        ignored |= _NOT_SOURCE_AT_ROOT.intersection(names)
    return ignored


def _pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def build_wheel(workdir: Path) -> Path:
    """Build the wheel from a clean copy of the checkout into `workdir`; return its path.

    The test extra holds the build backend, so no isolated build environment is set up
    (it would download setuptools and take four times as long)."""
    source = workdir / "source"
    shutil.copytree(ROOT, source, ignore=_ignore)
    dist = workdir / "dist"
    _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dist), str(source))
    (wheel,) = dist.glob("jobstream-*.whl")
    return wheel


def install_wheel(wheel: Path, target: Path) -> Path:
    """Install `wheel` alone (its dependencies are this venv's) into `target`; return it."""
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    return target
