"""Each callback as a projection of both topics, run by the one projection runner.

`CallbackProjection.apply`, in one sitting, for a batch the runner hands it:

1. Decode; a record that is not an event is dead-lettered and passed over.
2. Remember the JobInfo of every JobSubmitted in the store (before any delivery, so a hook
   sees the name and labels of a job submitted in the same batch).
3. For each event the callback `takes`, in log order per partition: skip it if the store
   says this callback has handled its event id; otherwise call the hook, retrying with
   exponential backoff, and record the delivery (or, after `attempts`, the dead letter).
4. Every record passed moves the callback's position in its partition. Deliveries, dead
   letters and the positions they reach are written to the store together, in one
   transaction: a crash keeps a delivery and its position, or neither (the record is then
   handled again, and its event id shows whether its hook was called).

The two topics are read together, so an event can arrive before its job's JobSubmitted
(another partition, read later). Such an event holds its partition: `apply` records the
partition's position at that event, so the runner hands the partition back from there while
the other partitions go on, until the JobSubmitted turns up, for at most `hold` seconds;
after that it is delivered with a JobInfo that has only the job id. Other callbacks (other
processes) never wait for it.

`CallbackHost` runs one such projection: the callback's `start` and `stop`, the runner, and
a heartbeat in the store for `jobstream callbacks list`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jobstream.callbacks.base import Callback, Delivery, GiveUp, JobInfo, _current
from jobstream.callbacks.store import CallbackStore, Outcomes
from jobstream.events.dead_letters import DeadLetter, storable
from jobstream.events.documents.reading import read_record
from jobstream.events.errors import MalformedEvent
from jobstream.events.log.aio import pause
from jobstream.events.log.base import EventLog, Record, Start, TopicPartition
from jobstream.events.models import Event, JobSubmitted
from jobstream.events.names import Topics
from jobstream.projections.runner import Projection, ProjectionRunner

__all__ = ["CallbackHost", "CallbackProjection", "DeliveryPolicy", "HostStats"]

logger = logging.getLogger(__name__)

# JobInfos kept in memory; older ones are read back from the store when needed.
_CACHE = 10_000


@dataclass
class HostStats:
    """Counts since the host was made."""

    read: int = 0
    """Records handed to the callback, a held partition's again each time."""
    delivered: int = 0
    dead: int = 0
    duplicates: int = 0
    """Events skipped because the store says they were handled (a start from the earliest
    record, or a producer's retry that wrote an event twice)."""
    retries: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How a callback's hooks are called (see `CallbackHost` for each option)."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 60.0
    timeout: float = 30.0
    hold: float = 5.0
    unrecorded: int = 1

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or self.hold < 0:
            raise ValueError("backoff, max_backoff and hold must not be negative")
        if self.timeout <= 0 or self.unrecorded < 1:
            raise ValueError("timeout and unrecorded must be positive")

    def delay(self, attempt: int) -> float:
        """Seconds before the call after failed call number `attempt`."""
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff)


