import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from jobstream.events.documents.models import JobDocument
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.models import Status
from jobstream.runners.builders import Builder, HostBuilder, SandboxBuilder
from jobstream.runners.builders.sandbox import probe
from jobstream.runners.executor import Runner
from jobstream.runners.testing import RecordingNotifier

from ..processes import gone

BOUND = 30  # seconds; no test job should come near it


def job(stages: dict[str, list[dict[str, Any]]], sequence: list[Any], **extra: Any) -> JobDocument:
    return JobDocument.model_validate(
        {
            "name": "test-job",
            "stages": [{"name": name, "steps": steps} for name, steps in stages.items()],
            "sequence": [s if isinstance(s, dict) else {"stage": s} for s in sequence],
            **extra,
        }
    )


def sh(cmd: str, **extra: Any) -> dict[str, Any]:
    return {"action": "command", "cmd": cmd, **extra}


def log(message: str) -> dict[str, Any]:
    return {"action": "log", "message": message}


async def run(
    tmp_path: Path,
    document: JobDocument,
    *,
    cancel: asyncio.Event | None = None,
    box: SecretBox | None = None,
    **options: Any,
) -> tuple[Status, RecordingNotifier]:
    notifier = RecordingNotifier()
    runner = Runner(workspace_root=tmp_path / "ws", secret_box=box, **options)
    async with asyncio.timeout(BOUND):
        status = await runner.run("job-1", document, notifier, cancel=cancel)
    assert notifier.completions[-1].status is status
    return status, notifier


def stages_run(notifier: RecordingNotifier) -> list[str]:
    return [
        t.removeprefix("==> stage ")
        for t in notifier.texts("system")
        if t.startswith("==> stage ") and " skipped" not in t
    ]


# -- sequence flow --------------------------------------------------------------------------


