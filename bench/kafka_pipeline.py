"""The Kafka pipeline's throughput on a tansu broker this script starts (not a test).

The 2,000-job workload (55 events a job, bench/workload.py) goes into Kafka and, the same
messages, into an embedded log; then it prints events/s for:

1. produce: KafkaLog.append, 20 jobs per append;
2. raw aiokafka: a group-less consumer's getmany from offset 0, no decoding;
3. readers: `Consumer.getmany` as the runner calls it (its record and byte budget) plus
   `decode` of every event, from Kafka and from the embedded log: each reader's ceiling
   for a replay, and how full the Kafka reader's batches are;
4. bare faust agent: one agent per topic taking batches (`take_events`), no database work;
5. faust host: the views' FaustFeed into a new DuckDB file (the runner's catch-up is not
   run first, so the figure is faust's);
6. replay: `jobstream replay` as a whole process, from Kafka and from the embedded log in
   turn (`--rounds` of each, the order swapped every round so both see the same load):
   wall and CPU seconds of the process and the events/s it prints.

4 and 5 run in turn, `--faust-rounds` of each, and count from the first event applied to
the last; the start (app start, group join, first batch) is printed separately. Every
reader starts from offset 0 of the same topics. The ratios at the end compare figures of
this run: the machine's load moves both alike.

usage: .venv/bin/python bench/kafka_pipeline.py [--jobs 2000] [--rounds 3]
       [--faust-rounds 2] [--broker kafka://HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import subprocess
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
from jobstream.events.codec import decode  # noqa: E402
from jobstream.events.log.base import EventLog, Message  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.log.kafka import KafkaLog  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402
from jobstream.projections.faust_host import FaustFeed, faust_app  # noqa: E402
from jobstream.projections.host import ViewsProjection  # noqa: E402
from jobstream.projections.runner import BATCH_BYTES, ProjectionRunner  # noqa: E402
from jobstream.projections.views import DuckDBViews  # noqa: E402

BATCH = 5_000
WITHIN = 0.1
# What `replay` reads at once (projections.replay, projections.runner).
REPLAY_BATCH = 20_000


def _line(n: int, what: str, events: int, seconds: float, extra: str = "") -> None:
    rate = events / seconds
    print(f"[{n}] {what:<18} {rate:>9,.0f} events/s ({events:,} in {seconds:.2f} s){extra}")


async def _produce(log: KafkaLog, batches: list[tuple[str, list[Message]]]) -> int:
    total = sum(len(m) for _, m in batches)
    for topic in {topic for topic, _ in batches}:
        await log.partitions(topic)  # topic creation is not part of the figure
    began = time.perf_counter()
    for topic, messages in batches:
        await log.append(topic, messages)
    _line(1, "produce", total, time.perf_counter() - began)
    return total


async def _embed(path: Path, batches: list[tuple[str, list[Message]]], prefix: str) -> None:
    """The same messages into an embedded log at `path` (topics without the Kafka run's
    prefix, as `jobstream replay` there names them), not timed."""
    async with EmbeddedLog(path, partitions=4) as log:
        for topic, messages in batches:
            await log.append(topic.removeprefix(prefix), messages)


async def _reader(n: int, name: str, log: EventLog, topics: tuple[str, ...], total: int) -> float:
    """getmany as the runner calls it, plus decode: events/s."""
    sizes: list[int] = []
    reading = 0.0
    async with log.consumer(topics, group=None, start="earliest") as consumer:
        began = time.perf_counter()
        while sum(sizes) < total:
            asked = time.perf_counter()
            records = await consumer.getmany(REPLAY_BATCH, timeout=5.0, max_bytes=BATCH_BYTES)
            reading += time.perf_counter() - asked
            if not records:
                sys.exit(f"{name}: read {sum(sizes)} of {total}, then nothing for 5 s")
            for record in records:
                decode(record.value)
            sizes.append(len(records))
        seconds = time.perf_counter() - began
    extra = (
        f"; getmany alone {sum(sizes) / reading:,.0f} events/s;"
        f" {len(sizes)} batches, median {statistics.median(sizes):,.0f} records"
    )
    _line(n, f"{name} + decode", sum(sizes), seconds, extra)
    return sum(sizes) / seconds


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


async def _bare_agent(log: KafkaLog, topics: Topics, total: int, tmp: Path) -> tuple[float, float]:
    """events/s, and CPU seconds of this process from the app's start to its stop."""
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
    began, cpu = time.perf_counter(), time.process_time()
    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
    finally:
        await app.stop()
    cpu = time.process_time() - cpu
    rate = seen / (last - first)
    extra = f"; start {first - began:.2f} s; CPU {cpu:.1f} s"
    _line(4, "bare faust agent", seen, last - first, extra)
    return rate, cpu


