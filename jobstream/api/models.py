"""Request and response bodies of the HTTP API; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from jobstream.events.documents.validation import Problem
from jobstream.events.models import StatusName, Stream
from jobstream.projections.records import JobRecord, LogLineRow, Stats
from jobstream.service.base import DeadLetterEntry, JobSteps, StageRun, StepRun

__all__ = [
    "CancelResult",
    "DeadLetterEntry",
    "DeadLetters",
    "ErrorBody",
    "Health",
    "Job",
    "JobCreated",
    "JobPage",
    "JobStatus",
    "JobSteps",
    "LogLine",
    "LogMatches",
    "LogPage",
    "RetryResult",
    "StageRun",
    "Stats",
    "StepRun",
    "StreamEnd",
    "WhoAmI",
]


class ErrorBody(BaseModel):
    """Every error: `code` is stable (clients branch on it), `message` is for people."""

    code: str = Field(examples=["job_not_found"])
    message: str
    problems: list[Problem] | None = Field(
        None, description="every problem of a rejected job document, with its path"
    )


class Job(JobRecord):
    """A job record as the views hold it."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        return self.duration

    @classmethod
    def of(cls, record: JobRecord) -> Job:
        return cls.model_validate(record, from_attributes=True)


class JobCreated(BaseModel):
    job_id: str
    warnings: list[Problem] = Field(default_factory=list)


class JobPage(BaseModel):
    """One page of jobs, newest submitted first."""

    jobs: list[Job]
    total: int = Field(description="jobs matching the filters, on every page together")
    limit: int
    offset: int | None = Field(None, description="position of the first job (offset paging)")
    next_cursor: str | None = Field(
        None, description="pass as `cursor` for the next page; null on the last page"
    )


class JobStatus(BaseModel):
    job_id: str
    status: StatusName
    completed: bool
    success: bool | None = None
    stage: str | None = None
    reason: str | None = None


class LogLine(BaseModel):
    """One log line; also the `data` of each SSE `line` event."""

    n: int
    at: datetime
    stream: Stream
    text: str

    @classmethod
    def of(cls, row: LogLineRow) -> LogLine:
        return cls(n=row.n, at=row.at, stream=row.stream, text=row.text)  # type: ignore[arg-type]


class LogPage(BaseModel):
    job_id: str
    lines: list[LogLine]
    next: int = Field(description="the line number to ask for next")
    completed: bool = Field(description="the job has ended: no line will be added")


class LogMatches(BaseModel):
    """The lines of a log containing a text, by number."""

    job_id: str
    q: str
    lines: list[int] = Field(description="matching line numbers, ascending")
    next: int | None = Field(
        None, description="search again `from` here for more matches; null when no more"
    )


class StreamEnd(BaseModel):
    """`data` of the SSE `end` event, sent once the job ended and every line was sent."""

    job_id: str
    status: StatusName
    lines: int


class RetryResult(BaseModel):
    job_id: str = Field(description="the new job")
    retry_of: str = Field(description="the job it retries")


class CancelResult(BaseModel):
    job_id: str
    requested: bool = Field(description="false when the job had already ended")
    status: StatusName


class WhoAmI(BaseModel):
    """What the token sent may do."""

    auth: bool = Field(description="whether this server asks for tokens")
    scopes: list[Literal["read", "write"]] = Field(
        description="what the token sent may do: both while auth is off; none for a "
        "missing, unknown or revoked token"
    )


class Health(BaseModel):
    ok: bool
    log_reachable: bool
    log_error: str | None = None
    projection_lag: int | None = Field(
        None, description="events in the log not yet applied to the views"
    )
    applied: int = Field(description="events applied by this process since it started")


class DeadLetters(BaseModel):
    """What the views and the callbacks set aside, oldest first: positions and reasons
    only, never a record's content."""

    dead_letters: list[DeadLetterEntry]
