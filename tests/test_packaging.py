"""The wheel holds one import name, `jobstream`, with every package, its py.typed and the
web page's files; what pyproject.toml lists as packages is every package folder there is.

Installing the wheel into a fresh venv and running it is `.ci/check-wheel`'s job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

import pytest

from .wheel_support import ROOT, build_wheel, install_wheel

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
STATIC = ROOT / "jobstream" / "api" / "static"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def wheel_files(wheel: Path) -> dict[PurePosixPath, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {PurePosixPath(name): archive.read(name) for name in archive.namelist()}


def _package_files(files: dict[PurePosixPath, bytes]) -> set[PurePosixPath]:
    return {path for path in files if not path.parts[0].endswith(".dist-info")}


def test_jobstream_is_the_only_top_level_name(wheel_files: dict[PurePosixPath, bytes]) -> None:
    (top_level,) = [v for p, v in wheel_files.items() if p.name == "top_level.txt"]
    assert top_level.decode().split() == ["jobstream"]
    outside = sorted(str(p) for p in _package_files(wheel_files) if p.parts[0] != "jobstream")
    assert outside == []


def test_every_package_ships_py_typed(wheel_files: dict[PurePosixPath, bytes]) -> None:
    packages = {p.parent for p in wheel_files if p.name == "__init__.py"}
    assert PurePosixPath("jobstream/events/log") in packages
    assert sorted(str(p) for p in packages if p / "py.typed" not in wheel_files) == []


def test_the_web_page_files_are_in_the_wheel(wheel_files: dict[PurePosixPath, bytes]) -> None:
    shipped = {p.name for p in wheel_files if p.parent == PurePosixPath("jobstream/api/static")}
    assert "index.html" in shipped
    assert shipped == {p.name for p in STATIC.iterdir() if p.is_file()}


def _package_folders() -> dict[str, Path]:
    """Every folder holding an __init__.py under the folders that package-dir maps, by the
    dotted name it installs as."""
    found: dict[str, Path] = {}
    for name, folder in SETUPTOOLS["package-dir"].items():
        top = ROOT / folder
        for init in top.rglob("__init__.py"):
            found[".".join([name, *init.parent.relative_to(top).parts])] = init.parent
    return found


def test_pyproject_lists_every_package_folder() -> None:
    assert sorted(SETUPTOOLS["packages"]) == sorted(_package_folders())


def test_every_folder_of_modules_is_a_package() -> None:
    """A folder of modules without an __init__.py would be left out of the wheel silently."""
    for folder in SETUPTOOLS["package-dir"].values():
        for module in (ROOT / folder).rglob("*.py"):
            assert (module.parent / "__init__.py").exists(), f"{module.parent} has no __init__.py"


def test_the_docker_build_context_holds_what_the_wheel_build_reads() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    needed = ["pyproject.toml", PYPROJECT["project"]["readme"], *SETUPTOOLS["package-dir"].values()]
    excluded = [(n, p) for n in needed for p in patterns if fnmatch(n, p.strip("/"))]
    assert excluded == []


def test_the_installed_wheel_finds_its_web_page(wheel: Path, tmp_path: Path) -> None:
    """Imported from the installed wheel alone: the checkout is neither the working directory
    nor on sys.path, and every jobstream module loaded comes from the install."""
    target = install_wheel(wheel, tmp_path / "site")
    probe = (
        "import json, sys\n"
        "import jobstream.api.app as app\n"
        "print(json.dumps({'static': str(app.STATIC), 'path': sys.path, 'modules': "
        "[m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'jobstream']}))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert str(ROOT) not in loaded["path"]
    assert len(loaded["modules"]) > 1
    assert all(Path(f).is_relative_to(target) for f in loaded["modules"]), loaded["modules"]
    static = Path(loaded["static"])
    assert static.is_relative_to(target)
    assert (static / "index.html").is_file()
