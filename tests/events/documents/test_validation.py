from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
import yaml

from jobstream.events.documents.models import CommandStep, ScriptStep, retry_limit
from jobstream.events.documents.plan import MAX_STAGE_RUNS
from jobstream.events.documents.validation import (
    MIN_SECRET_LENGTH,
    Problem,
    check_document,
    document_json_schema,
    format_problems,
    load_document,
)
from jobstream.events.documents.yamlsafe import MAX_ALIASES
from jobstream.events.errors import DocumentError


def doc(**overrides: Any) -> dict[str, Any]:
    """A valid document, with top-level keys replaced by `overrides`."""
    base: dict[str, Any] = {
        "name": "job",
        "stages": [
            {"name": "build", "steps": [{"action": "command", "cmd": "echo build"}]},
            {"name": "test", "steps": [{"action": "command", "cmd": "echo test"}]},
            {"name": "notify", "steps": [{"action": "log", "message": "done"}]},
        ],
        "sequence": [{"stage": "build"}, {"stage": "test"}],
    }
    base.update(overrides)
    return base


def errors(raw: Any) -> dict[str, str]:
    document, problems = check_document(raw)
    assert document is None
    return {p.path: p.message for p in problems if p.severity == "error"}


def rejected(text: str, source: str = "job.yml") -> list[Problem]:
    with pytest.raises(DocumentError) as caught:
        load_document(textwrap.dedent(text), source)
    assert caught.value.source == source
    return caught.value.problems


# --- shape, defaults -------------------------------------------------------------------


def test_defaults() -> None:
    document, problems = check_document(doc())
    assert problems == []
    assert document is not None
    assert document.version == "1.0.0"
    assert document.environment == {}
    assert document.secrets == {}


def test_script_given_as_lines_is_joined() -> None:
    raw = doc(stages=[{"name": "build", "steps": [{"action": "script", "script": ["a", "b"]}]}])
    raw["sequence"] = [{"stage": "build"}]
    document, _ = check_document(raw)
    assert document is not None
    step = document.stages[0].steps[0]
    assert isinstance(step, ScriptStep)
    assert step.text == "a\nb"


def test_yaml_version_number_becomes_text() -> None:
    loaded = load_document(yaml.safe_dump(doc()) + "version: 1.0\n", "job.yml")
    assert loaded.document.version == "1.0"


def test_yaml_version_keeps_the_digits_written() -> None:
    text = yaml.safe_dump(doc()) + "version: 1.10\n"
    text = text.replace("- stage: build", "- stage: build\n  version: 2")
    loaded = load_document(text, "job.yml")
    assert loaded.document.version == "1.10"
    assert loaded.document.sequence[0].version == "2"


def test_json_number_versions_are_text() -> None:
    raw = doc(version=2)
    raw["stages"][0]["version"] = 3
    document, _ = check_document(raw)
    assert document is not None
    assert (document.version, document.stages[0].version) == ("2", "3")


def test_top_level_must_be_a_mapping() -> None:
    assert "must be a mapping" in errors([1, 2])[""]
    problems = rejected("")
    assert "empty" in problems[0].message


def test_unknown_action_is_named_with_the_known_ones() -> None:
    raw = doc()
    raw["stages"][0]["steps"].append({"action": "deploy", "target": "prod"})
    message = errors(raw)["stages[0].steps[1].action"]
    assert "'deploy'" in message
    assert "cobertura, command, email, log, script, simplecov, slack" in message


@pytest.mark.parametrize(
    ("step", "path", "expected"),
    [
        ({"action": "slack"}, "stages[0].steps[1].subject", "required field 'subject'"),
        ({"action": "email", "to": "a@b"}, "stages[0].steps[1].message", "required field"),
        ({"action": "email", "message": "m"}, "stages[0].steps[1].to", "required field 'to'"),
        ({"action": "cobertura"}, "stages[0].steps[1].path", "required field 'path'"),
        ({"action": "simplecov", "path": 3}, "stages[0].steps[1].path", "must be a string"),
    ],
)
def test_the_fields_of_cyclids_other_actions_are_checked(
    step: dict[str, object], path: str, expected: str
) -> None:
    raw = doc()
    raw["stages"][0]["steps"].append(step)
    assert expected in errors(raw)[path]


