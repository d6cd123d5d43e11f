"""The Cyclid job document (JOB-FORMAT.md) as pydantic models.

These models hold the *shape* of a document. The rules that need the whole document
(stage names resolve, handler loops, unknown keys as warnings, every problem at once) live
in `events.validation`, which is what callers use to turn bytes into a `JobDocument`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from jobstream.events.models import DEFAULT_VERSION

__all__ = [
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


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _StepBase(_Strict):
    timeout: Timeout | None = None


class CommandStep(_StepBase):
    """Run `cmd` through /bin/sh -c; each of `args` is shell-quoted and appended."""

    action: Literal["command"]
    cmd: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    path: str | None = None
    sudo: bool = False


class ScriptStep(_StepBase):
    """Write `script` to an executable file in the workspace and run it."""

    action: Literal["script"]
    script: str | list[str]
    env: dict[str, str] = Field(default_factory=dict)
    path: str | None = None
    sudo: bool = False

    @property
    def text(self) -> str:
        return self.script if isinstance(self.script, str) else "\n".join(self.script)


class LogStep(_StepBase):
    """Write `message` to the job log."""

    action: Literal["log"]
    message: str


Step = Annotated[CommandStep | ScriptStep | LogStep, Field(discriminator="action")]


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
