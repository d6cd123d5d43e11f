"""The lease keeper: ends jobs whose runner went silent, through ordinary events.

Runners heartbeat every third of their lease. A job that is still WAITING, STARTED or
FAILING after its lease ran out belongs to a runner that died (kill -9, lost machine); the
keeper appends StatusChanged(FAILED) and Completed for it as writer `lease-keeper`. Two
keepers ending the same job write the same (writer, seq) pairs, which projections drop as
duplicates; a late event from the lost runner changes nothing once Completed is applied.
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
from jobstream.events.log.lookup import find_submitted
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
    """expired: returns the jobs whose lease ran out before the given time."""

    def __init__(
        self,
        log: EventLog,
        topics: Topics,
        expired: Callable[[datetime], Awaitable[list[LostJob]]],
        *,
        interval: float = 1.0,
    ) -> None:
        self.log = log
        self.topics = topics
        self.expired = expired
        self.interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("lease sweep failed; trying again")
            await pause(stop, self.interval)

    async def sweep(self) -> list[str]:
        ended = []
        for job in await self.expired(now()):
            reason = (
                f"worker {job.worker or 'unknown'} lost: no heartbeat since "
                f"{job.heartbeat_at.isoformat() if job.heartbeat_at else 'it started'}"
            )
            if retry := await self._retry(job):
                await submit(self.log, self.topics, retry)
                reason += f"; retried as job {retry.job_id} (attempt {retry.attempt})"
            notifier = EventNotifier(self.log, self.topics.events, job.job_id, KEEPER)
            await notifier.status_changed(Status.FAILED, job.status, reason=reason)
            await notifier.completion(False, Status.FAILED, 0, 0)
            log.warning("job %s: %s", job.job_id, reason)
            ended.append(job.job_id)
        return ended

    async def _retry(self, job: LostJob) -> JobSubmitted | None:
        """The next attempt of a lost job whose document asks for retries (`retry: N`).

        Its id derives from the lost job's, so a keeper that ends the same job twice submits
        the same retry, which projections record once. Its document is the lost job's as
        submitted, read from the log: the views hold it with its secrets redacted."""
        if not job.document:
            return None
        # Its name, version and retry count are read from the document, as decoding does
        # (the redacted one has the same `retry`).
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
        if job.attempt > again.retry:
            return None
        submitted = await find_submitted(self.log, self.topics.jobs, job.job_id)
        if submitted is None:
            log.warning("job %s: no JobSubmitted on the log, so no retry", job.job_id)
            return None
        return again.model_copy(update={"document": submitted.document})