class CallbackProjection(Projection):
    """`callback` as a projection of `topics.all`, named `name`, kept in `store`.

    `start` says where it begins with no position in the store ("committed", "latest") or
    always ("earliest"; what was delivered is skipped by event id). Once `stop` is set, the
    hook running is allowed to finish and nothing further is delivered."""

    def __init__(
        self,
        log: EventLog,
        topics: Topics,
        callback: Callback,
        store: CallbackStore,
        *,
        name: str,
        start: Start,
        policy: DeliveryPolicy,
        stop: asyncio.Event,
        stats: HostStats,
    ) -> None:
        self.name = name
        self.topics = tuple(topics.all)
        self.log = log
        self.jobs_topic = topics.jobs
        self.callback = callback
        self.store = store
        self.start = start
        self.policy = policy
        self.stop = stop
        self.stats = stats
        self._jobs: dict[str, JobInfo] = {}
        # Partition -> (offset held at, monotonic time the hold began).
        self._holding: dict[TopicPartition, tuple[int, float]] = {}
        # Handled and not yet written; `_in_flight` counts what a write under way holds.
        self._unwritten = Outcomes()
        self._in_flight = 0
        self._writing: asyncio.Task[None] | None = None

    async def positions(self) -> dict[TopicPartition, int]:
        if self.start == "earliest":
            return {}
        if self.start == "latest":
            return await self.store.start_at(self.name, await self.log.ends(self.topics))
        return await self.store.positions(self.name)

    async def apply(self, records: Sequence[Record]) -> dict[TopicPartition, int]:
        self.stats.read += len(records)
        reached: dict[TopicPartition, int] = {}
        for r in records:
            reached.setdefault(r.tp, r.offset)
        # Records of the jobs topic first: their JobInfos serve the rest of the batch.
        decoded = [
            (r, read_record(r)) for r in sorted(records, key=lambda r: r.topic != self.jobs_topic)
        ]
        await self._learn_jobs(e for _, e in decoded if isinstance(e, JobSubmitted))
        taken = [
            e for _, e in decoded if not isinstance(e, MalformedEvent) and self.callback.takes(e)
        ]
        await self._recall_jobs(e.job_id for e in taken if e.job_id not in self._jobs)
        handled = await self.store.delivered(self.name, (str(e.event_id) for e in taken))

        held: set[TopicPartition] = set()
        for record, event in decoded:
            if self.stop.is_set():
                break  # the rest is handed over again after a restart
            tp = record.tp
            if tp in held:
                continue
            if isinstance(event, MalformedEvent):
                # Never stops the host: kept for inspection, then passed over.
                logger.warning("%s: %s[%d]@%d: %s", self.name, *tp, record.offset, event)
                self._set_aside(record, None, f"malformed record: {event}", attempts=0)
            elif self.callback.takes(event):
                key = str(event.event_id)
                if key in handled:
                    self.stats.duplicates += 1
                else:
                    job = self._job_for(record, event)
                    if job is None or not await self._deliver(record, event, job):
                        # Held for its JobSubmitted, or stopped while retrying: this
                        # partition goes on from here next time.
                        held.add(tp)
                        continue
                    handled.add(key)
            self._holding.pop(tp, None)
            self._unwritten.positions[tp] = reached[tp] = record.offset + 1
        await self._written(0)
        return reached

    async def set_aside(self, record: Record, reason: str) -> dict[TopicPartition, int]:
        # The failed apply was of this record alone: what it left unwritten is its own
        # outcome, replaced by the dead letter (a write that failed is not waited on again).
        if self._writing is not None and self._writing.done():
            self._writing = None
        self._unwritten = Outcomes()
        self._holding.pop(record.tp, None)
        self._set_aside(record, None, reason, attempts=0)
        self._unwritten.positions[record.tp] = record.offset + 1
        await self._written(0)
        return {record.tp: record.offset + 1}

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
        if clock - since < self.policy.hold:
            return None
        logger.warning(
            "%s: no JobSubmitted for job %s after %.1fs; delivering with its id only",
            self.name,
            event.job_id,
            self.policy.hold,
        )
        # Its later events go without waiting; a late JobSubmitted still replaces it.
        job = JobInfo(id=event.job_id)
        self._remember(job)
        return job

    async def _deliver(self, record: Record, event: Event, job: JobInfo) -> bool:
        """Call the hook until it succeeds or `attempts` run out; False if `stop` came first."""
        policy = self.policy
        error = ""
        attempt = 0
        while attempt < policy.attempts:
            attempt += 1
            token = _current.set(
                Delivery(self.name, event, record.topic, record.partition, record.offset, attempt)
            )
            try:
                async with asyncio.timeout(policy.timeout):
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
                if attempt < policy.attempts:
                    self.stats.retries += 1
                    if await pause(self.stop, policy.delay(attempt)):
                        return False
                continue
            finally:
                _current.reset(token)
            # Nothing may be awaited between the hook's return and the start of its write:
            # a cancel there would lose the delivery from the store.
            self._unwritten.delivered.append((str(event.event_id), record.tp, record.offset))
            await self._passed(record)
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
        self._set_aside(record, event, error, attempts=attempt)
        await self._passed(record)
        return True

    def _set_aside(self, record: Record, event: Event | None, error: str, *, attempts: int) -> None:
        """Dead-letter `record` (`event` is None when it was not one)."""
        self._unwritten.dead.append(
            DeadLetter(
                consumer=self.name,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                event_id=str(event.event_id) if event else None,
                job_id=event.job_id if event else record.key,
                event_type=event.type if event else record.headers.get("type"),
                error=storable(error),
                attempts=attempts,
            )
        )
        self.stats.dead += 1

    # --- writing ---------------------------------------------------------------------------

    async def _passed(self, record: Record) -> None:
        """A hook is done with `record`: write that with the position past it, and wait
        while more than `unrecorded - 1` such outcomes are unwritten."""
        self._unwritten.positions[record.tp] = record.offset + 1
        self._write()
        await self._written(self.policy.unrecorded - 1)

    def _write(self) -> None:
        """Start writing what is unwritten, unless a write is under way (it takes the rest
        when it is done)."""
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all(), name=f"record {self.name}")

    async def _write_all(self) -> None:
        while self._unwritten:
            outcomes, self._unwritten = self._unwritten, Outcomes()
            self._in_flight = outcomes.count
            try:
                await self.store.record(self.name, outcomes)
            finally:
                self._in_flight = 0

    async def _written(self, at_most: int) -> None:
        """Wait until at most `at_most` deliveries and dead letters are unwritten; with 0,
        until everything handled is written, positions too."""
        if at_most == 0 and self._unwritten:
            self._write()
        while self._writing is not None:
            if at_most and self._unwritten.count + self._in_flight <= at_most:
                return
            task = self._writing
            # Shielded: a stop or cancel of the host must not lose a write under way.
            await asyncio.shield(task)
            if task is self._writing:
                self._writing = None


