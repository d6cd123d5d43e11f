"""A job's log as Server-Sent Events: `line` events with id = line number, then one `end`.

The projection host applies events continuously, so following a log is polling the views
from the next line number: one query per poll, nothing held per client but a number. A
client that reconnects with `Last-Event-ID: N` continues at line N + 1, without gaps or
repeats. The stream ends once the job has ended and every line was sent: a Completed
event is applied after the job's last LogAppended (same partition, in order), so no line
can appear after the record says completed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import duckdb
from sse_starlette import ServerSentEvent

from jobstream.api.models import LogLine, StreamEnd
from jobstream.api.state import Services
from jobstream.projections import queries
from jobstream.projections.records import JobRecord, LogLineRow

__all__ = ["POLL_INTERVAL", "line_events", "start_line"]

POLL_INTERVAL = 0.05
PAGE = 1000


def start_line(from_line: int, last_event_id: str | None) -> int:
    """Where a stream starts: after the last line the client saw, else at `from`."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id) + 1
    return from_line


def _tail(
    conn: duckdb.DuckDBPyConnection, job_id: str, start: int
) -> tuple[list[LogLineRow], JobRecord]:
    # The record first: lines read after a "completed" record are then all the lines.
    record = queries.get_job(conn, job_id)
    return queries.log_range(conn, job_id, start, PAGE), record


async def line_events(
    services: Services, job_id: str, start: int
) -> AsyncIterator[ServerSentEvent]:
    line = start
    while not services.stop.is_set():
        rows, record = await services.host.query(_tail, job_id, line)
        for row in rows:
            data = LogLine.of(row).model_dump_json()
            yield ServerSentEvent(data=data, id=str(row.n), event="line")
        if rows:
            line = rows[-1].n + 1
            continue
        if record.completed:
            end = StreamEnd(job_id=job_id, status=record.status, lines=record.last_line)
            yield ServerSentEvent(data=end.model_dump_json(), event="end")
            return
        await asyncio.sleep(POLL_INTERVAL)
