"""Events and job documents: schemas, JSON encoding, validation, secrets, the log interface.

The log's backends (`events.embedded`, `events.kafka`) are imported where they are chosen,
so importing an event model does not load a Kafka client.
"""

from events.codec import decode, encode, to_message
from events.document import JobDocument
from events.errors import (
    AmbiguousJobId,
    DocumentError,
    JobNotFound,
    JobstreamError,
    LogError,
    MalformedEvent,
    NotAssigned,
    SecretError,
    ViewsBusy,
)
from events.ingest import decode_record
from events.log import Consumer, EventLog, Message, Record, TopicPartition
from events.models import (
    CancelRequested,
    Completed,
    Event,
    Heartbeat,
    JobSubmitted,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)
from events.secrets import SecretBox
from events.topics import Topics
from events.validation import Problem, ValidatedDocument, check_document, load_document

__all__ = [
    "AmbiguousJobId",
    "CancelRequested",
    "Completed",
    "Consumer",
    "DocumentError",
    "Event",
    "EventLog",
    "Heartbeat",
    "JobDocument",
    "JobNotFound",
    "JobSubmitted",
    "JobstreamError",
    "LogAppended",
    "LogError",
    "LogLine",
    "MalformedEvent",
    "Message",
    "NotAssigned",
    "Problem",
    "Record",
    "SecretBox",
    "SecretError",
    "Status",
    "StatusChanged",
    "TopicPartition",
    "Topics",
    "ValidatedDocument",
    "ViewsBusy",
    "check_document",
    "decode",
    "decode_record",
    "encode",
    "load_document",
    "to_message",
]
