"""The EventLog conformance suite: every backend must pass it.

Written against the `EventLog` and `Consumer` interfaces only (and `events.testing`), so the
same bodies run on the embedded log and on Kafka. Names come from the `topic` and `group`
fixtures; nothing assumes a fresh log or a particular partition count.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from jobstream.events.errors import LogError
from jobstream.events.log.base import EventLog, Message, Record, TopicPartition
from jobstream.events.log.testing import drain, read_exactly, wait_for_position


def _values(records: list[Record]) -> list[bytes]:
    return [r.value for r in records]


def _by_partition(records: list[Record]) -> dict[int, list[int]]:
    offsets: dict[int, list[int]] = defaultdict(list)
    for r in records:
        offsets[r.partition].append(r.offset)
    return offsets


async def test_append_returns_records_with_consecutive_offsets(
    event_log: EventLog, topic: str
) -> None:
    first = await event_log.append(topic, [Message(b"%d" % i, key="job-1") for i in range(5)])
    second = await event_log.append(topic, [Message(b"%d" % i, key="job-1") for i in range(5, 8)])

    records = first + second
    assert [r.offset for r in records] == list(range(8))
    assert {r.partition for r in records} == {first[0].partition}
    assert all(r.topic == topic and r.key == "job-1" for r in records)
    assert _values(records) == [b"%d" % i for i in range(8)]


async def test_offsets_are_consecutive_in_every_partition(event_log: EventLog, topic: str) -> None:
    keys = [f"job-{i}" for i in range(10)]
    written = await event_log.append(topic, [Message(b"x", key=keys[i % 10]) for i in range(100)])

    for offsets in _by_partition(written).values():
        assert offsets == list(range(len(offsets)))
    partitions = await event_log.partitions(topic)
    assert all(0 <= r.partition < partitions for r in written)


async def test_same_key_same_partition_in_order(event_log: EventLog, topic: str) -> None:
    keys = ["a", "b", "c", "d", "e"]
    for batch in range(4):
        await event_log.append(
            topic,
            [Message(f"{key}{batch}-{i}".encode(), key=key) for i in range(3) for key in keys],
        )

    async with event_log.consumer([topic], start="earliest") as consumer:
        records = await read_exactly(consumer, 60)

    for key in keys:
        mine = [r for r in records if r.key == key]
        assert len({r.partition for r in mine}) == 1
        assert _values(mine) == [f"{key}{b}-{i}".encode() for b in range(4) for i in range(3)]


async def test_keyless_messages_are_readable(event_log: EventLog, topic: str) -> None:
    written = await event_log.append(topic, [Message(b"%d" % i) for i in range(20)])
    partitions = await event_log.partitions(topic)

    assert all(r.key is None and 0 <= r.partition < partitions for r in written)
    async with event_log.consumer([topic], start="earliest") as consumer:
        records = await read_exactly(consumer, 20)
    assert sorted(_values(records)) == sorted(b"%d" % i for i in range(20))
    assert {(r.partition, r.offset) for r in records} == {(r.partition, r.offset) for r in written}


async def test_headers_and_keys_round_trip(event_log: EventLog, topic: str) -> None:
    messages = [
        Message(b"\x00\xffbinary", key="job-\u00e9\u4e2d", headers={"type": "LogAppended"}),
        Message(b"", key=None, headers={}),
        Message(b"{}", key="k", headers={"type": "Completed", "trace": "\u2603 x=1;y"}),
    ]
    written = await event_log.append(topic, messages)

    async with event_log.consumer([topic], start="earliest") as consumer:
        records = await read_exactly(consumer, 3)
    for message in messages:
        (match,) = [r for r in records if r.value == message.value]
        assert match.key == message.key
        assert dict(match.headers) == dict(message.headers)
    for w in written:
        assert [w.key, dict(w.headers)] in [[m.key, dict(m.headers)] for m in messages]
    assert all(r.timestamp_ms > 0 for r in records)


async def test_ends_are_the_offsets_after_the_last_records(event_log: EventLog, topic: str) -> None:
    other = f"{topic}-other"
    assert set((await event_log.ends([topic])).values()) == {0}
    # Several batches of several records: a broker that answers ListOffsets with the last
    # batch's base offset + 1 would be off here.
    written: list[Record] = []
    for batch in range(3):
        messages = [Message(b"x", key=f"job-{i}") for i in range(batch * 7, batch * 7 + 7)]
        written += await event_log.append(topic, messages)
    written += await event_log.append(other, [Message(b"y", key="job-1") for _ in range(4)])

    ends = await event_log.ends([topic, other])
    expected = {tp: 0 for tp in ends}
    for r in written:
        expected[r.tp] = max(expected[r.tp], r.offset + 1)
    assert ends == expected
    assert {tp.topic for tp in ends} == {topic, other}
    assert len(ends) == await event_log.partitions(topic) + await event_log.partitions(other)


async def test_start_earliest_reads_from_the_beginning(event_log: EventLog, topic: str) -> None:
    await event_log.append(topic, [Message(b"%d" % i, key="k") for i in range(5)])

    async with event_log.consumer([topic], start="earliest") as consumer:
        assert _values(await read_exactly(consumer, 5)) == [b"%d" % i for i in range(5)]


async def test_start_latest_reads_only_later_records(event_log: EventLog, topic: str) -> None:
    await event_log.append(topic, [Message(b"old", key="k") for _ in range(5)])

    async with event_log.consumer([topic], start="latest") as consumer:
        await event_log.append(topic, [Message(b"new", key="k") for _ in range(3)])
        records = await read_exactly(consumer, 3)
        assert await drain(consumer) == []
    assert _values(records) == [b"new"] * 3


async def test_start_committed_without_commit_reads_from_the_beginning(
    event_log: EventLog, topic: str, group: str
) -> None:
    await event_log.append(topic, [Message(b"%d" % i, key="k") for i in range(4)])

    async with event_log.consumer([topic], group=group, start="committed") as consumer:
        assert _values(await read_exactly(consumer, 4)) == [b"%d" % i for i in range(4)]


async def test_new_consumer_of_a_group_resumes_from_its_commit(
    event_log: EventLog, topic: str, group: str
) -> None:
    written = await event_log.append(topic, [Message(b"%d" % i, key="k") for i in range(10)])
    tp = written[0].tp

    async with event_log.consumer([topic], group=group, start="committed") as consumer:
        await read_exactly(consumer, 4)
        assert consumer.position(tp) == 4
        await consumer.commit()
    assert (await event_log.committed(group, topic))[tp.partition] == 4

    async with event_log.consumer([topic], group=group, start="committed") as consumer:
        records = await read_exactly(consumer, 6)
        assert [r.offset for r in records] == list(range(4, 10))
        await consumer.commit({tp: 7})
    assert (await event_log.committed(group, topic))[tp.partition] == 7

    async with event_log.consumer([topic], group=group, start="committed") as consumer:
        assert [r.offset for r in await read_exactly(consumer, 3)] == [7, 8, 9]


async def test_groups_keep_separate_positions(event_log: EventLog, topic: str) -> None:
    written = await event_log.append(topic, [Message(b"x", key="k") for _ in range(5)])
    tp = written[0].tp

    async with event_log.consumer([topic], group=f"{topic}-a") as consumer:
        await read_exactly(consumer, 5)
        await consumer.commit()
    async with event_log.consumer([topic], group=f"{topic}-b") as consumer:
        assert len(await read_exactly(consumer, 5)) == 5
    assert (await event_log.committed(f"{topic}-a", topic))[tp.partition] == 5
    assert await event_log.committed(f"{topic}-b", topic) == {}


async def test_seek(event_log: EventLog, topic: str) -> None:
    written = await event_log.append(topic, [Message(b"%d" % i, key="k") for i in range(10)])
    tp = written[0].tp

    async with event_log.consumer([topic], start="earliest") as consumer:
        await read_exactly(consumer, 6)
        await consumer.seek(tp, 2)
        assert consumer.position(tp) == 2
        assert [r.offset for r in await read_exactly(consumer, 2)] == [2, 3]
        await consumer.seek(tp, 8)
        assert [r.offset for r in await drain(consumer)] == [8, 9]


async def test_read_at_reads_the_one_record_there(event_log: EventLog, topic: str) -> None:
    written = await event_log.append(
        topic, [Message(b"v%d" % i, key=f"k{i % 3}", headers={"type": "T"}) for i in range(12)]
    )
    for record in (written[0], written[7], written[-1]):
        got = await event_log.read_at(record.tp, record.offset)
        assert (got.tp, got.offset, got.key, got.value) == (
            record.tp,
            record.offset,
            record.key,
            record.value,
        )
        assert got.headers == {"type": "T"}
    end = max(r.offset for r in written if r.tp == written[0].tp) + 1
    with pytest.raises(LogError, match=f"no record at offset {end}"):
        await event_log.read_at(written[0].tp, end)


async def test_consumer_without_group_reads_every_partition(
    event_log: EventLog, topic: str
) -> None:
    written = await event_log.append(topic, [Message(b"x", key=f"job-{i}") for i in range(40)])
    partitions = await event_log.partitions(topic)

    async with event_log.consumer([topic], start="earliest") as consumer:
        assert consumer.assignment() == {TopicPartition(topic, p) for p in range(partitions)}
        records = await wait_for_position(
            consumer, {r.tp: r.offset + 1 for r in written}, timeout=5.0
        )
    assert sorted((r.partition, r.offset) for r in records) == sorted(
        (r.partition, r.offset) for r in written
    )


async def test_consumer_reads_several_topics(event_log: EventLog, topic: str) -> None:
    other = f"{topic}-other"
    await event_log.append(topic, [Message(b"one", key="k")])
    await event_log.append(other, [Message(b"two", key="k")])

    async with event_log.consumer([topic, other], start="earliest") as consumer:
        records = await read_exactly(consumer, 2)
    assert {(r.topic, r.value) for r in records} == {(topic, b"one"), (other, b"two")}


async def test_getmany_returns_empty_after_timeout(event_log: EventLog, topic: str) -> None:
    await event_log.partitions(topic)
    loop = asyncio.get_running_loop()

    async with event_log.consumer([topic], start="earliest") as consumer:
        began = loop.time()
        assert await consumer.getmany(timeout=0.3) == []
        waited = loop.time() - began
    assert 0.25 <= waited < 2.0


async def test_getmany_respects_max_records(event_log: EventLog, topic: str) -> None:
    await event_log.append(topic, [Message(b"x", key="k") for _ in range(30)])

    async with event_log.consumer([topic], start="earliest") as consumer:
        records = await read_exactly(consumer, 30)
        await consumer.seek(records[0].tp, 0)
        assert 1 <= len(await consumer.getmany(max_records=7, timeout=2.0)) <= 7


async def test_getmany_respects_max_bytes_and_reads_on_from_there(
    event_log: EventLog, topic: str
) -> None:
    values = [b"%04d" % i + b"x" * 996 for i in range(20)]  # 1,000 bytes each
    await event_log.append(topic, [Message(v, key="k") for v in values])
    await event_log.append(topic, [Message(b"y" * 10_000, key="k")])

    async with event_log.consumer([topic], start="earliest") as consumer:
        read: list[bytes] = []
        while len(read) < 20:
            batch = await consumer.getmany(max_records=100, timeout=5.0, max_bytes=3_500)
            assert 1 <= len(batch) <= 3
            read += _values(batch)
        assert read == values  # nothing skipped or read twice across the bounded reads
        # A record bigger than the bound comes alone rather than never.
        (big,) = await consumer.getmany(max_records=100, timeout=5.0, max_bytes=3_500)
        assert big.value == b"y" * 10_000


async def test_waiting_consumer_is_woken_by_a_batch_append(event_log: EventLog, topic: str) -> None:
    await event_log.partitions(topic)
    loop = asyncio.get_running_loop()

    async with event_log.consumer([topic], start="earliest") as consumer:
        waiting = asyncio.create_task(consumer.getmany(max_records=1000, timeout=10.0))
        await asyncio.sleep(0)  # let it start waiting; the timing below does not depend on it
        began = loop.time()
        written = await event_log.append(
            topic, [Message(b"%d" % i, key=f"job-{i % 7}") for i in range(500)]
        )
        first = await waiting
        woken_after = loop.time() - began
        records = first + await read_exactly(consumer, 500 - len(first))

    assert first
    assert woken_after < 1.0
    assert sorted((r.partition, r.offset) for r in records) == sorted(
        (r.partition, r.offset) for r in written
    )
