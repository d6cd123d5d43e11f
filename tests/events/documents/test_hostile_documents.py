"""Documents built to break the reader: each is refused with one problem naming the line
(or the field), never with the parser's or constructor's own exception."""

from __future__ import annotations

import json
import time

import pytest

from jobstream.events.documents.validation import (
    MAX_DATA_PROBLEMS,
    Problem,
    check_document,
    load_document,
)
from jobstream.events.documents.yamlsafe import MAX_DEPTH, MAX_NODES
from jobstream.events.errors import DocumentError

HEAD = "name: job\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
STEP = "      - action: command\n        cmd: echo\n"


def refused(text: str, source: str = "job.yml") -> list[Problem]:
    with pytest.raises(DocumentError) as caught:
        load_document(text.encode(), source)
    return [p for p in caught.value.problems if p.severity == "error"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2001-13-45", "'2001-13-45' is not a valid date (month must be in 1..12)"),
        ("2001-02-30", "is not a valid date (day is out of range for month)"),
        ("!!int abc", "'abc' is not a valid integer"),
        ("!!float abc", "'abc' is not a valid number"),
        ("!!bool maybe", "'maybe' is not a valid boolean"),
        ("9" * 5000, "is not a valid integer (it has 5000 digits)"),
        ("!!timestamp never", "'never' is not a valid date"),
    ],
)
def test_values_the_constructor_cannot_build(value: str, words: str) -> None:
    (problem,) = refused(HEAD + STEP + f"environment:\n  v: {value}\n")
    assert words in problem.message
    assert "quote it" in problem.message
    assert problem.line == 9


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2001-01-01", "a date (2001-01-01) cannot be held in a job event"),
        ("2001-01-01 10:00:00", "a time (2001-01-01T10:00:00) cannot be held"),
        ("!!binary aGVsbG8=", "binary data cannot be held in a job event"),
        ("!!set {a: null}", "a set cannot be held in a job event"),
        ("!!pairs [a: 1]", "a pair cannot be held"),
        (".nan", "NaN is not a number JSON can hold"),
        ("-.inf", "-Infinity is not a number JSON can hold"),
    ],
)
def test_values_no_event_can_carry(value: str, words: str) -> None:
    (problem,) = refused(HEAD + STEP + f"environment:\n  v: {value}\n")
    assert words in problem.message
    assert problem.path.startswith("environment.v")
    assert problem.line == 9


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ('cmd: "echo \\0"', "stages[0].steps[0].cmd"),
        ('cmd: echo\n        args: ["a\\0b"]', "stages[0].steps[0].args[0]"),
        ('cmd: echo\n        env: {A: "a\\0b"}', "stages[0].steps[0].env.A"),
        ('cmd: echo\n        env: {"A\\0": b}', "stages[0].steps[0].env"),
        ('cmd: echo\n        path: "a\\0b"', "stages[0].steps[0].path"),
    ],
)
def test_nul_in_what_becomes_a_command_a_path_or_a_variable(step: str, path: str) -> None:
    (problem,) = refused(HEAD + f"      - action: command\n        {step}\n")
    assert problem.path == path
    assert "NUL" in problem.message


def test_lone_surrogates_in_json() -> None:
    raw = {"name": "job", "sequence": [{"stage": "s"}], "environment": {"\ud800": "\udfff"}}
    text = json.dumps(raw)  # ASCII escapes: valid JSON, but not text once read
    (problem,) = refused(text, "job.json")
    assert "lone surrogate (U+D800)" in problem.message
    # The YAML escape is refused by the reader already.
    (problem,) = refused(HEAD + STEP + 'environment: {v: "\\ud800"}\n')
    assert problem.message.startswith("invalid YAML:")


def test_a_json_number_too_long_to_read() -> None:
    text = '{"name": "job",\n "sequence": [{"stage": "s"}],\n "retry": ' + "7" * 5000 + "}"
    (problem,) = refused(text, "job.json")
    assert problem.message == "invalid JSON: a number of 5000 digits is too long to read"
    assert problem.line == 3


def test_deep_nesting_is_refused_on_both_formats() -> None:
    deep = "[" * 300 + "]" * 300
    (problem,) = refused(HEAD + STEP + f"environment: {{v: {deep}}}\n")
    assert problem.message == f"the document nests too deeply (more than {MAX_DEPTH} levels)"
    assert problem.line == 8
    text = '{"name": "job", "sequence": [{"stage": "s"}], "environment": {"v": ' + deep + "}}"
    (problem,) = refused(text, "job.json")
    assert "nests too deeply" in problem.message
    # What aliases nest counts as well.
    anchor = "&a " + "[" * 40 + "]" * 40
    aliased = "[" * 40 + "*a" + "]" * 40
    (problem,) = refused(HEAD + STEP + f"environment: {{a: {anchor}, b: {aliased}}}\n")
    assert "nest too deeply" in problem.message


def test_a_huge_document_is_refused_fast_and_for_what_it_is() -> None:
    # About 1 MB, 480k nodes: the limit is met while it is read, and the message says
    # what is wrong (its size), not that it might be an alias bomb.
    text = "name: job\nenvironment:\n  k: [" + ",".join(["1"] * 240_000) + "]\n"
    started = time.process_time()
    (problem,) = refused(text)
    assert time.process_time() - started < 3
    assert problem.message == f"the document has more than {MAX_NODES} values, lists and mappings"
    assert problem.line == 3
    as_json = json.dumps({"name": "job", "environment": {"k": [1] * 240_000}})
    started = time.process_time()
    (problem,) = refused(as_json, "job.json")
    assert time.process_time() - started < 3
    assert "more than" in problem.message


def test_many_bad_values_are_listed_up_to_a_bound() -> None:
    values = "".join(f"  v{i}: !!binary aGk=\n" for i in range(MAX_DATA_PROBLEMS + 20))
    problems = refused(HEAD + STEP + "environment:\n" + values)
    assert len(problems) == MAX_DATA_PROBLEMS + 1
    assert sum("the first 50 are shown" in p.message for p in problems) == 1


@pytest.mark.parametrize(
    "secret", ["123456", "true", "2001-01-01", "[314159]", "{pin: 271828}", "6.0221"]
)
def test_a_secret_that_is_not_text_is_not_echoed(secret: str) -> None:
    problems = refused(HEAD + STEP + f"secrets:\n  pin: {secret}\n")
    assert problems
    assert problems[0].path == "secrets.pin"
    for problem in problems:
        for digits in ("123456", "2001", "314159", "271828", "6.0221", "true"):
            assert digits not in problem.message


def test_parsed_data_gets_the_same_checks() -> None:
    # What the API reads as JSON, or a worker reads from the log.
    document, problems = check_document(
        {"name": "job", "sequence": [{"stage": "s"}], "environment": {"when": {1, 2}}}
    )
    assert document is None
    assert [p.path for p in problems if p.severity == "error"] == ["environment.when"]


def test_ordinary_dates_and_numbers_quoted_still_work() -> None:
    text = HEAD + STEP + 'environment: {day: "2001-01-01", n: 3, f: 2.5, ok: true, none: null}\n'
    document = load_document(text.encode(), "job.yml").document
    assert document.environment == {"day": "2001-01-01", "n": 3, "f": 2.5, "ok": True, "none": None}
