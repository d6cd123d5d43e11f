"""`RecordingNotifier`: a complete in-memory Notifier that keeps every call, for tests.

Not a mock: it implements the protocol and records what a consumer would have received,
with the time of each call, so tests can check ordering and latency without sleeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from jobstream.events.models import LogChunk, LogLine, Outcome, Status, Stream

__all__ = ["Completion", "RecordingNotifier", "SectionCall", "StatusCall"]


@dataclass(frozen=True, slots=True)
class StatusCall:
    status: Status
    previous: Status | None
    stage: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Completion:
    success: bool
    status: Status
    lines: int
    bytes: int


@dataclass(frozen=True, slots=True)
class SectionCall:
    """A stage or step hook: `hook` is its name, `args` what it was given by name."""

    hook: str
    args: dict[str, object]


@dataclass
class RecordingNotifier:
    statuses: list[StatusCall] = field(default_factory=list)
    chunks: list[list[LogLine]] = field(default_factory=list)
    # time.time() of each log_write, parallel to `chunks`, to compare with line stamps.
    chunk_times: list[float] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    sections: list[SectionCall] = field(default_factory=list)
    # The name of every call in order: "status_changed", "log_write", "completion",
    # "stage_started", ...
    calls: list[str] = field(default_factory=list)

    async def status_changed(
        self,
        status: Status,
        previous: Status | None,
        *,
        stage: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.calls.append("status_changed")
        self.statuses.append(StatusCall(status, previous, stage, reason))

    async def log_write(self, chunk: LogChunk) -> None:
        self.calls.append("log_write")
        self.chunk_times.append(time.time())
        self.chunks.append(list(chunk))

    async def completion(self, success: bool, status: Status, lines: int, bytes: int) -> None:
        self.calls.append("completion")
        self.completions.append(Completion(success, status, lines, bytes))

    async def stage_started(self, stage: int, name: str, first_line: int) -> None:
        self._section("stage_started", stage=stage, name=name, first_line=first_line)

    async def stage_finished(
        self, stage: int, name: str, status: Outcome, last_line: int, duration_s: float
    ) -> None:
        self._section(
            "stage_finished",
            stage=stage,
            name=name,
            status=status,
            last_line=last_line,
            duration_s=duration_s,
        )

    async def step_started(
        self, stage: int, step: int, action: str, title: str, first_line: int
    ) -> None:
        self._section(
            "step_started",
            stage=stage,
            step=step,
            action=action,
            title=title,
            first_line=first_line,
        )

    async def step_finished(
        self,
        stage: int,
        step: int,
        status: Outcome,
        exit_code: int | None,
        last_line: int,
        duration_s: float,
    ) -> None:
        self._section(
            "step_finished",
            stage=stage,
            step=step,
            status=status,
            exit_code=exit_code,
            last_line=last_line,
            duration_s=duration_s,
        )

    def _section(self, hook: str, **args: object) -> None:
        self.calls.append(hook)
        self.sections.append(SectionCall(hook, args))

    @property
    def lines(self) -> list[LogLine]:
        return [line for chunk in self.chunks for line in chunk]

    def texts(self, stream: Stream | None = None) -> list[str]:
        return [line.text for line in self.lines if stream is None or line.stream == stream]

    @property
    def status_names(self) -> list[str]:
        return [call.status.name for call in self.statuses]
