"""The projection runner on both logs, with a projection that keeps what it applied in memory
(its positions with it, as every real projection keeps them with its rows)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from jobstream.events.log.base import EventLog, Message, Record, TopicPartition
from jobstream.projections.runner import STREAM, Positions, Projection, ProjectionRunner


class ListProjection(Projection):
    """Keeps the values it applied; `hold` makes it record less than it is given."""

    def __init__(self, topics: Sequence[str], *, hold: bytes | None = None) -> None:
        self.name = "list"
        self.topics = tuple(topics)
        self.values: list[bytes] = []
        self.batches: list[int] = []
        self.stored: dict[TopicPartition, int] = {}
        self.hold = hold

    async def positions(self) -> dict[TopicPartition, int]:
        return dict(self.stored)

    async def apply(self, records: Sequence[Record]) -> Positions:
        for r in records:
            assert r.offset == self.stored.get(r.tp, 0), "records must be contiguous"
            if r.value == self.hold:
                break  # held: this record and the ones after it come again
            self.values.append(r.value)
            self.stored[r.tp] = r.offset + 1
        self.batches.append(len(records))
        return {tp: self.stored.get(tp, 0) for tp in {r.tp for r in records}}


async def append(log: EventLog, topic: str, values: list[bytes]) -> list[Record]:
    return await log.append(topic, [Message(v, key=f"k{i % 3}") for i, v in enumerate(values)])


async def test_catching_up_applies_everything_appended_before_once(
    event_log: EventLog, topic: str
) -> None:
    values = [b"%d" % i for i in range(50)]
    for chunk in range(0, 50, 10):  # several batches: ends must count past each batch
        await append(event_log, topic, values[chunk : chunk + 10])
    projection = ListProjection([topic])
    runner = ProjectionRunner(event_log, projection, batch=7)
    progress: list[int] = []
    assert await runner.run_until_caught_up(progress=lambda n, _: progress.append(n)) == 50
    assert sorted(projection.values) == sorted(values)
    assert progress[-1] == 50 and max(projection.batches) <= 7
    assert runner.caught_up.is_set()

    again = ProjectionRunner(event_log, projection)  # a restart: resumes at the positions
    assert await again.run_until_caught_up() == 0
    await append(event_log, topic, [b"late"])
    assert await again.run_until_caught_up() == 1
    assert projection.values.count(b"late") == 1


async def test_running_applies_what_comes_and_wait_for_follows(
    event_log: EventLog, topic: str
) -> None:
    await append(event_log, topic, [b"old"])
    projection = ListProjection([topic])
    runner = ProjectionRunner(event_log, projection, poll=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(30):
            await runner.caught_up.wait()
        written = await append(event_log, topic, [b"new1", b"new2"])
        for record in written:
            await runner.wait_for(record, timeout=30)
        with pytest.raises(TimeoutError):
            await runner.wait_for((written[-1].tp, written[-1].offset + 1), timeout=0.3)
    finally:
        stop.set()
        await task
    assert sorted(projection.values) == [b"new1", b"new2", b"old"]


async def test_records_a_projection_holds_are_given_again(event_log: EventLog, topic: str) -> None:
    written = await event_log.append(topic, [Message(v, key="one") for v in (b"a", b"b", b"c")])
    projection = ListProjection([topic], hold=b"b")
    runner = ProjectionRunner(event_log, projection, poll=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        # Held records come back while the runner runs; once released they are applied.
        async with asyncio.timeout(30):
            while len(projection.batches) < 3:
                await asyncio.sleep(0.05)
        assert projection.values == [b"a"]
        projection.hold = None
        await runner.wait_for(written[-1], timeout=30)
    finally:
        stop.set()
        await task
    assert projection.values == [b"a", b"b", b"c"]


async def test_feed_drops_what_is_applied_and_reads_a_gap_from_the_log(
    event_log: EventLog, topic: str
) -> None:
    written = await event_log.append(topic, [Message(b"%d" % i, key="one") for i in range(6)])
    projection = ListProjection([topic])
    runner = ProjectionRunner(event_log, projection)
    await runner.feed(written[:2])
    await runner.feed(written[:3])  # read twice by another reader: only the new one counts
    assert projection.values == [b"0", b"1", b"2"]
    await runner.feed(written[5:])  # offsets 3 and 4 were never fed: read from the log
    assert projection.values == [b"%d" % i for i in range(6)]
    assert runner.positions()[written[0].tp] == 6


class SlowProjection(ListProjection):
    """An apply that takes a tenth of a second, as a loaded DuckDB does."""

    async def apply(self, records: Sequence[Record]) -> Positions:
        await asyncio.sleep(0.1)
        return await super().apply(records)


async def test_after_a_stream_a_resting_runner_applies_a_trickle_in_one_batch(
    event_log: EventLog, topic: str
) -> None:
    projection = SlowProjection([topic])
    # Rests up to a poll (1 s) after each apply: what trickles in meanwhile is one batch.
    runner = ProjectionRunner(event_log, projection, poll=1.0, rest=100)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(30):
            await runner.caught_up.wait()
        stream = [Message(b"s%d" % i, key="one") for i in range(STREAM)]
        await runner.wait_for((await event_log.append(topic, stream))[-1], timeout=30)
        trickle = [
            record
            for i in range(5)
            for record in await event_log.append(topic, [Message(b"%d" % i, key="one")])
        ]
        await runner.wait_for(trickle[-1], timeout=30)
    finally:
        stop.set()
        await task
    assert projection.values == [m.value for m in stream] + [b"0", b"1", b"2", b"3", b"4"]
    assert projection.batches[-1] == 5
