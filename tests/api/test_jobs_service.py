"""One set of checks run against both jobs services, so the two cannot drift apart.

`local`: LocalJobs as the command line makes it when no server runs (the views opened by
this process, kept up with the log), with a Worker on the same embedded log. `remote`:
RemoteJobs against the whole `serve` stack (uvicorn on 127.0.0.1) on its own data dir.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from jobstream.app import make_worker
from jobstream.callbacks import Callback, CallbackHost, CallbackStore, GiveUp, JobInfo
from jobstream.cli.common import LocalViews, local_jobs
from jobstream.events.dead_letters import DeadLetter
from jobstream.events.documents.validation import ValidatedDocument, load_document
from jobstream.events.errors import AmbiguousJobId, JobNotEnded, JobNotFound
from jobstream.events.log.base import Message
from jobstream.events.models import Status
from jobstream.logs import open_log
from jobstream.projections.records import JobRecord
from jobstream.service import DeadLetterEntry, InvalidCursor, JobsService, RemoteJobs
from jobstream.settings import Settings

from ..polling import eventually_async
from .api_support import LiveServer, job_yaml

COUNT = "i=1; while [ $i -le {n} ]; do echo line $i; sleep {pause}; i=$((i+1)); done"
DONE = 30.0


def document(cmd: str, name: str = "t") -> ValidatedDocument:
    return load_document(job_yaml(cmd, name), "job.yml")


@contextlib.asynccontextmanager
async def local_service(data_dir: Path) -> AsyncIterator[JobsService]:
    settings = Settings(data_dir=data_dir, lease=2, kill_grace=1, log_level="WARNING")
    stop = asyncio.Event()
    async with open_log(settings) as log, contextlib.AsyncExitStack() as stack:
        views = LocalViews(settings, log, stack, live=True)
        working = asyncio.create_task(make_worker(settings, log).run(stop))
        try:
            yield local_jobs(settings, log, views)
        finally:
            stop.set()
            await working


@contextlib.asynccontextmanager
async def remote_service(data_dir: Path) -> AsyncIterator[JobsService]:
    with LiveServer(data_dir) as server:
        async with RemoteJobs(server.url) as jobs:
            yield jobs


@pytest.fixture(params=["local", "remote"])
async def jobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobsService]:
    make = local_service if request.param == "local" else remote_service
    async with make(tmp_path / "data") as service:
        yield service


async def status_of(jobs: JobsService, job_id: str) -> Status | None:
    with contextlib.suppress(JobNotFound):  # not in the views yet
        return (await jobs.get(job_id)).status
    return None


async def test_submit_wait_and_get_by_prefix(jobs: JobsService) -> None:
    job_id = await jobs.submit(document("echo one; echo two >&2", name="greet"), {"via": "test"})
    record = await jobs.wait(job_id, timeout=DONE)
    assert record.job_id == job_id
    assert record.status is Status.SUCCEEDED
    assert record.completed
    assert record.name == "greet"
    assert record.labels["via"] == "test"
    assert record.submitted is not None and record.ended is not None
    assert (await jobs.get(job_id[:8])) == record
    with pytest.raises(JobNotFound, match="no job id starts with 'nosuchjob'"):
        await jobs.get("nosuchjob")


async def test_list_filters_offsets_and_cursor_pages(jobs: JobsService) -> None:
    ok = [await jobs.submit(document("true", name=f"build-{i}")) for i in range(3)]
    bad = await jobs.submit(document("exit 3", name="deploy"), {"env": "prod"})
    for job_id in [*ok, bad]:
        await jobs.wait(job_id, timeout=DONE)
    newest_first = [bad, *reversed(ok)]

    everything = await jobs.list()
    assert [j.job_id for j in everything.jobs] == newest_first
    assert (everything.total, everything.offset, everything.next_cursor) == (4, 0, None)
    assert [j.job_id for j in (await jobs.list(status=[Status.FAILED])).jobs] == [bad]
    assert (await jobs.list(status=[Status.FAILED, Status.SUCCEEDED])).total == 4
    assert (await jobs.list(name="build-*")).total == 3
    assert (await jobs.list(name="dep")).total == 1
    assert [j.job_id for j in (await jobs.list(labels={"env": "prod"})).jobs] == [bad]
    oldest = everything.jobs[-1].submitted
    assert (await jobs.list(since=oldest)).total == 4
    assert (await jobs.list(until=oldest)).total == 0

    page = await jobs.list(limit=2, offset=1)
    assert [j.job_id for j in page.jobs] == newest_first[1:3]
    assert page.total == 4

    seen: list[str] = []
    page = await jobs.list(limit=3)
    seen += [j.job_id for j in page.jobs]
    await jobs.submit(document("true", name="newcomer"))  # would shift an offset by one
    while page.next_cursor is not None:
        page = await jobs.list(limit=3, cursor=page.next_cursor)
        assert page.offset is None
        seen += [j.job_id for j in page.jobs]
    assert seen == newest_first
    with pytest.raises(InvalidCursor):
        await jobs.list(cursor="garbage!")


async def test_log_ranges_and_follow(jobs: JobsService) -> None:
    job_id = await jobs.submit(document(COUNT.format(n=30, pause=0.02) + "; echo err >&2"))
    await eventually_async(lambda: status_of(jobs, job_id), timeout=DONE)

    followed = [line async for line in jobs.follow(job_id[:10])]
    record = await jobs.get(job_id)
    assert record.completed  # following ends only with the job
    assert [line.n for line in followed] == list(range(1, record.last_line + 1))
    assert {line.job_id for line in followed} == {job_id}
    assert {"stdout", "stderr", "system"} <= {line.stream for line in followed}
    assert [line.text for line in followed if line.text.startswith("line ")][-1] == "line 30"

    page = await jobs.log(job_id[:10], 5, 10)
    assert page.job_id == job_id
    assert [line.n for line in page.lines] == list(range(5, 15))
    assert page.lines == followed[4:14]
    assert (page.next, page.completed) == (15, True)
    beyond = await jobs.log(job_id, record.last_line + 1)
    assert (beyond.lines, beyond.next) == ([], record.last_line + 1)

    tail = [line async for line in jobs.follow(job_id, record.last_line - 2)]
    assert tail == followed[-3:]
    assert (await jobs.log(job_id, tail=3)).lines == followed[-3:]
    cut = followed[20].at
    since = (await jobs.log(job_id[:10], since=cut)).lines
    assert since[-1] == followed[-1] and all(line.at >= cut for line in since)
    assert followed[since[0].n - 2].at < cut  # the line before it was written earlier
    assert (await jobs.log(job_id, since=cut, tail=2)).lines == followed[-2:]
    past = await jobs.log(job_id, tail=0)
    assert (past.lines, past.next) == ([], record.last_line + 1)
    with pytest.raises(JobNotFound):
        await anext(aiter(jobs.follow("nosuchjob")))
    with pytest.raises(JobNotFound):
        await jobs.log("nosuchjob")


async def test_cancel_a_running_job_then_the_ended_one(jobs: JobsService) -> None:
    job_id = await jobs.submit(document("echo started; sleep 30"))

    async def started() -> bool:
        return await status_of(jobs, job_id) is Status.STARTED

    await eventually_async(started, timeout=DONE)
    requested = await jobs.cancel(job_id[:12])
    assert (requested.job_id, requested.requested) == (job_id, True)
    record = await jobs.wait(job_id, timeout=DONE)
    assert record.status is Status.CANCELLED
    again = await jobs.cancel(job_id)
    assert (again.requested, again.status) == (False, Status.CANCELLED)
    with pytest.raises(JobNotFound):
        await jobs.cancel("nosuchjob")


async def test_retry_an_ended_job_and_not_a_running_one(jobs: JobsService) -> None:
    failed = await jobs.submit(document("echo attempt; exit 4"))
    assert (await jobs.wait(failed, timeout=DONE)).exit_status == 4
    outcome = await jobs.retry(failed[:12])
    assert outcome.retry_of == failed and outcome.job_id != failed
    retry = await jobs.wait(outcome.job_id, timeout=DONE)
    assert (retry.retry_of, retry.attempt, retry.status) == (failed, 2, Status.FAILED)
    assert (await jobs.get(failed)).retried_by == outcome.job_id
    running = await jobs.submit(document("sleep 30"))

    async def started() -> bool:
        return await status_of(jobs, running) is Status.STARTED

    await eventually_async(started, timeout=DONE)
    with pytest.raises(JobNotEnded, match=running):
        await jobs.retry(running)
    await jobs.cancel(running)
    with pytest.raises(JobNotFound):
        await jobs.retry("nosuchjob")


async def test_stats_and_an_ambiguous_prefix(jobs: JobsService) -> None:
    # 17 ids share at least one first hex digit.
    ids = [await jobs.submit(document("true")) for _ in range(16)]
    ids.append(await jobs.submit(document("exit 1")))
    records: list[JobRecord] = [await jobs.wait(i, timeout=DONE) for i in ids]
    assert [r.status for r in records] == [Status.SUCCEEDED] * 16 + [Status.FAILED]

    stats = await jobs.stats()
    assert (stats.total, stats.finished) == (17, 17)
    assert stats.by_status == {"SUCCEEDED": 16, "FAILED": 1}
    assert stats.mean_duration is not None and stats.mean_duration >= 0

    shared = next(p for p in {i[0] for i in ids} if sum(i.startswith(p) for i in ids) > 1)
    matching = sorted(i for i in ids if i.startswith(shared))
    with pytest.raises(AmbiguousJobId, match=f"prefix '{shared}' matches {len(matching)} jobs"):
        await jobs.get(shared)


SECTIONS = """\
name: sections
stages:
  - name: build
    steps:
      - {action: command, cmd: echo compiling}
  - name: test
    steps:
      - {action: command, cmd: echo testing}
      - {action: command, cmd: exit 3}
  - name: report
    steps:
      - {action: log, message: tests failed}
