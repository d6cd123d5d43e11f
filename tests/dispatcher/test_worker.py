"""The Worker in this process: submit jobs, run a burst, then read what the log holds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from jobstream.cli import main
from jobstream.dispatcher import Worker, check_health, submit
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.base import Message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import Completed, Heartbeat, JobSubmitted, LogAppended, StatusChanged
from jobstream.runners import Runner

from ..polling import wait_until
from .dispatcher_support import (
    BOUND,
    TOPICS,
    completion,
    events_of,
    job,
    queue,
    statuses,
    texts,
)


async def burst(log: EmbeddedLog, runner: Runner, **options: object) -> Worker:
    worker = Worker(log, TOPICS, runner, burst=True, **options)  # type: ignore[arg-type]
    async with asyncio.timeout(BOUND):
        await worker.run()
    return worker


async def test_a_job_runs_and_its_events_are_in_order_with_gapless_seq(
    log: EmbeddedLog, runner: Runner, box: SecretBox
) -> None:
    job_id = await queue(log, box, job("echo hello; echo world >&2", "echo again"))
    worker = await burst(log, runner)

    events = await events_of(log, job_id)
    (writer,) = {e.writer for e in events}
    assert writer.startswith("attempt-")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[0], Heartbeat) and events[0].worker == worker.name
    assert statuses(events) == ["WAITING", "STARTED", "SUCCEEDED"]
    assert isinstance(events[-1], Completed)
    lines = [line for e in events if isinstance(e, LogAppended) for line in e.lines]
    assert [line.n for line in lines] == list(range(1, len(lines) + 1))
    output = [(line.stream, line.text) for line in lines if line.stream != "system"]
    assert sorted(output) == [("stderr", "world"), ("stdout", "again"), ("stdout", "hello")]
    # The step's lines come after STARTED and before the end.
    kinds = [type(e).__name__ for e in events if not isinstance(e, Heartbeat)]
    assert kinds.index("LogAppended") > 1 and kinds[-2:] == ["StatusChanged", "Completed"]
    done = completion(events)
    assert done.success and done.lines == len(lines)
    assert worker.health.succeeded == 1 and worker.health.running == 0


async def test_concurrency_n_runs_n_jobs_at_once(
    log: EmbeddedLog, runner: Runner, box: SecretBox, tmp_path: Path
) -> None:
    # A barrier: each job waits until all three have arrived, so they pass only together.
    # A worker running fewer at once would leave them waiting until their step timeout.
    arrived = tmp_path / "arrived"
    arrived.mkdir()
    barrier = f"touch {arrived}/$$; while [ $(ls {arrived} | wc -l) -lt 3 ]; do sleep 0.01; done"
    document = job(barrier).model_copy(update={"timeout": 10})
    ids = [await queue(log, box, document) for _ in range(3)]
    await burst(log, runner, concurrency=3)
    for job_id in ids:
        assert statuses(await events_of(log, job_id))[-1] == "SUCCEEDED"


async def test_concurrency_n_runs_no_more_than_n_at_once(
    log: EmbeddedLog, runner: Runner, box: SecretBox
) -> None:
    ids = [await queue(log, box, job("sleep 0.2")) for _ in range(5)]
    await burst(log, runner, concurrency=2)
    spans = []
    for job_id in ids:
        events = await events_of(log, job_id)
        assert statuses(events)[-1] == "SUCCEEDED"
        # A slot is held from before the first event to after the last one.
        spans.append((events[0].at, events[-1].at))
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start <= e) <= 2


async def test_a_job_is_claimed_once(log: EmbeddedLog, runner: Runner, box) -> None:
    job_id = await queue(log, box, job("echo once"))
    await burst(log, runner)
    # The second burst reads past the committed claim: returning means it saw the job's
    # record is behind the group's position, and it ran nothing.
    second = await burst(log, runner)
    events = await events_of(log, job_id)
    assert len({e.writer for e in events}) == 1
    assert texts(events).count("once") == 1
    assert second.health.succeeded == second.health.failed == 0


async def test_a_burst_leaves_local_jobs_and_passes_over_bad_records(
    log: EmbeddedLog, runner: Runner, box: SecretBox
) -> None:
    local = JobSubmitted(
        job_id="local-job",
        writer="cli",
        seq=1,
        document=job("echo local").model_dump(),
        dispatch="local",
    )
    await submit(log, TOPICS, local)
    await log.append(TOPICS.jobs, [Message(b"not json", key="junk")])
    queued = await queue(log, box, job("echo queued"))
    worker = await burst(log, runner)
    # The burst returned: every record of the jobs topic was read, so absence is final.
    assert await events_of(log, "local-job") == []
    assert statuses(await events_of(log, queued))[-1] == "SUCCEEDED"
    assert worker.health.succeeded == 1


async def test_an_invalid_document_fails_its_job_not_the_worker(
    log: EmbeddedLog, runner: Runner
) -> None:
    # Another Kafka client can write any document: this one has no stages.
    bad = JobSubmitted(job_id="bad-job", writer="other-client", seq=1, document={"name": "x"})
    await submit(log, TOPICS, bad)
    await burst(log, runner)
    events = await events_of(log, "bad-job")
    assert statuses(events) == ["FAILED"]
    (changed,) = [e for e in events if isinstance(e, StatusChanged)]
    assert changed.reason
    assert completion(events).success is False


async def test_worker_check_sees_a_running_worker_and_not_a_stopped_one(
    log: EmbeddedLog, runner: Runner, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {"JOBSTREAM_DATA_DIR": str(data_dir)}
    cli = CliRunner()
    assert cli.invoke(main, ["worker", "--check"], env=env).exit_code == 1

    worker = Worker(log, TOPICS, runner, lease=3.0, health_dir=data_dir / "workers")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    (alive,) = await wait_until(lambda: check_health(data_dir / "workers"))
    assert alive.name == worker.name and alive.running == 0
    checked = cli.invoke(main, ["worker", "--check"], env=env)
    assert checked.exit_code == 0 and worker.name in checked.output
    stop.set()
    async with asyncio.timeout(BOUND):
        await task
    # A clean stop removes the health file: nothing claims to be alive.
    assert check_health(data_dir / "workers") == []
    assert cli.invoke(main, ["worker", "--check"], env=env).exit_code == 1
