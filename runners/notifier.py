"""The Notifier: the only way a Runner reports what happens.

A Runner never writes to a database or a log itself. The process that creates a Runner
hands it a Notifier (`dispatcher.notifier.EventNotifier` turns each call into an event);
the first three hook names are Cyclid's. The fourth, `section`, brackets each stage run
and step with the log's line numbers, so whoever reads the events can tell which lines
each wrote: the runner sends every line numbered before a mark to `log_write` before it
calls `section`. A mark's fields are those of the event it becomes (StageStarted,
StageFinished, StepStarted, StepFinished), less the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jobstream.events.models import LogChunk, Outcome, Status

__all__ = ["Notifier", "Section", "StageEnd", "StageStart", "StepEnd", "StepStart"]


@dataclass(frozen=True, slots=True)
class StageStart:
    """Stage run `stage` (counted from 0 in the job) of the stage `name` begins; its first
    line will be number `first_line`."""

    stage: int
    name: str
    first_line: int


@dataclass(frozen=True, slots=True)
class StageEnd:
    """Stage run `stage` ended; `last_line` is the last line written so far."""

    stage: int
    name: str
    status: Outcome
    last_line: int
    duration_s: float


@dataclass(frozen=True, slots=True)
class StepStart:
    """Step `step` (its position in the stage, from 0) of stage run `stage` begins."""

    stage: int
    step: int
    action: str
    title: str
    first_line: int


@dataclass(frozen=True, slots=True)
class StepEnd:
    """The step ended; `exit_code` is its last process's (None when there is none)."""

    stage: int
    step: int
    status: Outcome
    exit_code: int | None
    last_line: int
    duration_s: float


Section = StageStart | StageEnd | StepStart | StepEnd
"""Where a stage run or a step begins or ends: what `Notifier.section` is given."""


class Notifier(Protocol):
    async def status_changed(
        self,
        status: Status,
        previous: Status | None,
        *,
        stage: str | None = None,
        reason: str | None = None,
    ) -> None:
        """The job moved from `previous` to `status`."""

    async def log_write(self, chunk: LogChunk) -> None:
        """A chunk of consecutive, already masked log lines (read it as a sequence of
        `LogLine`s, or through `rows`, `pairs` or `texts` to build none)."""

    async def completion(
        self, success: bool, status: Status, lines: int, bytes: int, exit_status: int | None = None
    ) -> None:
        """The job ended; sent after the last `log_write`. `bytes` counts UTF-8 text bytes;
        `exit_status` is the exit code of the step whose failure failed the job, if one did."""

    async def section(self, mark: Section) -> None:
        """A stage run or a step begins or ends (`mark` says which, and its facts)."""
