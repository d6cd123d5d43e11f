"""The Kafka event log, on aiokafka.

- Topics are created on first use through the admin client, with the log's partition count
  and replication factor; a topic that exists already keeps its own partition count.
- A record's key is the job id and its headers carry `type`. Keyed records are partitioned
  as the Java client does (murmur2), so any Kafka client producing a job id lands on the same
  partition; keyless ones take partitions in turn from a random start.
- `append` builds one record batch per partition (more when one fills up) and sends them
  all before awaiting any: one round trip per batch, not per event. A batch's base offset
  from the broker plus a record's place in it gives the record's offset.
- Never idempotent nor transactional producers, never ListOffsets alone for correctness
  (`ends` reads each partition's tail): the test broker (tansu) does not implement them
  faithfully, and delivery is at-least-once
  anyway (DESIGN.md, "Delivery and idempotence").
- Consumers never auto-commit. A group consumer's partitions come from Kafka's group
  protocol; a partition it keeps across a rebalance keeps its position (as the embedded log
  and cooperative Kafka clients do), a newly assigned one starts as `start` says. A
  group-less consumer assigns itself every partition of its topics.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KafkaPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.partitioner import murmur2

from jobstream.events.errors import LogError, NotAssigned
from jobstream.events.log.base import (
    Consumer,
    EventLog,
    Message,
    Record,
    Start,
    TopicPartition,
    consumer_topics,
)

__all__ = ["KafkaConsumer", "KafkaLog", "kafka_record", "parse_broker_url"]

logger = logging.getLogger(__name__)

# Kafka's "topic already exists" error code: a racing creator, or a topic made elsewhere.
_TOPIC_ALREADY_EXISTS = 36
# Records per produce batch are bounded by bytes; this stays under Kafka's default
# message.max.bytes (1 MiB), so a stock broker accepts every batch.
_MAX_BATCH_BYTES = 512 * 1024


def parse_broker_url(url: str) -> str:
    """`kafka://h1:p1,h2:p2` as aiokafka's `bootstrap_servers` string, `h1:p1,h2:p2`."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme != "kafka":
        raise ValueError(f"{url!r}: a broker URL looks like kafka://HOST:PORT[,HOST:PORT]")
    servers = []
    for server in rest.rstrip("/").split(","):
        host, colon, port = server.strip().rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{url!r}: {server!r} is not HOST:PORT")
        servers.append(f"{host}:{port}")
    return ",".join(servers)


def _partition_for(key: bytes, partitions: int) -> int:
    # The Java client's default partitioner, so other clients agree on a job's partition.
    return (murmur2(key) & 0x7FFFFFFF) % partitions


_PARTITION_FETCH_BYTES = 16 << 20
_FETCH_BYTES = 64 << 20


def kafka_record(message: Any, timestamp_ms: int | None) -> Record:
    """A consumed Kafka message (aiokafka's, or the one inside a faust event) as a Record."""
    headers = message.headers or ()
    if isinstance(headers, Mapping):
        headers = headers.items()
    key = message.key
    return Record(
        message.topic,
        message.partition,
        message.offset,
        None if key is None else key.decode(errors="replace"),
        b"" if message.value is None else message.value,
        # Other clients may write headers we never would: read them, never fail.
        {k: (v or b"").decode(errors="replace") for k, v in headers},
        timestamp_ms or 0,
    )


