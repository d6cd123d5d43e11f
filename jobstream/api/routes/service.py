"""`/stats`, `/health` and `/whoami`: figures over all jobs, whether this server keeps up,
and what the caller's token may do."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from jobstream.api.auth import Reader, granted_scopes
from jobstream.api.errors import ERROR_RESPONSES
from jobstream.api.models import Health, Stats, WhoAmI
from jobstream.api.state import Services, ServicesDep
from jobstream.api.tokens import Scope

__all__ = ["router"]

router = APIRouter(tags=["service"], responses=ERROR_RESPONSES)

# The log answers within this or counts as unreachable.
_LOG_TIMEOUT = 5.0


@router.get("/stats", response_model=Stats, summary="Jobs by status; durations in seconds")
async def stats(services: ServicesDep, _: Reader) -> Stats:
    return await services.jobs.stats()


async def _lag(services: Services) -> int:
    """Events in the log the views have not applied."""
    positions = services.host.positions()
    ends = await services.log.ends(services.host.runner.topics)
    return sum(max(0, end - positions.get(tp, 0)) for tp, end in ends.items())


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "the log is unreachable"}},
    summary="Is the log reachable, how far behind are the views",
)
async def health(services: ServicesDep) -> Health | JSONResponse:
    # Public even with auth on: it holds no job data, and health checks carry no token.
    try:
        lag = await asyncio.wait_for(_lag(services), _LOG_TIMEOUT)
    except Exception as exc:  # any failure to reach the log is the answer, not a crash
        body = Health(
            ok=False,
            log_reachable=False,
            log_error=f"{type(exc).__name__}: {exc}",
            applied=services.host.applied,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return Health(ok=True, log_reachable=True, projection_lag=lag, applied=services.host.applied)


@router.get("/whoami", response_model=WhoAmI, summary="What the token sent may do")
async def whoami(
    services: ServicesDep, scopes: Annotated[list[Scope], Depends(granted_scopes)]
) -> WhoAmI:
    """Never 401: the web page asks it to decide which buttons to show for its token."""
    return WhoAmI(auth=services.settings.auth, scopes=scopes)
