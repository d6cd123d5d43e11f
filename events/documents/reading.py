"""How every consumer reads a record: an event, or why it is none; never an exception.

`decode_record` raises MalformedEvent for what it recognises as wrong; a bare document's
YAML or JSON can make a parser raise what no list of expected errors foresees (a date like
2001-13-45, `!!int abc`, an integer past Python's digit limit). A consumer that let one of
those through would stop on the record, and stop again on it after every restart.
"""

from __future__ import annotations

from jobstream.events.dead_letters import storable
from jobstream.events.documents.ingest import decode_record
from jobstream.events.documents.stages import StageCatalog
from jobstream.events.errors import MalformedEvent
from jobstream.events.log.base import Record
from jobstream.events.models import Event

__all__ = ["read_record"]


def read_record(record: Record, stages: StageCatalog | None = None) -> Event | MalformedEvent:
    """The event `record` holds (`decode_record`), or a MalformedEvent saying why it holds
    none, whatever the exception."""
    try:
        return decode_record(record, stages)
    except MalformedEvent as exc:
        return exc
    except Exception as exc:
        return MalformedEvent(storable(f"cannot be read: {type(exc).__name__}: {exc}"))
