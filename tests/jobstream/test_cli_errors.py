"""What a user can get wrong, command by command: a message naming the problem, never a
traceback, and the exit code jobstream.cli.exit_codes documents for that kind of problem."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jobstream import runtime
from jobstream.cli.exit_codes import ExitCode
from jobstream.projections import DuckDBViews
from tests.polling import eventually

from .cli_support import EXAMPLES, Cli

BAD = (
    "name: bad\nsequence:\n  - stage: build\n    on_failure: deploy\n"
    "stages:\n  - name: build\n    steps:\n      - action: teleport\n"
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_until(proc: subprocess.Popen[str], text: str) -> None:
    """Read `proc`'s stdout up to a line holding `text` (bounded by the test timeout)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return
    raise AssertionError(f"{proc.args} ended without printing {text!r}: {proc.wait()}")


@dataclass
class Case:
    args: list[str]
    code: ExitCode
    message: str
    env: dict[str, str] = field(default_factory=dict)
    one_line: bool = True  # the whole of stderr is the one message line


CASES = {
    "run an invalid document": Case(
        ["run", "{bad}"],
        ExitCode.INVALID_DOCUMENT,
        "bad.yml:8: error: stages[0].steps[0].action: unknown action 'teleport'",
        one_line=False,  # every problem, one line each
    ),
    "submit an invalid document": Case(
        ["submit", "{bad}"],
        ExitCode.INVALID_DOCUMENT,
        "bad.yml:8: error: stages[0].steps[0].action: unknown action 'teleport'",
        one_line=False,
    ),
    "unknown job": Case(["show", "zzzz"], ExitCode.USAGE, "no job id starts with 'zzzz'"),
    "ambiguous job": Case(["status", ""], ExitCode.USAGE, "matches 2 jobs"),
    "mistyped data directory": Case(
        ["--data-dir", "{tmp}/typo", "list"], ExitCode.USAGE, "no data directory at"
    ),
    "data directory that cannot be made": Case(
        ["--data-dir", "{tmp}/a-file/data", "run", "{minimal}"],
        ExitCode.USAGE,
        "cannot create the data directory",
    ),
    "data directory that cannot be made (submit)": Case(
        ["--data-dir", "{tmp}/a-file/data", "submit", "{minimal}"],
        ExitCode.USAGE,
        "cannot",
    ),
    "invalid setting": Case(
        ["list"], ExitCode.USAGE, "partitions: Input should be", env={"JOBSTREAM_PARTITIONS": "x"}
    ),
    "broker unreachable": Case(
        ["--broker", "kafka://127.0.0.1:{port}", "list"],
        ExitCode.LOG_UNREACHABLE,
        "error: Kafka at 127.0.0.1:",
    ),
    "server unreachable": Case(
        ["--server", "http://127.0.0.1:{port}", "list"],
        ExitCode.API_UNREACHABLE,
        "cannot reach the jobstream API at http://127.0.0.1:",
    ),
    "unknown callback": Case(
        ["callbacks", "run", "no-such-callback"], ExitCode.USAGE, "no-such-callback", one_line=False
    ),
    "unknown option": Case(["list", "--bogus"], ExitCode.USAGE, "No such option", one_line=False),
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A data directory with two jobs in it (their ids share the empty prefix)."""
    cli = Cli(tmp_path_factory.mktemp("seeded") / "data")
    for _ in range(2):
        assert cli("run", str(EXAMPLES / "minimal.yml")).returncode == 0
    return cli


@pytest.mark.parametrize("name", list(CASES))
def test_a_mistake_is_one_message_and_its_exit_code(name: str, seeded: Cli, tmp_path: Path):
    case = CASES[name]
    (tmp_path / "bad.yml").write_text(BAD)
    (tmp_path / "a-file").write_text("not a directory")
    values = {
        "bad": str(tmp_path / "bad.yml"),
        "tmp": str(tmp_path),
        "minimal": str(EXAMPLES / "minimal.yml"),
        "port": str(closed_port()),
    }
    saved = dict(seeded.env)
    seeded.env.update(case.env)
    try:
        result = seeded(*(arg.format(**values) for arg in case.args))
    finally:
        seeded.env = saved
    assert result.returncode == case.code, result.stderr
    assert case.message in result.stderr
    assert "Traceback" not in result.stderr
    if case.one_line:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_held_views_stop_replay_with_the_views_busy_code(cli: Cli) -> None:
    assert cli("run", str(EXAMPLES / "minimal.yml")).returncode == 0
    views_file = cli.data_dir / "views.duckdb"
    before = views_file.stat().st_ino
    views = DuckDBViews.open(views_file)  # held, as by a `run` in progress
    try:
        for args in (["replay", "--verify"], ["replay"]):
            result = cli(*args)
            assert result.returncode == ExitCode.VIEWS_BUSY, result.stderr
            assert f"process {os.getpid()}" in result.stderr
            assert "Traceback" not in result.stderr
    finally:
        views.close()
    assert views_file.stat().st_ino == before  # not swapped from under its holder
    assert "views match the log" in cli("replay", "--verify").stdout


def test_run_against_a_server_that_refuses_fails_before_the_job_runs(cli: Cli) -> None:
    token = cli("token", "create", "me", "--scope", "write").stdout.strip()
    cli.start("project", "--auth")
    eventually(lambda: runtime.discover(cli.data_dir), timeout=30)
    job = cli.data_dir.parent / "job.yml"
    # `run` prints the job's log as it runs: the line shows whether the job ran.
    job.write_text(
        "name: refused\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
        "      - {action: command, cmd: echo, args: [the-job-ran]}\n"
    )
    for args in (["run", str(job)], ["--token", "wrong", "run", str(job)]):
        result = cli(*args)
        assert result.returncode == ExitCode.UNAUTHORIZED, result.stderr
        assert "401" in result.stderr
        assert "the-job-ran" not in result.stdout + result.stderr
    listed = cli("--token", token, "list", "--json")
    assert json.loads(listed.stdout) == []  # nothing was submitted either
    accepted = cli("--token", token, "run", str(job))
    assert accepted.returncode == 0, accepted.stderr
    assert "the-job-ran" in accepted.stdout


def test_ctrl_c_cancels_the_run_and_exits_130(cli: Cli, tmp_path: Path) -> None:
    job = tmp_path / "long.yml"
    job.write_text(
        "name: long\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
        "      - {action: command, cmd: 'echo started; sleep 60'}\n"
    )
    proc = cli.start("run", str(job))
    read_until(proc, "started")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "CANCELLED" in out
    assert "interrupted" in err
    assert "Aborted!" not in err
    assert "Traceback" not in err


def test_ctrl_c_on_a_query_exits_130_without_aborted(cli: Cli, tmp_path: Path) -> None:
    job = tmp_path / "long.yml"
    job.write_text(
        "name: long\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
        "      - {action: command, cmd: 'echo started; sleep 60'}\n"
    )
    cli.start("worker")
    job_id = cli("submit", str(job)).stdout.strip()
    proc = cli.start("log", "--follow", job_id)
    read_until(proc, "started")  # following: the job's first line came
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted" in err
    assert "Aborted!" not in err
    assert "Traceback" not in err


def test_exit_codes_are_documented_in_the_commands_page() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "commands.md").read_text()
    for code in ExitCode:
        assert f"| {code.value} | {code.name} |" in page, code


def test_project_waits_for_a_command_that_holds_the_views_a_moment(cli: Cli) -> None:
    assert cli("run", str(EXAMPLES / "minimal.yml")).returncode == 0
    views = DuckDBViews.open(cli.data_dir / "views.duckdb")  # as a `list` starting first
    try:
        project = cli.start("project")
        assert project.stderr is not None
        line = project.stderr.readline()
        assert f"for process {os.getpid()}" in line and "release the views" in line, line
        assert runtime.discover(cli.data_dir) is None
    finally:
        views.close()
    info = eventually(lambda: runtime.discover(cli.data_dir), timeout=30)
    assert "minimal" in cli("list").stdout
    assert info.url.startswith("http://127.0.0.1:")
