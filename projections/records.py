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

from pydantic import BaseModel, Field

from jobstream.events.dead_letters import DeadLetter
from jobstream.events.values import DEFAULT_ORGANIZATION, Status, StatusName

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


# Fields are described by Field(description=...), not attribute docstrings: pydantic reads
# those from this file's source at import (before Python 3.13), which cost every command
# line query about 0.02 s.
class JobRecord(BaseModel):
    """One row of `job_records`: one job."""

    job_id: str = Field(description="The job's id (the log key).")
    name: str | None = Field(
        None, description="The document's `name` (None until JobSubmitted is read)."
    )
    version: str | None = Field(None, description="The document's `version`.")
    status: Annotated[StatusName, Derived("status_code", "INTEGER", int)] = Field(
        Status.NEW,
        description="Current status (stored by name: NEW, WAITING, STARTED, FAILING, SUCCEEDED,"
        " ...; its Cyclid code, 0, 1, 2, 3, 10, 11, 12, is the column "
        "`status_code`).",
    )
    submitted: datetime | None = Field(None, description="When JobSubmitted was written.")
    started: datetime | None = Field(
        None, description="The `at` of the first StatusChanged to STARTED."
    )
    ended: datetime | None = Field(None, description="Completed's `ended_at`.")
    success: bool | None = Field(None, description="Completed's `success` (None while running).")
    stage: str | None = Field(
        None, description="The stage named by the last StatusChanged that named one."
    )
    reason: str | None = Field(
        None, description="The reason given by the last StatusChanged (why it failed or ended)."
    )
    submitter: str | None = Field(None, description="Who submitted the job.")
    organization: str = Field(
        DEFAULT_ORGANIZATION,
        description="Cyclid's organisation of the job (`%{organization}`), from JobSubmitted.",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="The job's labels.")
    dispatch: str | None = Field(
        None, description="`queue` (a worker runs it) or `local` (the submitting process runs it)."
    )
    lines: int = Field(0, description="Log lines stored in `log_lines` for the job.")
    bytes: int = Field(0, description="UTF-8 bytes of the text of those lines.")
    last_line: int = Field(
        0, description="Highest line number stored; a line at or below it is not stored again."
    )
    writer: str | None = Field(
        None, description="The writer (runner attempt or lease keeper) whose events set the status."
    )
    worker: str | None = Field(None, description="The worker that last sent a Heartbeat.")
    heartbeat_at: datetime | None = Field(None, description="The `at` of the last Heartbeat.")
    lease_expires: datetime | None = Field(
        None, description="`heartbeat_at` plus its `lease_seconds`."
    )
    completed: bool = Field(
        False, description="A Completed was applied: later events change nothing."
    )
    last_seq: int = Field(0, description="Highest `seq` applied from `writer`.")
    retry_of: str | None = Field(
        None, description="The job this one retries (a lost or failed attempt run again), if any."
    )
    retried_by: str | None = Field(
        None, description="The newest job that retries this one (the latest submitted), if any."
    )
    retried_at: datetime | None = Field(
        None,
        description="When `retried_by` was submitted: a later retry replaces it, whatever order"
        " the jobs topic's partitions are read in.",
    )
    attempt: Annotated[int, Stored("INTEGER")] = Field(
        1, description="1 for a submitted job, 2.. for its retries."
    )
    exit_status: Annotated[int | None, Stored("INTEGER")] = Field(
        None,
        description="Completed's `exit_status`: the exit code of the step whose failure failed "
        "the job (None when it succeeded, or failed without one: a timeout, a "
        "cancel, a lost worker).",
    )
    retry_due: bool = Field(
        False,
        description="It ended FAILED with an exit status its document's `retry.automatic` rules"
        " retry, with attempts left: the lease keeper submits its retry (unless "
        "`retried_by` is set).",
    )
    submitted_partition: Annotated[int | None, Stored("INTEGER")] = Field(
        None,
        description="Where the job's JobSubmitted sits in the jobs topic (with "
        "`submitted_offset`): a retry reads the document from there, as it was "
        "written.",
    )
    submitted_offset: int | None = None
    document: dict[str, Any] | None = Field(
        None,
        description="The submitted document with its secrets redacted, names and `***` (a JSON "
        "column): the sealed values stay on the log only.",
    )

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

    job_id: str
    stage: Annotated[int, Stored("INTEGER")] = Field(
        description="The run's ordinal in the job, from 0: a stage run twice (a handler) has "
        "two rows."
    )
    name: str = Field(description="The stage's name.")
    status: str = Field(
        description="RUNNING, then SUCCEEDED, FAILED or SKIPPED; FAILED too when the job ended "
        "while it ran (a lost worker)."
    )
    started_at: datetime = Field(description="The StageStarted's `at`.")
    finished_at: datetime | None = Field(
        None, description="The StageFinished's `at` (the job's end, when it ended first)."
    )
    duration_s: float | None = Field(None, description="Seconds it ran, by the runner's clock.")
    first_line: int = Field(description="The number its first log line gets.")
    last_line: int | None = Field(
        None,
        description="The last line written when it finished; below `first_line` when it wrote "
        "none.",
    )


class JobStepRow(BaseModel):
    """One row of `job_steps`: one step of a stage run (StepStarted, StepFinished)."""

    job_id: str
    stage: Annotated[int, Stored("INTEGER")] = Field(
        description="The stage run it belongs to (`job_stages.stage`)."
    )
    step: Annotated[int, Stored("INTEGER")] = Field(
        description="Its position in the stage, from 0."
    )
    action: str = Field(description="The action that ran it (command, script, log, ...).")
    title: str = Field(
        description="Short text naming it (the command, masked; a script's first line; the action)."
    )
    status: str = Field(description="RUNNING, then SUCCEEDED or FAILED.")
    exit_code: Annotated[int | None, Stored("INTEGER")] = Field(
        None, description="Its last process's exit status (NULL: none, a timeout or a signal)."
    )
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    first_line: int
    last_line: int | None = Field(None, description="As in `job_stages`.")


class StageRecord(BaseModel):
    """One row of `stages`: one version of a stored stage (StageDefined)."""

    name: str
    version: str
    steps: list[dict[str, Any]] = Field(
        description="The stage's steps, as a job document's stage holds them (a JSON column)."
    )
    defined: datetime = Field(description="The StageDefined's `at`.")
    writer: str = Field(description="Who defined it.")
    offset: int = Field(
        description="Its position in the stages topic. Every version of one name is in one "
        "partition (the topic is keyed by name), so of one name's versions the "
        "highest offset is the one defined most recently, which a sequence entry "
        "without a version resolves to."
    )


class Stats(BaseModel):
    """Counts by status name, and durations (seconds) of finished jobs that started."""

    total: int
    by_status: dict[str, int]
    finished: int
    mean_duration: float | None
    p50_duration: float | None
