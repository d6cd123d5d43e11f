"""The Callback interface: Cyclid's three hooks, called from a consumer of the log.

In Cyclid the Notifier called a Callback in the middle of a job. Here a callback never sits
inside the runner: `CallbackHost` runs it as a projection of the log with its own position,
so a slow or failing hook delays only that callback, and a callback added later can start
from the beginning of history. A hook that raises is retried with backoff; raise `GiveUp` to
dead-letter the event at once (an error that no retry can fix, such as an HTTP 422).
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

from jobstream.events.errors import JobstreamError
from jobstream.events.models import (
    Completed,
    Event,
    JobSubmitted,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)

__all__ = [
    "Callback",
    "CallbackConfigError",
    "CallbackError",
    "Delivery",
    "DeliveryFailed",
    "GiveUp",
    "JobInfo",
    "current_delivery",
]


class CallbackError(JobstreamError):
    """Something about a callback went wrong (the root of the callbacks' errors)."""


class DeliveryFailed(CallbackError):
    """A receiver answered with something worth retrying (rate limit, 408, 429, 5xx)."""


class CallbackConfigError(CallbackError):
    """A callback's settings are missing or wrong (raised by `from_settings`)."""


class GiveUp(CallbackError):
    """Raised by a hook for a failure that retrying cannot fix: dead-letter the event now."""


class JobInfo(BaseModel):
    """What a callback knows about a job: taken from its JobSubmitted event.

    `name` and `version` are None only when the JobSubmitted could not be found in time
    (see `CallbackHost`'s `hold`): the hooks still run, with the job id alone."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None = None
    version: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    submitter: str | None = None
    submitted_at: datetime | None = None

    @classmethod
    def from_event(cls, event: JobSubmitted) -> JobInfo:
        return cls(
            id=event.job_id,
            name=event.name,
            version=event.version,
            labels=event.labels,
            submitter=event.submitter,
            submitted_at=event.at,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """The event being delivered now, and where it sits in the log.

    `key` (the event id) is the idempotency key: the host delivers each event id to a
    callback once, and a receiver that keeps the keys it has seen can drop the one repeat a
    crash between a hook's return and the host's record of it can cause."""

    callback: str
    event: Event
    topic: str
    partition: int
    offset: int
    attempt: int

    @property
    def key(self) -> str:
        return str(self.event.event_id)


_current: contextvars.ContextVar[Delivery] = contextvars.ContextVar("callback_delivery")


def current_delivery() -> Delivery:
    """The delivery a hook is running for (LookupError outside the host)."""
    return _current.get()


class Callback:
    """Base class of callbacks. Override any of the three hooks; each is optional.

    - `status_changed(job, status)`: a StatusChanged event.
    - `log_write(job, lines)`: a LogAppended chunk.
    - `completion(job, success)`: a Completed event.

    A callback that wants every event (JobSubmitted, Heartbeat, CancelRequested too)
    overrides `on_event`. Only events a callback `takes` are delivered and recorded, so a
    callback with one hook costs nothing for the others.

    `start` and `stop` bracket a run (open and close clients there). A callback with
    options declares them as a pydantic model, `settings_model`: they are read from its
    own section of jobstream's settings (`[callbacks.NAME]`,
    `JOBSTREAM_CALLBACKS__NAME__KEY`), validated by that model, and handed to
    `from_settings` as a plain mapping, so a callback module needs nothing from jobstream;
    the default takes no options.
    """

    name: ClassVar[str] = ""
    """The name used when none is given on the command line (it keys the callback's
    position and deliveries in the store); empty means the registry's name or the class
    name."""

    settings_model: ClassVar[type[BaseModel] | None] = None
    """The model of this callback's settings section; None: it takes none, and a key
    given for it is an error."""

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        """The callback, from its section's values (the fields of `settings_model`)."""
        return cls()

    async def start(self) -> None:
        """Called once before the first delivery."""

    async def stop(self) -> None:
        """Called once after the last delivery, also when the host stops on an error."""

    async def status_changed(self, job: JobInfo, status: Status) -> None:
        """The job's status changed to `status`."""

    async def log_write(self, job: JobInfo, lines: list[LogLine]) -> None:
        """The job wrote `lines` (one chunk, in order)."""

    async def completion(self, job: JobInfo, success: bool) -> None:
        """The job ended; `success` is whether it succeeded."""

    async def on_event(self, job: JobInfo, event: Event) -> None:
        """Every event taken; the default calls the matching hook."""
        match event:
            case StatusChanged():
                await self.status_changed(job, event.status)
            case LogAppended():
                await self.log_write(job, list(event.lines))
            case Completed():
                await self.completion(job, event.success)

    def takes(self, event: Event) -> bool:
        """Whether `event` is delivered to this callback: by default, those of the hooks
        the class overrides, and all of them if it overrides `on_event`."""
        cls = type(self)
        if cls.on_event is not Callback.on_event:
            return True
        match event:
            case StatusChanged():
                return cls.status_changed is not Callback.status_changed
            case LogAppended():
                return cls.log_write is not Callback.log_write
            case Completed():
                return cls.completion is not Callback.completion
        return False
