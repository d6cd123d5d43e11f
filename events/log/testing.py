"""Test helpers for any EventLog backend: bounded waits to use instead of sleeps.

Each reads through the `Consumer` interface only, so a test written with them runs on every
backend. Each one is bounded: by an idle period, a record limit or a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from jobstream.events.log.base import Consumer, Record, TopicPartition

__all__ = ["drain", "read_exactly", "wait_for_assignment", "wait_for_position"]


async def drain(consumer: Consumer, *, idle: float = 0.2, limit: int = 100_000) -> list[Record]:
    """Everything `consumer` can read now: reads until nothing comes for `idle` seconds, or
    until `limit` records were read."""
    records: list[Record] = []
    while len(records) < limit:
        batch = await consumer.getmany(max_records=min(1000, limit - len(records)), timeout=idle)
        if not batch:
            break
        records.extend(batch)
    return records


async def read_exactly(consumer: Consumer, count: int, *, timeout: float = 5.0) -> list[Record]:
    """The next `count` records; raises TimeoutError if they do not all come in `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    records: list[Record] = []
    while len(records) < count:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"read {len(records)} of {count} records in {timeout}s")
        records.extend(await consumer.getmany(max_records=count - len(records), timeout=remaining))
    return records


async def wait_for_position(
    consumer: Consumer, positions: Mapping[TopicPartition, int], *, timeout: float = 5.0
) -> list[Record]:
    """Reads until `consumer` stands at or past each of `positions`; returns what it read.

    Raises TimeoutError if it does not get there in `timeout`."""

    def reached() -> bool:
        assigned = consumer.assignment()
        return all(tp in assigned and consumer.position(tp) >= p for tp, p in positions.items())

    return await _read_until(consumer, reached, timeout, f"positions {dict(positions)}")


async def wait_for_assignment(
    consumer: Consumer,
    predicate: Callable[[frozenset[TopicPartition]], bool],
    *,
    timeout: float = 5.0,
) -> list[Record]:
    """Reads until `predicate(consumer.assignment())` holds; returns what it read meanwhile.

    A group's assignment moves while its members read, so this keeps reading; raises
    TimeoutError if the predicate does not hold in `timeout`."""
    return await _read_until(
        consumer, lambda: predicate(consumer.assignment()), timeout, "the expected assignment"
    )


async def _read_until(
    consumer: Consumer, done: Callable[[], bool], timeout: float, what: str
) -> list[Record]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    records: list[Record] = []
    while not done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"no {what} after {timeout}s (assignment {consumer.assignment()})")
        # Short reads, so a change that comes without records is seen soon.
        records.extend(await consumer.getmany(timeout=min(0.05, remaining)))
    return records
