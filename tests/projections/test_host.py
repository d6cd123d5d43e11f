from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobstream.events.log.base import TopicPartition, to_message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import Status
from jobstream.projections import queries
from jobstream.projections.host import ViewsHost
from jobstream.projections.views import DuckDBViews

from .projections_support import run_events, submitted

TOPICS = ["jobs", "job-events"]


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EmbeddedLog]:
    async with EmbeddedLog(tmp_path / "log.sqlite", partitions=2) as embedded:
        yield embedded


async def test_host_applies_appended_events_and_wait_for_returns(
    log: EmbeddedLog, views: DuckDBViews
) -> None:
    host = ViewsHost(log, views, TOPICS, batch=3)
    stop = asyncio.Event()
    task = asyncio.create_task(host.run(stop))
    try:
        await log.append("jobs", [to_message(submitted("j1"))])
        written = await log.append("job-events", [to_message(e) for e in run_events("j1")])
        await host.wait_for(written[-1], timeout=10)
        job = await host.query(queries.get_job, "j1")
        assert job.status is Status.SUCCEEDED and job.name == "build"
        with pytest.raises(TimeoutError):
            await host.wait_for((written[-1].tp, written[-1].offset + 1), timeout=0.3)
    finally:
        stop.set()
        await task
        await host.close()


async def test_a_new_host_resumes_from_the_checkpoint(log: EmbeddedLog, views: DuckDBViews) -> None:
    first = await log.append("job-events", [to_message(e) for e in run_events("j1")])
    host = ViewsHost(log, views, TOPICS)
    assert await host.run_until_caught_up() == 5
    await host.close()
    await log.append("job-events", [to_message(e) for e in run_events("j2")])
    again = ViewsHost(log, views, TOPICS)
    assert await again.run_until_caught_up() == 5
    await again.close()
    assert views.positions()[first[0].tp] >= 5
    assert queries.count_jobs(views.conn) == 2
    assert TopicPartition("job-events", first[0].partition) in views.positions()


async def test_live_threads_apply_once_caught_up(log: EmbeddedLog, views: DuckDBViews) -> None:
    # A catch-up keeps DuckDB's threads; live, the small batches run on `live_threads`.
    await log.append("job-events", [to_message(e) for e in run_events("j1")])
    host = ViewsHost(log, views, TOPICS, live_threads=1)
    stop = asyncio.Event()
    task = asyncio.create_task(host.run(stop))
    try:
        await asyncio.wait_for(host.caught_up.wait(), timeout=10)
        written = await log.append("job-events", [to_message(e) for e in run_events("j2")])
        await host.wait_for(written[-1], timeout=10)
        threads = await host.query(
            lambda conn: conn.execute("SELECT current_setting('threads')").fetchone()
        )
        assert threads == (1,)
        assert (await host.query(queries.get_job, "j2")).status is Status.SUCCEEDED
    finally:
        stop.set()
        await task
        await host.close()
