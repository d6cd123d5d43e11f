"""`stage create`, `stage list`, `stage show`, and jobs that name stored stages, through
the real command line (no server: the log and the views of the data directory)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from jobstream.events.log.base import Message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.names import Topics

from ..polling import eventually
from .cli_support import Cli


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def stage_file(tmp_path: Path, name: str, version: str | None, cmd: str) -> Path:
    line = f"version: '{version}'\n" if version is not None else ""
    text = f"name: {name}\n{line}steps:\n  - action: command\n    cmd: {json.dumps(cmd)}\n"
    return write(tmp_path / f"{name}-{version}.yml", text)


def job_file(tmp_path: Path, entry: str, name: str = "uses-stored") -> Path:
    return write(tmp_path / f"{name}.yml", f"name: {name}\nstages: []\nsequence:\n  - {entry}\n")


def test_create_list_show_and_a_duplicate(cli: Cli, tmp_path: Path) -> None:
    created = cli("stage", "create", str(stage_file(tmp_path, "build", None, "make")))
    assert created.returncode == 0, created.stderr
    assert created.stdout == "build v0.0.1\n"
    assert cli("stage", "create", str(stage_file(tmp_path, "build", "1.0.0", "make all"))).stdout

    again = cli("stage", "create", str(stage_file(tmp_path, "build", "1.0.0", "other")))
    assert again.returncode == 2  # USAGE: that name and version is taken
    assert again.stderr == "error: a stage 'build' with version '1.0.0' already exists\n"

    listed = cli("stage", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "build v0.0.1\nbuild v1.0.0\n"

    shown = cli("stage", "show", "build")
    assert shown.returncode == 0, shown.stderr
    latest = json.loads(shown.stdout)
    assert (latest["version"], latest["steps"]) == (
        "1.0.0",
        [{"action": "command", "cmd": "make all"}],
    )
    first = json.loads(cli("stage", "show", "build", "--version", "0.0.1").stdout)
    assert first["steps"] == [{"action": "command", "cmd": "make"}]

    missing = cli("stage", "show", "build", "--version", "9.9.9")
    assert missing.returncode == 2
    assert missing.stderr == "error: no stored stage 'build' with version '9.9.9'\n"


def test_an_invalid_stage_is_refused_with_its_problems(cli: Cli, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yml", "name: build\nversion: '1.0'\nsteps:\n  - action: nope\n")
    result = cli("stage", "create", str(bad))
    assert result.returncode == 4  # INVALID_DOCUMENT
    assert f"{bad}:2: error: version: version '1.0' is not like 1.0.0" in result.stderr
    assert f"{bad}:4: error: steps[0].action: unknown action 'nope'" in result.stderr
    assert cli("stage", "list").stdout == ""


def test_a_job_runs_the_stored_stage_by_version_or_the_latest(cli: Cli, tmp_path: Path) -> None:
    for version, word in (("2.0.0", "two"), ("1.0.0", "one")):
        created = cli(
            "stage", "create", str(stage_file(tmp_path, "build", version, f"echo {word}"))
        )
        assert created.returncode == 0, created.stderr

    latest = cli("run", str(job_file(tmp_path, "stage: build", "latest")))
    assert latest.returncode == 0, latest.stderr
    # Most recently defined, not the highest version.
    assert "one\n" in latest.stdout and "two\n" not in latest.stdout
    assert "warning: sequence[0].stage: stage 'build' is not defined in this job" in latest.stderr

    exact = cli("run", str(job_file(tmp_path, "{stage: build, version: '2.0.0'}", "exact")))
    assert exact.returncode == 0, exact.stderr
    assert "two\n" in exact.stdout

    # The submitted document holds the steps it ran: a later definition changes nothing.
    cli("stage", "create", str(stage_file(tmp_path, "build", "3.0.0", "echo three")))
    records = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    shown = json.loads(cli("show", records["latest"]["job_id"], "--json").stdout)
    assert shown["document"]["stages"] == [
        {"name": "build", "version": "1.0.0", "steps": [{"action": "command", "cmd": "echo one"}]}
    ]


def test_submission_refuses_a_stage_that_is_not_stored(cli: Cli, tmp_path: Path) -> None:
    cli("stage", "create", str(stage_file(tmp_path, "build", "1.0.0", "make")))
    job = job_file(tmp_path, "{stage: build, version: '2.0.0'}")

    lint = cli("lint", str(job))
    assert lint.returncode == 0  # a warning: it may be stored by the time it is submitted
    assert "warning: sequence[0].stage: stage 'build' is not defined in this job" in lint.stdout

    for command in ("run", "submit"):
        result = cli(command, str(job))
        assert result.returncode == 4, command  # INVALID_DOCUMENT: the stage cannot resolve
        assert result.stderr.splitlines()[-1] == (
            "error: sequence[0].stage: stage 'build' version '2.0.0' is not defined in the job "
            "and is not a stored stage (`jobstream stage list`)"
        )
    assert json.loads(cli("list", "--json").stdout) == []


def test_queued_jobs_with_stored_stages_run_on_a_worker(cli: Cli, tmp_path: Path) -> None:
    cli("stage", "create", str(stage_file(tmp_path, "success", None, "echo stored-success")))
    job = write(
        tmp_path / "queued.yml",
        "name: queued\nstages:\n  - name: build\n    steps: [{action: command, cmd: 'true'}]\n"
        "sequence:\n  - {stage: build, on_success: success}\n",
    )
    submitted = cli("submit", str(job))
    assert submitted.returncode == 0, submitted.stderr
    # Another Kafka client's bare document (as `kcat -P` sends it) resolves in the worker.
    bare = b"name: bare\nstages: []\nsequence: [{stage: success}]\n"
    asyncio.run(_append_bare(cli.data_dir / "log.sqlite", bare))
    cli.start("worker")

    def ended() -> dict[str, dict] | None:
        listed = cli("list", "--json")
        records = {r["name"]: r for r in json.loads(listed.stdout or "[]")}
        done = len(records) == 2 and all(r["completed"] for r in records.values())
        return records if done else None

    records = eventually(ended, timeout=60, interval=0.5)
    for name in ("queued", "bare"):
        assert records[name]["status"] == "SUCCEEDED", records[name]
        assert "stored-success" in cli("log", records[name]["job_id"]).stdout


async def _append_bare(path: Path, value: bytes) -> None:
    async with EmbeddedLog(path) as log:
        await log.append(Topics().jobs, [Message(value)])


def test_replay_rebuilds_the_stages_view(cli: Cli, tmp_path: Path) -> None:
    for version in ("1.0.0", "1.1.0"):
        cli("stage", "create", str(stage_file(tmp_path, "build", version, "make")))
    before = cli("stage", "list").stdout
    (cli.data_dir / "views.duckdb").unlink()
    assert cli("stage", "list").stdout == before == "build v1.0.0\nbuild v1.1.0\n"
    replayed = cli("replay")
    assert replayed.returncode == 0, replayed.stderr
    assert cli("stage", "list").stdout == before