class _TimedProjection(ViewsProjection):
    """The views projection, noting when it applied its first and last batch, and the
    size of each."""

    first: float | None = None
    last: float | None = None

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.sizes: list[int] = []

    async def apply(self, records):  # type: ignore[no-untyped-def]
        positions = await super().apply(records)
        self.sizes.append(len(records))
        self.last = time.perf_counter()
        self.first = self.first or self.last
        return positions


async def _host(log: KafkaLog, topics: Topics, total: int, tmp: Path) -> tuple[float, float]:
    """events/s, and CPU seconds of this process (every thread) from start to stop."""
    views = DuckDBViews.open(tmp / f"host-{uuid.uuid4().hex[:8]}.duckdb")
    projection = _TimedProjection(views, topics.all)
    runner = ProjectionRunner(log, projection)
    feed = FaustFeed(
        log, app_id=f"bench-host-{uuid.uuid4().hex[:8]}", data_dir=tmp, batch=BATCH, within=WITHIN
    )
    stop = asyncio.Event()
    began, cpu = time.perf_counter(), time.process_time()
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
    cpu = time.process_time() - cpu
    assert projection.first is not None and projection.last is not None
    seconds = projection.last - projection.first
    extra = (
        f"; start {projection.first - began:.2f} s; CPU {cpu:.1f} s; {len(projection.sizes)}"
        f" batches, median {statistics.median(projection.sizes):,.0f} records"
    )
    _line(5, "faust host", runner.applied, seconds, extra)
    return runner.applied / seconds, cpu


_REPLAYED = re.compile(r"replayed ([\d,]+) events in [\d.]+s \(([\d,]+) events/s\)")


