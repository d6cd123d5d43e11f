"""Lint about modifier expressions where Cyclid's evaluator surprises (never an error)."""

import json

import pytest

from jobstream.events.documents.validation import load_document


def _warnings(expression: str) -> list[str]:
    raw = {
        "name": "j",
        "environment": {"os": "linux", "empty": ""},
        "stages": [{"name": "a", "steps": [{"action": "log", "message": "x"}]}],
        "sequence": [{"stage": "a", "fail_if": expression}],
    }
    validated = load_document(json.dumps(raw), "job.json")
    return [p.message for p in validated.warnings if p.path == "sequence[0].fail_if"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # what Cyclid does as one would expect: nothing to say
        ("'%{branch}' == 'master'", []),
        ("'a' != 'b'", []),
        ("1 < 2", []),
        ("%{a}5 >= 10", []),
        # variables the document or jobstream always sets are never empty
        ("%{os} < 5", []),
        ("%{job_id} < 5", []),
        ("%{empty} < 5", ["left operand is only '%{empty}'"]),
        # numbers compared as text
        ("1.0 == 1", ["compares numbers as text"]),
        ("%{count} != 0", ["compares numbers as text", "left operand is only '%{count}'"]),
        ("2 eq %{n}%", ["compares numbers as text", "right operand is only '%{n}%'"]),
        # an operand that may be empty
        ("%{simplecov_coverage} < 85%", ["left operand is only '%{simplecov_coverage}'"]),
        ("90 > %{cobertura_line_rate}", ["right operand is only '%{cobertura_line_rate}'"]),
        ("%{a} < %{b}\n", ["left operand is only '%{a}'", "right operand is only '%{b}'"]),
        # a quote inside a quoted text: the greedy pattern decides where each text ends
        ("'O'Brien' == '%{name}'", ['greedy, so the text compared on the left is "O\'Brien"']),
        # a form Cyclid can never evaluate
        ("%{github_branch} === 'master'", ["matches neither of Cyclid's forms"]),
        ("1==1", ["matches neither of Cyclid's forms"]),
        ("'a' eq 'a'", ["matches neither of Cyclid's forms"]),
        ("-1 < 0", ["matches neither of Cyclid's forms"]),
    ],
)
def test_modifier_warnings(expression: str, expected: list[str]) -> None:
    warnings = _warnings(expression)
    assert len(warnings) == len(expected), warnings
    for message, part in zip(warnings, expected, strict=True):
        assert part in message


def test_the_warning_has_the_line_of_the_modifier() -> None:
    text = b"""name: j
stages:
  - name: a
    steps:
      - action: log
        message: x
sequence:
  - stage: a
    fail_if: "%{coverage} < 85%"
"""
    (problem,) = load_document(text, "job.yml").warnings
    assert (problem.line, problem.severity, problem.path) == (9, "warning", "sequence[0].fail_if")
