"""The benchmark workload of the issues: 2,000 jobs x 55 events.

Each job: 1 JobSubmitted (jobs topic), 3 StatusChanged, 50 LogAppended of 20 lines of
~80 bytes, 1 Completed (job-events topic). Shared by every benchmark so figures compare.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from jobstream.events.log.base import Message, to_message
from jobstream.events.models import (
    Completed,
    JobSubmitted,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)
from jobstream.events.names import Topics

JOBS = 2_000
EVENTS_PER_JOB = 55
CHUNKS_PER_JOB = 50
LINES_PER_CHUNK = 20

DOCUMENT = {
    "name": "bench",
    "sequence": [{"stage": "build"}],
    "stages": [{"name": "build", "steps": [{"action": "command", "cmd": "make test"}]}],
}
_AT = "2026-11-28T00:00:00.000000Z"


def job_events(job_id: str) -> Iterator[tuple[str, Message]]:
    """The 55 events of one job, as (topic kind, message)."""
    writer = "attempt-bench"
    yield "jobs", to_message(JobSubmitted(job_id=job_id, writer="submit", seq=1, document=DOCUMENT))
    seq = 0

    def next_seq() -> int:
        nonlocal seq
        seq += 1
        return seq

    for status, previous in (
        (Status.WAITING, Status.NEW),
        (Status.STARTED, Status.WAITING),
        (Status.SUCCEEDED, Status.STARTED),
    ):
        if status is Status.SUCCEEDED:
            for chunk in range(CHUNKS_PER_JOB):
                first = chunk * LINES_PER_CHUNK + 1
                lines = [
                    LogLine(n=n, at=_AT, stream="stdout", text=f"line {n:07d} " + "x" * 68)
                    for n in range(first, first + LINES_PER_CHUNK)
                ]
                event = LogAppended(job_id=job_id, writer=writer, seq=next_seq(), lines=lines)
                yield "events", to_message(event)
        event = StatusChanged(
            job_id=job_id, writer=writer, seq=next_seq(), status=status, previous=previous
        )
        yield "events", to_message(event)
    total = CHUNKS_PER_JOB * LINES_PER_CHUNK
    done = Completed(
        job_id=job_id,
        writer=writer,
        seq=next_seq(),
        success=True,
        status=Status.SUCCEEDED,
        lines=total,
        bytes=total * 81,
    )
    yield "events", to_message(done)


def workload(topics: Topics, jobs: int = JOBS) -> Iterator[tuple[str, list[Message]]]:
    """Batches of (topic, messages), one job at a time, ready for `EventLog.append`."""
    for _ in range(jobs):
        by_topic: dict[str, list[Message]] = {topics.jobs: [], topics.events: []}
        for kind, message in job_events(uuid.uuid4().hex):
            by_topic[topics.jobs if kind == "jobs" else topics.events].append(message)
        yield from by_topic.items()
