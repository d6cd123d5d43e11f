"""The views on a real Kafka-protocol broker (tansu): live through the faust app, the
checkpoint as the truth, and catching up and replay through the runner on Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobstream.events.log.base import Record, to_message
from jobstream.events.log.kafka import KafkaLog
from jobstream.events.models import Status
from jobstream.events.names import Topics
from jobstream.projections import queries
from jobstream.projections.faust_host import FaustFeed
from jobstream.projections.host import ViewsHost
from jobstream.projections.replay import replay, verify
from jobstream.projections.views import DuckDBViews

from ..kafka_broker import KafkaBroker
from .projections_support import run_events, submitted


def faust_host(
    log: KafkaLog,
    views: DuckDBViews,
    topics: Topics,
    *,
    app_id: str | None = None,
    batch: int = 20_000,
    **feed: float,
) -> ViewsHost:
    """The views host as `project` makes it on Kafka: the runner, then the faust app."""
    live = FaustFeed(
        log,
        app_id=app_id or f"{topics.prefix}{uuid.uuid4().hex[:6]}",
        data_dir=views.path.parent / "faust",
        **feed,  # type: ignore[arg-type]
    )
    return ViewsHost(log, views, topics.all, batch=batch, live=live)


@pytest.fixture
def topics() -> Topics:
    return Topics(prefix=f"faust-{uuid.uuid4().hex[:8]}-")


@pytest.fixture
async def log(kafka_broker: KafkaBroker) -> AsyncIterator[KafkaLog]:
    async with kafka_broker.log(partitions=3) as kafka:
        yield kafka


async def append_jobs(log: KafkaLog, topics: Topics, ids: list[str], lines: int = 3) -> Record:
    """Appends whole runs of `ids` (several records per batch); returns the last record."""
    await log.append(topics.jobs, [to_message(submitted(i)) for i in ids])
    events = [to_message(e) for i in ids for e in run_events(i, lines=lines)]
    return (await log.append(topics.events, events))[-1]


async def last_records(log: KafkaLog, topics: Topics) -> list[Record]:
    """The last record of every non-empty partition (what a host must have applied)."""
    last: dict = {}
    async with log.consumer(topics.all, start="earliest") as consumer:
        while batch := await consumer.getmany(10_000, timeout=1.0):
            for r in batch:
                last[r.tp] = r
    return list(last.values())


async def replayed_equal(log: KafkaLog, topics: Topics, live: Path) -> list[str]:
    result = await replay(log, topics.all, live)
    try:
        return verify(live, result.path)
    finally:
        result.path.unlink(missing_ok=True)


async def project_until(host: ViewsHost, targets: list[Record]) -> None:
    """Run the host's faust app until every target record is applied, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(host.run(stop))
    try:
        for target in targets:
            await host.wait_for(target, timeout=30)
    finally:
        stop.set()
        await task


async def test_the_faust_host_projects_a_workload_like_a_replay(
    log: KafkaLog, topics: Topics, views: DuckDBViews
) -> None:
    ids = [f"job{i}" for i in range(12)]
    host = faust_host(log, views, topics, batch=7, within=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(host.run(stop))
    try:
        first = await append_jobs(log, topics, ids[:6])
        await host.wait_for(first, timeout=30)
        # Appended while the app runs: the live path, not only the startup backlog.
        second = await append_jobs(log, topics, ids[6:])
        await host.wait_for(second, timeout=30)
        for target in await last_records(log, topics):
            await host.wait_for(target, timeout=30)
        job = await host.query(queries.get_job, "job7")
        assert job.status is Status.SUCCEEDED and job.name == "build" and job.lines == 3
        with pytest.raises(TimeoutError):
            await host.wait_for((second.tp, second.offset + 1), timeout=0.3)
    finally:
        stop.set()
        await task
        await host.close()
    assert host.applied == 12 + 12 * 5
    assert queries.count_jobs(views.conn) == 12
    views.close()
    assert await replayed_equal(log, topics, views.path) == []


async def test_deleted_views_are_rebuilt_from_offset_0_whatever_faust_committed(
    log: KafkaLog, topics: Topics, tmp_path: Path
) -> None:
    path = tmp_path / "views.duckdb"
    await append_jobs(log, topics, ["a", "b", "c"])
    targets = await last_records(log, topics)
    views = DuckDBViews.open(path)
    host = faust_host(log, views, topics, app_id=f"{topics.prefix}projector")
    await project_until(host, targets)
    await host.close()
    views.close()
    # faust has committed (some of) these offsets for its group by now.
    path.unlink()
    views = DuckDBViews.open(path)
    again = faust_host(log, views, topics, app_id=f"{topics.prefix}projector")
    try:
        await project_until(again, targets)
        assert queries.count_jobs(views.conn) == 3
        assert again.applied == 3 + 3 * 5
    finally:
        await again.close()
        views.close()
    assert await replayed_equal(log, topics, path) == []


async def test_a_restarted_host_resumes_from_the_checkpoint(
    log: KafkaLog, topics: Topics, views: DuckDBViews
) -> None:
    await append_jobs(log, topics, ["a", "b"])
    host = faust_host(log, views, topics, app_id=f"{topics.prefix}projector")
    await project_until(host, await last_records(log, topics))
    await host.close()
    await append_jobs(log, topics, ["c"])
    again = faust_host(log, views, topics, app_id=f"{topics.prefix}projector")
    try:
        await project_until(again, await last_records(log, topics))
    finally:
        await again.close()
    # Only the new job's records: the old ones are below the checkpoint.
    assert again.applied == 1 + 5
    assert queries.count_jobs(views.conn) == 3


async def test_catching_up_reads_to_the_end_of_multi_record_batches(
    log: KafkaLog, topics: Topics, views: DuckDBViews
) -> None:
    # tansu answers ListOffsets with the last batch's base offset + 1: a stop condition on
    # ListOffsets alone would leave most of these records out.
    ids = [f"job{i}" for i in range(20)]
    await append_jobs(log, topics, ids, lines=50)
    host = faust_host(log, views, topics, batch=17)
    seen: list[int] = []
    try:
        count = await host.run_until_caught_up(progress=lambda n, s: seen.append(n))
        assert count == 20 + 20 * 5
        assert seen[-1] == count
        assert await host.run_until_caught_up() == 0
        await append_jobs(log, topics, ["late"])
        assert await host.run_until_caught_up() == 6
    finally:
        await host.close()
    assert queries.count_jobs(views.conn) == 21
    assert views.conn.execute("select count(*) from log_lines").fetchone()[0] == 20 * 50 + 3


async def test_an_apply_failure_stops_run_with_the_error(
    log: KafkaLog, topics: Topics, views: DuckDBViews, monkeypatch: pytest.MonkeyPatch
) -> None:
    await append_jobs(log, topics, ["a"])
    host = faust_host(log, views, topics)

    def broken(*args, projection="views"):
        raise RuntimeError("disk full")

    # A full disk fails every write: applying a batch, and setting a record aside.
    monkeypatch.setattr(views, "apply", broken)
    monkeypatch.setattr(views, "set_aside", broken)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            async with asyncio.timeout(30):
                await host.run(asyncio.Event())
    finally:
        await host.close()
