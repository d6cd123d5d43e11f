"""Rows of the views as pydantic models: what queries return and what the fold computes.

`JobRecord`, `LogLineRow`, `JobStageRow`, `JobStepRow`, `StageRecord` and `DeadLetter` are
also the tables' definitions:
projections.schema turns each field into a column (its DuckDB type from the field's type,
NOT NULL unless it can be None), so a column is added by adding a field. `Stored` and
`Derived` say what that mapping cannot guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from jobstream.events.dead_letters import DeadLetter
from jobstream.events.models import DEFAULT_ORGANIZATION, Status, StatusName

__all__ = [
    "DeadLetter",
    "Derived",
    "JobRecord",
    "JobStageRow",
    "JobStepRow",
    "LogLineRow",
    "StageRecord",
    "Stats",
    "Stored",
]


@dataclass(frozen=True, slots=True)
class Stored:
    """How a field's column differs from what its Python type maps to."""

    type: str | None = None
    """The DuckDB type, when not the mapped one (INTEGER for a small int, say)."""
    default: str | None = None
    """An SQL default the database fills in: rows are written without the column, and two
    builds of the same log need not agree on it."""


@dataclass(frozen=True, slots=True)
class Derived:
    """A further column holding a function of the field: written with it, never read back."""

    name: str
    type: str
    value: Callable[[Any], Any]


class JobRecord(BaseModel):
    """One row of `job_records`: one job."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    job_id: str
    """The job's id (the log key)."""
    name: str | None = None
    """The document's `name` (None until JobSubmitted is read)."""
    version: str | None = None
    """The document's `version`."""
    status: Annotated[StatusName, Derived("status_code", "INTEGER", int)] = Status.NEW
    """Current status (stored by name: NEW, WAITING, STARTED, FAILING, SUCCEEDED, ...; its
    Cyclid code, 0, 1, 2, 3, 10, 11, 12, is the column `status_code`)."""
    submitted: datetime | None = None
    """When JobSubmitted was written."""
    started: datetime | None = None
    """The `at` of the first StatusChanged to STARTED."""
    ended: datetime | None = None
    """Completed's `ended_at`."""
    success: bool | None = None
    """Completed's `success` (None while running)."""
    stage: str | None = None
    """The stage named by the last StatusChanged that named one."""
    reason: str | None = None
    """The reason given by the last StatusChanged (why it failed or ended)."""
    submitter: str | None = None
    """Who submitted the job."""
    organization: str = DEFAULT_ORGANIZATION
    """Cyclid's organisation of the job (`%{organization}`), from JobSubmitted."""
    labels: dict[str, str] = Field(default_factory=dict)
    """The job's labels."""
    dispatch: str | None = None
    """`queue` (a worker runs it) or `local` (the submitting process runs it)."""
    lines: int = 0
    """Log lines stored in `log_lines` for the job."""
    bytes: int = 0
    """UTF-8 bytes of the text of those lines."""
    last_line: int = 0
    """Highest line number stored; a line at or below it is not stored again."""
    writer: str | None = None
    """The writer (runner attempt or lease keeper) whose events set the status."""
    worker: str | None = None
    """The worker that last sent a Heartbeat."""
    heartbeat_at: datetime | None = None
    """The `at` of the last Heartbeat."""
    lease_expires: datetime | None = None
    """`heartbeat_at` plus its `lease_seconds`."""
    completed: bool = False
    """A Completed was applied: later events change nothing."""
    last_seq: int = 0
    """Highest `seq` applied from `writer`."""
    retry_of: str | None = None
    """The job this one retries (a lost attempt run again), if any."""
    attempt: Annotated[int, Stored("INTEGER")] = 1
    """1 for a submitted job, 2.. for its retries."""
    document: dict[str, Any] | None = None
    """The submitted document, secret values sealed (a JSON column); answers show `***`."""

    @property
    def status_code(self) -> int:
        return int(self.status)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, once both are known."""
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds()


class LogLineRow(BaseModel):
    """One row of `log_lines`: one log line."""

    job_id: str
    n: int
    """Line number, from 1."""
    at: datetime
    """When the runner read it."""
    stream: str
    """stdout, stderr or system."""
    text: str


class JobStageRow(BaseModel):
    """One row of `job_stages`: one stage run of a job (StageStarted, StageFinished)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    job_id: str
    stage: Annotated[int, Stored("INTEGER")]
    """The run's ordinal in the job, from 0: a stage run twice (a handler) has two rows."""
    name: str
    """The stage's name."""
    status: str
    """RUNNING, then SUCCEEDED, FAILED or SKIPPED; FAILED too when the job ended while it
    ran (a lost worker)."""
    started_at: datetime
    """The StageStarted's `at`."""
    finished_at: datetime | None = None
    """The StageFinished's `at` (the job's end, when it ended first)."""
    duration_s: float | None = None
    """Seconds it ran, by the runner's clock."""
    first_line: int
    """The number its first log line gets."""
    last_line: int | None = None
    """The last line written when it finished; below `first_line` when it wrote none."""


class JobStepRow(BaseModel):
    """One row of `job_steps`: one step of a stage run (StepStarted, StepFinished)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    job_id: str
    stage: Annotated[int, Stored("INTEGER")]
    """The stage run it belongs to (`job_stages.stage`)."""
    step: Annotated[int, Stored("INTEGER")]
    """Its position in the stage, from 0."""
    action: str
    """The action that ran it (command, script, log, ...)."""
    title: str
    """Short text naming it (the command, masked; a script's first line; the action)."""
    status: str
    """RUNNING, then SUCCEEDED or FAILED."""
    exit_code: Annotated[int | None, Stored("INTEGER")] = None
    """Its last process's exit status (NULL: none, a timeout or a signal)."""
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    first_line: int
    last_line: int | None = None
    """As in `job_stages`."""


class StageRecord(BaseModel):
    """One row of `stages`: one version of a stored stage (StageDefined)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    name: str
    version: str
    steps: list[dict[str, Any]]
    """The stage's steps, as a job document's stage holds them (a JSON column)."""
    defined: datetime
    """The StageDefined's `at`."""
    writer: str
    """Who defined it."""
    offset: int
    """Its position in the stages topic. Every version of one name is in one partition
    (the topic is keyed by name), so of one name's versions the highest offset is the one
    defined most recently, which a sequence entry without a version resolves to."""


class Stats(BaseModel):
    """Counts by status name, and durations (seconds) of finished jobs that started."""

    total: int
    by_status: dict[str, int]
    finished: int
    mean_duration: float | None
    p50_duration: float | None