class KafkaLog(EventLog):
    """The event log in Kafka at `bootstrap` (`host:port[,host:port]`).

    `partitions` and `replication_factor` apply to topics this log creates.
    `session_timeout_ms` is how long a silent group member keeps its partitions; a group
    join also waits about half of it on the test broker, so tests make it short.
    `fetch_max_wait_ms` bounds how long the broker holds an empty fetch: Kafka answers as
    soon as records arrive, but tansu only when it runs out, so it is also tansu's latency;
    100 ms keeps a job's events quick to reach the views on either.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 4,
        replication_factor: int = 1,
        client_id: str = "jobstream",
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        fetch_max_wait_ms: int = 100,
    ) -> None:
        if partitions < 1 or replication_factor < 1:
            raise ValueError("partitions and replication_factor must be at least 1")
        if not 0 < heartbeat_interval_ms < session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be positive and below the session")
        self.bootstrap = bootstrap
        self.default_partitions = partitions
        self.replication_factor = replication_factor
        self.client_id = client_id
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        # A topic's partition count never changes once this log has seen it.
        self._partitions: dict[str, int] = {}
        self._round_robin: dict[str, int] = {}
        self._consumers: set[KafkaConsumer] = set()

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=False,
            max_batch_size=_MAX_BATCH_BYTES,
        )
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        try:
            await producer.start()
            await admin.start()
        except KafkaError as exc:
            await producer.stop()
            await admin.close()
            raise LogError(f"Kafka at {self.bootstrap}: {exc}") from exc
        self._producer, self._admin = producer, admin

    async def close(self) -> None:
        producer, admin = self._producer, self._admin
        if producer is None or admin is None:
            return
        self._producer = self._admin = None
        try:
            for consumer in list(self._consumers):
                await consumer.stop()
        finally:
            await producer.stop()
            await admin.close()

    def _live(self) -> tuple[AIOKafkaProducer, AIOKafkaAdminClient]:
        if self._producer is None or self._admin is None:
            raise LogError(f"the Kafka log at {self.bootstrap} is not started")
        return self._producer, self._admin

    def _consumer_options(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap,
            "client_id": self.client_id,
            "enable_auto_commit": False,
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self.heartbeat_interval_ms,
            "fetch_max_wait_ms": self.fetch_max_wait_ms,
            # Catching up reads many ~3 KB events: large fetches, few round trips.
            "max_partition_fetch_bytes": _PARTITION_FETCH_BYTES,
            "fetch_max_bytes": _FETCH_BYTES,
        }

    async def _topic(self, topic: str) -> int:
        """`topic`'s partition count, creating the topic if needed."""
        known = self._partitions.get(topic)
        if known is not None:
            return known
        producer, admin = self._live()
        try:
            response = await admin.create_topics(
                [NewTopic(topic, self.default_partitions, self.replication_factor)]
            )
            for name, code, message in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise LogError(f"creating topic {name!r}: error {code}: {message}")
            # Waits for the new topic's metadata, which may lag its creation.
            count = len(await producer.partitions_for(topic))
        except KafkaError as exc:
            raise LogError(f"topic {topic!r}: {exc}") from exc
        self._partitions[topic] = count
        return count

    async def append(self, topic: str, messages: Sequence[Message]) -> list[Record]:
        for message in messages:
            if type(message.value) is not bytes:
                raise TypeError(f"a message value must be bytes, not {type(message.value)}")
        if not messages:
            return []
        producer, _ = self._live()
        count = await self._topic(topic)
        timestamp_ms = time.time_ns() // 1_000_000

        # Which messages go to each partition, in order. A batch usually repeats a few job
        # ids: hash each once.
        turn = self._round_robin.get(topic)
        if turn is None:
            turn = random.randrange(count)
        keyed: dict[str, int] = {}
        by_partition: dict[int, list[int]] = {}
        for i, message in enumerate(messages):
            if message.key is None:
                partition = turn % count
                turn += 1
            else:
                partition = keyed.get(message.key, -1)
                if partition < 0:
                    partition = keyed[message.key] = _partition_for(message.key.encode(), count)
            by_partition.setdefault(partition, []).append(i)
        self._round_robin[topic] = turn

        try:
            sent = await asyncio.gather(
                *(
                    self._send_partition(
                        producer, topic, partition, messages, indices, timestamp_ms
                    )
                    for partition, indices in by_partition.items()
                )
            )
            # Every batch is queued before any is awaited, so they travel together.
            results = await asyncio.gather(*(future for part in sent for future, _ in part))
        except KafkaError as exc:
            raise LogError(f"appending to {topic!r}: {exc}") from exc

        records: list[Record | None] = [None] * len(messages)
        batches = [indices for part in sent for _, indices in part]
        for metadata, indices in zip(results, batches, strict=True):
            # -1: the broker keeps the producer's timestamps (CreateTime).
            stamp = timestamp_ms if metadata.timestamp == -1 else metadata.timestamp
            for place, i in enumerate(indices):
                message = messages[i]
                records[i] = Record(
                    topic,
                    metadata.partition,
                    metadata.offset + place,
                    message.key,
                    message.value,
                    dict(message.headers),
                    stamp,
                )
        return records  # type: ignore[return-value]

    async def _send_partition(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        partition: int,
        messages: Sequence[Message],
        indices: list[int],
        timestamp_ms: int,
    ) -> list[tuple[asyncio.Future[Any], list[int]]]:
        """Queue `messages[indices]` for `partition` in as few batches as fit; returns each
        batch's delivery future with the messages it holds."""
        queued: list[tuple[asyncio.Future[Any], list[int]]] = []
        batch = producer.create_batch()
        held: list[int] = []
        for i in indices:
            message = messages[i]
            key = None if message.key is None else message.key.encode()
            headers = [(name, value.encode()) for name, value in message.headers.items()]
            while (
                batch.append(key=key, value=message.value, timestamp=timestamp_ms, headers=headers)
                is None
            ):
                if not held:
                    raise LogError(
                        f"a message of {len(message.value)} bytes does not fit in a batch"
                    )
                queued.append((await producer.send_batch(batch, topic, partition=partition), held))
                batch, held = producer.create_batch(), []
            held.append(i)
        queued.append((await producer.send_batch(batch, topic, partition=partition), held))
        return queued

    def consumer(
        self,
        topics: Iterable[str],
        *,
        group: str | None = None,
        start: Start = "committed",
    ) -> KafkaConsumer:
        return KafkaConsumer(self, consumer_topics(topics, start), group, start)

    async def partitions(self, topic: str) -> int:
        return await self._topic(topic)

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        count = await self._topic(topic)
        # A consumer that never subscribes only fetches the group's offsets: it does not
        # join the group, so asking does not rebalance the group's members.
        reader = AIOKafkaConsumer(group_id=group, **self._consumer_options())
        try:
            await reader.start()
            positions = {p: await reader.committed(KafkaPartition(topic, p)) for p in range(count)}
        except KafkaError as exc:
            raise LogError(f"committed positions of {group!r} in {topic!r}: {exc}") from exc
        finally:
            await reader.stop()
        return {p: offset for p, offset in positions.items() if offset is not None}

    async def ends(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        # A consumer starting at "latest" finds each partition's true end (`_ends`).
        async with self.consumer(topics, group=None, start="latest") as probe:
            return {tp: probe.position(tp) for tp in sorted(probe.assignment())}

    async def __aenter__(self) -> KafkaLog:
        await self.start()
        return self


class KafkaConsumer(Consumer):
    """A consumer of a KafkaLog; made by `KafkaLog.consumer`.

    Its positions are its own (`_positions`), updated by what `getmany` returns, by `seek`
    and by each assignment, so `position()` and `assignment()` answer without a round trip.
    """

    def __init__(
        self, log: KafkaLog, topics: tuple[str, ...], group: str | None, start: Start
    ) -> None:
        self.group = group
        self.topics = topics
        self._log = log
        self._start = start
        self._kafka: AIOKafkaConsumer | None = None
        self._positions: dict[TopicPartition, int] = {}
        # Fetched past the last batch's budget, from each partition's position on: handed
        # out first by the next `getmany`, dropped by anything that moves a position.
        self._ahead: dict[KafkaPartition, list[Any]] = {}
        # Set, then replaced, by every assignment the group hands this member.
        self._reassigned = asyncio.Event()
        # What went wrong while taking an assignment: aiokafka only logs a listener's errors.
        self._error: BaseException | None = None

    @property
    def _join_timeout(self) -> float:
        # A join waits for every member to rejoin, bounded by the session of the slowest.
        return 3 * self._log.session_timeout_ms / 1000 + 10

    async def start(self) -> None:
        if self._kafka is not None:
            return
        counts = {topic: await self._log._topic(topic) for topic in self.topics}
        kafka = self._kafka = AIOKafkaConsumer(
            group_id=self.group,
            # Only reached by "committed" in a group without a commit: the others seek.
            auto_offset_reset="earliest",
            **self._log._consumer_options(),
        )
        try:
            await kafka.start()
            if self.group is None:
                tps = [KafkaPartition(t, p) for t, count in counts.items() for p in range(count)]
                kafka.assign(tps)
                self._positions = dict(sorted((await self._start_positions(tps)).items()))
            else:
                joined = self._reassigned
                kafka.subscribe(list(self.topics), listener=_Rebalance(self))
                async with asyncio.timeout(self._join_timeout):
                    await joined.wait()
                self._raise_listener_error()
        except BaseException as exc:
            self._kafka = None
            self._positions = {}
            await kafka.stop()
            if isinstance(exc, KafkaError | TimeoutError):
                raise LogError(f"consumer of {list(self.topics)}: {exc!r}") from exc
            raise
        self._log._consumers.add(self)

    async def stop(self) -> None:
        kafka = self._kafka
        if kafka is None:
            return
        self._kafka = None
        self._positions = {}
        self._ahead = {}
        self._log._consumers.discard(self)
        # Leaves the group at once, so the others need not wait for the session to expire.
        await kafka.stop()

    async def _start_positions(self, tps: list[KafkaPartition]) -> dict[TopicPartition, int]:
        """Positions for newly assigned partitions, as `start` says."""
        kafka = self._live()
        if not tps:
            return {}
        if self._start == "latest":
            return await self._ends(tps)
        if self._start == "earliest" or self.group is None:
            await kafka.seek_to_beginning(*tps)
        # "committed" in a group: aiokafka resumes from the commit, else from the earliest.
        return {TopicPartition(tp.topic, tp.partition): await kafka.position(tp) for tp in tps}

    async def _ends(self, tps: list[KafkaPartition]) -> dict[TopicPartition, int]:
        """The offset after the last record of each partition.

        ListOffsets(LATEST) alone is not enough: tansu answers it with the last batch's base
        offset + 1. So read from one before the answer: on a faithful broker that is the last
        record, on tansu the last batch, and either way the last offset read + 1 is the end.
        """
        kafka = self._live()
        await kafka.seek_to_end(*tps)
        ends: dict[TopicPartition, int] = {}
        for tp in tps:
            end = await kafka.position(tp)
            if end > 0:
                kafka.seek(tp, end - 1)
                tail = (await kafka.getmany(tp, timeout_ms=1000)).get(tp)
                if tail:
                    end = max(end, tail[-1].offset + 1)
                kafka.seek(tp, end)
            ends[TopicPartition(tp.topic, tp.partition)] = end
        return ends

    async def _assigned(self, assigned: set[KafkaPartition]) -> None:
        """The group's new assignment: kept partitions keep their positions."""
        kafka = self._live()
        # Kept partitions are sought back to their positions below: what was read ahead in
        # them is fetched again from there.
        self._ahead = {}
        try:
            positions: dict[TopicPartition, int] = {}
            fresh = []
            for ktp in assigned:
                tp = TopicPartition(ktp.topic, ktp.partition)
                if tp in self._positions:
                    # An eager rebalance reset it to the commit: put it back.
                    kafka.seek(ktp, self._positions[tp])
                    positions[tp] = self._positions[tp]
                else:
                    fresh.append(ktp)
            positions.update(await self._start_positions(fresh))
            self._positions = dict(sorted(positions.items()))
        except Exception as exc:
            self._error = exc
            raise
        finally:
            self._reassigned.set()
            self._reassigned = asyncio.Event()

    def _live(self) -> AIOKafkaConsumer:
        if self._kafka is None:
            raise LogError("the consumer is not started")
        return self._kafka

    def _raise_listener_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise LogError(f"taking a new assignment: {error!r}") from error

    async def getmany(
        self, max_records: int = 1000, timeout: float = 1.0, max_bytes: int | None = None
    ) -> list[Record]:
        """Up to `max_records` records and `max_bytes` of values, as soon as that much is
        read, or as soon as what was read reaches the ends the broker last gave
        (`_more_to_come`), or after `timeout`.

        One aiokafka fetch holds what the broker put in one response (tansu: about 4 MiB
        across partitions), so a batch takes as many as its budget holds: a projection
        pays per batch, and a catch-up made of small ones spends its time on that."""
        kafka = self._live()
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._raise_listener_error()
        records: list[Record] = []
        room = _Room(max_records, max_bytes)
        deadline = time.monotonic() + timeout
        while True:
            if self._ahead:
                fetched, self._ahead = self._ahead, {}
            else:
                wait = deadline - time.monotonic()
                try:
                    fetched = await kafka.getmany(
                        timeout_ms=max(0, int(wait * 1000)), max_records=room.records
                    )
                except KafkaError as exc:
                    raise LogError(f"reading {list(self.topics)}: {exc!r}") from exc
            self._hand_over(fetched, records, room)
            if room.full or time.monotonic() >= deadline:
                return records
            if records and not self._more_to_come(kafka):
                return records

    def _hand_over(
        self, fetched: Mapping[KafkaPartition, list[Any]], records: list[Record], room: _Room
    ) -> None:
        """Add what `room` holds of `fetched` to `records`; what it cannot hold waits in
        `_ahead` for the next call, so it need not be fetched again."""
        positions = self._positions
        for ktp, batch in fetched.items():
            tp = TopicPartition(ktp.topic, ktp.partition)
            # Fetched just before a rebalance took the partition away: its new owner reads it.
            if not batch or tp not in positions:
                continue
            if room.full:
                self._ahead[ktp] = batch
                continue
            taken = room.take(batch, first=not records)
            if taken < len(batch):
                self._ahead[ktp] = batch[taken:]
            if taken:
                records.extend(_records(ktp.topic, ktp.partition, batch[:taken]))
                positions[tp] = batch[taken - 1].offset + 1

    def _more_to_come(self, kafka: AIOKafkaConsumer) -> bool:
        """Is any partition behind the end its last fetch response gave (its high
        watermark)? Then more is on its way; an idle topic's fetches are answered only
        when the broker's wait runs out, so they are not waited for."""
        assigned = kafka.assignment()
        for tp, at in self._positions.items():
            ktp = KafkaPartition(*tp)
            if ktp in assigned:
                end = kafka.highwater(ktp)
                if end is not None and at < end:
                    return True
        return False

    async def commit(self, positions: Mapping[TopicPartition, int] | None = None) -> None:
        kafka = self._live()
        if self.group is None:
            raise LogError("a consumer without a group has no committed positions")
        chosen = dict(self._positions if positions is None else positions)
        while True:
            lost = sorted(set(chosen) - set(self._positions))
            if lost:
                names = ", ".join(f"{t}[{p}]" for t, p in lost)
                raise NotAssigned(f"group {self.group!r}: {names} no longer assigned")
            reassigned = self._reassigned
            try:
                await kafka.commit({KafkaPartition(*tp): p for tp, p in chosen.items()})
                return
            except IllegalStateError as exc:
                raise NotAssigned(f"group {self.group!r}: {exc}") from exc
            except CommitFailedError as exc:
                # The group is rebalancing. Kafka cannot tell yet whether these partitions
                # stay here, so wait for the new assignment and ask again: raising now
                # would have the caller skip records no other member is going to read.
                try:
                    async with asyncio.timeout(self._join_timeout):
                        await reassigned.wait()
                except TimeoutError:
                    raise NotAssigned(f"group {self.group!r}: {exc}") from exc
                self._raise_listener_error()
            except KafkaError as exc:
                raise LogError(f"committing for group {self.group!r}: {exc!r}") from exc

    async def seek(self, tp: TopicPartition, offset: int) -> None:
        if offset < 0:
            raise ValueError("offsets start at 0")
        kafka = self._live()
        self._check_assigned(tp)
        ktp = KafkaPartition(*tp)
        kafka.seek(ktp, offset)
        self._ahead.pop(ktp, None)
        self._positions[tp] = offset

    async def __aenter__(self) -> KafkaConsumer:
        await self.start()
        return self


class _Room:
    """What is left of one `getmany`'s budget: records, and bytes of values."""

    __slots__ = ("bytes", "records")

    def __init__(self, records: int, max_bytes: int | None) -> None:
        self.records = records
        self.bytes = max_bytes

    @property
    def full(self) -> bool:
        return self.records <= 0 or (self.bytes is not None and self.bytes <= 0)

    def take(self, batch: list[Any], *, first: bool) -> int:
        """How many of `batch` fit, and take them. The first record of a read always fits,
        however big; once one does not, the read is full."""
        taken = min(len(batch), self.records)
        if self.bytes is not None:
            left = self.bytes
            for i in range(taken):
                size = len(batch[i].value or b"")
                if size > left and (i or not first):
                    taken, left = i, 0
                    break
                left -= size
            self.bytes = left
        self.records -= taken
        return taken


def _records(topic: str, partition: int, batch: list[Any]) -> list[Record]:
    """`kafka_record` of each aiokafka record of one partition. A partition's records
    share a few keys (a job's events) and header sets (an event type): each is decoded
    once per batch, which halves the cost of turning a catch-up into Records."""
    keys: dict[bytes, str] = {}
    header_sets: dict[tuple[tuple[str, bytes | None], ...], dict[str, str]] = {}
    records = []
    append = records.append
    for m in batch:
        key = m.key
        if key is not None:
            text = keys.get(key)
            if text is None:
                text = keys[key] = key.decode(errors="replace")
            key = text
        headers = header_sets.get(m.headers)
        if headers is None:
            # Other clients may write headers we never would: read them, never fail.
            headers = header_sets[m.headers] = {
                k: (v or b"").decode(errors="replace") for k, v in m.headers
            }
        value = m.value
        append(
            Record(
                topic,
                partition,
                m.offset,
                key,
                b"" if value is None else value,
                headers,
                m.timestamp or 0,
            )
        )
    return records


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, consumer: KafkaConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[KafkaPartition]) -> None:
        # Positions stay until the new assignment says which partitions remain.
        return None

    async def on_partitions_assigned(self, assigned: set[KafkaPartition]) -> None:
        logger.debug("group %s: assigned %s", self._consumer.group, sorted(assigned))
        await self._consumer._assigned(assigned)
