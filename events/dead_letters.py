"""What a consumer sets aside so that it never stops on a record: the dead letter.

The views keep theirs in DuckDB, each callback in its own store; both read back as this one
model, so a record that one consumer could not use is described the same way everywhere.

`read_record` is how every consumer reads a record: whatever the record holds, it gives an
event or the reason it is none, and never raises.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from jobstream.events.documents.ingest import decode_record
from jobstream.events.documents.stages import StageCatalog
from jobstream.events.errors import MalformedEvent
from jobstream.events.log.base import Record
from jobstream.events.models import Event, now

__all__ = ["DeadLetter", "read_record", "storable"]

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


def read_record(record: Record, stages: StageCatalog | None = None) -> Event | MalformedEvent:
    """The event `record` holds (`decode_record`), or a MalformedEvent saying why it holds
    none. Any exception counts: a bare document's YAML or JSON can make a parser raise what
    no list of expected errors foresees (a date like 2001-13-45, `!!int abc`, an integer
    past Python's digit limit), and one record must never stop a consumer."""
    try:
        return decode_record(record, stages)
    except MalformedEvent as exc:
        return exc
    except Exception as exc:
        return MalformedEvent(storable(f"cannot be read: {type(exc).__name__}: {exc}"))


def storable(text: str, limit: int = _REASON_CHARACTERS) -> str:
    """`text` as a dead letter keeps it: at most `limit` characters (an error may quote a
    5,000-digit number), lone surrogates escaped (neither SQLite nor DuckDB stores them)."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return text.encode("utf-8", "backslashreplace").decode()
