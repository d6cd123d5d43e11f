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
    TypeAdapter,
    ValidationError,
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
    "LOST",
    "ActionStep",
    "AutomaticRetry",
    "CommandStep",
    "JobDocument",
    "LogStep",
    "RetryRules",
    "ScriptStep",
    "SequenceEntry",
    "Source",
    "Stage",
    "Step",
    "retry_limit",
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


LOST = -1
"""The exit status a lost attempt counts as (its worker died): Buildkite's for a lost agent."""


class AutomaticRetry(_Strict):
    """One rule of `retry.automatic`, as Buildkite writes it: a job that failed with one of
    these exit statuses is run again, while it has had at most `limit` retries."""

    exit_status: int | Literal["*"] | list[int] = Field(
        "*", description="an exit code, a list of them, or * for any failure (a lost worker too)"
    )
    limit: int = Field(2, ge=1, le=10, description="retries at most (Buildkite's default, 2)")

    def matches(self, exit_status: int) -> bool:
        if self.exit_status == "*":
            return True
        if isinstance(self.exit_status, list):
            return exit_status in self.exit_status
        return exit_status == self.exit_status


_RULE_LIST: TypeAdapter[list[AutomaticRetry]] = TypeAdapter(list[AutomaticRetry])


def _automatic_form(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # Validated by the form the value has, so a problem is reported at its own path
    # rather than once per member of the union.
    if isinstance(value, dict):
        return AutomaticRetry.model_validate(value)
    if isinstance(value, list):
        return _RULE_LIST.validate_python(value)
    return handler(value)


class RetryRules(_Strict):
    """`retry` as a mapping: Buildkite's `retry.automatic` (`true` is one rule matching any
    failure, with the default limit; one rule may stand alone or be in a list)."""

    automatic: Annotated[
        bool | AutomaticRetry | list[AutomaticRetry], WrapValidator(_automatic_form)
    ] = False

    @property
    def rules(self) -> list[AutomaticRetry]:
        if isinstance(self.automatic, bool):
            return [AutomaticRetry()] if self.automatic else []
        if isinstance(self.automatic, AutomaticRetry):
            return [self.automatic]
        return self.automatic

    def limit(self, exit_status: int) -> int:
        """The retries allowed after a failure with `exit_status`: the first matching
        rule's limit, else 0."""
        return next((r.limit for r in self.rules if r.matches(exit_status)), 0)


_Count = Annotated[int, Field(ge=0, le=10)]
_COUNT: TypeAdapter[int] = TypeAdapter(_Count)


def _retry_form(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, dict):
        return RetryRules.model_validate(value)
    return _COUNT.validate_python(value)


# The union gives the JSON Schema; `_retry_form` validates by the form the value has.
Retry = Annotated[_Count | RetryRules, WrapValidator(_retry_form)]


def _limit(retry: int | RetryRules, exit_status: int) -> int:
    if isinstance(retry, RetryRules):
        return retry.limit(exit_status)
    # The number form, jobstream's from before: lost attempts only.
    return retry if exit_status == LOST else 0


_RETRY: TypeAdapter[int | RetryRules] = TypeAdapter(Retry)


def retry_limit(document: dict[str, Any] | None, exit_status: int) -> int:
    """How many retries the (submitted) `document` allows after a failure with
    `exit_status` (`LOST` for a lost attempt); 0 when its `retry` does not read."""
    value = (document or {}).get("retry", 0)
    try:
        return _limit(_RETRY.validate_python(value), exit_status)
    except ValidationError:
        return 0


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
    retry: Retry = Field(
        0,
        description="a number: run a lost attempt again, up to this many times; a mapping: "
        "Buildkite's `automatic` rules, by exit status (jobstream)",
    )
    network: bool | None = Field(
        None,
        description="false: the job's steps run with no network (sandbox builder; jobstream)",
    )

    def retries(self, exit_status: int) -> int:
        """How many retries this document allows after a failure with `exit_status`."""
        return _limit(self.retry, exit_status)

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)
