"""What every other package needs: the event models, their JSON encoding, the public names
(topics, consumer groups, writers) and the error tree.

Two sub-packages hold the rest: `jobstream.events.log` (the `EventLog` interface and its
backends) and `jobstream.events.documents` (the job document language). Importing this
package loads neither yaml nor cryptography nor a Kafka client.

Names are imported from their modules on first use (jobstream.events.lazy): a module that
needs only the errors or the statuses (`jobstream.events.values`) must not build every event
model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobstream.events.lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
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
        StatusChanged,
        StepFinished,
        StepStarted,
    )
    from jobstream.events.names import Topics
    from jobstream.events.values import Status

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

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "codec": ["decode", "encode"],
        "dead_letters": ["DeadLetter"],
        "errors": [
            "AmbiguousJobId",
            "DocumentError",
            "JobNotFound",
            "JobstreamError",
            "LogError",
            "MalformedEvent",
            "NotAssigned",
            "SecretError",
            "StageExists",
            "StageNotFound",
            "UnresolvedStage",
            "ViewsBusy",
        ],
        "models": [
            "CancelRequested",
            "Completed",
            "Event",
            "Heartbeat",
            "JobSubmitted",
            "LogAppended",
            "LogChunk",
            "LogLine",
            "StageDefined",
            "StageFinished",
            "StageStarted",
            "StatusChanged",
            "StepFinished",
            "StepStarted",
        ],
        "names": ["Topics"],
        "values": ["Status"],
    },
)
