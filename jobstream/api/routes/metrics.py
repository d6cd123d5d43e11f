"""`/metrics`: Prometheus' text format (jobstream.api.metrics says what is in it)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from jobstream.api.auth import Reader
from jobstream.api.errors import ERROR_RESPONSES
from jobstream.api.metrics import Metrics, snapshot
from jobstream.api.state import Services, ServicesDep
from jobstream.cli.callbacks import store_path
from jobstream.projections import queries

__all__ = ["router"]

router = APIRouter(tags=["service"], responses=ERROR_RESPONSES)


async def _callbacks(services: Services) -> dict[str, dict[str, int]]:
    """Delivered and dead-lettered counts of every callback that has run on this data
    directory, from their store (each runs in its own process)."""
    from jobstream.callbacks import CallbackStore

    path = store_path(services.settings)
    if not await asyncio.to_thread(path.exists):
        return {}
    async with CallbackStore(path) as store:
        return {host.callback: await store.counts(host.callback) for host in await store.hosts()}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "the metrics"}},
    summary="Prometheus metrics: jobs, queue, lag, callbacks, API latency",
)
async def metrics(request: Request, services: ServicesDep, _: Reader) -> Response:
    """Read at each scrape; with auth on, Prometheus sends a read token
    (`authorization: {credentials: TOKEN}` in its scrape config)."""
    stats = await services.jobs.stats()
    positions = services.host.positions()
    ends = await services.log.ends(services.host.runner.topics)
    lag = {(tp.topic, tp.partition): max(0, end - positions.get(tp, 0)) for tp, end in ends.items()}
    dead: Any = await services.host.query(queries.count_dead_letters)
    families = snapshot(
        stats.by_status, lag, services.host.applied, dead, await _callbacks(services)
    )
    registry: Metrics = request.app.state.metrics
    return Response(registry.exposition(families), media_type=CONTENT_TYPE_LATEST)
