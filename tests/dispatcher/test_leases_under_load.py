"""The lease keeper judges from positions, so a log that is never quiet does not blind it.

Real processes on one data directory: a projector (`project`, which runs the lease keeper),
a worker running a job that would sleep for a minute, and `jobstream run` of a job writing
log lines all the while (a LogAppended and heartbeats several times a second, so a read of
the log is never empty). The projector is killed and restarted under that load, then the
worker is killed with SIGKILL: its job must be ended by the keeper within the lease plus
`BOUND` (the keeper's interval and twice the views' lag behind the log, docs/design.md)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream.events.codec import decode
from jobstream.events.models import Completed, Event, StatusChanged

from ..jobstream.cli_support import Cli
from ..jobstream.test_services import write_job
from ..polling import eventually

LEASE = 2.0
BOUND = 6.0
"""Seconds past the lease within which a lost job is ended while the log is busy."""


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path / "data")
    runner.env["JOBSTREAM_LEASE"] = str(LEASE)
    yield runner
    runner.stop_all()


def query(log_path: Path, sql: str, *args: object) -> list[tuple]:
    """Straight from the embedded log's file, read-only: reading the whole log through a
    consumer on every poll would cost more than the load itself as the log grows."""
    with contextlib.closing(sqlite3.connect(f"file:{log_path}?mode=ro", uri=True)) as db:
        return db.execute(sql, args).fetchall()


def events_of(log_path: Path, job_id: str) -> list[Event]:
    """The job's events (every record of a job is keyed by its id)."""
    rows = query(log_path, 'SELECT value FROM records WHERE key = ? ORDER BY "offset"', job_id)
    return [decode(value) for (value,) in rows]


def last_log_ms(log_path: Path, other_than: str = "") -> int:
    """When the last LogAppended of a job other than `other_than` was appended (0: none)."""
    (last,) = query(
        log_path,
        "SELECT coalesce(max(timestamp_ms), 0) FROM records "
        "WHERE headers LIKE '%LogAppended%' AND key IS NOT ?",
        other_than,
    )
    return int(last[0])


@pytest.mark.timeout(300)
def test_a_lost_job_is_ended_within_the_lease_while_another_job_writes(
    cli: Cli, tmp_path: Path
) -> None:
    log_path = cli.data_dir / "log.sqlite"
    projector = cli.start("project")
    # `run` then writes through the log only, leaving the views to the projector.
    eventually((cli.data_dir / "server.json").exists, timeout=30)
    chatty = write_job(
        tmp_path / "chatty.yml",
        "chatty",
        "for i in $(seq 1 20000); do echo tick $i; sleep 0.02; done",
    )
    cli.start("run", str(chatty))
    eventually(lambda: last_log_ms(log_path), timeout=30)

    # Restarted while the log is busy: the views catch up behind a log that never pauses.
    os.kill(projector.pid, signal.SIGKILL)
    projector.wait()
    cli.start("project")

    worker = cli.start("worker")
    stuck = write_job(tmp_path / "stuck.yml", "stuck", "echo started; sleep 60")
    job_id = cli("submit", str(stuck)).stdout.strip()

    def started() -> bool:
        return any(
            isinstance(e, StatusChanged) and e.status.name == "STARTED"
            for e in events_of(log_path, job_id)
        )

    eventually(started, timeout=60)
    os.kill(worker.pid, signal.SIGKILL)
    killed = time.time()
    worker.wait()

    def ended() -> Completed | None:
        return next((e for e in events_of(log_path, job_id) if isinstance(e, Completed)), None)

    done = eventually(ended, timeout=LEASE + 60)
    assert done.writer == "lease-keeper"
    took = done.at.timestamp() - killed
    assert took <= LEASE + BOUND, f"ended {took:.1f}s after the kill"
    # The load went on meanwhile: the chatty job (which outlives the test, which stops it)
    # goes on writing past the keeper's judgement.
    ended_ms = done.at.timestamp() * 1000
    eventually(lambda: last_log_ms(log_path, other_than=job_id) > ended_ms, timeout=10)
