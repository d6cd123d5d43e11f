"""`/jobs/stream`: the job list live, as Server-Sent Events (the page's list, without polling).

The stream takes the filters of `GET /jobs` and sends one `jobs` event (data: a JobPage, as
`GET /jobs` would answer) when it opens and again each time that answer changes. It looks
again only when the views have applied new events, so an idle installation costs a counter
read per client per interval; nothing is held per client but the last answer sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from jobstream.api.auth import Reader
from jobstream.api.errors import ERROR_RESPONSES, responses
from jobstream.api.models import JobPage
from jobstream.api.routes.jobs import Cursor, Labels, Name, Since, Statuses, Until, list_jobs
from jobstream.api.state import Services, ServicesDep

__all__ = ["POLL", "router"]

# How often a stream checks whether the views moved: an update reaches the page within it.
POLL = 0.25

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


@router.get(
    "/stream",
    responses={
        200: {
            "description": "`jobs` events (data: a JobPage, as `GET /jobs` answers it), "
            "the first at once, then one each time that page changes",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **responses(400),
    },
    response_class=EventSourceResponse,
    summary="The job list, live (Server-Sent Events)",
)
async def jobs_stream(
    services: ServicesDep,
    who: Reader,
    status: Statuses = None,
    name: Name = None,
    label: Labels = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Cursor = None,
) -> EventSourceResponse:
    async def page() -> JobPage:
        return await list_jobs(
            services,
            who,
            status=status,
            name=name,
            label=label,
            since=since,
            until=until,
            limit=limit,
            offset=0,
            cursor=cursor,
        )

    first = await page()  # a bad cursor is a 400 here, before the stream starts
    return EventSourceResponse(_changes(services, first, page), ping=15)


async def _changes(
    services: Services, first: JobPage, page: Callable[[], Awaitable[JobPage]]
) -> AsyncIterator[ServerSentEvent]:
    sent = first.model_dump_json()
    yield ServerSentEvent(data=sent, event="jobs")
    applied = services.host.applied
    while not services.stop.is_set():
        await asyncio.sleep(POLL)
        if services.host.applied == applied:
            continue
        applied = services.host.applied
        data = (await page()).model_dump_json()
        if data != sent:
            sent = data
            yield ServerSentEvent(data=data, event="jobs")
