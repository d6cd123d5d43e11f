"""The lease keeper: ends jobs whose runner went silent, through ordinary events.

Runners heartbeat every third of their lease. A job that is still WAITING, STARTED or
FAILING after its lease ran out belongs to a runner that died (kill -9, lost machine); the
keeper appends StatusChanged(FAILED) and Completed for it as writer `lease-keeper`. Two
keepers ending the same job write the same (writer, seq) pairs, which projections drop as
duplicates; a late event from the lost runner changes nothing once Completed is applied.

A sweep judges at a time T taken as it starts. Views that have not applied every event
appended before T would show old heartbeats of live runners, so with `settled` the sweep
first waits until the views hold everything the log held at T (their positions reach the
log's ends taken after T), whatever else is being appended meanwhile; only then is a lease
that ran out before T a lost runner's. A lost job is so ended at most `lease` + `interval`
+ twice the views' lag behind the log after its last heartbeat (its end is appended, then
applied).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from jobstream.dispatcher.notifier import EventNotifier
from jobstream.dispatcher.submit import submit
from jobstream.events.documents.secrets import retry_job_id
from jobstream.events.log.aio import pause
from jobstream.events.log.base import EventLog
from jobstream.events.models import JobSubmitted, Status, now
from jobstream.events.names import Topics

__all__ = ["KEEPER", "LeaseKeeper", "LostJob"]

log = logging.getLogger(__name__)

KEEPER = "lease-keeper"


class LostJob(Protocol):
    job_id: str
    status: Status
    worker: str | None
    heartbeat_at: datetime | None
    document: dict[str, Any] | None
    attempt: int
    submitter: str | None
    labels: dict[str, str]


class LeaseKeeper:
    """expired: returns the jobs whose lease ran out before the given time; settled, if
    given: True once the views it reads hold every event appended before it was called
    (False: they could not catch up in time, and the sweep judges nothing)."""

    def __init__(
        self,
        log: EventLog,
        topics: Topics,
        expired: Callable[[datetime], Awaitable[list[LostJob]]],
        *,
        interval: float = 1.0,
        settled: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.log = log
        self.topics = topics
        self.expired = expired
        self.interval = interval
        self.settled = settled

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("lease sweep failed; trying again")
            await pause(stop, self.interval)

    async def sweep(self) -> list[str]:
        ended: list[str] = []
        at = now()
        if self.settled is not None and not await self.settled():
            return ended
        for job in await self.expired(at):
            reason = (
                f"worker {job.worker or 'unknown'} lost: no heartbeat since "
                f"{job.heartbeat_at.isoformat() if job.heartbeat_at else 'it started'}"
            )
            if retry := self._retry(job):
                await submit(self.log, self.topics, retry)
                reason += f"; retried as job {retry.job_id} (attempt {retry.attempt})"
            notifier = EventNotifier(self.log, self.topics.events, job.job_id, KEEPER)
            await notifier.status_changed(Status.FAILED, job.status, reason=reason)
            await notifier.completion(False, Status.FAILED, 0, 0)
            log.warning("job %s: %s", job.job_id, reason)
            ended.append(job.job_id)
        return ended

    @staticmethod
    def _retry(job: LostJob) -> JobSubmitted | None:
        """The next attempt of a lost job whose document asks for retries (`retry: N`).

        Its id derives from the lost job's, so a keeper that ends the same job twice submits
        the same retry, which projections record once."""
        if not job.document:
            return None
        # Its name, version and retry count are read from the document, as decoding does.
        again = JobSubmitted(
            job_id=retry_job_id(job.job_id),
            writer=KEEPER,
            seq=1,
            document=job.document,
            submitter=job.submitter or "anonymous",
            labels=job.labels,
            retry_of=job.job_id,
            attempt=job.attempt + 1,
        )
        return again if job.attempt <= again.retry else None