class CallbackHost:
    """Delivers the events of `log` to `callback`, as the projection named `name`.

    - `start`: where a callback with no position in the store begins ("committed" from the
      earliest record, "latest" from the end of the log as it is at that first start);
      "earliest" reads everything again each time and skips what the store says was
      delivered.
    - `attempts`: calls of a hook per event before it is dead-lettered; the n-th retry waits
      `backoff * 2**(n-1)` seconds, at most `max_backoff`.
    - `timeout`: seconds a hook call may take before it counts as failed.
    - `hold`: seconds an event may wait for its job's JobSubmitted (see the module doc).
    - `unrecorded`: deliveries that may wait for their record in the store at once. With 1,
      each delivery is recorded (with the position it reaches) before the next hook is
      called, so a crash repeats at most the one in flight; more lets the store's writes
      overlap the hooks (faster, and a crash may repeat up to that many, which a receiver
      drops by their Idempotency-Key). Either way the stored position never passes an
      unrecorded delivery.
    - `batch`: records handed over at once; `beat`: seconds between signs of life in the
      store.
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
        if beat <= 0 or batch < 1:
            raise ValueError("beat and batch must be positive")
        self.policy = DeliveryPolicy(attempts, backoff, max_backoff, timeout, hold, unrecorded)
        self.log = log
        self.topics = topics
        self.callback = callback
        self.store = store
        self.name = name
        self.spec = spec or f"{type(callback).__module__}:{type(callback).__qualname__}"
        self.start = start
        self.batch = batch
        self.beat = beat
        self.stats = HostStats()
        self.ready = asyncio.Event()
        """Set once the starting positions are taken (and stored, for a "latest" start)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; the hook running then is allowed to finish."""
        projection = CallbackProjection(
            self.log,
            self.topics,
            self.callback,
            self.store,
            name=self.name,
            start=self.start,
            policy=self.policy,
            stop=stop,
            stats=self.stats,
        )
        runner = ProjectionRunner(self.log, projection, batch=self.batch)
        with self.store.hosting(self.name):
            await self._run(runner, projection, stop)

    async def _run(
        self, runner: ProjectionRunner, projection: CallbackProjection, stop: asyncio.Event
    ) -> None:
        await self.store.register(self.name, self.spec, projection.topics)
        await self.callback.start()
        try:
            await runner.start()
            self.ready.set()
            beats = asyncio.create_task(self._beat_forever(), name=f"beat {self.name}")
            try:
                await runner.run(stop)
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


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
