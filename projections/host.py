"""ProjectionHost: feeds DuckDBViews from an EventLog (the plain loop; any backend).

The host reads its topics as a group-less consumer, starting each partition at the view's
own checkpoint (so the log's committed positions play no part), and applies `getmany`
batches. DuckDB work never runs on the event loop: `apply` and every query go through one
dedicated worker thread, because a DuckDB connection must not be used from two threads at
once.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from jobstream.events.log.base import Consumer, EventLog, Record, TopicPartition
from jobstream.projections.views import DuckDBViews

__all__ = ["Progress", "ProjectionHost", "ViewsHost"]

T = TypeVar("T")

Progress = Callable[[int, float], None]
"""Called after each batch with (events applied so far, seconds since the start)."""


class ViewsHost:
    """What every host shares: the views, the one thread that uses their connection, and
    the positions applied so far (`wait_for` waits on them)."""

    def __init__(self, views: DuckDBViews, topics: list[str], *, name: str = "views") -> None:
        self.views = views
        self.topics = list(topics)
        self.name = name
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"duckdb-{name}")
        self._positions: dict[TopicPartition, int] = {}
        self._advanced = asyncio.Condition()
        self.applied = 0
        """Records applied by this host since it was made."""
        self.caught_up = asyncio.Event()
        """Set once the host has applied everything the log held when it started."""

    async def run(self, stop: asyncio.Event) -> None:
        """Apply what the log brings until `stop` is set."""
        raise NotImplementedError

    async def run_until_caught_up(self, *, progress: Progress | None = None) -> int:
        """Apply everything appended before the call; returns the records applied."""
        raise NotImplementedError

    async def wait_for(
        self, target: Record | tuple[TopicPartition, int], timeout: float = 10.0
    ) -> None:
        """Return once the record (or the record at (partition, offset)) has been applied;
        raises TimeoutError otherwise."""
        tp, offset = (target.tp, target.offset) if isinstance(target, Record) else target
        async with asyncio.timeout(timeout), self._advanced:
            await self._advanced.wait_for(lambda: self._positions.get(tp, 0) > offset)

    async def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the views' connection, in the thread that applies."""
        return await self._in_thread(fn, self.views.conn, *args)

    def positions(self) -> dict[TopicPartition, int]:
        """The next offset to read per partition, as of the last batch applied."""
        return dict(self._positions)

    async def close(self) -> None:
        """Stop the worker thread (the views stay open: their owner closes them)."""
        await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown)

    async def _checkpoint(self) -> dict[TopicPartition, int]:
        return await self._in_thread(self.views.positions, self.name)

    async def _apply(self, records: list[Record]) -> None:
        """Apply a batch (rows and checkpoint in one transaction) and advance."""
        await self._in_thread(functools.partial(self.views.apply, projection=self.name), records)
        ends: dict[TopicPartition, int] = {}
        for r in records:
            ends[r.tp] = max(ends.get(r.tp, 0), r.offset + 1)
        self.applied += len(records)
        await self._advance(ends)

    async def _advance(self, positions: Mapping[TopicPartition, int]) -> None:
        async with self._advanced:
            for tp, position in positions.items():
                self._positions[tp] = max(self._positions.get(tp, 0), position)
            self._advanced.notify_all()

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)


class ProjectionHost(ViewsHost):
    """Keeps `views` up to date with `topics` of `log`.

    `name` keys the checkpoint; `batch` caps the records applied per transaction."""

    def __init__(
        self,
        log: EventLog,
        views: DuckDBViews,
        topics: list[str],
        *,
        name: str = "views",
        batch: int = 20_000,
    ) -> None:
        super().__init__(views, topics, name=name)
        self.log = log
        self.batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        """Apply batches as they arrive until `stop` is set."""
        consumer = await self._consumer()
        try:
            while not stop.is_set():
                if not await self._step(consumer, timeout=0.2):
                    self.caught_up.set()  # nothing more to read: the views are current
        finally:
            await consumer.stop()

    async def run_until_caught_up(self, *, progress: Progress | None = None) -> int:
        """Apply everything up to the end offsets taken now; returns the records applied.

        For replay and tests: end offsets are only a reporting figure on Kafka test brokers,
        so the live path (`run`) never depends on them."""
        ends: dict[TopicPartition, int] = {}
        for topic in self.topics:
            for partition, end in (await self.log.end_offsets(topic)).items():
                ends[TopicPartition(topic, partition)] = end
        started = time.perf_counter()
        count = 0
        consumer = await self._consumer()
        try:
            while any(self._positions.get(tp, 0) < end for tp, end in ends.items()):
                count += await self._step(consumer, timeout=0.5)
                if progress is not None:
                    progress(count, time.perf_counter() - started)
        finally:
            await consumer.stop()
        return count

    async def _consumer(self) -> Consumer:
        """A started consumer positioned at the checkpoint (earliest where there is none)."""
        stored = await self._checkpoint()
        consumer = self.log.consumer(self.topics, group=None, start="earliest")
        await consumer.start()
        for tp in consumer.assignment():
            if tp in stored:
                await consumer.seek(tp, stored[tp])
        await self._advance(stored)
        return consumer

    async def _step(self, consumer: Consumer, *, timeout: float) -> int:
        records = await consumer.getmany(self.batch, timeout=timeout)
        if not records:
            return 0
        await self._apply(records)
        return len(records)