async def test_success_runs_the_sequence_in_order(tmp_path: Path) -> None:
    document = job({"a": [log("A")], "b": [log("B")]}, ["a", "b"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert stages_run(notifier) == ["a", "b"]
    assert notifier.status_names == ["WAITING", "STARTED", "SUCCEEDED"]
    assert notifier.statuses[0].previous is Status.NEW
    assert notifier.completions[0].success


async def test_on_success_jumps(tmp_path: Path) -> None:
    document = job(
        {"a": [log("A")], "b": [log("B")], "c": [log("C")]},
        [{"stage": "a", "on_success": "c"}, "b", "c"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert stages_run(notifier) == ["a", "c"]


async def test_failure_without_on_failure_ends_the_job(tmp_path: Path) -> None:
    document = job({"a": [sh("exit 3")], "b": [log("B")]}, ["a", "b"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert stages_run(notifier) == ["a"]
    assert notifier.status_names == ["WAITING", "STARTED", "FAILING", "FAILED"]
    failing = notifier.statuses[2]
    assert failing.stage == "a" and "exit code 3" in (failing.reason or "")
    assert not notifier.completions[0].success


async def test_failing_then_failed_although_the_appended_handler_succeeds(tmp_path: Path) -> None:
    document = job(
        {"a": [sh("false")], "b": [log("B")], "cleanup": [log("C")], "notify": [log("N")]},
        [{"stage": "a", "on_failure": "cleanup"}, {"stage": "b", "on_success": "notify"}],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    # cleanup was appended after the sequence; it does not fall through to notify.
    assert stages_run(notifier) == ["a", "cleanup"]
    assert notifier.status_names == ["WAITING", "STARTED", "FAILING", "FAILED"]
    assert notifier.statuses[-1].stage == "a"


async def test_failing_is_reported_once(tmp_path: Path) -> None:
    document = job(
        {"a": [sh("false")], "h": [sh("false")]},
        [{"stage": "a", "on_failure": "h"}],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert stages_run(notifier) == ["a", "h"]
    assert notifier.status_names.count("FAILING") == 1


async def test_in_sequence_stage_falls_through_and_success_handler_appended(
    tmp_path: Path,
) -> None:
    document = job(
        {"a": [log("A")], "b": [log("B")], "done": [log("D")], "c": [log("C")]},
        [{"stage": "a"}, {"stage": "b", "on_success": "done"}, "c"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert stages_run(notifier) == ["a", "b", "done"]


# -- modifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modifiers", "runs"),
    [
        ({"only_if": "'%{env}' == 'PROD'"}, True),
        ({"only_if": "'%{env}' == 'dev'"}, False),
        ({"not_if": "'%{env}' == 'prod'"}, False),
        ({"not_if": "1 > 2"}, True),
        # only_if wins over not_if, both ways round
        ({"only_if": "1 == 1", "not_if": "1 == 1"}, True),
        ({"only_if": "1 == 2", "not_if": "1 == 2"}, False),
    ],
)
async def test_only_if_and_not_if(tmp_path: Path, modifiers: dict[str, str], runs: bool) -> None:
    document = job(
        {"a": [log("ran")], "b": [log("next")]},
        [{"stage": "a", **modifiers}, "b"],
        environment={"env": "prod"},
    )
    status, notifier = await run(tmp_path, document)
    # A skipped stage is a success: the job goes on to b and succeeds.
    assert status is Status.SUCCEEDED
    assert ("ran" in notifier.texts("system")) is runs
    assert "next" in notifier.texts("system")


async def test_fail_if_after_a_stage_and_after_a_skipped_one(tmp_path: Path) -> None:
    document = job(
        {"a": [log("A")], "b": [log("B")]},
        [{"stage": "a", "only_if": "1 == 2", "fail_if": "50% < 60%"}, "b"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert "A" not in notifier.texts("system")
    assert "==> stage a skipped: only_if '1 == 2'" in notifier.texts("system")
    assert stages_run(notifier) == ["a"]  # announced, skipped, failed: b never runs
    assert "fail_if '50% < 60%' is true" in (notifier.statuses[-1].reason or "")


async def test_fail_if_false_leaves_the_stage_alone(tmp_path: Path) -> None:
    document = job({"a": [log("A")]}, [{"stage": "a", "fail_if": "'x' != 'x'"}])
    status, _ = await run(tmp_path, document)
    assert status is Status.SUCCEEDED


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        # the values the job has, not the text lint saw, meet the rule
        (
            {"only_if": "'%{name}' == 'o'brien'"},
            "==> only_if \"'%{name}' == 'o'brien'\" is true: the quoted texts are matched "
            "greedily (Cyclid's rule): compared \"O'Brien\" with \"o'brien\"; '==' ignores "
            "case (Cyclid's rule): the texts differ only in case",
        ),
        (
            {"only_if": "'%{env}' != 'prod'"},
            "==> only_if \"'%{env}' != 'prod'\" is true: '!=' is case-sensitive while '==' "
            "is not (Cyclid's rule): the texts differ only in case",
        ),
        (
            {"not_if": "'%{env}' == 'prod'"},
            "==> not_if \"'%{env}' == 'prod'\" is true: '==' ignores case (Cyclid's rule)",
        ),
        (
            {"fail_if": "%{rate} == 1"},
            "==> fail_if '%{rate} == 1' is false: '==' compares numbers as text (Cyclid's "
            "rule): 1.0 and 1 are the same number but not the same text",
        ),
        (
            {"fail_if": "%{coverage} < 85%"},
            "==> fail_if '%{coverage} < 85%' is true: the left operand is empty (a missing "
            "or empty variable): it compares as 0.0 (Cyclid's rule); a '%' after a number "
            "is not part of it (Cyclid's rule): compared 0 < 85",
        ),
        (
            {"only_if": "%{rate}% > 0.5"},
            "==> only_if '%{rate}% > 0.5' is true: a '%' after a number is not part of it "
            "(Cyclid's rule): compared 1 > 0.5",
        ),
    ],
)
async def test_a_surprising_rule_that_decides_a_modifier_is_said_in_the_log(
    tmp_path: Path, entry: dict[str, str], line: str
) -> None:
    document = job(
        {"a": [log("ran")]},
        [{"stage": "a", **entry}],
        environment={"name": "O'Brien", "env": "PROD", "rate": "1.0"},
    )
    _, notifier = await run(tmp_path, document)
    # One line per evaluation, however many rules it met.
    (said,) = [t for t in notifier.texts("system") if "Cyclid's rule" in t]
    assert said.startswith(line), said


async def test_a_modifier_that_follows_no_surprising_rule_adds_no_line(tmp_path: Path) -> None:
    document = job(
        {"a": [log("ran")], "b": [log("B")]},
        [{"stage": "a", "only_if": "'%{env}' == 'prod'", "fail_if": "%{rate} > 2"}, "b"],
        environment={"env": "prod", "rate": "1.5"},
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED and "ran" in notifier.texts("system")
    assert not [t for t in notifier.texts("system") if "Cyclid's rule" in t]


@pytest.mark.parametrize("modifier", ["only_if", "not_if", "fail_if"])
async def test_a_bad_expression_fails_the_stage_naming_it(tmp_path: Path, modifier: str) -> None:
    document = job(
        {"a": [log("A")], "h": [log("handled")]},
        [{"stage": "a", modifier: "%{x} is big", "on_failure": "h"}],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    reason = notifier.statuses[-1].reason or ""
    assert "'%{x} is big'" in reason and modifier in reason
    assert "handled" in notifier.texts("system")


# -- steps ----------------------------------------------------------------------------------


async def test_command_args_are_joined_unquoted_as_cyclid_joined_them(tmp_path: Path) -> None:
    document = job(
        {
            "a": [
                sh("touch one.txt two.txt"),
                sh("printf '%s\\n'", args=["*.txt", "%{job_name}", 3, True]),
            ]
        },
        ["a"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == ["one.txt", "two.txt", "test-job", "3", "true"]
    assert "$ printf '%s\\n' *.txt test-job 3 true" in notifier.texts()


async def test_env_path_and_workspace(tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere"
    absolute.mkdir()
    document = job(
        {
            "a": [
                sh("mkdir sub"),
                sh('echo "$GREETING $JOB"; pwd', env={"GREETING": "hi", "JOB": "%{job_id}"}),
                sh("pwd", path="sub"),
                sh("pwd", path=str(absolute)),
                sh('echo "[$GREETING]"'),
            ]
        },
        ["a"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    workspace = tmp_path / "ws" / "job-1"
    assert notifier.texts("stdout") == [
        "hi job-1",
        str(workspace),
        str(workspace / "sub"),
        str(absolute),
        "[]",  # step env is for that step only
    ]
    assert workspace.is_dir()  # left in place for inspection


async def test_the_job_environment_includes_the_runners(tmp_path: Path) -> None:
    document = job({"a": [sh('echo "$PATH"')]}, ["a"])
    _, notifier = await run(tmp_path, document)
    assert notifier.texts("stdout") == [os.environ["PATH"]]


async def test_a_missing_path_runs_the_command_in_the_workspace_as_cyclid_did(
    tmp_path: Path,
) -> None:
    # Cyclid joined `cd PATH` and the command with `;`: a failing cd did not stop it.
    document = job({"a": [sh("pwd", path="nope")]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == [str(tmp_path / "ws" / "job-1")]
    assert any("jobstream: cd failed" in t for t in notifier.texts("stderr"))


async def test_script_as_list_runs_and_is_removed(tmp_path: Path) -> None:
    document = job(
        {"a": [{"action": "script", "script": ["echo one", "echo %{job_name}", "exit 0"]}]},
        ["a"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == ["one", "test-job"]
    assert not list((tmp_path / "ws" / "job-1" / ".jobstream").iterdir())


async def test_script_with_a_shebang_and_a_failure(tmp_path: Path) -> None:
    script = "#!/bin/sh\necho from-script >&2\nexit 4"
    document = job({"a": [{"action": "script", "script": script}, log("never")]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert notifier.texts("stderr") == ["from-script"]
    assert "never" not in notifier.texts()
    assert "step 1 (script): exit code 4" in (notifier.statuses[-1].reason or "")


async def test_log_action_and_interpolation_context(tmp_path: Path) -> None:
    document = job(
        {"a": [log("%{job_id} %{job_name} %{job_version} %{organization} %{os} 100%% %{nope}.")]},
        ["a"],
        version="2.1",
        organization="acme",
        environment={"os": "debian"},
    )
    _, notifier = await run(tmp_path, document)
    assert "job-1 test-job 2.1 acme debian 100% ." in notifier.texts("system")


async def test_stage_stops_at_the_first_failing_step(tmp_path: Path) -> None:
    document = job({"a": [sh("echo 1"), sh("exit 1"), sh("echo 3")]}, ["a"])
    _, notifier = await run(tmp_path, document)
    assert notifier.texts("stdout") == ["1"]


async def test_sudo_as_root_runs_normally(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    document = job({"a": [sh("id -u", sudo=True)]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == ["0"]


@pytest.mark.parametrize("value", ["false", 0, ""])
async def test_a_sudo_value_that_looks_off_turns_sudo_on_and_the_log_says_so(
    tmp_path: Path, value: object
) -> None:
    document = job({"a": [sh("id -u", sudo=value)]}, ["a"])
    assert document.stages[0].steps[0].uses_sudo  # type: ignore[union-attr]
    status, notifier = await run(tmp_path, document)
    said = [t for t in notifier.texts("system") if "turns sudo on" in t]
    assert said == [
        f"==> sudo {value!r} turns sudo on: Cyclid took any value but false or "
        "null as true (Ruby's rule), and so does jobstream; write sudo: false, "
        "or leave it out"
    ]
    if os.geteuid() == 0:
        # As root the step runs as it is, as Cyclid's root build user did.
        assert status is Status.SUCCEEDED and notifier.texts("stdout") == ["0"]
    else:
        # Not root: sudo -n must work, else the step fails saying it asked for sudo.
        reason = notifier.statuses[-1].reason or ""
        assert notifier.texts("stdout") == ["0"] or "sudo was asked for" in reason


@pytest.mark.parametrize("value", [False, None])
async def test_sudo_false_or_null_runs_the_step_as_the_runner(
    tmp_path: Path, value: object
) -> None:
    document = job({"a": [sh("id -u", sudo=value)]}, ["a"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout") == [str(os.geteuid())]
    assert not [t for t in notifier.texts("system") if "sudo" in t]


async def test_streams_and_timestamps(tmp_path: Path) -> None:
    document = job({"a": [sh("echo out; echo err >&2")]}, ["a"])
    _, notifier = await run(tmp_path, document)
    streams = {line.text: line.stream for line in notifier.lines}
    assert streams["out"] == "stdout" and streams["err"] == "stderr"
    assert streams["==> stage a"] == "system"
    assert [line.n for line in notifier.lines] == list(range(1, len(notifier.lines) + 1))
    assert all(line.at.endswith("Z") and "T" in line.at for line in notifier.lines)


async def test_last_chunk_before_terminal_status_before_completion(tmp_path: Path) -> None:
    document = job({"a": [sh("echo done")]}, ["a"])
    _, notifier = await run(tmp_path, document, max_delay=60)
    assert notifier.calls[-3:] == ["log_write", "status_changed", "completion"]
    completion = notifier.completions[0]
    assert completion.lines == len(notifier.lines)
    assert completion.bytes == sum(len(line.text.encode()) for line in notifier.lines)


async def test_a_quiet_jobs_line_arrives_within_max_delay(tmp_path: Path) -> None:
    document = job({"a": [sh("echo early; sleep 1")]}, ["a"])
    _, notifier = await run(tmp_path, document, max_delay=0.1)
    index = next(i for i, c in enumerate(notifier.chunks) if any(x.text == "early" for x in c))
    line = next(x for x in notifier.chunks[index] if x.text == "early")
    written = time.mktime(time.strptime(line.at[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    written += float("0." + line.at[20:26])
    assert notifier.chunk_times[index] - written < 0.1 + 0.05


# -- sources --------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "origin" / "project"
    path.mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, timeout=30)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (path / "file.txt").write_text("main\n")
    git("add", ".")
    git("commit", "-q", "-m", "main")
    git("checkout", "-q", "-b", "feature")
    (path / "file.txt").write_text("feature\n")
    git("commit", "-q", "-am", "feature")
    git("checkout", "-q", "main")
    return path


async def test_git_source_is_cloned_and_checked_out(tmp_path: Path, repo: Path) -> None:
    document = job(
        {"a": [sh("cat project/file.txt"), sh("git rev-parse --abbrev-ref HEAD", path="project")]},
        ["a"],
        sources=[{"type": "git", "url": str(repo), "branch": "%{branch}"}],
        environment={"branch": "feature"},
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    assert notifier.texts("stdout")[-2:] == ["feature", "feature"]
    assert any(t.startswith("$ git clone") for t in notifier.texts("system"))


async def test_failed_clone_fails_the_job_before_any_stage(tmp_path: Path) -> None:
    document = job(
        {"a": [log("A")]},
        ["a"],
        sources=[{"type": "git", "url": str(tmp_path / "no-such-repo")}],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert notifier.status_names == ["WAITING", "FAILED"]
    assert "sources[0]: clone" in (notifier.statuses[-1].reason or "")
    assert stages_run(notifier) == []
    assert notifier.texts("stderr")  # git's complaint went to the log


async def test_source_token_is_masked(tmp_path: Path) -> None:
    box = SecretBox(Fernet.generate_key())
    token = "tok-en/Secret"
    document = JobDocument.model_validate(
        box.encrypt_document(
            {
                "name": "t",
                "stages": [{"name": "a", "steps": [log("x")]}],
                "sequence": [{"stage": "a"}],
                # Port 9 on localhost refuses at once: the clone fails without a network.
                "sources": [{"type": "git", "url": "https://127.0.0.1:9/r.git", "token": token}],
            },
            "job-1",
        )
    )
    status, notifier = await run(tmp_path, document, box=box)
    assert status is Status.FAILED
    # The token goes to git through a credential helper, never into the URL.
    assert any(" clone -- https://127.0.0.1:9/r.git " in t for t in notifier.texts())
    assert not any("tok-en" in t or "Secret" in t for t in notifier.texts())


# -- timeouts and cancellation --------------------------------------------------------------


async def test_step_timeout_fails_the_step(tmp_path: Path) -> None:
    document = job(
        {"a": [sh("echo start; sleep 30", timeout=0.3)], "h": [log("handler")]},
        [{"stage": "a", "on_failure": "h"}],
    )
    started = time.monotonic()
    status, notifier = await run(tmp_path, document, kill_grace=1)
    assert time.monotonic() - started < 10
    assert status is Status.FAILED
    assert "timed out after 0.3 s" in (notifier.statuses[-1].reason or "")
    assert any("step timed out after 0.3 s" in t for t in notifier.texts("system"))
    assert "handler" in notifier.texts("system")


async def test_job_timeout_kills_the_step_and_ends_failed(tmp_path: Path) -> None:
    document = job({"a": [sh("sleep 30")], "b": [log("never")]}, ["a", "b"], timeout=0.5)
    started = time.monotonic()
    status, notifier = await run(tmp_path, document, kill_grace=1)
    assert time.monotonic() - started < 10
    assert status is Status.FAILED
    assert notifier.statuses[-1].reason == "timed out after 0.5 s"
    assert "never" not in notifier.texts()


async def test_cancel_kills_the_tree_and_ends_cancelled(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    document = job(
        {
            "a": [
                # The shell ignores SIGTERM: only the SIGKILL after the grace stops it.
                sh(f"trap '' TERM; sleep 300 & echo $! > {pid_file}; echo up; wait"),
            ],
            "b": [log("never")],
        },
        ["a", "b"],
    )
    cancel = asyncio.Event()
    task = asyncio.create_task(run(tmp_path, document, cancel=cancel, kill_grace=0.3))
    async with asyncio.timeout(BOUND):
        while not pid_file.exists() or not pid_file.read_text().strip():
            await asyncio.sleep(0.01)
    grandchild = int(pid_file.read_text())
    cancel.set()
    status, notifier = await task
    assert status is Status.CANCELLED
    assert notifier.status_names[-1] == "CANCELLED"
    assert "never" not in notifier.texts()
    assert not notifier.completions[0].success
    async with asyncio.timeout(5):
        while not gone(grandchild):
            await asyncio.sleep(0.01)


async def test_cancel_before_start(tmp_path: Path) -> None:
    cancel = asyncio.Event()
    cancel.set()
    status, notifier = await run(tmp_path, job({"a": [log("A")]}, ["a"]), cancel=cancel)
    assert status is Status.CANCELLED
    assert notifier.status_names == ["WAITING", "CANCELLED"]


# -- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "builder",
    [
        HostBuilder,
        pytest.param(
            SandboxBuilder,
            marks=pytest.mark.skipif(probe() is not None, reason=f"no sandbox: {probe()}"),
        ),
    ],
)
async def test_secrets_never_reach_the_notifier(tmp_path: Path, builder: type[Builder]) -> None:
    box = SecretBox(Fernet.generate_key())
    secret = "pa55-w0rd-xyz"
    document = JobDocument.model_validate(
        box.encrypt_document(
            {
                "name": "t",
                "secrets": {"pw": secret, "multi": "line-one-abc\nline-two-def"},
                "stages": [
                    {
                        "name": "a",
                        "steps": [
                            sh("echo %{pw}"),
                            sh('echo "$PW"', env={"PW": "%{pw}"}),
                            # half of it on stdout, half on stderr, and a cut in the middle
                            sh("printf pa55- ; printf w0rd-xyz >&2; echo"),
                            sh('echo "%{multi}"'),
                            sh("echo", args=["%{pw}"]),
                            log("the secret is %{pw}"),
                            sh("exit 1", timeout=5),
                        ],
                    }
                ],
                "sequence": [{"stage": "a", "fail_if": "'%{pw}' == 'x'"}],
            },
            "job-1",
        )
    )
    assert secret not in document.model_dump_json()
    status, notifier = await run(tmp_path, document, box=box, builder=builder())
    assert status is Status.FAILED
    everything = [*notifier.texts(), *(s.reason or "" for s in notifier.statuses)]
    for value in (secret, "line-one-abc", "line-two-def"):
        assert not any(value in text for text in everything)
    assert notifier.texts("stdout")[:2] == ["***", "***"]
    assert "the secret is ***" in notifier.texts("system")
    assert "$ echo ***" in notifier.texts("system")


async def test_an_undecryptable_secret_fails_the_job(tmp_path: Path) -> None:
    other = SecretBox(Fernet.generate_key())
    document = JobDocument.model_validate(
        other.encrypt_document(
            {
                "name": "t",
                "secrets": {"a": "b"},
                "stages": [{"name": "a", "steps": [log("x")]}],
                "sequence": [{"stage": "a"}],
            },
            "job-1",
        )
    )
    status, notifier = await run(tmp_path, document, box=SecretBox(Fernet.generate_key()))
    assert status is Status.FAILED
    assert "decrypt" in (notifier.statuses[-1].reason or "")
    status, notifier = await run(tmp_path, document, box=None)
    assert status is Status.FAILED
    assert "no key" in (notifier.statuses[-1].reason or "")


async def test_a_secret_copied_from_another_job_fails_the_job_naming_it(tmp_path: Path) -> None:
    box = SecretBox(Fernet.generate_key())
    sealed_for_a = box.encrypt_document({"secrets": {"api_key": "job-a-secret"}}, "job-a")
    document = job({"a": [sh("echo %{api_key} | base64")]}, ["a"])
    stolen = document.model_copy(update={"secrets": sealed_for_a["secrets"]})
    status, notifier = await run(tmp_path, stolen, box=box)  # runs as job-1
    assert status is Status.FAILED
    reason = notifier.statuses[-1].reason or ""
    assert "secret 'api_key' is bound to job job-a" in reason
    assert "STARTED" not in notifier.status_names and stages_run(notifier) == []
    assert not any("job-a-secret" in t for t in notifier.texts())
