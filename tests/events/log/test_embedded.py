"""What only the embedded log promises: durability in its file, several processes on one
file, and consumer groups kept in the file.

Other processes are real ones (`sys.executable -c`), talking to the test over a line
protocol on stdin/stdout: they print a line when ready and wait for a line before acting,
so no test sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import textwrap
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from jobstream.events.errors import LogError, NotAssigned
from jobstream.events.log.base import Message, Record, TopicPartition, default_partition
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.log.testing import drain, read_exactly, wait_for_assignment

PREAMBLE = """
import asyncio, json, sys
from pathlib import Path
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.log.base import Message
from jobstream.events.log.testing import drain, read_exactly, wait_for_assignment

def send(obj):
    print(json.dumps(obj), flush=True)

async def receive():
    # In a thread: a group member keeps heartbeating while it waits.
    return await asyncio.to_thread(sys.stdin.readline)
"""

# argv: path topic proc count. Appends `count` records in batches of 1 to 5, a tenth of them
# keyless, and reports (partition, offset, value) for each record it was given back.
APPENDER = """
async def main(path, topic, proc, count):
    async with EmbeddedLog(Path(path)) as log:
        send("ready")
        await receive()
        written, i = [], 0
        while i < count:
            batch = [
                Message(json.dumps([proc, j]).encode(), key=f"{proc}-{j % 7}" if j % 10 else None)
                for j in range(i, min(i + 1 + i % 5, count))
            ]
            records = await log.append(topic, batch)
            written += [[r.partition, r.offset, r.value.decode()] for r in records]
            i += len(batch)
        send(written)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""

# argv: path topic count. Reads `count` records from the beginning and reports their values.
READER = """
async def main(path, topic, count):
    async with EmbeddedLog(Path(path)) as log:
        async with log.consumer([topic], start="earliest") as consumer:
            send("ready")
            records = await read_exactly(consumer, count, timeout=20)
            send([r.value.decode() for r in records])

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""

# argv: path topic group share session_timeout. Joins the group, reports its partitions once
# it holds `share` of them; on a line from stdin reads what it can, commits, and reports it.
MEMBER = """
async def main(path, topic, group, share, session_timeout):
    async with EmbeddedLog(Path(path), session_timeout=session_timeout) as log:
        async with log.consumer([topic], group=group, start="committed") as consumer:
            await wait_for_assignment(consumer, lambda a: len(a) == share, timeout=20)
            send(sorted(consumer.assignment()))
            await receive()
            records = await drain(consumer, idle=0.5)
            await consumer.commit()
            send([[r.partition, r.offset] for r in records])
            await receive()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
"""


class Child:
    """A Python process running one of the programs above."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def spawn(cls, program: str, *args: object) -> Child:
        code = textwrap.dedent(PREAMBLE) + textwrap.dedent(program)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            *map(str, args),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def receive(self, timeout: float = 30.0) -> Any:
        """The next line the child printed, decoded from JSON."""
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            assert self.process.stderr is not None
            error = await asyncio.wait_for(self.process.stderr.read(), timeout)
            raise AssertionError(f"the child exited: {error.decode()}")
        return json.loads(line)

    def send(self, line: str = "go") -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")

    async def finish(self, timeout: float = 30.0) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert await asyncio.wait_for(self.process.wait(), timeout) == 0

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)


@pytest.fixture
async def children() -> AsyncIterator[list[Child]]:
    """Spawned children, killed after the test if still running."""
    spawned: list[Child] = []
    yield spawned
    for child in spawned:
        child.kill()
        await child.process.wait()


async def spawn(children: list[Child], program: str, *args: object) -> Child:
    child = await Child.spawn(program, *args)
    children.append(child)
    return child


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EmbeddedLog]:
    async with EmbeddedLog(tmp_path / "events.db", session_timeout=5.0) as started:
        yield started


def _positions(records: list[Record]) -> list[tuple[int, int]]:
    return sorted((r.partition, r.offset) for r in records)


# Durability and layout


async def test_records_and_commits_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with EmbeddedLog(path) as log:
        written = await log.append("t", [Message(b"%d" % i, key=f"k{i % 3}") for i in range(30)])
        async with log.consumer(["t"], group="g") as consumer:
            await read_exactly(consumer, 10)
            await consumer.commit()
            committed = await log.committed("g", "t")

    async with EmbeddedLog(path) as log:
        assert await log.committed("g", "t") == committed
        async with log.consumer(["t"], start="earliest") as consumer:
            again = await read_exactly(consumer, 30)
        assert _positions(again) == _positions(written)
        assert {(r.offset, r.key, r.value) for r in again} == {
            (r.offset, r.key, r.value) for r in written
        }
        more = await log.append("t", [Message(b"more", key="k0")])
        assert more[0].offset == 1 + max(r.offset for r in written if r.tp == more[0].tp)


