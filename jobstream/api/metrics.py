"""`/metrics`: what an operator watches, in Prometheus' text format (prometheus-client).

Two kinds of figure. Request latency is measured as requests happen, into a histogram of
this app's own registry (`RequestTimer`, an ASGI middleware: the time until the answer's
headers go out, so a log stream that stays open for an hour counts as fast as its first
byte). Everything else is read when Prometheus scrapes, from where it already lives: jobs
by status from the views, lag from the log's ends against the projection's positions,
callback deliveries and dead letters from the callbacks' store. Nothing is counted twice,
and a restart loses nothing but the latency histogram.

A worker-only process (`jobstream worker`) serves no HTTP and exposes nothing: its jobs
show here (running, by status) once their events are projected, and its health is
`jobstream worker --check`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobstream.events.models import Status

__all__ = ["Metrics", "RequestTimer", "snapshot"]

_RUNNING = (Status.WAITING, Status.STARTED, Status.FAILING)

# Seconds; from a cached query (a few ms) to a slow submission (the 5 s visibility wait).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Snapshot(Collector):
    """The figures read at the last scrape; `Metrics.exposition` sets them just before it
    writes them out, with no await in between."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        return self.families


class Metrics:
    """One app's registry: the latency histogram, and the figures of each scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram(
            "jobstream_api_request_duration_seconds",
            "Time from an API request to its answer's headers, by route template",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)

    def exposition(self, families: list[Metric]) -> bytes:
        from prometheus_client import generate_latest

        self._snapshot.families = families
        return generate_latest(self.registry)


def snapshot(
    by_status: dict[str, int],
    lag: dict[tuple[str, int], int],
    applied: int,
    view_dead_letters: int,
    callbacks: dict[str, dict[str, int]],
) -> list[Metric]:
    """The scrape's figures as metric families. `lag` is log end minus applied position
    per (topic, partition); `callbacks` has `delivered` and `dead` counts per callback."""
    jobs = GaugeMetricFamily("jobstream_jobs", "Jobs in the views, by status", labels=["status"])
    for status in Status:
        jobs.add_metric([status.name], by_status.get(status.name, 0))
    queue = GaugeMetricFamily(
        "jobstream_queue_depth", "Jobs submitted that no runner has started yet (NEW)"
    )
    queue.add_metric([], by_status.get(Status.NEW.name, 0))
    running = GaugeMetricFamily(
        "jobstream_running_jobs",
        "Jobs a runner has taken and not ended (WAITING, STARTED, FAILING)",
    )
    running.add_metric([], sum(by_status.get(s.name, 0) for s in _RUNNING))
    behind = GaugeMetricFamily(
        "jobstream_projection_lag",
        "Records in the log the views have not applied: log end minus applied position",
        labels=["topic", "partition"],
    )
    for (topic, partition), value in sorted(lag.items()):
        behind.add_metric([topic, str(partition)], value)
    events = CounterMetricFamily(
        "jobstream_events_applied", "Records the views applied in this process since it started"
    )
    events.add_metric([], applied)
    deliveries = CounterMetricFamily(
        "jobstream_callback_deliveries",
        "Events each callback delivered (from its store: all its history)",
        labels=["callback"],
    )
    dead = GaugeMetricFamily(
        "jobstream_dead_letters",
        "Records set aside, by consumer: the views, or a callback",
        labels=["consumer"],
    )
    dead.add_metric(["views"], view_dead_letters)
    for name, counts in sorted(callbacks.items()):
        deliveries.add_metric([name], counts.get("delivered", 0))
        dead.add_metric([f"callback:{name}"], counts.get("dead", 0))
    return [jobs, queue, running, behind, events, deliveries, dead]


class RequestTimer:
    """ASGI middleware: observes each HTTP request's time to its answer's headers in
    `metrics.latency`, labelled by the route's template (`/jobs/{job_id}`), never the raw
    path, so job ids do not make a series each."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen = False

        async def timed(message: Message) -> None:
            nonlocal seen
            if message["type"] == "http.response.start" and not seen:
                seen = True
                self._observe(scope, message["status"], time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.latency.labels(scope["method"], template, str(status)).observe(seconds)
