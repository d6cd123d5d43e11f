"""The composition root: builds the log, runner, views and services from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from datetime import datetime

from dispatcher.leases import LeaseKeeper
from dispatcher.worker import Worker
from events.embedded import EmbeddedLog
from events.kafka import KafkaLog, parse_broker_url
from events.log import EventLog
from events.secrets import SecretBox
from jobstream.settings import Settings
from projections import DuckDBViews, ProjectionHost, queries
from runners import Runner

__all__ = [
    "lease_keeper",
    "make_runner",
    "make_worker",
    "open_log",
    "projection_host",
    "secret_box",
    "stop_on_signals",
]


def open_log(settings: Settings) -> EventLog:
    if settings.broker:
        return KafkaLog(parse_broker_url(settings.broker), partitions=settings.partitions)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedLog(settings.log_path, partitions=settings.partitions)


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox.load_or_create(settings.key_path)


def make_runner(settings: Settings) -> Runner:
    return Runner(
        workspace_root=settings.workspaces,
        secret_box=secret_box(settings),
        kill_grace=settings.kill_grace,
    )


def make_worker(settings: Settings, log: EventLog) -> Worker:
    return Worker(
        log,
        settings.topics,
        make_runner(settings),
        concurrency=settings.concurrency,
        lease=settings.lease,
        health_dir=settings.health_dir,
    )


@contextlib.asynccontextmanager
async def projection_host(settings: Settings, log: EventLog) -> AsyncIterator[ProjectionHost]:
    """The views, opened for writing by this process (ViewsBusy if another holds them)."""
    views = await asyncio.to_thread(DuckDBViews.open, settings.views_path)
    host = ProjectionHost(log, views, settings.topics.all)
    try:
        yield host
    finally:
        await asyncio.to_thread(views.close)


def lease_keeper(settings: Settings, log: EventLog, host: ProjectionHost) -> LeaseKeeper:
    async def expired(at: datetime) -> list:
        return await host.query(queries.expired_leases, at)

    return LeaseKeeper(log, settings.topics, expired, interval=min(1.0, settings.lease / 3))


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM ask the running services to stop cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
