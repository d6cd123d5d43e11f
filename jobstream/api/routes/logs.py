"""`/jobs/{id}/log`: a range of lines, or the lines as they come (Server-Sent Events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse

from jobstream.api.auth import Reader
from jobstream.api.errors import ERROR_RESPONSES, responses
from jobstream.api.models import LogLine, LogPage
from jobstream.api.routes.jobs import JobId
from jobstream.api.sse import line_events, start_line
from jobstream.api.state import ServicesDep

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["logs"], responses=ERROR_RESPONSES)

MAX_PAGE = 10_000

From = Annotated[int, Query(alias="from", ge=1, description="first line number")]


@router.get(
    "/{job_id}/log",
    response_model=LogPage,
    responses=responses(404, 409),
    summary="Lines `from` .. `from + limit - 1` of a job's log",
)
async def log_range(
    job_id: JobId,
    services: ServicesDep,
    _: Reader,
    start: From = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
    since: Annotated[
        datetime | None,
        Query(
            description="start at the first line written at or after this time "
            "(ISO 8601; without a zone, UTC)"
        ),
    ] = None,
    tail: Annotated[
        int | None,
        Query(ge=0, description="start at the first of the last `tail` lines (after `since`)"),
    ] = None,
) -> LogPage:
    """Never the whole log: at most `limit` lines; ask again from `next` for more (without
    `since` and `tail`, which only choose where the first page starts). When no line
    qualifies, the page is empty and `next` is past the last line."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    page = await services.jobs.log(job_id, start, limit, since=since, tail=tail)
    return LogPage(
        job_id=page.job_id,
        lines=[LogLine.of(r) for r in page.lines],
        next=page.next,
        completed=page.completed,
    )


@router.get(
    "/{job_id}/log/stream",
    responses={
        200: {
            "description": "`line` events (id: the line number, data: a LogLine), then "
            "one `end` event (data: a StreamEnd)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **responses(404, 409),
    },
    response_class=EventSourceResponse,
    summary="Follow a job's log live (Server-Sent Events)",
)
async def log_stream(
    job_id: JobId,
    services: ServicesDep,
    _: Reader,
    start: From = 1,
    last_event_id: Annotated[
        str | None, Header(description="resume after this line (sent by EventSource)")
    ] = None,
) -> EventSourceResponse:
    record = await services.jobs.get(job_id)
    events = line_events(services.jobs, record.job_id, start_line(start, last_event_id))
    return EventSourceResponse(events, ping=15)
