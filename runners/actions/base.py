"""The interface between the runner and an action."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr

from jobstream.events.documents.actions import registered_actions
from jobstream.events.documents.models import ActionStep, CommandStep, ScriptStep
from jobstream.events.errors import JobstreamError

__all__ = ["Action", "ActionJob", "ActionSettings", "get_action", "workspace_path"]


class ActionSettings(BaseModel):
    """The installation's settings that actions use (from `jobstream.settings.Settings`)."""

    model_config = ConfigDict(frozen=True)

    slack_webhook_url: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_from: str = "jobstream@localhost"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool | None = None


class ActionJob(Protocol):
    """What the runner gives an action for one step of one job."""

    @property
    def job_id(self) -> str: ...

    @property
    def context(self) -> MutableMapping[str, str]:
        """The job's live context: a value set here is seen by every later step's `%{}`,
        every later stage and every modifier (Cyclid's actions shared one hash, too)."""
        ...

    @property
    def workspace(self) -> Path: ...

    @property
    def settings(self) -> ActionSettings: ...

    def interpolate(self, text: str) -> str:
        """`%{name}` from the context, as in every other field of a step."""
        ...

    async def log(self, text: str) -> None:
        """Write lines to the job's log (masked like every other line)."""
        ...

    async def run_process(self, step: CommandStep | ScriptStep) -> str | None:
        """Run a command or script step the runner's way; None if it succeeded."""
        ...


S = TypeVar("S", bound=ActionStep)


class Action(Generic[S]):
    """One kind of step. Subclass it, set `step` to the model of the step's fields, and
    register the class as an entry point of `jobstream.actions` under the action's name.

    `run` returns None when the step succeeded, else what went wrong (that ends the stage,
    and the text is the failure's reason). An exception is a bug of the action: the
    runner reports it as the step's failure too."""

    step: ClassVar[type[ActionStep]]

    async def run(self, step: S, job: ActionJob) -> str | None:
        raise NotImplementedError


class UnknownAction(JobstreamError):
    """A step names an action this runner has not got (validated elsewhere, say)."""


def get_action(name: str) -> Action[ActionStep]:
    action = registered_actions().get(name)
    if action is None:
        raise UnknownAction(f"unknown action {name!r}")
    return action()


def workspace_path(job: ActionJob, path: str) -> Path:
    """A step's `path` after interpolation: relative ones are in the workspace."""
    return job.workspace / job.interpolate(path)
