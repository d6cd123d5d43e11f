"""What a consumer sets aside so that it never stops on a record: the dead letter.

The views keep theirs in DuckDB, each callback in its own store; both read back as this one
model, so a record that one consumer could not use is described the same way everywhere.

`storable` makes a reason fit to keep (events.documents.reading.read_record, what every
consumer reads a record with, gives the reasons).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from jobstream.events.values import now

__all__ = ["DeadLetter", "storable"]

_REASON_CHARACTERS = 2000


class DeadLetter(BaseModel):
    """A record a consumer passed over, with where it sits in the log and why.

    It was not a valid event (it then has no event id), or a callback gave up on it after
    `attempts` calls of its hook."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    error: str
    recorded_at: datetime = Field(default_factory=now)
    consumer: str | None = None
    """The callback that set it aside; None in the views (their file has one consumer)."""
    value: bytes | None = None
    """The record's bytes, where the consumer keeps them (the views do)."""
    event_id: str | None = None
    job_id: str | None = None
    event_type: str | None = None
    attempts: int = 0
    """Calls of a callback's hook before it gave up; 0 when no hook was called."""


def storable(text: str, limit: int = _REASON_CHARACTERS) -> str:
    """`text` as a dead letter keeps it: at most `limit` characters (an error may quote a
    5,000-digit number), lone surrogates escaped (neither SQLite nor DuckDB stores them)."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return text.encode("utf-8", "backslashreplace").decode()
