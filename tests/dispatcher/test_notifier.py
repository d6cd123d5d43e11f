"""The EventNotifier: a runner's calls become events of one writer, seq 1, 2, 3, ..."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from jobstream.dispatcher import EventNotifier
from jobstream.events.codec import decode
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.log.testing import read_exactly
from jobstream.events.models import (
    Completed,
    EventBase,
    Heartbeat,
    LogAppended,
    LogChunk,
    LogLine,
    StageFinished,
    StageStarted,
    Status,
    StatusChanged,
    StepFinished,
    StepStarted,
)
from jobstream.runners.notifier import StageEnd, StageStart, StepEnd, StepStart

from .dispatcher_support import TOPICS, events_of

AT = "2024-05-01T12:00:00.000000Z"


async def test_concurrent_calls_get_seq_in_log_order_without_gaps(log: EmbeddedLog) -> None:
    notifier = EventNotifier(log, TOPICS.events, "job-1", "attempt-a")
    calls = []
    for i in range(30):
        match i % 3:
            case 0:
                calls.append(notifier.heartbeat(30.0, "w"))
            case 1:
                calls.append(notifier.status_changed(Status.STARTED, Status.WAITING))
            case _:
                calls.append(notifier.log_write(LogChunk(i, [("stdout", AT, ["x"])], 1, 1)))
    await asyncio.gather(*calls)
    async with log.consumer([TOPICS.events], start="earliest") as consumer:
        records = await read_exactly(consumer, 30)
    # One job is one partition: offset order is log order.
    events = [decode(r.value) for r in sorted(records, key=lambda r: r.offset)]
    assert [e.seq for e in events] == list(range(1, 31))
    assert {(e.job_id, e.writer) for e in events} == {("job-1", "attempt-a")}
    assert notifier.last is not None and notifier.last.offset == records[-1].offset


async def test_a_runner_chunk_becomes_one_log_appended(log: EmbeddedLog) -> None:
    notifier = EventNotifier(log, TOPICS.events, "job-2", "attempt-b")
    chunk = LogChunk(
        5, [("stdout", AT, ["a", "b"]), ("stderr", "2024-05-01T12:00:01Z", ["c"])], 3, 3
    )
    await notifier.log_write(chunk)
    await notifier.log_write(LogChunk(8, [("system", AT, ["d"])], 1, 1))
    await notifier.completion(True, Status.SUCCEEDED, 4, 4)

    first, second, done = await events_of(log, "job-2")
    assert isinstance(first, LogAppended) and first.seq == 1
    assert list(first.lines) == list(chunk)
    assert [(line.n, line.stream, line.text) for line in first.lines] == [
        (5, "stdout", "a"),
        (6, "stdout", "b"),
        (7, "stderr", "c"),
    ]
    assert isinstance(second, LogAppended) and second.lines == [
        LogLine(n=8, at=AT, stream="system", text="d")
    ]
    assert isinstance(done, Completed) and done.seq == 3 and done.lines == 4


async def test_each_writer_counts_its_own_seq(log: EmbeddedLog) -> None:
    first = EventNotifier(log, TOPICS.events, "job-3", "attempt-1")
    keeper = EventNotifier(log, TOPICS.events, "job-3", "lease-keeper")
    await first.heartbeat(1.0, "w")
    await first.status_changed(Status.STARTED, Status.WAITING)
    await keeper.status_changed(Status.FAILED, Status.STARTED, reason="lost")
    events = await events_of(log, "job-3")
    assert [(type(e), e.writer, e.seq) for e in events] == [
        (Heartbeat, "attempt-1", 1),
        (StatusChanged, "attempt-1", 2),
        (StatusChanged, "lease-keeper", 1),
    ]


async def test_each_section_mark_becomes_its_event_with_every_field(log: EmbeddedLog) -> None:
    notifier = EventNotifier(log, TOPICS.events, "job-3", "attempt-c")
    marks = [
        StageStart(0, "build", 1),
        StepStart(0, 0, "command", "make", 2),
        StepEnd(0, 0, "FAILED", 2, 5, 0.25),
        StageEnd(0, "build", "FAILED", 5, 0.5),
    ]
    for mark in marks:
        await notifier.section(mark)
    events = await events_of(log, "job-3")
    assert [type(e) for e in events] == [StageStarted, StepStarted, StepFinished, StageFinished]
    for mark, event in zip(marks, events, strict=True):
        # Every field of the mark reaches the event, and the event has no other field
        # than the mark's and the envelope's.
        assert event.model_dump(include=set(asdict(mark))) == asdict(mark)
        envelope = set(EventBase.model_fields)
        assert set(type(event).model_fields) - envelope == set(asdict(mark))
    assert [e.seq for e in events] == [1, 2, 3, 4]
