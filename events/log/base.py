"""The EventLog interface: topics of partitions of records, and consumers of them.

Shaped like Kafka (and like dramatiq's Broker: a plain base class of documented methods,
one module per backend). `events.embedded` keeps the log in one SQLite file; the Kafka
backend keeps it in Kafka. Nothing else in jobstream knows which one it talks to.

Offsets count from 0 in each partition. A consumer's *position* in a partition is the
offset of the next record it will read; committing a position stores it for the group.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, get_args

from jobstream.events.codec import encode
from jobstream.events.errors import LogError, NotAssigned
from jobstream.events.models import EventBase

__all__ = [
    "Consumer",
    "EventLog",
    "Message",
    "Record",
    "Start",
    "TopicPartition",
    "consumer_topics",
    "default_partition",
    "to_message",
]

# Where a consumer starts in a partition it has no position for yet. "committed" resumes
# from the group's committed position, falling back to the earliest record when there is none.
Start = Literal["earliest", "latest", "committed"]


class TopicPartition(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Message:
    """A record to append. Records with the same key go to the same partition, in order."""

    value: bytes
    key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Record:
    """A record read back, with where it sits in the log."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: Mapping[str, str]
    timestamp_ms: int

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


def to_message(event: EventBase) -> Message:
    """The log message for an event: keyed by job id, its type in a header."""
    return Message(encode(event), key=event.job_id, headers={"type": event.type})


def consumer_topics(topics: Iterable[str], start: Start) -> tuple[str, ...]:
    """Check a consumer's arguments (as every backend's `consumer` does): sorted topic names."""
    if isinstance(topics, str):
        raise TypeError("topics must be a collection of topic names, not one string")
    if start not in get_args(Start):
        raise ValueError(f"start must be one of {get_args(Start)}, not {start!r}")
    return tuple(sorted(set(topics)))


def default_partition(key: str | None, partitions: int, fallback: int = 0) -> int:
    """A stable partition for a key (a keyless record takes `fallback`)."""
    if key is None:
        return fallback % partitions
    return zlib.crc32(key.encode()) % partitions


class Consumer:
    """Reads records from the partitions assigned to it.

    With a group, partitions are shared among the group's live members and positions can be
    committed; without one (group=None), the consumer reads every partition of its topics
    and keeps positions itself (projections store theirs in their own database).
    """

    group: str | None

    async def start(self) -> None:
        """Join the group (if any) and take starting positions."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Leave the group; uncommitted positions are forgotten."""
        raise NotImplementedError

    async def getmany(
        self, max_records: int = 1000, timeout: float = 1.0, max_bytes: int | None = None
    ) -> list[Record]:
        """Up to `max_records` records in offset order per partition, with values of at most
        `max_bytes` in all (a bigger first record comes alone); waits at most `timeout`
        seconds for the first one, and returns [] if none came."""
        raise NotImplementedError

    async def commit(self, positions: Mapping[TopicPartition, int] | None = None) -> None:
        """Store positions for the group (default: the current positions).

        Raises NotAssigned if a partition is no longer assigned to this member."""
        raise NotImplementedError

    async def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read `tp` from `offset` next."""
        raise NotImplementedError

    # Backends keep the position of every assigned partition here; its keys are the
    # assignment.
    _positions: dict[TopicPartition, int]

    def assignment(self) -> frozenset[TopicPartition]:
        """The partitions this consumer reads now."""
        return frozenset(self._positions)

    def position(self, tp: TopicPartition) -> int:
        """The offset of the next record this consumer will read from `tp`."""
        self._check_assigned(tp)
        return self._positions[tp]

    def _check_assigned(self, tp: TopicPartition) -> None:
        if tp not in self._positions:
            raise NotAssigned(f"{tp.topic}[{tp.partition}] is not assigned to this consumer")

    async def __aenter__(self) -> Consumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class EventLog:
    """An append-only log of topics. Appends are durable when `append` returns."""

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def append(self, topic: str, messages: Sequence[Message]) -> list[Record]:
        """Append messages in order, as one batch; returns the records as written.

        The topic is created on first use."""
        raise NotImplementedError

    def consumer(
        self,
        topics: Iterable[str],
        *,
        group: str | None = None,
        start: Start = "committed",
    ) -> Consumer:
        """A consumer of `topics` (not started)."""
        raise NotImplementedError

    async def partitions(self, topic: str) -> int:
        """How many partitions `topic` has (creating it if it does not exist)."""
        raise NotImplementedError

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed positions in `topic`, by partition."""
        raise NotImplementedError

    async def ends(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        """The offset after the last record of each partition of `topics`, as of the call
        (0 for an empty partition; topics are created on first use).

        A reader whose positions reach these has read everything appended before the call:
        this is what "caught up" means for every consumer of ours. Backends answer it
        exactly (on Kafka not from ListOffsets alone, which test brokers get wrong)."""
        raise NotImplementedError

    async def read_at(self, tp: TopicPartition, offset: int, timeout: float = 10.0) -> Record:
        """The record at `offset` of `tp`; LogError if there is none there (yet) within
        `timeout` seconds.

        One record, found where the views say it is (a retry reads the job's JobSubmitted
        so): a group-less consumer seeks `tp` to `offset` and every other partition of
        the topic to its end, so it reads that one record and no history."""
        if offset < 0:
            raise ValueError("offsets start at 0")
        ends = await self.ends([tp.topic])
        if offset >= ends.get(tp, 0):
            raise LogError(f"{tp.topic}[{tp.partition}] holds no record at offset {offset}")
        async with self.consumer([tp.topic], start="latest") as consumer:
            for other, end in ends.items():
                await consumer.seek(other, offset if other == tp else end)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while (left := deadline - loop.time()) > 0:
                for record in await consumer.getmany(max_records=1, timeout=left):
                    if record.tp == tp and record.offset == offset:
                        return record
        raise LogError(f"{tp.topic}[{tp.partition}]@{offset} could not be read in {timeout} s")

    async def __aenter__(self) -> EventLog:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
