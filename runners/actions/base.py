"""The interface between the runner and an action."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jobstream.events.documents.actions import registered_actions
from jobstream.events.documents.models import ActionStep, CommandStep, ScriptStep
from jobstream.events.errors import JobstreamError
from jobstream.runners.legacy_names import FLAT_NAMES

__all__ = [
    "FLAT_NAMES",
    "Action",
    "ActionJob",
    "ActionSettings",
    "get_action",
    "workspace_path",
]

M = TypeVar("M", bound=BaseModel)


class ActionSettings(BaseModel):
    """The installation's settings that actions use: each action's own section (the keys
    its `settings_model` declares), by action name. jobstream.settings builds it, every
    section validated; `section` validates one given here as a plain mapping.

    The built-ins' flat names (`slack_webhook_url`, `smtp_host`, ...) are still taken as
    keywords and put in their sections."""

    model_config = ConfigDict(frozen=True)

    # Validated models (from jobstream.settings) or plain mappings (validated by `section`).
    sections: Mapping[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not FLAT_NAMES.keys() & data.keys():
            return data
        given = dict(data)
        sections = {k: dict(v) for k, v in dict(given.pop("sections", {})).items()}
        for old, (action, key) in FLAT_NAMES.items():
            if old in given:
                sections.setdefault(action, {})[key] = given.pop(old)
        return {**given, "sections": sections}

    def section(self, action: str, model: type[M]) -> M:
        """Action `action`'s settings as `model`: its defaults for whatever is not given."""
        given = self.sections.get(action, {})
        return given if isinstance(given, model) else model.model_validate(given)


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
    settings_model: ClassVar[type[BaseModel] | None] = None
    """The installation's keys this action reads (`[actions.NAME]` in the settings file,
    `JOBSTREAM_ACTIONS__NAME__KEY`), validated when a runner is made;
    `job.settings.section(NAME, model)` gives them. None: it reads none, and a key given
    for it is an error."""

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
