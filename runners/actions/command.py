"""`command`: run `cmd` (and `args`) through the shell; success is exit code 0."""

from __future__ import annotations

from jobstream.events.documents.models import CommandStep
from jobstream.runners.actions.base import Action, ActionJob

__all__ = ["Command"]


class Command(Action[CommandStep]):
    step = CommandStep

    async def run(self, step: CommandStep, job: ActionJob) -> str | None:
        return await job.run_process(step)
