"""CallbackHost: runs one Callback as its own consumer group of both topics.

The loop, in one sitting:

1. Read a batch from `jobs` and `job-events` (group `callback-<name>`).
2. Decode; a record that is not an event is dead-lettered and passed over.
3. Remember the JobInfo of every JobSubmitted in the store (before any delivery, so a hook
   sees the name and labels of a job submitted in the same batch).
4. For each event the callback `takes`, in log order per partition: skip it if the store
   says this callback has handled its event id; otherwise call the hook, retrying with
   exponential backoff, and record the delivery (or, after `attempts`, the dead letter).
5. Commit the positions past what was handled. The store is written before the log is
   committed: a crash in between means reading the batch again and skipping what is
   recorded, never losing it.

The two topics are read by one consumer, so an event can arrive before its job's
JobSubmitted (another partition, read later). Such an event holds its partition: the host
seeks back to it and reads on elsewhere until the JobSubmitted turns up, for at most `hold`
seconds; after that it is delivered with a JobInfo that has only the job id. Other
partitions, and other callbacks (other processes), never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from jobstream.callbacks.base import Callback, Delivery, GiveUp, JobInfo, _current
from jobstream.callbacks.store import CallbackStore, DeadLetter
from jobstream.events.documents.ingest import decode_record
from jobstream.events.errors import MalformedEvent, NotAssigned
from jobstream.events.log.aio import pause
from jobstream.events.log.base import Consumer, EventLog, Record, Start, TopicPartition
from jobstream.events.models import Event, JobSubmitted, now
from jobstream.events.names import Topics

__all__ = ["CallbackHost", "HostStats", "group_name"]

logger = logging.getLogger(__name__)

# JobInfos kept in memory; older ones are read back from the store when needed.
_CACHE = 10_000
# How long to wait before reading again when a whole batch was held back.
_HELD_PAUSE = 0.05


def group_name(name: str, topics: Topics) -> str:
    """The consumer group of the callback called `name` (behind the topic prefix)."""
    return topics.group(f"callback-{name}")


@dataclass
class HostStats:
    """Counts since the host was made."""

    read: int = 0
    delivered: int = 0
    dead: int = 0
    duplicates: int = 0
    """Events skipped because the store says they were handled (a restart's re-read, or
    a producer's retry that wrote an event twice)."""
    retries: int = 0


class CallbackHost:
    """Delivers the events of `log` to `callback`, as consumer group `callback-<name>`.

    - `start`: where a group without a committed position begins ("committed" resumes,
      from the earliest record when there is none; "latest" skips the past).
    - `attempts`: calls of a hook per event before it is dead-lettered; the n-th retry waits
      `backoff * 2**(n-1)` seconds, at most `max_backoff`.
    - `timeout`: seconds a hook call may take before it counts as failed.
    - `hold`: seconds an event may wait for its job's JobSubmitted (see the module doc).
    - `unrecorded`: deliveries that may wait for their record in the store at once. With 1,
      each delivery is recorded before the next hook is called, so a crash repeats at most
      the one in flight; more lets the store's writes overlap the hooks (faster, and a
      crash may repeat up to that many, which a receiver drops by their Idempotency-Key).
    - `batch`: records read at once; `beat`: seconds between signs of life in the store.
    """

    def __init__(
        self,
        log: EventLog,
        topics: Topics,
        callback: Callback,
        store: CallbackStore,
        *,
        name: str,
        spec: str | None = None,
        start: Start = "committed",
        attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        timeout: float = 30.0,
        hold: float = 5.0,
        batch: int = 500,
        unrecorded: int = 1,
        beat: float = 2.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if backoff < 0 or max_backoff < 0 or hold < 0:
            raise ValueError("backoff, max_backoff and hold must not be negative")
        if timeout <= 0 or beat <= 0 or batch < 1 or unrecorded < 1:
            raise ValueError("timeout, beat, batch and unrecorded must be positive")
        self.log = log
        self.topics = topics
        self.callback = callback
        self.store = store
        self.name = name
        self.spec = spec or f"{type(callback).__module__}:{type(callback).__qualname__}"
        self.group = group_name(name, topics)
        self.start = start
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.hold = hold
        self.batch = batch
        self.beat = beat
        self.unrecorded = unrecorded
        self._to_record: list[tuple[str, tuple[str, int, int]]] = []
        self._recording: asyncio.Task[None] | None = None
        self.stats = HostStats()
        self.ready = asyncio.Event()
        """Set once the consumer has joined its group and taken its starting positions."""
        self._jobs: dict[str, JobInfo] = {}
        # Partition -> (offset held at, monotonic time the hold began).
        self._holding: dict[TopicPartition, tuple[int, float]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; the hook running then is allowed to finish."""
        await self.store.register(self.name, self.spec, self.group, self.topics.all)
        await self.callback.start()
        try:
            consumer = self.log.consumer(self.topics.all, group=self.group, start=self.start)
            async with consumer:
                # Pins where this run starts: a "latest" start must hold for partitions
                # that see no record before the next restart, too.
                await self._commit(
                    consumer, {tp: consumer.position(tp) for tp in consumer.assignment()}
                )
                self.ready.set()
                beats = asyncio.create_task(self._beat_forever(), name=f"beat {self.name}")
                try:
                    while not stop.is_set():
                        if not await self._step(consumer, stop):
                            await pause(stop, _HELD_PAUSE)
                finally:
                    beats.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await beats
        finally:
            try:
                await self.callback.stop()
            finally:
                await self.store.beat(self.name, stopped=True)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.beat)
            try:
                await self.store.beat(self.name)
            except Exception:
                # Only `callbacks list` reads it: a busy file must not stop deliveries.
                logger.warning("%s: could not record a heartbeat", self.name, exc_info=True)

    async def _step(self, consumer: Consumer, stop: asyncio.Event) -> bool:
        """Handle one batch; returns False if nothing could be handled (all held back)."""
        records = await consumer.getmany(self.batch, timeout=0.2)
        if not records:
            return True
        self.stats.read += len(records)
        # Records of the jobs topic first: their JobInfos serve the rest of the batch.
        records.sort(key=lambda r: r.topic != self.topics.jobs)
        decoded = await self._decode(records)
        await self._learn_jobs(e for _, e in decoded if isinstance(e, JobSubmitted))
        taken = [(r, e) for r, e in decoded if e is not None and self.callback.takes(e)]
        await self._recall_jobs(e.job_id for r, e in taken if e.job_id not in self._jobs)
        handled = await self.store.delivered(self.name, (str(e.event_id) for _, e in taken))

        positions: dict[TopicPartition, int] = {}
        held: set[TopicPartition] = set()
        for record, event in decoded:
            if stop.is_set():
                # The rest is read again after a restart: nothing past here is committed.
                break
            tp = record.tp
            if tp in held:
                continue
            if event is not None and self.callback.takes(event):
                key = str(event.event_id)
                if key in handled:
                    self.stats.duplicates += 1
                else:
                    job = self._job_for(record, event)
                    if job is None or not await self._deliver(record, event, job, stop):
                        # Held for its JobSubmitted, or stopped while retrying: read this
                        # partition from here again next time.
                        held.add(tp)
                        await consumer.seek(tp, record.offset)
                        continue
                    handled.add(key)
            self._holding.pop(tp, None)
            positions[tp] = record.offset + 1
        # The store first, then the log: a committed position never passes an unrecorded
        # delivery.
        await self._recorded(0)
        await self._commit(consumer, positions)
        return bool(positions)

    async def _decode(self, records: list[Record]) -> list[tuple[Record, Event | None]]:
        out: list[tuple[Record, Event | None]] = []
        for record in records:
            try:
                out.append((record, decode_record(record)))
            except MalformedEvent as exc:
                # Never stops the host: kept for inspection, then passed over.
                logger.warning("%s: %s[%d]@%d: %s", self.name, *record.tp, record.offset, exc)
                await self._dead(record, None, f"malformed record: {exc}", attempts=0)
                out.append((record, None))
        return out

    async def _learn_jobs(self, submitted: Iterable[JobSubmitted]) -> None:
        infos = [JobInfo.from_event(e) for e in submitted]
        await self.store.save_jobs(infos)
        for info in infos:
            self._remember(info)

    async def _recall_jobs(self, ids: Iterable[str]) -> None:
        for info in (await self.store.jobs(ids)).values():
            self._remember(info)

    def _remember(self, info: JobInfo) -> None:
        self._jobs.pop(info.id, None)
        self._jobs[info.id] = info
        if len(self._jobs) > _CACHE:
            del self._jobs[next(iter(self._jobs))]

    def _job_for(self, record: Record, event: Event) -> JobInfo | None:
        """The event's JobInfo, or None to hold the event back a while longer."""
        if isinstance(event, JobSubmitted):
            return JobInfo.from_event(event)
        job = self._jobs.get(event.job_id)
        if job is not None:
            return job
        clock = time.monotonic()
        offset, since = self._holding.setdefault(record.tp, (record.offset, clock))
        if offset != record.offset:
            self._holding[record.tp] = (record.offset, clock)
            since = clock
        if clock - since < self.hold:
            return None
        logger.warning(
            "%s: no JobSubmitted for job %s after %.1fs; delivering with its id only",
            self.name,
            event.job_id,
            self.hold,
        )
        # Its later events go without waiting; a late JobSubmitted still replaces it.
        job = JobInfo(id=event.job_id)
        self._remember(job)
        return job

    async def _deliver(
        self, record: Record, event: Event, job: JobInfo, stop: asyncio.Event
    ) -> bool:
        """Call the hook until it succeeds or `attempts` run out; False if `stop` came first."""
        error = ""
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            token = _current.set(
                Delivery(self.name, event, record.topic, record.partition, record.offset, attempt)
            )
            try:
                async with asyncio.timeout(self.timeout):
                    await self.callback.on_event(job, event)
            except GiveUp as exc:
                error = _describe(exc)
                break
            except Exception as exc:
                error = _describe(exc)
                logger.info(
                    "%s: attempt %d for event %s failed: %s",
                    self.name,
                    attempt,
                    event.event_id,
                    error,
                )
                if attempt < self.attempts:
                    self.stats.retries += 1
                    delay = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
                    if await pause(stop, delay):
                        return False
                continue
            finally:
                _current.reset(token)
            self._to_record.append(
                (str(event.event_id), (record.topic, record.partition, record.offset))
            )
            if self._recording is None or self._recording.done():
                self._recording = asyncio.create_task(self._record())
            await self._recorded(self.unrecorded - 1)
            self.stats.delivered += 1
            return True
        logger.warning(
            "%s: gave up on event %s (%s) of job %s after %d attempt(s): %s",
            self.name,
            event.event_id,
            event.type,
            event.job_id,
            attempt,
            error,
        )
        await self._dead(record, event, error, attempts=attempt)
        return True

    async def _dead(
        self, record: Record, event: Event | None, error: str, *, attempts: int
    ) -> None:
        """Record a dead letter for `record` (`event` is None when it was not one)."""
        await self.store.record_dead(
            DeadLetter(
                callback=self.name,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                event_id=str(event.event_id) if event else None,
                job_id=event.job_id if event else record.key,
                event_type=event.type if event else record.headers.get("type"),
                error=error,
                attempts=attempts,
                at=now(),
            )
        )
        self.stats.dead += 1

    async def _record(self) -> None:
        """Write what was delivered, in one transaction per round, while hooks go on."""
        while self._to_record:
            batch, self._to_record = self._to_record, []
            await self.store.record_deliveries(self.name, batch)

    async def _recorded(self, at_most: int) -> None:
        """Wait until at most `at_most` deliveries are not yet in the store."""
        while self._recording is not None and (len(self._to_record) > at_most or at_most == 0):
            task = self._recording
            # Shielded: a stop or cancel of this host must not lose a write under way.
            await asyncio.shield(task)
            if task is self._recording:
                self._recording = None
                if self._to_record:
                    self._recording = asyncio.create_task(self._record())

    async def _commit(self, consumer: Consumer, positions: dict[TopicPartition, int]) -> None:
        if not positions:
            return
        try:
            await consumer.commit(positions)
        except NotAssigned as exc:
            # Given to another member of the group meanwhile: it reads from our last commit
            # and skips what the store says we delivered.
            logger.info("%s: %s", self.name, exc)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
