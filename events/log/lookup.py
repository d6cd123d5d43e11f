"""Reading one job's JobSubmitted back from the log.

The views keep a job's document with its secrets redacted (names and `***`), so whatever
needs the sealed document again (the lease keeper's retry of a lost job) reads the
original event. Records carry their event type in a header and the job id as their key,
so only the one record asked for is decoded.
"""

from __future__ import annotations

import contextlib

from jobstream.events.codec import decode
from jobstream.events.errors import MalformedEvent
from jobstream.events.log.base import EventLog
from jobstream.events.models import JobSubmitted

__all__ = ["find_submitted"]


async def find_submitted(log: EventLog, topic: str, job_id: str) -> JobSubmitted | None:
    """The job's JobSubmitted on `topic` (the jobs topic), or None if it holds none.

    Reads the topic from its start up to its end as of the call: a rare path (a lost
    worker), so it trades a scan for not keeping log offsets in the views."""
    ends = await log.ends([topic])
    if not any(ends.values()):
        return None
    async with log.consumer([topic], group=None, start="earliest") as consumer:
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for record in await consumer.getmany(1000, timeout=1.0):
                if record.key != job_id or record.headers.get("type") != "JobSubmitted":
                    continue
                # A forged record under the job's key is passed by, as the views pass it.
                with contextlib.suppress(MalformedEvent):
                    event = decode(record.value)
                    if isinstance(event, JobSubmitted):
                        return event
    return None
