"""What only the Kafka log shows: consumer groups across processes, and other Kafka clients
reading and writing the same topics (kcat, on librdkafka).

The other process is a real one (`sys.executable -c`), driven over a line protocol on its
stdin/stdout: it prints a JSON line when it has done what it was asked, so no test sleeps.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jobstream.events.errors import NotAssigned
from jobstream.events.log.base import Message, TopicPartition, to_message
from jobstream.events.log.kafka import KafkaLog, parse_broker_url
from jobstream.events.log.testing import drain, read_exactly, wait_for_assignment
from jobstream.events.models import LogAppended, LogLine, Status, StatusChanged

from ...kafka_broker import TEST_OPTIONS, KafkaBroker, skip_or_fail

MEMBER = textwrap.dedent(
    """
    import asyncio, json, sys
    from jobstream.events.log.kafka import KafkaLog
    from jobstream.events.log.testing import read_exactly

    def say(**what):
        print(json.dumps(what), flush=True)

    async def main(bootstrap, topic, group, options):
        loop = asyncio.get_running_loop()
        async with KafkaLog(bootstrap, **options) as log:
            async with log.consumer([topic], group=group) as consumer:
                say(assignment=sorted(p for _, p in consumer.assignment()))
                while True:
                    command = (await loop.run_in_executor(None, sys.stdin.readline)).split()
                    if not command or command[0] == "exit":
                        break
                    # "read N": read N records, commit, and report them.
                    records = await read_exactly(consumer, int(command[1]), timeout=10)
                    await consumer.commit()
                    say(read=[[r.partition, r.offset] for r in records])
        say(left=True)

    asyncio.run(main(*sys.argv[1:4], json.loads(sys.argv[4])))
    """
)


class Member:
    """A group member in another process."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def said(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(30):
            line = await self.process.stdout.readline()
        assert line, "the member process exited"
        return dict(json.loads(line))

    async def tell(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()


@pytest.fixture
async def log(kafka_broker: KafkaBroker) -> AsyncIterator[KafkaLog]:
    async with kafka_broker.log(partitions=4) as log:
        yield log


@pytest.fixture
async def spawn(kafka_broker: KafkaBroker) -> AsyncIterator[Any]:
    """Starts group members in other processes; kills any still running after the test."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(topic: str, group: str) -> Member:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MEMBER,
            kafka_broker.bootstrap,
            topic,
            group,
            json.dumps(TEST_OPTIONS),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        processes.append(process)
        return Member(process)

    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()
        await process.wait()


def test_parse_broker_url() -> None:
    assert parse_broker_url("kafka://kafka:9092") == "kafka:9092"
    assert parse_broker_url("kafka://a:1,b:2/") == "a:1,b:2"
    for bad in ("kafka:9092", "http://kafka:9092", "kafka://kafka", "kafka://:9092", "kafka://a:x"):
        with pytest.raises(ValueError):
            parse_broker_url(bad)


async def test_group_shares_partitions_across_processes(
    log: KafkaLog, topic: str, group: str, spawn: Any
) -> None:
    written = await log.append(topic, [Message(b"%d" % i, key=f"job-{i}") for i in range(40)])
    everything = {TopicPartition(topic, p) for p in range(4)}

    async with log.consumer([topic], group=group) as mine:
        assert mine.assignment() == everything
        other = await spawn(topic, group)
        theirs = {TopicPartition(topic, p) for p in (await other.said())["assignment"]}
        assert theirs and theirs < everything
        # Their join has finished the rebalance: ours follows at our next heartbeat.
        read = await wait_for_assignment(mine, lambda a: a == everything - theirs, timeout=10)
        read += await drain(mine)

        await other.tell(f"read {sum(r.tp in theirs for r in written)}")
        read_there = [tuple(r) for r in (await other.said())["read"]]
        assert sorted([(r.partition, r.offset) for r in read] + read_there) == sorted(
            (r.partition, r.offset) for r in written
        )
        with pytest.raises(NotAssigned):
            await mine.commit({next(iter(theirs)): 1})

        # Leaving hands their partitions back at once, from the positions they committed.
        await other.tell("exit")
        assert await other.said() == {"left": True}
        assert await wait_for_assignment(mine, lambda a: a == everything, timeout=10) == []
        later = await log.append(topic, [Message(b"later", key=f"job-{i}") for i in range(8)])
        assert sorted(r.offset for r in await read_exactly(mine, 8)) == sorted(
            r.offset for r in later
        )


async def test_dead_member_loses_its_partitions_after_the_session(
    log: KafkaLog, topic: str, group: str, spawn: Any
) -> None:
    await log.partitions(topic)
    everything = {TopicPartition(topic, p) for p in range(4)}

    async with log.consumer([topic], group=group) as mine:
        other = await spawn(topic, group)
        theirs = {TopicPartition(topic, p) for p in (await other.said())["assignment"]}
        await wait_for_assignment(mine, lambda a: a == everything - theirs, timeout=10)
        other.process.kill()  # no LeaveGroup: the broker must notice the silence
        session = TEST_OPTIONS["session_timeout_ms"] / 1000
        await wait_for_assignment(mine, lambda a: a == everything, timeout=3 * session + 5)


async def test_kept_partitions_keep_positions_across_a_rebalance(
    log: KafkaLog, topic: str, group: str
) -> None:
    written = await log.append(topic, [Message(b"x", key=f"job-{i}") for i in range(40)])

    async with log.consumer([topic], group=group) as first:
        await read_exactly(first, len(written))
        before = {tp: first.position(tp) for tp in first.assignment()}
        # Nothing committed: an eager rebalance would put kept partitions back at 0.
        async with log.consumer([topic], group=group) as second:
            await wait_for_assignment(first, lambda a: len(a) < 4, timeout=10)
            kept = first.assignment()
            assert kept and all(first.position(tp) == before[tp] for tp in kept)
            assert await drain(first) == []
            assert {r.tp for r in await drain(second)} <= second.assignment()


async def test_group_start_latest_skips_what_was_there(
    log: KafkaLog, topic: str, group: str
) -> None:
    # Several records per batch: tansu's ListOffsets answers with the last batch's start.
    await log.append(topic, [Message(b"old", key=f"job-{i % 3}") for i in range(12)])

    async with log.consumer([topic], group=group, start="latest") as consumer:
        await log.append(topic, [Message(b"new", key=f"job-{i % 3}") for i in range(6)])
        assert [r.value for r in await read_exactly(consumer, 6)] == [b"new"] * 6
        assert await drain(consumer) == []


async def test_one_read_holds_its_whole_budget_not_one_fetch(log: KafkaLog, topic: str) -> None:
    # 12 MiB in one partition: more than one fetch response of the broker holds (tansu
    # answers with about 4 MiB), less than the read's budget.
    values = [b"%05d" % i + b"x" * 4_091 for i in range(3_000)]
    for i in range(0, len(values), 500):
        await log.append(topic, [Message(v, key="job-1") for v in values[i : i + 500]])

    async with log.consumer([topic], start="earliest") as consumer:
        records = await consumer.getmany(max_records=10_000, timeout=30.0, max_bytes=64 << 20)
        assert [r.value for r in records] == values


async def test_a_read_returns_what_there_is_without_waiting_out_its_timeout(
    log: KafkaLog, topic: str
) -> None:
    written = await log.append(topic, [Message(b"%d" % i, key=f"job-{i}") for i in range(12)])

    async with log.consumer([topic], start="earliest") as consumer:
        read = []
        # A budget of 1,000 records and a minute: what there is comes long before either.
        async with asyncio.timeout(20):
            while len(read) < len(written):
                read += await consumer.getmany(max_records=1_000, timeout=60.0)
        assert sorted((r.partition, r.offset) for r in read) == sorted(
            (r.partition, r.offset) for r in written
        )


async def test_seek_drops_what_a_bounded_read_left_over(log: KafkaLog, topic: str) -> None:
    values = [b"%04d" % i + b"x" * 996 for i in range(20)]  # 1,000 bytes each
    await log.append(topic, [Message(v, key="job-1") for v in values])

    async with log.consumer([topic], start="earliest") as consumer:
        first = await read_exactly(consumer, 1)
        tp = first[0].tp
        await consumer.seek(tp, 0)
        # The rest of this fetch is held for the next read; the seek must move past it.
        assert await consumer.getmany(max_records=100, timeout=5.0, max_bytes=3_500)
        await consumer.seek(tp, 12)
        assert consumer.position(tp) == 12
        assert [r.value for r in await read_exactly(consumer, 8)] == values[12:]
        await consumer.seek(tp, 2)
        assert [r.value for r in await read_exactly(consumer, 18)] == values[2:]


# kcat: the outside client. Debian's kcat is built on librdkafka 2.0, which cannot read
# tansu's ApiVersions answer, so these tests use `librdkafka_broker` (see LibrdkafkaShim).


def _kcat() -> str:
    found = shutil.which("kcat")
    if found is None:
        skip_or_fail("kcat not found: apt-get install kcat")
    assert found is not None
    return found


async def _run(*argv: str, stdin: bytes = b"") -> bytes:
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    async with asyncio.timeout(30):
        out, err = await process.communicate(stdin)
    assert process.returncode == 0, err.decode(errors="replace")
    return out


@pytest.fixture
async def kcat_log(librdkafka_broker: KafkaBroker) -> AsyncIterator[KafkaLog]:
    async with librdkafka_broker.log(partitions=4) as log:
        yield log


async def test_kafka_log_reads_what_kcat_produced(
    kcat_log: KafkaLog, librdkafka_broker: KafkaBroker, topic: str
) -> None:
    kcat = _kcat()
    await kcat_log.partitions(topic)
    jobs = [f"job-{i}" for i in range(8)]
    lines = b"".join(
        b'%s\t{"type":"JobSubmitted","n":%d}\n' % (j.encode(), i) for i, j in enumerate(jobs)
    )
    # murmur2_random is the Java client's partitioner, which jobstream uses too.
    await _run(
        kcat, "-b", librdkafka_broker.bootstrap, "-P", "-t", topic, "-K", "\t",
        "-H", "type=JobSubmitted", "-H", "source=kcat", "-X", "partitioner=murmur2_random",
        stdin=lines,
    )  # fmt: skip

    async with kcat_log.consumer([topic], start="earliest") as consumer:
        records = await read_exactly(consumer, len(jobs))
    by_key = {r.key: r for r in records}
    assert sorted(by_key) == sorted(jobs)
    for i, job in enumerate(jobs):
        assert by_key[job].value == b'{"type":"JobSubmitted","n":%d}' % i
        assert dict(by_key[job].headers) == {"type": "JobSubmitted", "source": "kcat"}
    # The same job id lands on the same partition whichever client writes it.
    ours = await kcat_log.append(topic, [Message(b"{}", key=job) for job in jobs])
    assert {r.key: r.partition for r in ours} == {k: r.partition for k, r in by_key.items()}


async def test_kcat_reads_what_kafka_log_appended(
    kcat_log: KafkaLog, librdkafka_broker: KafkaBroker, topic: str
) -> None:
    kcat = _kcat()
    at = "2026-11-28T00:00:00.000000Z"
    events = [
        StatusChanged(
            job_id="job-1", writer="w", seq=1, status=Status.STARTED, previous=Status.WAITING
        ),
        LogAppended(
            job_id="job-1", writer="w", seq=2,
            lines=[LogLine(n=1, at=at, stream="stdout", text="h\u00e9llo \u2603")],
        ),
    ]  # fmt: skip
    messages = [to_message(e) for e in events] + [Message(b"\x00\xff\x10", key=None)]
    written = await kcat_log.append(topic, messages)
    broker = ("-b", librdkafka_broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e")

    # -J writes payloads as they are: the binary one makes its line invalid UTF-8.
    seen = [
        json.loads(line.decode(errors="replace"))
        for line in (await _run(kcat, *broker, "-J")).splitlines()
    ]
    assert sorted((m["partition"], m["offset"]) for m in seen) == sorted(
        (r.partition, r.offset) for r in written
    )
    for record in written[:2]:
        (match,) = [
            m for m in seen if (m["partition"], m["offset"]) == (record.partition, record.offset)
        ]
        assert match["key"] == record.key
        assert match["payload"] == record.value.decode()
        assert dict(zip(match["headers"][::2], match["headers"][1::2], strict=True)) == dict(
            record.headers
        )
    # Byte for byte: each value behind its length (%R), binary ones too.
    raw = await _run(kcat, *broker, "-f", "%R%s")
    values = []
    while raw:
        (size,) = struct.unpack(">i", raw[:4])
        values.append(raw[4 : 4 + size])
        raw = raw[4 + size :]
    assert sorted(values) == sorted(m.value for m in messages)
