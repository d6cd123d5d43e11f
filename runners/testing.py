"""`RecordingNotifier`: a complete in-memory Notifier that keeps every call, for tests.

Not a mock: it implements the protocol and records what a consumer would have received,
with the time of each call, so tests can check ordering and latency without sleeping.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from jobstream.events.models import LogChunk, LogLine, Status, Stream
from jobstream.runners.notifier import Section, StageEnd, StageStart, StepEnd, StepStart

__all__ = ["Completion", "RecordingNotifier", "SectionCall", "StatusCall"]

_HOOKS: dict[type[Section], str] = {
    StageStart: "stage_started",
    StageEnd: "stage_finished",
    StepStart: "step_started",
    StepEnd: "step_finished",
}


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
    """A section mark: `hook` names its kind (`stage_started`, `stage_finished`,
    `step_started`, `step_finished`), `args` are its fields by name."""

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

    async def completion(
        self, success: bool, status: Status, lines: int, bytes: int, exit_status: int | None = None
    ) -> None:
        self.calls.append("completion")
        self.completions.append(Completion(success, status, lines, bytes))

    async def section(self, mark: Section) -> None:
        hook = _HOOKS[type(mark)]
        self.calls.append(hook)
        self.sections.append(SectionCall(hook, asdict(mark)))

    @property
    def lines(self) -> list[LogLine]:
        return [line for chunk in self.chunks for line in chunk]

    def texts(self, stream: Stream | None = None) -> list[str]:
        return [line.text for line in self.lines if stream is None or line.stream == stream]

    @property
    def status_names(self) -> list[str]:
        return [call.status.name for call in self.statuses]
