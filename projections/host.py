"""ViewsHost: the DuckDB views as a projection, kept current by the projection runner.

DuckDB work never runs on the event loop: `apply` and every query go through one dedicated
worker thread, because a DuckDB connection must not be used from two threads at once.

On the embedded log the runner's own read loop keeps the views live; on Kafka a `LiveFeed`
(the faust-streaming app of `projections.faust_host`) hands it the records instead, once the
runner has caught up from the views' checkpoint.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from jobstream.events.log.base import EventLog, Record, TopicPartition
from jobstream.projections.runner import (
    BATCH_BYTES,
    Positions,
    Progress,
    Projection,
    ProjectionRunner,
)
from jobstream.projections.views import DuckDBViews

__all__ = ["LiveFeed", "ViewsHost", "ViewsProjection"]

T = TypeVar("T")


class ViewsProjection(Projection):
    """`DuckDBViews` as a `Projection`, on its own DuckDB thread."""

    def __init__(self, views: DuckDBViews, topics: Sequence[str], *, name: str = "views") -> None:
        self.views = views
        self.topics = tuple(topics)
        self.name = name
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"duckdb-{name}")
        self._applied = asyncio.Event()

    async def positions(self) -> dict[TopicPartition, int]:
        return await self._in_thread(self.views.positions, self.name)

    async def apply(self, records: Sequence[Record]) -> Positions:
        try:
            return await self._in_thread(
                functools.partial(self.views.apply, projection=self.name), records
            )
        finally:
            self._wake()

    def next_apply(self) -> asyncio.Event:
        """An event set once the next batch from now on is applied (or set aside)."""
        return self._applied

    def _wake(self) -> None:
        # A new event per batch: whoever took the old one wakes, later callers wait for
        # the batch after.
        self._applied.set()
        self._applied = asyncio.Event()

    async def set_aside(self, record: Record, reason: str) -> Positions:
        try:
            return await self._in_thread(
                functools.partial(self.views.set_aside, projection=self.name), record, reason
            )
        finally:
            self._wake()

    async def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the views' connection, in the thread that applies."""
        return await self._in_thread(fn, self.views.conn, *args)

    async def close(self) -> None:
        """Stop the worker thread (the views stay open: their owner closes them)."""
        await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)


class LiveFeed(Protocol):
    """Another reader of the log that hands what it reads to `runner.feed` until `stop`."""

    async def run(self, runner: ProjectionRunner, stop: asyncio.Event) -> None: ...


class ViewsHost:
    """Keeps `views` up to date with `topics` of `log`, and answers queries on them.

    `name` keys the checkpoint; `batch` and `batch_bytes` cap the records and the bytes of
    values applied per transaction; `rest` paces live applies (ProjectionRunner); `live`, if
    given, is what keeps the views current once the runner has caught up; `live_threads`,
    if given, is DuckDB's thread count from then on (a catch-up keeps DuckDB's own)."""

    def __init__(
        self,
        log: EventLog,
        views: DuckDBViews,
        topics: Sequence[str],
        *,
        name: str = "views",
        batch: int = 20_000,
        batch_bytes: int = BATCH_BYTES,
        rest: float = 0.0,
        live: LiveFeed | None = None,
        live_threads: int | None = None,
    ) -> None:
        self.views = views
        self.live_threads = live_threads
        self.projection = ViewsProjection(views, topics, name=name)
        self.runner = ProjectionRunner(
            log, self.projection, batch=batch, batch_bytes=batch_bytes, rest=rest
        )
        self.live = live

    @property
    def caught_up(self) -> asyncio.Event:
        """Set once the views hold everything the log held when the host started."""
        return self.runner.caught_up

    @property
    def applied(self) -> int:
        """Records applied since the host was made."""
        return self.runner.applied

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the views current until `stop` is set."""
        await self.runner.run_until_caught_up()
        if self.live_threads is not None:
            await self.query(_set_threads, self.live_threads)
        if self.live is None:
            await self.runner.run(stop)
        elif not stop.is_set():
            await self.live.run(self.runner, stop)

    async def run_until_caught_up(self, *, progress: Progress | None = None) -> int:
        """Apply everything appended before the call; returns the records applied."""
        return await self.runner.run_until_caught_up(progress=progress)

    async def wait_for(
        self, target: Record | tuple[TopicPartition, int], timeout: float = 10.0
    ) -> None:
        """Return once the record (or the record at (partition, offset)) is in the views."""
        await self.runner.wait_for(target, timeout)

    def positions(self) -> dict[TopicPartition, int]:
        """The next offset to read per partition, as of the last batch applied."""
        return self.runner.positions()

    async def reached(self, ends: Positions, timeout: float) -> bool:
        """Wait until the views hold everything below `ends`; False if not within
        `timeout` seconds."""
        return await self.runner.reached(ends, timeout)

    async def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the views' connection, in the thread that applies."""
        return await self.projection.query(fn, *args)

    def next_apply(self) -> asyncio.Event:
        """An event set once the views apply their next batch: taken before a query, it
        says when the query's answer may have changed, so a follower of the views waits
        on it instead of polling them."""
        return self.projection.next_apply()

    async def close(self) -> None:
        await self.projection.close()


def _set_threads(conn: Any, threads: int) -> None:
    conn.execute(f"SET threads = {int(threads)}")