async def test_records_read_together_each_own_their_headers(log: EmbeddedLog) -> None:
    """One read parses each header text once; a consumer changing one record's headers
    must not change another's."""
    await log.append("t", [Message(b"%d" % i, key="k", headers={"type": "T"}) for i in range(3)])
    async with log.consumer(["t"], start="earliest") as consumer:
        records = await read_exactly(consumer, 3)
    first, *rest = records
    first.headers["type"] = "changed"  # type: ignore[index]
    assert [dict(r.headers) for r in rest] == [{"type": "T"}] * 2


async def test_a_topic_keeps_the_partition_count_it_was_created_with(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with EmbeddedLog(path, partitions=3) as log:
        assert await log.partitions("t") == 3
    async with EmbeddedLog(path, partitions=8) as log:
        assert await log.partitions("t") == 3
        assert await log.partitions("u") == 8


async def test_keys_choose_partitions_and_keyless_records_take_turns(log: EmbeddedLog) -> None:
    keyed = await log.append("t", [Message(b"x", key=f"job-{i}") for i in range(20)])
    assert all(r.partition == default_partition(r.key, 4) for r in keyed)

    keyless = await log.append("t", [Message(b"x") for _ in range(8)])
    assert Counter(r.partition for r in keyless) == dict.fromkeys(range(4), 2)


async def test_an_in_process_append_wakes_a_waiting_consumer_at_once(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    # Polling every 30 s: only the in-process wake-up can deliver the record in time.
    async with (
        EmbeddedLog(tmp_path / "events.db", poll_interval=30.0) as log,
        log.consumer(["t"], start="earliest") as consumer,
    ):
        assert await consumer.getmany(timeout=0) == []
        waiting = asyncio.create_task(consumer.getmany(timeout=20.0))
        await asyncio.sleep(0)  # let it start waiting (if it has not, it simply finds the record)
        began = loop.time()
        await log.append("t", [Message(b"x")])
        assert len(await waiting) == 1
        assert loop.time() - began < 5.0


async def test_misuse_is_refused(log: EmbeddedLog) -> None:
    with pytest.raises(TypeError):
        log.consumer("t")
    with pytest.raises(ValueError):
        log.consumer(["t"], start="newest")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await log.append("t", [Message("text")])  # type: ignore[arg-type]
    async with log.consumer(["t"]) as consumer:
        with pytest.raises(LogError):
            await consumer.commit()
        with pytest.raises(NotAssigned):
            consumer.position(TopicPartition("other", 0))
    with pytest.raises(LogError):
        await consumer.getmany()


async def test_close_stops_consumers_and_leaves_their_groups(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with EmbeddedLog(path) as other:
        log = EmbeddedLog(path)
        await log.start()
        leaving = log.consumer(["t"], group="g")
        await leaving.start()
        async with other.consumer(["t"], group="g") as staying:
            await wait_for_assignment(staying, lambda a: len(a) == 2)
            await log.close()
            await wait_for_assignment(staying, lambda a: len(a) == 4)
    with pytest.raises(LogError):
        await leaving.getmany()


# Several processes on one file


async def test_concurrent_appends_from_three_processes(
    log: EmbeddedLog, children: list[Child]
) -> None:
    appenders = [await spawn(children, APPENDER, log.path, "t", proc, 2000) for proc in range(3)]
    for child in appenders:
        assert await child.receive() == "ready"
    for child in appenders:
        child.send()
    reported = [await child.receive() for child in appenders]
    for child in appenders:
        await child.finish()

    async with log.consumer(["t"], start="earliest") as consumer:
        records = await read_exactly(consumer, 6000, timeout=20)
        assert await drain(consumer, idle=0.2) == []

    offsets: dict[int, list[int]] = defaultdict(list)
    for r in records:
        offsets[r.partition].append(r.offset)
    for partition_offsets in offsets.values():
        assert partition_offsets == list(range(len(partition_offsets)))
    stored = {(r.partition, r.offset): r.value.decode() for r in records}
    assert stored == {(p, o): v for written in reported for p, o, v in written}

    values = [json.loads(r.value) for r in records]
    assert sorted(map(tuple, values)) == [(proc, i) for proc in range(3) for i in range(2000)]
    for key in {r.key for r in records if r.key is not None}:
        sequence = [json.loads(r.value)[1] for r in records if r.key == key]
        assert sequence == sorted(sequence)


async def test_processes_may_create_the_file_together(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "new" / "events.db"
    appenders = [await spawn(children, APPENDER, path, "t", proc, 20) for proc in range(4)]
    for child in appenders:
        assert await child.receive() == "ready"
        child.send()
    for child in appenders:
        assert len(await child.receive()) == 20
        await child.finish()
    async with EmbeddedLog(path) as log:
        assert sum((await log.ends(["t"])).values()) == 80


async def test_a_reader_process_sees_appends_from_this_one(
    log: EmbeddedLog, children: list[Child]
) -> None:
    reader = await spawn(children, READER, log.path, "t", 50)
    assert await reader.receive() == "ready"
    for i in range(0, 50, 10):
        await log.append("t", [Message(b"%d" % j, key="k") for j in range(i, i + 10)])
    assert await reader.receive() == [str(i) for i in range(50)]
    await reader.finish()


async def test_a_waiting_consumer_sees_appends_from_another_process(
    log: EmbeddedLog, children: list[Child]
) -> None:
    loop = asyncio.get_running_loop()
    appender = await spawn(children, APPENDER, log.path, "t", 0, 100)
    async with log.consumer(["t"], start="earliest") as consumer:
        assert await appender.receive() == "ready"
        waiting = asyncio.create_task(consumer.getmany(timeout=20.0))
        began = loop.time()
        appender.send()
        first = await waiting
        seen_after = loop.time() - began
        records = first + await read_exactly(consumer, 100 - len(first))
    await appender.receive()
    await appender.finish()
    assert seen_after < 2.0
    assert sorted(json.loads(r.value)[1] for r in records) == list(range(100))


# Consumer groups


async def test_two_member_processes_split_the_partitions_and_read_each_record_once(
    log: EmbeddedLog, children: list[Child]
) -> None:
    members = [await spawn(children, MEMBER, log.path, "t", "g", 2, 5.0) for _ in range(2)]
    assignments = [await member.receive() for member in members]
    owned = [{tuple(tp) for tp in assignment} for assignment in assignments]
    assert owned[0].isdisjoint(owned[1])
    assert owned[0] | owned[1] == {("t", p) for p in range(4)}

    written = await log.append("t", [Message(b"x", key=f"job-{i}") for i in range(400)])
    for member in members:
        member.send()
    reads = [await member.receive() for member in members]
    for member in members:
        member.send()
        await member.finish()

    for partitions, read in zip(owned, reads, strict=True):
        assert {("t", p) for p, _ in read} <= partitions
    together = [tuple(r) for read in reads for r in read]
    assert sorted(together) == _positions(written)
    assert await log.committed("g", "t") == {
        tp.partition: end for tp, end in (await log.ends(["t"])).items()
    }


async def test_when_a_member_stops_another_resumes_its_partitions_from_the_commit(
    log: EmbeddedLog,
) -> None:
    written = await log.append("t", [Message(b"x", key=f"job-{i}") for i in range(80)])
    first = log.consumer(["t"], group="g", start="committed")
    second = log.consumer(["t"], group="g", start="committed")
    async with first, second:
        early = await wait_for_assignment(first, lambda a: len(a) == 2)
        mine = early + await drain(first)
        await first.commit()
        assert {r.tp for r in mine} <= first.assignment()

        theirs = await drain(second)
        assert {r.tp for r in theirs} == second.assignment()
        # The second member commits only half of what it read in each partition, then leaves.
        halfway = {tp: second.position(tp) // 2 for tp in second.assignment()}
        await second.commit(halfway)
        await second.stop()

        taken_over = await wait_for_assignment(first, lambda a: len(a) == 4)
        taken_over += await drain(first)

    assert _positions(taken_over) == sorted(
        (r.partition, r.offset) for r in theirs if r.offset >= halfway[r.tp]
    )
    assert _positions(mine + theirs) == _positions(written)


async def test_partitions_of_a_killed_member_move_after_the_session_timeout(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "events.db"
    async with EmbeddedLog(path, session_timeout=1.0) as log:
        written = await log.append("t", [Message(b"x", key=f"job-{i}") for i in range(80)])
        async with log.consumer(["t"], group="g", start="committed") as survivor:
            member = await spawn(children, MEMBER, path, "t", "g", 2, 1.0)
            theirs = {TopicPartition(*tp) for tp in await member.receive()}
            mine = await wait_for_assignment(survivor, lambda a: a.isdisjoint(theirs))
            mine += await drain(survivor)
            member.send()
            assert len(await member.receive()) == sum(r.tp in theirs for r in written)

            later = await log.append("t", [Message(b"y", key=f"job-{i}") for i in range(40)])
            member.kill()
            moved = await wait_for_assignment(survivor, lambda a: len(a) == 4, timeout=10.0)
            moved += await drain(survivor)

    assert _positions(mine) == sorted(
        (r.partition, r.offset) for r in written if r.tp not in theirs
    )
    # Only what the dead member had not committed: the records appended after its commit.
    assert _positions(moved) == _positions(later)


async def test_a_member_that_lost_a_partition_cannot_commit_it(log: EmbeddedLog) -> None:
    await log.append("t", [Message(b"x", key=f"job-{i}") for i in range(40)])
    first = log.consumer(["t"], group="g", start="committed")
    second = log.consumer(["t"], group="g", start="committed")
    async with first:
        assert len(first.assignment()) == 4
        await read_exactly(first, 40)
        async with second:
            # `first` has not polled since `second` joined: it still believes it owns all four.
            assert len(first.assignment()) == 4
            with pytest.raises(NotAssigned):
                await first.commit()
            (lost, *_) = second.assignment()
            with pytest.raises(NotAssigned):
                await first.commit({lost: 1})
            assert await log.committed("g", "t") == {}

            await wait_for_assignment(first, lambda a: len(a) == 2)
            await first.commit()
            assert set(await log.committed("g", "t")) == {tp.partition for tp in first.assignment()}
