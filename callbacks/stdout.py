"""The `stdout` callback: one line per event, for trying jobstream out."""

from __future__ import annotations

import sys
from typing import TextIO

from jobstream.callbacks.base import Callback, JobInfo
from jobstream.events.models import (
    CancelRequested,
    Completed,
    Event,
    Heartbeat,
    JobSubmitted,
    LogAppended,
    StageFinished,
    StageStarted,
    StatusChanged,
    StepFinished,
    StepStarted,
)

__all__ = ["StdoutCallback", "describe"]


def describe(job: JobInfo, event: Event) -> str:
    """One line: time, job id and name, event type, and what the event says."""
    match event:
        case JobSubmitted():
            detail = f"by {event.submitter}"
        case StatusChanged():
            detail = event.status.name
            if event.stage:
                detail += f" stage={event.stage}"
            if event.reason:
                detail += f" reason={event.reason!r}"
        case LogAppended():
            detail = f"lines {event.lines[0].n}-{event.lines[-1].n}"
        case Completed():
            detail = f"{event.status.name} success={event.success} lines={event.lines}"
        case Heartbeat():
            detail = f"worker={event.worker}"
        case CancelRequested():
            detail = f"by {event.requested_by}"
        case StageStarted():
            detail = f"stage {event.stage} {event.name} from line {event.first_line}"
        case StageFinished():
            detail = f"stage {event.stage} {event.name} {event.status} {event.duration_s:.2f}s"
        case StepStarted():
            detail = f"stage {event.stage} step {event.step} {event.action}: {event.title}"
        case StepFinished():
            detail = f"stage {event.stage} step {event.step} {event.status} exit={event.exit_code}"
    name = job.name or "-"
    return f"{event.at:%Y-%m-%dT%H:%M:%S}Z {job.id[:12]} {name} {event.type} {detail}"


class StdoutCallback(Callback):
    """Prints every event to `out` (standard output by default)."""

    name = "stdout"

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    async def on_event(self, job: JobInfo, event: Event) -> None:
        print(describe(job, event), file=self.out or sys.stdout, flush=True)
