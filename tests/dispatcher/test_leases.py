"""The LeaseKeeper: a job whose runner went silent is ended FAILED through ordinary events.

The lost runner is a real one: a worker's job task (`run_attempt`, what the Worker runs per
job) is cancelled mid-step, so it stops heartbeating and never writes its own end, as when
its process is killed. Its step's process outlives it, as it would; the test kills it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobstream.dispatcher import LeaseKeeper, Worker, run_attempt, submission, submit
from jobstream.dispatcher.attempt import new_writer
from jobstream.dispatcher.leases import KEEPER
from jobstream.dispatcher.notifier import EventNotifier
from jobstream.events.documents.models import JobDocument
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import JobSubmitted, Status, StatusChanged
from jobstream.runners import Runner

from ..polling import wait_until
from .dispatcher_support import (
    BOUND,
    TOPICS,
    Views,
    completion,
    events_of,
    job,
    read_topic,
    statuses,
    texts,
    wait_for_status,
)

LEASE = 0.5


@contextlib.asynccontextmanager
async def lost_attempt(
    log: EmbeddedLog, runner: Runner, event: JobSubmitted, pid_file: Path
) -> AsyncIterator[None]:
    """Runs the job until its step is up, then drops its runner without a word."""
    notifier = EventNotifier(log, TOPICS.events, event.job_id, new_writer())
    attempt = asyncio.create_task(
        run_attempt(
            runner, notifier, event.document, worker="doomed", lease=LEASE, cancel=asyncio.Event()
        )
    )
    try:
        await wait_until(lambda: pid_file.exists() and pid_file.read_text().strip())
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
        yield
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def stuck(pid_file: Path, **extra: object) -> JobDocument:
    """A job whose step records its pid and then waits for a long time."""
    return job(f"echo $$ > {pid_file}; exec sleep 60", **extra)


async def sweep_until_ended(keeper: LeaseKeeper) -> list[str]:
    """Sweeps until the lease has run out and the keeper ends something."""
    async with asyncio.timeout(BOUND):
        while not (ended := await keeper.sweep()):
            await asyncio.sleep(0.05)
    return ended


async def test_a_silent_job_is_ended_failed_with_a_reason(
    log: EmbeddedLog, runner: Runner, box: SecretBox, views: Views, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    event = submission(stuck(pid_file), box)
    await submit(log, TOPICS, event)
    keeper = LeaseKeeper(log, TOPICS, views.expired)
    async with lost_attempt(log, runner, event, pid_file):
        # The keeper judges by the view, which saw the job start and its heartbeats.
        assert (await views.job(event.job_id)).status is Status.STARTED
        assert await sweep_until_ended(keeper) == [event.job_id]

    events = await events_of(log, event.job_id)
    assert statuses(events) == ["WAITING", "STARTED", "FAILED"]
    ended = [e for e in events if e.writer == KEEPER]
    assert [e.seq for e in ended] == [1, 2]
    failed = ended[0]
    assert isinstance(failed, StatusChanged) and failed.previous is Status.STARTED
    assert failed.reason is not None
    assert failed.reason.startswith("worker doomed lost: no heartbeat since ")
    assert "retried" not in failed.reason
    assert completion(events).success is False
    # Ended in the view too, so the next sweep has nothing to do.
    assert (await views.job(event.job_id)).status is Status.FAILED
    assert await keeper.sweep() == []


async def test_a_lost_attempt_with_retries_left_is_retried_as_a_linked_job(
    log: EmbeddedLog, runner: Runner, box: SecretBox, views: Views, tmp_path: Path
) -> None:
    pid_file, marker = tmp_path / "pid", tmp_path / "first-attempt-ran"
    # The first attempt gets stuck; the retry finds the marker and succeeds. The retry
    # opens the secret sealed to the first attempt: its id derives from that job's.
    document = job(
        f'if [ -e {marker} ]; then test "%{{pw}}" = retry-secret-xyz && echo second attempt; '
        f"else touch {marker}; echo $$ > {pid_file}; exec sleep 60; fi",
        retry=1,
        secrets={"pw": "retry-secret-xyz"},
    )
    event = submission(document, box)
    await submit(log, TOPICS, event)
    keeper = LeaseKeeper(log, TOPICS, views.expired)
    async with lost_attempt(log, runner, event, pid_file):
        await sweep_until_ended(keeper)

    retries = [
        e for e in await read_topic(log, TOPICS.jobs) if isinstance(e, JobSubmitted) and e.retry_of
    ]
    (retry,) = retries
    assert retry.retry_of == event.job_id and retry.attempt == 2
    assert retry.document == event.document
    (failed,) = [
        e
        for e in await events_of(log, event.job_id)
        if isinstance(e, StatusChanged) and e.writer == KEEPER
    ]
    assert f"retried as job {retry.job_id} (attempt 2)" in (failed.reason or "")

    # The retry is an ordinary queued job: a worker runs it.
    async with asyncio.timeout(BOUND):
        await Worker(log, TOPICS, runner, burst=True).run()
    retried = await events_of(log, retry.job_id)
    assert statuses(retried)[-1] == "SUCCEEDED"
    assert "second attempt" in texts(retried)
    record = await views.job(retry.job_id)
    assert record.retry_of == event.job_id and record.attempt == 2
    # The retry's secret came from the log: the views never held it sealed, only `***`.
    assert event.document["secrets"]["pw"].startswith("enc:")
    assert record.document is not None and record.document["secrets"] == {"pw": "***"}
    rows = views.views.conn.execute("SELECT * FROM job_records").fetchall()
    assert len(rows) == 2 and "enc:" not in repr(rows)


async def test_a_lost_last_attempt_is_not_retried(
    log: EmbeddedLog, runner: Runner, box: SecretBox, views: Views, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    first = submission(stuck(pid_file, retry=1), box)
    # The second attempt of a job allowing one retry: its retry budget is spent.
    last = first.model_copy(update={"retry_of": "earlier-job", "attempt": 2})
    await submit(log, TOPICS, last)
    keeper = LeaseKeeper(log, TOPICS, views.expired)
    async with lost_attempt(log, runner, last, pid_file):
        await sweep_until_ended(keeper)
    # The sweep has appended everything it will: the jobs topic holds only the lost job.
    assert [e.job_id for e in await read_topic(log, TOPICS.jobs)] == [last.job_id]
    failed = (await wait_for_status(log, last.job_id, Status.FAILED))[-1]
    assert isinstance(failed, StatusChanged) and "retried" not in (failed.reason or "")
