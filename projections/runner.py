"""The one projection runner: feeds any `Projection` from any `EventLog`.

A projection keeps its own positions, written in the same transaction as what it makes of
the records (rows in DuckDB, deliveries in a callback's store), so the log's committed
offsets play no part. The runner:

1. asks the projection where it is (`positions`) and reads its topics from there with a
   group-less consumer;
2. applies each batch while it reads the next (one apply in flight at a time, in order);
3. trusts the positions `apply` returns: a projection that records less than it was given
   (a callback holding an event until its job's JobSubmitted turns up) gets those records
   again, read anew from where it stopped;
4. is *caught up* once its positions reach `EventLog.ends`, taken when it started;
5. never stops on a record: a batch whose `apply` raises is applied again in halves, down to
   the one record that fails alone, which the projection sets aside (`set_aside`) with the
   reason, so the rest of the batch is applied and the positions move past it. Only a
   failure to set a record aside (the projection's storage is gone) stops the runner.

A read is bounded in bytes (`batch_bytes`) as well as in records, and at most two reads are
held at once (one applying, the next read ahead), so memory does not grow with a backlog.

Live, a batch that is not full may wait (`rest`): an apply costs about the same for three
records as for three hundred, so a runner that applies whatever trickled in since the last
one keeps a core busy at any event rate. After an apply of d seconds of at least `STREAM`
records, the next one not started by a full batch waits until `rest` x d seconds have
passed (at most `poll`), reading what arrives meanwhile into the same batch: under a
stream of events the projection applies at most 1 / (1 + rest) of the time
(bench/serve.py), while a job or two at a time are seen at once. A catch-up
(`run_until_caught_up`, `feed`) never rests.

Records may also come from elsewhere (`feed`: the faust agents on Kafka). The runner drops
what is below its positions and first reads any gap from the log itself, so the source's
own idea of where it is never matters for correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from jobstream.events.log.base import Consumer, EventLog, Record, TopicPartition

__all__ = ["BATCH_BYTES", "Positions", "Progress", "Projection", "ProjectionRunner"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, float], None]
"""Called after each batch with (records applied so far, seconds since the start)."""

Positions = Mapping[TopicPartition, int]

STREAM = 32
"""Records in a live batch from which the next one rests (`rest`): fewer come from a job or
two at a time, whose events are best seen at once."""

BATCH_BYTES = 3 << 20
"""Bytes of values read at once by default. Decoding takes several times a batch's size
(DuckDB's parse of log lines, pydantic's events) and two batches are held at once (one
applied, the next read ahead): the peak RSS stays flat whatever the backlog
(bench/catchup.py). 8 MiB made that peak a million-line `jobstream run`'s 300 MiB; 3 MiB
takes about 90 MiB off it for about 10% more CPU in more commits (docs/benchmarks.md, "The
million-line job")."""


class Projection:
    """Something made of the records of `topics`, with its position in each partition.

    `name` keys its stored positions; `topics` are what it reads."""

    name: str
    topics: tuple[str, ...]

    async def positions(self) -> dict[TopicPartition, int]:
        """The offset of the next record to apply, per partition it has recorded."""
        raise NotImplementedError

    async def apply(self, records: Sequence[Record]) -> Positions:
        """Apply `records` (log order per partition, each partition contiguous from its
        position) in one transaction with the positions they move to, and return those
        positions. A record that cannot be decoded or applied is set aside with its reason,
        never raised: only a failure of the projection's own storage raises."""
        raise NotImplementedError

    async def set_aside(self, record: Record, reason: str) -> Positions:
        """Dead-letter `record`, which `apply` failed on alone, with `reason`, together with
        the position past it; returns the positions written. Raises only when the
        projection's storage fails."""
        raise NotImplementedError


class ProjectionRunner:
    """Keeps `projection` up to date with `log`.

    - `batch`, `batch_bytes`: records and bytes (of values) read at once; a read holds at
      least one record, however big.
    - `poll`: seconds a read waits for new records before trying again.
    - `rest`: how long a live batch that is not full waits after an apply, as a multiple
      of that apply's duration (0: never).
    """

    def __init__(
        self,
        log: EventLog,
        projection: Projection,
        *,
        batch: int = 20_000,
        batch_bytes: int = BATCH_BYTES,
        poll: float = 0.2,
        rest: float = 0.0,
    ) -> None:
        if batch < 1 or batch_bytes < 1 or poll <= 0 or rest < 0:
            raise ValueError("batch, batch_bytes and poll must be positive, rest not negative")
        self.log = log
        self.projection = projection
        self.batch = batch
        self.batch_bytes = batch_bytes
        self.poll = poll
        self.rest = rest
        # When the last apply's rest ends (time.monotonic()).
        self._rested_at = 0.0
        self._last_batch = 0
        self.applied = 0
        """Records applied by this runner since it was made."""
        self.caught_up = asyncio.Event()
        """Set once everything the log held when the runner started has been applied."""
        self._positions: dict[TopicPartition, int] = {}
        self._advanced = asyncio.Condition()
        self._started = False
        # Serialises apply: `feed` may be called by several faust agents at once.
        self._applying = asyncio.Lock()
        # Partitions whose last apply recorded less than it was given.
        self._held: set[TopicPartition] = set()
        self._stalled = False

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self.projection.topics)

    def positions(self) -> dict[TopicPartition, int]:
        """The next offset to apply per partition, as of the last batch applied."""
        return dict(self._positions)

    async def start(self) -> None:
        """Load the projection's positions (done by every entry point; safe to repeat)."""
        if not self._started:
            self._started = True
            await self._advance(await self.projection.positions())

    async def run(self, stop: asyncio.Event) -> None:
        """Apply what the log brings until `stop` is set."""
        ends = await self._ends()
        async with self._consumer() as consumer:
            await self._read(consumer, ends, stop=stop)

    async def run_until_caught_up(self, *, progress: Progress | None = None) -> int:
        """Apply everything appended before the call; returns the records applied."""
        ends = await self._ends()
        before = self.applied
        started = time.perf_counter()

        def report() -> None:
            if progress is not None:
                progress(self.applied - before, time.perf_counter() - started)

        if not self._reached(ends):
            async with self._consumer() as consumer:
                await self._read(consumer, ends, until=ends, report=report)
        return self.applied - before

    async def feed(self, records: Sequence[Record]) -> None:
        """Apply records read by another reader (in log order per partition): those below
        the positions are dropped, and a gap before them is first read from the log."""
        await self.start()
        async with self._applying:
            first: dict[TopicPartition, int] = {}
            for r in records:
                first.setdefault(r.tp, r.offset)
            gaps = {tp: at for tp, at in first.items() if at > self._positions.get(tp, 0)}
            if gaps:
                async with self._consumer() as consumer:
                    await self._read(consumer, {}, until=gaps, locked=True)
            fresh = [r for r in records if r.offset >= self._positions.get(r.tp, 0)]
            if fresh:
                await self._apply(fresh)

    async def wait_for(
        self, target: Record | tuple[TopicPartition, int], timeout: float = 10.0
    ) -> None:
        """Return once the record (or the record at (partition, offset)) has been applied;
        raises TimeoutError otherwise."""
        tp, offset = (target.tp, target.offset) if isinstance(target, Record) else target
        async with asyncio.timeout(timeout), self._advanced:
            await self._advanced.wait_for(lambda: self._positions.get(tp, 0) > offset)

    async def reached(self, ends: Positions, timeout: float) -> bool:
        """Wait until the positions reach `ends` (as `EventLog.ends` gives them); False if
        they do not within `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout), self._advanced:
                await self._advanced.wait_for(lambda: self._reached(ends))
        except TimeoutError:
            return False
        return True

    # --- reading ---------------------------------------------------------------------------

    async def _ends(self) -> dict[TopicPartition, int]:
        await self.start()
        ends = await self.log.ends(self.topics)
        if self._reached(ends):
            self.caught_up.set()
        return ends

    def _reached(self, ends: Positions) -> bool:
        return all(self._positions.get(tp, 0) >= end for tp, end in ends.items())

    @contextlib.asynccontextmanager
    async def _consumer(self) -> AsyncIterator[Consumer]:
        """A started group-less consumer at the runner's positions (earliest elsewhere)."""
        consumer = self.log.consumer(self.topics, group=None, start="earliest")
        await consumer.start()
        try:
            for tp in consumer.assignment():
                if self._positions.get(tp, 0):
                    await consumer.seek(tp, self._positions[tp])
            yield consumer
        finally:
            await consumer.stop()

    async def _read(
        self,
        consumer: Consumer,
        ends: Positions,
        *,
        stop: asyncio.Event | None = None,
        until: Positions | None = None,
        report: Callable[[], None] | None = None,
        locked: bool = False,
    ) -> None:
        """Read and apply, one apply in flight while the next batch is read, until `stop`
        is set or the positions reach `until`."""
        pending: asyncio.Task[None] | None = None
        try:
            while not (stop is not None and stop.is_set()):
                if until is not None and pending is None and self._reached(until):
                    return
                if until is not None and pending is not None and _read_to(consumer, until):
                    records = []  # all that is wanted is read: wait for the apply, not a poll
                else:
                    records = await consumer.getmany(
                        self.batch, timeout=self.poll, max_bytes=self.batch_bytes
                    )
                if until is not None:
                    records = [r for r in records if r.offset < until.get(r.tp, 0)]
                if pending is not None:
                    await pending
                    pending = None
                    records = await self._reread_held(consumer, records)
                    if report is not None:
                        report()
                if ends and not self.caught_up.is_set() and self._reached(ends):
                    self.caught_up.set()
                if records and stop is not None and until is None:
                    records = await self._rest(consumer, records, stop)
                if records:
                    apply = self._apply(records) if locked else self._apply_locked(records)
                    pending = asyncio.ensure_future(apply)
        finally:
            if pending is not None:
                if stop is not None and stop.is_set():
                    with contextlib.suppress(Exception):
                        await pending
                else:
                    await pending

    async def _rest(
        self, consumer: Consumer, records: list[Record], stop: asyncio.Event
    ) -> list[Record]:
        """`records`, and what arrives until the last apply's rest is over (nothing when
        it is over, or `records` fill a batch)."""
        if self._last_batch < STREAM:
            return records  # a trickle: each record is news, and cheap to apply at once
        # Never longer than a poll: a slow apply (a loaded machine) must not hold the next.
        deadline = min(self._rested_at, time.monotonic() + self.poll)
        room = self.batch_bytes - sum(len(r.value) for r in records)
        while not stop.is_set() and len(records) < self.batch and room > 0:
            wait = deadline - time.monotonic()
            if wait <= 0:
                break
            more = await consumer.getmany(self.batch - len(records), timeout=wait, max_bytes=room)
            records = records + more
            room -= sum(len(r.value) for r in more)
        return records

    async def _reread_held(self, consumer: Consumer, records: list[Record]) -> list[Record]:
        """Partitions where the projection recorded less than it was given are read again
        from where it stopped; what was read ahead in them is dropped."""
        held, self._held = self._held, set()
        if not held:
            return records
        if self._stalled:
            await asyncio.sleep(self.poll)  # nothing moved: don't spin on what waits
        for tp in held:
            await consumer.seek(tp, self._positions.get(tp, 0))
        return [r for r in records if r.tp not in held]

    # --- applying --------------------------------------------------------------------------

    async def _apply_locked(self, records: list[Record]) -> None:
        async with self._applying:
            await self._apply(records)

    async def _apply(self, records: list[Record]) -> None:
        started = time.monotonic()
        recorded = await self._settle(records)
        ended = time.monotonic()
        self._rested_at = ended + self.rest * (ended - started)
        self._last_batch = len(records)
        read: dict[TopicPartition, int] = {}
        for r in records:
            read[r.tp] = r.offset + 1
        self._held.update(tp for tp, end in read.items() if recorded.get(tp, end) < end)
        self._stalled = all(recorded.get(tp, 0) <= self._positions.get(tp, 0) for tp in read)
        self.applied += len(records)
        await self._advance(recorded)

    async def _settle(self, records: list[Record]) -> dict[TopicPartition, int]:
        """`projection.apply(records)`; if it raises, the halves in turn, so that only the
        record that fails alone is set aside. A second half is applied only in partitions
        the first half passed entirely (where it was held, the runner reads it again)."""
        try:
            return dict(await self.projection.apply(records))
        except Exception as exc:
            if len(records) > 1:
                half = len(records) // 2
                first = await self._settle(records[:half])
                ends = {r.tp: r.offset + 1 for r in records[:half]}
                rest = [r for r in records[half:] if first.get(r.tp, 0) >= ends.get(r.tp, 0)]
                return first | (await self._settle(rest) if rest else {})
            failure = exc
        (record,) = records
        try:
            # Once more on its own: a failure of the storage that passed is no record's fault.
            return dict(await self.projection.apply(records))
        except Exception:
            pass
        reason = f"could not be applied: {type(failure).__name__}: {failure}"
        logger.warning("%s: %s[%d]@%d: %s", self.projection.name, *record.tp, record.offset, reason)
        try:
            return dict(await self.projection.set_aside(record, reason))
        except Exception as exc:
            raise exc from failure

    async def _advance(self, positions: Positions) -> None:
        async with self._advanced:
            self._positions.update(positions)
            self._advanced.notify_all()


def _read_to(consumer: Consumer, until: Positions) -> bool:
    """Has `consumer` read every partition it holds up to `until`?"""
    held = consumer.assignment()
    return all(consumer.position(tp) >= end for tp, end in until.items() if tp in held)
