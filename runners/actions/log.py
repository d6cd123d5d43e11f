"""`log`: write `message` to the job's log; always succeeds."""

from __future__ import annotations

from jobstream.events.documents.models import LogStep
from jobstream.runners.actions.base import Action, ActionJob

__all__ = ["Log"]


class Log(Action[LogStep]):
    step = LogStep

    async def run(self, step: LogStep, job: ActionJob) -> str | None:
        await job.log(job.interpolate(step.message))
        return None
