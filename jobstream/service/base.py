"""JobsService: the one interface to jobs that the command line and the HTTP API call.

Like dramatiq's `Broker`, a plain base class of documented methods raising
`NotImplementedError`; what every implementation shares (waiting for a job to end by
asking for its record) lives here. `LocalJobs` works on the log and the views of this
process; `RemoteJobs` asks the HTTP API of the process that holds them. Both answer with
the same models and fail with the same exceptions (JobNotFound, AmbiguousJobId,
DocumentError, InvalidCursor), so a caller cannot tell which one it has.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from jobstream.events.errors import JobNotFound, JobstreamError
from jobstream.events.values import Status, StatusName
from jobstream.projections.records import JobRecord, LogLineRow, Stats

if TYPE_CHECKING:
    # Not at run time: the command line's remote path must not load yaml and cryptography.
    from jobstream.events.documents.validation import ValidatedDocument
    from jobstream.events.log.base import Record

__all__ = [
    "CancelOutcome",
    "DeadLetterEntry",
    "InvalidCursor",
    "JobList",
    "JobSteps",
    "JobsService",
    "LogPage",
    "RetryOutcome",
    "StageRun",
    "StepRun",
]

# How often `wait` asks for the record of a job that has not ended yet.
WAIT_POLL = 0.05


class InvalidCursor(JobstreamError):
    """A `cursor` that no `list` handed out (the API answers 400 invalid_cursor)."""


class JobList(BaseModel):
    """One page of jobs, newest submitted first."""

    jobs: list[JobRecord]
    total: int
    """Jobs matching the filters, on every page together."""
    limit: int
    offset: int | None
    """Position of the first job; None when the page was asked for by cursor."""
    next_cursor: str | None
    """Pass as `cursor` for the next page; None on the last page."""


class LogPage(BaseModel):
    job_id: str
    lines: list[LogLineRow]
    next: int
    """The line number to ask for next."""
    completed: bool
    """The job has ended: no line will be added."""


class CancelOutcome(BaseModel):
    job_id: str
    requested: bool
    """False when the job had already ended."""
    status: StatusName


class StepRun(BaseModel):
    """One step of a stage run."""

    index: int = Field(description="the step's position in its stage, from 0")
    action: str
    title: str = Field(
        description="the command (secrets masked), a script's first line, or the action's name"
    )
    status: Literal["RUNNING", "SUCCEEDED", "FAILED"]
    exit_code: int | None = Field(None, description="its last process's exit status")
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    first_line: int | None = Field(
        None, description="the log line number of the first line it wrote (null: none yet)"
    )
    last_line: int | None = Field(
        None, description="of the last line it wrote (null: none, or still running)"
    )


class StageRun(BaseModel):
    """One run of a stage: a stage run twice (a handler) appears twice."""

    index: int = Field(description="the run's ordinal in the job, from 0")
    name: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "SKIPPED"]
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    first_line: int | None = None
    last_line: int | None = None
    steps: list[StepRun]


class JobSteps(BaseModel):
    """A job's stage runs and their steps, in the order they ran; none for a job whose log
    has no stage events (written before jobstream recorded them)."""

    job_id: str
    stages: list[StageRun]


class DeadLetterEntry(BaseModel):
    """A record a consumer set aside: where it sits and why, never its content (it may
    hold a secret value)."""

    consumer: str = Field(description="`views`, or the callback's name")
    topic: str
    partition: int
    offset: int
    reason: str
    time: datetime = Field(description="when the consumer set it aside")


class RetryOutcome(BaseModel):
    job_id: str
    """The new job."""
    retry_of: str
    """The job it retries."""


class JobsService:
    """Submit, find, read and cancel jobs. `job` arguments take a job id or a prefix that
    matches exactly one job (JobNotFound / AmbiguousJobId otherwise)."""

    async def __aenter__(self) -> JobsService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release what the service holds (a connection); the default holds nothing."""

    async def submit(
        self,
        validated: ValidatedDocument,
        labels: Mapping[str, str] | None = None,
        *,
        organization: str | None = None,
    ) -> str:
        """Queue a validated document for a worker, with `labels` added to the document's
        own; returns the new job's id. DocumentError if the service rejects it.

        The job's organisation is `organization`, else the document's own, else the
        installation's setting."""
        raise NotImplementedError

    async def list(
        self,
        *,
        status: Sequence[Status] | None = None,
        name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        labels: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
    ) -> JobList:
        """Jobs matching every filter given, newest submitted first.

        `name` is a glob when it holds `*`, `?` or `[`, else a substring; `since`/`until`
        (time-zone aware) bound the submission time, inclusive and exclusive; `labels`
        must all match. A page is `limit` jobs from `offset`, or after `cursor` (the
        previous page's `next_cursor`, which stays stable while new jobs arrive; it takes
        the place of `offset`). InvalidCursor for a cursor no page handed out."""
        raise NotImplementedError

    async def get(self, job: str) -> JobRecord:
        """The record of one job."""
        raise NotImplementedError

    async def log(
        self,
        job: str,
        start: int = 1,
        limit: int = 1000,
        *,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> LogPage:
        """Lines `start` .. `start + limit - 1` of a job's log (fewer at its end); never
        more, so reading a long log is asking again from `next`.

        `since` (time-zone aware) moves the first line to the first written at or after
        it, and `tail` to the first of the last `tail` lines (after `since`, if given);
        when no line qualifies the page is empty and `next` is past the last line, where
        following the log gives only new lines. Later pages need neither: ask from `next`."""
        raise NotImplementedError

    def follow(self, job: str, start: int = 1) -> AsyncIterator[LogLineRow]:
        """Every line from `start` on, as it is written; ends once the job has ended and
        its last line was given. JobNotFound (at the first step) for an unknown job."""
        raise NotImplementedError

    async def cancel(self, job: str) -> CancelOutcome:
        """Ask the job's runner to stop it (it then ends CANCELLED); a job that has ended
        already is left as it is (`requested` False)."""
        raise NotImplementedError

    async def retry(self, job: str) -> RetryOutcome:
        """Submit the ended job's document again as a new job (attempt one more) whose
        `retry_of` names it; JobNotEnded while it has not ended."""
        raise NotImplementedError

    async def stats(self) -> Stats:
        """Jobs by status, and durations of the finished ones."""
        raise NotImplementedError

    async def steps(self, job: str) -> JobSteps:
        """The job's stage runs and steps, with their line ranges in its log."""
        raise NotImplementedError

    async def dead_letters(self) -> list[DeadLetterEntry]:
        """What the views and every callback of this installation set aside, oldest
        first."""
        raise NotImplementedError

    async def wait(self, job: str, *, timeout: float, after: Record | None = None) -> JobRecord:
        """The job's record once it has ended and every line of it is readable; a job the
        views do not show yet is waited for too. TimeoutError after `timeout` seconds.

        `after` is the last record the caller appended for the job itself (`run` knows
        its Completed): a service that holds the views waits for exactly that one to be
        applied; the base asks for the record until it says completed."""
        import asyncio  # here: a query through the API runs without an event loop

        try:
            async with asyncio.timeout(timeout):
                while True:
                    with contextlib.suppress(JobNotFound):
                        record = await self.get(job)
                        if record.completed:
                            return record
                    await asyncio.sleep(WAIT_POLL)
        except TimeoutError:
            raise self._late(job) from None

    @staticmethod
    def _late(job: str) -> TimeoutError:
        return TimeoutError(f"the views did not show job {job} ended in time")
