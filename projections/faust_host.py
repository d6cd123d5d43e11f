"""FaustFeed: on Kafka, a faust-streaming app keeps the live projections current.

A thin adapter around the projection runner: one faust App, one agent per topic, each agent
taking batches of events (`stream.take_events(batch, within=...)`) and queueing them, as
`Record`s, for one applier task that hands them to `ProjectionRunner.feed`. faust's
per-event work and the database work overlap through that buffer, which the applier
empties in batches as large as the runner's, whatever size the agents' batches are.

The projection's own positions are the truth, not faust's: on every assignment faust's
consumer is moved to the runner's positions (through faust's `on_partitions_assigned`
signal), so a deleted or replaced views file is rebuilt from offset 0 whatever faust's group
committed, and a first start does not re-read history through faust's per-event path (the
runner has caught up before faust starts). As a last guard, `feed` drops what is below the
positions and reads any gap before a batch from the log itself.

No faust tables (their changelog recovery relies on ListOffsets, which the test broker gets
wrong), no web server, no topic declaration (KafkaLog creates the topics), no leader topic:
state lives in the projection only. faust's own files go under `data_dir`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import faust

from jobstream.events.log.base import Record, TopicPartition
from jobstream.events.log.kafka import KafkaLog, kafka_record
from jobstream.projections.runner import ProjectionRunner

__all__ = ["FaustFeed", "default_app_id", "faust_app"]

AppT = TypeVar("AppT", bound=faust.App)


def faust_app(
    app_id: str,
    log: KafkaLog,
    *,
    batch: int,
    data_dir: Path,
    app_class: type[AppT] = faust.App,
) -> AppT:
    """A faust App on `log`'s broker and timings, as the projector runs it: no web server,
    no tables, no topic declaration or leader topic (their state would need end offsets or
    compaction), raw keys and values. The benchmark's bare agent uses the same."""
    session = log.session_timeout_ms / 1000
    return app_class(
        app_id,
        broker=f"kafka://{log.bootstrap}",
        datadir=str(data_dir),
        web_enabled=False,
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session,
        broker_heartbeat_interval=log.heartbeat_interval_ms / 1000,
        broker_rebalance_timeout=max(session, 2 * session),
        broker_request_timeout=max(40.0, 2 * session),
        stream_buffer_maxsize=max(4096, batch),
        autodiscover=False,
        loghandlers=[],
    )


def default_app_id(views_path: Path, topics: Iterable[str]) -> str:
    """`jobstream-projector-<digest of this machine, views file and topics>`: stable across
    restarts of one projector, different for two projectors of different views (which must
    each read every partition, never share them as members of one group)."""
    where = f"{socket.gethostname()}:{views_path.resolve()}:{','.join(sorted(topics))}"
    return f"jobstream-projector-{hashlib.sha1(where.encode()).hexdigest()[:10]}"


class _Pending:
    """Records between the agents and the applier: `take` returns what is there (waiting
    for some), up to `records` and `max_bytes` of values (at least one record); `put`
    waits while twice `max_bytes` are held."""

    def __init__(self, records: int, max_bytes: int) -> None:
        self.records = records
        self.max_bytes = max_bytes
        self._held: list[Record] = []
        self._bytes = 0
        self._changed = asyncio.Condition()

    async def put(self, records: list[Record]) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._bytes < 2 * self.max_bytes)
            self._held += records
            self._bytes += sum(len(r.value) for r in records)
            self._changed.notify_all()

    async def take(self) -> list[Record]:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._held))
            taken, size = 0, 0
            for r in self._held[: self.records]:
                size += len(r.value)
                if taken and size > self.max_bytes:
                    size -= len(r.value)
                    break
                taken += 1
            records, self._held = self._held[:taken], self._held[taken:]
            self._bytes -= size
            self._changed.notify_all()
            return records


class FaustFeed:
    """Feeds a runner from a faust app on the Kafka `log` until stopped.

    `batch` caps the events of one `take_events` batch and `within` is how long an agent
    waits to fill one; queued batches are merged up to the runner's batch size. Consumer
    timings (session, heartbeat) are the log's. `app_id` names faust's consumer group."""

    def __init__(
        self,
        log: KafkaLog,
        *,
        app_id: str,
        data_dir: Path,
        batch: int = 5_000,
        within: float = 0.1,
    ) -> None:
        self.log = log
        self.app_id = app_id
        self.data_dir = data_dir
        self.batch = batch
        self.within = within

    async def run(self, runner: ProjectionRunner, stop: asyncio.Event) -> None:
        """Run the app until `stop` is set; an apply that fails stops it and is raised."""
        for topic in runner.topics:
            await self.log.partitions(topic)  # KafkaLog creates them; faust never declares
        # What the agents read and the projection has not taken yet. The applier takes all
        # of it at once, up to the runner's batch: an agent's batch holds what arrived
        # `within` its wait (a few hundred events when faust is slow), and a projection
        # pays per batch. Bounded in bytes, so a slow database holds faust back instead of
        # filling memory.
        pending = _Pending(runner.batch, runner.batch_bytes)

        async def agent(stream: Any) -> None:
            async for events in stream.take_events(self.batch, within=self.within):
                await pending.put(
                    [kafka_record(e.message, round(e.message.timestamp * 1000)) for e in events]
                )

        async def applier() -> None:
            while True:
                await runner.feed(await pending.take())

        self.data_dir.mkdir(parents=True, exist_ok=True)
        app = faust_app(self.app_id, self.log, batch=self.batch, data_dir=self.data_dir)
        for name in runner.topics:
            topic = app.topic(name, key_type=bytes, value_type=bytes)
            app.agent(topic, name=f"project-{name}")(agent)

        @app.on_partitions_assigned.connect
        async def at_the_runners_positions(sender: Any, assigned: set[Any], **_: Any) -> None:
            positions = runner.positions()
            await app.consumer.seek_wait(
                {tp: positions.get(TopicPartition(tp.topic, tp.partition), 0) for tp in assigned}
            )

        applying = asyncio.create_task(applier())
        stopping = asyncio.create_task(stop.wait())
        try:
            await app.start()
            await asyncio.wait({stopping, applying}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            with contextlib.suppress(Exception):
                await app.stop()
            for task in (applying, stopping):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopping
        if applying.done() and not applying.cancelled():
            applying.result()  # the apply's error
        with contextlib.suppress(asyncio.CancelledError):
            await applying
