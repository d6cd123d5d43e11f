"""Each package keeps its one import rule: the import-linter contracts in pyproject.toml,
checked against the installed wheel (docs/design.md says why each rule is what it is)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .wheel_support import ROOT, build_wheel, install_wheel

PYPROJECT = ROOT / "pyproject.toml"
CONTRACTS = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("imports")
    return install_wheel(build_wheel(work), work / "site")


def _lint(site: Path, contract: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the package installed in `site`; it runs outside the checkout, so it
    neither finds the source folders nor leaves a cache there."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--contract", contract, str(PYPROJECT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(site)},
    )


@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS])
def test_contract_is_kept(installed: Path, contract: str, tmp_path: Path) -> None:
    result = _lint(installed, contract, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_package_has_a_rule() -> None:
    packages = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-dir"]
    checked = {m for c in CONTRACTS for m in c.get("source_modules", c.get("containers", []))}
    assert sorted(set(packages) - {"jobstream"} - checked) == []


def test_a_broken_rule_is_reported(installed: Path, tmp_path: Path) -> None:
    """The linter reads the installed tree: a module added there that breaks a rule fails
    the check, naming the import."""
    site = tmp_path / "site"
    shutil.copytree(installed, site)
    (site / "jobstream" / "runners" / "leak.py").write_text(
        "from jobstream.dispatcher import worker\n"
    )
    result = _lint(site, "runners", tmp_path)
    assert result.returncode != 0
    assert "jobstream.runners.leak -> jobstream.dispatcher" in result.stdout


def test_importing_events_loads_no_heavy_dependency(installed: Path, tmp_path: Path) -> None:
    """An event model is needed everywhere; the document language (yaml, cryptography) and
    the Kafka client are not."""
    probe = (
        "import json, sys\n"
        "import jobstream.events\n"
        "print(json.dumps({'file': jobstream.events.__file__, 'loaded': sorted(sys.modules)}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
    )
    assert result.returncode == 0, result.stderr
    probed = json.loads(result.stdout)
    assert Path(probed["file"]).is_relative_to(installed)
    heavy = {"yaml", "cryptography", "aiokafka"}
    assert sorted(m for m in probed["loaded"] if m.split(".")[0] in heavy) == []
