"""The lease keeper judges from positions, so a log that is never quiet does not blind it.

Real processes on one data directory: a projector (`project`, which runs the lease keeper),
a worker running a job that would sleep for a minute, and `jobstream run` of a job writing
log lines all the while (a LogAppended and heartbeats several times a second, so a read of
the log is never empty). The projector is killed and restarted under that load, then the
worker is killed with SIGKILL: its job must be ended by the keeper within the lease plus
`BOUND` (the keeper's interval and twice the views' lag behind the log, docs/design.md)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream.events.models import Completed, LogAppended, StatusChanged

from ..jobstream.cli_support import Cli
from ..jobstream.test_services import read_events, write_job
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
    eventually(lambda: any(isinstance(e, LogAppended) for e in read_events(log_path)), timeout=30)

    # Restarted while the log is busy: the views catch up behind a log that never pauses.
    os.kill(projector.pid, signal.SIGKILL)
    projector.wait()
    cli.start("project")

    worker = cli.start("worker")
    stuck = write_job(tmp_path / "stuck.yml", "stuck", "echo started; sleep 60")
    job_id = cli("submit", str(stuck)).stdout.strip()

    def started() -> bool:
        return any(
            isinstance(e, StatusChanged) and e.job_id == job_id and e.status.name == "STARTED"
            for e in read_events(log_path)
        )

    eventually(started, timeout=30)
    os.kill(worker.pid, signal.SIGKILL)
    killed = time.time()
    worker.wait()

    def ended() -> Completed | None:
        events = read_events(log_path)
        return next((e for e in events if isinstance(e, Completed) and e.job_id == job_id), None)

    done = eventually(ended, timeout=LEASE + 30)
    assert done.writer == "lease-keeper"
    took = done.at.timestamp() - killed
    assert took <= LEASE + BOUND, f"ended {took:.1f}s after the kill"
    # The load went on meanwhile: the chatty job (which outlives the test, which stops it)
    # was still writing when the keeper judged.
    assert any(isinstance(e, LogAppended) and e.at >= done.at for e in read_events(log_path)), (
        "the chatty job stopped writing before the lost job was ended"
    )
