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
from jobstream.dispatcher.submit import read_submission, retry_submission, submit
from jobstream.events.documents.models import LOST, retry_limit
from jobstream.events.documents.secrets import SecretBox, retry_job_id
from jobstream.events.log.aio import pause
from jobstream.events.log.base import EventLog
from jobstream.events.models import JobSubmitted, Status, now
from jobstream.events.names import Topics

__all__ = ["KEEPER", "FailedJob", "LeaseKeeper", "LostJob"]

log = logging.getLogger(__name__)

KEEPER = "lease-keeper"


class FailedJob(Protocol):
    """A job as the views hold it, enough to submit its next attempt."""

    job_id: str
    document: dict[str, Any] | None
    attempt: int
    exit_status: int | None
    submitted_partition: int | None
    submitted_offset: int | None


class LostJob(FailedJob, Protocol):
    status: Status
    worker: str | None
    heartbeat_at: datetime | None


class LeaseKeeper:
    """expired: returns the jobs whose lease ran out before the given time; failed: the
    jobs whose automatic retry is due and not submitted yet (the views'
    `queries.failed_unretried`); secrets: the installation's keys, to seal a retry's
    secrets to its own id; settled, if given: True once the views it reads hold every
    event appended before it was called (False: they could not catch up in time, and the
    sweep judges nothing)."""

    def __init__(
        self,
        log: EventLog,
        topics: Topics,
        expired: Callable[[datetime], Awaitable[list[LostJob]]],
        *,
        failed: Callable[[], Awaitable[list[FailedJob]]] | None = None,
        secrets: Callable[[], SecretBox] | None = None,
        interval: float = 1.0,
        settled: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.log = log
        self.topics = topics
        self.expired = expired
        self.failed = failed
        self.secrets = secrets
        self.interval = interval
        # Failed jobs this keeper retried that the views may not show retried yet.
        self._retried: set[str] = set()
        self.settled = settled

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
                await self.retry_failed()
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
            if retry := await self._retry(job, LOST):
                await submit(self.log, self.topics, retry)
                reason += f"; retried as job {retry.job_id} (attempt {retry.attempt})"
            notifier = EventNotifier(self.log, self.topics.events, job.job_id, KEEPER)
            await notifier.status_changed(Status.FAILED, job.status, reason=reason)
            await notifier.completion(False, Status.FAILED, 0, 0)
            log.warning(
                "job %s: %s",
                job.job_id,
                reason,
                extra={"job_id": job.job_id, "retried_as": retry.job_id if retry else None},
            )
            ended.append(job.job_id)
        return ended

    async def retry_failed(self) -> list[str]:
        """Submit the next attempt of every failed job whose document's `retry.automatic`
        matches its exit status and allows another; returns the new jobs' ids."""
        if self.failed is None:
            return []
        jobs = await self.failed()
        self._retried &= {job.job_id for job in jobs}
        submitted = []
        for job in jobs:
            if job.job_id in self._retried or job.exit_status is None:
                continue
            retry = await self._retry(job, job.exit_status)
            self._retried.add(job.job_id)
            if retry is None:
                continue
            await submit(self.log, self.topics, retry)
            log.warning(
                "job %s failed with exit status %d: retried as job %s (attempt %d)",
                job.job_id,
                job.exit_status,
                retry.job_id,
                retry.attempt,
                extra={
                    "job_id": job.job_id,
                    "exit_status": job.exit_status,
                    "retried_as": retry.job_id,
                    "attempt": retry.attempt,
                },
            )
            submitted.append(retry.job_id)
        return submitted

    async def _retry(self, job: FailedJob, exit_status: int) -> JobSubmitted | None:
        """The next attempt of a job that failed with `exit_status` (LOST: its worker was
        lost), if its document's `retry` allows one more; its own JobSubmitted is read from
        the log.

        Its id derives from the job's, so a keeper that ends the same job twice submits
        the same retry, which projections record once."""
        if job.attempt > retry_limit(job.document, exit_status):
            return None
        if job.submitted_partition is None or job.submitted_offset is None:
            return None  # views built before positions were kept: `jobstream replay`
        original = await read_submission(
            self.log, self.topics, job.job_id, job.submitted_partition, job.submitted_offset
        )
        return retry_submission(
            original,
            self.secrets() if self.secrets is not None else None,
            job_id=retry_job_id(job.job_id),
            writer=KEEPER,
        )
