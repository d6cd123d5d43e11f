"""What every other package needs: the event models, their JSON encoding, the public names
(topics, consumer groups, writers) and the error tree.

Two sub-packages hold the rest: `jobstream.events.log` (the `EventLog` interface and its
backends) and `jobstream.events.documents` (the job document language). Importing this
package loads neither yaml nor cryptography nor a Kafka client.
"""

from jobstream.events.codec import decode, encode
from jobstream.events.dead_letters import DeadLetter
from jobstream.events.errors import (
    AmbiguousJobId,
    DocumentError,
    JobNotFound,
    JobstreamError,
    LogError,
    MalformedEvent,
    NotAssigned,
    SecretError,
    StageExists,
    StageNotFound,
    UnresolvedStage,
    ViewsBusy,
)
from jobstream.events.models import (
    CancelRequested,
    Completed,
    Event,
    Heartbeat,
    JobSubmitted,
    LogAppended,
    LogChunk,
    LogLine,
    StageDefined,
    StageFinished,
    StageStarted,
    Status,
    StatusChanged,
    StepFinished,
    StepStarted,
)
from jobstream.events.names import Topics

__all__ = [
    "AmbiguousJobId",
    "CancelRequested",
    "Completed",
    "DeadLetter",
    "DocumentError",
    "Event",
    "Heartbeat",
    "JobNotFound",
    "JobSubmitted",
    "JobstreamError",
    "LogAppended",
    "LogChunk",
    "LogError",
    "LogLine",
    "MalformedEvent",
    "NotAssigned",
    "SecretError",
    "StageDefined",
    "StageExists",
    "StageFinished",
    "StageNotFound",
    "StageStarted",
    "Status",
    "StatusChanged",
    "StepFinished",
    "StepStarted",
    "Topics",
    "UnresolvedStage",
    "ViewsBusy",
    "decode",
    "encode",
]
