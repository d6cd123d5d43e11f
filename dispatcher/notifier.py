"""EventNotifier: the Notifier that turns a runner's calls into events on the log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict

from jobstream.events.codec import encode_log_appended
from jobstream.events.log.base import EventLog, Message, Record, to_message
from jobstream.events.models import (
    Completed,
    EventBase,
    Heartbeat,
    LogChunk,
    StageFinished,
    StageStarted,
    Status,
    StatusChanged,
    StepFinished,
    StepStarted,
)
from jobstream.runners.notifier import (
    Notifier,
    Section,
    StageEnd,
    StageStart,
    StepEnd,
    StepStart,
)

__all__ = ["EventNotifier", "TeeNotifier"]


class EventNotifier:
    """Appends one job attempt's events to the job-events topic.

    `writer` names the attempt; `seq` counts its events from 1. Appends are serialised so
    seq order is log order: a projection keeps the highest seq it applied per writer, so an
    event overtaken by a later one would be dropped as a duplicate.
    """

    def __init__(self, log: EventLog, topic: str, job_id: str, writer: str) -> None:
        self.log = log
        self.topic = topic
        self.job_id = job_id
        self.writer = writer
        self.last: Record | None = None
        self._seq = 0
        self._lock = asyncio.Lock()

    async def emit(self, build: type[EventBase], **fields: object) -> Record:
        return await self._append(
            lambda seq: to_message(build(job_id=self.job_id, writer=self.writer, seq=seq, **fields))
        )

    async def _append(self, message: Callable[[int], Message]) -> Record:
        """Append the message built for the next seq, under the lock that keeps seq order."""
        async with self._lock:
            self._seq += 1
            (self.last,) = await self.log.append(self.topic, [message(self._seq)])
            return self.last

    async def status_changed(
        self,
        status: Status,
        previous: Status | None,
        *,
        stage: str | None = None,
        reason: str | None = None,
    ) -> None:
        await self.emit(StatusChanged, status=status, previous=previous, stage=stage, reason=reason)

    async def log_write(self, chunk: LogChunk) -> None:
        # The chunk's lines go to JSON as plain rows: no LogLine is ever built.
        rows = chunk.rows()
        await self._append(
            lambda seq: Message(
                encode_log_appended(self.job_id, self.writer, seq, rows),
                key=self.job_id,
                headers={"type": "LogAppended"},
            )
        )

    async def completion(
        self, success: bool, status: Status, lines: int, bytes: int, exit_status: int | None = None
    ) -> None:
        await self.emit(
            Completed,
            success=success,
            status=status,
            lines=lines,
            bytes=bytes,
            exit_status=exit_status,
        )

    async def heartbeat(self, lease_seconds: float, worker: str) -> None:
        await self.emit(Heartbeat, lease_seconds=lease_seconds, worker=worker)

    async def section(self, mark: Section) -> None:
        await self.emit(_SECTION_EVENTS[type(mark)], **asdict(mark))


_SECTION_EVENTS: dict[type[Section], type[EventBase]] = {
    StageStart: StageStarted,
    StageEnd: StageFinished,
    StepStart: StepStarted,
    StepEnd: StepFinished,
}
"""The event each section mark becomes: its fields are the event's, less the envelope."""


class TeeNotifier:
    """Hands every call to several notifiers in turn (the log first, then observers)."""

    def __init__(self, *notifiers: Notifier) -> None:
        self.notifiers = notifiers

    async def status_changed(
        self,
        status: Status,
        previous: Status | None,
        *,
        stage: str | None = None,
        reason: str | None = None,
    ) -> None:
        for n in self.notifiers:
            await n.status_changed(status, previous, stage=stage, reason=reason)

    async def log_write(self, chunk: LogChunk) -> None:
        for n in self.notifiers:
            await n.log_write(chunk)

    async def completion(
        self, success: bool, status: Status, lines: int, bytes: int, exit_status: int | None = None
    ) -> None:
        for n in self.notifiers:
            await n.completion(success, status, lines, bytes, exit_status)

    async def section(self, mark: Section) -> None:
        for n in self.notifiers:
            await n.section(mark)
