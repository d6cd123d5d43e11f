"""A record is applied, skipped or dead-lettered; it never stops a consumer.

Every kind of malformed record (tests.reliability.malformed) is appended, on each log,
before a finished job whose events come after it in the same partitions, and each consumer
is run over it: the views (`ViewsHost`), a callback (`CallbackHost`), a worker reading the
jobs topic, and a replay. Each must set the record aside with its position and reason and
go on to apply everything after it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import duckdb
import pytest
from cryptography.fernet import Fernet

from jobstream.callbacks import CallbackHost, CallbackStore
from jobstream.dispatcher import Worker, submission, submit
from jobstream.events.codec import decode
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.base import EventLog, Message, Record
from jobstream.events.log.testing import drain
from jobstream.events.models import Completed, Status
from jobstream.events.names import Topics
from jobstream.projections import DuckDBViews, ViewsHost, get_job
from jobstream.projections.queries import dead_letters
from jobstream.projections.replay import replay
from jobstream.projections.schema import DDL, JOB_RECORDS
from jobstream.runners import Runner

from ..callbacks.callbacks_support import Recorder, job_messages
from ..dispatcher.dispatcher_support import job
from ..polling import wait_until
from .malformed import MALFORMED, Malformed, split_records

KINDS = [pytest.param(m, id=m.kind) for m in MALFORMED]


@pytest.fixture
def topics() -> Topics:
    return Topics(prefix=f"t{uuid.uuid4().hex[:10]}-")


async def append_around(
    log: EventLog, topics: Topics, bad: list[Message], on: str
) -> tuple[str, list[Record]]:
    """The `bad` records on topic `on` ("jobs" or "events") of a job, then the job's own
    records after them, keyed alike; (the job id, the bad records as appended)."""
    job_id, jobs, events = job_messages()
    bad = [Message(m.value, key=m.key and job_id, headers=m.headers) for m in bad]
    jobs_first = bad if on == "jobs" else []
    events_first = bad if on == "events" else []
    written = await log.append(topics.jobs, [*jobs_first, *jobs])
    written += await log.append(topics.events, [*events_first, *events])
    set_aside = [r for r in written if r.value in {m.value for m in bad}]
    return job_id, set_aside


def positions(records: list[Record]) -> list[tuple[str, int, int]]:
    return sorted((r.topic, r.partition, r.offset) for r in records)


def letters(rows: list) -> list[tuple[str, int, int]]:
    return sorted((d.topic, d.partition, d.offset) for d in rows)


def bad_records(case: Malformed, job_id: str) -> list[Message]:
    return [case.message(job_id)]


async def views_after(log: EventLog, topics: Topics, path: Path) -> tuple[DuckDBViews, ViewsHost]:
    views = await asyncio.to_thread(DuckDBViews.open, path)
    host = ViewsHost(log, views, topics.views)
    await host.run_until_caught_up()
    ends = await log.ends(topics.views)
    assert all(host.positions().get(tp, 0) >= end for tp, end in ends.items())
    return views, host


@pytest.mark.parametrize("case", KINDS)
async def test_views_dead_letter_it_and_apply_the_rest(
    event_log: EventLog, topics: Topics, tmp_path: Path, case: Malformed
) -> None:
    job_id, bad = await append_around(event_log, topics, bad_records(case, "x"), case.topic)
    views, host = await views_after(event_log, topics, tmp_path / "views.duckdb")
    try:
        dead = dead_letters(views.conn)
        assert letters(dead) == positions(bad)
        assert dead[0].error
        record = get_job(views.conn, job_id)
        assert record.status is Status.SUCCEEDED and record.lines == 2
    finally:
        await host.close()
        views.close()


@pytest.mark.parametrize("case", KINDS)
async def test_replay_dead_letters_it_and_rebuilds_the_rest(
    event_log: EventLog, topics: Topics, tmp_path: Path, case: Malformed
) -> None:
    job_id, bad = await append_around(event_log, topics, bad_records(case, "x"), case.topic)
    result = await replay(event_log, topics.views, tmp_path / "views.duckdb")
    views = DuckDBViews.open(result.path)
    try:
        assert letters(dead_letters(views.conn)) == positions(bad)
        assert get_job(views.conn, job_id).status is Status.SUCCEEDED
    finally:
        views.close()


async def delivered_past(
    log: EventLog, topics: Topics, store: CallbackStore, messages: list[Message], on: str
) -> tuple[Recorder, str, list[Record]]:
    job_id, bad = await append_around(log, topics, messages, on)
    recorder = Recorder()
    host = CallbackHost(log, topics, recorder, store, name="rec", hold=0.5)
    stop = asyncio.Event()
    task = asyncio.create_task(host.run(stop))
    try:
        await wait_until(lambda: recorder.hooks("completion") or task.done(), timeout=30)
        assert not task.done(), "the callback host stopped"
        ends = await log.ends(topics.all)

        async def recorded() -> bool:
            stored = await store.positions("rec")
            return all(stored.get(tp, 0) >= end for tp, end in ends.items())

        async with asyncio.timeout(20):
            while not await recorded():
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    return recorder, job_id, bad


@pytest.mark.parametrize("case", KINDS)
async def test_a_callback_dead_letters_it_and_delivers_the_rest(
    event_log: EventLog, topics: Topics, tmp_path: Path, case: Malformed
) -> None:
    async with CallbackStore(tmp_path / "callbacks.sqlite") as store:
        recorder, job_id, bad = await delivered_past(
            event_log, topics, store, bad_records(case, "x"), case.topic
        )
        (done,) = recorder.hooks("completion")
        assert done.job.id == job_id and done.arg is True
        assert letters(await store.dead_letters("rec")) == positions(bad)


async def test_a_worker_passes_each_kind_by_and_runs_the_job_after_it(
    event_log: EventLog, topics: Topics, tmp_path: Path
) -> None:
    # Every kind in one worker run (a worker's start on Kafka costs a group join): each
    # malformed record on the jobs topic, the one a worker reads, is followed by a job
    # that must still run.
    box = SecretBox(Fernet.generate_key())
    runner = Runner(workspace_root=tmp_path / "ws", secret_box=box, kill_grace=0.3)
    after: dict[str, str] = {}
    for case in MALFORMED:
        await event_log.append(topics.jobs, [case.message(uuid.uuid4().hex)])
        event = submission(job(f"echo after {case.kind}"), box)
        await submit(event_log, topics, event)
        after[event.job_id] = case.kind
    worker = Worker(event_log, topics, runner, burst=True)
    async with asyncio.timeout(120):
        await worker.run()
    async with event_log.consumer([topics.events], start="earliest") as consumer:
        events = [decode(r.value) for r in await drain(consumer, idle=0.2)]
    ran = {e.job_id: e.success for e in events if isinstance(e, Completed)}
    stopped = sorted(kind for job_id, kind in after.items() if ran.get(job_id) is not True)
    assert not stopped, f"the job after these kinds did not succeed: {stopped}"


async def test_three_records_invalid_alone_are_each_dead_lettered_by_the_views(
    event_log: EventLog, topics: Topics, tmp_path: Path
) -> None:
    job_id, bad = await append_around(event_log, topics, split_records("x"), "events")
    assert len(bad) == 3
    views, host = await views_after(event_log, topics, tmp_path / "views.duckdb")
    try:
        assert letters(dead_letters(views.conn)) == positions(bad)
        record = get_job(views.conn, job_id)
        # None of the three was applied: the job ended as its own events say.
        assert record.status is Status.SUCCEEDED and record.reason is None
    finally:
        await host.close()
        views.close()


async def test_three_records_invalid_alone_are_each_dead_lettered_by_a_callback(
    event_log: EventLog, topics: Topics, tmp_path: Path
) -> None:
    async with CallbackStore(tmp_path / "callbacks.sqlite") as store:
        recorder, _, bad = await delivered_past(
            event_log, topics, store, split_records("x"), "events"
        )
        assert letters(await store.dead_letters("rec")) == positions(bad)
        assert Status.FAILED not in [c.arg for c in recorder.hooks("status_changed")]


async def test_a_batch_whose_insert_fails_sets_aside_only_the_culprit(
    event_log: EventLog, topics: Topics, tmp_path: Path
) -> None:
    """A record that decodes but that DuckDB refuses to store fails its batch's insert:
    the batch is applied again in halves, and only that record is dead-lettered. The
    refusal is DuckDB's own: a CHECK on `job_records` (kept by `CREATE TABLE IF NOT
    EXISTS`) that the culprit's row breaks."""
    path = tmp_path / "views.duckdb"
    conn = duckdb.connect(str(path))
    refusing = JOB_RECORDS.ddl.replace(
        "PRIMARY KEY", "CHECK (job_id NOT LIKE 'refused%'),\n    PRIMARY KEY"
    )
    conn.execute(DDL.replace(JOB_RECORDS.ddl, refusing))
    conn.close()
    good = [job_messages() for _ in range(6)]
    _, refused, _ = job_messages(f"refused-{uuid.uuid4().hex}")
    for _, jobs, _ in good[:3]:
        await event_log.append(topics.jobs, jobs)
    (culprit,) = await event_log.append(topics.jobs, refused)
    for _, jobs, _ in good[3:]:
        await event_log.append(topics.jobs, jobs)
    for _, _, events in good:
        await event_log.append(topics.events, events)
    views, host = await views_after(event_log, topics, path)
    try:
        dead = dead_letters(views.conn)
        assert letters(dead) == positions([culprit])
        assert dead[0].error.startswith("could not be applied: ConstraintException")
        for job_id, _, _ in good:
            assert get_job(views.conn, job_id).status is Status.SUCCEEDED
    finally:
        await host.close()
        views.close()
