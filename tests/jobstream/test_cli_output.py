"""What the query commands print, the same whether a server answers or they open the
views themselves: `log --timestamps/--tail/--since`, `-o table|json|yaml` (and `--json`),
and job ids completed by the shell completion protocol."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from jobstream import runtime

from ..polling import eventually
from .cli_support import Cli

COUNT = "for i in $(seq 1 12); do echo line $i; sleep 0.02; done"
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC ")


def write_job(path: Path, name: str, cmd: str) -> Path:
    path.write_text(
        f"name: {name}\nsequence: [{{stage: s}}]\nstages:\n  - name: s\n    steps:\n"
        f"      - action: command\n        cmd: {json.dumps(cmd)}\n"
    )
    return path


@pytest.fixture(params=["views", "server"])
def ran(request: pytest.FixtureRequest, cli: Cli, tmp_path: Path) -> tuple[Cli, str]:
    """A data directory with one finished job of 12 `line N` lines, asked through its
    views (no server) or through a running `project`."""
    done = cli("run", str(write_job(tmp_path / "count.yml", "count", COUNT)))
    assert done.returncode == 0, done.stderr
    job_id = json.loads(cli("list", "--json").stdout)[0]["job_id"]
    if request.param == "server":
        cli.start("project")
        eventually(lambda: runtime.discover(cli.data_dir), timeout=30)
    return cli, job_id


def ok(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def test_log_tail_since_and_timestamps(ran: tuple[Cli, str]) -> None:
    cli, job_id = ran
    whole = ok(cli, "log", job_id).splitlines()
    assert "line 12" in whole

    assert ok(cli, "log", job_id[:6], "--tail", "3").splitlines() == whole[-3:]
    assert ok(cli, "log", job_id, "-n", "0") == ""
    assert ok(cli, "log", job_id, "--tail", "999").splitlines() == whole

    stamped = ok(cli, "log", job_id, "--timestamps").splitlines()
    assert all(STAMP.match(line) for line in stamped), stamped
    assert [STAMP.sub("", line) for line in stamped] == whole
    # Each stamp is the line's own time: the log took a while, so they are not all equal.
    times = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f") for line in stamped]
    assert times == sorted(times) and times[0] < times[-1]

    # --since a time: from the first line written at or after it (the zone is UTC).
    cut = times[len(times) // 2]
    since = ok(cli, "log", job_id, "-t", "--since", cut.isoformat()).splitlines()
    assert since == [line for line, t in zip(stamped, times, strict=True) if t >= cut]
    assert ok(cli, "log", job_id, "--since", "1h").splitlines() == whole
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ok(cli, "log", job_id, "--since", ahead) == ""
    assert ok(cli, "log", job_id, "--since", "1h", "--tail", "1").splitlines() == whole[-1:]

    bad = cli("log", job_id, "--since", "last tuesday")
    assert bad.returncode == 2
    assert "'last tuesday' is neither a time" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_records_as_table_json_and_yaml(ran: tuple[Cli, str]) -> None:
    cli, job_id = ran
    table = ok(cli, "list").splitlines()
    assert table[0].split() == ["JOB", "STATUS", "NAME", "SUBMITTED", "DURATION"]
    assert job_id[:12] in table[1] and "SUCCEEDED" in table[1] and " UTC " in table[1]

    as_json = json.loads(ok(cli, "list", "-o", "json"))
    assert json.loads(ok(cli, "list", "--json")) == as_json
    assert yaml.safe_load(ok(cli, "list", "--output", "yaml")) == as_json
    assert [r["job_id"] for r in as_json] == [job_id]
    submitted = datetime.fromisoformat(as_json[0]["submitted"])
    assert submitted.utcoffset() == timedelta(0)  # times carry their zone

    shown = yaml.safe_load(ok(cli, "show", job_id, "-o", "yaml"))
    assert shown == json.loads(ok(cli, "show", job_id, "--json"))
    assert shown["name"] == "count" and shown["document"]["name"] == "count"
    assert "duration" in ok(cli, "show", job_id)

    assert ok(cli, "status", job_id).strip() == "SUCCEEDED"
    status = json.loads(ok(cli, "status", job_id, "-o", "json"))
    assert status == {
        "job_id": job_id,
        "status": "SUCCEEDED",
        "stage": None,
        "reason": None,
        "completed": True,
    }

    figures = yaml.safe_load(ok(cli, "stats", "-o", "yaml"))
    assert figures["by_status"] == {"SUCCEEDED": 1}
    assert isinstance(figures["mean_duration"], float)  # seconds, for scripts
    # ...and for people, a duration in words, not 0.2511298333333335.
    assert re.search(r"mean_duration: \d+\.\d\d s$", ok(cli, "stats"), re.MULTILINE)

    bad = cli("list", "-o", "xml")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def complete(cli: Cli, *words: str) -> list[str]:
    """The candidates bash would get for the last of `words` (click's protocol)."""
    env = {
        **cli.env,
        "_JOBSTREAM_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(["jobstream", *words]),
        "COMP_CWORD": str(len(words)),
    }
    saved, cli.env = cli.env, env
    try:
        result = cli()
    finally:
        cli.env = saved
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [line.partition(",")[2] for line in result.stdout.splitlines() if line]


def test_job_ids_complete_for_every_command_taking_one(ran: tuple[Cli, str]) -> None:
    cli, job_id = ran
    for command in (["show"], ["status"], ["log", "--follow"], ["cancel"]):
        assert complete(cli, *command, job_id[:3]) == [job_id], command
    assert complete(cli, "show", "") == [job_id]
    assert complete(cli, "show", "zz") == []


def test_completion_offers_nothing_while_another_process_holds_the_views(
    cli: Cli, tmp_path: Path
) -> None:
    done = cli("run", str(write_job(tmp_path / "count.yml", "count", "true")))
    assert done.returncode == 0, done.stderr
    job_id = json.loads(cli("list", "--json").stdout)[0]["job_id"]
    assert complete(cli, "show", job_id[:4]) == [job_id]
    # As a `run` holds them: DuckDB's one writer. Completion must not wait or complain.
    with duckdb.connect(str(cli.data_dir / "views.duckdb")):
        assert complete(cli, "show", job_id[:4]) == []


def test_follow_from_the_tail_of_a_running_job(cli: Cli, tmp_path: Path) -> None:
    cli.start("project")
    cli.start("worker")
    # Five lines, then it waits (in its workspace) for the test to let it finish.
    held = "seq 1 5; while [ ! -e go ]; do sleep 0.05; done; echo after"
    job_id = ok(cli, "submit", str(write_job(tmp_path / "held.yml", "held", held))).strip()
    eventually(lambda: "5" in cli("log", job_id).stdout.splitlines(), timeout=60)
    follower = cli.start("log", job_id, "--follow", "--tail", "2")
    assert follower.stdout is not None
    assert [follower.stdout.readline() for _ in range(2)] == ["4\n", "5\n"]
    (cli.data_dir / "workspaces" / job_id / "go").touch()
    rest = follower.stdout.read().splitlines()
    assert follower.wait(timeout=60) == 0
    assert rest[0] == "after" and rest[-1] == "==> job succeeded"