def test_an_unknown_key_in_an_action_is_a_warning_naming_the_known_ones() -> None:
    raw = doc()
    raw["stages"][0]["steps"].append({"action": "slack", "subject": "s", "colour": "x"})
    document, problems = check_document(raw)
    assert document is not None  # Cyclid ignored such keys: the job still runs
    [warning] = [p for p in problems if p.path == "stages[0].steps[1].colour"]
    assert warning.severity == "warning" and "color" in warning.message and "url" in warning.message


def test_cyclids_other_actions_validate_with_their_defaults() -> None:
    raw = doc()
    raw["stages"][0]["steps"] += [
        {"action": "slack", "subject": "built"},
        {"action": "email", "to": "dev@example.org", "message": "built"},
        {"action": "cobertura", "path": "coverage.xml"},
        {"action": "simplecov", "path": "coverage/coverage.json"},
    ]
    document, problems = check_document(raw)
    assert document is not None and problems == []
    slack, email = document.stages[0].steps[1:3]
    assert (slack.color, email.color, email.subject) == (  # type: ignore[attr-defined]
        "good",
        "dodgerblue",
        "Cyclid notification",
    )


def test_step_without_action() -> None:
    raw = doc()
    raw["stages"][0]["steps"] = [{"cmd": "echo"}]
    assert "needs an action" in errors(raw)["stages[0].steps[0].action"]


def test_missing_required_fields_are_named() -> None:
    raw = doc()
    del raw["name"]
    raw["stages"][0]["steps"] = [{"action": "command"}]
    found = errors(raw)
    assert found["name"] == "required field 'name' is missing"
    assert found["stages[0].steps[0].cmd"] == "required field 'cmd' is missing"


def test_missing_sequence() -> None:
    raw = doc()
    del raw["sequence"]
    assert errors(raw) == {"sequence": "required field 'sequence' is missing"}


def test_wrong_types() -> None:
    raw = doc(environment=["os"], stages="build")
    raw["sequence"] = [{"stage": "build", "on_success": False}]
    found = errors(raw)
    assert found["environment"].startswith("must be a mapping, not a list")
    assert found["stages"].startswith("must be a list, not a string")
    assert found["sequence[0].on_success"].startswith("must be a string, not a boolean")


def test_script_of_numbers_is_one_error() -> None:
    raw = doc()
    raw["stages"][0]["steps"] = [{"action": "script", "script": [1, 2]}]
    assert errors(raw) == {
        "stages[0].steps[0].script": "must be a string or a list of strings, not a list"
    }


def test_empty_sequence_is_an_error() -> None:
    assert errors(doc(sequence=[])) == {"sequence": "must not be empty"}


def test_empty_stage_steps_is_an_error() -> None:
    raw = doc()
    raw["stages"][0]["steps"] = []
    assert errors(raw) == {"stages[0].steps": "must not be empty"}


def test_unknown_top_level_key_is_a_warning() -> None:
    document, problems = check_document(doc(notify_on="slack"))
    assert document is not None
    assert problems == [
        Problem(path="notify_on", message="unknown key 'notify_on' is ignored", severity="warning")
    ]


def warnings(raw: Any) -> dict[str, str]:
    document, problems = check_document(raw)
    assert document is not None
    assert all(p.severity == "warning" for p in problems)
    return {p.path: p.message for p in problems}


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (lambda raw: raw["stages"][0]["steps"][0], "stages[0].steps[0].shell"),
        (lambda raw: raw["sequence"][0], "sequence[0].shell"),
        (lambda raw: raw["stages"][0], "stages[0].shell"),
        (
            lambda raw: raw.setdefault("sources", [{"type": "git", "url": "https://h/r"}])[0],
            "sources[0].shell",
        ),
    ],
)
def test_unknown_keys_inside_are_warnings_as_cyclid_ignored_them(where: Any, path: str) -> None:
    raw = doc()
    where(raw)["shell"] = "bash"
    assert warnings(raw)[path].startswith("unknown key 'shell' is ignored (known: ")


def test_unknown_step_key_lists_the_keys_of_its_action() -> None:
    raw = doc()
    raw["stages"][0]["steps"][0]["shell"] = "bash"
    assert "args, cmd, env, path, sudo, timeout" in warnings(raw)["stages[0].steps[0].shell"]
    document, _ = check_document(raw)
    assert document is not None
    assert "shell" not in document.stages[0].steps[0].model_dump()


# --- secrets ---------------------------------------------------------------------------


