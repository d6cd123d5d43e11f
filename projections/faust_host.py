"""FaustProjectionHost: feeds DuckDBViews from Kafka inside a faust-streaming app.

The same projection as `ProjectionHost` (the plain loop), hosted the way DESIGN.md asks for
Kafka: one faust App per host, one agent per topic, each agent taking batches of events
(`stream.take_events(batch, within=...)`) and handing them, as `events.log.Record`s, to
`DuckDBViews.apply` on one dedicated DuckDB thread. Rows and checkpoint commit in one DuckDB
transaction, so:

- The DuckDB checkpoint is the truth. faust's group is used only to get the partitions;
  whenever faust would seek its partitions to the group's committed offsets (after every
  assignment), it seeks them to the checkpoint instead (`_CheckpointConsumer`). A deleted
  or replaced views file is therefore rebuilt from offset 0, whatever faust committed.
- faust acks a batch only after `apply` returned and commits acked offsets later still, so
  its committed offsets lag the checkpoint. Records read twice (after a kill -9, a
  rebalance) are below the checkpoint and `apply` skips them.
- No faust tables (their changelog recovery relies on `end_offsets()`, which the test broker
  gets wrong), no web server, no topic declaration (KafkaLog creates the topics), no leader
  topic: state lives in DuckDB only.

Bulk reads do not go through faust: `run_until_caught_up` (one-shot queries, `replay`, and
`run` itself before it starts the app) reads from the checkpoint with a plain aiokafka
consumer without a group (`_BulkReader`), fetching the next batch while DuckDB applies the
previous one, several times faster than faust's per-event path. Its stop condition does not
trust ListOffsets either (see `_BulkReader`). `caught_up` is set once that first catch-up is
done: the lease keeper must not judge heartbeats on views still catching up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaPartition
from aiokafka.errors import KafkaError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from jobstream.events.errors import LogError
from jobstream.events.log.base import Record, TopicPartition
from jobstream.events.log.kafka import KafkaLog
from jobstream.projections.host import Progress, ViewsHost
from jobstream.projections.replay import ReplayResult, replay
from jobstream.projections.views import DuckDBViews

__all__ = ["FaustProjectionHost", "default_app_id", "replay_from_kafka"]

logger = logging.getLogger(__name__)


# Bulk reads: a partition's fetch may be large (events are ~3 KB); the broker answers with
# up to this many bytes per partition and per fetch.
_BULK_PARTITION_BYTES = 16 << 20
_BULK_FETCH_BYTES = 64 << 20


def _record(message: Any, ms: float = 1.0) -> Record:
    """A consumer message as the Record the views apply: an aiokafka one (timestamp in
    milliseconds) or, with `ms=1000`, a faust one (timestamp in seconds)."""
    headers = message.headers or ()
    if isinstance(headers, Mapping):
        headers = headers.items()
    key = message.key
    timestamp = message.timestamp
    return Record(
        message.topic,
        message.partition,
        message.offset,
        None if key is None else key.decode(errors="replace"),
        b"" if message.value is None else message.value,
        # Other clients may write headers we never would: read them, never fail.
        {k: (v or b"").decode(errors="replace") for k, v in headers},
        0 if timestamp is None else round(timestamp * ms),
    )


class _CheckpointConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, but "committed" positions are the DuckDB checkpoint.

    faust seeks every assigned partition to `seek_to_committed()` after each rebalance
    (and whenever it finds its flow stopped); the offsets returned here also become its
    notion of "committed", so its own commits resume from there."""

    async def seek_to_committed(self) -> Mapping[TP, int]:
        checkpoint: Callable[[], Any] = self.app.checkpoint  # type: ignore[attr-defined]
        stored: dict[TopicPartition, int] = await checkpoint()
        offsets = {
            tp: stored.get(TopicPartition(tp.topic, tp.partition), 0) for tp in self.assignment()
        }
        if offsets:
            await self.seek_wait(offsets)
        logger.debug("projector: partitions at the checkpoint %s", offsets)
        return offsets


class _Transport(faust_aiokafka.Transport):
    Consumer = _CheckpointConsumer


class _ProjectorApp(faust.App):
    """A faust App whose consumer seeks to `checkpoint()` (set by the host)."""

    checkpoint: Callable[[], Any]

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


AppT = TypeVar("AppT", bound=faust.App)


