"""Events to bytes and back. JSON, UTF-8; decoding validates whole events in Rust."""

from __future__ import annotations

from pydantic import ValidationError

from events.errors import MalformedEvent
from events.log import Message
from events.models import EVENT_ADAPTER, Event, EventBase

__all__ = ["decode", "encode", "to_message"]


def encode(event: EventBase) -> bytes:
    return event.model_dump_json().encode()


def decode(data: bytes | str) -> Event:
    """Parse one event; anything that is not a known, valid event raises MalformedEvent."""
    try:
        return EVENT_ADAPTER.validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise MalformedEvent(f"{where}: {first['msg']}") from None


def to_message(event: EventBase) -> Message:
    """The log message for an event: keyed by job id, its type in a header."""
    return Message(encode(event), key=event.job_id, headers={"type": event.type})