def test_secret_values_must_be_strings() -> None:
    found = errors(doc(secrets={"pin": 1234}))
    assert found["secrets.pin"].startswith("a secret value must be a string, not a number")
    assert "quote it" in found["secrets.pin"]


def test_short_secret_is_a_warning() -> None:
    short = "x" * (MIN_SECRET_LENGTH - 1)
    document, problems = check_document(doc(secrets={"pin": short, "token": "long-enough"}))
    assert document is not None
    assert [(p.path, p.severity) for p in problems] == [("secrets.pin", "warning")]
    assert "still be masked" in problems[0].message


# --- stage names and flow --------------------------------------------------------------


def test_stages_the_job_does_not_define_are_warnings() -> None:
    # They may be stored stages: submission resolves them, or refuses the job.
    raw = doc(
        sequence=[
            {"stage": "build", "on_success": "package"},
            {"stage": "lint"},
            {"stage": "test", "on_failure": "deploy"},
        ]
    )
    document, problems = check_document(raw)
    assert document is not None
    found = {p.path: p.message for p in problems if p.severity == "warning"}
    assert set(found) == {"sequence[0].on_success", "sequence[1].stage", "sequence[2].on_failure"}
    assert found["sequence[1].stage"].startswith("stage 'lint' is not defined in this job")
    assert found["sequence[2].on_failure"] == (
        "stage 'deploy' is not defined in this job: it must be a stored stage when the job "
        "is submitted (defined stages: build, test, notify)"
    )


def test_an_empty_handler_name_is_an_error() -> None:
    raw = doc(sequence=[{"stage": "build", "on_failure": ""}])
    assert errors(raw) == {"sequence[0].on_failure": "a handler must name a stage"}


def test_duplicate_stage_names() -> None:
    raw = doc()
    raw["stages"].append({"name": "build", "steps": [{"action": "log", "message": "again"}]})
    assert errors(raw) == {"stages[3].name": "stage 'build' is already defined at stages[0]"}


def test_handlers_outside_the_sequence_are_fine() -> None:
    raw = doc(sequence=[{"stage": "build", "on_success": "notify", "on_failure": "notify"}])
    document, problems = check_document(raw)
    assert document is not None
    assert problems == []


def test_a_stage_listed_twice_is_not_a_loop() -> None:
    found = warnings(doc(sequence=[{"stage": "build"}, {"stage": "test"}, {"stage": "build"}]))
    assert list(found) == ["sequence[2].stage"]
    assert "listed again" in found["sequence[2].stage"]


def test_forward_handler_is_not_a_loop() -> None:
    raw = doc(sequence=[{"stage": "build", "on_failure": "notify"}, {"stage": "notify"}])
    assert warnings(raw) == {}


def test_self_loop_is_a_warning() -> None:
    raw = doc(sequence=[{"stage": "build", "on_failure": "build"}])
    assert warnings(raw) == {
        "sequence[0].on_failure": (
            "handler loop: stage 'build' is reachable from itself (build → build); "
            f"the runner ends the job FAILED after {MAX_STAGE_RUNS} stage runs"
        )
    }


def test_loop_through_fall_through() -> None:
    # build succeeds into test (the next entry); test's success goes back to build.
    raw = doc(sequence=[{"stage": "build"}, {"stage": "test", "on_success": "build"}])
    assert warnings(raw)["sequence[1].on_success"].startswith(
        "handler loop: stage 'build' is reachable from itself (build → test → build)"
    )


def test_a_guarded_listed_failure_handler_loop_is_accepted() -> None:
    # example-ruby-project a2c1f41: the listed `notify` falls through to build, whose
    # failure goes back to notify. Cyclid ran it; jobstream warns and bounds the runs.
    raw = doc(
        sequence=[
            {"stage": "test", "on_failure": "notify"},
            {"stage": "notify", "only_if": "%{cov} < 90%"},
            {"stage": "build", "on_failure": "notify"},
        ]
    )
    found = warnings(raw)
    # (The modifier gets its own warning: `%{cov}` alone may be empty, which compares as 0.)
    assert [path for path in found if ".on_" in path] == ["sequence[2].on_failure"]
    assert "(notify → build → notify)" in found["sequence[2].on_failure"]


def test_loop_is_reported_once() -> None:
    raw = doc(
        sequence=[
            {"stage": "build"},
            {"stage": "test", "on_success": "build", "on_failure": "build"},
        ]
    )
    assert list(warnings(raw)) == ["sequence[1].on_success"]