def _replay_process(env: dict[str, str]) -> tuple[float, float, float]:
    """One `jobstream replay` process: (wall s, CPU s, the events/s it prints)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "jobstream", "replay"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = _REPLAYED.search(done.stdout)
    if done.returncode or found is None:
        sys.exit(f"jobstream replay failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, float(found[2].replace(",", ""))


def _replays(runs: dict[str, dict[str, str]], rounds: int) -> dict[str, list[tuple]]:
    """`rounds` of each run, alternating, the order swapped every round."""
    results: dict[str, list[tuple]] = {name: [] for name in runs}
    order = list(runs)
    for i in range(rounds):
        for name in order if i % 2 == 0 else reversed(order):
            wall, cpu, rate = _replay_process(runs[name])
            results[name].append((wall, cpu, rate))
            print(
                f"[6] replay {name:<9} wall {wall:5.2f} s, CPU {cpu:5.2f} s, {rate:>7,.0f} events/s"
            )
    return results


async def main(bootstrap: str, jobs: int, rounds: int, faust_rounds: int) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    topics = Topics(prefix=prefix)
    print(f"{jobs:,} jobs x {EVENTS_PER_JOB} events on {bootstrap}; load {os.getloadavg()[0]:.2f}")
    batches = _batches(topics, jobs, 20)
    with tempfile.TemporaryDirectory() as tmp:
        embedded_dir, kafka_dir = Path(tmp) / "embedded", Path(tmp) / "kafka"
        embedded_dir.mkdir()
        kafka_dir.mkdir()
        await _embed(embedded_dir / "log.sqlite", batches, prefix)
        async with KafkaLog(
            bootstrap,
            partitions=4,
            session_timeout_ms=2_000,
            heartbeat_interval_ms=200,
            fetch_max_wait_ms=100,
        ) as log:
            total = await _produce(log, batches)
            await _raw(log, topics, total)
            kafka_read = await _reader(3, "Kafka getmany", log, topics.all, total)
            async with EmbeddedLog(embedded_dir / "log.sqlite", partitions=4) as embedded:
                names = Topics().all
                embedded_read = await _reader(3, "embedded getmany", embedded, names, total)
            # Each in turn, the order swapped every round: the ratio sees one load.
            rates: dict[str, list[tuple[float, float]]] = {"bare": [], "host": []}
            for i in range(faust_rounds):
                for name in ("bare", "host") if i % 2 == 0 else ("host", "bare"):
                    run = _bare_agent if name == "bare" else _host
                    rates[name].append(await run(log, topics, total, Path(tmp)))
        replays = _replays(
            {
                "embedded": {"JOBSTREAM_DATA_DIR": str(embedded_dir)},
                "Kafka": {
                    "JOBSTREAM_DATA_DIR": str(kafka_dir),
                    "JOBSTREAM_BROKER": f"kafka://{bootstrap}",
                    "JOBSTREAM_TOPIC_PREFIX": prefix,
                },
            },
            rounds,
        )
    print(f"load average now {os.getloadavg()[0]:.2f}")
    print(
        f"readers: Kafka getmany + decode {kafka_read:,.0f} events/s, embedded"
        f" {embedded_read:,.0f}: embedded / Kafka {embedded_read / kafka_read:.2f}x"
    )
    if faust_rounds:
        _faust_summary(rates)
    if rounds:
        _replay_summary(replays)


def _faust_summary(rates: dict[str, list[tuple[float, float]]]) -> None:
    bare, hosted = (statistics.median(r for r, _ in rates[n]) for n in ("bare", "host"))
    bare_cpu, host_cpu = (statistics.median(c for _, c in rates[n]) for n in ("bare", "host"))
    runs = len(rates["bare"])
    print(f"faust host / bare agent (median of {runs}): {bare / hosted:.2f}x slower (limit 1.5x)")
    print(
        f"faust CPU (median): host {host_cpu:.1f} s, bare agent {bare_cpu:.1f} s:"
        f" host / bare {host_cpu / bare_cpu:.2f}x"
    )


def _replay_summary(replays: dict[str, list[tuple]]) -> None:
    rounds = len(replays["Kafka"])
    for what, i in (("wall", 0), ("CPU", 1)):
        kafka, embedded = (
            statistics.median(r[i] for r in replays[n]) for n in ("Kafka", "embedded")
        )
        print(
            f"replay {what} (median of {rounds}): Kafka {kafka:.2f} s, embedded {embedded:.2f} s:"
            f" Kafka / embedded {kafka / embedded:.2f}x" + (" (limit 1.2x)" if i == 0 else "")
        )
    kafka, embedded = (statistics.median(r[2] for r in replays[n]) for n in ("Kafka", "embedded"))
    print(
        f"replay's own events/s (median): Kafka {kafka:,.0f}, embedded {embedded:,.0f}:"
        f" embedded / Kafka {embedded / kafka:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3, help="replays of each log")
    parser.add_argument("--faust-rounds", type=int, default=2, help="runs of each faust reader")
    parser.add_argument("--broker", help="kafka://HOST:PORT; default: start a tansu")
    args = parser.parse_args()
    with _broker(args.broker) as bootstrap:
        asyncio.run(main(bootstrap, args.jobs, args.rounds, args.faust_rounds))
