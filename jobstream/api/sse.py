"""A job's log as Server-Sent Events: `line` events with id = line number, then one `end`.

The lines are the jobs service's `follow`, which polls the views from the next line
number: nothing is held per client but that number. A client that reconnects with
`Last-Event-ID: N` continues at line N + 1, without gaps or repeats. `end` is sent once
the job has ended and every line was sent; a stream cut short by the server stopping
ends without it, so the client knows to reconnect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent

from jobstream.api.models import LogLine, StreamEnd
from jobstream.service import LocalJobs

__all__ = ["line_events", "start_line"]


def start_line(from_line: int, last_event_id: str | None) -> int:
    """Where a stream starts: after the last line the client saw, else at `from`."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id) + 1
    return from_line


async def line_events(jobs: LocalJobs, job_id: str, start: int) -> AsyncIterator[ServerSentEvent]:
    async for row in jobs.follow(job_id, start):
        data = LogLine.of(row).model_dump_json()
        yield ServerSentEvent(data=data, id=str(row.n), event="line")
    if jobs.stop.is_set():
        return  # cut short by the server stopping, not ended with the job
    record = await jobs.get(job_id)  # completed: it changes no more
    end = StreamEnd(job_id=job_id, status=record.status, lines=record.last_line)
    yield ServerSentEvent(data=end.model_dump_json(), event="end")
