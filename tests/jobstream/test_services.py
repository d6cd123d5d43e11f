"""Worker, projector and command line as separate processes sharing one data directory."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from pathlib import Path

import duckdb

from jobstream.events.log.base import Message, Record
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import Completed, Event
from jobstream.events.names import Topics

from ..polling import eventually
from .cli_support import EXAMPLES, Cli, valid_events


def read_events(log_path: Path) -> list[Event]:
    """Every valid event on both topics, read straight from the embedded log file."""

    async def go() -> list[Event]:
        async with EmbeddedLog(log_path) as log:
            return await valid_events(log, Topics(), idle=0.2)

    return asyncio.run(go())


def completions(cli: Cli) -> dict[str, Completed]:
    log_path = cli.data_dir / "log.sqlite"
    if not log_path.exists():
        return {}
    return {e.job_id: e for e in read_events(log_path) if isinstance(e, Completed)}


def write_job(path: Path, name: str, cmd: str) -> Path:
    path.write_text(
        f"name: {name}\nsequence: [{{stage: s}}]\nstages:\n  - name: s\n    steps:\n"
        f"      - action: command\n        cmd: {json.dumps(cmd)}\n"
    )
    return path


def test_worker_and_projector_processes_run_submitted_jobs(cli: Cli) -> None:
    projector = cli.start("project")
    cli.start("worker", "--concurrency", "2")
    ids = [cli("submit", str(EXAMPLES / "minimal.yml")).stdout.strip() for _ in range(4)]
    assert all(len(i) == 32 for i in ids)

    done = eventually(lambda: (c := completions(cli)) and set(ids) <= set(c) and c, timeout=60)
    assert all(done[i].success for i in ids)

    # The projector answers through its API, found by the runtime file it wrote...
    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert set(ids) <= {r["job_id"] for r in json.loads(listed.stdout)}
    # ...and without it, DuckDB's one writer: a query names the process holding the views.
    (cli.data_dir / "server.json").unlink()
    busy = cli("list")
    assert busy.returncode == 3
    assert str(projector.pid) in busy.stderr

    projector.send_signal(signal.SIGTERM)
    projector.wait(timeout=20)
    records = {r["job_id"]: r for r in json.loads(cli("list", "--json").stdout)}
    assert {records[i]["status"] for i in ids} == {"SUCCEEDED"}


def test_killed_worker_job_ends_failed_after_the_lease(cli: Cli, tmp_path: Path) -> None:
    cli.start("project")
    worker = cli.start("worker")
    job = write_job(tmp_path / "long.yml", "long", "echo started; sleep 30")
    job_id = cli("submit", str(job)).stdout.strip()

    def started() -> bool:
        return any(
            getattr(e, "status", None) is not None
            and e.job_id == job_id
            and e.type == "StatusChanged"
            and e.status.name == "STARTED"
            for e in read_events(cli.data_dir / "log.sqlite")
        )

    eventually(started, timeout=30)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    done = eventually(lambda: completions(cli).get(job_id), timeout=30)
    assert done.success is False
    assert done.writer == "lease-keeper"
    reason = next(
        e.reason
        for e in read_events(cli.data_dir / "log.sqlite")
        if e.job_id == job_id and e.type == "StatusChanged" and e.status.name == "FAILED"
    )
    assert "lost" in reason


def test_cancel_stops_a_running_job(cli: Cli, tmp_path: Path) -> None:
    cli.start("worker")
    job = write_job(tmp_path / "sleepy.yml", "sleepy", "echo going to sleep; sleep 60")
    job_id = cli("submit", str(job)).stdout.strip()
    eventually(
        lambda: any(
            e.type == "LogAppended" and e.job_id == job_id
            for e in read_events(cli.data_dir / "log.sqlite")
        ),
        timeout=30,
    )
    result = cli("cancel", job_id[:8])
    assert result.returncode == 0, result.stderr
    started = time.monotonic()
    done = eventually(lambda: completions(cli).get(job_id), timeout=30)
    assert time.monotonic() - started < 15
    assert done.status.name == "CANCELLED"
    assert cli("status", job_id).stdout.strip() == "CANCELLED"


def test_projector_killed_at_random_moments_equals_a_clean_replay(cli: Cli, tmp_path: Path) -> None:
    cli.start("worker")
    job = write_job(
        tmp_path / "chatty.yml",
        "chatty",
        "i=0; while [ $i -lt 40 ]; do seq 1 500; echo oops >&2; sleep 0.1; i=$((i+1)); done",
    )
    job_ids = [cli("submit", str(job)).stdout.strip() for _ in range(2)]
    rng = random.Random(7)
    for _ in range(5):
        projector = cli.start("project")
        time.sleep(rng.uniform(0.3, 1.2))
        os.kill(projector.pid, signal.SIGKILL)
        projector.wait()
    eventually(lambda: set(job_ids) <= set(completions(cli)), timeout=60)
    last = cli.start("project")
    server = cli.data_dir / "server.json"
    eventually(lambda: server.exists() and json.loads(server.read_text())["pid"] == last.pid)
    last.send_signal(signal.SIGTERM)
    last.wait(timeout=20)

    result = cli("replay", "--verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "views match" in result.stdout
    con = duckdb.connect(str(cli.data_dir / "views.duckdb"), read_only=True)
    try:
        lines = con.execute("select count(*) from log_lines").fetchone()[0]
    finally:
        con.close()
    assert lines >= 2 * 40 * 501


def test_secret_never_reaches_log_events_or_views(cli: Cli) -> None:
    secret_value = "s3cr3t-pa55w0rd-value"
    document = (EXAMPLES / "secrets.yml").read_text()
    assert secret_value in document
    result = cli("run", str(EXAMPLES / "secrets.yml"))
    assert result.returncode == 0, result.stderr
    assert secret_value not in result.stdout + result.stderr
    assert "***" in result.stdout

    raw = (cli.data_dir / "log.sqlite").read_bytes()
    for suffix in ("-wal",):
        wal = cli.data_dir / f"log.sqlite{suffix}"
        if wal.exists():
            raw += wal.read_bytes()
    assert secret_value.encode() not in raw
    for event in read_events(cli.data_dir / "log.sqlite"):
        assert secret_value not in event.model_dump_json()

    con = duckdb.connect(str(cli.data_dir / "views.duckdb"), read_only=True)
    try:
        tables = [t for (t,) in con.execute("show tables").fetchall()]
        for table in tables:
            hits = con.execute(
                f"select count(*) from {table} t where cast(t as varchar) like ?",
                [f"%{secret_value}%"],
            ).fetchone()[0]
            assert hits == 0, table
    finally:
        con.close()
    shown = cli("show", json.loads(cli("list", "--json").stdout)[0]["job_id"], "--json")
    assert secret_value not in shown.stdout


def append_raw(cli: Cli, value: bytes) -> Record:
    """What `kcat -P -t jobs` does: a bare document, no key, no headers."""

    async def go() -> Record:
        async with EmbeddedLog(cli.data_dir / "log.sqlite") as log:
            (record,) = await log.append(Topics().jobs, [Message(value)])
            return record

    return asyncio.run(go())


def test_a_bare_document_from_another_client_runs_and_garbage_is_dead_lettered(
    cli: Cli,
) -> None:
    cli.start("worker")
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    append_raw(cli, (EXAMPLES / "minimal.yml").read_bytes())
    garbage = append_raw(cli, b"\x00\x01 not json, not yaml: [")
    done = eventually(lambda: completions(cli), timeout=30)
    (job_id,) = done
    assert done[job_id].success

    (record,) = json.loads(cli("list", "--json").stdout)
    assert record["job_id"] == job_id
    assert record["name"] == "minimal"
    assert record["status"] == "SUCCEEDED"
    con = duckdb.connect(str(cli.data_dir / "views.duckdb"), read_only=True)
    try:
        dead = con.execute(
            'select topic, "partition", "offset", error from dead_letters'
        ).fetchall()
    finally:
        con.close()
    assert [row[:3] for row in dead] == [("jobs", garbage.partition, garbage.offset)]
    assert "neither an event nor a valid job document" in dead[0][3]


def test_a_lost_attempt_is_retried_as_a_new_linked_job(cli: Cli, tmp_path: Path) -> None:
    marker = tmp_path / "first-attempt-ran"
    doc = tmp_path / "flaky.yml"
    doc.write_text(
        "name: flaky\nretry: 1\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
        "      - action: command\n"
        f"        cmd: if [ -e {marker} ]; then echo second; else touch {marker}; sleep 60; fi\n"
    )
    # The two attempts share a file outside their workspaces, which only the host allows.
    cli.env["JOBSTREAM_BUILDER"] = "host"
    cli.start("project")
    doomed = cli.start("worker")
    job_id = cli("submit", str(doc)).stdout.strip()
    eventually(marker.exists, timeout=30)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    cli.start("worker")

    def both_done() -> dict[str, Completed] | None:
        done = completions(cli)
        return done if len(done) == 2 else None

    done = eventually(both_done, timeout=60)
    assert done[job_id].success is False
    (retry_id,) = set(done) - {job_id}
    assert done[retry_id].success is True
    submitted = {
        e.job_id: e for e in read_events(cli.data_dir / "log.sqlite") if e.type == "JobSubmitted"
    }
    assert submitted[retry_id].retry_of == job_id
    assert submitted[retry_id].attempt == 2


def test_worker_check_follows_a_worker_life(cli: Cli) -> None:
    assert cli("worker", "--check").returncode == 1  # none yet
    worker = cli.start("worker")
    eventually(lambda: cli("worker", "--check").returncode == 0, timeout=30)
    assert "0 running" in cli("worker", "--check").stdout
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=20)
    assert cli("worker", "--check").returncode == 1  # its health file went with it


def test_run_beside_a_running_serve_waits_for_its_views(cli: Cli) -> None:
    cli.start("serve")
    eventually(lambda: (cli.data_dir / "server.json").exists(), timeout=30)
    result = cli("run", str(EXAMPLES / "minimal.yml"))
    assert result.returncode == 0, result.stderr
    assert "hello" in result.stdout
    assert "SUCCEEDED" in result.stdout  # the final record, as the server's views show it
    assert "lines  5" in result.stdout
