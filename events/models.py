"""The events of DESIGN.md: frozen pydantic models and their JSON encoding.

Every event shares the envelope fields (`type`, `event_id`, `job_id`, `writer`, `seq`,
`at`, `v`). `writer` names who appended it (one runner attempt, or the lease keeper that
ended a lost job) and `seq` counts that writer's events for the job from 1 with no gaps,
so a consumer can drop a duplicate delivered by a producer's retry.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, overload

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from jobstream.events.values import (
    DEFAULT_ORGANIZATION,
    TERMINAL,
    Status,
    StatusName,
    now,
    status_from_name,
)

__all__ = [
    "DEFAULT_ORGANIZATION",
    "DEFAULT_STAGE_VERSION",
    "DEFAULT_VERSION",
    "EVENT_ADAPTER",
    "MAX_ATTEMPT",
    "MAX_LEASE_SECONDS",
    "MAX_SEQ",
    "STAGE_VERSION",
    "TERMINAL",
    "CancelRequested",
    "Completed",
    "Event",
    "EventBase",
    "Heartbeat",
    "Instant",
    "JobSubmitted",
    "LineRun",
    "LogAppended",
    "LogChunk",
    "LogLine",
    "Outcome",
    "StageDefined",
    "StageFinished",
    "StageStarted",
    "Status",
    "StatusChanged",
    "StatusName",
    "StepFinished",
    "StepStarted",
    "Stream",
    "now",
]

SCHEMA_VERSION = 1

DEFAULT_VERSION = "1.0.0"
"""The version of a job document that names none (`JobDocument.version`'s default)."""

DEFAULT_STAGE_VERSION = "0.0.1"
"""The version of a stored stage defined without one (Cyclid's `stages` controller)."""

STAGE_VERSION = re.compile(r"\d+.\d+.\d+.?\d*")
"""Cyclid's stored-stage version rule, `/\\A\\d+.\\d+.\\d+.?\\d*\\z/`, kept as Cyclid wrote it:
its dots are not escaped, so `1.0.0-1` and `12345` pass and `1.0` does not. Use fullmatch."""


Stream = Literal["stdout", "stderr", "system"]


# What the views can store, checked where an event is decoded: a record beyond it is
# malformed (a dead letter), never a failed insert that would stop a consumer.
MAX_SEQ = 2**63 - 1
"""Largest `seq`, line number and count: DuckDB's BIGINT."""
MAX_ATTEMPT = 2**31 - 1
"""Largest `attempt` (and `retry`): the views' INTEGER."""
MAX_LEASE_SECONDS = 366 * 86400.0
"""Longest lease a Heartbeat may give: a year is beyond any runner's heartbeat."""


def _storable(value: datetime) -> datetime:
    """A time the views can store: one that has a UTC equivalent within years 1..9999
    (`0001-01-01T00:00+01:00` does not); kept as written."""
    if value.utcoffset():
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range once converted to UTC") from None
    return value


Instant = Annotated[datetime, AfterValidator(_storable)]
"""A datetime field of an event: within what Python and DuckDB can hold in UTC."""


class EventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # Declared here so it comes first in the JSON; each event narrows it to its own name.
    type: str
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    job_id: str = Field(min_length=1)
    writer: str = Field(min_length=1)
    seq: int = Field(ge=1, le=MAX_SEQ)
    at: Instant = Field(default_factory=now)
    v: int = SCHEMA_VERSION


class JobSubmitted(EventBase):
    """A validated job document (secret values encrypted), on the jobs topic.

    `name`, `version`, `retry` and `labels` are the document's own, set at submission so
    that no consumer digs them out of `document`. An event without them (written before
    they existed, or by another client) takes them from its document when decoded, so
    replaying an old log gives the same values; `labels` always holds the document's labels
    under the event's own.
    """

    type: Literal["JobSubmitted"] = "JobSubmitted"
    name: str | None = None
    version: str = DEFAULT_VERSION
    document: dict[str, Any]
    submitter: str = "anonymous"
    # Cyclid's organisation (`%{organization}`); records from before it was kept have none.
    organization: str = DEFAULT_ORGANIZATION
    labels: dict[str, str] = Field(default_factory=dict)
    # "local": run by the process that submitted it (jobstream run); workers leave it alone.
    dispatch: Literal["queue", "local"] = "queue"
    retry: int = Field(
        0, ge=0, le=MAX_ATTEMPT, description="run a lost attempt again up to this many times"
    )
    # A retry (of a lost or failed attempt, or asked for by a user) is a new job that names
    # the job it retries.
    retry_of: str | None = None
    attempt: int = Field(1, ge=1, le=MAX_ATTEMPT)

    @model_validator(mode="before")
    @classmethod
    def _fields_from_document(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("document"), dict):
            return data  # not ours to fix: the field validators say what is wrong
        document = data["document"]
        data = {**_document_fields(document), **data}
        own = document.get("labels")
        if isinstance(own, dict) and own:
            given = data.get("labels")
            data["labels"] = {
                **{str(k): str(v) for k, v in own.items()},
                **(given if isinstance(given, dict) else {}),
            }
        return data


def _document_fields(document: dict[str, Any]) -> dict[str, Any]:
    """`name`, `version` and `retry` as a JobSubmitted without them reads them.

    Lenient: a document that reached the log unvalidated still gives an event (the runner
    then rejects the document with its problems); a value that does not read cleanly leaves
    the field's default."""
    fields: dict[str, Any] = {}
    name = document.get("name")
    if _scalar(name) and str(name):
        fields["name"] = str(name)
    version = document.get("version")
    # YAML reads `version: 1.0` as a number; Cyclid treats versions as text.
    if _scalar(version):
        fields["version"] = str(version)
    retry = document.get("retry")
    if isinstance(retry, int) and not isinstance(retry, bool) and retry >= 0:
        fields["retry"] = retry
    return fields


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


class CancelRequested(EventBase):
    """Someone asked for a job to stop; on the jobs topic, read by whoever runs the job."""

    type: Literal["CancelRequested"] = "CancelRequested"
    requested_by: str = "anonymous"


class StatusChanged(EventBase):
    type: Literal["StatusChanged"] = "StatusChanged"
    status: StatusName
    previous: StatusName | None = None
    stage: str | None = None
    reason: str | None = None

    _names = field_validator("status", "previous", mode="before")(status_from_name)


class LogLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    n: int = Field(ge=1, le=MAX_SEQ)
    # Kept as the RFC 3339 text it was written as: projections hand it to DuckDB unparsed.
    at: str
    stream: Stream
    text: str


LineRun = tuple[Stream, str, list[str]]
"""Consecutive lines that share a stream and a timestamp: (stream, at, texts)."""


class LogChunk(Sequence[LogLine]):
    """Consecutive log lines numbered from `first`, held as the runs they were read in.

    What a runner hands its Notifier: the lines of one LogAppended. The `LogLine` objects
    are built only when someone reads the chunk as a sequence: building a pydantic model
    costs 2-3 µs a line, which alone would cap a job's output at about 0.4M lines/s, so the
    runner's path (`rows` into `codec.encode_log_appended`, `pairs` to a terminal) does no
    work per line in Python. `bytes` is the UTF-8 size of all the texts.
    """

    __slots__ = ("_built", "_count", "bytes", "first", "runs")

    def __init__(self, first: int, runs: list[LineRun], count: int, nbytes: int) -> None:
        self.first = first
        self.runs = runs
        self.bytes = nbytes
        self._count = count
        self._built: list[LogLine] | None = None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> LogLine: ...
    @overload
    def __getitem__(self, index: slice) -> list[LogLine]: ...
    def __getitem__(self, index: int | slice) -> LogLine | list[LogLine]:
        return self._lines()[index]

    def __iter__(self) -> Iterator[LogLine]:
        return iter(self._lines())

    def __repr__(self) -> str:
        return f"LogChunk(first={self.first}, lines={self._count}, bytes={self.bytes})"

    @property
    def texts(self) -> list[str]:
        """Every line's text, without building `LogLine`s."""
        return [text for _, _, texts in self.runs for text in texts]

    def rows(self) -> list[dict[str, object]]:
        """Every line as the plain mapping its JSON holds, without building `LogLine`s
        (what `codec.encode_log_appended` takes)."""
        rows: list[dict[str, object]] = []
        n = self.first
        for stream, at, texts in self.runs:
            rows += (
                {"n": i, "at": at, "stream": stream, "text": t} for i, t in enumerate(texts, n)
            )
            n += len(texts)
        return rows

    def pairs(self) -> Iterator[tuple[Stream, str]]:
        """(stream, text) of every line, for printing."""
        for stream, _, texts in self.runs:
            for text in texts:
                yield stream, text

    def _lines(self) -> list[LogLine]:
        if self._built is None:
            n = self.first
            built: list[LogLine] = []
            for stream, at, texts in self.runs:
                built += (
                    LogLine(n=i, at=at, stream=stream, text=t) for i, t in enumerate(texts, n)
                )
                n += len(texts)
            self._built = built
        return self._built


class LogAppended(EventBase):
    """A chunk of consecutive log lines, cut by size and by time."""

    type: Literal["LogAppended"] = "LogAppended"
    lines: list[LogLine] = Field(min_length=1)


class Heartbeat(EventBase):
    """The runner of a job is alive; its lease runs `lease_seconds` from `at`."""

    type: Literal["Heartbeat"] = "Heartbeat"
    lease_seconds: float = Field(gt=0, le=MAX_LEASE_SECONDS, allow_inf_nan=False)
    worker: str

    @model_validator(mode="after")
    def _lease_ends(self) -> Heartbeat:
        # The views store `at + lease_seconds`: it must be a time too.
        start = self.at.astimezone(UTC) if self.at.utcoffset() else self.at
        try:
            start + timedelta(seconds=self.lease_seconds)
        except OverflowError:
            raise ValueError("the lease ends beyond the year 9999") from None
        return self


class Completed(EventBase):
    type: Literal["Completed"] = "Completed"
    success: bool
    status: StatusName
    ended_at: Instant = Field(default_factory=now)
    lines: int = Field(ge=0, le=MAX_SEQ)
    bytes: int = Field(ge=0, le=MAX_SEQ)
    # The exit code of the step whose failure failed the job; None when the job succeeded
    # or failed without one (a timeout, a cancel, a rejected document, a lost worker).
    exit_status: int | None = Field(None, ge=-(2**31), lt=2**31)

    _names = field_validator("status", mode="before")(status_from_name)


Outcome = Literal["SUCCEEDED", "FAILED", "SKIPPED"]
"""How a stage run or a step ended (a step is never SKIPPED: a skipped stage runs none)."""


class StageStarted(EventBase):
    """A stage run begins. `stage` counts the job's stage runs from 0 (a stage run twice,
    as a handler say, has two); `first_line` is the number its first log line gets, so
    its lines are `first_line` up to the `last_line` of its StageFinished."""

    type: Literal["StageStarted"] = "StageStarted"
    stage: int = Field(ge=0)
    name: str = Field(min_length=1)
    first_line: int = Field(ge=1)


class StageFinished(EventBase):
    """A stage run ended; every line up to `last_line` is in the log before it (below
    its StageStarted's `first_line` when it wrote none). `duration_s` is measured by the
    runner's clock, not taken from the events' `at`."""

    type: Literal["StageFinished"] = "StageFinished"
    stage: int = Field(ge=0)
    name: str = Field(min_length=1)
    status: Outcome
    last_line: int = Field(ge=0)
    duration_s: float = Field(ge=0)


class StepStarted(EventBase):
    """A step of stage run `stage` begins; `step` is its position in the stage, from 0.
    `title` is short text for people (the command, masked; a script's first line; the
    action's name), never a secret value."""

    type: Literal["StepStarted"] = "StepStarted"
    stage: int = Field(ge=0)
    step: int = Field(ge=0)
    action: str = Field(min_length=1)
    title: str
    first_line: int = Field(ge=1)


class StepFinished(EventBase):
    """A step ended. `exit_code` is its last process's exit status (None: it ran no
    process, timed out, or was killed by a signal)."""

    type: Literal["StepFinished"] = "StepFinished"
    stage: int = Field(ge=0)
    step: int = Field(ge=0)
    status: Outcome
    exit_code: int | None = None
    last_line: int = Field(ge=0)
    duration_s: float = Field(ge=0)


Event = Annotated[
    JobSubmitted
    | CancelRequested
    | StatusChanged
    | LogAppended
    | Heartbeat
    | Completed
    | StageStarted
    | StageFinished
    | StepStarted
    | StepFinished,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class StageDefined(BaseModel):
    """A stored, versioned stage, on the stages topic (keyed by its name, so every version
    of one name is in one partition, in the order they were defined).

    Not a job event: it has no job id and no per-job `seq`, and it is not in `Event`, so a
    consumer of the job topics never meets it. `steps` are a document stage's steps as the
    JSON of their validated models (`jobstream.events.documents`, which this module must
    not import): whoever appends one validates them first, and a job that uses the stage
    is validated again with the steps copied into it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["StageDefined"] = "StageDefined"
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    writer: str = Field(min_length=1)
    at: Instant = Field(default_factory=now)
    v: int = SCHEMA_VERSION
    name: str = Field(min_length=1)
    version: str = DEFAULT_STAGE_VERSION
    steps: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _cyclid_version(cls, value: str) -> str:
        if not STAGE_VERSION.fullmatch(value):
            raise ValueError(f"version {value!r} is not like 1.0.0 (Cyclid's stage versions)")
        return value
