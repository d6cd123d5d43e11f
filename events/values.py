"""The plain values that events and records share (job statuses, the default organisation,
the clock), apart from the event models: a client that only reads records (the command
line asking a server) needs them without building every event model."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated, Any

from pydantic import PlainSerializer

__all__ = [
    "DEFAULT_ORGANIZATION",
    "TERMINAL",
    "Status",
    "StatusName",
    "now",
    "status_from_name",
]

# The organisation of a job submitted without one (Cyclid's jobs always had one).
DEFAULT_ORGANIZATION = "default"


class Status(IntEnum):
    """Job statuses with Cyclid's codes; CANCELLED is jobstream's own terminal state."""

    NEW = 0
    WAITING = 1
    STARTED = 2
    FAILING = 3
    SUCCEEDED = 10
    FAILED = 11
    CANCELLED = 12


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})


def status_from_name(value: Any) -> Any:
    """A status given by name ("failed") as its Status; anything else as it is."""
    if isinstance(value, str) and not value.isdigit():
        try:
            return Status[value.upper()]
        except KeyError:
            raise ValueError(f"unknown status {value!r}") from None
    return value


# On the wire a status is its name ("STARTED"): readable for any client, stable across codes.
StatusName = Annotated[Status, PlainSerializer(lambda s: s.name, return_type=str)]


def now() -> datetime:
    return datetime.now(UTC)
