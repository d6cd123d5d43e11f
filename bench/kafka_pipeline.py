"""The Kafka pipeline's throughput on a tansu broker this script starts (not a test).

On the 2,000-job workload (55 events a job, bench/workload.py), prints events/s for:

1. produce: KafkaLog.append, 20 jobs per append;
2. raw aiokafka: a group-less consumer's getmany from offset 0, no decoding (the ceiling);
3. bare faust agent: one agent per topic taking batches (`take_events`), no database work;
4. faust host: the views' FaustFeed into a new DuckDB file (the runner's catch-up is not
   run first, so the figure is faust's);
5. replay: `replay` (the projection runner on KafkaLog + DuckDB) into a new file.

3 and 4 count from the first event applied to the last; the start (app start, group join,
first batch) is printed separately. Every reader starts from offset 0 of the same topics.

usage: .venv/bin/python bench/kafka_pipeline.py [--jobs 2000] [--broker kafka://HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from aiokafka import AIOKafkaConsumer  # noqa: E402
from aiokafka import TopicPartition as KafkaPartition  # noqa: E402

from bench.kafka_log import _batches, _broker  # noqa: E402
from bench.workload import EVENTS_PER_JOB  # noqa: E402
from jobstream.events.log.kafka import KafkaLog  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402
from jobstream.projections.faust_host import FaustFeed, faust_app  # noqa: E402
from jobstream.projections.host import ViewsProjection  # noqa: E402
from jobstream.projections.replay import replay  # noqa: E402
from jobstream.projections.runner import ProjectionRunner  # noqa: E402
from jobstream.projections.views import DuckDBViews  # noqa: E402

BATCH = 5_000
WITHIN = 0.1


def _line(n: int, what: str, events: int, seconds: float, extra: str = "") -> None:
    rate = events / seconds
    print(f"[{n}] {what:<18} {rate:>9,.0f} events/s ({events:,} in {seconds:.2f} s){extra}")


async def _produce(log: KafkaLog, topics: Topics, jobs: int) -> int:
    batches = _batches(topics, jobs, 20)
    total = sum(len(m) for _, m in batches)
    for topic in topics.all:
        await log.partitions(topic)  # topic creation is not part of the figure
    began = time.perf_counter()
    for topic, messages in batches:
        await log.append(topic, messages)
    _line(1, "produce", total, time.perf_counter() - began)
    return total


async def _raw(log: KafkaLog, topics: Topics, total: int) -> None:
    kafka = AIOKafkaConsumer(
        bootstrap_servers=log.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=16 << 20,
        fetch_max_bytes=64 << 20,
        fetch_max_wait_ms=log.fetch_max_wait_ms,
    )
    await kafka.start()
    try:
        tps = [KafkaPartition(t, p) for t in topics.all for p in range(log.default_partitions)]
        kafka.assign(tps)
        await kafka.seek_to_beginning(*tps)
        began = time.perf_counter()
        read = 0
        while read < total:
            fetched = await kafka.getmany(timeout_ms=5_000, max_records=20_000)
            if not fetched:
                sys.exit(f"raw: read {read} of {total}, then nothing for 5 s")
            read += sum(len(batch) for batch in fetched.values())
        _line(2, "raw aiokafka", read, time.perf_counter() - began)
    finally:
        await kafka.stop()


async def _bare_agent(log: KafkaLog, topics: Topics, total: int, tmp: Path) -> float:
    app = faust_app(f"bench-bare-{uuid.uuid4().hex[:8]}", log, batch=BATCH, data_dir=tmp)
    seen = 0
    first = last = 0.0
    done = asyncio.Event()

    async def count(stream):
        nonlocal seen, first, last
        async for events in stream.take_events(BATCH, within=WITHIN):
            now = time.perf_counter()
            first = first or now
            last = now
            seen += len(events)
            if seen >= total:
                done.set()

    for name in topics.all:
        app.agent(app.topic(name, key_type=bytes, value_type=bytes), name=f"count-{name}")(count)
    began = time.perf_counter()
    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
    finally:
        await app.stop()
    rate = seen / (last - first)
    _line(3, "bare faust agent", seen, last - first, f"; start {first - began:.2f} s")
    return rate


class _TimedProjection(ViewsProjection):
    """The views projection, noting when it applied its first and last batch."""

    first: float | None = None
    last: float | None = None

    async def apply(self, records):  # type: ignore[no-untyped-def]
        positions = await super().apply(records)
        self.last = time.perf_counter()
        self.first = self.first or self.last
        return positions


async def _host(log: KafkaLog, topics: Topics, total: int, tmp: Path) -> float:
    views = DuckDBViews.open(tmp / "host.duckdb")
    projection = _TimedProjection(views, topics.all)
    runner = ProjectionRunner(log, projection)
    feed = FaustFeed(
        log, app_id=f"bench-host-{uuid.uuid4().hex[:8]}", data_dir=tmp, batch=BATCH, within=WITHIN
    )
    stop = asyncio.Event()
    began = time.perf_counter()
    task = asyncio.create_task(feed.run(runner, stop))
    try:
        async with asyncio.timeout(600):
            while runner.applied < total:
                await asyncio.sleep(0.05)
                if task.done():
                    task.result()
    finally:
        stop.set()
        await task
        await projection.close()
        views.close()
    assert projection.first is not None and projection.last is not None
    seconds = projection.last - projection.first
    _line(4, "faust host", runner.applied, seconds, f"; start {projection.first - began:.2f} s")
    return runner.applied / seconds


async def _replay(log: KafkaLog, topics: Topics, tmp: Path) -> None:
    result = await replay(log, topics.all, tmp / "replayed.duckdb")
    _line(5, "replay", result.events, result.seconds, " (target >= 100,000)")


async def main(bootstrap: str, jobs: int) -> None:
    topics = Topics(prefix=f"bench-{uuid.uuid4().hex[:8]}-")
    print(f"{jobs:,} jobs x {EVENTS_PER_JOB} events on {bootstrap}")
    with tempfile.TemporaryDirectory() as tmp:
        async with KafkaLog(
            bootstrap,
            partitions=4,
            session_timeout_ms=2_000,
            heartbeat_interval_ms=200,
            fetch_max_wait_ms=100,
        ) as log:
            total = await _produce(log, topics, jobs)
            await _raw(log, topics, total)
            bare = await _bare_agent(log, topics, total, Path(tmp))
            hosted = await _host(log, topics, total, Path(tmp))
            await _replay(log, topics, Path(tmp))
    print(f"faust host / bare agent: {bare / hosted:.2f}x slower (limit 1.5x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--broker", help="kafka://HOST:PORT; default: start a tansu")
    args = parser.parse_args()
    with _broker(args.broker) as bootstrap:
        asyncio.run(main(bootstrap, args.jobs))