def test_handler_does_not_fall_through() -> None:
    # notify is appended as a handler; it does not continue to anything, so no loop.
    raw = doc(sequence=[{"stage": "build", "on_failure": "notify"}, {"stage": "test"}])
    assert check_document(raw)[0] is not None


def test_every_problem_at_once() -> None:
    raw = doc(extra="x", secrets={"a": "b"}, sequence=[{"stage": "nope", "on_failure": "nope"}])
    raw["stages"][1]["steps"][0]["action"] = "mail"
    _, problems = check_document(raw)
    assert {(p.path, p.severity) for p in problems} == {
        ("extra", "warning"),
        ("secrets.a", "warning"),
        ("stages[1].steps[0].action", "error"),
        ("sequence[0].stage", "warning"),
        ("sequence[0].on_failure", "warning"),
        ("sequence[0].on_failure", "warning"),  # nope → nope loops
    }


# --- loading: formats, lines, syntax ---------------------------------------------------


JOB_YAML = """\
name: job
stages:
  - name: build
    steps:
      - action: command
        cmd: echo hi
      - action: deploy
sequence:
  - stage: build
  - stage: build
    on_failure: deploy
colour: blue
"""


def test_yaml_problems_have_lines_and_are_sorted() -> None:
    problems = rejected(JOB_YAML)
    assert [(p.line, p.severity, p.path) for p in problems] == [
        (7, "error", "stages[0].steps[1].action"),
        (10, "warning", "sequence[1].stage"),  # listed twice: Cyclid kept one entry's handlers
        (11, "warning", "sequence[1].on_failure"),
        (12, "warning", "colour"),
    ]
    assert str(problems[2]) == (
        "11: warning: sequence[1].on_failure: stage 'deploy' is not defined in this job: "
        "it must be a stored stage when the job is submitted (defined stages: build)"
    )


def test_missing_field_points_at_its_parent() -> None:
    problems = rejected(JOB_YAML.replace("        cmd: echo hi\n", ""))
    assert (problems[0].path, problems[0].line) == ("stages[0].steps[0].cmd", 5)


def test_json_problems_have_lines() -> None:
    raw = doc()
    raw["sequence"][1]["on_success"] = ""
    with pytest.raises(DocumentError) as caught:
        load_document(json.dumps(raw, indent=2), "job.json")
    (problem,) = caught.value.problems
    text = json.dumps(raw, indent=2).splitlines()
    assert problem.line is not None
    assert '"on_success": ""' in text[problem.line - 1]


def test_format_problems() -> None:
    problems = rejected(JOB_YAML)
    assert format_problems("ci/job.yml", problems)[0] == (
        "ci/job.yml:7: error: stages[0].steps[1].action: "
        "unknown action 'deploy'; known actions: "
        "cobertura, command, email, log, script, simplecov, slack"
    )
    assert format_problems("x", [Problem(path="", message="m", severity="error")]) == [
        "x: error: m"
    ]


def test_json_and_yaml_are_both_accepted() -> None:
    as_json = load_document(json.dumps(doc()).encode(), "job.json").document
    as_yaml = load_document(yaml.safe_dump(doc()).encode(), "job.yaml").document
    assert as_json == as_yaml


@pytest.mark.parametrize("source", ["<document>", "-", ".cyclid", "job.txt"])
def test_format_guessed_without_a_known_extension(source: str) -> None:
    assert load_document(json.dumps(doc()), source).document.name == "job"
    assert load_document(yaml.safe_dump(doc()), source).document.name == "job"


def test_format_forced() -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(yaml.safe_dump(doc()), "job.json")
    assert caught.value.problems[0].message.startswith("invalid JSON")
    assert load_document(yaml.safe_dump(doc()), "job.json", format="yaml").document.name == "job"


def test_yaml_syntax_error_has_a_line() -> None:
    (problem,) = rejected("name: job\nsequence:\n  - stage: a\n   bad: [\n")
    assert problem.path == ""
    assert problem.line == 4
    assert problem.message.startswith("invalid YAML:")


def test_json_syntax_error_has_line_and_column() -> None:
    (problem,) = rejected('{\n  "name": "job",\n  "sequence": [,]\n}', "job.json")
    assert problem.line == 3
    assert "column 16" in problem.message


def test_guessed_json_syntax_error_is_reported_as_json() -> None:
    (problem,) = rejected('{"name": "job", "sequence": [}', "<document>")
    assert problem.message.startswith("invalid JSON")


