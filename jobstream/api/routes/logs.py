"""`/jobs/{id}/log`: a range of lines, the lines as they come (Server-Sent Events), the whole
log as plain text, and the numbers of the lines matching a search."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse
from sse_starlette import EventSourceResponse

from jobstream.api.auth import Reader
from jobstream.api.errors import ERROR_RESPONSES, responses
from jobstream.api.models import LogLine, LogMatches, LogPage
from jobstream.api.routes.jobs import JobId
from jobstream.api.sse import line_events, lines_events, start_line
from jobstream.api.state import ServicesDep
from jobstream.projections import queries
from jobstream.service import LocalJobs

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["logs"], responses=ERROR_RESPONSES)

MAX_PAGE = 10_000
MAX_MATCHES = 10_000

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
) -> Response:
    """Never the whole log: at most `limit` lines; ask again from `next` for more (without
    `since` and `tail`, which only choose where the first page starts). When no line
    qualifies, the page is empty and `next` is past the last line."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    page = await services.jobs.log(job_id, start, limit, since=since, tail=tail)
    body = LogPage(
        job_id=page.job_id,
        lines=[LogLine.of(r) for r in page.lines],
        next=page.next,
        completed=page.completed,
    )
    # Serialized here: FastAPI would validate the page it was just built from once more,
    # which doubles the time a range takes (the web page asks for one per 1,000 lines).
    return Response(body.model_dump_json(), media_type="application/json")


@router.get(
    "/{job_id}/log/stream",
    responses={
        200: {
            "description": "`line` events (id: the line number, data: a LogLine), or "
            "with `batch`, `lines` events (id: the last line's number, data: a list of "
            "LogLine), then one `end` event (data: a StreamEnd)",
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
    batch: Annotated[
        bool, Query(description="several lines per event: for fast logs (the web page)")
    ] = False,
) -> EventSourceResponse:
    record = await services.jobs.get(job_id)
    events = (lines_events if batch else line_events)(
        services, record.job_id, start_line(start, last_event_id)
    )
    return EventSourceResponse(events, ping=15)


@router.get(
    "/{job_id}/log.txt",
    responses={
        200: {
            "description": "the log's text, one line per line, in line order",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **responses(404, 409),
    },
    response_class=StreamingResponse,
    summary="A job's whole log as plain text (download)",
)
async def log_text(job_id: JobId, services: ServicesDep, _: Reader) -> StreamingResponse:
    """Streamed page by page, so a log of any size costs the server one page of memory; a
    running job's log is sent as far as it has reached. ANSI escapes are kept, as written."""
    record = await services.jobs.get(job_id)
    return StreamingResponse(
        _text_pages(services.jobs, record.job_id),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{record.job_id}.log"'},
    )


async def _text_pages(jobs: LocalJobs, job_id: str) -> AsyncIterator[str]:
    start = 1
    while True:
        page = await jobs.log(job_id, start, MAX_PAGE)
        if not page.lines:
            return
        yield "".join(f"{line.text}\n" for line in page.lines)
        start = page.next


@router.get(
    "/{job_id}/log/search",
    response_model=LogMatches,
    responses=responses(404, 409),
    summary="Numbers of the log lines containing a text (case-insensitive)",
)
async def log_search(
    job_id: JobId,
    services: ServicesDep,
    _: Reader,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="the text to find")],
    start: From = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_MATCHES)] = 1000,
) -> LogMatches:
    """Searched in the views, so the page finds a line in a log it never fetched; at most
    `limit` matches from line `from` on: ask again from `next` for more."""
    record = await services.jobs.get(job_id)
    found = await services.host.query(queries.log_matches, record.job_id, q, start, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return LogMatches(
        job_id=record.job_id,
        q=q,
        lines=found,
        next=found[-1] + 1 if more else None,
    )
