from __future__ import annotations

from pathlib import Path

import pytest

from jobstream.events.documents.models import CommandStep, JobDocument, ScriptStep
from jobstream.events.documents.validation import load_document

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".yml", ".yaml", ".json"))


def load(name: str) -> JobDocument:
    path = EXAMPLES / name
    return load_document(path.read_bytes(), str(path)).document


def test_the_examples_are_there() -> None:
    assert {p.name for p in FILES} >= {
        "minimal.yml",
        "handlers.yml",
        "script.yml",
        "failing.yml",
        "hello.json",
        "secrets.yml",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_loads_without_problems(path: Path) -> None:
    loaded = load_document(path.read_bytes(), str(path))
    assert loaded.warnings == []


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix != ".json"], ids=lambda p: p.name)
def test_yaml_example_says_what_it_shows(path: Path) -> None:
    assert path.read_text().startswith("# ")


def test_minimal() -> None:
    document = load("minimal.yml")
    assert [s.name for s in document.stages] == ["hello"]
    assert document.stages[0].steps == [CommandStep(action="command", cmd="echo hello")]


def test_handlers_uses_every_modifier_and_both_handlers() -> None:
    document = load("handlers.yml")
    assert document.environment["os"] == "linux"
    entries = document.sequence
    assert "'%{os}' == 'linux'" in [e.only_if for e in entries]
    assert any(e.not_if for e in entries)
    assert any(e.fail_if and "%{" in e.fail_if for e in entries)
    assert any(e.on_success for e in entries)
    assert any(e.on_failure for e in entries)


def test_script_is_a_list_of_lines() -> None:
    (step,) = load("script.yml").stages[0].steps
    assert isinstance(step, ScriptStep)
    assert isinstance(step.script, list)
    assert step.text.startswith("#!/bin/sh\n")
    assert step.env
    assert "%{" in step.text


def test_failing_has_a_failure_handler() -> None:
    document = load("failing.yml")
    assert document.sequence[0].on_failure == "cleanup"
    assert "exit 3" in document.stages[0].steps[0].cmd  # type: ignore[union-attr]


def test_hello_json_uses_args() -> None:
    step = load("hello.json").stages[0].steps[0]
    assert isinstance(step, CommandStep)
    assert step.args


def test_secrets_echoes_its_secret() -> None:
    document = load("secrets.yml")
    (name,) = document.secrets
    commands = [s.cmd for s in document.stages[0].steps if isinstance(s, CommandStep)]
    assert any(f"%{{{name}}}" in cmd for cmd in commands)
