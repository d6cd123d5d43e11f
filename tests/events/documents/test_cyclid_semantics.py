"""The document language accepts what Cyclid 0.4 accepted, and lint says where Cyclid's
behaviour would surprise (docs/job-format.md)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from jobstream.events.documents.models import CommandStep, ScriptStep
from jobstream.events.documents.plan import MAX_STAGE_RUNS, SequencePlan
from jobstream.events.documents.validation import check_document, load_document


def doc(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "job",
        "stages": [{"name": "build", "steps": list(steps) or [{"action": "log", "message": "x"}]}],
        "sequence": [{"stage": "build"}],
        **extra,
    }


def warnings(raw: dict[str, Any]) -> dict[str, str]:
    document, problems = check_document(raw)
    assert document is not None, problems
    assert all(p.severity == "warning" for p in problems)
    return {p.path: p.message for p in problems}


def test_yaml_numbers_and_booleans_in_env_and_args_become_ruby_text() -> None:
    loaded = load_document(
        textwrap.dedent(
            """\
            name: job
            stages:
              - name: build
                steps:
                  - action: command
                    cmd: ./run
                    args: [--retries, 3, --ratio, 2.5, --debug, true, [nested, 1], null]
                    env: {RETRIES: 3, DEBUG: false, RATIO: 2.50, EMPTY: }
                  - action: script
                    script: env
                    env: {BIG: 1.0e+20}
            sequence:
              - stage: build
            """
        ),
        "job.yml",
    )
    assert loaded.warnings == []
    command, script = loaded.document.stages[0].steps
    assert isinstance(command, CommandStep) and isinstance(script, ScriptStep)
    assert command.args == [
        "--retries",
        "3",
        "--ratio",
        "2.5",
        "--debug",
        "true",
        "nested",
        "1",
        "",
    ]
    assert command.env == {"RETRIES": "3", "DEBUG": "false", "RATIO": "2.5", "EMPTY": ""}
    assert script.env == {"BIG": "1.0e+20"}


def test_args_absent_and_args_empty_differ() -> None:
    raw = doc({"action": "command", "cmd": "ls"}, {"action": "command", "cmd": "ls", "args": []})
    document, _ = check_document(raw)
    assert document is not None
    first, second = document.stages[0].steps
    assert isinstance(first, CommandStep) and isinstance(second, CommandStep)
    assert (first.args, second.args) == (None, [])


def test_a_mapping_in_env_is_still_an_error() -> None:
    document, problems = check_document(doc({"action": "command", "cmd": "x", "env": {"A": {}}}))
    assert document is None
    assert [p.path for p in problems] == ["stages[0].steps[0].env.A"]


def test_env_names_cyclid_rewrote_or_could_not_export_are_warned() -> None:
    step = {
        "action": "command",
        "cmd": "x",
        "env": {"path": "/opt", "gem home": "g", "A-B": "1", "OK": "fine"},
    }
    found = warnings(doc(step))
    assert found["stages[0].steps[0].env.path"].startswith("exported as PATH")
    assert found['stages[0].steps[0].env["gem home"]'].startswith("exported as GEM_HOME")
    assert "not a shell variable name" in found["stages[0].steps[0].env.A-B"]
    assert "stages[0].steps[0].env.OK" not in found


def test_a_double_quote_in_an_env_value_is_warned() -> None:
    found = warnings(doc({"action": "command", "cmd": "x", "env": {"MSG": 'say "hi"'}}))
    assert "inside double quotes" in found["stages[0].steps[0].env.MSG"]


def test_the_docs_list_form_of_env_is_merged_with_a_warning() -> None:
    raw = doc({"action": "command", "cmd": "x", "env": [{"A": "1"}, {"B": 2}]})
    found = warnings(raw)
    assert "list of mappings" in found["stages[0].steps[0].env"]
    document, _ = check_document(raw)
    assert document is not None
    step = document.stages[0].steps[0]
    assert isinstance(step, CommandStep) and step.env == {"A": "1", "B": "2"}


@pytest.mark.parametrize(
    ("cmd", "warned"),
    [("make  test", True), ("echo a\necho b", True), ("\tmake", False), ("make test", False)],
)
def test_cmd_whitespace_cyclid_collapsed_is_warned(cmd: str, warned: bool) -> None:
    found = warnings(doc({"action": "command", "cmd": cmd}))
    assert ("stages[0].steps[0].cmd" in found) is warned


def test_cmd_with_args_is_not_collapsed_so_not_warned() -> None:
    assert warnings(doc({"action": "command", "cmd": "a  b", "args": []})) == {}


@pytest.mark.parametrize(
    ("text", "warned"),
    [
        ("date +%Y", "'%Y'"),
        ("printf '%s\\n' x", "'%s'"),
        ("echo %<name>s", "'%<'"),
        ("echo 100%% %{x}", None),
        ("echo 90%", None),
        ("echo 90%\necho ok", None),
    ],
)
def test_a_bare_percent_cyclid_would_fail_on_is_warned(text: str, warned: str | None) -> None:
    found = warnings(doc({"action": "script", "script": [text]}))
    message = found.get("stages[0].steps[0].script[0]")
    if warned is None:
        assert message is None
    else:
        assert message is not None and message.startswith(warned)
        assert "keeps it as it is" in message


def test_bare_percents_are_warned_in_every_interpolated_field() -> None:
    raw = doc(
        {"action": "command", "cmd": "x", "args": ["%d"], "env": {"A": "%H"}, "path": "%p"},
        {"action": "log", "message": "50%s"},
        sources=[{"type": "git", "url": "https://h/r", "token": "%t", "branch": "%b"}],
    )
    assert set(warnings(raw)) == {
        "stages[0].steps[0].args[0]",
        "stages[0].steps[0].env.A",
        "stages[0].steps[0].path",
        "stages[0].steps[1].message",
        "sources[0].token",
        "sources[0].branch",
    }


def test_a_bare_script_name_is_warned() -> None:
    found = warnings(doc({"action": "script", "script": "x", "path": "build.sh"}))
    assert "write ./build.sh" in found["stages[0].steps[0].path"]
    assert warnings(doc({"action": "script", "script": "x", "path": "./build.sh"})) == {}


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("https://github.com/o/r.git", None),
        ("http://127.0.0.1/r.git", None),
        ("git@github.com:o/r.git", "cloned only http(s)"),
        ("%{base}/r.git", "before interpolating"),
    ],
)
def test_source_urls_cyclid_could_not_clone_are_warned(url: str, warned: str | None) -> None:
    found = warnings(doc(sources=[{"type": "git", "url": url, "token": "%{github_token}"}]))
    message = found.get("sources[0].url")
    assert (message is None) if warned is None else (warned in (message or ""))
    assert "sources[0].token" not in found


def walk(plan: SequencePlan, failing: set[str], limit: int = 8) -> list[str | None]:
    ran: list[str | None] = []
    index: int | None = 0
    while index is not None and len(ran) < limit:
        ran.append(plan.stages[index])
        index = plan.next(index, plan.stages[index] not in failing)
    return ran


def test_a_listed_handler_falls_through_as_in_cyclid() -> None:
    # 11 corpus files written before Cyclid chose the next stage itself.
    plan = SequencePlan.of(
        [("lint", "success", "failure"), ("success", None, None), ("failure", None, None)]
    )
    assert walk(plan, set()) == ["lint", "success", "failure"]
    assert walk(plan, {"lint"}) == ["lint", "failure"]


def test_a_guarded_listed_handler_loops_when_build_fails_and_the_bound_stops_it() -> None:
    plan = SequencePlan.of(
        [("test", None, "failure"), ("failure", None, None), ("build", None, "failure")]
    )
    assert walk(plan, {"build"}) == ["test", "failure", *["build", "failure"] * 3]
    assert plan.run_bound == MAX_STAGE_RUNS
    # A sequence longer than the bound, without a loop, runs to its end.
    long = SequencePlan.of((f"s{i}", None, None) for i in range(MAX_STAGE_RUNS + 5))
    assert long.run_bound == MAX_STAGE_RUNS + 5


@pytest.mark.parametrize(
    ("value", "on", "warned"),
    [
        (True, True, False),
        (False, False, False),
        (None, False, False),
        ("true", True, False),
        ("yes", True, False),
        (1, True, False),
        # Ruby's truthiness: all of these ran under sudo in Cyclid
        ("false", True, True),
        ("no", True, True),
        ("0", True, True),
        (0, True, True),
        ("", True, True),
    ],
)
def test_sudo_is_any_value_but_false_or_null(value: object, on: bool, warned: bool) -> None:
    raw = doc({"action": "script", "script": "id", "sudo": value})
    document, problems = check_document(raw)
    assert document is not None and all(p.severity == "warning" for p in problems), problems
    step = document.stages[0].steps[0]
    assert isinstance(step, ScriptStep) and step.uses_sudo is on
    said = warnings(raw).get("stages[0].steps[0].sudo")
    assert (said is not None) is warned, said
    assert said is None or "turns sudo on" in said