def faust_app(app_id: str, log: KafkaLog, *, batch: int, app_class: type[AppT] = faust.App) -> AppT:
    """A faust App on `log`'s broker and timings, as the projector runs it: no web server,
    no tables, no topic declaration or leader topic (their state would need end offsets or
    compaction), raw keys and values. The benchmark's bare agent uses the same."""
    session = log.session_timeout_ms / 1000
    return app_class(
        app_id,
        broker=f"kafka://{log.bootstrap}",
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


class FaustProjectionHost(ViewsHost):
    """Keeps `views` up to date with `topics` of the Kafka `log`, in a faust app.

    The surface `ProjectionHost` offers the services: `run(stop)`, `run_until_caught_up`,
    `wait_for`, `query`, `positions`, `applied`, `close`.

    `batch` caps the events of one `take_events` batch (one DuckDB transaction) and
    `within` is how long an agent waits to fill one. Consumer timings (session, heartbeat)
    are the log's. `app_id` names faust's consumer group (default: `default_app_id`).
    `run` first catches up with the bulk reader (`bulk_batch` records per transaction)
    unless `catch_up_first` is false (benchmarks of the faust path)."""

    def __init__(
        self,
        log: KafkaLog,
        views: DuckDBViews,
        topics: list[str],
        *,
        name: str = "views",
        app_id: str | None = None,
        batch: int = 5_000,
        within: float = 0.1,
        bulk_batch: int = 20_000,
        idle: float = 5.0,
        catch_up_first: bool = True,
    ) -> None:
        super().__init__(views, topics, name=name)
        self.log = log
        self.app_id = app_id or default_app_id(views.path, self.topics)
        self.batch = batch
        self.within = within
        self.bulk_batch = bulk_batch
        self.idle = idle
        self.catch_up_first = catch_up_first
        self._failed: asyncio.Future[None] | None = None
        # A few batches in flight between the agents and DuckDB: enough to overlap them,
        # few enough that a slow database holds faust back instead of filling memory.
        self._pending: asyncio.Queue[list[Record]] = asyncio.Queue(maxsize=4)
        self.first_applied: float | None = None
        """`time.perf_counter()` when `run` applied its first batch (for benchmarks)."""
        self.last_applied: float | None = None

    # --- the live path: faust -------------------------------------------------------------

    def _app(self) -> _ProjectorApp:
        app = faust_app(self.app_id, self.log, batch=self.batch, app_class=_ProjectorApp)
        app.checkpoint = self._checkpoint
        for topic_name in self.topics:
            topic = app.topic(topic_name, key_type=bytes, value_type=bytes)
            app.agent(topic, name=f"project-{topic_name}")(self._agent)
        return app

    async def _agent(self, stream: Any) -> None:
        # The agent only queues: DuckDB applies in the applier task meanwhile, so faust's
        # per-event work and the database work overlap. Faust may then commit offsets ahead
        # of the views, which is harmless: every assignment seeks to the DuckDB checkpoint.
        async for events in stream.take_events(self.batch, within=self.within):
            await self._pending.put([_record(e.message, 1000) for e in events])

    async def _applier(self) -> None:
        """Apply queued batches in order, merging those that wait into one transaction."""
        try:
            while True:
                records = await self._pending.get()
                while not self._pending.empty() and len(records) < self.bulk_batch:
                    records += self._pending.get_nowait()
                await self._apply_batch(records)
        except Exception as exc:
            # run() stops the app and raises this.
            if self._failed is not None and not self._failed.done():
                self._failed.set_exception(exc)

    async def _apply_batch(self, records: list[Record]) -> None:
        await self._apply(records)
        now = time.perf_counter()
        if self.first_applied is None:
            self.first_applied = now
        self.last_applied = now

    async def run(self, stop: asyncio.Event) -> None:
        """Catch up in bulk, then project with a faust app until `stop` is set (or an apply
        fails: raised here)."""
        for topic in self.topics:
            await self.log.partitions(topic)  # KafkaLog creates them; faust never declares
        await self._advance(await self._checkpoint())
        if self.catch_up_first:
            await self.run_until_caught_up()
        self.caught_up.set()
        if stop.is_set():
            return
        self._failed = asyncio.get_running_loop().create_future()
        app = self._app()
        applier = asyncio.create_task(self._applier())
        try:
            await app.start()
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({stopping, self._failed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
        finally:
            with contextlib.suppress(Exception):
                await app.stop()
            applier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await applier
            failed, self._failed = self._failed, None
        if failed.done():
            failed.result()
        else:
            failed.cancel()

    # --- the bulk path: aiokafka ----------------------------------------------------------

    async def run_until_caught_up(self, *, progress: Progress | None = None) -> int:
        """Apply everything up to the ends of the topics taken now; returns the records
        applied. Reads with aiokafka directly from the checkpoint, no faust, no group."""
        started = time.perf_counter()
        stored = await self._checkpoint()
        await self._advance(stored)
        reader = _BulkReader(self.log, self.topics, idle=self.idle)
        count = 0
        pending: asyncio.Future[None] | None = None
        try:
            await reader.start(stored)
            while True:
                records = await reader.next(self.bulk_batch)
                if pending is not None:
                    await pending  # the previous batch: at most one waits for DuckDB
                    if progress is not None:
                        progress(count, time.perf_counter() - started)
                if not records:
                    break
                pending = asyncio.ensure_future(self._apply_batch(records))
                count += len(records)
        finally:
            if pending is not None and not pending.done():
                with contextlib.suppress(Exception):
                    await pending
            await reader.stop()
        return count


class _BulkReader:
    """Reads every partition of `topics` from given positions up to their ends, with one
    group-less aiokafka consumer.

    The ends are taken when it starts, and not from ListOffsets alone (tansu answers the
    last batch's base offset + 1): a `start="latest"` KafkaLog consumer reads each
    partition's tail to find them. As a last guard, a partition that yields nothing for
    `idle` seconds before reaching its end counts as done (logged), so a wrong end can make
    a read short, never endless."""

    def __init__(self, log: KafkaLog, topics: list[str], *, idle: float) -> None:
        self.log = log
        self.topics = topics
        self.idle = idle
        self._kafka: AIOKafkaConsumer | None = None
        self._ends: dict[KafkaPartition, int] = {}
        self._positions: dict[KafkaPartition, int] = {}

    async def start(self, positions: Mapping[TopicPartition, int]) -> None:
        ends: dict[TopicPartition, int] = {}
        async with self.log.consumer(self.topics, group=None, start="latest") as probe:
            for tp in probe.assignment():
                ends[tp] = probe.position(tp)
        todo = {
            KafkaPartition(*tp): (positions.get(tp, 0), end)
            for tp, end in ends.items()
            if positions.get(tp, 0) < end
        }
        self._ends = {ktp: end for ktp, (_, end) in todo.items()}
        self._positions = {ktp: start for ktp, (start, _) in todo.items()}
        if not todo:
            return
        kafka = AIOKafkaConsumer(
            bootstrap_servers=self.log.bootstrap,
            client_id=self.log.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=_BULK_PARTITION_BYTES,
            fetch_max_bytes=_BULK_FETCH_BYTES,
            fetch_max_wait_ms=self.log.fetch_max_wait_ms,
        )
        try:
            await kafka.start()
            kafka.assign(list(todo))
            for ktp, (start, _) in todo.items():
                kafka.seek(ktp, start)
        except KafkaError as exc:
            await kafka.stop()
            raise LogError(f"reading {self.topics} from Kafka: {exc!r}") from exc
        self._kafka = kafka

    async def next(self, max_records: int) -> list[Record]:
        """The next records (at most about `max_records`), or [] once every partition is
        at its end."""
        kafka = self._kafka
        while kafka is not None and self._ends:
            try:
                fetched = await kafka.getmany(
                    timeout_ms=int(self.idle * 1000), max_records=max_records
                )
            except KafkaError as exc:
                raise LogError(f"reading {self.topics} from Kafka: {exc!r}") from exc
            if not fetched:
                logger.warning(
                    "nothing more to read from %s before their ends after %.1f s: done",
                    sorted(f"{tp.topic}[{tp.partition}]" for tp in self._ends),
                    self.idle,
                )
                self._ends.clear()
                break
            records: list[Record] = []
            for ktp, batch in fetched.items():
                end = self._ends.get(ktp)
                if end is None:
                    continue
                wanted = [m for m in batch if m.offset < end]
                records.extend(_record(m) for m in wanted)
                if batch[-1].offset + 1 >= end:
                    del self._ends[ktp]
                    kafka.pause(ktp)
            if records:
                return records
        return []

    async def stop(self) -> None:
        kafka, self._kafka = self._kafka, None
        if kafka is not None:
            await kafka.stop()


async def replay_from_kafka(
    log: KafkaLog,
    topics: list[str],
    target: Path,
    *,
    progress: Progress | None = None,
    name: str = "views",
    batch: int = 20_000,
) -> ReplayResult:
    """`projections.replay.replay` for Kafka: the bulk reader of FaustProjectionHost reads
    the log, so the stop point never depends on ListOffsets."""
    return await replay(
        log,
        topics,
        target,
        progress=progress,
        name=name,
        host=lambda views: FaustProjectionHost(log, views, topics, name=name, bulk_batch=batch),
    )
