"""The Cyclid job document (JOB-FORMAT.md) as pydantic models.

These models hold the *shape* of a document. The rules that need the whole document
(stage names resolve, handler loops, unknown keys as warnings, every problem at once) live
in `events.validation`, which is what callers use to turn bytes into a `JobDocument`.

Unknown keys are dropped everywhere, as Cyclid's actions and job loader drop them (each
picks the keys it knows); validation reports each one as a warning.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from jobstream.events.documents.actions import action_names, step_model
from jobstream.events.documents.cyclidlint import sudo_on
from jobstream.events.documents.rubytext import ruby_text
from jobstream.events.models import DEFAULT_VERSION

__all__ = [
    "ActionStep",
    "CommandStep",
    "JobDocument",
    "LogStep",
    "ScriptStep",
    "SequenceEntry",
    "Source",
    "Stage",
    "Step",
]

Timeout = Annotated[float, Field(gt=0, description="seconds (jobstream extension)")]


def _number_as_text(value: Any) -> Any:
    # YAML reads `version: 1.0` as a float; Cyclid treated versions as text.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


# Editors must accept what the loader accepts, `version: 1.0` included.
Version = Annotated[
    str, BeforeValidator(_number_as_text), WithJsonSchema({"type": ["string", "number"]})
]


def _scalar_text(value: Any) -> Any:
    # Cyclid printed env values and args with Ruby's to_s: `RETRIES: 3` exports "3".
    if value is None or isinstance(value, int | float | bool):
        return ruby_text(value)
    return value


def _flat(value: Any) -> Any:
    # Array#join flattens nested arrays.
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        out.extend(_flat(item) if isinstance(item, list) else [item])
    return out


def _merged(value: Any) -> Any:
    # Cyclid's docs write env as a list of one-key mappings; jobstream merges them
    # (Cyclid itself crashed on that form; validation warns).
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return {k: v for item in value for k, v in item.items()}
    return value


ShellText = Annotated[
    str,
    BeforeValidator(_scalar_text),
    WithJsonSchema({"type": ["string", "number", "boolean", "null"]}),
]
Args = Annotated[list[ShellText], BeforeValidator(_flat)]
# Kept as written (any JSON value): Cyclid took any value but false or null as true, and
# the runner says so in the log when such a value looks like "off" (`"false"`, `0`).
Sudo = Annotated[
    bool | int | float | str | list[Any] | dict[str, Any] | None,
    Field(description="any value but false or null runs the step under sudo (Cyclid's rule)"),
]
Env = Annotated[dict[str, ShellText], BeforeValidator(_merged)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ActionStep(_Strict):
    """The fields every step has; each action's step model adds its own (`action` a Literal).

    A step is validated by the model its action registered (`events.documents.actions`)."""

    action: str
    timeout: Timeout | None = None


class CommandStep(ActionStep):
    """Run `cmd` through /bin/sh, `args` joined after it unquoted (`runners.shell`).

    `args` None and `args` [] differ, as in Cyclid: without `args`, `cmd` is split on
    whitespace and joined again with single spaces."""

    action: Literal["command"]
    cmd: str
    args: Args | None = None
    env: Env = Field(default_factory=dict)
    path: str | None = None
    sudo: Sudo = False

    @property
    def uses_sudo(self) -> bool:
        return sudo_on(self.sudo)


class ScriptStep(ActionStep):
    """Write `script` to the file `path` (default: a private file in the workspace),
    make it executable and run it from the workspace."""

    action: Literal["script"]
    script: str | list[str]
    env: Env = Field(default_factory=dict)
    path: str | None = None
    sudo: Sudo = False

    @property
    def uses_sudo(self) -> bool:
        return sudo_on(self.sudo)

    @property
    def text(self) -> str:
        return self.script if isinstance(self.script, str) else "\n".join(self.script)


class LogStep(ActionStep):
    """Write `message` to the job log."""

    action: Literal["log"]
    message: str


def _registered_step(value: Any, handler: ValidatorFunctionWrapHandler) -> ActionStep:
    # A tagged union whose members are the registered actions, which are only known once
    # the entry points are loaded; the error types are those pydantic's own union gives.
    if isinstance(value, ActionStep):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("dict_type", "must be a mapping")
    if "action" not in value:
        raise PydanticCustomError("union_tag_not_found", "a step needs an action")
    name = value["action"]
    model = step_model(name) if isinstance(name, str) else None
    if model is None:
        raise PydanticCustomError(
            "union_tag_invalid",
            "unknown action {tag}; known actions: {expected_tags}",
            {"tag": str(name), "expected_tags": ", ".join(action_names())},
        )
    return model.model_validate(value)


# Serialised as the action's own model, so a dump keeps every field of the step.
Step = Annotated[SerializeAsAny[ActionStep], WrapValidator(_registered_step)]


class Stage(_Strict):
    name: str = Field(min_length=1)
    version: Version | None = None
    steps: list[Step] = Field(min_length=1)


class SequenceEntry(_Strict):
    stage: str = Field(min_length=1)
    version: Version | None = None
    on_success: str | None = None
    on_failure: str | None = None
    only_if: str | None = None
    not_if: str | None = None
    fail_if: str | None = None


class Source(_Strict):
    type: Literal["git"]
    url: str = Field(min_length=1)
    branch: str | None = None
    token: str | None = None


class JobDocument(BaseModel):
    """A whole job. Unknown top-level keys are kept out but reported as warnings."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(min_length=1)
    version: Version = DEFAULT_VERSION
    environment: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    sources: list[Source] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    sequence: list[SequenceEntry] = Field(min_length=1)
    organization: str | None = None
    # jobstream extensions
    timeout: Timeout | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    retry: int = Field(
        0, ge=0, le=10, description="run a lost attempt again, up to this many times (jobstream)"
    )
    network: bool | None = Field(
        None,
        description="false: the job's steps run with no network (sandbox builder; jobstream)",
    )

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)
