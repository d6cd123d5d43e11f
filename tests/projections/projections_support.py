"""Events and records for the projection tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobstream.events.codec import encode
from jobstream.events.log.base import Record
from jobstream.events.models import (
    Completed,
    EventBase,
    JobSubmitted,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def submitted(job_id: str, *, name: str = "build", t: float = 0, **labels: str) -> JobSubmitted:
    return JobSubmitted(
        job_id=job_id,
        writer=f"submit-{job_id}",
        seq=1,
        at=at(t),
        document={"name": name, "version": "2.0", "sequence": [{"stage": "s"}]},
        submitter="alice",
        labels=labels,
    )


def run_events(job_id: str, *, writer: str = "w1", lines: int = 3, t: float = 1) -> list:
    """A whole successful run: WAITING, STARTED, one log chunk, SUCCEEDED, Completed."""
    chunk = [
        LogLine(n=i, at=(at(t) + timedelta(seconds=i)).isoformat(), stream="stdout", text=f"l{i}")
        for i in range(1, lines + 1)
    ]
    return [
        StatusChanged(job_id=job_id, writer=writer, seq=1, at=at(t), status=Status.WAITING),
        StatusChanged(job_id=job_id, writer=writer, seq=2, at=at(t + 1), status=Status.STARTED),
        LogAppended(job_id=job_id, writer=writer, seq=3, at=at(t + 2), lines=chunk),
        StatusChanged(job_id=job_id, writer=writer, seq=4, at=at(t + 9), status=Status.SUCCEEDED),
        Completed(
            job_id=job_id,
            writer=writer,
            seq=5,
            at=at(t + 10),
            success=True,
            status=Status.SUCCEEDED,
            ended_at=at(t + 10),
            lines=lines,
            bytes=2 * lines,
        ),
    ]


class Offsets:
    """Hands out consecutive offsets per topic, to make Records without a log."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def record(self, topic: str, value: bytes | EventBase) -> Record:
        offset = self.next.get(topic, 0)
        self.next[topic] = offset + 1
        data = encode(value) if isinstance(value, EventBase) else value
        return Record(topic, 0, offset, None, data, {}, 0)

    def records(self, topic: str, events: list) -> list[Record]:
        return [self.record(topic, e) for e in events]
