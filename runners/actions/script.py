"""`script`: write the script to a file, make it executable and run it."""

from __future__ import annotations

from jobstream.events.documents.models import ScriptStep
from jobstream.runners.actions.base import Action, ActionJob

__all__ = ["Script"]


class Script(Action[ScriptStep]):
    step = ScriptStep

    async def run(self, step: ScriptStep, job: ActionJob) -> str | None:
        return await job.run_process(step)
