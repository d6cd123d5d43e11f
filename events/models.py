"""The events of DESIGN.md: frozen pydantic models and their JSON encoding.

Every event shares the envelope fields (`type`, `event_id`, `job_id`, `writer`, `seq`,
`at`, `v`). `writer` names who appended it (one runner attempt, or the lease keeper that
ended a lost job) and `seq` counts that writer's events for the job from 1 with no gaps,
so a consumer can drop a duplicate delivered by a producer's retry.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter, field_validator

__all__ = [
    "DEFAULT_ORGANIZATION",
    "EVENT_ADAPTER",
    "TERMINAL",
    "CancelRequested",
    "Completed",
    "Event",
    "EventBase",
    "Heartbeat",
    "JobSubmitted",
    "LogAppended",
    "LogLine",
    "Status",
    "StatusChanged",
    "StatusName",
    "Stream",
    "now",
]

SCHEMA_VERSION = 1

# The organisation of a job submitted without one (Cyclid's jobs always had one).
DEFAULT_ORGANIZATION = "default"


class Status(IntEnum):
    """Job statuses with Cyclid's codes; CANCELLED is jobstream's own terminal state."""

    NEW = 0
    WAITING = 1
    STARTED = 2
    FAILING = 3
    SUCCEEDED = 10
    FAILED = 11
    CANCELLED = 12


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})


def _status_from_name(value: Any) -> Any:
    if isinstance(value, str) and not value.isdigit():
        try:
            return Status[value.upper()]
        except KeyError:
            raise ValueError(f"unknown status {value!r}") from None
    return value


# On the wire a status is its name ("STARTED"): readable for any client, stable across codes.
StatusName = Annotated[Status, PlainSerializer(lambda s: s.name, return_type=str)]

Stream = Literal["stdout", "stderr", "system"]


def now() -> datetime:
    return datetime.now(UTC)


class EventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # Declared here so it comes first in the JSON; each event narrows it to its own name.
    type: str
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    job_id: str = Field(min_length=1)
    writer: str = Field(min_length=1)
    seq: int = Field(ge=1)
    at: datetime = Field(default_factory=now)
    v: int = SCHEMA_VERSION


class JobSubmitted(EventBase):
    """A validated job document (secret values encrypted), on the jobs topic."""

    type: Literal["JobSubmitted"] = "JobSubmitted"
    document: dict[str, Any]
    submitter: str = "anonymous"
    # Cyclid's organisation (`%{organization}`); records from before it was kept have none.
    organization: str = DEFAULT_ORGANIZATION
    labels: dict[str, str] = Field(default_factory=dict)
    # "local": run by the process that submitted it (jobstream run); workers leave it alone.
    dispatch: Literal["queue", "local"] = "queue"
    # A retry of a lost attempt is a new job that names the job it retries.
    retry_of: str | None = None
    attempt: int = Field(1, ge=1)


class CancelRequested(EventBase):
    """Someone asked for a job to stop; on the jobs topic, read by whoever runs the job."""

    type: Literal["CancelRequested"] = "CancelRequested"
    requested_by: str = "anonymous"


class StatusChanged(EventBase):
    type: Literal["StatusChanged"] = "StatusChanged"
    status: StatusName
    previous: StatusName | None = None
    stage: str | None = None
    reason: str | None = None

    _names = field_validator("status", "previous", mode="before")(_status_from_name)


class LogLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    n: int = Field(ge=1)
    # Kept as the RFC 3339 text it was written as: projections hand it to DuckDB unparsed.
    at: str
    stream: Stream
    text: str


class LogAppended(EventBase):
    """A chunk of consecutive log lines, cut by size and by time."""

    type: Literal["LogAppended"] = "LogAppended"
    lines: list[LogLine] = Field(min_length=1)


class Heartbeat(EventBase):
    """The runner of a job is alive; its lease runs `lease_seconds` from `at`."""

    type: Literal["Heartbeat"] = "Heartbeat"
    lease_seconds: float = Field(gt=0)
    worker: str


class Completed(EventBase):
    type: Literal["Completed"] = "Completed"
    success: bool
    status: StatusName
    ended_at: datetime = Field(default_factory=now)
    lines: int = Field(ge=0)
    bytes: int = Field(ge=0)

    _names = field_validator("status", mode="before")(_status_from_name)


Event = Annotated[
    JobSubmitted | CancelRequested | StatusChanged | LogAppended | Heartbeat | Completed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
