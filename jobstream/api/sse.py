"""A job's log as Server-Sent Events: `line` events with id = line number, then one `end`;
or, asked for in batches, `lines` events (a list of lines, id = the last one's number).

The lines are read from the views from the next line number, again each time the views
apply a batch (the projection's wake-up, not a poll): nothing is held per client but
that number. A client that reconnects with `Last-Event-ID: N` continues at line N + 1,
without gaps or repeats. `end` is sent once the job has ended and every line was sent; a
stream cut short by the server stopping ends without it, so the client knows to reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent

from jobstream.api.models import StreamEnd
from jobstream.api.state import Services

__all__ = ["line_events", "lines_events", "start_line"]

# A page of lines comes without a pause, and uvicorn only learns that the client left
# when asyncio runs its connection_lost callback, in a later turn of the loop: until then
# every write goes to the dead socket, and asyncio warns "socket.send() raised exception"
# from the fifth such write on (LOG_THRESHOLD_FOR_CONNLOST_WRITES). Giving the loop a
# turn every few lines stops the writes before that.
_YIELD_EVERY = 4


def start_line(from_line: int, last_event_id: str | None) -> int:
    """Where a stream starts: after the last line the client saw, else at `from`."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id) + 1
    return from_line


async def line_events(
    services: Services, job_id: str, start: int
) -> AsyncIterator[ServerSentEvent]:
    sent = 0
    async for rows in services.jobs.follow_json(job_id, start):
        for n, line in rows:
            yield ServerSentEvent(data=line, id=str(n), event="line")
            sent += 1
            if sent % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
    if not services.stop.is_set():
        yield await _end(services, job_id)


async def lines_events(
    services: Services, job_id: str, start: int
) -> AsyncIterator[ServerSentEvent]:
    """One event per page the views answer (LocalJobs.follow_json): an event costs the
    server a write and the client a parse, so a fast log is sent in far fewer of them."""
    async for rows in services.jobs.follow_json(job_id, start):
        data = f"[{','.join(line for _, line in rows)}]"
        yield ServerSentEvent(data=data, id=str(rows[-1][0]), event="lines")
        await asyncio.sleep(0)
    if not services.stop.is_set():
        yield await _end(services, job_id)


async def _end(services: Services, job_id: str) -> ServerSentEvent:
    # Sent only when the job ended, not when the server stopping cut the stream short.
    record = await services.jobs.get(job_id)  # completed: it changes no more
    end = StreamEnd(job_id=job_id, status=record.status, lines=record.last_line)
    return ServerSentEvent(data=end.model_dump_json(), event="end")