sequence:
  - stage: build
  - {stage: test, on_failure: report}
"""


async def test_steps_of_a_failing_stage_and_its_handler(jobs: JobsService) -> None:
    job_id = await jobs.submit(load_document(SECTIONS, "job.yml"))
    record = await jobs.wait(job_id, timeout=DONE)
    assert record.status is Status.FAILED
    steps = await jobs.steps(job_id[:8])
    assert steps.job_id == job_id
    assert [
        (s.index, s.name, s.status, [(t.index, t.title, t.status, t.exit_code) for t in s.steps])
        for s in steps.stages
    ] == [
        (0, "build", "SUCCEEDED", [(0, "echo compiling", "SUCCEEDED", 0)]),
        (1, "test", "FAILED", [(0, "echo testing", "SUCCEEDED", 0), (1, "exit 3", "FAILED", 3)]),
        (2, "report", "SUCCEEDED", [(0, "log", "SUCCEEDED", None)]),
    ]
    texts = {line.n: line.text for line in (await jobs.log(job_id, 1, 1000)).lines}
    for stage in steps.stages:
        assert stage.first_line is not None and stage.last_line is not None
        assert texts[stage.first_line] == f"==> stage {stage.name}"
        assert stage.duration_s is not None and stage.finished_at is not None
    failing = steps.stages[1].steps[1]
    assert [texts[n] for n in range(failing.first_line or 0, (failing.last_line or 0) + 1)] == [
        "$ exit 3",
        "==> exit code 3",
    ]
    with pytest.raises(JobNotFound):
        await jobs.steps("nosuchjob")


class _Refuses(Callback):
    """Gives up on every completion at once, as a receiver's 4xx answer makes webhook do."""

    async def completion(self, job: JobInfo, success: bool) -> None:
        raise GiveUp("422 from the receiver")


