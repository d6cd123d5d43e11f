"""Cancel requests, as seen by whoever runs jobs.

A CancelRequested event travels on the jobs topic. Every process that runs jobs follows that
topic with its own group-less consumer, so a request reaches the job's runner at once, even
while that runner is too busy to claim new jobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from jobstream.events.codec import decode
from jobstream.events.errors import MalformedEvent
from jobstream.events.log.base import EventLog, Record, Start, TopicPartition
from jobstream.events.models import CancelRequested

__all__ = ["CancelWatcher"]

log = logging.getLogger(__name__)


class CancelWatcher:
    def __init__(self, event_log: EventLog, topic: str) -> None:
        self.event_log = event_log
        self.topic = topic
        self._requested: set[str] = set()
        self._signals: dict[str, asyncio.Event] = {}
        self.ready = asyncio.Event()

    def watch(self, job_id: str) -> asyncio.Event:
        """The event set when `job_id` is asked to stop (already set if it was)."""
        signal = self._signals.setdefault(job_id, asyncio.Event())
        if job_id in self._requested:
            signal.set()
        return signal

    def forget(self, job_id: str) -> None:
        self._signals.pop(job_id, None)
        self._requested.discard(job_id)

    def requested(self, job_id: str) -> bool:
        return job_id in self._requested

    async def run(
        self,
        stop: asyncio.Event,
        *,
        start: Start = "latest",
        positions: Mapping[int, int] | None = None,
    ) -> None:
        """Follow the topic until `stop`; `positions` (partition → offset) overrides `start`,
        so a worker can look at every request made since its group's committed positions."""
        async with self.event_log.consumer([self.topic], start=start) as consumer:
            for partition, offset in (positions or {}).items():
                await consumer.seek(TopicPartition(self.topic, partition), offset)
            self.ready.set()
            while not stop.is_set():
                for record in await consumer.getmany(max_records=1000, timeout=0.2):
                    self._see(record)

    def _see(self, record: Record) -> None:
        # Job documents are most of this topic; skip them without decoding when a header says so.
        if record.headers.get("type", "CancelRequested") != "CancelRequested":
            return
        try:
            event = decode(record.value)
        except MalformedEvent:
            return
        if isinstance(event, CancelRequested):
            log.info("cancel requested for job %s by %s", event.job_id, event.requested_by)
            self._requested.add(event.job_id)
            if signal := self._signals.get(event.job_id):
                signal.set()
