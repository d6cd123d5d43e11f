"""Steps and flow run as Cyclid 0.4 ran them (docs/job-format.md), through the
real Runner and real /bin/sh processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from jobstream.events.documents.cyclidlint import env_name
from jobstream.events.documents.models import JobDocument, Source
from jobstream.events.documents.plan import MAX_STAGE_RUNS
from jobstream.events.models import Status
from jobstream.runners.executor import git_source
from jobstream.runners.shell import command_line, step_text

from .test_executor import job, log, run, sh, stages_run


def script(text: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"action": "script", "script": text, **extra}


# -- env ----------------------------------------------------------------------------------


async def test_env_is_exported_through_the_shell_with_upper_cased_names(tmp_path: Path) -> None:
    step = sh(
        'echo "$PATH"; echo "$GEM_HOME"; echo "$RETRIES $DEBUG $RATIO [$EMPTY]"',
        env={
            "path": "/opt/bin:$PATH",
            "gem home": "$HOME/gems",
            "RETRIES": 3,
            "debug": True,
            "ratio": 2.5,
            "empty": None,
        },
    )
    document = job({"a": [step, sh('echo "[$GEM_HOME]"')]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == [
        f"/opt/bin:{os.environ['PATH']}",
        f"{os.environ['HOME']}/gems",
        "3 true 2.5 []",
        "[]",  # for that step only
    ]
    assert "==> env 'gem home' is exported as GEM_HOME, as Cyclid did" in notifier.texts()


async def test_env_values_are_interpolated_and_the_docs_list_form_is_merged(
    tmp_path: Path,
) -> None:
    step = sh('echo "$A-$B"', env=[{"A": "%{job_name}"}, {"B": "two"}])
    status, notifier = await run(tmp_path, job({"a": [step]}, ["a"]))
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == ["test-job-two"]


async def test_a_bad_env_name_is_left_out_and_the_command_runs(tmp_path: Path) -> None:
    step = sh('echo "ran $GOOD"', env={"bad-name": "x", "good": "yes"})
    status, notifier = await run(tmp_path, job({"a": [step]}, ["a"]))
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == ["ran yes"]
    assert "==> env 'bad-name' is not a shell variable name: not exported" in notifier.texts()


async def test_secrets_in_env_stay_off_the_command_line(tmp_path: Path) -> None:
    secret = "hunter2-very-secret"
    step = sh("tr '\\0' ' ' < /proc/$$/cmdline; echo; echo \"$TOKEN\"", env={"token": "%{pw}"})
    document = job({"a": [step]}, ["a"], secrets={"pw": secret})
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    cmdline, value = notifier.texts("stdout")
    assert cmdline.startswith("/bin/sh ") and "***" not in cmdline
    assert value == "***"
    assert not any(secret in t for t in notifier.texts())
    # The step's shell text is removed with its step.
    assert not list((tmp_path / "ws" / "job-1" / ".jobstream").iterdir())


# -- cmd and args -------------------------------------------------------------------------


async def test_a_double_quote_in_an_env_value_ends_its_quoting_and_the_log_says_so(
    tmp_path: Path,
) -> None:
    document = job({"a": [sh('echo "[$GREETING]"', env={"greeting": 'say "hi"'})]}, ["a"])
    status, notifier = await run(tmp_path, document)
    # export GREETING="say "hi"": the shell joins the pieces, as Cyclid's transports did.
    assert status is Status.SUCCEEDED and notifier.texts("stdout") == ["[say hi]"]
    assert (
        "==> env 'greeting' holds a \": it ends the double quotes of its export "
        '(export NAME="value"), as in Cyclid'
    ) in notifier.texts("system")


async def test_cmd_without_args_is_split_and_joined_as_cyclid_did(tmp_path: Path) -> None:
    document = job({"a": [sh("echo 'a    b'\n\techo   c")]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == ["a b echo c"]
    assert (
        "==> cmd's newlines, tabs and repeated spaces became single spaces, as Cyclid joined "
        "a cmd without args"
    ) in notifier.texts("system")


async def test_a_cmd_with_nothing_to_collapse_says_nothing_about_it(tmp_path: Path) -> None:
    document = job({"a": [sh("  echo a b  ")]}, ["a"])
    _, notifier = await run(tmp_path, document)
    assert notifier.texts("stdout") == ["a b"]
    assert not [t for t in notifier.texts("system") if "single spaces" in t]


async def test_empty_args_keep_cmd_as_it_is(tmp_path: Path) -> None:
    document = job({"a": [sh("echo 'a    b'", args=[])]}, ["a"])
    _, notifier = await run(tmp_path, document)
    assert notifier.texts("stdout") == ["a    b"]


async def test_interpolated_values_are_shell_text(tmp_path: Path) -> None:
    # Cyclid interpolated the joined line: a value is inserted unquoted.
    document = job(
        {"a": [sh("echo", args=["%{words}"])]}, ["a"], environment={"words": "x  $((1+2))"}
    )
    _, notifier = await run(tmp_path, document)
    assert notifier.texts("stdout") == ["x 3"]


# -- script -------------------------------------------------------------------------------


async def test_script_path_is_the_file_and_it_runs_from_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws" / "job-1"
    document = job(
        {
            "a": [
                sh("mkdir tools"),
                script(
                    ["pwd", "echo $GREETING %{job_name}"],
                    path="%{workspace}/tools/build.sh",
                    env={"greeting": "hi"},
                ),
                script("pwd", path="tools/again.sh"),
            ]
        },
        ["a"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == [str(workspace), "hi test-job", str(workspace)]
    # Written where path says and left there, as Cyclid left it.
    assert (workspace / "tools" / "build.sh").read_text() == "pwd\necho $GREETING test-job\n"
    assert os.access(workspace / "tools" / "again.sh", os.X_OK)


async def test_a_bare_script_name_is_looked_up_on_path_as_in_cyclid(tmp_path: Path) -> None:
    document = job({"a": [script("echo no", path="run-me.sh")]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert "exit code 127" in (notifier.statuses[-1].reason or "")
    assert (
        "==> script path 'run-me.sh' has no '/': the shell looks it up on PATH, as Cyclid's "
        "`chmod +x run-me.sh && run-me.sh` did (write ./run-me.sh)"
    ) in notifier.texts("system")


async def test_a_script_path_that_cannot_be_written_fails_the_step(tmp_path: Path) -> None:
    document = job({"a": [script("true", path="no/such/dir/x.sh")]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert "cannot write the script to no/such/dir/x.sh" in (notifier.statuses[-1].reason or "")


async def test_a_bare_percent_stays_as_it_is(tmp_path: Path) -> None:
    document = job({"a": [script("date +%Y >/dev/null && echo 100% %{job_name} 5%%")]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == ["100% test-job 5%"]


# -- flow ---------------------------------------------------------------------------------


async def test_listed_handlers_fall_through_as_in_cyclid(tmp_path: Path) -> None:
    # Written before Cyclid chose the next stage itself: on a green run Cyclid 0.4 runs
    # `success` and then `failure`, which is listed after it.
    document = job(
        {"lint": [log("L")], "success": [log("S")], "failure": [log("F")]},
        [{"stage": "lint", "on_success": "success", "on_failure": "failure"}, "success", "failure"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert stages_run(notifier) == ["lint", "success", "failure"]


async def test_a_handler_loop_is_bounded_and_ends_the_job_failed(tmp_path: Path) -> None:
    # example-ruby-project a2c1f41: when build fails, Cyclid went build → failure → build
    # for ever (failure is listed, guarded, and falls through to build).
    document = job(
        {"test": [sh("false")], "failure": [log("F")], "build": [sh("false")]},
        [
            {"stage": "test", "on_failure": "failure"},
            {"stage": "failure", "only_if": "1 == 2"},
            {"stage": "build", "on_failure": "failure"},
        ],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    announced = [
        t
        for t in notifier.texts("system")
        if t.startswith("==> stage ") and " skipped" not in t and " again" not in t
    ]
    assert len(announced) == MAX_STAGE_RUNS
    assert sum("runs again: the handlers loop" in t for t in notifier.texts("system")) == 1
    reason = notifier.statuses[-1].reason or ""
    # The first failure explains the job; the bound is in the log.
    assert "test" in reason
    assert any(f"stopped after {MAX_STAGE_RUNS} stage runs" in t for t in notifier.texts())


async def test_a_successful_loop_is_bounded_with_the_reason(tmp_path: Path) -> None:
    document = job({"a": [log("A")]}, [{"stage": "a", "on_success": "a"}])
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert f"stopped after {MAX_STAGE_RUNS} stage runs" in (notifier.statuses[-1].reason or "")


# -- sources ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # JOB-FORMAT: the token is interpolated (a secret named github_token).
        ({"token": "%{github_token}"}, ("https://example.test/o/r.git", None, "s3cret")),
        ({"branch": "%{branch}"}, ("https://example.test/o/r.git", "dev", None)),
        # Cyclid's normalize: the URL's user is the token, its fragment the branch.
        (
            {"url": "https://tok@example.test/o/r.git#main", "token": "other"},
            ("https://example.test/o/r.git", "main", "tok"),
        ),
        ({"url": "%{base}/r.git"}, ("/srv/git/r.git", None, None)),
    ],
)
def test_git_source_fields_are_read_as_cyclid_read_them(
    source: dict[str, str], expected: tuple[str, str | None, str | None]
) -> None:
    given = Source.model_validate({"type": "git", "url": "https://example.test/o/r.git", **source})
    context = {"github_token": "s3cret", "branch": "dev", "base": "/srv/git"}
    got = git_source(given, given.token, context)
    assert (got.url, got.branch, got.token) == expected


async def test_an_interpolated_token_is_masked_in_its_url_form(tmp_path: Path) -> None:
    document = JobDocument.model_validate(
        {
            "name": "t",
            "secrets": {"github_token": "tok/en"},
            "stages": [{"name": "a", "steps": [log("x")]}],
            "sequence": [{"stage": "a"}],
            # Port 9 on localhost refuses at once: the clone fails without a network.
            "sources": [
                {"type": "git", "url": "https://127.0.0.1:9/r.git", "token": "%{github_token}"}
            ],
        }
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert not any("tok/en" in t or "tok%2Fen" in t for t in notifier.texts())
    assert not any("github_token" in t for t in notifier.texts())


# -- the shell text itself ----------------------------------------------------------------


def test_the_shell_text_is_cyclids_line() -> None:
    # dockerapi_spec.rb: export_env({'test' => 'example'}) → 'export TEST="example";/bin/true'
    assert step_text("/bin/true", env={"test": "example"}) == 'export TEST="example";/bin/true'
    assert env_name("gem\thome path") == "GEM_HOME_PATH"
    # command_spec.rb: both forms give '/bin/true -a -b'.
    assert command_line("/bin/true  -a\n-b", None) == "/bin/true -a -b"
    assert command_line("/bin/true", ["-a", "-b"]) == "/bin/true -a -b"
    assert command_line("ls", []) == "ls "
