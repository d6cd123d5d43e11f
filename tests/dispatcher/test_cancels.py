"""Cancel requests: a CancelRequested on the jobs topic stops the job wherever it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jobstream.dispatcher import CancelWatcher, Worker, request_cancel
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import Status, StatusChanged
from jobstream.runners import Runner

from ..polling import wait_until
from ..processes import gone
from .dispatcher_support import (
    BOUND,
    TOPICS,
    completion,
    events_of,
    job,
    queue,
    statuses,
    texts,
    wait_for_status,
)


async def test_a_cancel_request_ends_a_running_job_and_stops_its_process_tree(
    log: EmbeddedLog, runner: Runner, box: SecretBox, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    # The shell ignores SIGTERM and its background child holds on: only the kill of the
    # whole group after the grace stops them.
    document = job(f"trap '' TERM; sleep 300 & echo $! > {pid_file}; echo up; wait", "echo never")
    job_id = await queue(log, box, document)
    worker = Worker(log, TOPICS, runner, burst=True)
    running = asyncio.create_task(worker.run())
    await wait_for_status(log, job_id, Status.STARTED)
    await wait_until(lambda: pid_file.exists() and pid_file.read_text().strip())
    grandchild = int(pid_file.read_text())

    await request_cancel(log, TOPICS, job_id, requested_by="alice")
    # The burst ends only once the job has: the request reached the running job.
    async with asyncio.timeout(BOUND):
        await running
    events = await events_of(log, job_id)
    assert statuses(events)[-2:] == ["STARTED", "CANCELLED"]
    assert "never" not in texts(events)
    done = completion(events)
    assert done.success is False and done.status is Status.CANCELLED
    assert worker.health.cancelled == 1
    await wait_until(lambda: gone(grandchild), 5)


async def test_a_job_cancelled_while_queued_never_starts(
    log: EmbeddedLog, runner: Runner, box: SecretBox
) -> None:
    job_id = await queue(log, box, job("echo ran"))
    await request_cancel(log, TOPICS, job_id)
    # The worker starts after both: it must look at requests since its committed position.
    async with asyncio.timeout(BOUND):
        await Worker(log, TOPICS, runner, burst=True).run()
    events = await events_of(log, job_id)
    assert statuses(events) == ["WAITING", "CANCELLED"]
    assert "ran" not in texts(events)


async def test_the_watcher_signals_requests_made_before_and_after_watching(
    log: EmbeddedLog,
) -> None:
    watcher = CancelWatcher(log, TOPICS.jobs)
    stop = asyncio.Event()
    following = asyncio.create_task(watcher.run(stop, start="earliest"))
    try:
        await request_cancel(log, TOPICS, "early")
        await wait_until(lambda: watcher.requested("early"))
        # Asked to stop before anyone watched it: the signal is set from the start.
        assert watcher.watch("early").is_set()

        late = watcher.watch("late")
        await request_cancel(log, TOPICS, "late")
        async with asyncio.timeout(BOUND):
            await late.wait()
        # Forgetting a finished job drops its request with it.
        watcher.forget("early")
        assert not watcher.requested("early")
        assert not watcher.watch("early").is_set()
    finally:
        stop.set()
        async with asyncio.timeout(BOUND):
            await following


async def test_a_cancel_request_reaches_only_its_own_job(
    log: EmbeddedLog, runner: Runner, box: SecretBox, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    # Both jobs wait on a gate the test opens after the request: the request cannot
    # arrive after the jobs are done.
    waiting = f"while [ ! -e {gate} ]; do sleep 0.01; done; echo through"
    doomed, spared = [await queue(log, box, job(waiting)) for _ in range(2)]
    worker = Worker(log, TOPICS, runner, burst=True, concurrency=2)
    running = asyncio.create_task(worker.run())
    for job_id in (doomed, spared):
        await wait_for_status(log, job_id, Status.STARTED)
    await request_cancel(log, TOPICS, doomed)
    cancelled = await wait_for_status(log, doomed, Status.CANCELLED)
    assert isinstance(cancelled[-1], StatusChanged)
    gate.touch()
    async with asyncio.timeout(BOUND):
        await running
    assert statuses(await events_of(log, spared))[-1] == "SUCCEEDED"
    assert "through" in texts(await events_of(log, spared))
