"""Rows of the views as pydantic models: what queries return and what the fold computes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from jobstream.events.dead_letters import DeadLetter
from jobstream.events.models import Status, StatusName

__all__ = ["DeadLetter", "JobRecord", "LogLineRow", "Stats"]


class JobRecord(BaseModel):
    """One row of `job_records` (see projections.schema for every column)."""

    job_id: str
    name: str | None = None
    version: str | None = None
    status: StatusName = Status.NEW
    submitted: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    success: bool | None = None
    stage: str | None = None
    reason: str | None = None
    submitter: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    dispatch: str | None = None
    lines: int = 0
    bytes: int = 0
    last_line: int = 0
    writer: str | None = None
    worker: str | None = None
    heartbeat_at: datetime | None = None
    lease_expires: datetime | None = None
    completed: bool = False
    last_seq: int = 0
    retry_of: str | None = None
    attempt: int = 1
    document: dict[str, Any] | None = None

    @field_validator("document", mode="before")
    @classmethod
    def _document_from_json(cls, value: Any) -> Any:
        # DuckDB hands a JSON column back as text.
        return json.loads(value) if isinstance(value, str) else value

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
    job_id: str
    n: int
    at: datetime
    stream: str
    text: str


class Stats(BaseModel):
    """Counts by status name, and durations (seconds) of finished jobs that started."""

    total: int
    by_status: dict[str, int]
    finished: int
    mean_duration: float | None
    p50_duration: float | None
