"""A package adds an action through the `jobstream.actions` entry points (docs/actions.md).

The plugin is a real installed distribution (a `.dist-info` with `entry_points.txt` on
PYTHONPATH), found by importlib.metadata in a real `jobstream` process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .cli_support import Cli

PLUGIN = """
from typing import Literal

from jobstream.events.documents.models import ActionStep
from jobstream.runners.actions import Action, ActionJob


class GreetStep(ActionStep):
    action: Literal["greet"]
    who: str
    loud: bool = False


class Greet(Action[GreetStep]):
    step = GreetStep

    async def run(self, step: GreetStep, job: ActionJob) -> str | None:
        greeting = f"hello {job.interpolate(step.who)}"
        if step.who == "nobody":
            return "there is nobody to greet"
        job.context["greeting"] = greeting.upper() if step.loud else greeting
        await job.log(job.context["greeting"])
        return None
"""

DOCUMENT = """\
name: greeter
stages:
  - name: greet
    steps:
      - action: greet
        who: "%{job_name}"
        loud: true
  - name: check
    steps:
      - action: command
        cmd: test "%{greeting}" = "HELLO GREETER"
sequence:
  - stage: greet
  - stage: check
    only_if: "'%{greeting}' === 'HELLO GREETER'"
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    info = site / "greet_action-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "greet_action.py").write_text(PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: greet-action\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[jobstream.actions]\ngreet = greet_action:Greet\n")
    return site


def test_an_installed_plugin_action_validates_and_runs(
    cli: Cli, plugin: Path, tmp_path: Path
) -> None:
    document = tmp_path / "greet.yml"
    document.write_text(DOCUMENT)
    cli.env["PYTHONPATH"] = str(plugin)
    linted = cli("lint", str(document))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    ran = cli("run", str(document))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "HELLO GREETER" in ran.stdout
    assert "SUCCEEDED" in ran.stdout


def test_the_plugins_fields_are_validated(cli: Cli, plugin: Path, tmp_path: Path) -> None:
    document = tmp_path / "greet.yml"
    document.write_text(DOCUMENT.replace('who: "%{job_name}"', "whom: x"))
    cli.env["PYTHONPATH"] = str(plugin)
    linted = cli("lint", str(document))
    assert linted.returncode == 4  # INVALID_DOCUMENT
    assert "stages[0].steps[0].who: required field 'who' is missing" in linted.stdout
    assert "stages[0].steps[0].whom: unknown key 'whom'" in linted.stdout


def test_a_failing_plugin_step_fails_the_stage(cli: Cli, plugin: Path, tmp_path: Path) -> None:
    document = tmp_path / "greet.yml"
    document.write_text(DOCUMENT.replace('who: "%{job_name}"', "who: nobody"))
    cli.env["PYTHONPATH"] = str(plugin)
    ran = cli("run", str(document))
    assert ran.returncode == 1
    assert "there is nobody to greet" in ran.stdout + ran.stderr


def test_without_the_plugin_the_action_is_unknown(cli: Cli, tmp_path: Path) -> None:
    document = tmp_path / "greet.yml"
    document.write_text(DOCUMENT)
    linted = cli("lint", str(document))
    assert linted.returncode == 4  # INVALID_DOCUMENT
    assert "unknown action 'greet'; known actions: cobertura, command, email" in linted.stdout