async def test_dead_letters_of_the_views_and_of_a_callback(
    jobs: JobsService, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    await jobs.wait(await jobs.submit(document("true")), timeout=DONE)
    # Looks like an event, so it is not read as a bare document; its secret must not show.
    raw = b'{"type": "JobSubmitted", "document": {"secrets": {"k": "clear-secret-value"}}}'
    async with open_log(settings) as log:
        await log.append(settings.topics.jobs, [Message(raw, key="not-a-job")])
        async with CallbackStore(settings.callbacks_path) as store:
            host = CallbackHost(log, settings.topics, _Refuses(), store, name="refuser")
            stop = asyncio.Event()
            delivering = asyncio.create_task(host.run(stop))
            try:
                # The record that is no event is passed over by the callback too.
                await eventually_async(lambda: _at_least(store.dead_letters(), 2))
            finally:
                stop.set()
                await delivering

    async def both() -> list[DeadLetterEntry]:
        letters = await jobs.dead_letters()
        return letters if {d.consumer for d in letters} == {"views", "refuser"} else []

    letters = await eventually_async(both)
    why = "JobSubmitted.job_id: Field required"
    assert [(d.topic, d.reason) for d in letters if d.consumer == "views"] == [
        (settings.topics.jobs, why)
    ]
    assert sorted((d.topic, d.reason) for d in letters if d.consumer == "refuser") == [
        (settings.topics.events, "GiveUp: 422 from the receiver"),
        (settings.topics.jobs, f"malformed record: {why}"),
    ]
    assert [d.time for d in letters] == sorted(d.time for d in letters)
    assert "clear-secret-value" not in repr(letters)


async def _at_least(letters: Awaitable[list[DeadLetter]], count: int) -> bool:
    return len(await letters) >= count
