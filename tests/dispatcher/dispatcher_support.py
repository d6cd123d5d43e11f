"""Helpers for the dispatcher tests: job documents, the events a job left in the log, and
the real JobRecord view fed from the log for the lease keeper."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jobstream.dispatcher import submission, submit
from jobstream.events.codec import decode
from jobstream.events.documents.models import JobDocument
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.base import EventLog
from jobstream.events.log.testing import drain
from jobstream.events.models import (
    Completed,
    Event,
    Heartbeat,
    LogAppended,
    Status,
    StatusChanged,
)
from jobstream.events.names import Topics
from jobstream.projections import DuckDBViews, JobRecord, expired_leases, get_job
from jobstream.projections.queries import failed_unretried

TOPICS = Topics()
BOUND = 30  # seconds; no test job comes near it


def job(*commands: str, name: str = "test-job", **extra: Any) -> JobDocument:
    """One stage running `commands` as command steps, in order."""
    steps = [{"action": "command", "cmd": cmd} for cmd in commands]
    return JobDocument.model_validate(
        {
            "name": name,
            "stages": [{"name": "run", "steps": steps}],
            "sequence": [{"stage": "run"}],
            **extra,
        }
    )


async def queue(log: EventLog, box: SecretBox, document: JobDocument) -> str:
    """Submit `document` for a worker; its job id."""
    event = submission(document, box)
    await submit(log, TOPICS, event)
    return event.job_id


async def read_topic(log: EventLog, topic: str) -> list[Event]:
    """Every event on `topic`, in log order per partition (all of it: appends are done)."""
    async with log.consumer([topic], start="earliest") as consumer:
        return [decode(r.value) for r in await drain(consumer, idle=0.05)]


async def events_of(log: EventLog, job_id: str) -> list[Event]:
    """The job's events on job-events, in log order (one job is one partition)."""
    return [e for e in await read_topic(log, TOPICS.events) if e.job_id == job_id]


def statuses(events: list[Event]) -> list[str]:
    return [e.status.name for e in events if isinstance(e, StatusChanged)]


def texts(events: list[Event]) -> list[str]:
    return [line.text for e in events if isinstance(e, LogAppended) for line in e.lines]


def completion(events: list[Event]) -> Completed:
    (done,) = [e for e in events if isinstance(e, Completed)]
    return done


def without_heartbeats(events: list[Event]) -> list[Event]:
    return [e for e in events if not isinstance(e, Heartbeat)]


async def wait_for_status(log: EventLog, job_id: str, status: Status) -> list[Event]:
    """Reads job-events until the job reports `status`; its events so far."""
    async with log.consumer([TOPICS.events], start="earliest") as consumer, asyncio.timeout(BOUND):
        seen: list[Event] = []
        while True:
            for record in await consumer.getmany(timeout=0.1):
                event = decode(record.value)
                if event.job_id == job_id:
                    seen.append(event)
                    if isinstance(event, StatusChanged) and event.status is status:
                        return seen


class Views:
    """The JobRecord view in a DuckDB file, brought up to date from the log on each ask:
    the lease keeper's `expired` as `jobstream serve` gives it, without the host."""

    def __init__(self, log: EventLog, path: Path) -> None:
        self.log = log
        self.views = DuckDBViews.open(path)

    async def catch_up(self) -> None:
        async with self.log.consumer(TOPICS.all, start="earliest") as consumer:
            records = await drain(consumer, idle=0.05)
        # Records already applied are skipped by their offsets.
        await asyncio.to_thread(self.views.apply, records)

    async def expired(self, at: Any) -> list[JobRecord]:
        await self.catch_up()
        return await asyncio.to_thread(expired_leases, self.views.conn, at)

    async def failed(self) -> list[JobRecord]:
        await self.catch_up()
        return await asyncio.to_thread(failed_unretried, self.views.conn)

    async def job(self, job_id: str) -> JobRecord:
        await self.catch_up()
        return await asyncio.to_thread(get_job, self.views.conn, job_id)

    def close(self) -> None:
        self.views.close()