def test_not_utf8() -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(b"name: \xff\xfe", "job.yml")
    assert "not UTF-8" in caught.value.problems[0].message


def test_warnings_are_returned_with_the_document() -> None:
    loaded = load_document(yaml.safe_dump(doc(colour="blue")), "job.yml")
    assert [(p.path, p.line) for p in loaded.warnings] == [("colour", 1)]


# --- YAML safety -----------------------------------------------------------------------


def test_python_object_tags_are_rejected() -> None:
    (problem,) = rejected("name: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    assert "!!python/object/apply:os.system" in problem.message
    assert "safe loader" in problem.message
    assert problem.line == 1


def test_unknown_tags_are_rejected() -> None:
    (problem,) = rejected("name: !vault abc\n")
    assert "unknown YAML tag '!vault'" in problem.message


def test_too_many_aliases() -> None:
    aliases = ", ".join(["*a"] * (MAX_ALIASES + 1))
    (problem,) = rejected(f"name: &a job\nenvironment:\n  many: [{aliases}]\n")
    assert "alias bomb" in problem.message
    assert problem.line == 3


def test_billion_laughs_under_the_alias_limit() -> None:
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    text = "name: job\nenvironment:\n" + "".join(f"  {level}\n" for level in levels)
    assert text.count("*") <= MAX_ALIASES
    (problem,) = rejected(text)
    assert "expand" in problem.message
    assert "alias bomb" in problem.message


def test_recursive_alias() -> None:
    (problem,) = rejected("name: job\nenvironment: &e\n  self: *e\n")
    assert "recursive alias" in problem.message


def test_deep_nesting() -> None:
    (problem,) = rejected("name: job\nenvironment: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nests too deeply" in problem.message


def test_ordinary_anchors_and_merge_keys_still_work() -> None:
    text = """\
    name: job
    stages:
      - name: build
        steps:
          - &echo
            action: command
            cmd: echo one
            env: {A: "1"}
          - <<: *echo
            cmd: echo two
    sequence:
      - stage: build
    """
    steps = load_document(textwrap.dedent(text), "job.yml").document.stages[0].steps
    assert [s.cmd for s in steps if isinstance(s, CommandStep)] == ["echo one", "echo two"]
    assert steps[1].env == {"A": "1"}  # type: ignore[union-attr]


# --- JSON schema -----------------------------------------------------------------------


def test_json_schema() -> None:
    schema = document_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "jobstream job document"
    assert set(schema["required"]) == {"name", "sequence"}
    assert schema["properties"]["version"]["type"] == ["string", "number"]
    assert {"CommandStep", "ScriptStep", "LogStep", "Stage", "SequenceEntry"} <= set(
        schema["$defs"]
    )
    json.dumps(schema)


def test_control_characters_are_a_problem_not_a_crash() -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(b"\x00\x01 not json, not yaml: [", "garbage.yml")
    assert caught.value.problems[0].severity == "error"


# --- retry -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "limits"),
    [
        (2, {-1: 2, 2: 0}),  # the number form: lost attempts only
        ({"automatic": True}, {-1: 2, 2: 2, 137: 2}),
        ({"automatic": {"exit_status": 2}}, {-1: 0, 2: 2, 3: 0}),
        (
            {"automatic": [{"exit_status": [2, 3], "limit": 3}, {"exit_status": "*", "limit": 1}]},
            {-1: 1, 2: 3, 3: 3, 4: 1},
        ),
        ({"automatic": False}, {-1: 0, 1: 0}),
    ],
)
def test_retry_reads_both_forms(retry: Any, limits: dict[int, int]) -> None:
    document, problems = check_document(doc(retry=retry))
    assert problems == [] and document is not None
    assert {status: document.retries(status) for status in limits} == limits
    # What the lease keeper reads back from the submitted document gives the same.
    dumped = document.model_dump(mode="json", exclude_defaults=True)
    assert {s: retry_limit(dumped, s) for s in limits} == limits


def test_bad_retry_rules_are_errors_at_their_path() -> None:
    assert errors(doc(retry={"automatic": [{"exit_status": 2, "limit": 11}]})) == {
        "retry.automatic[0].limit": "input should be less than or equal to 10"
    }
    assert errors(doc(retry=11)) == {"retry": "input should be less than or equal to 10"}
    (path,) = errors(doc(retry={"automatic": [{"exit_status": "two"}]}))
    assert path == "retry.automatic[0].exit_status"
